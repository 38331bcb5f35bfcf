//! CDRs over real binds (issue 6): one record per message segment with its
//! outcome, pseudonyms that follow the key, expiry with per-account
//! retention and legal holds, erasure, export, a torn last record, and a
//! writer that cannot keep up throttling ESMEs instead of losing records.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use serde_json::Value;
use telegate::admin::{CdrAnswer, CdrRequest};
use telegate::cdr::store::{ExportFormat, Query};
use telegate::gateway::Gateway;
use telegate::sim::BindType;
use telegate::smpp_codec::{Body, CommandStatus};

/// 32 characters or more.
const KEY_A: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const KEY_B: &str = "0f9e8d7c6b5a49382716f5e4d3c2b1a0";

/// A CDR set-up: the directory, and the key file outside it.
struct Cdrs {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
    store: PathBuf,
}

impl Cdrs {
    fn new() -> Cdrs {
        let tmp = store_dir();
        let key = tmp.path().join("cdr-key");
        std::fs::write(&key, format!("{KEY_A}\n")).unwrap();
        Cdrs {
            dir: tmp.path().join("cdr"),
            key,
            store: tmp.path().join("dlr"),
            _tmp: tmp,
        }
    }

    fn on(&self, cfg: GatewayConfig) -> GatewayConfig {
        cfg.cdr("dir", q(&self.dir.display().to_string()))
            .cdr(
                "pseudonym_key",
                format!("{{ file = {} }}", q(&self.key.display().to_string())),
            )
            .cdr("fsync_interval", q("20ms"))
    }
}

async fn query(gw: &Gateway, q: Query) -> Value {
    match gw.cdr(CdrRequest::Query(q)).await {
        Ok(CdrAnswer::Json(v)) => v,
        other => panic!("query failed: {other:?}"),
    }
}

/// Every row of an account (the writer is given time to catch up).
async fn rows_of(gw: &Gateway, account: &str, expect: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let v = query(
            gw,
            Query {
                account: Some(account.to_owned()),
                limit: 10_000,
                ..Default::default()
            },
        )
        .await;
        let rows = v["rows"].as_array().cloned().unwrap_or_default();
        if rows.len() >= expect || std::time::Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn row_by_id<'a>(rows: &'a [Value], id: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["gateway_id"] == id).collect()
}

