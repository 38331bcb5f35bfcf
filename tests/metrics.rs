//! `GET /metrics`: a gateway with `[metrics] listen` counts a run of
//! submits with receipts, a refused bind and a throttled submit, and the
//! exposition names every declared metric without carrying numbers or
//! text in any label.
//!
//! Its own test binary with one gateway: the metrics recorder is global
//! to the process, so values here belong to this gateway alone (they are
//! still compared as deltas from a first scrape).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use common::*;
use telegate::metrics::{self as m, METRICS};
use telegate::sim::BindType;
use telegate::smpp_codec::CommandStatus;

/// The text of every message: must never show up in the exposition.
const TEXT: &str = "metrics-canary text 7f3a";

type Labels = BTreeMap<String, String>;

/// Every sample: (name, labels, value).
fn samples(text: &str) -> Vec<(String, Labels, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), Labels::new()),
            Some((n, rest)) => (n.to_owned(), parse_labels(rest.trim_end_matches('}'))),
        };
        out.push((name, labels, value));
    }
    out
}

fn parse_labels(s: &str) -> Labels {
    let mut out = Labels::new();
    let mut rest = s;
    while let Some((k, after)) = rest.split_once("=\"") {
        // Values here carry no escaped quotes.
        let (v, tail) = after.split_once('"').expect("closing quote");
        out.insert(k.trim_start_matches(',').to_owned(), v.to_owned());
        rest = tail;
    }
    out
}

/// The value of the sample `name` with exactly `labels`; 0 when absent.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: Labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples(text)
        .into_iter()
        .find(|(n, l, _)| n == name && *l == want)
        .map_or(0.0, |(_, _, v)| v)
}

