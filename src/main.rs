//! The `telegate` command line: a thin layer over the library.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use telegate::config::{LogConfig, LogFormat};
use tokio_util::sync::CancellationToken;

// Many small short-lived allocations per message (PDU bodies, receipts):
// mimalloc's thread-local free lists serve them faster than glibc's malloc.
// Built without transparent huge pages (feature `no_thp`; Cargo.toml says why).
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
        /// Log format; overrides `[log].format`.
        #[arg(long, value_enum, value_name = "FORMAT")]
        log_format: Option<LogFormatArg>,
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
        /// Log format.
        #[arg(long, value_enum, value_name = "FORMAT")]
        log_format: Option<LogFormatArg>,
    },
    /// Ask a running gateway's admin API for its health or status, or to
    /// reload its configuration. Prints the answer as JSON; exits 0 on
    /// success, 1 when the gateway answers with an error (not ready, a
    /// refused reload), 69 when it cannot be reached.
    Admin {
        /// The admin API's address [default: http://127.0.0.1:9776].
        #[arg(long, value_name = "URL", conflicts_with = "config")]
        url: Option<String>,
        /// Take the address and token from `[admin]` of this
        /// configuration file.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Read the bearer token from the first line of this file
        /// (overrides `[admin].token`).
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Train or evaluate the statistical spam filter model.
    Filter {
        #[command(subcommand)]
        action: FilterAction,
    },
    /// Call detail records. `query` and `export` read the store of
    /// `--config` directly (safe beside a running gateway); the other
    /// actions ask the running gateway's admin API, since they also change
    /// what it holds (DLR mappings, filter evidence, holds). Every action
    /// is written to the CDR audit log.
    Cdr {
        /// The configuration file: the CDR store, and the admin API.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The admin API's address, without a configuration file; `query`
        /// and `export` then go through the API too.
        #[arg(long, value_name = "URL", conflicts_with = "config")]
        url: Option<String>,
        /// Read the admin API's bearer token from this file.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        #[command(subcommand)]
        action: CdrAction,
    },
}