/// The status of a query_sm for `id`.
async fn query_sm(c: &telegate::sim::Client, id: &str) -> CommandStatus {
    c.request(Body::QuerySm(Box::new(
        telegate::smpp_codec::pdu::QuerySm {
            message_id: Bytes::from(id.to_owned()),
            source: telegate::sim::address(SOURCE),
        },
    )))
    .await
    .unwrap()
    .command_status
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// One UDH segment (8-bit reference) of a GSM 7-bit text.
fn segment(to: &str, reference: u8, total: u8, seq: u8, text: &str) -> Body {
    let mut sm = telegate::sim::submit_sm(SOURCE, to, b"", true);
    let mut ud = vec![5, 0, 3, reference, total, seq];
    ud.extend_from_slice(text.as_bytes());
    sm.esm_class = 0x40;
    sm.short_message = Bytes::from(ud);
    Body::SubmitSm(Box::new(sm))
}

const RULES: &str = r#"
[[keyword]]
id = "test.payload"
score = 1.0
phrases = ["forbidden payload"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_per_segment_with_its_outcome_and_no_content() {
    let smsc = start_smsc(|c| c.dlr_delay = Duration::from_millis(50)).await;
    let cdrs = Cdrs::new();
    let rules = cdrs.dir.with_file_name("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let cfg = cdrs
        .on(GatewayConfig::new()
            .account("esme1", &[("sid", &q("AC-one"))])
            .carrier("c1", &smsc.addr().to_string(), &[])
            .route("44", &["c1"]))
        .filter("rules", q(&rules.display().to_string()))
        .filter("classifier", "false");
    let gw = start_gateway(cfg.build(&cdrs.store)).await;
    let mut c = bind(esme_addr(&gw), BindType::Transceiver, "esme1").await;

    // Delivered, with its receipt.
    let ok = submit_ok(&c, "+447700900123", b"PLANTED hello there", true).await;
    let receipt = next_deliver(&mut c, WAIT).await.expect("receipt");
    assert!(is_receipt(&receipt));
    // Blocked by the filter.
    let p = submit(&c, "+447700900124", b"PLANTED forbidden payload", false).await;
    assert_eq!(p.command_status, CommandStatus(0x45));
    // No route.
    let p = submit(&c, "+12025550123", b"PLANTED to nowhere", false).await;
    assert_eq!(p.command_status, CommandStatus::ESME_RINVDSTADR);
    // Two segments, no receipt wanted of them here.
    let s1 = c
        .request(segment("+447700900125", 7, 2, 1, "PLANTED part one "))
        .await
        .unwrap();
    let s2 = c
        .request(segment("+447700900125", 7, 2, 2, "PLANTED part two"))
        .await
        .unwrap();
    let (s1, s2) = (message_id(&s1), message_id(&s2));
    for _ in 0..2 {
        next_deliver(&mut c, WAIT).await.expect("segment receipt");
    }

    let rows = rows_of(&gw, "AC-one", 5).await;
    assert_eq!(rows.len(), 5, "{rows:#?}");
    let r = row_by_id(&rows, &ok);
    assert_eq!(r.len(), 1, "{rows:#?}");
    let r = r[0];
    assert_eq!(r["carrier"], "c1");
    assert_eq!(r["route_prefix"], "44");
    assert_eq!(r["country_code"], 44);
    assert_eq!(r["segment"], 1);
    assert_eq!(r["segments"], 1);
    assert_eq!(r["submit_status"], 0);
    assert_eq!(r["receipt"], "delivered", "{r:#}");
    assert_eq!(r["verdict"], "allow");
    assert_eq!(r["data_coding"], "gsm7");
    assert!(r["carrier_latency_us"].as_u64().unwrap() > 0, "{r:#}");
    assert_eq!(r["source"].as_str().unwrap().len(), 32);
    assert_eq!(r["dest"].as_str().unwrap().len(), 32);
    assert!(r["final_time_ms"].as_u64() >= r["submit_time_ms"].as_u64());
    assert!(r["expires_at_s"].as_u64().unwrap() > 0);

    let blocked: Vec<&Value> = rows.iter().filter(|r| r["verdict"] == "block").collect();
    assert_eq!(blocked.len(), 1, "{rows:#?}");
    assert_eq!(blocked[0]["submit_status"], 0x45);
    assert_eq!(blocked[0]["rules"][0], "test.payload");
    assert_eq!(blocked[0]["receipt"], "not_requested");
    let unrouted: Vec<&Value> = rows
        .iter()
        .filter(|r| r["submit_status"] == CommandStatus::ESME_RINVDSTADR.0)
        .collect();
    assert_eq!(unrouted.len(), 1, "{rows:#?}");
    assert_eq!(unrouted[0]["country_code"], 1);
    assert!(unrouted[0]["route_prefix"].is_null());
    for (id, seq) in [(&s1, 1), (&s2, 2)] {
        let r = row_by_id(&rows, id);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["segment"], seq);
        assert_eq!(r[0]["segments"], 2);
    }

    // Totals for support and billing.
    let v = query(
        &gw,
        Query {
            account: Some("AC-one".into()),
            limit: 0,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(v["totals"]["segments"], 5, "{v:#}");
    assert_eq!(v["totals"]["by_country"]["44"], 4, "{v:#}");
    assert_eq!(v["totals"]["by_country"]["1"], 1, "{v:#}");
    // By message id, as the ESME knows it.
    let v = query(
        &gw,
        Query {
            gateway_id: telegate::ids::parse_id(ok.as_bytes()),
            limit: 10,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(v["rows"].as_array().unwrap().len(), 1, "{v:#}");

    c.unbind().await.unwrap();
    gw.shutdown(Duration::from_secs(2)).await;
    smsc.shutdown().await;
    // No text, no number at rest.
    let mut files = files_under(&cdrs.dir);
    assert!(!files.is_empty());
    files.extend(files_under(&cdrs.store));
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for needle in [
            "PLANTED",
            "447700900",
            "7700900123",
            "2025550123",
            "hello there",
        ] {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{needle} in {}",
                f.display()
            );
        }
    }
    // Partitions and their directory are private.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cdrs.dir), 0o700);
    for f in files_under(&cdrs.dir) {
        if f.extension().is_some_and(|e| e == "tgc") {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pseudonyms_follow_the_key() {
    let smsc = start_smsc(|_| {}).await;
    let cdrs = Cdrs::new();
    let cfg = cdrs.on(GatewayConfig::simple(smsc.addr()));
    let gw = start_gateway(cfg.build(&cdrs.store)).await;
    let c = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    let a1 = submit_ok(&c, "+447700900123", b"one", false).await;
    let a2 = submit_ok(&c, "+447700900123", b"two", false).await;
    let other = submit_ok(&c, "+447700900999", b"three", false).await;
    // The key is rotated: a new file, and a reload.
    std::fs::write(&cdrs.key, format!("{KEY_B}\n")).unwrap();
    gw.reload(cfg.build(&cdrs.store)).await.expect("reload");
    let b1 = submit_ok(&c, "+447700900123", b"four", false).await;
    let rows = rows_of(&gw, "esme1", 4).await;
    let get = |id: &str| row_by_id(&rows, id)[0].clone();
    let (a1, a2, other, b1) = (get(&a1), get(&a2), get(&other), get(&b1));
    assert_eq!(a1["dest"], a2["dest"], "same number, same key");
    assert_eq!(a1["key_id"], a2["key_id"]);
    assert_ne!(a1["dest"], other["dest"], "another number");
    assert_ne!(a1["dest"], b1["dest"], "same number, another key");
    assert_ne!(a1["key_id"], b1["key_id"]);
    assert_eq!(a1["source"], a2["source"]);
    assert_ne!(a1["source"], b1["source"]);
    gw.shutdown(Duration::from_secs(2)).await;
    smsc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_deletes_exactly_the_expired_and_a_hold_keeps_it() {
    let smsc = start_smsc(|_| {}).await;
    let cdrs = Cdrs::new();
    let cfg = cdrs.on(GatewayConfig::new()
        .account("short", &[("retention", &q("1s"))])
        .account("long", &[])
        .account("held", &[("retention", &q("1s")), ("legal_hold", "true")])
        .account("api-held", &[("retention", &q("1s"))])
        .carrier("c1", &smsc.addr().to_string(), &[])
        .route("", &["c1"]));
    let gw = start_gateway(cfg.build(&cdrs.store)).await;
    for account in ["short", "long", "held", "api-held"] {
        let c = bind(esme_addr(&gw), BindType::Transmitter, account).await;
        for i in 0..3 {
            submit_ok(&c, "+447700900123", format!("m{i}").as_bytes(), false).await;
        }
        assert_eq!(rows_of(&gw, account, 3).await.len(), 3);
    }
    match gw
        .cdr(CdrRequest::Hold {
            account: "api-held".into(),
            on: true,
            by: "legal".into(),
            note: "case 17".into(),
        })
        .await
    {
        Ok(CdrAnswer::Json(v)) => assert!(v.to_string().contains("api-held"), "{v}"),
        other => panic!("{other:?}"),
    }
    // Expiry is counted in whole seconds (submit time + 1 s, rounded up):
    // 2.5 s on, every record of a 1 s retention has expired.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let swept = match gw.cdr(CdrRequest::Sweep { by: "test".into() }).await {
        Ok(CdrAnswer::Json(v)) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(swept["records_removed"], 3, "{swept:#}");
    assert_eq!(rows_of(&gw, "short", 0).await.len(), 0);
    assert_eq!(rows_of(&gw, "long", 3).await.len(), 3);
    assert_eq!(rows_of(&gw, "held", 3).await.len(), 3);
    assert_eq!(rows_of(&gw, "api-held", 3).await.len(), 3);
    // The hold is lifted: the next sweep takes the records.
    gw.cdr(CdrRequest::Hold {
        account: "api-held".into(),
        on: false,
        by: "legal".into(),
        note: "case 17 closed".into(),
    })
    .await
    .unwrap();
    let swept = match gw.cdr(CdrRequest::Sweep { by: "test".into() }).await {
        Ok(CdrAnswer::Json(v)) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(swept["records_removed"], 3, "{swept:#}");
    assert_eq!(rows_of(&gw, "api-held", 0).await.len(), 0);
    assert_eq!(rows_of(&gw, "held", 3).await.len(), 3);
    // Erasure is refused under a hold.
    let e = gw
        .cdr(CdrRequest::Erase {
            account: "held".into(),
            until_ms: None,
            by: "test".into(),
        })
        .await;
    assert!(
        matches!(e, Err(telegate::admin::CdrApiError::Refused(_))),
        "{e:?}"
    );
    // Everything was audited, outside the CDR directory.
    let audit = std::fs::read_to_string(cdrs.dir.with_file_name("cdr.audit.log")).unwrap();
    for action in ["\"hold\"", "\"release\"", "\"sweep\""] {
        assert!(audit.contains(action), "{action} not in {audit}");
    }
    gw.shutdown(Duration::from_secs(2)).await;
    smsc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erase_leaves_no_trace_and_export_round_trips() {
    let smsc = start_smsc(|c| c.dlr_delay = Duration::from_secs(30)).await;
    let cdrs = Cdrs::new();
    let cfg = cdrs.on(GatewayConfig::new()
        .account("gone", &[("sid", &q("AC-gone-7d1"))])
        .account("stays", &[("sid", &q("AC-stays-2b9"))])
        .carrier("c1", &smsc.addr().to_string(), &[])
        .route("", &["c1"]));
    let gw = start_gateway(cfg.build(&cdrs.store)).await;
    let gone = bind(esme_addr(&gw), BindType::Transceiver, "gone").await;
    let stays = bind(esme_addr(&gw), BindType::Transceiver, "stays").await;
    let mut gone_ids = Vec::new();
    for i in 0..5 {
        gone_ids.push(submit_ok(&gone, "+447700900123", format!("g{i}").as_bytes(), true).await);
        submit_ok(&stays, "+447700900124", format!("s{i}").as_bytes(), true).await;
    }
    assert_eq!(rows_of(&gw, "AC-gone-7d1", 5).await.len(), 5);
    let before = rows_of(&gw, "AC-stays-2b9", 5).await;
    assert_eq!(before.len(), 5);

    // Export, both formats, and back.
    for format in [ExportFormat::Jsonl, ExportFormat::Csv] {
        let body = match gw
            .cdr(CdrRequest::Export {
                account: "AC-stays-2b9".into(),
                from_ms: None,
                to_ms: None,
                format,
                by: "support".into(),
            })
            .await
        {
            Ok(CdrAnswer::Data { body, .. }) => body,
            other => panic!("{other:?}"),
        };
        let rows = telegate::cdr::store::parse_export(format, &mut &body[..]).expect("parses");
        assert_eq!(rows.len(), 5, "{format:?}");
        let json: Vec<Value> = rows.iter().map(telegate::cdr::store::row_json).collect();
        let mut want = before.clone();
        let key = |v: &Value| v["gateway_id"].as_str().unwrap_or_default().to_owned();
        want.sort_by_key(key);
        let mut got = json;
        got.sort_by_key(key);
        assert_eq!(got, want, "{format:?} export round trip");
    }

    // query_sm sees the message before the erasure.
    let st = query_sm(&gone, &gone_ids[0]).await;
    assert_eq!(st, CommandStatus::ESME_ROK);

    let report = match gw
        .cdr(CdrRequest::Erase {
            account: "AC-gone-7d1".into(),
            until_ms: None,
            by: "privacy officer".into(),
        })
        .await
    {
        Ok(CdrAnswer::Json(v)) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(report["records_removed"], 5, "{report:#}");
    assert_eq!(report["dlr_mappings_removed"], 5, "{report:#}");
    assert_eq!(rows_of(&gw, "AC-gone-7d1", 0).await.len(), 0);
    assert_eq!(rows_of(&gw, "AC-stays-2b9", 5).await, before);
    // Its mappings are gone: query_sm no longer knows the message.
    let st = query_sm(&gone, &gone_ids[0]).await;
    assert_eq!(st, CommandStatus::ESME_RINVMSGID);
    drop(gone);
    drop(stays);
    gw.shutdown(Duration::from_secs(2)).await;
    smsc.shutdown().await;
    for f in files_under(&cdrs.dir)
        .into_iter()
        .chain(files_under(&cdrs.store))
    {
        let bytes = std::fs::read(&f).unwrap();
        for needle in ["AC-gone-7d1", "gone"] {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{needle} left in {}",
                f.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_record_is_skipped_and_the_rest_read() {
    let smsc = start_smsc(|_| {}).await;
    let cdrs = Cdrs::new();
    let cfg = cdrs.on(GatewayConfig::simple(smsc.addr()));
    let gw = start_gateway(cfg.build(&cdrs.store)).await;
    let c = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    for i in 0..10 {
        submit_ok(&c, "+447700900123", format!("m{i}").as_bytes(), false).await;
    }
    assert_eq!(rows_of(&gw, "esme1", 10).await.len(), 10);
    drop(c);
    gw.shutdown(Duration::from_secs(2)).await;
    // A crash in the middle of the last write: its last bytes never made
    // it to disk.
    let part = files_under(&cdrs.dir)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "tgc"))
        .max()
        .expect("a partition");
    let len = std::fs::metadata(&part).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&part).unwrap();
    f.set_len(len - 7).unwrap();
    drop(f);
    let config = cfg.build(&cdrs.store);
    let v = telegate::gateway::cdr_query_offline(
        &config,
        &Query {
            account: Some("esme1".into()),
            limit: 100,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 9, "{v:#}");
    // The torn tail is reported (in bytes), not read.
    let torn = v["torn"].as_u64().unwrap();
    assert!(torn > 0 && torn < 200, "{v:#}");
    // A gateway started on it again appends after the good records.
    let gw = start_gateway(config).await;
    let c = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    submit_ok(&c, "+447700900123", b"after", false).await;
    assert_eq!(rows_of(&gw, "esme1", 10).await.len(), 10);
    drop(c);
    gw.shutdown(Duration::from_secs(2)).await;
    smsc.shutdown().await;
}

/// The partition file name of the hour of `unix_s` (UTC), as the store
/// names them: `cdr-YYYYMMDDHH.tgc`.
fn partition_name(unix_s: u64) -> String {
    // Days to civil date (H. Hinnant's algorithm).
    let z = (unix_s / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let h = (unix_s % 86_400) / 3600;
    format!("cdr-{y:04}{m:02}{d:02}{h:02}.tgc")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_cannot_write_throttles_esmes_and_loses_nothing() {
    let smsc = start_smsc(|_| {}).await;
    let cdrs = Cdrs::new();
    let cfg = cdrs
        .on(GatewayConfig::simple(smsc.addr()))
        .cdr("queue", "1024")
        .metrics("listen", q("127.0.0.1:0"));
    // The disk "fails": a directory stands where this hour's partition
    // file (and the next hour's) would go, so every append fails and the
    // writer holds its batch and retries.
    std::fs::create_dir_all(&cdrs.dir).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let blockers: Vec<PathBuf> = [now, now + 3600]
        .iter()
        .map(|&t| cdrs.dir.join(partition_name(t)))
        .collect();
    for b in &blockers {
        std::fs::create_dir(b).unwrap();
    }
    let gw = start_gateway(cfg.build(&cdrs.store)).await;
    let c = bind(esme_addr(&gw), BindType::Transmitter, "esme1").await;
    let (mut ok, mut throttled) = (0usize, 0usize);
    for i in 0..1500 {
        let p = submit(&c, "+447700900123", format!("m{i}").as_bytes(), false).await;
        match p.command_status {
            CommandStatus::ESME_ROK => ok += 1,
            CommandStatus::ESME_RTHROTTLED => throttled += 1,
            st => panic!("unexpected status {st}"),
        }
    }
    // The queue (1024) and at most the one batch (512) the writer holds.
    assert!(
        throttled > 0 && (1024..=1024 + 512).contains(&ok),
        "ok {ok}, throttled {throttled}"
    );
    // Metrics show it: throttles by reason, and the failing writes.
    let addr = gw.metrics_addr().expect("metrics listener");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, body) = scrape(addr).await;
        let value = |prefix: &str| -> f64 {
            body.lines()
                .find(|l| l.starts_with(prefix))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        let throttles = value("telegate_throttled_total{account=\"esme1\",reason=\"cdr_writer\"}");
        let errors = value("telegate_cdr_write_errors_total");
        let queued = value("telegate_cdr_queued_records");
        if throttles >= throttled as f64 && errors > 0.0 && queued > 0.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "throttles {throttles}, errors {errors}, queued {queued}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The disk recovers: every record of an accepted message is written.
    for b in &blockers {
        std::fs::remove_dir(b).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let rows = loop {
        let rows = rows_of(&gw, "esme1", ok).await;
        if rows.len() >= ok || std::time::Instant::now() > deadline {
            break rows;
        }
    };
    assert_eq!(rows.len(), ok, "every accepted message has its CDR");
    assert!(rows.iter().all(|r| r["submit_status"] == 0));
    // And ESMEs are no longer throttled.
    for i in 0..20 {
        submit_ok(&c, "+447700900123", format!("after{i}").as_bytes(), false).await;
    }
    drop(c);
    gw.shutdown(Duration::from_secs(2)).await;
    smsc.shutdown().await;
}
