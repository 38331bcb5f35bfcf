//! The content filter in the data path, over real binds: spam is rejected
//! with the configured status and never reaches the carrier, ham passes,
//! a keyword split over three segments is caught and none of the segments
//! is forwarded, a homoglyph variant is caught, a campaign to 500
//! recipients is flagged, and an account that keeps sending spam is
//! suspended (binds closed, new binds refused, a webhook notice), its
//! evidence can be reviewed and reinstatement lets it bind again.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use telegate::sim::{BindType, Client};
use telegate::smpp_codec::{Body, CommandId, CommandStatus, Pdu};

/// A rules file with fixed scores, and the classifier off: verdicts here
/// do not move when the shipped model is retrained.
const RULES: &str = r#"
[[keyword]]
id = "test.payload"
score = 1.0
phrases = ["forbidden payload", "claim your prize"]

[[keyword]]
id = "test.half"
score = 0.5
phrases = ["half bad"]
"#;

fn rules_file(dir: &std::path::Path) -> String {
    let p = dir.join("rules.toml");
    std::fs::write(&p, RULES).unwrap();
    q(&p.display().to_string())
}

/// esme1 → c1, with the filter on the test rules.
fn filtered(carrier: std::net::SocketAddr, dir: &std::path::Path) -> GatewayConfig {
    GatewayConfig::simple(carrier)
        .filter("rules", rules_file(dir))
        .filter("classifier", "false")
}

fn recording() -> impl FnOnce(&mut telegate::sim::SmscConfig) {
    |c| c.record_submits = 10_000
}

/// One UDH segment (8-bit reference) of a GSM 7-bit text.
fn segment(to: &str, reference: u8, total: u8, seq: u8, text: &str) -> Body {
    let mut sm = telegate::sim::submit_sm(SOURCE, to, b"", false);
    let mut ud = vec![5, 0, 3, reference, total, seq];
    ud.extend_from_slice(text.as_bytes());
    sm.esm_class = 0x40;
    sm.short_message = Bytes::from(ud);
    Body::SubmitSm(Box::new(sm))
}

