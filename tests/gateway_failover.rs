//! Failover along a route when the first carrier is down, rejects or
//! throttles; the ESME's status when every route fails; and a carrier
//! connection lost with a full window loses nothing.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use telegate::gateway::Gateway;
use telegate::sim::{BindType, Mode, SmscHandle};
use telegate::smpp_codec::{Body, CommandId, CommandStatus};

/// Carriers `c1` (first) and `c2` on one route for every destination.
fn two_carriers(first: &str, second: &str) -> GatewayConfig {
    GatewayConfig::new()
        .account("esme1", &[])
        .carrier("c1", first, &[])
        .carrier("c2", second, &[])
        .route("", &["c1", "c2"])
}

async fn wait_bound(gw: &Gateway, name: &str) {
    assert!(
        eventually(WAIT, || gw.carrier_binds_up(name) > 0).await,
        "carrier {name} did not bind: {:?}",
        gw.carrier_bind_states()
    );
}

/// One submit with a receipt through a gateway whose first carrier
/// misbehaves: it must be accepted by `second`, and its receipt must come
/// back with the gateway id.
async fn fails_over(first: &str, second: &SmscHandle, gw: Gateway) {
    wait_bound(&gw, "c2").await;
    let mut esme = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;
    let id = submit_ok(&esme, DEST, b"failover", true).await;
    assert_eq!(
        second.stats().accepted,
        1,
        "second carrier accepted ({first})"
    );
    expect_receipt(&mut esme, &id).await;
    drop(esme);
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_when_first_carrier_is_down() {
    let b = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = two_carriers(&closed_port().to_string(), &b.addr().to_string()).build(dir.path());
    let gw = start_gateway_nowait(cfg).await;
    fails_over("down", &b, gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_when_first_carrier_rejects() {
    let a = start_smsc(|c| c.mode = Mode::Reject(CommandStatus::ESME_RSYSERR)).await;
    let b = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = two_carriers(&a.addr().to_string(), &b.addr().to_string()).build(dir.path());
    let gw = start_gateway(cfg).await;
    fails_over("rejects", &b, gw).await;
    assert_eq!(a.stats().rejected, 1, "first carrier was tried");
    assert_eq!(a.stats().accepted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_when_first_carrier_throttles() {
    let a = start_smsc(|c| c.mode = Mode::Throttle).await;
    let b = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = two_carriers(&a.addr().to_string(), &b.addr().to_string()).build(dir.path());
    let gw = start_gateway(cfg).await;
    fails_over("throttles", &b, gw).await;
    assert!(a.stats().throttled >= 1, "first carrier was tried");
    assert_eq!(a.stats().accepted, 0);
}

/// Submits once through a gateway where every carrier fails in the same
/// way, and returns the ESME's status.
async fn all_fail(mode: Option<Mode>) -> CommandStatus {
    // The simulators live until the end of the test.
    let mut smscs = Vec::new();
    let (first, second) = match mode {
        Some(m) => {
            smscs.push(start_smsc(|c| c.mode = m).await);
            smscs.push(start_smsc(|c| c.mode = m).await);
            (smscs[0].addr().to_string(), smscs[1].addr().to_string())
        }
        None => (closed_port().to_string(), closed_port().to_string()),
    };
    let dir = store_dir();
    let cfg = two_carriers(&first, &second)
        .server("submit_deadline", q("1500ms"))
        .build(dir.path());
    let gw = if mode.is_some() {
        start_gateway(cfg).await
    } else {
        start_gateway_nowait(cfg).await
    };
    let esme = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    let resp = submit(&esme, DEST, b"nowhere to go", false).await;
    let st = status_of(&resp, CommandId::SUBMIT_SM_RESP);
    assert_eq!(gw.stats().submit_failed, 1);
    assert_eq!(gw.stats().submitted, 0);
    drop(esme);
    stop(gw).await;
    drop(smscs);
    st
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_carrier_rejects_gives_submitfail() {
    let st = all_fail(Some(Mode::Reject(CommandStatus::ESME_RSYSERR))).await;
    assert_eq!(st, CommandStatus::ESME_RSUBMITFAIL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_carrier_throttles_gives_throttled() {
    let st = all_fail(Some(Mode::Throttle)).await;
    assert_eq!(st, CommandStatus::ESME_RTHROTTLED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_carrier_down_gives_msgqful() {
    let st = all_fail(None).await;
    assert_eq!(st, CommandStatus::ESME_RMSGQFUL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_without_carrier_answers_invdstadr() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::new()
        .account("esme1", &[])
        .carrier("c1", &smsc.addr().to_string(), &[])
        .route("49", &["c1"])
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    let esme = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    let resp = submit(&esme, "+33612345678", b"no route", false).await;
    assert_eq!(
        status_of(&resp, CommandId::SUBMIT_SM_RESP),
        CommandStatus::ESME_RINVDSTADR
    );
    assert_eq!(smsc.stats().submits, 0);
    drop(esme);
    stop(gw).await;
}

const MESSAGES: usize = 500;
const WINDOW: usize = 64;

/// Sends [`MESSAGES`] submits with a window of [`WINDOW`] while `kill`
/// cuts a carrier's connections once it has accepted 100 of them. Every
/// submit must be answered, and every accepted one must get its receipt.
async fn killed_mid_window(gw: Gateway, victim: Arc<SmscHandle>) {
    let mut esme = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;

    let killed = Arc::new(AtomicBool::new(false));
    let killer = {
        let victim = victim.clone();
        let killed = killed.clone();
        tokio::spawn(async move {
            let until = std::time::Instant::now() + WAIT;
            while std::time::Instant::now() < until {
                if victim.stats().accepted >= 100 {
                    victim.kill_connections();
                    killed.store(true, Ordering::SeqCst);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };

    let msgs = (0..MESSAGES)
        .map(|i| telegate::sim::submit_sm(SOURCE, DEST, format!("load {i}").as_bytes(), true));
    let responses = esme
        .submit_many(msgs, WINDOW)
        .await
        .expect("every submit is answered");
    killer.await.expect("killer task");
    assert!(killed.load(Ordering::SeqCst), "the carrier was never cut");
    assert_eq!(responses.len(), MESSAGES, "every submit is answered");

    let mut ok = HashSet::new();
    let mut errors = Vec::new();
    for r in &responses {
        if r.pdu.command_status.is_ok() {
            let id = message_id(&r.pdu);
            assert_gateway_id(&id);
            assert!(ok.insert(id.clone()), "id {id} answered twice");
        } else {
            assert_eq!(r.pdu.command_id(), CommandId::SUBMIT_SM_RESP);
            errors.push(r.pdu.command_status);
        }
    }
    eprintln!(
        "killed mid-window: {} accepted, {} refused {:?}",
        ok.len(),
        errors.len(),
        errors.iter().collect::<HashSet<_>>()
    );
    assert!(!ok.is_empty());

    let (seen, stray) = collect_receipts(&mut esme, &ok, Duration::from_secs(30)).await;
    let missing: Vec<&String> = ok.difference(&seen).take(5).collect();
    assert_eq!(
        seen.len(),
        ok.len(),
        "receipts missing for {} accepted messages, e.g. {missing:?}; stats {:?}",
        ok.len() - seen.len(),
        gw.stats()
    );
    assert!(
        stray.is_empty(),
        "receipts for ids never accepted: {stray:?}"
    );
    // Nothing beyond the accepted ones is still to come either.
    let extra = next_deliver(&mut esme, Duration::from_millis(300)).await;
    if let Some(sm) = extra {
        let ids = receipt_ids(&sm);
        let id = ids.tlv.or(ids.text).unwrap_or_default();
        assert!(ok.contains(&id), "receipt for an id never accepted: {id}");
        eprintln!("duplicate receipt for {id}");
    }
    drop(esme);
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carrier_killed_mid_window_fails_over_losing_nothing() {
    let a = Arc::new(start_smsc(|c| c.dlr_delay = Duration::from_millis(50)).await);
    let b = start_smsc(|c| c.dlr_delay = Duration::from_millis(50)).await;
    let dir = store_dir();
    let cfg = two_carriers(&a.addr().to_string(), &b.addr().to_string())
        .server("window", "64")
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    killed_mid_window(gw, a.clone()).await;
    // Both carriers took part: the first until it was cut.
    assert!(a.stats().accepted >= 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carrier_killed_mid_window_reconnects_losing_nothing() {
    let a = Arc::new(start_smsc(|c| c.dlr_delay = Duration::from_millis(50)).await);
    let dir = store_dir();
    let cfg = GatewayConfig::simple(a.addr())
        .server("window", "64")
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    killed_mid_window(gw, a.clone()).await;
    assert!(a.stats().binds >= 2, "the carrier bind came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carrier_push_back_is_retried_within_deadline() {
    // The only carrier throttles for a while, then accepts: the submit is
    // retried there and accepted.
    let a = Arc::new(start_smsc(|c| c.mode = Mode::Accept).await);
    let dir = store_dir();
    let gw = start_gateway(GatewayConfig::simple(a.addr()).build(dir.path())).await;
    a.set_mode(Mode::Throttle);
    let esme = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    let pending = esme
        .send_request(Body::SubmitSm(Box::new(telegate::sim::submit_sm(
            SOURCE,
            DEST,
            b"retry me",
            false,
        ))))
        .await
        .expect("sent");
    assert!(eventually(WAIT, || a.stats().throttled >= 1).await);
    a.set_mode(Mode::Accept);
    let resp = tokio::time::timeout(WAIT, pending)
        .await
        .expect("answered in time")
        .expect("answered");
    assert_gateway_id(&message_id(&resp.pdu));
    assert_eq!(a.stats().accepted, 1);
    drop(esme);
    stop(gw).await;
}
