//! SMPP codec throughput: `telegate-smpp` against the reference `rusmpp`
//! 0.4.0, on the same PDU bytes in the same run.
//!
//! * `decode/*`: ours decodes a frozen `Bytes` frame as the framer hands it
//!   to a session (`Pdu::decode(&frame)`); rusmpp decodes the same bytes the
//!   way its `CommandCodec` does: read `command_length` off a `BytesMut`
//!   read buffer, then `Command::decode(buf, command_length - 4)`. The read
//!   buffer is refilled untimed (`iter_batched_ref`), already in the
//!   shared state a long-lived socket buffer is in, so neither side pays a
//!   copy or a refcount promotion in the timed part. Both drop the decoded
//!   value inside the timed part.
//! * `encode/*`: a PDU each side decoded from the frame (so its fields are
//!   on the heap, as in a gateway, not in the binary's read-only data,
//!   whose alignment against the output buffer made copies vary by 50 %
//!   from run to run) into a reused `BytesMut`, `clear()`ed each
//!   iteration; rusmpp as its `CommandCodec` encoder does it: `length()`,
//!   `reserve`, `put_u32(command_length)`, then `Encode::encode`.
//! * `split/400_chars`: `telegate_smpp::text::split` with 8-bit UDH
//!   concatenation. rusmpp 0.4.0 has a concatenation API only behind its
//!   `extra` feature (`rusmpp-extra/concatenation`), which this workspace
//!   does not enable, so there is no reference line there.
//!
//! Before timing, every input is checked both ways: rusmpp decodes our
//! encoding and re-encodes it byte for byte, and we decode its encoding.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rusmpp::decode::DecodeWithLength;
use rusmpp::encode::Length;
use rusmpp::Command;
use telegate_smpp::frame::Framer;
use telegate_smpp::pdu::{Body, SubmitSm};
use telegate_smpp::text::{split, Alphabet, Concat, SplitOptions};
use telegate_smpp::{Address, Npi, Pdu, Tlv, Ton};

/// A typical MT submit_sm: alphanumeric sender, international recipient,
/// 98 characters of GSM text, receipt requested, no TLVs.
fn submit_sm() -> Pdu {
    Pdu::new(
        0x0001_2345,
        Body::SubmitSm(Box::new(SubmitSm {
            service_type: Bytes::new(),
            source: Address::new(Ton::ALPHANUMERIC, Npi::UNKNOWN, &b"Telegate"[..]),
            dest: Address::new(Ton::INTERNATIONAL, Npi::ISDN, &b"447700900123"[..]),
            esm_class: 0,
            protocol_id: 0,
            priority_flag: 0,
            schedule_delivery_time: Bytes::new(),
            validity_period: Bytes::new(),
            registered_delivery: 1,
            replace_if_present_flag: 0,
            data_coding: 0,
            sm_default_msg_id: 0,
            short_message: Bytes::from_static(
                b"Your Telegate code is 482913. It expires in 10 minutes. Do not share it with anyone, not even us.",
            ),
            tlvs: vec![],
        })),
    )
}

/// The same submit_sm with SAR concatenation, a port, a user reference and
/// a vendor TLV.
fn submit_sm_tlvs() -> Pdu {
    let mut p = submit_sm();
    if let Body::SubmitSm(sm) = &mut p.body {
        sm.tlvs = vec![
            Tlv::UserMessageReference(0x0102),
            Tlv::SarMsgRefNum(0x2A2B),
            Tlv::SarTotalSegments(3),
            Tlv::SarSegmentSeqnum(1),
            Tlv::SourcePort(9200),
            Tlv::Other {
                tag: 0x1401,
                value: Bytes::from_static(b"acct-7781"),
            },
        ];
    }
    p
}

/// A delivery receipt as SMSCs send it: esm_class 0x04, the receipt text
/// in short_message, receipted_message_id and message_state TLVs.
fn deliver_sm_receipt() -> Pdu {
    Pdu::new(
        0x0000_0777,
        Body::DeliverSm(Box::new(SubmitSm {
            service_type: Bytes::new(),
            source: Address::new(Ton::INTERNATIONAL, Npi::ISDN, &b"447700900123"[..]),
            dest: Address::new(Ton::ALPHANUMERIC, Npi::UNKNOWN, &b"Telegate"[..]),
            esm_class: 0x04,
            protocol_id: 0,
            priority_flag: 0,
            schedule_delivery_time: Bytes::new(),
            validity_period: Bytes::new(),
            registered_delivery: 0,
            replace_if_present_flag: 0,
            data_coding: 0,
            sm_default_msg_id: 0,
            short_message: Bytes::from_static(
                b"id:0192F3A4B5C6 sub:001 dlvrd:001 submit date:2511291015 done date:2511291016 stat:DELIVRD err:000 text:Your Telegate code",
            ),
            tlvs: vec![
                Tlv::ReceiptedMessageId(Bytes::from_static(b"0192F3A4B5C6")),
                Tlv::MessageState(2),
            ],
        })),
    )
}

/// One benchmark input: our PDU, its frame as the framer returns it, and
/// rusmpp's Command for the same bytes.
struct Case {
    name: &'static str,
    pdu: Pdu,
    frame: Bytes,
    command: Command,
}

/// The frame as a session gets it: bytes arrive in the read buffer and the
/// framer splits them off as a frozen `Bytes`.
fn framed(bytes: &[u8]) -> Bytes {
    let mut read_buf = BytesMut::with_capacity(4096);
    read_buf.extend_from_slice(bytes);
    Framer::default()
        .next_frame(&mut read_buf)
        .expect("frame")
        .expect("whole frame")
}

