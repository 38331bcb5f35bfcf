//! The data path end to end: submit → carrier → submit_sm_resp → receipt
//! back to the ESME with the gateway's id; submit_multi, query_sm and
//! cancel_sm; long messages.

mod common;

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use common::*;
use telegate::sim::{address, BindType, IdFormat};
use telegate::smpp_codec::pdu::{CancelSm, DestAddress, QuerySm, SubmitMulti, SubmitSm};
use telegate::smpp_codec::receipt::{MessageState, Receipt};
use telegate::smpp_codec::tlv::TlvList;
use telegate::smpp_codec::{Body, CommandId, CommandStatus, Tlv};

/// One message and its receipt through a gateway whose carrier spells its
/// ids `resp` in submit_sm_resp and `receipt` in receipts.
async fn roundtrip(resp: IdFormat, receipt: IdFormat) {
    let smsc = start_smsc(|c| {
        c.id_format = resp;
        c.receipt_id_format = receipt;
        c.record_submits = 16;
    })
    .await;
    let dir = store_dir();
    let gw = start_gateway(GatewayConfig::simple(smsc.addr()).build(dir.path())).await;
    let mut esme = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;

    let id = submit_ok(&esme, DEST, b"hello receipt world", true).await;

    // The carrier got the message as sent.
    let subs = smsc.submits();
    assert_eq!(subs.len(), 1, "carrier submits");
    assert_eq!(&subs[0].submit.dest.addr[..], b"491511234567");
    assert_eq!(&subs[0].submit.short_message[..], b"hello receipt world");
    assert_eq!(subs[0].submit.registered_delivery, 1);
    // The ESME never sees the carrier's id.
    let carrier_id = resp.format(subs[0].message_id);
    assert_ne!(carrier_id, id);

    let sm = expect_receipt(&mut esme, &id).await;
    // Only the id is rewritten: the rest of the receipt is the carrier's.
    let r = Receipt::parse(&sm.short_message).expect("receipt text parses");
    assert_eq!(
        r.stat.as_ref().map(|s| s.word().to_owned()).as_deref(),
        Some("DELIVRD")
    );
    assert_eq!(r.text.as_deref(), Some(&b"hello receipt world"[..]));
    assert_eq!(sm.tlvs.message_state(), Some(MessageState::DELIVERED.0));
    assert_eq!(
        &sm.dest.addr[..],
        b"447700900001",
        "receipt goes to the sender"
    );

    assert!(
        eventually(WAIT, || gw.stats().dlr_delivered >= 1).await,
        "dlr_delivered: {:?}",
        gw.stats()
    );
    let st = gw.stats();
    assert_eq!(st.submitted, 1);
    assert_eq!(st.dlr_unmatched, 0);
    drop(esme);
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_carries_gateway_id_hex_carrier() {
    roundtrip(IdFormat::Hex, IdFormat::Hex).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_carries_gateway_id_decimal_carrier() {
    roundtrip(IdFormat::Decimal, IdFormat::Decimal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_matched_across_id_radix() {
    // Decimal in submit_sm_resp, uppercase hex in the receipt: a
    // combination real carriers produce.
    roundtrip(IdFormat::Decimal, IdFormat::HexUpper).await;
}

/// Receipts sent by the carrier ahead of their own submit_sm_resp on the
/// same bind, the response `lead` after each (zero: in the same write):
/// every one reaches the ESME with the gateway's id. Returns how many
/// were parked to wait for their mapping.
async fn receipts_ahead_of_their_responses(lead: std::time::Duration) -> u64 {
    let smsc = start_smsc(|c| {
        c.receipt_first = true;
        c.receipt_lead = lead;
    })
    .await;
    let dir = store_dir();
    let gw = start_gateway(GatewayConfig::simple(smsc.addr()).build(dir.path())).await;
    let mut esme = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;
    let mut ids = Vec::new();
    for i in 0..EARLY {
        ids.push(submit_ok(&esme, DEST, format!("early {i}").as_bytes(), true).await);
    }
    for id in &ids {
        let sm = expect_receipt(&mut esme, id).await;
        let r = Receipt::parse(&sm.short_message).expect("receipt text parses");
        assert_eq!(std::str::from_utf8(&r.id).unwrap(), id.as_str());
    }
    assert!(
        eventually(WAIT, || gw.stats().dlr_delivered >= EARLY).await,
        "{:?}",
        gw.stats()
    );
    let st = gw.stats();
    assert_eq!(st.dlr_unmatched, 0, "{st:?}");
    assert_eq!(smsc.stats().receipts_sent, EARLY);
    drop(esme);
    stop(gw).await;
    st.dlr_parked
}

const EARLY: u64 = 20;

/// A receipt that overtakes its own submit_sm_resp (the response comes
/// 100 ms later) finds no mapping: it is parked, answered when the
/// response puts the mapping in place, and reaches the ESME like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_ahead_of_its_response_waits_for_the_mapping() {
    let parked = receipts_ahead_of_their_responses(std::time::Duration::from_millis(100)).await;
    assert_eq!(parked, EARLY, "every receipt came ahead");
}

/// A receipt read together with its own submit_sm_resp, ahead of it (the
/// carrier sends both in one write): looked up again at the end of the
/// read, it finds the mapping the response put in place and is delivered
/// without being parked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_ahead_of_its_response_in_one_read_is_not_parked() {
    assert_eq!(
        receipts_ahead_of_their_responses(std::time::Duration::ZERO).await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_sm_is_forwarded() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let gw = start_gateway(GatewayConfig::simple(smsc.addr()).build(dir.path())).await;
    let esme = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    let ds = telegate::smpp_codec::pdu::DataSm {
        source: address(SOURCE),
        dest: address(DEST),
        tlvs: vec![Tlv::MessagePayload(Bytes::from_static(b"data sm payload"))],
        ..Default::default()
    };
    let resp = esme
        .request(Body::DataSm(Box::new(ds)))
        .await
        .expect("data_sm answered");
    assert_eq!(resp.command_id(), CommandId::DATA_SM_RESP);
    assert_gateway_id(&message_id(&resp));
    assert!(eventually(WAIT, || smsc.stats().accepted == 1).await);
    drop(esme);
    stop(gw).await;
}

fn multi(dests: &[&str], receipt: bool) -> Body {
    Body::SubmitMulti(Box::new(SubmitMulti {
        source: address(SOURCE),
        dests: dests.iter().map(|d| DestAddress::Sme(address(d))).collect(),
        registered_delivery: u8::from(receipt),
        short_message: Bytes::from_static(b"to many"),
        ..SubmitMulti::default()
    }))
}

fn query(id: &str) -> Body {
    Body::QuerySm(Box::new(QuerySm {
        message_id: Bytes::copy_from_slice(id.as_bytes()),
        source: address(SOURCE),
    }))
}

fn cancel(id: &str) -> Body {
    Body::CancelSm(Box::new(CancelSm {
        message_id: Bytes::copy_from_slice(id.as_bytes()),
        source: address(SOURCE),
        dest: address(DEST),
        ..CancelSm::default()
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_multi_query_and_cancel() {
    let smsc = start_smsc(|c| c.record_submits = 16).await;
    let dir = store_dir();
    let cfg = GatewayConfig::new()
        .account("esme1", &[])
        .account("esme2", &[])
        .carrier("c1", &smsc.addr().to_string(), &[])
        // Only +49 is routed.
        .route("49", &["c1"])
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    let mut esme = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;
    let other = bind(esme_addr(&gw), BindType::Transceiver, "esme2").await;

    // submit_multi: the unroutable destination is listed in unsuccess_sme,
    // the other two go out.
    let resp = esme
        .request(multi(
            &["+491511000001", "+33612345678", "+491511000002"],
            false,
        ))
        .await
        .expect("submit_multi answered");
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK, "{resp:?}");
    let Body::SubmitMultiResp(r) = &resp.body else {
        panic!("not a submit_multi_resp: {resp:?}");
    };
    assert_gateway_id(std::str::from_utf8(&r.message_id).expect("ascii"));
    assert_eq!(r.unsuccess.len(), 1, "unsuccess_sme: {:?}", r.unsuccess);
    assert_eq!(&r.unsuccess[0].address.addr[..], b"33612345678");
    assert!(!r.unsuccess[0].error_status_code.is_ok());
    assert!(eventually(WAIT, || smsc.stats().accepted == 2).await);
    let mut dests: Vec<Bytes> = smsc
        .submits()
        .iter()
        .map(|s| s.submit.dest.addr.clone())
        .collect();
    dests.sort();
    assert_eq!(
        dests,
        vec![
            Bytes::from_static(b"491511000001"),
            Bytes::from_static(b"491511000002")
        ]
    );

    // Every destination unroutable: the whole submit_multi fails.
    let resp = esme
        .request(multi(&["+33612345678", "+33612345679"], false))
        .await
        .expect("submit_multi answered");
    assert_eq!(resp.command_id(), CommandId::SUBMIT_MULTI_RESP);
    assert!(!resp.command_status.is_ok(), "{resp:?}");

    // query_sm: a message with no receipt yet is en route…
    let pending = submit_ok(&esme, DEST, b"no receipt", false).await;
    let resp = esme.request(query(&pending)).await.expect("query answered");
    assert_eq!(
        status_of(&resp, CommandId::QUERY_SM_RESP),
        CommandStatus::ESME_ROK
    );
    let Body::QuerySmResp(q) = &resp.body else {
        panic!("not a query_sm_resp: {resp:?}");
    };
    assert_eq!(&q.message_id[..], pending.as_bytes());
    assert_eq!(q.message_state, MessageState::ENROUTE.0);

    // …and one whose receipt came back is delivered.
    let done = submit_ok(&esme, DEST, b"with receipt", true).await;
    expect_receipt(&mut esme, &done).await;
    let resp = esme.request(query(&done)).await.expect("query answered");
    let Body::QuerySmResp(q) = &resp.body else {
        panic!("not a query_sm_resp: {resp:?}");
    };
    assert_eq!(q.message_state, MessageState::DELIVERED.0);

    // Unknown ids, and another account's id, are ESME_RINVMSGID.
    for bad in ["0123456789abcdef", "not-an-id"] {
        let resp = esme.request(query(bad)).await.expect("query answered");
        assert_eq!(
            status_of(&resp, CommandId::QUERY_SM_RESP),
            CommandStatus::ESME_RINVMSGID
        );
    }
    let resp = other
        .request(query(&pending))
        .await
        .expect("query answered");
    assert_eq!(
        status_of(&resp, CommandId::QUERY_SM_RESP),
        CommandStatus::ESME_RINVMSGID
    );

    // cancel_sm: unknown ids are answered by the gateway; a known one goes
    // to the carrier, whose answer (whatever it is) comes back.
    let resp = esme
        .request(cancel("0123456789abcdef"))
        .await
        .expect("cancel answered");
    assert_eq!(
        status_of(&resp, CommandId::CANCEL_SM_RESP),
        CommandStatus::ESME_RINVMSGID
    );
    let resp = other
        .request(cancel(&pending))
        .await
        .expect("cancel answered");
    assert_eq!(
        status_of(&resp, CommandId::CANCEL_SM_RESP),
        CommandStatus::ESME_RINVMSGID
    );
    let resp = esme
        .request(cancel(&pending))
        .await
        .expect("cancel answered");
    let st = status_of(&resp, CommandId::CANCEL_SM_RESP);
    assert_ne!(
        st,
        CommandStatus::ESME_RINVMSGID,
        "cancel_sm of a known message was not forwarded"
    );

    drop((esme, other));
    stop(gw).await;
}

/// A UDH-concatenated segment (8-bit reference).
fn udh_segment(reference: u8, total: u8, seq: u8, text: &[u8]) -> SubmitSm {
    let mut sm = telegate::sim::submit_sm(SOURCE, DEST, b"", true);
    let mut body = vec![0x05, 0x00, 0x03, reference, total, seq];
    body.extend_from_slice(text);
    sm.esm_class = 0x40;
    sm.short_message = Bytes::from(body);
    sm
}

/// A SAR-concatenated segment.
fn sar_segment(reference: u16, total: u8, seq: u8, text: &[u8]) -> SubmitSm {
    let mut sm = telegate::sim::submit_sm(SOURCE, DEST, text, true);
    sm.tlvs = vec![
        Tlv::SarMsgRefNum(reference),
        Tlv::SarTotalSegments(total),
        Tlv::SarSegmentSeqnum(seq),
    ];
    sm
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_message_segments_stay_together() {
    let a = start_smsc(|c| c.record_submits = 256).await;
    let b = start_smsc(|c| c.record_submits = 256).await;
    let dir = store_dir();
    let cfg = GatewayConfig::new()
        .account("esme1", &[])
        .carrier("c1", &a.addr().to_string(), &[])
        .carrier("c2", &b.addr().to_string(), &[])
        .route_with(&[("prefix", &q("")), ("weights", "{ c1 = 50, c2 = 50 }")])
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    let esme = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;

    // 12 messages of 3 segments: 8 with UDH, 4 with SAR TLVs.
    let mut sent: Vec<(String, SubmitSm)> = Vec::new();
    let mut ids = HashSet::new();
    for m in 0..12u8 {
        for seg in 1..=3u8 {
            let text = format!("msg {m} part {seg} of a long text");
            let sm = if m < 8 {
                udh_segment(100 + m, 3, seg, text.as_bytes())
            } else {
                sar_segment(5000 + u16::from(m), 3, seg, text.as_bytes())
            };
            let resp = esme
                .request(Body::SubmitSm(Box::new(sm.clone())))
                .await
                .expect("segment answered");
            let id = message_id(&resp);
            assert_gateway_id(&id);
            assert!(ids.insert(id.clone()), "segment id {id} given twice");
            sent.push((id, sm));
        }
    }

    // Which carrier got each segment, by its (unchanged) content.
    let mut carrier_of: HashMap<Vec<u8>, &str> = HashMap::new();
    for (name, h) in [("c1", &a), ("c2", &b)] {
        for r in h.submits() {
            let key = [&r.submit.short_message[..], &tlv_key(&r.submit)[..]].concat();
            assert!(
                carrier_of.insert(key, name).is_none(),
                "a segment went out twice"
            );
        }
    }
    assert_eq!(carrier_of.len(), 36, "every segment reached a carrier");
    let mut per_message: HashMap<usize, HashSet<&str>> = HashMap::new();
    for (i, (_, sm)) in sent.iter().enumerate() {
        let key = [&sm.short_message[..], &tlv_key(sm)[..]].concat();
        let c = carrier_of
            .get(&key)
            .unwrap_or_else(|| panic!("segment {i} arrived changed or not at all"));
        per_message.entry(i / 3).or_default().insert(c);
    }
    for (m, cs) in &per_message {
        assert_eq!(cs.len(), 1, "segments of message {m} went to {cs:?}");
    }
    // The UDH segments kept their esm_class (UDHI) at the carrier.
    for h in [&a, &b] {
        for r in h.submits() {
            if r.submit.tlvs.sar().is_none() {
                assert_eq!(r.submit.esm_class & 0x40, 0x40);
            }
        }
    }
    drop(esme);
    stop(gw).await;
}

/// The SAR TLVs of a segment as bytes, to tell segments apart.
fn tlv_key(sm: &SubmitSm) -> Vec<u8> {
    match sm.tlvs.sar() {
        Some((r, t, s)) => {
            let mut v = r.to_be_bytes().to_vec();
            v.extend([t, s]);
            v
        }
        None => Vec::new(),
    }
}

/// One ESME session's submits leave on one carrier bind while it has room
/// (what one read brings in goes out in one write), and sessions are
/// spread over the binds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_keeps_to_one_carrier_bind() {
    let smsc = start_smsc(|c| c.record_submits = 256).await;
    let dir = store_dir();
    let cfg = GatewayConfig::new()
        .account("esme1", &[("max_binds", "8")])
        .carrier("c1", &smsc.addr().to_string(), &[("binds", "3")])
        .route("", &["c1"])
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    assert!(
        eventually(WAIT, || gw.carrier_binds_up("c1") == 3).await,
        "binds: {:?}",
        gw.carrier_bind_states()
    );
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(bind(esme_addr(&gw), BindType::Transmitter, "esme1").await);
    }
    for round in 0..10 {
        for (s, esme) in sessions.iter().enumerate() {
            let text = format!("session {s} message {round}");
            submit_ok(esme, "+491511000001", text.as_bytes(), false).await;
        }
    }
    let mut binds_of: HashMap<usize, HashSet<u64>> = HashMap::new();
    let subs = smsc.submits();
    assert_eq!(subs.len(), 30);
    for r in &subs {
        let text = std::str::from_utf8(&r.submit.short_message).expect("ascii");
        let s: usize = text
            .strip_prefix("session ")
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("session number");
        binds_of.entry(s).or_default().insert(r.connection);
    }
    for (s, binds) in &binds_of {
        assert_eq!(binds.len(), 1, "session {s} used carrier binds {binds:?}");
    }
    let used: HashSet<u64> = binds_of.values().flatten().copied().collect();
    assert_eq!(used.len(), 3, "sessions share binds: {binds_of:?}");
}
