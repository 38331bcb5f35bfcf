//! Custody of receipts forwarded to an ESME: a deliver_sm the ESME does
//! not answer in time, defers, or leaves behind when it unbinds goes back
//! to the account's held queue and is delivered again; a permanent
//! refusal is not retried; and a slow receiver slows the carrier down
//! instead of overflowing the held queue.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use telegate::sim::{BindType, Client, ClientOptions};
use telegate::smpp_codec::pdu::SubmitSm;
use telegate::smpp_codec::{Body, CommandId, CommandStatus, Pdu};

/// Options of a receiver that answers every deliver_sm itself.
fn manual_opts() -> ClientOptions {
    ClientOptions {
        auto_deliver_sm_resp: false,
        ..client_opts()
    }
}

/// Binds `esme1` as a receiver that answers deliver_sm itself.
async fn bind_manual_rx(addr: SocketAddr) -> Client {
    let c = Client::connect_with(addr, manual_opts())
        .await
        .expect("connects to the gateway");
    let st = c
        .bind(BindType::Receiver, "esme1", PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_ROK, "receiver bind refused");
    c
}

/// The next deliver_sm as a whole PDU (to answer it), skipping anything
/// else the gateway sends.
async fn next_deliver_pdu(c: &mut Client, timeout: Duration) -> Option<Pdu> {
    let until = Instant::now() + timeout;
    loop {
        let left = until.checked_duration_since(Instant::now())?;
        match c.next_pdu(left).await {
            Ok(p) if p.command_id() == CommandId::DELIVER_SM => return Some(p),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

fn deliver_sm(p: &Pdu) -> &SubmitSm {
    match &p.body {
        Body::DeliverSm(sm) => sm,
        b => panic!("not a deliver_sm: {b:?}"),
    }
}

/// The gateway id a receipt deliver_sm carries (TLV and text must agree).
fn receipt_id(p: &Pdu) -> String {
    let sm = deliver_sm(p);
    assert!(is_receipt(sm), "not a receipt: {sm:?}");
    let ids = receipt_ids(sm);
    assert_eq!(ids.tlv, ids.text, "TLV and text ids differ: {ids:?}");
    ids.tlv.expect("receipted_message_id")
}

/// Waits for the next receipt and checks it is the one for `id`.
async fn expect_receipt_pdu(c: &mut Client, id: &str, what: &str) -> Pdu {
    let p = next_deliver_pdu(c, WAIT)
        .await
        .unwrap_or_else(|| panic!("{what}: no receipt for {id}"));
    assert_eq!(receipt_id(&p), id, "{what}");
    p
}

/// A round trip on `c`: the gateway reads a session's PDUs in order, so
/// once the enquire_link_resp is in, every response sent before it has
/// been handled.
async fn barrier(c: &Client) {
    let r = c.enquire_link().await.expect("enquire_link answered");
    assert_eq!(r.command_id(), CommandId::ENQUIRE_LINK_RESP);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_receipt_is_taken_back_and_delivered_again() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::simple(smsc.addr()).server("response_timeout", q("1s"));
    let gw = start_gateway(cfg.build(dir.path())).await;
    let mut rx = bind_manual_rx(esme_addr(&gw)).await;
    let tx = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;

    let id = submit_ok(&tx, DEST, b"answer me late", true).await;
    let first = expect_receipt_pdu(&mut rx, &id, "first delivery").await;
    // Not answered: after response_timeout the gateway takes it back and
    // sends it again, on this session (the only receiver).
    let second = expect_receipt_pdu(&mut rx, &id, "second delivery").await;
    assert_ne!(
        first.sequence_number, second.sequence_number,
        "a new deliver_sm, not a resend of the same PDU"
    );
    rx.respond(&second, CommandStatus::ESME_ROK)
        .await
        .expect("respond");
    // The late answer to the first one settles nothing.
    rx.respond(&first, CommandStatus::ESME_ROK)
        .await
        .expect("respond");
    barrier(&rx).await;
    assert_eq!(gw.stats().dlr_delivered, 1, "{:?}", gw.stats());
    assert_eq!(gw.stats().held_full, 0);
    // The carrier was answered OK once, and nothing else is on its way.
    assert!(eventually(WAIT, || smsc.stats().receipts_acked == 1).await);
    assert_eq!(smsc.stats().receipts_retried, 0, "{:?}", smsc.stats());
    drop((rx, tx));
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_refusal_is_retried_permanent_is_not() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::simple(smsc.addr()).server("response_timeout", q("1s"));
    let gw = start_gateway(cfg.build(dir.path())).await;
    let mut rx = bind_manual_rx(esme_addr(&gw)).await;
    let tx = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;

    // Temporary: delivered again.
    let temp = submit_ok(&tx, DEST, b"later please", true).await;
    let p = expect_receipt_pdu(&mut rx, &temp, "first delivery").await;
    rx.respond(&p, CommandStatus::ESME_RX_T_APPN)
        .await
        .expect("respond");
    let p = expect_receipt_pdu(&mut rx, &temp, "after ESME_RX_T_APPN").await;
    rx.respond(&p, CommandStatus::ESME_ROK)
        .await
        .expect("respond");
    assert!(
        eventually(WAIT, || gw.stats().dlr_delivered == 1).await,
        "{:?}",
        gw.stats()
    );

    // Permanent: dropped. The next receipt the ESME sees is the one of a
    // later message, not this one again.
    let perm = submit_ok(&tx, DEST, b"never", true).await;
    let p = expect_receipt_pdu(&mut rx, &perm, "first delivery").await;
    rx.respond(&p, CommandStatus::ESME_RX_P_APPN)
        .await
        .expect("respond");
    barrier(&rx).await;
    let after = submit_ok(&tx, DEST, b"after the refusal", true).await;
    let p = expect_receipt_pdu(&mut rx, &after, "the next receipt").await;
    rx.respond(&p, CommandStatus::ESME_ROK)
        .await
        .expect("respond");

    // Nothing more within twice the response timeout (a retry by timeout
    // would come after one sweep).
    let mut again = Vec::new();
    while let Some(p) = next_deliver_pdu(&mut rx, Duration::from_millis(2500)).await {
        again.push(receipt_id(&p));
        rx.respond(&p, CommandStatus::ESME_ROK)
            .await
            .expect("respond");
    }
    assert!(
        again.is_empty(),
        "delivered again: {again:?} (refused {perm})"
    );
    barrier(&rx).await;
    let st = gw.stats();
    assert_eq!(st.dlr_delivered, 2, "{st:?}");
    assert_eq!(st.held_full, 0, "{st:?}");
    drop((rx, tx));
    stop(gw).await;
}

/// How an ESME leaves with a deliver_sm unanswered.
#[derive(Debug, Clone, Copy)]
enum Leave {
    Unbind,
    Disconnect,
}

async fn receipt_left_unanswered_comes_on_rebind(leave: Leave) {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    // A long response timeout: only the unbind can give the receipt back.
    let cfg = GatewayConfig::simple(smsc.addr()).server("response_timeout", q("30s"));
    let gw = start_gateway(cfg.build(dir.path())).await;
    let mut rx = bind_manual_rx(esme_addr(&gw)).await;
    let tx = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;

    let id = submit_ok(&tx, DEST, b"left behind", true).await;
    expect_receipt_pdu(&mut rx, &id, "first delivery").await;
    match leave {
        Leave::Unbind => {
            let r = rx.unbind().await.expect("unbind answered");
            assert_eq!(r.command_id(), CommandId::UNBIND_RESP);
            rx.wait_closed(WAIT).await.expect("gateway closes");
        }
        Leave::Disconnect => drop(rx),
    }
    // Taken back into the held queue once the session is gone.
    assert!(
        eventually(WAIT, || gw.stats().held >= 1).await,
        "{:?}",
        gw.stats()
    );

    let mut rx = bind(esme_addr(&gw), BindType::Receiver, "esme1").await;
    expect_receipt(&mut rx, &id).await;
    assert!(
        eventually(WAIT, || gw.stats().dlr_delivered == 1).await,
        "{:?}",
        gw.stats()
    );
    drop((rx, tx));
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_unanswered_at_unbind_is_delivered_after_rebind() {
    receipt_left_unanswered_comes_on_rebind(Leave::Unbind).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_unanswered_at_disconnect_is_delivered_after_rebind() {
    receipt_left_unanswered_comes_on_rebind(Leave::Disconnect).await;
}

/// What the slow receiver saw.
#[derive(Debug, Default)]
struct SlowReport {
    /// Receipt id → times delivered.
    counts: HashMap<String, u32>,
    /// deliver_sm that arrived while another was still unanswered.
    over_window: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_receiver_slows_the_carrier_instead_of_overflowing() {
    const N: usize = 40;
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::simple(smsc.addr())
        .server("deliver_window", "1")
        .dlr("held_per_account", "4");
    let gw = start_gateway(cfg.build(dir.path())).await;
    let mut rx = bind_manual_rx(esme_addr(&gw)).await;
    let tx = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;

    // The receiver answers each deliver_sm after a pause, until it has
    // seen N distinct receipts (or the time is up).
    let reader = tokio::spawn(async move {
        let mut report = SlowReport::default();
        let until = Instant::now() + Duration::from_secs(30);
        while report.counts.len() < N {
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                break;
            };
            let Some(p) = next_deliver_pdu(&mut rx, left).await else {
                break;
            };
            *report.counts.entry(receipt_id(&p)).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(15)).await;
            // With a deliver window of 1 nothing else may be sent before
            // this one is answered.
            if let Ok(q) = rx.next_pdu(Duration::ZERO).await {
                if q.command_id() == CommandId::DELIVER_SM {
                    report.over_window += 1;
                    *report.counts.entry(receipt_id(&q)).or_default() += 1;
                    rx.respond(&q, CommandStatus::ESME_ROK)
                        .await
                        .expect("respond");
                }
            }
            rx.respond(&p, CommandStatus::ESME_ROK)
                .await
                .expect("respond");
        }
        (rx, report)
    });

    let msgs =
        (0..N).map(|i| telegate::sim::submit_sm(SOURCE, DEST, format!("m{i}").as_bytes(), true));
    let resps = tx.submit_many(msgs, 8).await.expect("submits answered");
    let ids: HashSet<String> = resps.iter().map(|r| message_id(&r.pdu)).collect();
    assert_eq!(ids.len(), N, "distinct gateway ids");

    let (mut rx, report) = reader.await.expect("reader task");
    let seen: HashSet<String> = report.counts.keys().cloned().collect();
    let missing: Vec<&String> = ids.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "receipts missing: {missing:?}; {:?}",
        gw.stats()
    );
    let stray: Vec<&String> = seen.difference(&ids).collect();
    assert!(stray.is_empty(), "receipts for unknown ids: {stray:?}");
    let dups: Vec<(&String, &u32)> = report.counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        dups.is_empty(),
        "receipts delivered more than once: {dups:?}"
    );
    assert_eq!(report.over_window, 0, "deliver window of 1 exceeded");

    // Every answer is in, and nothing more comes.
    barrier(&rx).await;
    assert!(next_deliver_pdu(&mut rx, Duration::from_millis(300))
        .await
        .is_none());
    let st = gw.stats();
    assert_eq!(st.dlr_delivered, N as u64, "{st:?}");
    assert_eq!(st.held_full, 0, "held queue overflowed: {st:?}");
    // The carrier was slowed, never refused.
    assert!(
        eventually(WAIT, || smsc.stats().receipts_acked == N as u64).await,
        "{:?}",
        smsc.stats()
    );
    let s = smsc.stats();
    assert_eq!(s.receipts_retried, 0, "{s:?}");
    assert_eq!(s.receipts_dropped, 0, "{s:?}");
    drop((rx, tx));
    stop(gw).await;
}