fn pdus(text: &str, dir: &str, side: &str, command: &str, status: &str) -> f64 {
    value(
        text,
        m::SMPP_PDUS,
        &[
            ("direction", dir),
            ("side", side),
            ("command", command),
            ("status", status),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_data_path() {
    const N: usize = 20;
    let smsc = start_smsc(|_| {}).await;
    let dir = store_dir();
    let cfg = GatewayConfig::simple(smsc.addr())
        .account("slow", &[("throughput", "1")])
        .metrics("listen", q("127.0.0.1:0"))
        .build(dir.path());
    let gw = start_gateway(cfg).await;
    let addr = gw.metrics_addr().expect("metrics served");
    let (_, before) = scrape(addr).await;

    // N submits with receipts from one account.
    let mut esme = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;
    let mut ids = HashSet::new();
    for _ in 0..N {
        ids.insert(submit_ok(&esme, DEST, TEXT.as_bytes(), true).await);
    }
    let (seen, stray) = collect_receipts(&mut esme, &ids, WAIT).await;
    assert_eq!(seen.len(), N, "receipts: stray {stray:?}");

    // One bind with a wrong password.
    let c = connect(esme_addr(&gw)).await;
    let st = c
        .bind(BindType::Transmitter, "esme1", "wrongpw")
        .await
        .expect("bind answered");
    assert_eq!(st, CommandStatus::ESME_RINVPASWD);
    drop(c);

    // An account allowed 1 msg/s: back-to-back submits are throttled.
    let slow = bind(esme_addr(&gw), BindType::Transmitter, "slow").await;
    let (mut slow_submits, mut throttled) = (0, 0);
    while throttled == 0 && slow_submits < 10 {
        let r = submit(&slow, DEST, TEXT.as_bytes(), false).await;
        slow_submits += 1;
        if r.command_status == CommandStatus::ESME_RTHROTTLED {
            throttled += 1;
        }
    }
    assert_eq!(throttled, 1, "the slow account was never throttled");

    // Receipts are counted delivered when the ESME's deliver_sm_resp is
    // read; the last may still be on its way.
    let delta = |after: &str, name: &str, labels: &[(&str, &str)]| {
        value(after, name, labels) - value(&before, name, labels)
    };
    let mut head_text = scrape(addr).await;
    for _ in 0..200 {
        if delta(&head_text.1, m::DLR_RECEIPTS, &[("result", "delivered")]) >= N as f64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        head_text = scrape(addr).await;
    }
    let (head, text) = head_text;
    let n = N as f64;

    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("\r\ncontent-type: text/plain; version=0.0.4"),
        "{head}"
    );

    // PDUs: every submit in, N + the unthrottled slow ones out to the
    // carrier; their OK responses back; the ESME's acknowledgements.
    let esme_in = pdus(&text, "in", "esme", "submit_sm", "ESME_ROK")
        - pdus(&before, "in", "esme", "submit_sm", "ESME_ROK");
    assert_eq!(esme_in, (N + slow_submits) as f64, "submit_sm in");
    let carrier_out = pdus(&text, "out", "carrier", "submit_sm", "ESME_ROK")
        - pdus(&before, "out", "carrier", "submit_sm", "ESME_ROK");
    assert_eq!(carrier_out, (N + slow_submits - 1) as f64, "submit_sm out");
    assert!(pdus(&text, "in", "carrier", "submit_sm_resp", "ESME_ROK") >= carrier_out);
    assert!(pdus(&text, "out", "esme", "submit_sm_resp", "ESME_RTHROTTLED") >= 1.0);
    assert!(pdus(&text, "in", "carrier", "deliver_sm", "ESME_ROK") >= n);
    assert!(pdus(&text, "in", "esme", "deliver_sm_resp", "ESME_ROK") >= n);
    assert!(pdus(&text, "in", "esme", "bind_transmitter", "ESME_ROK") >= 2.0);
    assert!(
        pdus(
            &text,
            "out",
            "esme",
            "bind_transmitter_resp",
            "ESME_RINVPASWD"
        ) >= 1.0
    );
    assert!(
        pdus(&text, "out", "carrier", "bind_transceiver", "ESME_ROK") >= 1.0
            || pdus(&text, "out", "carrier", "bind_transmitter", "ESME_ROK") >= 1.0
    );

    // Messages, receipts, binds, auth, throttling.
    let ok = [("account", "esme1"), ("carrier", "c1"), ("result", "ok")];
    assert_eq!(delta(&text, m::MESSAGES, &ok), n, "messages ok");
    assert_eq!(
        delta(&text, m::DLR_RECEIPTS, &[("result", "matched")]),
        n,
        "receipts matched"
    );
    assert_eq!(
        delta(&text, m::DLR_RECEIPTS, &[("result", "delivered")]),
        n,
        "receipts delivered"
    );
    assert_eq!(
        delta(&text, m::DLR_RECEIPTS, &[("result", "unmatched")]),
        0.0
    );
    assert_eq!(value(&text, m::ESME_BINDS, &[("account", "esme1")]), 1.0);
    assert_eq!(value(&text, m::ESME_BINDS, &[("account", "slow")]), 1.0);
    assert_eq!(
        value(&text, m::CARRIER_BINDS_UP, &[("carrier", "c1")]),
        gw.carrier_binds_up("c1") as f64
    );
    assert!(value(&text, m::CARRIER_BINDS_UP, &[("carrier", "c1")]) >= 1.0);
    assert_eq!(
        delta(&text, m::ESME_AUTH_FAILURES, &[("reason", "password")]),
        1.0
    );
    assert_eq!(
        delta(
            &text,
            m::THROTTLED,
            &[("account", "slow"), ("reason", "throughput")]
        ),
        1.0
    );
    assert!(value(&text, m::DLR_STORE_ENTRIES, &[]) >= 0.0);
    assert_eq!(value(&text, m::CONFIG_VERSION, &[]), 1.0);
    assert!(text.contains("telegate_config_reloads_total{result=\"ok\"} 0"));
    let info = samples(&text)
        .into_iter()
        .find(|(n, _, _)| n == m::BUILD_INFO)
        .expect("build_info");
    assert_eq!(
        info.1.get("version").map(String::as_str),
        Some(telegate::VERSION)
    );
    assert!(info.1.get("git_sha").is_some_and(|s| !s.is_empty()));
    assert_eq!(info.2, 1.0);

    // Histograms with their buckets.
    let lat = format!("{}_bucket", m::SUBMIT_LATENCY);
    let buckets: Vec<_> = samples(&text)
        .into_iter()
        .filter(|(n, l, _)| *n == lat && l.get("account").map(String::as_str) == Some("esme1"))
        .collect();
    assert_eq!(buckets.len(), m::LATENCY_BUCKETS.len() + 1, "{buckets:?}");
    let inf = buckets
        .iter()
        .find(|(_, l, _)| l["le"] == "+Inf")
        .expect("+Inf bucket");
    assert_eq!(inf.2, n, "every esme1 submit timed");
    let count = value(
        &text,
        &format!("{}_count", m::SUBMIT_LATENCY),
        &[("account", "esme1")],
    );
    assert_eq!(count, n);
    let carrier_count = value(
        &text,
        &format!("{}_count", m::CARRIER_LATENCY),
        &[("carrier", "c1")],
    );
    assert!(carrier_count >= n, "carrier latency count {carrier_count}");

    // Every declared metric is described.
    for d in METRICS {
        assert!(
            text.contains(&format!("# HELP {} ", d.name)),
            "no HELP line for {}",
            d.name
        );
        assert!(
            text.contains(&format!("# TYPE {} ", d.name)),
            "no TYPE line for {}",
            d.name
        );
    }

    // No number or text in any label value.
    let dest_digits = DEST.trim_start_matches('+');
    let source_digits = SOURCE.trim_start_matches('+');
    for (name, labels, _) in samples(&text) {
        for (k, v) in &labels {
            for secret in [dest_digits, &dest_digits[2..], source_digits, TEXT, "7f3a"] {
                assert!(
                    !v.contains(secret),
                    "{name}{{{k}=\"{v}\"}} carries {secret:?}"
                );
            }
        }
    }
    assert!(!text.contains(dest_digits) && !text.contains(TEXT));

    // One reload that applies and one that is refused.
    let cfg2 = GatewayConfig::simple(smsc.addr())
        .account("slow", &[("throughput", "2")])
        .metrics("listen", q("127.0.0.1:0"))
        .build(dir.path());
    gw.reload(cfg2).await.expect("reload");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nwindow = -1\n").expect("write");
    gw.reload_file(&bad).await.expect_err("bad file refused");
    let (_, after_reload) = scrape(addr).await;
    let reloads = |r: &str| {
        value(&after_reload, m::CONFIG_RELOADS, &[("result", r)])
            - value(&text, m::CONFIG_RELOADS, &[("result", r)])
    };
    assert_eq!(reloads("ok"), 1.0);
    assert_eq!(reloads("error"), 1.0);
    assert_eq!(value(&after_reload, m::CONFIG_VERSION, &[]), 2.0);

    if std::env::var_os("METRICS_SAMPLE").is_some() {
        println!("{after_reload}");
    }
    drop((esme, slow));
    stop(gw).await;
}