#[derive(Debug, Clone, Subcommand)]
enum CdrAction {
    /// Records matching the filters, and totals (messages, segments, by
    /// submit status, receipt state, country and carrier).
    Query {
        /// Account SID.
        #[arg(long)]
        account: Option<String>,
        /// Submitted at or after (unix ms, RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Submitted before.
        #[arg(long)]
        to: Option<String>,
        /// Carrier name.
        #[arg(long)]
        carrier: Option<String>,
        /// Submit status (decimal or 0x hex).
        #[arg(long)]
        status: Option<String>,
        /// Receipt state (delivered, undeliverable, no_receipt, pending…).
        #[arg(long)]
        receipt: Option<String>,
        /// Gateway message id, as the ESME got it.
        #[arg(long)]
        id: Option<String>,
        /// Most records listed (totals count them all).
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// An account's copy of its records.
    Export {
        /// Account SID.
        #[arg(long)]
        account: String,
        /// Submitted at or after (unix ms, RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Submitted before.
        #[arg(long)]
        to: Option<String>,
        /// jsonl or csv.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Write here instead of standard output (created 0600).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Who asks [default: $USER].
        #[arg(long)]
        by: Option<String>,
    },
    /// Erase an account's records from every partition, with its DLR
    /// mappings and filter evidence (refused under a legal hold).
    Erase {
        /// Account SID.
        #[arg(long)]
        account: String,
        /// Only records up to this time (then mappings and evidence stay).
        #[arg(long)]
        until: Option<String>,
        /// Who acts [default: $USER].
        #[arg(long)]
        by: Option<String>,
    },
    /// Put an account's records under a legal hold: they are kept past
    /// their retention until the hold is released.
    Hold {
        /// Account SID.
        #[arg(long)]
        account: String,
        /// The legal matter (required).
        #[arg(long)]
        note: String,
        /// Who acts [default: $USER].
        #[arg(long)]
        by: Option<String>,
    },
    /// Release a legal hold.
    Release {
        /// Account SID.
        #[arg(long)]
        account: String,
        /// Why (required).
        #[arg(long)]
        note: String,
        /// Who acts [default: $USER].
        #[arg(long)]
        by: Option<String>,
    },
    /// The legal holds in force.
    Holds,
    /// Sweep expired records now (the gateway also does it every
    /// `[cdr].sweep_interval`).
    Sweep {
        /// Who asks [default: $USER].
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Debug, Clone, Subcommand)]
enum AdminAction {
    /// Readiness and carrier binds (`GET /health`); exits 1 when not ready.
    Health,
    /// Binds, windows, queues, config version (`GET /status`).
    Status,
    /// Reload the configuration file (`POST /reload`); exits 1 when the new
    /// file is refused (the old configuration stays in force).
    Reload,
    /// Suspended accounts (`GET /suspensions`).
    Suspensions,
    /// One suspension with its evidence: the normalised text of the
    /// account's last blocked messages and the rules they hit. The view is
    /// written to the audit log.
    Evidence {
        /// The account's sid.
        sid: String,
        /// Who is looking [default: $USER].
        #[arg(long)]
        by: Option<String>,
    },
    /// Suspend an account by hand: its binds are closed and new binds
    /// refused until it is reinstated.
    Suspend {
        /// The account's sid.
        sid: String,
        /// Why.
        #[arg(long)]
        note: String,
        /// Who acts [default: $USER].
        #[arg(long)]
        by: Option<String>,
    },
    /// Reinstate a suspended account after review.
    Reinstate {
        /// The account's sid.
        sid: String,
        /// What the review found (required).
        #[arg(long)]
        note: String,
        /// Who acts [default: $USER].
        #[arg(long)]
        by: Option<String>,
    },
}

/// A path segment with everything but unreserved characters escaped.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Who acts: `--by`, else the login name.
fn actor(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown operator".to_owned())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(f: LogFormatArg) -> LogFormat {
        match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

/// EX_USAGE from sysexits.h: a bad configuration.
const EX_USAGE: u8 = 64;
/// EX_UNAVAILABLE: the admin API cannot be reached.
const EX_UNAVAILABLE: u8 = 69;
/// EX_SOFTWARE: the gateway failed at run time.
const EX_SOFTWARE: u8 = 70;
/// sysexits.h: an output file could not be written.
const EX_IOERR: u8 = 74;

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
        Command::Run { config, log_format } => {
            let cfg = match telegate::config::Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(EX_USAGE);
                }
            };
            let log = match init_logging(&cfg.log, log_format) {
                Ok(h) => h,
                Err(code) => return code,
            };
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if cfg.server.workers > 0 {
                builder.worker_threads(cfg.server.workers as usize);
            }
            runtime_on(builder, |shutdown| async move {
                let hooks = telegate::gateway::RunHooks {
                    notifier: None,
                    set_log_level: Some(Box::new(move |level: &str| log.set_level(level))),
                };
                telegate::gateway::run_with(cfg, Some(config), shutdown, hooks)
                    .await
                    .map_err(|e| e.to_string())
            })
        }
        Command::Demo {
            once,
            listen,
            log_format,
        } => {
            if let Err(code) = init_logging(&LogConfig::default(), log_format) {
                return code;
            }
            runtime(|shutdown| async move { telegate::demo::run(listen, once, shutdown).await })
        }
        Command::Admin {
            url,
            config,
            token_file,
            action,
        } => admin(url, config, token_file, action),
        Command::Filter { action } => filter(action),
        Command::Cdr {
            config,
            url,
            token_file,
            action,
        } => cdr(config, url, token_file, action),
    }
}