/// rusmpp's `CommandCodec` decoder without its state machine: the
/// `command_length`, then the rest of the command.
fn rusmpp_decode(buf: &mut BytesMut) -> Command {
    let command_length = buf.get_u32() as usize;
    let (command, _) =
        <Command as DecodeWithLength>::decode(buf, command_length - 4).expect("rusmpp decode");
    command
}

/// rusmpp's `CommandCodec` encoder (`Encoder<&Command>`), without tokio.
fn rusmpp_encode(command: &Command, dst: &mut BytesMut) {
    let command_length = 4 + command.length();
    dst.reserve(command_length);
    dst.put_u32(command_length as u32);
    rusmpp::encode::owned::Encode::encode(command, dst);
}

/// A read buffer holding `frame`, in the shared state a socket read buffer
/// is in once a first frame has been split off it.
fn read_buffer(frame: &[u8]) -> BytesMut {
    let mut b = BytesMut::with_capacity(frame.len());
    b.extend_from_slice(frame);
    drop(b.split_to(0));
    b
}

fn case(name: &'static str, pdu: Pdu) -> Case {
    let ours = pdu.to_bytes().expect("encode");
    let frame = framed(&ours);

    // rusmpp reads our bytes...
    let command = rusmpp_decode(&mut BytesMut::from(&ours[..]));
    assert_eq!(u32::from(command.id()), pdu.command_id().0, "{name}");
    assert_eq!(command.sequence_number(), pdu.sequence_number, "{name}");
    // ...and writes them back byte for byte...
    let mut theirs = BytesMut::new();
    rusmpp_encode(&command, &mut theirs);
    assert_eq!(&theirs[..], &ours[..], "{name}: rusmpp re-encoding differs");
    // ...and we read its encoding back to the same PDU.
    let back = Pdu::decode(&framed(&theirs)).expect("decode rusmpp's bytes");
    assert_eq!(back, pdu, "{name}");

    // Both sides encode a PDU they decoded, as a gateway does: its fields
    // live in a received frame on the heap, like rusmpp's.
    Case {
        name,
        pdu: back,
        frame,
        command,
    }
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
}

fn cases() -> Vec<Case> {
    vec![
        case("submit_sm", submit_sm()),
        case("submit_sm_tlvs", submit_sm_tlvs()),
        case("deliver_sm_receipt", deliver_sm_receipt()),
    ]
}

fn decode(c: &mut Criterion) {
    for k in cases() {
        let mut g = c.benchmark_group(format!("decode/{}", k.name));
        g.throughput(Throughput::Elements(1));
        g.bench_function("telegate", |b| {
            b.iter(|| {
                let pdu = Pdu::decode(black_box(&k.frame)).expect("decode");
                black_box(&pdu);
            })
        });
        g.bench_function("rusmpp", |b| {
            b.iter_batched_ref(
                || read_buffer(&k.frame),
                |buf| {
                    let command = rusmpp_decode(black_box(buf));
                    black_box(&command);
                },
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

fn encode(c: &mut Criterion) {
    for k in cases() {
        let mut g = c.benchmark_group(format!("encode/{}", k.name));
        g.throughput(Throughput::Elements(1));
        // The reused buffers start out holding the expected frame.
        let mut buf = BytesMut::with_capacity(1024);
        k.pdu.encode(&mut buf).expect("encode");
        assert_eq!(&buf[..], &k.frame[..]);
        g.bench_function("telegate", |b| {
            b.iter(|| {
                buf.clear();
                black_box(&k.pdu).encode(&mut buf).expect("encode");
                black_box(&buf);
            })
        });
        let mut buf = BytesMut::with_capacity(1024);
        rusmpp_encode(&k.command, &mut buf);
        assert_eq!(&buf[..], &k.frame[..]);
        g.bench_function("rusmpp", |b| {
            b.iter(|| {
                buf.clear();
                rusmpp_encode(black_box(&k.command), &mut buf);
                black_box(&buf);
            })
        });
        g.finish();
    }
}

/// `n` characters of `unit` repeated.
fn text_of(unit: &str, n: usize) -> String {
    unit.chars().cycle().take(n).collect()
}

fn split_400(c: &mut Criterion) {
    let gsm = text_of(
        "Your parcel 7781 is out for delivery today between 10:00 and 14:00. Reply STOP to opt out. ",
        400,
    );
    let ucs2 = text_of(
        "Ваша посылка 7781 будет доставлена сегодня с 10:00 до 14:00. Ответьте СТОП для отказа. ",
        400,
    );
    let opts = SplitOptions::new(Concat::Udh8 { reference: 0x2A });
    let s = split(&gsm, &opts).expect("split gsm");
    assert_eq!((s.alphabet, s.segments.len()), (Alphabet::Gsm7, 3));
    let s = split(&ucs2, &opts).expect("split ucs2");
    assert_eq!((s.alphabet, s.segments.len()), (Alphabet::Ucs2, 6));

    let mut g = c.benchmark_group("split/400_chars");
    g.throughput(Throughput::Elements(1));
    g.bench_function("telegate_gsm7_udh8", |b| {
        b.iter(|| black_box(split(black_box(&gsm), &opts).expect("split")))
    });
    g.bench_function("telegate_ucs2_udh8", |b| {
        b.iter(|| black_box(split(black_box(&ucs2), &opts).expect("split")))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode, encode, split_400
}
criterion_main!(benches);
