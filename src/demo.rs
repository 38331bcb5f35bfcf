//! `telegate demo`: a gateway on an embedded default config with the
//! bundled carrier simulator, and one message with its receipt shown
//! flowing through it, then a spam message the content filter refuses.
//! No outside services.

use std::net::SocketAddr;
use std::time::Duration;

use telegate_smpp::pdu::Body;
use telegate_smpp::tlv::TlvList;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::gateway::Gateway;
use crate::sim::{self, BindType, Client, Smsc, SmscConfig};

/// The embedded default config (placeholders filled in by [`config`]).
pub const DEMO_CONFIG: &str = include_str!("../conf/demo.toml");

/// The demo account's password.
pub const DEMO_PASSWORD: &str = "demo";

/// The demo config for a gateway listening on `listen`, with its carrier
/// at `smsc` and its state under `root`: the DLR store in `dlr/`, CDRs in
/// `cdr/`, their pseudonym key in `cdr.key` (written here, random, 0600).
pub fn config(
    listen: SocketAddr,
    smsc: SocketAddr,
    root: &std::path::Path,
) -> Result<Config, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let key = root.join("cdr.key");
    let hex: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&key)
            .map_err(|e| format!("{}: {e}", key.display()))?;
        writeln!(f, "{hex}").map_err(|e| format!("{}: {e}", key.display()))?;
    }
    let path = |p: std::path::PathBuf| p.display().to_string().replace('\\', "/");
    let text = DEMO_CONFIG
        .replace("@LISTEN@", &listen.to_string())
        .replace("@SMSC@", &smsc.to_string())
        .replace("@STORE@", &path(root.join("dlr")))
        .replace("@CDRKEY@", &path(key))
        .replace("@CDR@", &path(root.join("cdr")))
        .replace("@HASH@", &crate::auth::hash_password(DEMO_PASSWORD));
    Config::from_toml(&text).map_err(|e| format!("embedded demo config: {e}"))
}

/// Runs the demo; with `once`, stops after the message's receipt.
pub async fn run(
    listen: SocketAddr,
    once: bool,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let smsc = Smsc::start(SmscConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        dlr_delay: Duration::from_millis(300),
        ..SmscConfig::default()
    })
    .await
    .map_err(|e| format!("carrier simulator: {e}"))?;
    let store = std::env::temp_dir().join(format!("telegate-demo-{}", std::process::id()));
    let cfg = config(listen, smsc.addr(), &store)?;
    let gw = Gateway::start(cfg).await.map_err(|e| e.to_string())?;
    println!("carrier simulator  listening on {}", smsc.addr());
    println!(
        "telegate           listening on {} (system_id demo, password demo)",
        gw.esme_addrs()[0]
    );
    if !gw.wait_carriers_bound(Duration::from_secs(5)).await {
        return Err("the gateway could not bind to the simulator".into());
    }
    println!("carrier binds      up: {}", gw.carrier_binds_up("sim"));
    let mut result = demo_message(gw.esme_addrs()[0]).await;
    if result.is_ok() {
        result = show_cdrs(&gw).await;
    }
    match &result {
        Ok(()) => {}
        Err(e) => println!("demo message failed: {e}"),
    }
    if !once && result.is_ok() {
        println!("\nserving ESMEs on {listen} until Ctrl-C (try: telegate-sim esme --addr {listen} --system-id demo --password demo)");
        shutdown.cancelled().await;
    }
    gw.shutdown(Duration::from_secs(5)).await;
    smsc.shutdown().await;
    let _ = std::fs::remove_dir_all(&store);
    result
}

/// Shows the CDRs of the two messages: pseudonyms and outcomes, no text.
async fn show_cdrs(gw: &Gateway) -> Result<(), String> {
    let q = crate::cdr::store::Query {
        account: Some("AC-demo".into()),
        limit: 10,
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let v = match gw.cdr(crate::admin::CdrRequest::Query(q.clone())).await {
            Ok(crate::admin::CdrAnswer::Json(v)) => v,
            other => return Err(format!("CDR query: {other:?}")),
        };
        let rows = v["rows"].as_array().cloned().unwrap_or_default();
        let receipted = rows.iter().any(|r| r["receipt"] == "delivered");
        if rows.len() >= 2 && receipted {
            for r in &rows {
                println!(
                    "CDR                {} verdict {}, status 0x{:08x}, receipt {}, dest {}… (pseudonym), country {}",
                    r["gateway_id"].as_str().unwrap_or_default(),
                    r["verdict"].as_str().unwrap_or_default(),
                    r["submit_status"].as_u64().unwrap_or_default(),
                    r["receipt"].as_str().unwrap_or_default(),
                    &r["dest"].as_str().unwrap_or_default().chars().take(12).collect::<String>(),
                    r["country_code"],
                );
            }
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("the CDRs did not appear: {v}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn demo_message(addr: SocketAddr) -> Result<(), String> {
    let mut esme = Client::connect(addr).await.map_err(|e| e.to_string())?;
    let st = esme
        .bind(BindType::Transceiver, "demo", DEMO_PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    if !st.is_ok() {
        return Err(format!("bind refused: {st}"));
    }
    println!("ESME               bound as transceiver");
    let sm = sim::submit_sm("12345", "447700900123", b"Hello from Telegate", true);
    let resp = esme
        .request(Body::SubmitSm(Box::new(sm)))
        .await
        .map_err(|e| e.to_string())?;
    let id = match &resp.body {
        Body::SubmitSmResp(r) if resp.command_status.is_ok() => {
            String::from_utf8_lossy(&r.message_id).into_owned()
        }
        _ => return Err(format!("submit_sm answered {}", resp.command_status)),
    };
    println!("submit_sm          -> carrier accepted; submit_sm_resp message_id {id}");
    let receipt = esme
        .next_pdu(Duration::from_secs(10))
        .await
        .map_err(|e| format!("no receipt: {e}"))?;
    let Body::DeliverSm(dr) = &receipt.body else {
        return Err(format!(
            "expected a receipt, got {:?}",
            receipt.command_id()
        ));
    };
    let rid = dr
        .tlvs
        .receipted_message_id()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    println!(
        "deliver_sm receipt <- receipted_message_id {rid}, state {:?}",
        dr.tlvs.message_state()
    );
    esme.respond(&receipt, telegate_smpp::CommandStatus::ESME_ROK)
        .await
        .map_err(|e| e.to_string())?;
    // The filter at work: an obvious smishing text is refused.
    let spam = sim::submit_sm(
        "12345",
        "447700900124",
        b"URGENT! Your account has been suspended. Verify your details now at http://bit.ly/x1 or pay the fee",
        false,
    );
    let resp = esme
        .request(Body::SubmitSm(Box::new(spam)))
        .await
        .map_err(|e| e.to_string())?;
    if resp.command_status.is_ok() {
        return Err("the content filter let an obvious smishing text through".into());
    }
    println!(
        "submit_sm (spam)   -> refused by the content filter: {}",
        resp.command_status
    );
    let _ = esme.unbind().await;
    if rid != id {
        return Err("the receipt does not carry the gateway's message id".into());
    }
    println!("receipt matched    the gateway id the ESME was given");
    Ok(())
}