/// `telegate cdr …`.
fn cdr(
    config: Option<PathBuf>,
    url: Option<String>,
    token_file: Option<PathBuf>,
    action: CdrAction,
) -> ExitCode {
    let time = |name: &str, v: &Option<String>| -> Result<Option<u64>, ExitCode> {
        match v {
            None => Ok(None),
            Some(s) => telegate::admin::parse_time_ms(s).map(Some).ok_or_else(|| {
                eprintln!("--{name}: not a time (unix ms, RFC 3339 or YYYY-MM-DD): {s:?}");
                ExitCode::from(EX_USAGE)
            }),
        }
    };
    let local = match &config {
        Some(path) => match telegate::config::Config::load(path) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EX_USAGE);
            }
        },
        None => None,
    };
    // query and export read the files when the config says where they are.
    match (&action, &local) {
        (
            CdrAction::Query {
                account,
                from,
                to,
                carrier,
                status,
                receipt,
                id,
                limit,
            },
            Some(cfg),
        ) => {
            let mut params = Vec::new();
            let mut push = |k: &str, v: &Option<String>| {
                if let Some(v) = v {
                    params.push((k.to_owned(), v.clone()));
                }
            };
            push("account", account);
            push("from", from);
            push("to", to);
            push("carrier", carrier);
            push("status", status);
            push("receipt", receipt);
            push("id", id);
            params.push(("limit".to_owned(), limit.to_string()));
            let q = match telegate::admin::cdr_query_of(&params) {
                Ok(q) => q,
                Err(e) => {
                    eprintln!("telegate cdr query: {e}");
                    return ExitCode::from(EX_USAGE);
                }
            };
            return match telegate::gateway::cdr_query_offline(cfg, &q) {
                Ok(v) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string())
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("telegate cdr query: {e}");
                    ExitCode::from(EX_SOFTWARE)
                }
            };
        }
        (
            CdrAction::Export {
                account,
                from,
                to,
                format,
                output,
                by,
            },
            Some(cfg),
        ) => {
            let (from_ms, to_ms) = match (time("from", from), time("to", to)) {
                (Ok(f), Ok(t)) => (f, t),
                (Err(c), _) | (_, Err(c)) => return c,
            };
            let format = match format.as_str() {
                "jsonl" => telegate::cdr::store::ExportFormat::Jsonl,
                "csv" => telegate::cdr::store::ExportFormat::Csv,
                f => {
                    eprintln!("--format: jsonl or csv, not {f:?}");
                    return ExitCode::from(EX_USAGE);
                }
            };
            let out: Box<dyn Write> = match output {
                Some(path) => {
                    use std::os::unix::fs::OpenOptionsExt;
                    match std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(path)
                    {
                        Ok(f) => Box::new(std::io::BufWriter::new(f)),
                        Err(e) => {
                            eprintln!("{}: {e}", path.display());
                            return ExitCode::from(EX_USAGE);
                        }
                    }
                }
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let by = actor(by.clone());
            return match telegate::gateway::cdr_export_offline(
                cfg, account, from_ms, to_ms, format, &by, out,
            ) {
                Ok(n) => {
                    eprintln!("{n} records exported");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("telegate cdr export: {e}");
                    ExitCode::from(EX_SOFTWARE)
                }
            };
        }
        _ => {}
    }
    let seg = path_segment;
    let enc = |pairs: &[(&str, Option<String>)]| -> String {
        let q: Vec<String> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", seg(v))))
            .collect();
        if q.is_empty() {
            String::new()
        } else {
            format!("?{}", q.join("&"))
        }
    };
    let (method, path, body, by) = match action {
        CdrAction::Query {
            account,
            from,
            to,
            carrier,
            status,
            receipt,
            id,
            limit,
        } => (
            hyper::Method::GET,
            format!(
                "/cdr{}",
                enc(&[
                    ("account", account),
                    ("from", from),
                    ("to", to),
                    ("carrier", carrier),
                    ("status", status),
                    ("receipt", receipt),
                    ("id", id),
                    ("limit", Some(limit.to_string())),
                ])
            ),
            None,
            None,
        ),
        CdrAction::Export {
            account,
            from,
            to,
            format,
            output: _,
            by,
        } => (
            hyper::Method::GET,
            format!(
                "/cdr/export{}",
                enc(&[
                    ("account", Some(account)),
                    ("from", from),
                    ("to", to),
                    ("format", Some(format)),
                ])
            ),
            None,
            Some(actor(by)),
        ),
        CdrAction::Erase { account, until, by } => (
            hyper::Method::POST,
            "/cdr/erase".to_owned(),
            Some(serde_json::json!({ "account": account, "until": until, "by": actor(by) })),
            None,
        ),
        CdrAction::Hold { account, note, by } => (
            hyper::Method::POST,
            format!("/cdr/holds/{}", seg(&account)),
            Some(serde_json::json!({ "by": actor(by), "note": note })),
            None,
        ),
        CdrAction::Release { account, note, by } => (
            hyper::Method::POST,
            format!("/cdr/holds/{}/release", seg(&account)),
            Some(serde_json::json!({ "by": actor(by), "note": note })),
            None,
        ),
        CdrAction::Holds => (hyper::Method::GET, "/cdr/holds".to_owned(), None, None),
        CdrAction::Sweep { by } => (
            hyper::Method::POST,
            "/cdr/sweep".to_owned(),
            Some(serde_json::json!({ "by": actor(by) })),
            None,
        ),
    };
    let (addr, token) = match admin_target(url, local.as_ref(), config.as_deref(), token_file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    admin_call(addr, token, method, &path, body, by)
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

/// Installs the logger as `cfg` says, with `format` overriding its format.
fn init_logging(
    cfg: &LogConfig,
    format: Option<LogFormatArg>,
) -> Result<telegate::logging::LogHandle, ExitCode> {
    let mut cfg = cfg.clone();
    if let Some(f) = format {
        cfg.format = f.into();
    }
    telegate::logging::init(&cfg).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EX_USAGE)
    })
}

