//! Interop with independent SMPP implementations: Python `smpplib` as an
//! ESME, and `smppkit esme` (built on the `rusmpp` crate) as a load
//! client. Each test skips, saying so, when its tool is not installed.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The Python ESME: binds as transceiver, submits one message asking for
/// a receipt, waits for it, unbinds. Prints `SUBMIT_RESP <status> <id>`
/// and `RECEIPT <receipted_message_id> <text>`.
const SMPPLIB_SCRIPT: &str = r#"
import sys, socket
import smpplib.client, smpplib.consts

host, port, system_id, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
client = smpplib.client.Client(host, port, timeout=10, allow_unknown_opt_params=True)
state = {"id": None, "receipt": None}

def sent(pdu, **kwargs):
    mid = pdu.message_id.decode() if isinstance(pdu.message_id, bytes) else pdu.message_id
    state["id"] = mid
    print("SUBMIT_RESP", pdu.status, mid, flush=True)

def received(pdu, **kwargs):
    rid = getattr(pdu, "receipted_message_id", None)
    if isinstance(rid, bytes):
        rid = rid.decode()
    text = pdu.short_message.decode("latin-1") if pdu.short_message else ""
    state["receipt"] = rid
    print("RECEIPT", rid, text, flush=True)

client.set_message_sent_handler(sent)
client.set_message_received_handler(received)
client.connect()
client.bind_transceiver(system_id=system_id, password=password)
print("BOUND", flush=True)
client.send_message(
    source_addr_ton=smpplib.consts.SMPP_TON_INTL,
    source_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
    source_addr="447700900001",
    dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
    dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
    destination_addr="491511234567",
    short_message=b"hello from smpplib",
    registered_delivery=1,
)
for _ in range(200):
    if state["receipt"] is not None:
        break
    client.read_once()
client.unbind()
client.disconnect()
sys.exit(0 if state["receipt"] is not None and state["receipt"] == state["id"] else 3)
"#;

/// Runs `cmd` to its end, killing it (and failing) after `timeout`.
async fn run(mut cmd: Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let until = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(None) => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "{cmd:?} did not finish in {timeout:?}:\n{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    }
    child.wait_with_output().expect("output")
}

fn smpplib_available() -> bool {
    Command::new("python3")
        .args(["-c", "import smpplib.client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_smpplib_submits_and_gets_its_receipt() {
    if !smpplib_available() {
        eprintln!(
            "SKIPPED python_smpplib_submits_and_gets_its_receipt: python3 with smpplib not found \
             (pip install smpplib)"
        );
        return;
    }
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let gw = start_gateway(GatewayConfig::simple(smsc.addr()).build(dir.path())).await;
    let addr = esme_addr(&gw);

    let script_dir = tempfile::tempdir().expect("temp dir");
    let script = script_dir.path().join("esme.py");
    std::fs::File::create(&script)
        .and_then(|mut f| f.write_all(SMPPLIB_SCRIPT.as_bytes()))
        .expect("write script");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .arg("esme1")
        .arg(PASSWORD);
    let out = run(cmd, Duration::from_secs(60)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "smpplib script failed ({}):\n{stdout}\n{stderr}",
        out.status
    );

    let resp = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SUBMIT_RESP "))
        .unwrap_or_else(|| panic!("no submit_sm_resp:\n{stdout}\n{stderr}"));
    let mut f = resp.split_whitespace();
    assert_eq!(f.next(), Some("0"), "submit status: {resp}");
    let id = f.next().expect("message id").to_owned();
    assert_gateway_id(&id);

    let receipt = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RECEIPT "))
        .unwrap_or_else(|| panic!("no receipt:\n{stdout}\n{stderr}"));
    assert!(
        receipt.starts_with(&format!("{id} ")),
        "receipted_message_id is not {id}: {receipt}"
    );
    assert!(
        receipt.contains(&format!("id:{id} ")),
        "receipt text id is not {id}: {receipt}"
    );
    assert!(receipt.contains("stat:DELIVRD"), "{receipt}");
    assert_eq!(gw.stats().submitted, 1);
    stop(gw).await;
}

/// Where `smppkit` is: `$SMPPKIT`, or as `benches/e2e.sh` builds it.
fn smppkit() -> Option<PathBuf> {
    let p = std::env::var_os("SMPPKIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/smppkit/release/smppkit")
        });
    p.is_file().then_some(p)
}

/// The number after `"key":` in a flat JSON text.
fn json_u64(json: &str, key: &str) -> Option<u64> {
    let at = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smppkit_esme_runs_through_the_gateway() {
    let Some(bin) = smppkit() else {
        eprintln!(
            "SKIPPED smppkit_esme_runs_through_the_gateway: no smppkit binary at \
             target/smppkit/release/smppkit (build it with `CARGO_TARGET_DIR=target/smppkit \
             cargo build --release --manifest-path ../shared/tools/smppkit/Cargo.toml`, \
             or set SMPPKIT)"
        );
        return;
    };
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let gw = start_gateway(GatewayConfig::simple(smsc.addr()).build(dir.path())).await;
    let addr = esme_addr(&gw);

    let mut cmd = Command::new(bin);
    cmd.args(["esme", "--threads", "1", "--target"])
        .arg(addr.to_string())
        .args(["--system-id", "esme1", "--password", PASSWORD])
        .args(["--count", "300", "--window", "32", "--connections", "2"])
        .args([
            "--dst-prefix",
            "4917",
            "--expect-dlr",
            "--dlr-timeout-s",
            "20",
        ])
        .arg("--json");
    let out = run(cmd, Duration::from_secs(60)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "smppkit esme failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let get = |k: &str| {
        json_u64(&stdout, k).unwrap_or_else(|| panic!("no {k:?} in smppkit output:\n{stdout}"))
    };
    assert_eq!(get("sent"), 300, "{stdout}");
    assert_eq!(get("ok"), 300, "{stdout}");
    assert_eq!(get("no_response"), 0, "{stdout}");
    assert_eq!(get("matched"), 300, "{stdout}");
    assert_eq!(get("missing"), 0, "{stdout}");
    assert_eq!(get("unmatched"), 0, "{stdout}");
    assert_eq!(gw.stats().submitted, 300);
    stop(gw).await;
}
