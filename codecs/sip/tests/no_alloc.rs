//! Parsing allocates per message, never per header: the header list is one
//! `Vec` sized before it is filled, and every value is read from the frame
//! (offsets into it, handed out as slices or `Bytes` sharing it). Validating (every typed header) and encoding into a buffer
//! that is large enough allocate nothing.
//!
//! Counted with `stats_alloc` as the global allocator: this crate forbids
//! `unsafe` in every target, and a `GlobalAlloc` impl needs it. The counters
//! are process-wide, so the tests here take a lock, and each count is the
//! smallest of several runs (the test harness may allocate on its own
//! thread meanwhile).

use std::alloc::System;
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use telegate_sip::{parse_datagram, Message};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

static LOCK: Mutex<()> = Mutex::new(());

/// Heap calls made by one run of `f` (the result is dropped after the
/// count): `(allocations, reallocations)`, the least of 25 runs.
fn heap_calls<T>(mut f: impl FnMut() -> T) -> (usize, usize) {
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    (0..25)
        .map(|_| {
            let region = Region::new(GLOBAL);
            let out = f();
            let change = region.change();
            drop(out);
            (change.allocations, change.reallocations)
        })
        .min()
        .expect("runs")
}

/// An INVITE with `extra` more headers than the usual dozen.
fn invite(extra: usize) -> Vec<u8> {
    let sdp = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\nc=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let mut m = String::from(
        "INVITE sip:+447700900123@carrier.example.net;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:+447700900123@carrier.example.net;user=phone>\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.101:5060>\r\n\
Record-Route: <sip:proxy.example.com;lr>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE\r\n\
Content-Type: application/sdp\r\n",
    );
    for i in 0..extra {
        m.push_str(&format!("X-Extra-{i}: value {i}\r\n"));
    }
    m.push_str(&format!("Content-Length: {}\r\n\r\n{sdp}", sdp.len()));
    m.into_bytes()
}

/// The frame as a TCP session gets it: split off a read buffer that holds
/// more (as `StreamDecoder` does), so its storage is shared already and
/// slicing it only counts references.
fn framed(bytes: &[u8]) -> Bytes {
    let mut read_buf = BytesMut::with_capacity(bytes.len() + 64);
    read_buf.extend_from_slice(bytes);
    read_buf.extend_from_slice(b"OPTIONS sip:next");
    read_buf.split_to(bytes.len()).freeze()
}

#[test]
fn parsing_allocates_once_whatever_the_header_count() {
    // 11 + 21 = 32 headers fill the array parsing keeps them in; 33 and
    // more are counted once more to size the list.
    for extra in [0, 5, 20, 21, 22, 60] {
        let frame = framed(&invite(extra));
        let m = Message::parse(frame.clone()).expect("parses");
        assert_eq!(m.headers().len(), 11 + extra);
        let calls = heap_calls(|| Message::parse(frame.clone()).expect("parses"));
        assert_eq!(
            calls,
            (1, 0),
            "{extra} extra headers: (allocations, reallocations)"
        );
    }
}

#[test]
fn a_datagram_from_a_vec_costs_one_more_for_sharing_it() {
    // `Bytes::from(Vec)` is not shared yet: the first slice moves it into
    // a shared buffer (one allocation), independent of the header count.
    for extra in [0, 60] {
        let data = invite(extra);
        let calls = heap_calls(|| parse_datagram(Bytes::from(data.clone())).expect("parses"));
        // The clone of `data` is one allocation of its own.
        assert_eq!(calls, (3, 0), "{extra} extra headers");
    }
}

#[test]
fn validating_allocates_nothing() {
    let m = Message::parse(framed(&invite(20))).expect("parses");
    assert_eq!(m.validate(), Ok(()));
    let calls = heap_calls(|| {
        m.validate().expect("valid");
        m.request_uri()
            .expect("uri")
            .phone_number()
            .expect("number")
    });
    assert_eq!(calls, (0, 0));
}

#[test]
fn encoding_into_a_large_enough_buffer_allocates_nothing() {
    let m = Message::parse(framed(&invite(5))).expect("parses");
    let mut buf = BytesMut::with_capacity(4096);
    let calls = heap_calls(|| {
        buf.clear();
        m.encode(&mut buf);
    });
    assert_eq!(calls, (0, 0));
    assert_eq!(Message::parse(buf.split().freeze()), Ok(m));
}