fn ucs2(text: &str) -> Body {
    let mut sm = telegate::sim::submit_sm(SOURCE, "447700900123", b"", false);
    sm.data_coding = 8;
    sm.short_message = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    Body::SubmitSm(Box::new(sm))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spam_is_rejected_with_the_configured_status_and_ham_passes() {
    let smsc = start_smsc(recording()).await;
    let dir = store_dir();
    let cfg = filtered(smsc.addr(), dir.path())
        .filter("block_status", "0x58")
        .build(&dir.path().join("dlr"));
    let gw = start_gateway(cfg).await;
    let c = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;

    let p = submit(&c, "447700900001", b"Quick! Claim your PRIZE today", false).await;
    assert_eq!(
        status_of(&p, CommandId::SUBMIT_SM_RESP),
        CommandStatus(0x58)
    );
    // A homoglyph variant (Cyrillic а, і, е) with a zero-width space, in
    // UCS-2 as a handset would need it.
    let p = c
        .request(ucs2("Clаіm your\u{200B} prіzе now"))
        .await
        .unwrap();
    assert_eq!(
        status_of(&p, CommandId::SUBMIT_SM_RESP),
        CommandStatus(0x58)
    );
    // Greek and Cyrillic capitals.
    let p = c.request(ucs2("CLΑIM YΟUR PRΙΖE")).await.unwrap();
    assert_eq!(
        status_of(&p, CommandId::SUBMIT_SM_RESP),
        CommandStatus(0x58)
    );
    // Half a reason is a flag: forwarded.
    let flagged = submit_ok(&c, "447700900003", b"this is half bad at most", false).await;
    let ham = submit_ok(&c, "447700900004", b"Your code is 482913", false).await;
    assert_ne!(flagged, ham);
    assert!(
        eventually(WAIT, || smsc.submits().len() == 2).await,
        "{:?}",
        smsc.submits().len()
    );
    let texts: Vec<Vec<u8>> = smsc
        .submits()
        .iter()
        .map(|s| s.submit.short_message.to_vec())
        .collect();
    assert!(texts.iter().all(|t| !t.windows(5).any(|w| w == b"PRIZE")));
    // The verdicts are counted.
    let m = telegate::metrics::render();
    assert!(
        m.contains("telegate_filter_rule_hits_total{rule=\"test.payload\"}"),
        "{m}"
    );
    c.unbind().await.unwrap();
    stop(gw).await;
    smsc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submits_of_two_busy_sessions_each_pass_the_filter_once() {
    // Two sessions of one account, each with 50 submits in flight
    // through the filter at once: every submit is answered once, with an
    // id of its own, and reaches the carrier once.
    let smsc = start_smsc(recording()).await;
    let dir = store_dir();
    let cfg = filtered(smsc.addr(), dir.path()).build(&dir.path().join("dlr"));
    let gw = start_gateway(cfg).await;
    let a = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;
    let b = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;
    let msgs = |who: &'static str| {
        (0..300u32).map(move |i| {
            let text = format!("Meeting notes {who} {i:03}: see you at the office");
            telegate::sim::submit_sm(SOURCE, &format!("4477009{i:05}"), text.as_bytes(), false)
        })
    };
    let (ra, rb) = tokio::join!(a.submit_many(msgs("A"), 50), b.submit_many(msgs("B"), 50));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!((ra.len(), rb.len()), (300, 300));
    let mut ids = std::collections::HashSet::new();
    for r in ra.iter().chain(&rb) {
        assert!(r.pdu.command_status.is_ok(), "{:?}", r.pdu.command_status);
        let Body::SubmitSmResp(resp) = &r.pdu.body else {
            panic!("{:?}", r.pdu.body);
        };
        assert!(ids.insert(resp.message_id.clone()), "id given twice");
    }
    assert!(eventually(WAIT, || smsc.submits().len() == 600).await);
    let texts: std::collections::HashSet<Vec<u8>> = smsc
        .submits()
        .iter()
        .map(|s| s.submit.short_message.to_vec())
        .collect();
    assert_eq!(texts.len(), 600, "a submit reached the carrier twice");
    a.unbind().await.unwrap();
    b.unbind().await.unwrap();
    stop(gw).await;
    smsc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyword_split_over_three_segments_blocks_every_segment() {
    let smsc = start_smsc(recording()).await;
    let dir = store_dir();
    let cfg = filtered(smsc.addr(), dir.path()).build(&dir.path().join("dlr"));
    let gw = start_gateway(cfg).await;
    let c = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;

    // "forbidden payload" cut inside both words, sent out of order.
    let parts = [
        (1, "Here is the forbi"),
        (3, "load you asked for"),
        (2, "dden pay"),
    ];
    let mut pending = Vec::new();
    for (seq, text) in parts {
        pending.push(
            c.send_request(segment("447700900009", 0x2A, 3, seq, text))
                .await
                .unwrap(),
        );
    }
    for p in pending {
        let r = p.await.unwrap();
        assert_eq!(r.pdu.command_status, CommandStatus::ESME_RSUBMITFAIL);
    }

    // A clean set of three passes whole; an unrelated message sent while
    // the set is incomplete is not held behind it.
    let a = c
        .send_request(segment("447700900010", 7, 3, 1, "Your order "))
        .await
        .unwrap();
    let lone = submit_ok(&c, "447700900011", b"unrelated", false).await;
    assert!(!lone.is_empty());
    let b = c
        .send_request(segment("447700900010", 7, 3, 2, "has shipped and "))
        .await
        .unwrap();
    let d = c
        .send_request(segment("447700900010", 7, 3, 3, "arrives Tuesday"))
        .await
        .unwrap();
    for p in [a, b, d] {
        let r = p.await.unwrap();
        assert_eq!(r.pdu.command_status, CommandStatus::ESME_ROK);
    }
    assert!(eventually(WAIT, || smsc.submits().len() == 4).await);
    let forwarded: Vec<String> = smsc
        .submits()
        .iter()
        .map(|s| String::from_utf8_lossy(&s.submit.short_message).into_owned())
        .collect();
    assert!(
        forwarded
            .iter()
            .all(|t| !t.contains("forbi") && !t.contains("dden")),
        "{forwarded:?}"
    );

    // An incomplete set is judged on what arrived once it times out.
    let start = std::time::Instant::now();
    let p = c
        .request(segment("447700900012", 9, 2, 1, "claim your prize"))
        .await
        .unwrap();
    assert_eq!(p.command_status, CommandStatus::ESME_RSUBMITFAIL);
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "answered before the timeout"
    );
    c.unbind().await.unwrap();
    stop(gw).await;
    smsc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_filter_blocks_real_spam_and_passes_business_traffic() {
    let smsc = start_smsc(recording()).await;
    let dir = store_dir();
    let cfg = GatewayConfig::simple(smsc.addr())
        .filter("enabled", "true")
        .build(&dir.path().join("dlr"));
    let gw = start_gateway(cfg).await;
    let c = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;
    for spam in [
        "URGENT! You have won a 1 week FREE membership in our £100,000 Prize Jackpot! Txt the word: CLAIM to No: 81010 T&C www.dbuk.net LCCLTD POBOX 4403LDNW1A7RW18",
        "WINNER!! As a valued network customer you have been selected to receivea £900 prize reward! To claim call 09061701461. Claim code KL341. Valid 12 hours only.",
    ] {
        let p = submit(&c, "447700900020", spam.as_bytes(), false).await;
        assert_eq!(
            status_of(&p, CommandId::SUBMIT_SM_RESP),
            CommandStatus::ESME_RSUBMITFAIL,
            "{spam}"
        );
    }
    for ham in [
        "Your verification code is 482913. It expires in 10 minutes. Do not share it.",
        "Your parcel will be delivered tomorrow between 9am and 1pm.",
        "Reminder: dentist appointment on Tue 14 May at 10:30. Reply C to cancel.",
        "HSBC: a payment of £25.00 to ACME LTD was made from your account ending 1234.",
        "Hi, are we still on for lunch tomorrow?",
    ] {
        submit_ok(&c, "447700900021", ham.as_bytes(), false).await;
    }
    c.unbind().await.unwrap();
    stop(gw).await;
    smsc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_to_500_recipients_is_flagged_and_still_delivered() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = filtered(smsc.addr(), dir.path())
        .filter("campaign_recipients", "300")
        .build(&dir.path().join("dlr"));
    let gw = start_gateway(cfg).await;
    let c = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;
    let before = rule_hits("velocity.campaign");
    let msgs = (0..500u32).map(|i| {
        let text = format!(
            "Hi {}, your account {} has a new statement ready. View it at example.com/s/{}",
            ["Ann", "Bob", "Cy", "Di"][i as usize % 4],
            10_000 + i * 13,
            i
        );
        telegate::sim::submit_sm(SOURCE, &format!("4477009{i:05}"), text.as_bytes(), false)
    });
    let resps = c.submit_many(msgs, 32).await.unwrap();
    assert_eq!(resps.len(), 500);
    assert!(resps.iter().all(|r| r.pdu.command_status.is_ok()));
    let flagged = rule_hits("velocity.campaign") - before;
    // Flagging starts at 300 distinct recipients: the rest are flagged.
    // The count is an estimate there (standard error about 7), so the
    // first flag may come a little early or late.
    assert!((150..=225).contains(&flagged), "flagged {flagged}");
    c.unbind().await.unwrap();
    stop(gw).await;
    smsc.shutdown().await;
}

fn rule_hits(rule: &str) -> u64 {
    let m = telegate::metrics::render();
    let key = format!("telegate_filter_rule_hits_total{{rule=\"{rule}\"}} ");
    m.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits for the gateway's unbind on `c` and answers it.
async fn expect_unbind(c: &mut Client) {
    loop {
        let p = c
            .next_pdu(WAIT)
            .await
            .unwrap_or_else(|e| panic!("no unbind: {e}"));
        if matches!(p.body, Body::Unbind) {
            c.send(&Pdu::new(p.sequence_number, Body::UnbindResp))
                .await
                .unwrap();
            return;
        }
    }
}

/// A webhook receiver: every request body it gets.
async fn webhook() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            let _ = tx.send(body.to_owned());
                            let _ = s
                                .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                                .await;
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abusive_account_is_suspended_reviewed_and_reinstated() {
    let smsc = start_smsc(recording()).await;
    let dir = store_dir();
    let (url, mut hooks) = webhook().await;
    let cfg = filtered(smsc.addr(), dir.path())
        .account("esme2", &[])
        .suspension("min_blocked", "5")
        .suspension("max_blocked_ratio", "0.5")
        .suspension("window", q("1m"))
        .suspension("webhook", q(&url))
        .build(&dir.path().join("dlr"));
    let gw = start_gateway(cfg.clone()).await;
    let addr = esme_addr(&gw);
    let mut c = bind(addr, BindType::Transceiver, "esme1").await;
    let other = bind(addr, BindType::Transceiver, "esme2").await;

    // Four ham, then spam: the fifth blocked message (5 of 9 ≥ 0.5)
    // suspends.
    for i in 0..4 {
        submit_ok(&c, &format!("44770090010{i}"), b"meeting at noon", false).await;
    }
    for i in 0..5 {
        let p = submit(
            &c,
            &format!("44770090020{i}"),
            b"claim your prize NOW",
            false,
        )
        .await;
        assert_eq!(p.command_status, CommandStatus::ESME_RSUBMITFAIL);
    }
    // The session is unbound, and the notice goes to the webhook.
    expect_unbind(&mut c).await;
    let notice = tokio::time::timeout(WAIT, hooks.recv())
        .await
        .expect("webhook called")
        .unwrap();
    let n: serde_json::Value = serde_json::from_str(&notice).unwrap();
    assert_eq!(n["account"], "esme1");
    assert_eq!(n["blocked"], 5);
    assert!(!notice.contains("prize"), "{notice}");

    // New binds are refused; the other account carries on.
    let again = connect(addr).await;
    assert_eq!(
        again
            .bind(BindType::Transceiver, "esme1", PASSWORD)
            .await
            .unwrap(),
        CommandStatus::ESME_RBINDFAIL
    );
    submit_ok(&other, "447700900300", b"still fine", false).await;

    // A reviewer sees the evidence: normalised text and rules.
    let list = gw.suspensions();
    assert_eq!(list["suspensions"][0]["account"], "esme1");
    let shown = gw.suspension("esme1", "reviewer").unwrap();
    let ev = shown["evidence"].as_array().unwrap();
    assert_eq!(ev.len(), 5);
    assert_eq!(ev[0]["normalized_text"], "claim your prize now");
    assert_eq!(ev[0]["hits"][0][0], "test.payload");

    // A restart keeps the suspension.
    stop(gw).await;
    let gw = start_gateway(cfg).await;
    let addr = esme_addr(&gw);
    let again = connect(addr).await;
    assert_eq!(
        again
            .bind(BindType::Transceiver, "esme1", PASSWORD)
            .await
            .unwrap(),
        CommandStatus::ESME_RBINDFAIL
    );
    assert!(gw.reinstate("nobody", "reviewer", "x").is_err());
    gw.reinstate(
        "esme1",
        "reviewer",
        "false positive: a contest the customer ran",
    )
    .unwrap();
    let c = bind(addr, BindType::Transceiver, "esme1").await;
    submit_ok(&c, "447700900400", b"back again", false).await;
    assert_eq!(gw.suspensions()["suspensions"].as_array().unwrap().len(), 0);

    // Every action is in the audit log, and no text is.
    let audit = std::fs::read_to_string(dir.path().join("review/audit.log")).unwrap();
    for action in ["auto-suspend", "view-evidence", "reinstate"] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
    assert!(!audit.contains("prize"), "{audit}");
    // Reinstatement deletes the evidence.
    let evidence_dir = dir.path().join("review/evidence");
    let left = std::fs::read_dir(&evidence_dir).map_or(0, |d| d.count());
    assert_eq!(left, 0);
    c.unbind().await.unwrap();
    stop(gw).await;
    smsc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_suspension_and_exemptions() {
    let smsc = start_smsc(recording()).await;
    let dir = store_dir();
    let cfg = filtered(smsc.addr(), dir.path())
        .account("bank", &[("filter_exempt", r#"["test.half"]"#)])
        .build(&dir.path().join("dlr"));
    let gw = start_gateway(cfg).await;
    let addr = esme_addr(&gw);
    let bank = bind(addr, BindType::Transceiver, "bank").await;
    // Exempt from one rule, not from the others.
    submit_ok(&bank, "447700900500", b"half bad half bad", false).await;
    let p = submit(&bank, "447700900501", b"forbidden payload", false).await;
    assert_eq!(p.command_status, CommandStatus::ESME_RSUBMITFAIL);

    let mut c = bind(addr, BindType::Transceiver, "esme1").await;
    assert!(gw.suspend("nobody", "ops", "x").is_err());
    gw.suspend("esme1", "ops", "complaint from carrier c1")
        .unwrap();
    expect_unbind(&mut c).await;
    assert!(gw.suspend("esme1", "ops", "again").is_err());
    let again = connect(addr).await;
    assert_eq!(
        again
            .bind(BindType::Transceiver, "esme1", PASSWORD)
            .await
            .unwrap(),
        CommandStatus::ESME_RBINDFAIL
    );
    gw.reinstate("esme1", "ops", "resolved with the customer")
        .unwrap();
    bind(addr, BindType::Transceiver, "esme1").await;
    stop(gw).await;
    smsc.shutdown().await;
}

#[test]
fn exempting_from_every_rule_or_an_unknown_one_is_refused() {
    let dir = store_dir();
    let rules = rules_file(dir.path());
    let base = GatewayConfig::new()
        .filter("rules", rules.clone())
        .filter("classifier", "false");
    let all = telegate::filter::engine::BUILT_IN_IDS
        .iter()
        .map(|s| q(s))
        .chain([q("test.payload"), q("test.half")])
        .collect::<Vec<_>>()
        .join(", ");
    let text = base
        .clone()
        .account("a", &[("filter_exempt", &format!("[{all}]"))])
        .toml(&dir.path().join("dlr"));
    let e = telegate::config::Config::from_toml(&text)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("account[0].filter_exempt") && e.contains("never from all"),
        "{e}"
    );
    let text = base
        .account("a", &[("filter_exempt", r#"["no.such.rule"]"#)])
        .toml(&dir.path().join("dlr"));
    let e = telegate::config::Config::from_toml(&text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("account[0].filter_exempt[0]"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_and_rules_reload() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let store = dir.path().join("dlr");
    let gw = start_gateway(filtered(smsc.addr(), dir.path()).build(&store)).await;
    let c = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;
    submit_ok(&c, "447700900600", b"half bad", false).await;

    // A lower block_score blocks what was only flagged.
    let stricter = filtered(smsc.addr(), dir.path())
        .filter("block_score", "0.5")
        .filter("flag_score", "0.3");
    let out = gw.reload(stricter.build(&store)).await.unwrap();
    assert!(out.changes.iter().any(|c| c.contains("filter")), "{out:?}");
    let p = submit(&c, "447700900601", b"half bad", false).await;
    assert_eq!(p.command_status, CommandStatus::ESME_RSUBMITFAIL);

    // A new rule in the rules file applies after a reload.
    std::fs::write(
        dir.path().join("rules.toml"),
        format!(
            "{RULES}\n[[keyword]]\nid = \"test.new\"\nscore = 1.0\nphrases = [\"brand new\"]\n"
        ),
    )
    .unwrap();
    submit_ok(&c, "447700900602", b"a brand new rule", false).await;
    gw.reload(stricter.build(&store)).await.unwrap();
    let p = submit(&c, "447700900603", b"a brand new rule", false).await;
    assert_eq!(p.command_status, CommandStatus::ESME_RSUBMITFAIL);

    // A broken rules file is refused and the old rules stay.
    std::fs::write(dir.path().join("rules.toml"), "[[keyword]]\nid = 1\n").unwrap();
    let e = gw
        .reload(stricter.build_unchecked(&store))
        .await
        .unwrap_err();
    assert!(e.contains("filter.rules"), "{e}");
    let p = submit(&c, "447700900604", b"a brand new rule", false).await;
    assert_eq!(p.command_status, CommandStatus::ESME_RSUBMITFAIL);

    // Off: everything passes.
    gw.reload(GatewayConfig::simple(smsc.addr()).build(&store))
        .await
        .unwrap();
    submit_ok(&c, "447700900605", b"forbidden payload", false).await;
    c.unbind().await.unwrap();
    stop(gw).await;
    smsc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_automatic_suspension_off_spam_is_blocked_but_nobody_is_suspended() {
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = filtered(smsc.addr(), dir.path())
        .suspension("enabled", "false")
        .suspension("min_blocked", "2")
        .build(&dir.path().join("dlr"));
    let gw = start_gateway(cfg).await;
    let addr = esme_addr(&gw);
    let c = bind(addr, BindType::Transceiver, "esme1").await;
    for i in 0..5 {
        let p = submit(&c, &format!("44770090070{i}"), b"forbidden payload", false).await;
        assert_eq!(p.command_status, CommandStatus::ESME_RSUBMITFAIL);
    }
    assert_eq!(gw.suspensions()["suspensions"].as_array().unwrap().len(), 0);
    // A second bind is still accepted; the first session still works.
    bind(addr, BindType::Transceiver, "esme1").await;
    submit_ok(&c, "447700900710", b"all fine", false).await;
    stop(gw).await;
    smsc.shutdown().await;
}
