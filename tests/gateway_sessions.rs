//! ESME sessions: binds and their errors, the session state machine,
//! per-account and per-session throttling, and malformed PDUs.

mod common;

use common::*;
use telegate::sim::{BindType, Client, ClientError, Mode};
use telegate::smpp_codec::{Body, CommandId, CommandStatus, Pdu};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_errors_and_session_states() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::simple(smsc.addr())
        .account("txonly", &[("bind_types", r#"["tx"]"#)])
        .account("solo", &[("max_binds", "1")])
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    let addr = esme_addr(&gw);

    // Before any bind: enquire_link is answered, a submit is refused.
    let c = connect(addr).await;
    let r = c.enquire_link().await.expect("enquire_link answered");
    assert_eq!(r.command_id(), CommandId::ENQUIRE_LINK_RESP);
    assert_eq!(r.command_status, CommandStatus::ESME_ROK);
    let r = submit(&c, DEST, b"too early", false).await;
    assert_eq!(
        status_of(&r, CommandId::SUBMIT_SM_RESP),
        CommandStatus::ESME_RINVBNDSTS
    );

    // Wrong credentials; the session stays usable for another try.
    let st = c
        .bind(BindType::Transceiver, "nosuch", PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_RINVSYSID);
    let st = c
        .bind(BindType::Transceiver, "esme1", "wrong")
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_RINVPASWD);
    let st = c
        .bind(BindType::Transceiver, "esme1", PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_ROK);
    assert!(gw.stats().auth_failures >= 2, "{:?}", gw.stats());

    // A second bind on a bound session.
    let st = c
        .bind(BindType::Transmitter, "esme1", PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_RALYBND);
    // enquire_link works bound too, and so does submitting.
    c.enquire_link().await.expect("enquire_link answered");
    submit_ok(&c, DEST, b"bound now", false).await;

    // Bind types: a tx-only account cannot bind as receiver or transceiver.
    for kind in [BindType::Receiver, BindType::Transceiver] {
        let c = connect(addr).await;
        let st = c
            .bind(kind, "txonly", PASSWORD)
            .await
            .expect("bind answered");
        assert!(!st.is_ok(), "{kind:?} bind of a tx-only account accepted");
    }
    let tx = bind(addr, BindType::Transmitter, "txonly").await;
    submit_ok(&tx, DEST, b"tx only", false).await;

    // A receiver cannot submit.
    let rx = bind(addr, BindType::Receiver, "esme1").await;
    let r = submit(&rx, DEST, b"from rx", false).await;
    assert_eq!(
        status_of(&r, CommandId::SUBMIT_SM_RESP),
        CommandStatus::ESME_RINVBNDSTS
    );

    // max_binds = 1: a second simultaneous bind is refused.
    let _solo = bind(addr, BindType::Transceiver, "solo").await;
    let c2 = connect(addr).await;
    let st = c2
        .bind(BindType::Transceiver, "solo", PASSWORD)
        .await
        .expect("bind answered");
    assert!(!st.is_ok(), "bind beyond max_binds accepted");

    // Unbind from the ESME side.
    let r = c.unbind().await.expect("unbind answered");
    assert_eq!(r.command_id(), CommandId::UNBIND_RESP);
    drop((c, tx, rx, c2, _solo));
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_lockout_after_repeated_failures() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::simple(smsc.addr())
        .server("auth_max_failures", "3")
        .server("auth_failure_window", q("60s"))
        .server("auth_lockout", q("60s"))
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    let addr = esme_addr(&gw);
    let c = connect(addr).await;
    for _ in 0..3 {
        let st = c
            .bind(BindType::Transceiver, "esme1", "wrong")
            .await
            .expect("bind answered");
        assert_eq!(st, CommandStatus::ESME_RINVPASWD);
    }
    // Locked out now, even with the right password, on any connection.
    let mut c2 = connect(addr).await;
    let st = c2
        .bind(BindType::Transceiver, "esme1", PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_RBINDFAIL);
    c2.wait_closed(WAIT)
        .await
        .expect("a locked-out connection is closed");
    drop(c);
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_throughput_throttles() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::new()
        .account("esme1", &[("throughput", "5")])
        .carrier("c1", &smsc.addr().to_string(), &[])
        .route("", &["c1"])
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    let esme = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;

    // A burst of 30 pipelined submits against 5 msg/s.
    let mut pending = Vec::new();
    for i in 0..30 {
        let body = submit_body(DEST, format!("burst {i}").as_bytes(), false);
        pending.push(esme.send_request(body).await.expect("sent"));
    }
    let (mut ok, mut throttled) = (0, 0);
    for p in pending {
        let r = tokio::time::timeout(WAIT, p)
            .await
            .expect("answered in time")
            .expect("answered");
        match status_of(&r.pdu, CommandId::SUBMIT_SM_RESP) {
            CommandStatus::ESME_ROK => ok += 1,
            CommandStatus::ESME_RTHROTTLED => throttled += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(ok >= 1, "nothing got through");
    assert!(throttled >= 1, "no submit throttled ({ok} accepted)");
    // Counted as the responses go out.
    assert!(eventually(WAIT, || gw.stats().throttled_account == throttled).await);
    assert_eq!(smsc.stats().accepted, ok);
    drop(esme);
    stop(gw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_window_throttles() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::new()
        .account("esme1", &[("window", "2")])
        .carrier("c1", &smsc.addr().to_string(), &[])
        .route("", &["c1"])
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    let esme = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    // The carrier hangs: the first two submits stay outstanding.
    let [p1, p2] = two_outstanding_at_stalled_carrier(&esme, &smsc).await;
    let r3 = submit(&esme, DEST, b"three", false).await;
    assert_eq!(
        status_of(&r3, CommandId::SUBMIT_SM_RESP),
        CommandStatus::ESME_RTHROTTLED
    );
    assert!(eventually(WAIT, || gw.stats().throttled_window == 1).await);
    // The outstanding two are answered (with an error) by the deadline.
    for p in [p1, p2] {
        let r = tokio::time::timeout(WAIT, p)
            .await
            .expect("answered in time")
            .expect("answered");
        assert!(
            !r.pdu.command_status.is_ok(),
            "accepted by a stalled carrier"
        );
    }
    // With the window free again and the carrier back, submits go through.
    smsc.set_mode(Mode::Accept);
    let r = submit(&esme, DEST, b"four", false).await;
    assert_eq!(
        status_of(&r, CommandId::SUBMIT_SM_RESP),
        CommandStatus::ESME_ROK,
        "{r:?}"
    );
    drop(esme);
    stop(gw).await;
}

/// A valid submit_sm body with `source` as written (no length check).
fn submit_body_raw(source: &[u8], tlvs: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.push(0); // service_type ""
    b.extend([1, 1]);
    b.extend_from_slice(source);
    b.push(0);
    b.extend([1, 1]);
    b.extend_from_slice(b"491511234567\0");
    b.extend([0, 0, 0]); // esm_class, protocol_id, priority_flag
    b.extend([0, 0]); // schedule_delivery_time, validity_period
    b.extend([0, 0, 0, 0]); // registered_delivery .. sm_default_msg_id
    b.push(5);
    b.extend_from_slice(b"hello");
    b.extend_from_slice(tlvs);
    b
}

const SUBMIT_SM: u32 = 0x0000_0004;

/// Sends raw bytes and returns the gateway's next unmatched PDU.
async fn raw_answer(c: &mut Client, bytes: Vec<u8>) -> Pdu {
    c.send_raw(bytes).await.expect("sent");
    c.next_pdu(WAIT).await.expect("an answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_pdus_get_the_right_nack() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let gw = start_gateway(GatewayConfig::simple(smsc.addr()).build(dir.path())).await;
    let addr = esme_addr(&gw);
    let mut a = bind(addr, BindType::Transceiver, "esme1").await;
    let b = bind(addr, BindType::Transceiver, "esme1").await;

    // Sanity: the raw submit_sm is well formed.
    let r = raw_answer(
        &mut a,
        raw_pdu(SUBMIT_SM, 9000, &submit_body_raw(b"447700900001", &[])),
    )
    .await;
    assert_eq!(r.sequence_number, 9000);
    assert_eq!(
        status_of(&r, CommandId::SUBMIT_SM_RESP),
        CommandStatus::ESME_ROK
    );

    // Unknown command_id.
    let r = raw_answer(&mut a, raw_pdu(0x0000_0077, 9001, &[])).await;
    assert_eq!(r.sequence_number, 9001);
    assert_eq!(
        status_of(&r, CommandId::GENERIC_NACK),
        CommandStatus::ESME_RINVCMDID
    );
    still_works(&a, &b).await;

    // A TLV whose length runs past the end of the PDU.
    let tlv = [0x02, 0x04, 0x00, 0x02, 0x01]; // user_message_reference, 1 of 2 octets
    let r = raw_answer(
        &mut a,
        raw_pdu(SUBMIT_SM, 9002, &submit_body_raw(b"447700900001", &tlv)),
    )
    .await;
    assert_eq!(r.sequence_number, 9002);
    assert_eq!(
        status_of(&r, CommandId::SUBMIT_SM_RESP),
        CommandStatus::ESME_RINVTLVSTREAM
    );
    still_works(&a, &b).await;

    // A source_addr longer than its 21 octets.
    let long = b"123456789012345678901234567890";
    let r = raw_answer(
        &mut a,
        raw_pdu(SUBMIT_SM, 9003, &submit_body_raw(long, &[])),
    )
    .await;
    assert_eq!(r.sequence_number, 9003);
    assert_eq!(
        status_of(&r, CommandId::SUBMIT_SM_RESP),
        CommandStatus::ESME_RINVSRCADR
    );
    still_works(&a, &b).await;
    assert_eq!(
        smsc.stats().accepted,
        7,
        "only the good submits reached the carrier"
    );

    // A bad command_length: nack, then the session is closed…
    for bad_len in [8u32, 0x7FFF_FFFF] {
        let mut c = bind(addr, BindType::Transceiver, "esme1").await;
        let mut frame = raw_pdu(SUBMIT_SM, 9004, &[]);
        frame[..4].copy_from_slice(&bad_len.to_be_bytes());
        let r = raw_answer(&mut c, frame).await;
        assert_eq!(
            status_of(&r, CommandId::GENERIC_NACK),
            CommandStatus::ESME_RINVCMDLEN
        );
        c.wait_closed(WAIT)
            .await
            .expect("session closed after a bad command_length");
        // …and the other sessions go on.
        still_works(&a, &b).await;
    }
    drop((a, b));
    stop(gw).await;
}

/// Both sessions still submit.
async fn still_works(a: &Client, b: &Client) {
    submit_ok(a, DEST, b"still here", false).await;
    submit_ok(b, DEST, b"me too", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_unbinds_idle_session() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::simple(smsc.addr())
        .server("inactivity_timeout", q("2s"))
        .server("enquire_link_interval", q("500ms"))
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    // A first bind puts the password check in the gateway's cache: the
    // argon2 run (slow in debug builds, slower on a busy machine) would
    // otherwise count as idle time of the session under test.
    let warm = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    drop(warm);
    let mut c = Client::connect_with(
        esme_addr(&gw),
        telegate::sim::ClientOptions {
            auto_enquire_link_resp: false,
            ..client_opts()
        },
    )
    .await
    .expect("connects");
    let st = c
        .bind(BindType::Transceiver, "esme1", PASSWORD)
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_ROK);
    // Say nothing: the gateway probes, then gives up on the session.
    let mut saw_enquire = false;
    loop {
        match c.next_pdu(WAIT).await {
            Ok(p) if p.command_id() == CommandId::ENQUIRE_LINK => saw_enquire = true,
            Ok(p) if p.command_id() == CommandId::UNBIND => {
                c.send(&Pdu::new(p.sequence_number, Body::UnbindResp))
                    .await
                    .expect("sent");
            }
            Ok(_) => {}
            Err(ClientError::Closed) => break,
            Err(e) => panic!("idle session not closed: {e}"),
        }
    }
    assert!(saw_enquire, "no enquire_link to an idle session");
    stop(gw).await;
}
