//! `telegate admin`: the real binary against an admin API served in this
//! test process by a fake backend.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use telegate::admin::{
    AdminBackend, CarrierHealth, CdrAnswer, CdrApiError, CdrRequest, Health, ReloadOutcome,
    ReviewError,
};
use tokio_util::sync::CancellationToken;

const BIN: &str = env!("CARGO_BIN_EXE_telegate");
const TOKEN: &str = "admin-token-0123456789";

#[derive(Debug, Default)]
struct Fake {
    not_ready: AtomicBool,
    fail_reload: AtomicBool,
    version: AtomicU64,
    /// Review calls: (action, sid, by, note).
    calls: std::sync::Mutex<Vec<(String, String, String, String)>>,
    /// CDR requests.
    cdr: std::sync::Mutex<Vec<CdrRequest>>,
}

impl Fake {
    fn call(&self, action: &str, sid: &str, by: &str, note: &str) {
        self.calls.lock().unwrap().push((
            action.to_owned(),
            sid.to_owned(),
            by.to_owned(),
            note.to_owned(),
        ));
    }
}

impl AdminBackend for Fake {
    fn health(&self) -> Health {
        Health {
            ready: !self.not_ready.load(Ordering::SeqCst),
            carriers: vec![CarrierHealth {
                name: "carrier-a".into(),
                binds_up: 2,
                binds_configured: 2,
            }],
        }
    }

    fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "config_version": self.version.load(Ordering::SeqCst),
            "carriers": [{ "name": "carrier-a", "binds": 2 }],
        })
    }

    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<ReloadOutcome, String>> + Send + '_>> {
        Box::pin(async move {
            if self.fail_reload.load(Ordering::SeqCst) {
                return Err(
                    "/etc/telegate/telegate.toml: line 12: route[0].carriers: unknown carrier \"x\""
                        .into(),
                );
            }
            Ok(ReloadOutcome {
                version: self.version.fetch_add(1, Ordering::SeqCst) + 1,
                changes: vec!["carrier carrier-a: window 32 -> 64".into()],
                ignored: vec![],
            })
        })
    }

    fn suspensions(&self) -> serde_json::Value {
        serde_json::json!({ "suspensions": [{ "account": "acme co" }] })
    }

    fn suspension(&self, sid: &str, by: &str) -> Result<serde_json::Value, ReviewError> {
        self.call("show", sid, by, "");
        if sid == "acme co" {
            Ok(serde_json::json!({ "suspension": { "account": sid }, "evidence": [] }))
        } else {
            Err(ReviewError::NotFound(format!(
                "account {sid:?} is not suspended"
            )))
        }
    }

    fn suspend(&self, sid: &str, by: &str, note: &str) -> Result<serde_json::Value, ReviewError> {
        self.call("suspend", sid, by, note);
        Ok(serde_json::json!({ "suspended": { "account": sid } }))
    }

    fn reinstate(&self, sid: &str, by: &str, note: &str) -> Result<serde_json::Value, ReviewError> {
        self.call("reinstate", sid, by, note);
        Ok(serde_json::json!({ "reinstated": sid }))
    }

    fn cdr(
        &self,
        req: CdrRequest,
    ) -> Pin<Box<dyn Future<Output = Result<CdrAnswer, CdrApiError>> + Send + '_>> {
        self.cdr.lock().unwrap().push(req.clone());
        Box::pin(async move {
            match req {
                CdrRequest::Export { .. } => Ok(CdrAnswer::Data {
                    content_type: "text/csv",
                    body: b"account,gateway_id\nAC1,00000000000000ff\n".to_vec(),
                }),
                CdrRequest::Erase { account, .. } if account == "held" => Err(
                    CdrApiError::Refused("account held is under a legal hold".into()),
                ),
                _ => Ok(CdrAnswer::Json(serde_json::json!({ "ok": true }))),
            }
        })
    }
}