/// `telegate admin`: one request to the admin API, its JSON answer printed.
fn admin(
    url: Option<String>,
    config: Option<PathBuf>,
    token_file: Option<PathBuf>,
    action: AdminAction,
) -> ExitCode {
    let cfg = match &config {
        Some(path) => match telegate::config::Config::load(path) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EX_USAGE);
            }
        },
        None => None,
    };
    let (addr, token) = match admin_target(url, cfg.as_ref(), config.as_deref(), token_file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let (method, path, body, by) = match action {
        AdminAction::Health => (hyper::Method::GET, "/health".to_owned(), None, None),
        AdminAction::Status => (hyper::Method::GET, "/status".to_owned(), None, None),
        AdminAction::Reload => (hyper::Method::POST, "/reload".to_owned(), None, None),
        AdminAction::Suspensions => (hyper::Method::GET, "/suspensions".to_owned(), None, None),
        AdminAction::Evidence { sid, by } => (
            hyper::Method::GET,
            format!("/suspensions/{}", path_segment(&sid)),
            None,
            Some(actor(by)),
        ),
        AdminAction::Suspend { sid, note, by } => (
            hyper::Method::POST,
            format!("/suspensions/{}", path_segment(&sid)),
            Some(serde_json::json!({ "by": actor(by), "note": note })),
            None,
        ),
        AdminAction::Reinstate { sid, note, by } => (
            hyper::Method::POST,
            format!("/suspensions/{}/reinstate", path_segment(&sid)),
            Some(serde_json::json!({ "by": actor(by), "note": note })),
            None,
        ),
    };
    admin_call(addr, token, method, &path, body, by)
}

