//! The gateway's logs keep the privacy promise (DESIGN.md, "Logs"):
//! account SIDs, gateway ids and carrier names, never passwords, message
//! text or full phone numbers.
//!
//! The real binary runs `telegate run` at debug level, in text and JSON
//! formats, against the bundled carrier simulator. Planted values go
//! through every common path (a failed bind, a good bind, a submit with
//! its receipt, a submit the carrier refuses, an MO, an MO nobody owns,
//! SIGTERM) and are then looked for in everything it printed, and, byte
//! by byte, in every file of its CDR directory, CDR audit log and DLR
//! store (issue 6: no text and no raw number at rest).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use telegate::sim::{BindType, Mode};
use telegate::smpp_codec::{Body, CommandStatus};

const BIN: &str = env!("CARGO_BIN_EXE_telegate");

/// Message text of the submit.
const TEXT: &str = "PLANTED-TEXT-7f3a";
/// Message text of the spam the filter blocks.
const SPAM_TEXT: &str =
    "PLANTED-SPAM URGENT! You have won a cash prize. Claim your prize now: call 09061701461";
/// Message text of the MO.
const MO_TEXT: &str = "PLANTED-MO-91c4";
/// Destination of the submit; the handset that sends the MO.
const DEST_NUMBER: &str = "+491511234987";
/// Source of the submit; the number the MO goes to (owned by the account).
const SOURCE_NUMBER: &str = "+447700900555";
/// A password an ESME tries and gets refused with.
const WRONG_PASSWORD: &str = "Pl4nted!";
/// The ESME account's real password.
const ESME_PASSWORD: &str = "Es8Mpw#q";
/// The password the gateway binds to the carrier with (from the config).
const CARRIER_PASSWORD: &str = "Cr7Pw%zk";

/// Every string that must not appear in the logs.
fn planted() -> Vec<String> {
    let mut v: Vec<String> = [
        TEXT,
        MO_TEXT,
        SPAM_TEXT,
        "claim your prize",
        "PLANTED",
        DEST_NUMBER,
        SOURCE_NUMBER,
        WRONG_PASSWORD,
        ESME_PASSWORD,
        CARRIER_PASSWORD,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // No 10 consecutive digits of either number (which also covers the
    // numbers without '+').
    for n in [DEST_NUMBER, SOURCE_NUMBER] {
        let digits = n.trim_start_matches('+');
        for i in 0..=digits.len() - 10 {
            v.push(digits[i..i + 10].to_owned());
        }
    }
    v
}

/// The gateway process; killed if a test fails before it exits.
struct Gateway {
    child: Child,
    stdout: Lines,
    stderr: Lines,
    readers: Vec<JoinHandle<()>>,
}

type Lines = Arc<Mutex<Vec<String>>>;

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(stream: impl Read + Send + 'static, into: Lines) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(l) => into.lock().unwrap().push(l),
                Err(_) => break,
            }
        }
    })
}

