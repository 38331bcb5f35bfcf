//! The `telegate` command line: a thin layer over the library.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

// Many small short-lived allocations per message (PDU bodies, receipts):
// mimalloc's thread-local free lists serve them faster than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Telegate: an SMPP/SIP telecom gateway.
#[derive(Debug, Parser)]
#[command(name = "telegate", version = telegate::VERSION, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a configuration file and print what would run.
    CheckConfig {
        /// The configuration file.
        config: PathBuf,
    },
    /// Read a password from standard input and print its argon2 hash for
    /// `password_hash`.
    HashPassword,
    /// Run a gateway on an embedded default config with the bundled carrier
    /// simulator, send a message through it and show its receipt coming
    /// back; then keep serving ESMEs on 127.0.0.1:2775 until Ctrl-C.
    Demo {
        /// Exit after the demo message instead of serving on.
        #[arg(long)]
        once: bool,
        /// ESME listen address.
        #[arg(long, default_value = "127.0.0.1:2775")]
        listen: std::net::SocketAddr,
    },
}

/// EX_USAGE from sysexits.h: a bad configuration.
const EX_USAGE: u8 = 64;
/// EX_SOFTWARE: the gateway failed at run time.
const EX_SOFTWARE: u8 = 70;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::HashPassword => hash_password(),
        Command::CheckConfig { config } => match telegate::config::Config::load(&config) {
            Ok(c) => {
                println!("{}: OK", config.display());
                println!("{}", c.summary());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EX_USAGE)
            }
        },
        Command::Run { config } => {
            let cfg = match telegate::config::Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(EX_USAGE);
                }
            };
            init_logging();
            runtime(|shutdown| async move {
                telegate::gateway::run(cfg, Some(config), shutdown)
                    .await
                    .map_err(|e| e.to_string())
            })
        }
        Command::Demo { once, listen } => {
            init_logging();
            runtime(|shutdown| async move { telegate::demo::run(listen, once, shutdown).await })
        }
    }
}

fn hash_password() -> ExitCode {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    if stdin.lock().read_line(&mut line).is_err() {
        eprintln!("cannot read the password from standard input");
        return ExitCode::from(EX_USAGE);
    }
    let pw = line.trim_end_matches(['\r', '\n']);
    if pw.is_empty() {
        eprintln!("empty password");
        return ExitCode::from(EX_USAGE);
    }
    if pw.len() > 8 {
        eprintln!(
            "warning: SMPP 3.4 passwords are at most 8 characters; ESMEs cannot send a longer one"
        );
    }
    println!("{}", telegate::auth::hash_password(pw));
    ExitCode::SUCCESS
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TELEGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

/// Runs `f` on a multi-threaded runtime, cancelling its token on SIGINT or
/// SIGTERM.
fn runtime<F, Fut>(f: F) -> ExitCode
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(EX_SOFTWARE);
        }
    };
    rt.block_on(async {
        let shutdown = CancellationToken::new();
        let s = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received; shutting down");
            s.cancel();
        });
        match f(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("telegate: {e}");
                ExitCode::from(EX_SOFTWARE)
            }
        }
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
