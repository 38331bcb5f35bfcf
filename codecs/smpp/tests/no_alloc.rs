//! Decoding allocates per PDU, never per field: a submit_sm costs the `Box`
//! of its body, plus the TLV `Vec` when it has TLVs. Encoding into a buffer
//! that is large enough allocates nothing.
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
use telegate_smpp::frame::Framer;
use telegate_smpp::pdu::{Body, SubmitSm};
use telegate_smpp::{Address, Npi, Pdu, Tlv, Ton};

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

fn submit_sm(tlvs: Vec<Tlv>) -> Pdu {
    Pdu::new(
        42,
        Body::SubmitSm(Box::new(SubmitSm {
            service_type: Bytes::from_static(b"CMT"),
            source: Address::new(Ton::ALPHANUMERIC, Npi::UNKNOWN, &b"Telegate"[..]),
            dest: Address::new(Ton::INTERNATIONAL, Npi::ISDN, &b"447700900123"[..]),
            esm_class: 0,
            protocol_id: 0,
            priority_flag: 0,
            schedule_delivery_time: Bytes::from_static(b"261129101500000+"),
            validity_period: Bytes::from_static(b"000001000000000R"),
            registered_delivery: 1,
            replace_if_present_flag: 0,
            data_coding: 0,
            sm_default_msg_id: 0,
            short_message: Bytes::from_static(b"Your Telegate code is 482913."),
            tlvs,
        })),
    )
}

/// The frame of `pdu` as a session gets it: split off the read buffer by
/// the framer (the buffer's storage is already shared, so slicing the
/// frame only bumps a reference count).
fn frame_of(pdu: &Pdu) -> Bytes {
    let mut read_buf = BytesMut::new();
    pdu.encode(&mut read_buf).expect("encode");
    Framer::default()
        .next_frame(&mut read_buf)
        .expect("frame")
        .expect("whole frame")
}

fn six_tlvs() -> Vec<Tlv> {
    vec![
        Tlv::UserMessageReference(0x0102),
        Tlv::SarMsgRefNum(0x2A2B),
        Tlv::SarTotalSegments(3),
        Tlv::SarSegmentSeqnum(1),
        Tlv::SourcePort(9200),
        Tlv::Other {
            tag: 0x1401,
            value: Bytes::from_static(b"acct-7781"),
        },
    ]
}

#[test]
fn decoding_a_submit_sm_allocates_only_its_box() {
    let pdu = submit_sm(vec![]);
    let frame = frame_of(&pdu);
    assert_eq!(Pdu::decode(&frame).expect("decode"), pdu);
    let calls = heap_calls(|| Pdu::decode(&frame).expect("decode"));
    assert_eq!(calls, (1, 0), "(allocations, reallocations)");
}

/// Any number of TLVs: the list is sized before it is filled, so it is one
/// allocation and never a reallocation (a `Vec` grown by pushes would
/// reallocate at the 5th TLV).
#[test]
fn decoding_a_submit_sm_with_tlvs_allocates_box_and_tlv_vec() {
    for n in [1, 2, 4, 5, 6, 12] {
        let pdu = submit_sm(six_tlvs().into_iter().cycle().take(n).collect());
        let frame = frame_of(&pdu);
        assert_eq!(Pdu::decode(&frame).expect("decode"), pdu);
        let (allocs, reallocs) = heap_calls(|| Pdu::decode(&frame).expect("decode"));
        assert!(
            allocs <= 2 && allocs + reallocs <= 2,
            "{n} TLVs: {allocs} allocations + {reallocs} reallocations"
        );
    }
}

#[test]
fn decoding_a_receipt_allocates_box_and_tlv_vec() {
    let pdu = Pdu::new(
        7,
        Body::DeliverSm(Box::new(SubmitSm {
            esm_class: 0x04,
            short_message: Bytes::from_static(
                b"id:0192F3A4B5C6 sub:001 dlvrd:001 submit date:2511291015 done date:2511291016 stat:DELIVRD err:000 text:Hello",
            ),
            tlvs: vec![
                Tlv::ReceiptedMessageId(Bytes::from_static(b"0192F3A4B5C6")),
                Tlv::MessageState(2),
                Tlv::NetworkErrorCode {
                    network_type: 3,
                    error_code: 0,
                },
            ],
            ..match submit_sm(vec![]).body {
                Body::SubmitSm(sm) => *sm,
                _ => unreachable!(),
            }
        })),
    );
    let frame = frame_of(&pdu);
    assert_eq!(Pdu::decode(&frame).expect("decode"), pdu);
    assert_eq!(
        heap_calls(|| Pdu::decode(&frame).expect("decode")),
        (2, 0),
        "(allocations, reallocations)"
    );
}

#[test]
fn encoding_into_a_large_enough_buffer_allocates_nothing() {
    let mut buf = BytesMut::with_capacity(1024);
    for pdu in [submit_sm(vec![]), submit_sm(six_tlvs())] {
        let calls = heap_calls(|| {
            buf.clear();
            pdu.encode(&mut buf).expect("encode");
        });
        assert_eq!(calls, (0, 0), "(allocations, reallocations)");
        assert_eq!(&buf[..], &frame_of(&pdu)[..]);
    }
}
