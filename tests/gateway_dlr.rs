//! Receipts and MO: DLR mappings survive a gateway restart, receipts and
//! MO held while the ESME has no receiver bind are delivered on rebind,
//! and MO goes to the account that owns the number.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use telegate::sim::{BindType, Client, ClientOptions, Mode, ReceiptPolicy};
use telegate::smpp_codec::pdu::SubmitSm;
use telegate::smpp_codec::receipt::Receipt;
use telegate::smpp_codec::tlv::Tlv;
use telegate::smpp_codec::{Body, CommandId, CommandStatus, Pdu};

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

/// A carrier that sends each message's receipt before its submit_sm_resp
/// (as carriers with several binds do, when the receipt goes out on
/// another bind): the receipt is held until the mapping is recorded, then
/// delivered under the gateway's id. A receipt for an id the carrier never
/// acknowledged is answered OK after `match_wait` and counted unmatched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_ahead_of_its_submit_sm_resp() {
    use telegate::smpp_codec::pdu::{BindResp, MessageIdResp};
    use telegate::smpp_codec::receipt::ReceiptStat;
    use tokio::net::TcpListener;

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let carrier_addr = listener.local_addr().expect("addr");
    // The carrier: answers the bind, then for each submit_sm sends the
    // receipt, waits, and only then the submit_sm_resp; the last submit
    // gets a receipt for an id it never acknowledges. Returns the
    // gateway's answers to the receipts.
    let carrier = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.expect("accept");
        let (r, w) = sock.into_split();
        let opts = ClientOptions {
            auto_enquire_link_resp: true,
            ..client_opts()
        };
        let mut c = Client::from_halves(r, w, opts);
        let bind = c.next_pdu(WAIT).await.expect("bind");
        assert_eq!(bind.command_id(), CommandId::BIND_TRANSCEIVER);
        c.send(&Pdu::new(
            bind.sequence_number,
            Body::BindTransceiverResp(BindResp {
                system_id: "AHEAD".into(),
                tlvs: Default::default(),
            }),
        ))
        .await
        .expect("bind_resp");
        let mut answers = Vec::new();
        for n in 0..3u32 {
            let p = c.next_pdu(WAIT).await.expect("submit_sm");
            let Body::SubmitSm(sm) = &p.body else {
                panic!("expected submit_sm, got {p:?}");
            };
            let id = format!("AbC{n:05}");
            let receipt_id = if n == 2 {
                "FFFF0000".to_string()
            } else {
                id.clone()
            };
            let text = Receipt {
                id: receipt_id.clone().into(),
                sub: Some(1),
                dlvrd: Some(1),
                stat: Some(ReceiptStat::Delivered),
                ..Receipt::default()
            }
            .format();
            let receipt = SubmitSm {
                source: sm.dest.clone(),
                dest: sm.source.clone(),
                esm_class: 0x04,
                short_message: text.into(),
                tlvs: vec![
                    Tlv::ReceiptedMessageId(receipt_id.into()),
                    Tlv::MessageState(2),
                ],
                ..SubmitSm::default()
            };
            let answer = c
                .send_request(Body::DeliverSm(Box::new(receipt)))
                .await
                .expect("deliver_sm sent");
            tokio::time::sleep(Duration::from_millis(30)).await;
            c.send(&Pdu::new(
                p.sequence_number,
                Body::SubmitSmResp(MessageIdResp {
                    message_id: id.into(),
                    tlvs: Default::default(),
                }),
            ))
            .await
            .expect("submit_sm_resp");
            answers.push(answer);
        }
        let mut statuses = Vec::new();
        for a in answers {
            statuses.push(a.await.expect("deliver_sm answered").pdu.command_status);
        }
        (c, statuses)
    });

    let dir = store_dir();
    let cfg = GatewayConfig::simple(carrier_addr).dlr("match_wait", q("1s"));
    let gw = start_gateway(cfg.build(dir.path())).await;
    let mut esme = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;
    for _ in 0..2 {
        let id = submit_ok(&esme, DEST, b"receipt ahead", true).await;
        expect_receipt(&mut esme, &id).await;
    }
    // The third message's receipt names an id the carrier never gave.
    let third = submit_ok(&esme, DEST, b"receipt for another id", true).await;
    let (carrier_conn, statuses) = carrier.await.expect("carrier task");
    assert_eq!(statuses, vec![CommandStatus::ESME_ROK; 3]);
    let st = gw.stats();
    assert_eq!(st.dlr_delivered, 2, "{st:?}");
    assert_eq!(st.dlr_unmatched, 1, "{st:?}");
    assert!(
        next_deliver(&mut esme, Duration::from_millis(200))
            .await
            .is_none(),
        "no receipt for {third}"
    );
    drop((esme, carrier_conn));
    stop(gw).await;
}
