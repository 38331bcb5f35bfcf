//! DLR store throughput: `LogStore` (on a temp dir, group commit to disk)
//! and `MemoryStore`, inserting mappings as a gateway does after each
//! `submit_sm_resp`, then looking each one up as its receipt would.
//!
//! One iteration inserts and looks up a batch of 10 000 fresh mappings;
//! the throughput is mappings per second (one insert + one lookup each).
//! `insert_lookup_flush` adds a `flush()` per batch, so the disk writes are
//! paid inside the timed part too. `gateway_path` is what the gateway does
//! per message with a receipt: insert, `lookup_exact` (the receipt's id),
//! `set_state` with the final TTL. Carrier ids are 16 scrambled hex digits,
//! except in `gateway_path_counting_ids`, where they count up, as many
//! SMSCs number their messages.
//!
//! Before the timings, the resident memory per mapping is printed: the RSS
//! growth of a fresh `MemoryStore` filled with 1 000 000 mappings (16 hex
//! digit ids, and 36-character UUID-style ids). The bench runs on mimalloc,
//! the daemon's allocator.

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use telegate::config::DlrConfig;
use telegate::dlr::{DlrStore, LogStore, Mapping, MemoryStore};
use telegate::name::Name;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: u64 = 10_000;

struct Fixture {
    ids: Vec<Vec<u8>>,
    carrier: Name,
    account: Name,
    expires: u64,
}

impl Fixture {
    /// The `i`th message's mapping.
    fn mapping(&self, i: u64) -> Mapping {
        Mapping {
            carrier: self.carrier,
            carrier_msg_id: self.id(i).into(),
            account: self.account,
            gateway_id: gid_at(i),
            expires_at: self.expires,
            state: 0,
            registered_delivery: 1,
        }
    }

    /// The `i`th message's carrier id.
    fn id(&self, i: u64) -> &[u8] {
        &self.ids[(i % self.ids.len() as u64) as usize]
    }
}

/// Gateway ids are issued this many per millisecond (200,000 msg/s).
const PER_MS: u64 = 200;

/// The `i`th gateway id, as the gateway issues them: milliseconds since
/// the epoch shifted left 20 bits, plus a counter (see `telegate::ids`).
fn gid_at(i: u64) -> u64 {
    const START_MS: u64 = 1_790_000_000_000;
    ((START_MS + i / PER_MS) << 20) | (i % PER_MS)
}

fn run(store: &dyn DlrStore, next: &mut u64, f: &Fixture) {
    let base = *next;
    *next += BATCH;
    for i in base..base + BATCH {
        store.insert(f.mapping(i));
    }
    for i in base..base + BATCH {
        black_box(store.lookup(&f.carrier, f.id(i)));
    }
}

/// Per message: the mapping goes in at submit_sm_resp, the receipt finds
/// it by the carrier's id, and its final state shortens its TTL.
fn gateway_path(store: &dyn DlrStore, next: &mut u64, f: &Fixture) {
    let base = *next;
    *next += BATCH;
    for i in base..base + BATCH {
        store.insert(f.mapping(i));
    }
    for i in base..base + BATCH {
        let m = store.lookup_exact(&f.carrier, f.id(i));
        if let Some(m) = black_box(m) {
            store.set_state(m.gateway_id, 2, Some(Duration::from_secs(3600)));
        }
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Resident bytes per mapping of a store filled with `n` mappings.
fn memory_per_entry(f: &Fixture, n: u64) -> f64 {
    let before = rss_bytes();
    let store = MemoryStore::new(n);
    for i in 1..=n {
        store.insert(f.mapping(i));
    }
    let after = rss_bytes();
    assert_eq!(store.len() as u64, n);
    drop(store);
    (after.saturating_sub(before)) as f64 / n as f64
}

fn fixture(ids: impl Fn(u64) -> String) -> Fixture {
    Fixture {
        ids: (0..1_000_000u64).map(|i| ids(i).into_bytes()).collect(),
        carrier: "carrier-a".into(),
        account: "acme".into(),
        expires: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600,
    }
}

/// Measures in a child process of this bench (mimalloc keeps freed pages,
/// so a second store in one process would look free).
fn memory_probe() {
    let Ok(kind) = std::env::var("DLR_STORE_MEMORY_PROBE") else {
        return;
    };
    let f = if kind == "uuid" {
        fixture(|i| {
            let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                h >> 32,
                (h >> 16) & 0xffff,
                h & 0xfff,
                i & 0xfff,
                i
            )
        })
    } else {
        hex_fixture()
    };
    println!("{:.0}", memory_per_entry(&f, 1_000_000));
    std::process::exit(0);
}

fn probe(kind: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--bench")
        .env("DLR_STORE_MEMORY_PROBE", kind)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn hex_fixture() -> Fixture {
    // Distinct carrier ids, 16 hex digits as many SMSCs write them.
    fixture(|i| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

fn bench(c: &mut Criterion) {
    memory_probe();
    eprintln!(
        "dlr_store/memory: {} resident bytes per mapping (16-digit ids), {} (36-char ids), \
         1 000 000 mappings",
        probe("hex"),
        probe("uuid")
    );
    let f = hex_fixture();
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
        b.iter(|| run(&store, &mut next, &f))
    });
    g.bench_function("log/insert_lookup_flush", |b| {
        b.iter(|| {
            run(&store, &mut next, &f);
            store.flush().unwrap();
        })
    });
    g.bench_function("log/gateway_path", |b| {
        b.iter(|| gateway_path(&store, &mut next, &f))
    });
    // Carrier ids counting up, as many SMSCs (and smppkit) number them.
    let counting = fixture(|i| format!("{:x}", 0x1_0000_0000 + i));
    g.bench_function("log/gateway_path_counting_ids", |b| {
        b.iter(|| gateway_path(&store, &mut next, &counting))
    });
    drop(store);

    let store = MemoryStore::new(cfg.max_entries);
    let mut next = 1;
    g.bench_function("memory/insert_lookup", |b| {
        b.iter(|| run(&store, &mut next, &f))
    });
    g.bench_function("memory/gateway_path", |b| {
        b.iter(|| gateway_path(&store, &mut next, &f))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