/// The admin API's address and token: from `[admin]` of `cfg` (read from
/// `path`), else from `url`; `token_file` overrides the token.
fn admin_target(
    url: Option<String>,
    cfg: Option<&telegate::config::Config>,
    path: Option<&std::path::Path>,
    token_file: Option<PathBuf>,
) -> Result<(std::net::SocketAddr, Option<String>), ExitCode> {
    use telegate::admin::client;
    use telegate::config::Secret;

    let (addr, mut token) = match cfg {
        Some(cfg) => {
            let Some(listen) = cfg.admin.listen else {
                eprintln!(
                    "{}: [admin].listen is not set: the gateway serves no admin API",
                    path.map_or_else(String::new, |p| p.display().to_string())
                );
                return Err(ExitCode::from(EX_USAGE));
            };
            let token = match cfg.admin.token.as_ref().map(Secret::resolve).transpose() {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("admin.token: {e}");
                    return Err(ExitCode::from(EX_USAGE));
                }
            };
            (client::connect_addr(listen), token)
        }
        None => match client::resolve_url(url.as_deref().unwrap_or(client::DEFAULT_URL)) {
            Ok(a) => (a, None),
            Err(e) => {
                eprintln!("--url {e}");
                return Err(ExitCode::from(EX_USAGE));
            }
        },
    };
    if let Some(file) = token_file {
        match (Secret::File { file }).resolve() {
            Ok(t) => token = Some(t),
            Err(e) => {
                eprintln!("--token-file: {e}");
                return Err(ExitCode::from(EX_USAGE));
            }
        }
    }
    Ok((addr, token))
}

/// One admin API request; prints the answer (JSON pretty-printed, other
/// bodies as they are). Exits 0 on 2xx, 1 on an error answer, 69 when the
/// API cannot be reached.
fn admin_call(
    addr: std::net::SocketAddr,
    token: Option<String>,
    method: hyper::Method,
    path: &str,
    body: Option<serde_json::Value>,
    by: Option<String>,
) -> ExitCode {
    use telegate::admin::client;

    let headers: Vec<(&str, &str)> = by.iter().map(|b| ("x-review-by", b.as_str())).collect();
    let rt = match build_runtime(tokio::runtime::Builder::new_current_thread()) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let answer = rt.block_on(client::request_with(
        addr,
        method,
        path,
        token.as_deref(),
        body.as_ref(),
        &headers,
    ));
    let (status, body) = match answer {
        Ok(a) => a,
        Err(e) => {
            eprintln!("telegate: {e}");
            return ExitCode::from(EX_UNAVAILABLE);
        }
    };
    match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(v) => println!(
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| body.clone())
        ),
        Err(_) if body.trim().is_empty() => {}
        Err(_) => println!("{}", body.trim_end()),
    }
    if (200..300).contains(&status) {
        ExitCode::SUCCESS
    } else {
        eprintln!("telegate: the admin API answered HTTP {status}");
        ExitCode::from(1)
    }
}

/// Builds a runtime with I/O and timers, or says why not (exit 70).
fn build_runtime(mut b: tokio::runtime::Builder) -> Result<tokio::runtime::Runtime, ExitCode> {
    b.enable_all().build().map_err(|e| {
        eprintln!("cannot start the runtime: {e}");
        ExitCode::from(EX_SOFTWARE)
    })
}

/// Runs `f` on a multi-threaded runtime, cancelling its token on SIGINT or
/// SIGTERM.
fn runtime<F, Fut>(f: F) -> ExitCode
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    runtime_on(tokio::runtime::Builder::new_multi_thread(), f)
}

