//! Receipts and MO: DLR mappings survive a gateway restart, receipts and
//! MO held while the ESME has no receiver bind are delivered on rebind,
//! and MO goes to the account that owns the number.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use telegate::sim::{BindType, Mode, ReceiptPolicy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_dlr_mappings() {
    // The receipt comes long after the submit; the gateway restarts in
    // between.
    let smsc = start_smsc(|c| c.dlr_delay = Duration::from_millis(1000)).await;
    let dir = store_dir();
    let cfg = GatewayConfig::simple(smsc.addr());

    let gw = start_gateway(cfg.build(dir.path())).await;
    let esme = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    let id = submit_ok(&esme, DEST, b"survive a restart", true).await;
    // Keep the receipt from reaching this gateway: the carrier closes its
    // connections and holds the receipt for the next bind.
    smsc.set_mode(Mode::Drop);
    let r = esme.unbind().await.expect("unbind answered");
    assert_eq!(r.command_id(), telegate::smpp_codec::CommandId::UNBIND_RESP);
    drop(esme);
    stop(gw).await;
    assert!(
        eventually(WAIT, || smsc.stats().receipts_held >= 1).await,
        "the carrier holds the receipt: {:?}",
        smsc.stats()
    );

    // A new gateway on the same store: the receipt finds its message.
    smsc.set_mode(Mode::Accept);
    let gw = start_gateway(cfg.build(dir.path())).await;
    let mut rx = bind(esme_addr(&gw), BindType::Receiver, "esme1").await;
    expect_receipt(&mut rx, &id).await;
    let st = gw.stats();
    assert_eq!(st.dlr_unmatched, 0, "{st:?}");

    // Ids stay unique across the restart.
    let tx = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    let id2 = submit_ok(&tx, DEST, b"after restart", false).await;
    assert_ne!(id2, id);
    assert!(id2 > id, "ids go up across restarts ({id} then {id2})");
    drop((rx, tx));
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_held_while_unbound_are_delivered_on_rebind() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::simple(smsc.addr())
        .account("esme2", &[("mo_numbers", r#"["447700900123"]"#)]);
    let gw = start_gateway(cfg.build(dir.path())).await;

    // A transmitter only: no bind can take the receipts.
    let tx = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    let mut ids = HashSet::new();
    for i in 0..3 {
        ids.insert(submit_ok(&tx, DEST, format!("held {i}").as_bytes(), true).await);
    }
    assert!(
        eventually(WAIT, || gw.stats().held >= 3).await,
        "receipts held: {:?}",
        gw.stats()
    );
    // The carrier's view: acknowledged (held by the gateway, not refused).
    assert!(eventually(WAIT, || smsc.stats().receipts_acked >= 3).await);
    drop(tx);

    // MO for an account with no bind is held the same way.
    assert!(smsc.send_mo("+447911000001", "+447700900123", b"mo while away"));
    assert!(eventually(WAIT, || gw.stats().held >= 4).await);

    let mut rx = bind(esme_addr(&gw), BindType::Receiver, "esme1").await;
    let (seen, stray) = collect_receipts(&mut rx, &ids, WAIT).await;
    assert_eq!(seen, ids, "held receipts delivered on rebind");
    assert!(stray.is_empty(), "{stray:?}");

    let mut rx2 = bind(esme_addr(&gw), BindType::Transceiver, "esme2").await;
    let mo = next_deliver(&mut rx2, WAIT)
        .await
        .expect("held MO delivered");
    assert!(!is_receipt(&mo));
    assert_eq!(&mo.short_message[..], b"mo while away");
    drop((rx, rx2));
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mo_goes_to_the_owning_account() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::new()
        .account("esme1", &[("mo_numbers", r#"["447700900123", "12345"]"#)])
        .account("esme2", &[("mo_numbers", r#"["447700900999"]"#)])
        .carrier("c1", &smsc.addr().to_string(), &[])
        .route("", &["c1"])
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    let mut one = bind(esme_addr(&gw), BindType::Receiver, "esme1").await;
    let mut two = bind(esme_addr(&gw), BindType::Transceiver, "esme2").await;

    assert!(smsc.send_mo("+447911000001", "+447700900123", b"hello one"));
    let mo = next_deliver(&mut one, WAIT).await.expect("MO for esme1");
    assert!(!is_receipt(&mo));
    assert_eq!(&mo.short_message[..], b"hello one");
    assert_eq!(&mo.source.addr[..], b"447911000001");
    assert_eq!(&mo.dest.addr[..], b"447700900123");

    // A short code.
    assert!(smsc.send_mo("+447911000002", "12345", b"short code"));
    let mo = next_deliver(&mut one, WAIT)
        .await
        .expect("MO to a short code");
    assert_eq!(&mo.short_message[..], b"short code");

    // esme2's number goes to esme2 only: the first thing it gets.
    assert!(smsc.send_mo("+447911000003", "+447700900999", b"hello two"));
    let mo = next_deliver(&mut two, WAIT).await.expect("MO for esme2");
    assert_eq!(&mo.short_message[..], b"hello two");

    assert!(eventually(WAIT, || smsc.stats().mo_acked == 3).await);
    // Counted when the ESME's deliver_sm_resp is handled, which may come
    // just after the carrier's ack (the gateway acks once it has custody).
    assert!(
        eventually(WAIT, || gw.stats().mo_delivered == 3).await,
        "mo_delivered: {}",
        gw.stats().mo_delivered
    );

    // Nobody owns this number: the carrier gets an error and it is counted.
    assert!(smsc.send_mo("+447911000004", "+449999999999", b"lost"));
    assert!(
        eventually(WAIT, || gw.stats().mo_unknown == 1).await,
        "{:?}",
        gw.stats()
    );
    // One more good MO after it: by the time it is acknowledged the
    // unknown one has been answered too, and not with OK.
    assert!(smsc.send_mo("+447911000005", "+447700900123", b"again"));
    let mo = next_deliver(&mut one, WAIT).await.expect("MO for esme1");
    assert_eq!(&mo.short_message[..], b"again");
    assert!(eventually(WAIT, || smsc.stats().mo_acked >= 4).await);
    let s = smsc.stats();
    assert_eq!(s.mo_sent, 5);
    assert_eq!(s.mo_acked, 4, "the unknown MO was acknowledged OK: {s:?}");
    assert!(
        eventually(WAIT, || gw.stats().mo_delivered == 4).await,
        "mo_delivered: {}",
        gw.stats().mo_delivered
    );
    drop((one, two));
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_only_when_requested() {
    // The carrier sends a receipt for every message; the ESME gets only
    // the ones it asked for.
    let smsc = start_smsc(|c| c.receipts = ReceiptPolicy::Always).await;
    let dir = store_dir();
    let gw = start_gateway(GatewayConfig::simple(smsc.addr()).build(dir.path())).await;
    let mut esme = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;

    let unwanted = submit_ok(&esme, DEST, b"no receipt please", false).await;
    assert!(
        eventually(WAIT, || smsc.stats().receipts_acked >= 1).await,
        "the carrier's receipt was answered"
    );
    let wanted = submit_ok(&esme, DEST, b"receipt please", true).await;
    let sm = expect_receipt(&mut esme, &wanted).await;
    assert_ne!(receipt_ids(&sm).tlv.as_deref(), Some(unwanted.as_str()));
    // Counted once the ESME's deliver_sm_resp is in.
    assert!(eventually(WAIT, || gw.stats().dlr_delivered == 1).await);
    assert_eq!(gw.stats().dlr_unmatched, 0);
    drop(esme);
    stop(gw).await;
}
