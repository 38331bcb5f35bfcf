//! Routing lookup latency with a large table: 100,000 random prefixes of
//! 2 to 10 digits (one in ten limited to an account), looked up with
//! random 11- and 12-digit international destinations.
//!
//! * `lookup/100k`: `RoutingTable::lookup` as the submit path calls it:
//!   normalisation from (TON 1, NPI 1, address bytes) plus the trie walk.
//! * `lookup_digits/100k`: the trie walk alone on E.164 digits.
//! * `candidates/weighted`: picking the carrier order of a weighted route.
//!
//! Destinations cycle through 4,096 precomputed addresses so the timed
//! part does no random number generation. They sit side by side in one
//! buffer, read in order: on the submit path the address is a slice of
//! the frame just decoded, already in cache, so the lookup's own cost is
//! its walk through the table. (Kept as 4,096 separate heap allocations
//! among the table's, each address cost a cache miss of its own before
//! the walk began: about a quarter of the measured time.)
//!
//! Samples are flat and short (about 1 ms each): on a small shared VM a
//! long sample almost always contains a preemption, and then even the
//! median reports the scheduler rather than the lookup. Short samples let
//! the median come from the samples that ran undisturbed.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use telegate::config::{Config, RouteConfig};
use telegate::routing::RoutingTable;

const PREFIXES: usize = 100_000;
const DESTS: usize = 4096;

fn config(rng: &mut StdRng) -> Config {
    let mut cfg: Config = toml::from_str(
        r#"
        [[account]]
        system_id = "acme"
        password_hash = "x"
        [[account]]
        system_id = "beta"
        password_hash = "x"
        [[carrier]]
        name = "a"
        address = "127.0.0.1:1"
        system_id = "a"
        password = "p"
        [[carrier]]
        name = "b"
        address = "127.0.0.1:2"
        system_id = "b"
        password = "p"
        [[carrier]]
        name = "c"
        address = "127.0.0.1:3"
        system_id = "c"
        password = "p"
        "#,
    )
    .expect("bench config parses");
    let names = ["a", "b", "c"];
    let mut seen = HashSet::new();
    while cfg.routes.len() < PREFIXES {
        let len = rng.gen_range(2..=10);
        let prefix: String = (0..len)
            .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
            .collect();
        let account_specific = rng.gen_ratio(1, 10);
        if !seen.insert((prefix.clone(), account_specific)) {
            continue;
        }
        let first = rng.gen_range(0..names.len());
        let route = RouteConfig {
            prefix,
            carriers: vec![
                names[first].to_owned(),
                names[(first + 1) % names.len()].to_owned(),
            ],
            weights: Default::default(),
            accounts: if account_specific {
                vec!["acme".to_owned()]
            } else {
                Vec::new()
            },
        };
        cfg.routes.push(route);
    }
    cfg.routes.push(RouteConfig {
        prefix: String::new(),
        carriers: Vec::new(),
        weights: [
            ("a".to_owned(), 50),
            ("b".to_owned(), 30),
            ("c".to_owned(), 20),
        ]
        .into_iter()
        .collect(),
        accounts: Vec::new(),
    });
    cfg
}

fn bench(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0x7e1e_6a7e);
    let cfg = config(&mut rng);
    let table = RoutingTable::build(&cfg).expect("bench routes build");
    // Each address in a 16-octet slot of one buffer, with its length.
    let mut buf = vec![0u8; DESTS * 16];
    let mut lens = vec![0usize; DESTS];
    for (slot, len) in buf.chunks_exact_mut(16).zip(lens.iter_mut()) {
        *len = rng.gen_range(11..=12);
        for b in &mut slot[..*len] {
            *b = b'0' + rng.gen_range(0..10u8);
        }
    }
    let dests: Vec<&[u8]> = buf
        .chunks_exact(16)
        .zip(&lens)
        .map(|(slot, &len)| &slot[..len])
        .collect();
    let hits = dests
        .iter()
        .filter(|d| table.lookup(0, 1, 1, d).is_some())
        .count();
    assert_eq!(hits, DESTS, "the default route catches everything");

    let mut g = c.benchmark_group("routing");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(500)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_millis(500));
    let mut i = 0usize;
    g.bench_function("lookup/100k", |b| {
        b.iter(|| {
            i = (i + 1) % DESTS;
            let account = (i & 1) as u16;
            black_box(table.lookup(account, 1, 1, black_box(dests[i])))
        })
    });
    let mut i = 0usize;
    g.bench_function("lookup_digits/100k", |b| {
        b.iter(|| {
            i = (i + 1) % DESTS;
            black_box(table.lookup_digits(0, black_box(dests[i])))
        })
    });
    let weighted = table.lookup_digits(1, b"").expect("default route");
    let mut seed = 0u64;
    g.bench_function("candidates/weighted", |b| {
        b.iter(|| {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            black_box(weighted.candidates(black_box(seed)).next())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