/// [`runtime`] on a runtime made from `builder`.
fn runtime_on<F, Fut>(builder: tokio::runtime::Builder, f: F) -> ExitCode
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let rt = match build_runtime(builder) {
        Ok(rt) => rt,
        Err(code) => return code,
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

#[derive(Debug, Subcommand)]
enum FilterAction {
    /// Train a model on labelled TSV (`ham|spam<TAB>text` a line); the
    /// threshold is chosen by cross-validation on that data alone.
    Train {
        /// Labelled training data.
        #[arg(long, value_name = "FILE.tsv")]
        data: PathBuf,
        /// Where to write the model.
        #[arg(long, value_name = "FILE", default_value = "conf/filter/model.bin")]
        out: PathBuf,
        /// Largest share of ham the chosen threshold may block.
        #[arg(long, default_value_t = 0.002)]
        max_ham_blocked: f64,
        /// Passes over the data [default: 40].
        #[arg(long)]
        epochs: Option<u32>,
        /// SGD step at the first epoch [default: 2.0].
        #[arg(long)]
        learning_rate: Option<f32>,
        /// L2 penalty [default: 0].
        #[arg(long)]
        l2: Option<f32>,
    },
    /// Judge a labelled set with the whole filter (rules, URLs,
    /// classifier, sender checks; not velocity) as the gateway would, and
    /// print spam recall, blocked ham, the table of verdicts and the rules
    /// that fired most.
    Eval(EvalArgs),
}

/// `telegate filter`: train the classifier, or evaluate the filter.
fn filter(action: FilterAction) -> ExitCode {
    use telegate::filter::classifier::{self as clf};
    if let FilterAction::Eval(args) = action {
        return filter_eval(args);
    }
    let FilterAction::Train {
        data: data_path, ..
    } = &action
    else {
        return ExitCode::from(EX_USAGE);
    };
    let text = match std::fs::read_to_string(data_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e}", data_path.display());
            return ExitCode::from(EX_USAGE);
        }
    };
    let examples = match clf::parse_tsv(&text) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{}: {e}", data_path.display());
            return ExitCode::from(EX_USAGE);
        }
    };
    match action {
        FilterAction::Train {
            out,
            max_ham_blocked,
            epochs,
            learning_rate,
            l2,
            ..
        } => {
            let d = clf::TrainOptions::default();
            let opts = clf::TrainOptions {
                max_ham_blocked,
                epochs: epochs.unwrap_or(d.epochs),
                learning_rate: learning_rate.unwrap_or(d.learning_rate),
                l2: l2.unwrap_or(d.l2),
                ..d
            };
            let (model, cv) = clf::train_with_cv(&examples, &opts);
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = std::fs::write(&out, model.to_bytes()) {
                eprintln!("{}: {e}", out.display());
                return ExitCode::from(EX_SOFTWARE);
            }
            println!(
                "trained on {} examples; threshold {:.4}; wrote {}",
                examples.len(),
                model.threshold(),
                out.display()
            );
            if let Some(c) = cv {
                println!("cross-validated on the training data:\n{c}");
            }
            ExitCode::SUCCESS
        }
        FilterAction::Eval(_) => ExitCode::from(EX_USAGE),
    }
}

/// The options of `telegate filter eval`.
#[derive(Debug, clap::Args)]
struct EvalArgs {
    /// Labelled data: TSV (`ham|spam<TAB>text`), or the ExAIS,
    /// SpamHunter or Smishtank files as published (detected by name
    /// and header).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Take `[filter]` (rules, model, thresholds) from this
    /// configuration [default: the built-in rules and model].
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Rules file (overrides the configuration's).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Model file (overrides the configuration's).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Also measure the set after an evasion trick: homoglyph,
    /// zero-width, leet, spacing, ucs2, split, or all. Repeatable.
    #[arg(long, value_name = "TRICK")]
    evasion: Vec<String>,
    /// Score with the classifier alone at this threshold (no rules).
    #[arg(long, value_name = "T")]
    classifier_only: Option<f32>,
    /// Cross-validate on the data instead: train a model on all folds
    /// but one, judge that one with the whole filter, K times. For
    /// choosing thresholds on training data.
    #[arg(long, value_name = "K")]
    cv: Option<usize>,
    /// Override `[filter] classifier_base`.
    #[arg(long, value_name = "X")]
    classifier_base: Option<f32>,
    /// Override `[filter] classifier_weight`.
    #[arg(long, value_name = "W")]
    classifier_weight: Option<f32>,
    /// Also write every verdict to FILE, a line each (no text): the
    /// example's line number in the set (from 0), label, verdict, score,
    /// the classifier's probability and the signals that fired.
    #[arg(long, value_name = "FILE")]
    dump: Option<PathBuf>,
}

