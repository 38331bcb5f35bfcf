//! The daemon under signals, as systemd drives it: SIGHUP reloads the
//! file (a bad file is logged and changes nothing), and SIGTERM stops it
//! gracefully with exit 0 — every message the ESME heard "OK" for keeps
//! its receipt mapping across the restart.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use telegate::sim::{BindType, SmscHandle};
use telegate::smpp_codec::{Body, CommandStatus, Pdu};

const BIN: &str = env!("CARGO_BIN_EXE_telegate");

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The config file: one ESME listener on `port`, `esme1` with
/// `throughput`, the simulator as carrier `c1`, the store in `dir`.
fn write_config(
    path: &Path,
    dir: &Path,
    (port, admin_port): (u16, u16),
    smsc: &SmscHandle,
    throughput: u32,
) {
    let text = GatewayConfig::new()
        .server("listen", format!("[\"127.0.0.1:{port}\"]"))
        .server("window", "512")
        .server("shutdown_grace", q("10s"))
        .account("esme1", &[("throughput", &throughput.to_string())])
        .carrier("c1", &smsc.addr().to_string(), &[])
        .route("", &["c1"])
        .toml(dir);
    let text = format!("{text}\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n");
    std::fs::write(path, text).expect("write config");
}

struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path, log: &Path, env: &[(&str, String)]) -> Daemon {
        let out = std::fs::File::create(log).expect("log file");
        let child = Command::new(BIN)
            .arg("run")
            .arg("--config")
            .arg(config)
            .env("TELEGATE_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().expect("dup")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("telegate starts");
        Daemon {
            child,
            log: log.to_owned(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_log(&self, needle: &str, times: usize) {
        let until = Instant::now() + WAIT;
        while self.log().matches(needle).count() < times {
            assert!(
                Instant::now() < until,
                "no {needle:?} (x{times}) in the log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(st.success());
    }

    /// Waits for the exit; its code.
    async fn wait_exit(&mut self, limit: Duration) -> i32 {
        let until = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < until,
                "did not exit in {limit:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_port(port: u16) {
    let until = Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < until, "port {port} never opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_sigterm_keeps_every_accepted_mapping() {
    // Receipts come 1.5 s after each submit: the gateway is stopped before
    // most of them, and the carrier holds them until a bind comes back.
    let smsc = start_smsc(|c| c.dlr_delay = Duration::from_millis(1500)).await;
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).expect("store dir");
    let config = dir.path().join("telegate.toml");
    let port = free_port();
    let admin = free_port();
    write_config(&config, &store, (port, admin), &smsc, 0);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    // systemd's side of the notify protocol, with a 400 ms watchdog.
    let sock_path = dir.path().join("notify.sock");
    let notify = tokio::net::UnixDatagram::bind(&sock_path).expect("notify socket");
    let env = [
        ("NOTIFY_SOCKET", sock_path.display().to_string()),
        ("WATCHDOG_USEC", "400000".to_owned()),
    ];
    let mut d = Daemon::start(&config, &dir.path().join("run1.log"), &env);
    let mut notes = Notes(notify);
    notes.expect("READY=1").await;
    notes.expect("WATCHDOG=1").await;
    wait_port(port).await;
    let esme = bind(addr, BindType::Transmitter, "esme1").await;
    submit_ok(&esme, DEST, b"before reload", false).await;

    // SIGHUP with a changed file: reloaded. With a broken file: refused,
    // logged, and the old configuration keeps running.
    write_config(&config, &store, (port, admin), &smsc, 100_000);
    d.signal("HUP");
    d.wait_log("configuration reloaded", 1).await;
    notes.expect("RELOADING=1").await;
    notes.expect("READY=1").await;

    // The admin API, through `telegate admin --config`.
    let (code, out) = admin_cli(&config, "health").await;
    assert_eq!(code, 0, "{out}");
    let health: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(health["ready"], true);
    assert_eq!(health["carriers"][0]["name"], "c1");
    let (code, out) = admin_cli(&config, "status").await;
    assert_eq!(code, 0, "{out}");
    let status: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(status["config_version"], 2);
    assert_eq!(status["accounts"][0]["throughput"], 100_000);
    assert_eq!(status["accounts"][0]["binds"], 1);
    let (code, out) = admin_cli(&config, "reload").await;
    assert_eq!(code, 0, "{out}");
    let reload: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(reload["version"], 3, "{out}");
    std::fs::write(&config, "[server]\nwindow = \"many\"\n").expect("write");
    d.signal("HUP");
    d.wait_log("reload failed", 1).await;
    assert!(d.log().contains("server.window"), "the error names the key");
    submit_ok(&esme, DEST, b"after a bad reload", false).await;

    // A burst of submits, then SIGTERM while they are in flight.
    let mut pending = Vec::new();
    for i in 0..300 {
        let body = submit_body(DEST, format!("burst {i}").as_bytes(), true);
        pending.push(esme.send_request(body).await.expect("sent"));
    }
    d.signal("TERM");
    notes.expect("STOPPING=1").await;
    let mut accepted = HashSet::new();
    let mut refused = 0;
    for p in pending {
        match tokio::time::timeout(WAIT, p).await {
            Ok(Ok(r)) if r.pdu.command_status.is_ok() => {
                accepted.insert(message_id(&r.pdu));
            }
            Ok(Ok(r)) => {
                // Refused while stopping: the ESME may retry it.
                assert_eq!(
                    r.pdu.command_status,
                    CommandStatus::ESME_RTHROTTLED,
                    "{}",
                    d.log()
                );
                refused += 1;
            }
            Ok(Err(e)) => panic!("a submit got no answer: {e}"),
            Err(_) => panic!("a submit got no answer in time"),
        }
    }
    // The gateway unbinds the ESME; the ESME answers.
    let mut esme = esme;
    let p = esme.next_pdu(WAIT).await.expect("unbind from the gateway");
    assert!(matches!(p.body, Body::Unbind), "{p:?}");
    esme.send(&Pdu::new(p.sequence_number, Body::UnbindResp))
        .await
        .expect("unbind_resp");
    let code = d.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(code, 0, "exit 0 after SIGTERM:\n{}", d.log());
    assert!(
        accepted.len() + refused == 300 && !accepted.is_empty(),
        "{} accepted, {refused} refused",
        accepted.len()
    );
    drop(esme);

    // Restarted on the same store: every accepted message's receipt finds
    // its mapping and reaches the ESME under the id it was given.
    let d2 = Daemon::start(
        &config_after_restart(&config, &store, (port, admin), &smsc),
        &dir.path().join("run2.log"),
        &[],
    );
    wait_port(port).await;
    let mut rx = bind(addr, BindType::Receiver, "esme1").await;
    let (seen, stray) = collect_receipts(&mut rx, &accepted, Duration::from_secs(30)).await;
    let missing: Vec<_> = accepted.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "{} of {} accepted messages lost their receipt:\n{}",
        missing.len(),
        accepted.len(),
        d2.log()
    );
    assert!(stray.is_empty(), "{stray:?}");
    drop(rx);
    drop(d2);
}

/// Rewrites the (broken) config file for the restart.
fn config_after_restart(
    path: &Path,
    store: &Path,
    ports: (u16, u16),
    smsc: &SmscHandle,
) -> PathBuf {
    write_config(path, store, ports, smsc, 0);
    path.to_owned()
}

/// What the daemon told "systemd".
struct Notes(tokio::net::UnixDatagram);

impl Notes {
    /// Waits for a datagram with a line equal to `line` (others skipped).
    async fn expect(&mut self, line: &str) {
        let until = Instant::now() + WAIT;
        let mut buf = vec![0u8; 4096];
        let mut seen = Vec::new();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let n = match tokio::time::timeout(left, self.0.recv(&mut buf)).await {
                Ok(Ok(n)) => n,
                _ => panic!("no {line:?} notification; got {seen:?}"),
            };
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.lines().any(|l| l == line) {
                return;
            }
            seen.push(msg);
        }
    }
}

/// Runs `telegate admin --config <config> <what>`: exit code and stdout.
async fn admin_cli(config: &Path, what: &str) -> (i32, String) {
    let config = config.to_owned();
    let what = what.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .arg("admin")
            .arg("--config")
            .arg(&config)
            .arg(&what)
            .output()
            .expect("telegate admin runs")
    })
    .await
    .expect("join");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}
