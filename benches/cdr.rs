//! CDR throughput.
//!
//! `cdr/encode+write`: records encoded and appended to a `FileBackend` in a
//! temporary directory on local disk (under `/var/tmp`, not tmpfs), in
//! batches of 256 as the writer thread does, on the calling thread (one
//! core). Throughput is records per second. No fsync inside the timed part
//! (the writer fsyncs once a second).
//!
//! `cdr/query_10m` (opt-in: `CDR_QUERY_BENCH=1`): per-account totals over
//! a directory of 10 000 000 records (200 hourly partitions, 12 accounts,
//! about 60 % of submits with a receipt record). The data set is built
//! once under `/var/tmp/telegate-cdr-query-bench` (or `CDR_QUERY_DIR`) and
//! reused; the timed part is a warm-page-cache query.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use telegate::cdr::store::CdrBackend;
use telegate::cdr::{
    query, DataCodingClass, FileBackend, Pseudonymizer, Query, ReceiptState, Record, RecordKind,
    Retention, Verdict,
};

const BATCH: usize = 256;
const T0: u64 = 1_700_000_000_000;

fn record(p: &Pseudonymizer, account: &Arc<str>, carrier: &Arc<str>, i: u64, t: u64) -> Record {
    Record {
        kind: RecordKind::Submit,
        submit_time_ms: t,
        final_time_ms: t + 35,
        account: account.clone(),
        gateway_id: (t << 20) | (i & 0xF_FFFF),
        carrier: Some(carrier.clone()),
        route_prefix: Some(Arc::from("4477")),
        country_code: 44,
        segment: 1,
        segments: 1,
        data_coding: DataCodingClass::Gsm7,
        verdict: Verdict::Allow,
        rules: Vec::new(),
        submit_status: if i.is_multiple_of(50) { 0x58 } else { 0 },
        receipt: ReceiptState::Pending,
        error_code: 0,
        carrier_latency_us: 1800 + (i % 700) as u32,
        receipt_by_s: t / 1000 + 48 * 3600,
        key_id: p.key_id(),
        source: Some(p.pseudonym(b"447700900001")),
        dest: Some(p.pseudonym(format!("4477009{:05}", i % 100_000).as_bytes())),
    }
}

fn bench_write(c: &mut Criterion) {
    let base = std::env::var_os("CDR_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    let tmp = tempfile::Builder::new()
        .prefix("telegate-cdr-bench")
        .tempdir_in(base)
        .expect("temp dir on local disk");
    let p = Pseudonymizer::new(b"bench key");
    let account: Arc<str> = Arc::from("AC0123456789abcd");
    let carrier: Arc<str> = Arc::from("carrier-uk-1");
    let batch: Vec<Record> = (0..BATCH as u64)
        .map(|i| record(&p, &account, &carrier, i, T0 + i))
        .collect();

    let mut g = c.benchmark_group("cdr");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(64 * 1024);
        b.iter(|| {
            out.clear();
            for r in &batch {
                r.encode_frame(&mut out);
            }
            black_box(out.len())
        })
    });
    // Opened once: criterion calls the routine once per sample, and
    // reopening would validate the whole (growing) partition each time.
    let mut backend = FileBackend::open(tmp.path()).expect("backend");
    let mut n = 0u64;
    g.bench_function("encode+write", |b| {
        b.iter(|| {
            backend.append(black_box(&batch)).expect("append");
            n += 1;
            // Keep the file from growing without bound over a long run.
            if n.is_multiple_of(20_000) {
                backend.sync().expect("sync");
            }
        });
        backend.sync().expect("sync");
    });
    g.finish();
}

const QUERY_RECORDS: u64 = 10_000_000;
const ACCOUNTS: usize = 12;

/// Builds the 10M-record directory unless a complete one is there.
fn build_query_dir(dir: &Path) {
    let done = dir.join("COMPLETE");
    if done.exists() {
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    let started = Instant::now();
    let p = Pseudonymizer::new(b"bench key");
    let accounts: Vec<Arc<str>> = (0..ACCOUNTS)
        .map(|i| Arc::from(format!("AC{i:014}")))
        .collect();
    let carriers: Vec<Arc<str>> = ["carrier-a", "carrier-b", "carrier-c"]
        .iter()
        .map(|c| Arc::from(*c))
        .collect();
    let mut backend = FileBackend::open(dir).expect("backend");
    let per_hour = QUERY_RECORDS / 200;
    let mut written = 0u64;
    let mut i = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    // Receipts come back a few batches later, in the same or next hour.
    let mut receipts: std::collections::VecDeque<Record> = Default::default();
    while written < QUERY_RECORDS {
        let hour = written / per_hour;
        let t = T0 + hour * 3_600_000 + (written % per_hour) * 3_600_000 / per_hour;
        // Account 0 holds ~40 %, account 1 ~10 %, the rest share the rest.
        let a = match i % 20 {
            0..=7 => 0,
            8..=9 => 1,
            k => 2 + (k as usize % (ACCOUNTS - 2)),
        };
        let s = record(&p, &accounts[a], &carriers[(i % 3) as usize], i, t);
        if i % 5 < 3 {
            let mut r = s.clone();
            r.kind = RecordKind::Receipt;
            r.final_time_ms = t + 4000;
            r.receipt = if i.is_multiple_of(17) {
                ReceiptState::Undeliverable
            } else {
                ReceiptState::Delivered
            };
            receipts.push_back(r);
        }
        batch.push(s);
        if receipts.len() > 2 * BATCH {
            batch.push(receipts.pop_front().expect("nonempty"));
        }
        i += 1;
        if batch.len() >= BATCH {
            written += batch.len() as u64;
            backend.append_at(&batch, t).expect("append");
            batch.clear();
        }
    }
    backend.sync().expect("sync");
    std::fs::write(&done, b"").expect("marker");
    eprintln!(
        "built {written} records in {:?} under {}",
        started.elapsed(),
        dir.display()
    );
}

fn bench_query(c: &mut Criterion) {
    if std::env::var_os("CDR_QUERY_BENCH").is_none() {
        return;
    }
    let dir = std::env::var_os("CDR_QUERY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/telegate-cdr-query-bench"));
    build_query_dir(&dir);
    let keep = |_: &str| Retention {
        keep: Duration::from_secs(365 * 86_400),
        hold: false,
    };
    let now_s = T0 / 1000 + 400 * 3600;
    let mut g = c.benchmark_group("cdr/query_10m");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.throughput(Throughput::Elements(QUERY_RECORDS));
    for (name, account) in [
        ("account_40pct", "AC00000000000000"),
        ("account_10pct", "AC00000000000001"),
        ("account_5pct", "AC00000000000002"),
    ] {
        let q = Query {
            account: Some(account.to_owned()),
            limit: 100,
            ..Query::default()
        };
        let r = query(&dir, &q, now_s, &keep).expect("query");
        eprintln!(
            "{name}: {} segments, {} receipts delivered, torn {}",
            r.totals.segments,
            r.totals.by_receipt.get("delivered").copied().unwrap_or(0),
            r.torn
        );
        g.bench_function(name, |b| {
            b.iter(|| black_box(query(&dir, &q, now_s, &keep).expect("query")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_write, bench_query);
criterion_main!(benches);
