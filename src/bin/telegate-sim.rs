//! `telegate-sim`: an SMSC simulator and an ESME load tool.
//!
//! ```text
//! telegate-sim smsc --listen 127.0.0.1:2776 --dlr-delay 100ms
//! telegate-sim esme --addr 127.0.0.1:2775 --system-id acme --password secret \
//!     --binds 4 --window 256 --count 100000
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use telegate::config::Duration as HumanDuration;
use telegate::sim::{esme, BindType, IdFormat, Mode, ReceiptPolicy, Smsc, SmscConfig};

// Many small short-lived allocations per message (PDU bodies, receipts):
// mimalloc's thread-local free lists serve them faster than glibc's malloc.
// Built without transparent huge pages (feature `no_thp`; Cargo.toml says why).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SMPP simulators for Telegate: a carrier (smsc) and a load client (esme).
#[derive(Debug, Parser)]
#[command(name = "telegate-sim", version = telegate::VERSION, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a carrier simulator until Ctrl-C.
    Smsc(SmscArgs),
    /// Bind, submit messages, wait for receipts, print msg/s and latency.
    Esme(EsmeArgs),
    /// Open many idle binds and hold them (for memory-per-bind figures).
    Binds(BindsArgs),
}

#[derive(Debug, clap::Args)]
struct BindsArgs {
    /// Gateway address.
    #[arg(long, default_value = "127.0.0.1:2775")]
    target: SocketAddr,
    /// system_id to bind with.
    #[arg(long)]
    system_id: String,
    /// Password to bind with.
    #[arg(long)]
    password: String,
    /// Binds to open.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Seconds to hold them open once all are bound.
    #[arg(long, default_value_t = 10)]
    hold_s: u64,
}

#[derive(Debug, clap::Args)]
struct SmscArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2776")]
    listen: SocketAddr,
    /// system_id sent in bind responses.
    #[arg(long, default_value = "SIMSMSC")]
    system_id: String,
    /// Accepted credentials as SYSTEM_ID:PASSWORD (repeatable); none = accept anyone.
    #[arg(long = "account", value_name = "SYSTEM_ID:PASSWORD")]
    accounts: Vec<String>,
    /// Delay before a receipt is sent.
    #[arg(long, default_value = "100ms")]
    dlr_delay: HumanDuration,
    /// When to send receipts: requested, always, never.
    #[arg(long, default_value = "requested")]
    receipts: String,
    /// message_state reported in receipts (2 DELIVRD, 5 UNDELIV, 8 REJECTD...).
    #[arg(long, default_value_t = 2)]
    receipt_state: u8,
    /// Id spelling in submit_sm_resp: hex, hex-upper, decimal.
    #[arg(long, default_value = "hex")]
    id_format: IdFormat,
    /// Id spelling in receipts (default: same as --id-format).
    #[arg(long)]
    receipt_id_format: Option<IdFormat>,
    /// Leave the receipted_message_id and message_state TLVs out of receipts.
    #[arg(long)]
    no_receipt_tlvs: bool,
    /// Behaviour: accept, throttle, reject[:STATUS], stall, drop.
    #[arg(long, default_value = "accept")]
    mode: Mode,
    /// Unacknowledged deliver_sm allowed per session.
    #[arg(long, default_value_t = 1024)]
    deliver_window: usize,
    /// Receipts held for system_ids with no receiver bound.
    #[arg(long, default_value_t = 100_000)]
    max_held_receipts: usize,
    /// Print counters this often (0s: never).
    #[arg(long, default_value = "5s")]
    stats_interval: HumanDuration,
}

#[derive(Debug, clap::Args)]
struct EsmeArgs {
    /// Gateway or SMSC address.
    #[arg(long, default_value = "127.0.0.1:2775")]
    addr: String,
    /// Bind system_id.
    #[arg(long, default_value = "test")]
    system_id: String,
    /// Bind password.
    #[arg(long, default_value = "test")]
    password: String,
    /// Bind type: tx, rx, trx.
    #[arg(long = "bind", default_value = "trx")]
    bind_type: BindType,
    /// Number of binds.
    #[arg(long, default_value_t = 1)]
    binds: usize,
    /// Messages in total.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Unanswered submits per bind.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Source address.
    #[arg(long, default_value = "Telegate")]
    from: String,
    /// First destination number (incremented per message).
    #[arg(long, default_value = "4915100000000")]
    to: String,
    /// Message text.
    #[arg(long, default_value = "Hello from telegate-sim")]
    text: String,
    /// Do not ask for receipts.
    #[arg(long)]
    no_receipts: bool,
    /// Give up waiting for receipts after this long without one.
    #[arg(long, default_value = "10s")]
    receipt_timeout: HumanDuration,
    /// Give up on a response after this long.
    #[arg(long, default_value = "10s")]
    response_timeout: HumanDuration,
    /// Messages per second across all binds, evenly paced (0: as fast as
    /// the window allows).
    #[arg(long, default_value_t = 0)]
    rate: u32,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("telegate-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        match cli.cmd {
            Cmd::Smsc(a) => smsc(a).await,
            Cmd::Esme(a) => esme_cmd(a).await,
            Cmd::Binds(a) => idle_binds(a).await,
        }
    })
}

