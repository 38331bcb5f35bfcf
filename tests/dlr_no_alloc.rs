//! The DLR store's data-path operations allocate nothing once the store is
//! warm: `insert` (of a mapping whose id fits inline), `lookup_exact`,
//! `by_gateway_id` and `set_state`, on a full store that evicts.
//!
//! Counted with `stats_alloc` as the global allocator (see
//! `routing_no_alloc.rs`); each count is the least of several runs.

use std::alloc::System;
use std::time::Duration;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use telegate::dlr::{DlrStore, Mapping, MemoryStore};
use telegate::name::Name;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn allocations(mut f: impl FnMut()) -> usize {
    (0..25)
        .map(|_| {
            let region = Region::new(GLOBAL);
            f();
            let c = region.change();
            c.allocations + c.reallocations
        })
        .min()
        .expect("runs")
}

fn id(gid: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    let v = gid.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for (i, b) in out.iter_mut().enumerate() {
        *b = b"0123456789ABCDEF"[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
    out
}

#[test]
fn data_path_allocates_nothing() {
    let carrier = Name::new("carrier-a");
    let account = Name::new("acme");
    let expires = telegate_now() + 3600;
    let store = MemoryStore::new(4096);
    let mapping = |gid: u64| Mapping {
        carrier,
        carrier_msg_id: id(gid)[..].into(),
        account,
        gateway_id: gid,
        expires_at: expires,
        state: 0,
        registered_delivery: 1,
    };
    // Warm up past the bound, so inserts evict.
    for gid in 1..=20_000 {
        store.insert(mapping(gid));
    }
    let mut next = 20_001u64;
    let inserts = allocations(|| {
        for _ in 0..100 {
            store.insert(mapping(next));
            next += 1;
        }
    });
    let last = next - 1;
    let lookups = allocations(|| {
        for gid in last - 99..=last {
            let m = store.lookup_exact("carrier-a", &id(gid)).expect("mapped");
            assert_eq!(m.gateway_id, gid);
        }
    });
    let by_gid = allocations(|| {
        for gid in last - 99..=last {
            assert!(store.by_gateway_id(gid).is_some());
        }
    });
    let states = allocations(|| {
        for gid in last - 99..=last {
            store.set_state(gid, 2, Some(Duration::from_secs(3600)));
        }
    });
    eprintln!(
        "allocations per 100: insert {inserts}, lookup_exact {lookups}, \
         by_gateway_id {by_gid}, set_state {states}"
    );
    assert_eq!((inserts, lookups, by_gid, states), (0, 0, 0, 0));
}

fn telegate_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