struct Server {
    addr: SocketAddr,
    fake: Arc<Fake>,
    stop: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve(token: Option<&str>) -> Server {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let fake = Arc::new(Fake::default());
    let stop = CancellationToken::new();
    tokio::spawn(telegate::admin::serve(
        l,
        fake.clone(),
        token.map(str::to_owned),
        stop.clone(),
    ));
    Server { addr, fake, stop }
}

/// Runs the binary off the runtime's threads (the server runs on them).
async fn telegate(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("telegate runs")
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn stdout_json(out: &Output) -> serde_json::Value {
    let s = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&s).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{s}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_status_reload_by_url() {
    let s = serve(None).await;
    let url = format!("http://{}", s.addr);

    let out = telegate(args(&["admin", "--url", &url, "health"])).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = stdout_json(&out);
    assert_eq!(v["ready"], true);
    assert_eq!(v["carriers"][0]["name"], "carrier-a");
    // Pretty-printed: one key per line.
    assert!(String::from_utf8_lossy(&out.stdout).contains("\n  \"ready\": true"));

    s.fake.not_ready.store(true, Ordering::SeqCst);
    let out = telegate(args(&["admin", "--url", &url, "health"])).await;
    assert_eq!(out.status.code(), Some(1), "503 exits 1: {out:?}");
    assert_eq!(stdout_json(&out)["ready"], false);

    let out = telegate(args(&["admin", "--url", &url, "status"])).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_json(&out)["config_version"], 0);

    let out = telegate(args(&["admin", "--url", &format!("{url}/"), "reload"])).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = stdout_json(&out);
    assert_eq!(v["version"], 1);
    assert_eq!(v["changes"][0], "carrier carrier-a: window 32 -> 64");

    s.fake.fail_reload.store(true, Ordering::SeqCst);
    let out = telegate(args(&["admin", "--url", &url, "reload"])).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "a refused reload exits 1: {out:?}"
    );
    let e = stdout_json(&out)["error"].as_str().unwrap().to_owned();
    assert!(e.contains("line 12: route[0].carriers"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_from_file_or_config() {
    let s = serve(Some(TOKEN)).await;
    let url = format!("http://{}", s.addr);
    let dir = tempfile::tempdir().unwrap();

    let out = telegate(args(&["admin", "--url", &url, "status"])).await;
    assert_eq!(out.status.code(), Some(1), "401 exits 1: {out:?}");
    assert_eq!(stdout_json(&out)["error"], "unauthorized");

    let good = write(dir.path(), "token", &format!("{TOKEN}\n"));
    let bad = write(dir.path(), "bad-token", "not-the-token-at-all\n");
    let out = telegate(args(&[
        "admin",
        "--url",
        &url,
        "--token-file",
        &good,
        "status",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = telegate(args(&[
        "admin",
        "--url",
        &url,
        "--token-file",
        &bad,
        "status",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // The token is never printed.
    for o in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(o).contains("not-the-token"));
    }

    // Address and token from [admin] of the config file, the token from
    // a file as in production.
    let store = dir.path().join("store");
    let config = write(
        dir.path(),
        "telegate.toml",
        &format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n\n[dlr]\nstore = {store:?}\n\n\
             [admin]\nlisten = \"{}\"\ntoken = {{ file = {good:?} }}\n",
            s.addr
        ),
    );
    let out = telegate(args(&["admin", "--config", &config, "reload"])).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_json(&out)["version"], 1);

    // --token-file wins over [admin].token.
    let out = telegate(args(&[
        "admin",
        "--config",
        &config,
        "--token-file",
        &bad,
        "health",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // A config without [admin].listen, or a broken one, is a usage error.
    let no_admin = write(
        dir.path(),
        "no-admin.toml",
        &format!("[server]\nlisten = [\"127.0.0.1:0\"]\n\n[dlr]\nstore = {store:?}\n"),
    );
    let out = telegate(args(&["admin", "--config", &no_admin, "health"])).await;
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("[admin].listen"));
    let broken = write(dir.path(), "broken.toml", "[admin]\nlisten = 5\n");
    let out = telegate(args(&["admin", "--config", &broken, "health"])).await;
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_and_usage() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let out = telegate(args(&[
        "admin",
        "--url",
        &format!("http://{closed}"),
        "health",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(69), "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));

    let out = telegate(args(&["admin", "--url", "https://127.0.0.1:1", "health"])).await;
    assert_eq!(out.status.code(), Some(64), "{out:?}");

    // --url and --config exclude each other; an action is required.
    let out = telegate(args(&[
        "admin",
        "--url",
        "http://127.0.0.1:1",
        "--config",
        "x.toml",
        "health",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = telegate(args(&["admin"])).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspensions_evidence_suspend_reinstate() {
    let s = serve(None).await;
    let url = format!("http://{}", s.addr);

    let out = telegate(args(&["admin", "--url", &url, "suspensions"])).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_json(&out)["suspensions"][0]["account"], "acme co");

    // A sid with a space and a slash travels escaped.
    let out = telegate(args(&[
        "admin",
        "--url",
        &url,
        "suspend",
        "acme/co x",
        "--note",
        "spam complaint",
        "--by",
        "alice",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = telegate(args(&[
        "admin", "--url", &url, "evidence", "acme co", "--by", "bob",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_json(&out)["suspension"]["account"], "acme co");
    let out = telegate(args(&[
        "admin", "--url", &url, "evidence", "nobody", "--by", "bob",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1), "404 exits 1: {out:?}");
    let out = telegate(args(&[
        "admin",
        "--url",
        &url,
        "reinstate",
        "acme co",
        "--note",
        "reviewed: legitimate",
        "--by",
        "carol",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // A reinstatement without a note is refused by the API.
    let out = telegate(args(&[
        "admin",
        "--url",
        &url,
        "reinstate",
        "acme co",
        "--note",
        " ",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("needs a note"));

    let calls = s.fake.calls.lock().unwrap().clone();
    let want = [
        ("suspend", "acme/co x", "alice", "spam complaint"),
        ("show", "acme co", "bob", ""),
        ("show", "nobody", "bob", ""),
        ("reinstate", "acme co", "carol", "reviewed: legitimate"),
    ];
    assert_eq!(calls.len(), want.len(), "{calls:?}");
    for (got, want) in calls.iter().zip(want) {
        assert_eq!(
            (
                got.0.as_str(),
                got.1.as_str(),
                got.2.as_str(),
                got.3.as_str()
            ),
            want
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdr_requests_through_the_admin_api() {
    use telegate::cdr::store::{ExportFormat, Query};
    use telegate::cdr::ReceiptState;

    let s = serve(None).await;
    let url = format!("http://{}", s.addr);
    let run = |a: &[&str]| {
        let mut v = args(&["cdr", "--url", &url]);
        v.extend(args(a));
        telegate(v)
    };
    let out = run(&[
        "query",
        "--account",
        "AC 1/x",
        "--from",
        "2026-11-01",
        "--status",
        "0x45",
        "--receipt",
        "no_receipt",
        "--id",
        "00000000000000ff",
        "--limit",
        "5",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_json(&out)["ok"], true);
    let out = run(&[
        "export",
        "--account",
        "AC1",
        "--format",
        "csv",
        "--by",
        "carol",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("account,gateway_id"));
    let out = run(&[
        "erase",
        "--account",
        "AC1",
        "--until",
        "1764374400000",
        "--by",
        "dpo",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = run(&["erase", "--account", "held", "--by", "dpo"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("legal hold"),
        "{out:?}"
    );
    let out = run(&[
        "hold",
        "--account",
        "AC1",
        "--note",
        "case 17",
        "--by",
        "legal",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = run(&[
        "release",
        "--account",
        "AC1",
        "--note",
        "closed",
        "--by",
        "legal",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = run(&["holds"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = run(&["sweep", "--by", "ops"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Usage errors never reach the API.
    let out = run(&["hold", "--account", "AC1"]).await;
    assert_eq!(out.status.code(), Some(2), "a hold needs its note: {out:?}");

    let got = s.fake.cdr.lock().unwrap().clone();
    let want = vec![
        CdrRequest::Query(Query {
            account: Some("AC 1/x".into()),
            from_ms: Some(1_793_491_200_000),
            to_ms: None,
            carrier: None,
            status: Some(0x45),
            receipt: Some(ReceiptState::NoReceipt),
            gateway_id: Some(0xff),
            limit: 5,
        }),
        CdrRequest::Export {
            account: "AC1".into(),
            from_ms: None,
            to_ms: None,
            format: ExportFormat::Csv,
            by: "carol".into(),
        },
        CdrRequest::Erase {
            account: "AC1".into(),
            until_ms: Some(1_764_374_400_000),
            by: "dpo".into(),
        },
        CdrRequest::Erase {
            account: "held".into(),
            until_ms: None,
            by: "dpo".into(),
        },
        CdrRequest::Hold {
            account: "AC1".into(),
            on: true,
            by: "legal".into(),
            note: "case 17".into(),
        },
        CdrRequest::Hold {
            account: "AC1".into(),
            on: false,
            by: "legal".into(),
            note: "closed".into(),
        },
        CdrRequest::Holds,
        CdrRequest::Sweep { by: "ops".into() },
    ];
    assert_eq!(got, want);
}