/// `telegate filter eval`.
fn filter_eval(a: EvalArgs) -> ExitCode {
    let EvalArgs {
        data,
        config,
        rules,
        model,
        evasion,
        classifier_only,
        cv,
        classifier_base,
        classifier_weight,
        dump,
    } = a;
    let write_dump = |r: &telegate::filter::eval::Report| -> bool {
        let Some(path) = &dump else {
            return true;
        };
        let mut out = String::new();
        for j in &r.judged {
            out.push_str(&j.to_string());
            out.push('\n');
        }
        match std::fs::write(path, out) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("--dump {}: {e}", path.display());
                false
            }
        }
    };
    use telegate::filter::{datasets, eval};
    let examples = match datasets::load(&data, None) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EX_USAGE);
        }
    };
    let mut fc = match &config {
        Some(path) => match telegate::config::Config::load(path) {
            Ok(c) => c.filter.unwrap_or_default(),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EX_USAGE);
            }
        },
        None => telegate::config::FilterConfig::default(),
    };
    if rules.is_some() {
        fc.rules = rules;
    }
    if model.is_some() {
        fc.model = model;
    }
    if let Some(b) = classifier_base {
        fc.classifier_base = b;
    }
    if let Some(w) = classifier_weight {
        fc.classifier_weight = w;
    }
    if let Some(t) = classifier_only {
        // The classifier alone: its contribution reaches block_score
        // exactly at threshold t, and there are no rules.
        fc.classifier = true;
        fc.classifier_threshold = Some(t);
    }
    let mut engine = match telegate::filter::build_engine(&fc) {
        Ok(e) => e,
        Err((key, e)) => {
            eprintln!("{key}: {e}");
            return ExitCode::from(EX_USAGE);
        }
    };
    if classifier_only.is_some() {
        engine = engine.classifier_only();
    }
    if let Some(k) = cv {
        let r = eval::cross_validate(engine, &examples, k);
        println!(
            "== {} ({} messages), {k}-fold cross-validation of the whole filter",
            data.display(),
            examples.len()
        );
        print!("{r}");
        return if write_dump(&r) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EX_IOERR)
        };
    }
    let mut tricks: Vec<Option<eval::Trick>> = vec![None];
    for name in &evasion {
        if name == "all" {
            tricks.extend(eval::Trick::ALL.map(Some));
            continue;
        }
        match eval::Trick::parse(name) {
            Some(t) => tricks.push(Some(t)),
            None => {
                eprintln!(
                    "--evasion {name}: not one of homoglyph, zero-width, leet, spacing, ucs2, split, all"
                );
                return ExitCode::from(EX_USAGE);
            }
        }
    }
    let clean = eval::evaluate(&engine, &examples, None);
    if !write_dump(&clean) {
        return ExitCode::from(EX_IOERR);
    }
    for t in tricks {
        let r = match t {
            None => clean.clone(),
            Some(t) => eval::evaluate(&engine, &examples, Some(t)),
        };
        println!(
            "== {} ({} messages){}",
            data.display(),
            examples.len(),
            t.map(|t| format!(", evasion: {}", t.name()))
                .unwrap_or_default()
        );
        print!("{r}");
        if t.is_some() && r.spam() > 0 {
            println!(
                "recall {:+.2} points against the clean text",
                (r.recall() - clean.recall()) * 100.0
            );
        }
        println!(
            "{:.1} µs per message judged\n",
            r.elapsed.as_secs_f64() * 1e6 / examples.len().max(1) as f64
        );
    }
    ExitCode::SUCCESS
}
