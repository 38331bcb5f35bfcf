//! DLR store throughput: `LogStore` (on a temp dir, group commit to disk)
//! and `MemoryStore`, inserting mappings as a gateway does after each
//! `submit_sm_resp`, then looking each one up as its receipt would.
//!
//! One iteration inserts and looks up a batch of 10 000 fresh mappings;
//! the throughput is mappings per second (one insert + one lookup each).
//! `insert_flush` adds a `flush()` per batch, so the disk writes are paid
//! inside the timed part too.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use telegate::config::DlrConfig;
use telegate::dlr::{DlrStore, LogStore, Mapping, MemoryStore};

const BATCH: u64 = 10_000;

fn run(
    store: &dyn DlrStore,
    next: &mut u64,
    ids: &[Vec<u8>],
    carrier: &Arc<str>,
    account: &Arc<str>,
    expires: u64,
) {
    let base = *next;
    *next += BATCH;
    for i in 0..BATCH {
        let gid = base + i;
        store.insert(Mapping {
            carrier: Arc::clone(carrier),
            carrier_msg_id: ids[(gid % ids.len() as u64) as usize]
                .clone()
                .into_boxed_slice(),
            account: Arc::clone(account),
            gateway_id: gid,
            expires_at: expires,
            state: 0,
            registered_delivery: 1,
        });
    }
    for i in 0..BATCH {
        let gid = base + i;
        black_box(store.lookup(carrier, &ids[(gid % ids.len() as u64) as usize]));
    }
}

fn bench(c: &mut Criterion) {
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let carrier: Arc<str> = "carrier-a".into();
    let account: Arc<str> = "acme".into();
    // Distinct carrier ids, 16 hex digits as many SMSCs write them.
    let ids: Vec<Vec<u8>> = (0..1_000_000u64)
        .map(|i| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes())
        .collect();
    let cfg = DlrConfig {
        max_entries: 1_000_000,
        ..DlrConfig::default()
    };

    let mut g = c.benchmark_group("dlr_store");
    g.throughput(Throughput::Elements(BATCH));
    g.measurement_time(Duration::from_secs(8));
    g.sample_size(20);

    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path(), &cfg).unwrap();
    let mut next = 1;
    g.bench_function("log/insert_lookup", |b| {
        b.iter(|| run(&store, &mut next, &ids, &carrier, &account, expires))
    });
    g.bench_function("log/insert_lookup_flush", |b| {
        b.iter(|| {
            run(&store, &mut next, &ids, &carrier, &account, expires);
            store.flush().unwrap();
        })
    });
    drop(store);

    let store = MemoryStore::new(cfg.max_entries);
    let mut next = 1;
    g.bench_function("memory/insert_lookup", |b| {
        b.iter(|| run(&store, &mut next, &ids, &carrier, &account, expires))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
