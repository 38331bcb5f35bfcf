//! SIP codec throughput (`telegate-sip`): parse and encode of three
//! typical messages.
//!
//! * `invite_sdp`: an INVITE from a SIP trunk with an SDP offer, about
//!   900 octets, 13 headers;
//! * `message`: an RFC 3428 MESSAGE carrying an SMS text;
//! * `ok_200`: the 200 OK answering the INVITE, with an SDP answer.
//!
//! `parse/*` parses a frozen `Bytes` frame as `StreamDecoder` hands it
//! over (split off a shared read buffer, so slicing it only counts
//! references); the message is dropped outside the timed part
//! (`iter_with_large_drop`), as the reference's figure (Go, garbage
//! collected) has no destructor in it either. `parse+drop/*` times the
//! drop too (releasing each header's reference to the frame);
//! `parse_validate/*` also checks every typed header
//! (`Message::validate`); `encode/*` writes a parsed message into a
//! reused, `clear()`ed `BytesMut`.
//!
//! For reference, sipgo's parser (Go) is reported at about 2.7 µs per
//! message; there is no Rust SIP parser in this workspace to run beside
//! ours.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use telegate_sip::{HeaderName, Message, Method, Request, Response};

const SDP_OFFER: &str = "v=0\r\n\
o=- 3912675642 3912675642 IN IP4 203.0.113.45\r\n\
s=Telegate\r\n\
c=IN IP4 203.0.113.45\r\n\
t=0 0\r\n\
m=audio 16384 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

fn invite() -> Message {
    Request::new(
        Method::Invite,
        "sip:+447700900123@carrier.example.net:5060;user=phone",
    )
    .header(
        HeaderName::Via,
        "SIP/2.0/UDP 203.0.113.45:5060;branch=z9hG4bK-524287-1---3a1c9e3b7f;rport",
    )
    .header(HeaderName::MaxForwards, "70")
    .header(
        HeaderName::From,
        "\"+15551234567\" <sip:+15551234567@trunk.example.com;user=phone>;tag=7f3c9a21",
    )
    .header(
        HeaderName::To,
        "<sip:+447700900123@carrier.example.net;user=phone>",
    )
    .header(
        HeaderName::CallId,
        "5a9f0c2e-6b1d-4e8f-9c3a-1d2e3f4a5b6c@203.0.113.45",
    )
    .header(HeaderName::CSeq, "1 INVITE")
    .header(
        HeaderName::Contact,
        "<sip:+15551234567@203.0.113.45:5060;transport=udp>",
    )
    .header(
        HeaderName::Allow,
        "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, MESSAGE",
    )
    .header(HeaderName::Supported, "100rel, timer, replaces")
    .header(
        HeaderName::from_static("Session-Expires"),
        "1800;refresher=uac",
    )
    .header(HeaderName::UserAgent, "Telegate/0.1")
    .body("application/sdp", SDP_OFFER)
    .build()
    .expect("INVITE")
}

fn message() -> Message {
    Request::new(
        Method::Message,
        "sip:+447700900123@sms.example.net;user=phone",
    )
    .header(
        HeaderName::Via,
        "SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK776sgdkse",
    )
    .header(HeaderName::MaxForwards, "70")
    .header(HeaderName::From, "<sip:+15551234567@example.com>;tag=49583")
    .header(
        HeaderName::To,
        "<sip:+447700900123@sms.example.net;user=phone>",
    )
    .header(HeaderName::CallId, "asd88asd77a@198.51.100.7")
    .header(HeaderName::CSeq, "1 MESSAGE")
    .body(
        "text/plain;charset=UTF-8",
        "Your Telegate code is 482913. It expires in 10 minutes.",
    )
    .build()
    .expect("MESSAGE")
}

fn ok_200(invite: &Message) -> Message {
    Response::for_request(invite, 200)
        .to_tag("as5f3c9d1e")
        .header(
            HeaderName::Contact,
            "<sip:+447700900123@198.51.100.20:5060>",
        )
        .header(HeaderName::Allow, "INVITE, ACK, CANCEL, BYE, OPTIONS")
        .body(
            "application/sdp",
            SDP_OFFER.replace("203.0.113.45", "198.51.100.20"),
        )
        .build()
        .expect("200")
}

/// The frame as `StreamDecoder` hands it over: split off a read buffer
/// that holds more, so its storage is shared.
fn framed(bytes: &[u8]) -> Bytes {
    let mut read_buf = BytesMut::with_capacity(bytes.len() + 64);
    read_buf.extend_from_slice(bytes);
    read_buf.extend_from_slice(b"OPTIONS ");
    read_buf.split_to(bytes.len()).freeze()
}

fn cases() -> Vec<(&'static str, Bytes)> {
    let inv = invite();
    let ok = ok_200(&inv);
    let cases = vec![
        ("invite_sdp", framed(&inv.to_bytes())),
        ("message", framed(&message().to_bytes())),
        ("ok_200", framed(&ok.to_bytes())),
    ];
    for (name, frame) in &cases {
        let m = Message::parse(frame.clone()).expect("parses");
        m.validate().expect("valid");
        eprintln!(
            "{name}: {} octets, {} headers",
            frame.len(),
            m.headers().len()
        );
    }
    cases
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
}

fn parse(c: &mut Criterion) {
    for (name, frame) in cases() {
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function("telegate", |b| {
            b.iter_with_large_drop(|| Message::parse(black_box(&frame).clone()).expect("parse"))
        });
        g.finish();
        let mut g = c.benchmark_group(format!("parse+drop/{name}"));
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function("telegate", |b| {
            b.iter(|| black_box(Message::parse(black_box(&frame).clone()).expect("parse")))
        });
        g.finish();
        let mut g = c.benchmark_group(format!("parse_validate/{name}"));
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function("telegate", |b| {
            b.iter(|| {
                let m = Message::parse(black_box(&frame).clone()).expect("parse");
                m.validate().expect("valid");
                black_box(m)
            })
        });
        g.finish();
    }
}

fn encode(c: &mut Criterion) {
    for (name, frame) in cases() {
        let m = Message::parse(frame.clone()).expect("parse");
        let mut buf = BytesMut::with_capacity(4096);
        m.encode(&mut buf);
        assert_eq!(&buf[..], &frame[..], "{name}: encoding is byte-exact");
        let mut g = c.benchmark_group(format!("encode/{name}"));
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function("telegate", |b| {
            b.iter(|| {
                buf.clear();
                black_box(&m).encode(&mut buf);
                black_box(&buf);
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse, encode
}
criterion_main!(benches);