async fn smsc(a: SmscArgs) -> ExitCode {
    let mut accounts = Vec::new();
    for acc in &a.accounts {
        let Some((s, p)) = acc.split_once(':') else {
            eprintln!("telegate-sim: --account wants SYSTEM_ID:PASSWORD");
            return ExitCode::from(64);
        };
        accounts.push((s.to_owned(), p.to_owned()));
    }
    let receipts = match a.receipts.as_str() {
        "requested" => ReceiptPolicy::Requested,
        "always" => ReceiptPolicy::Always,
        "never" => ReceiptPolicy::Never,
        other => {
            eprintln!("telegate-sim: --receipts {other:?}: requested, always or never");
            return ExitCode::from(64);
        }
    };
    let cfg = SmscConfig {
        listen: a.listen,
        system_id: a.system_id,
        accounts,
        dlr_delay: a.dlr_delay.get(),
        receipts,
        receipt_state: a.receipt_state,
        id_format: a.id_format,
        receipt_id_format: a.receipt_id_format.unwrap_or(a.id_format),
        receipt_tlvs: !a.no_receipt_tlvs,
        deliver_window: a.deliver_window,
        max_held_receipts: a.max_held_receipts,
        mode: a.mode,
        ..SmscConfig::default()
    };
    let h = match Smsc::start(cfg).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("telegate-sim: cannot listen on {}: {e}", a.listen);
            return ExitCode::FAILURE;
        }
    };
    println!("smsc listening on {}", h.addr());
    let every = a.stats_interval.get();
    let mut last = h.stats();
    loop {
        let tick = async {
            if every.is_zero() {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(every).await
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick => {
                let s = h.stats();
                let rate = (s.accepted - last.accepted) as f64 / every.as_secs_f64();
                println!(
                    "binds {} submits {} accepted {} ({rate:.0}/s) throttled {} rejected {} \
                     receipts sent {} acked {} pending {} held {} dropped {}",
                    s.bound, s.submits, s.accepted, s.throttled, s.rejected,
                    s.receipts_sent, s.receipts_acked, s.receipts_pending, s.receipts_held,
                    s.receipts_dropped
                );
                last = s;
            }
        }
    }
    let s = h.stats();
    println!("final: {s:?}");
    h.shutdown().await;
    ExitCode::SUCCESS
}

async fn esme_cmd(a: EsmeArgs) -> ExitCode {
    let cfg = esme::EsmeConfig {
        addr: a.addr,
        system_id: a.system_id,
        password: a.password,
        bind_type: a.bind_type,
        binds: a.binds,
        count: a.count,
        window: a.window,
        from: a.from,
        to: a.to,
        text: a.text,
        receipts: !a.no_receipts,
        receipt_timeout: a.receipt_timeout.get(),
        response_timeout: a.response_timeout.get().max(Duration::from_millis(1)),
        rate: a.rate,
    };
    let report = esme::run(cfg).await;
    println!("{report}");
    if report.bind_failures > 0 || report.ok == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Opens `count` transceiver binds (200 handshakes at a time), holds them
/// idle, then closes them.
async fn idle_binds(a: BindsArgs) -> ExitCode {
    use telegate::smpp_codec::pdu::{Bind, Body, Pdu};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bind = Pdu::new(
        1,
        Body::BindTransceiver(Box::new(Bind {
            system_id: a.system_id.clone().into(),
            password: a.password.clone().into(),
            interface_version: 0x34,
            ..Bind::default()
        })),
    );
    let frame = match bind.to_bytes() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("telegate-sim: bind PDU: {e}");
            return ExitCode::FAILURE;
        }
    };
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(200));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..a.count {
        let gate = gate.clone();
        let frame = frame.clone();
        let target = a.target;
        tasks.spawn(async move {
            let _permit = gate.acquire().await.ok()?;
            let mut s = tokio::net::TcpStream::connect(target).await.ok()?;
            s.write_all(&frame).await.ok()?;
            let mut head = [0u8; 16];
            s.read_exact(&mut head).await.ok()?;
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let mut rest = vec![0u8; len.saturating_sub(16)];
            s.read_exact(&mut rest).await.ok()?;
            let status = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
            (status == 0).then_some(s)
        });
    }
    let mut held = Vec::with_capacity(a.count);
    while let Some(r) = tasks.join_next().await {
        if let Ok(Some(s)) = r {
            held.push(s);
        }
    }
    println!(
        "{} of {} binds up; holding for {} s",
        held.len(),
        a.count,
        a.hold_s
    );
    tokio::time::sleep(Duration::from_secs(a.hold_s)).await;
    let ok = held.len() == a.count;
    drop(held);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
