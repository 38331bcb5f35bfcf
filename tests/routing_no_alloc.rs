//! The hot-path lookups allocate nothing: routing a destination read from
//! the received frame (`peek_submit_destination` + `RoutingTable::lookup`
//! + `Route::candidates`) and the MO number lookup.
//!
//! Counted with `stats_alloc` as the global allocator (the crate forbids
//! `unsafe`, which a `GlobalAlloc` impl needs). The counters are
//! process-wide, so each count is the least of several runs: the test
//! harness may allocate on another thread meanwhile.

use std::alloc::System;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use telegate::config::Config;
use telegate::routing::{MoTable, RoutingTable};
use telegate::smpp_codec::pdu::{peek_submit_destination, Body, Pdu};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn allocations<T>(mut f: impl FnMut() -> T) -> usize {
    (0..25)
        .map(|_| {
            let region = Region::new(GLOBAL);
            let out = f();
            let n = region.change().allocations + region.change().reallocations;
            drop(out);
            n
        })
        .min()
        .expect("runs")
}

const CONFIG: &str = r#"
[routing]
country_code = "44"

[[account]]
system_id = "acme"
password_hash = "x"
mo_numbers = ["12345", "447700900999"]

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

[[route]]
prefix = "44"
carriers = ["a", "b"]

[[route]]
prefix = "447700"
weights = { a = 70, b = 30 }

[[route]]
prefix = "4477009"
carriers = ["b"]
accounts = ["acme"]
"#;

#[test]
fn routing_a_frame_allocates_nothing() {
    let cfg: Config = toml::from_str(CONFIG).expect("config");
    let table = RoutingTable::build(&cfg).expect("table");
    let mo = MoTable::build(&cfg).expect("mo table");
    let sm = telegate::sim::submit_sm("12345", "+447700900123", b"hello", true);
    let frame = Pdu::new(7, Body::SubmitSm(Box::new(sm)))
        .to_bytes()
        .expect("encodes");

    let mut seen = 0u32;
    let n = allocations(|| {
        let (ton, npi, dest) = peek_submit_destination(&frame).expect("a submit_sm");
        let route = table.lookup(0, ton.0, npi.0, dest).expect("routed");
        for c in route.candidates(42) {
            seen += u32::from(c) + 1;
        }
    });
    assert_eq!(n, 0, "routing allocated");
    assert!(seen > 0, "the route has carriers");

    let n = allocations(|| mo.lookup(&cfg.routing, 1, 1, b"447700900999"));
    assert_eq!(n, 0, "MO lookup allocated");
    assert_eq!(mo.lookup(&cfg.routing, 0, 1, b"07700900999"), Some(0));
}