impl Gateway {
    fn start(config: &std::path::Path, format: &str) -> Gateway {
        let mut child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(config)
            .args(["--log-format", format])
            .env("TELEGATE_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("telegate starts");
        let stdout = Lines::default();
        let stderr = Lines::default();
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone()),
            collect(child.stderr.take().unwrap(), stderr.clone()),
        ];
        Gateway {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    fn output(&self) -> String {
        let mut s = self.stdout.lock().unwrap().join("\n");
        s.push('\n');
        s.push_str(&self.stderr.lock().unwrap().join("\n"));
        s
    }

    /// Waits for a stdout line containing every one of `parts`.
    async fn wait_line(&mut self, parts: &[&str]) -> String {
        let until = Instant::now() + WAIT;
        loop {
            let found = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
                .cloned();
            if let Some(l) = found {
                return l;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("telegate exited ({st}):\n{}", self.output());
            }
            assert!(
                Instant::now() < until,
                "no log line with {parts:?}:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGTERM, then waits for the exit and the end of its output.
    async fn terminate(mut self) -> (Option<i32>, Vec<String>, Vec<String>) {
        let pid = self.child.id().to_string();
        let st = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(st.success(), "kill -TERM {pid} failed");
        let until = Instant::now() + WAIT;
        let code = loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                break st.code();
            }
            assert!(
                Instant::now() < until,
                "telegate did not stop on SIGTERM:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        let out = std::mem::take(&mut *self.stdout.lock().unwrap());
        let err = std::mem::take(&mut *self.stderr.lock().unwrap());
        (code, out, err)
    }
}

/// The ESME address in the "listening for ESMEs" line.
fn listen_addr(line: &str) -> SocketAddr {
    let at = line.find("127.0.0.1:").expect("an address in the line");
    let rest = &line[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].parse().expect("an address")
}

async fn scenario(format: &str) -> (Vec<String>, Vec<String>) {
    let smsc = start_smsc(|c| {
        c.accounts = vec![("telegate".into(), CARRIER_PASSWORD.into())];
    })
    .await;
    let esme_hash = telegate::auth::hash_password(ESME_PASSWORD);
    let mo_numbers = format!("[{}]", q(SOURCE_NUMBER.trim_start_matches('+')));
    let cfg = GatewayConfig::new()
        .account(
            "esme1",
            &[
                ("password_hash", &q(&esme_hash)),
                ("mo_numbers", &mo_numbers),
            ],
        )
        .carrier(
            "c1",
            &smsc.addr().to_string(),
            &[("password", &q(CARRIER_PASSWORD))],
        )
        .account("slow", &[("throughput", "1")])
        .account("spammer", &[])
        .route("", &["c1"])
        .filter("enabled", "true")
        .suspension("min_blocked", "2")
        .suspension("max_blocked_ratio", "0.1");
    let dir = store_dir();
    let key = dir.path().join("cdr-key");
    std::fs::write(&key, "5f0c9e2b7a41d6e38c2f9b0a1d7e4c6b\n").unwrap();
    let cfg = cfg
        .cdr("dir", q(&dir.path().join("cdr").display().to_string()))
        .cdr(
            "pseudonym_key",
            format!("{{ file = {} }}", q(&key.display().to_string())),
        )
        .cdr("fsync_interval", q("50ms"));
    let file = dir.path().join("telegate.toml");
    std::fs::write(&file, cfg.toml(&dir.path().join("dlr"))).unwrap();

    let mut gw = Gateway::start(&file, format);
    let addr = listen_addr(&gw.wait_line(&["listening for ESMEs"]).await);
    gw.wait_line(&["carrier bind up", "c1"]).await;

    // A bind with a wrong password.
    let c = connect(addr).await;
    let st = c
        .bind(BindType::Transceiver, "esme1", WRONG_PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_RINVPASWD);
    drop(c);

    let mut c = connect(addr).await;
    let st = c
        .bind(BindType::Transceiver, "esme1", ESME_PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_ROK);

    // A submit, and its receipt.
    let submit = |text: &str| {
        Body::SubmitSm(Box::new(telegate::sim::submit_sm(
            SOURCE_NUMBER,
            DEST_NUMBER,
            text.as_bytes(),
            true,
        )))
    };
    let id = message_id(&c.request(submit(TEXT)).await.expect("answered"));
    expect_receipt(&mut c, &id).await;

    // A submit the carrier refuses.
    smsc.set_mode(Mode::Reject(CommandStatus::ESME_RSUBMITFAIL));
    let p = c.request(submit(TEXT)).await.expect("answered");
    assert_ne!(p.command_status, CommandStatus::ESME_ROK);
    smsc.set_mode(Mode::Accept);

    // An MO to the account's number, and one to a number nobody owns.
    assert!(smsc.send_mo(DEST_NUMBER, SOURCE_NUMBER, MO_TEXT.as_bytes()));
    let mo = next_deliver(&mut c, WAIT).await.expect("the MO arrives");
    assert!(!is_receipt(&mo));
    assert_eq!(&mo.short_message[..], MO_TEXT.as_bytes());
    assert!(smsc.send_mo(DEST_NUMBER, "+15550001111", MO_TEXT.as_bytes()));
    gw.wait_line(&["MO for a number no account owns"]).await;

    // An account over its throughput: throttled, and logged.
    let slow = connect(addr).await;
    let st = slow
        .bind(BindType::Transmitter, "slow", PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_ROK);
    let mut throttled = false;
    for _ in 0..3 {
        let p = slow.request(submit(TEXT)).await.expect("answered");
        throttled |= p.command_status == CommandStatus::ESME_RTHROTTLED;
    }
    assert!(throttled);
    gw.wait_line(&["ESME throttled", "slow"]).await;

    // Spam the filter blocks, until the account is suspended: the
    // verdicts, the suspension and its notice are logged without text.
    let spammer = connect(addr).await;
    let st = spammer
        .bind(BindType::Transceiver, "spammer", PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_ROK);
    for _ in 0..2 {
        let p = spammer.request(submit(SPAM_TEXT)).await.expect("answered");
        assert_eq!(p.command_status, CommandStatus::ESME_RSUBMITFAIL);
    }
    gw.wait_line(&["message blocked by the filter", "spammer"])
        .await;
    gw.wait_line(&["account suspended pending review", "spammer"])
        .await;
    // The evidence is kept, apart, in the review directory only.
    let review = dir.path().join("review");
    let audit = std::fs::read_to_string(review.join("audit.log")).expect("audit log");
    assert!(audit.contains("auto-suspend"), "{audit}");
    for p in planted() {
        assert!(!audit.contains(&p), "{p:?} in the audit log: {audit}");
    }
    let evidence = std::fs::read_dir(review.join("evidence"))
        .expect("evidence dir")
        .count();
    assert_eq!(evidence, 1);

    // A reload (SIGHUP) with the same file.
    let pid = gw.child.id().to_string();
    let st = Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill");
    assert!(st.success());
    gw.wait_line(&["configuration reloaded"]).await;

    c.unbind().await.expect("unbind answered");
    gw.wait_line(&["session closed"]).await;

    let (code, out, err) = gw.terminate().await;
    smsc.shutdown().await;
    assert_eq!(code, Some(0), "exit after SIGTERM:\n{out:#?}\n{err:#?}");

    // At rest: the CDRs (and their audit log) and the DLR store hold no
    // text and no number. The records are there: one per submit that
    // reached routing, plus the receipt's.
    let cdr_dir = dir.path().join("cdr");
    let mut files = files_under(&cdr_dir);
    assert!(!files.is_empty(), "no CDR partition written");
    files.extend(files_under(&dir.path().join("dlr")));
    files.push(dir.path().join("cdr.audit.log"));
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        for p in planted() {
            assert!(
                !bytes.windows(p.len()).any(|w| w == p.as_bytes()),
                "{p:?} at rest in {}",
                f.display()
            );
        }
    }
    let q = Command::new(BIN)
        .args(["cdr", "--config"])
        .arg(&file)
        .args(["query", "--account", "esme1"])
        .output()
        .expect("telegate cdr query runs");
    assert!(q.status.success(), "{q:?}");
    let v: serde_json::Value = serde_json::from_slice(&q.stdout).expect("JSON");
    // The receipted submit and the one the carrier refused.
    assert_eq!(v["totals"]["segments"], 2, "{v:#}");
    assert_eq!(v["totals"]["by_receipt"]["delivered"], 1, "{v:#}");
    (out, err)
}

/// Checks everything printed: nothing planted, and the events expected.
fn check(out: &[String], err: &[String]) {
    let all: String = out.iter().chain(err).map(|l| format!("{l}\n")).collect();
    for p in planted() {
        if let Some(l) = all.lines().find(|l| l.contains(&p)) {
            panic!("the logs carry {p:?}:\n{l}\n--- all ---\n{all}");
        }
    }
    let has = |parts: &[&str]| {
        assert!(
            all.lines().any(|l| parts.iter().all(|p| l.contains(p))),
            "no line with {parts:?}:\n{all}"
        )
    };
    has(&["bind with wrong password", "esme1"]);
    has(&["ESME bound", "esme1"]);
    has(&["carrier bind up", "c1"]);
    has(&["carrier rejected message", "c1"]);
    has(&["submit failed"]);
    has(&["ESME throttled", "slow", "throughput"]);
    has(&["configuration reloaded"]);
    has(&["signal received"]);
    has(&["gateway stopped"]);
    assert!(err.is_empty(), "nothing on stderr: {err:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_keep_no_content_numbers_or_passwords() {
    let (out, err) = scenario("text").await;
    check(&out, &err);
    assert!(
        out.iter().any(|l| l.contains(" DEBUG ")),
        "debug level was on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_keep_no_content_numbers_or_passwords() {
    let (out, err) = scenario("json").await;
    check(&out, &err);
    let mut debug = false;
    for l in out.iter().chain(&err).filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["fields"]["message"].is_string(), "{l}");
        debug |= v["level"] == "DEBUG";
    }
    assert!(debug, "debug level was on");
}
