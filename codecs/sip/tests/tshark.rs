//! Cross-check of the encoder against an independent decoder: Wireshark's
//! SIP dissector, through `tshark`.
//!
//! Every message we build (a call, an RFC 3428 MESSAGE, a digest
//! registration, OPTIONS, …) is encoded into its own UDP datagram to or
//! from port 5060 in a pcap file, and `tshark` must see one SIP message in
//! each, with the method or status code we wrote, none of them malformed
//! and no expert error.
//!
//! Skipped (passes) when `tshark` is not on `PATH`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use telegate_sip::{HeaderName, Message, Method, Request, Response};

/// An IPv4 address and UDP port.
type Endpoint = ([u8; 4], u16);

const UAC: Endpoint = ([192, 0, 2, 10], 5062);
const UAS: Endpoint = ([198, 51, 100, 20], 5060);

// ---- pcap writing (libpcap format, LINKTYPE_ETHERNET, IPv4/UDP) ----

/// RFC 1071 checksum over `parts`.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    for part in parts {
        let mut words = part.chunks_exact(2);
        for w in &mut words {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            sum += u32::from(*last) << 8;
        }
    }
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// The pcap file: one Ethernet/IPv4/UDP packet per payload, `from` → `to`.
fn pcap(packets: &[(Endpoint, Endpoint, Bytes)]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xA1B2_C3D4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        out.extend_from_slice(&v.to_le_bytes()); // magic, 2.4, zone, sigfigs, snaplen, Ethernet
    }
    for (i, ((src, sport), (dst, dport), payload)) in packets.iter().enumerate() {
        let udp_len = u16::try_from(8 + payload.len()).expect("fits a datagram");
        let mut udp = Vec::with_capacity(usize::from(udp_len));
        for v in [*sport, *dport, udp_len, 0] {
            udp.extend_from_slice(&v.to_be_bytes());
        }
        udp.extend_from_slice(payload);
        let pseudo = [&src[..], &dst[..], &[0, 17], &udp_len.to_be_bytes()].concat();
        let sum = checksum(&[&pseudo, &udp]);
        udp[6..8].copy_from_slice(&sum.to_be_bytes());

        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(20 + udp_len).to_be_bytes());
        ip.extend_from_slice(&(i as u16).to_be_bytes()); // identification
        ip.extend_from_slice(&[0x40, 0, 64, 17, 0, 0]); // DF, TTL, UDP, checksum
        ip.extend_from_slice(src);
        ip.extend_from_slice(dst);
        let sum = checksum(&[&ip]);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());

        let mut frame = vec![
            0x02, 0, 0, 0, 0, dst[3], 0x02, 0, 0, 0, 0, src[3], 0x08, 0x00,
        ];
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&udp);
        let len = u32::try_from(frame.len()).expect("fits");
        for v in [1_700_000_000 + i as u32, 0, len, len] {
            out.extend_from_slice(&v.to_le_bytes()); // seconds, µs, captured, original
        }
        out.extend_from_slice(&frame);
    }
    out
}

// ---- the messages ----

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

const SDP: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n";

fn request(method: Method, uri: &'static str, cseq: &str, call: &str, branch: &str) -> Request {
    Request::new(method, b(uri))
        .header(
            HeaderName::Via,
            format!("SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK{branch};rport"),
        )
        .header(HeaderName::MaxForwards, "70")
        .header(
            HeaderName::From,
            "\"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl",
        )
        .header(
            HeaderName::To,
            "<sip:+447700900123@carrier.example.net;user=phone>",
        )
        .header(HeaderName::CallId, format!("{call}@192.0.2.10"))
        .header(HeaderName::CSeq, cseq.to_string())
}

/// Messages in the order they travel, with `true` for UAC → UAS.
fn messages() -> Vec<(bool, Message)> {
    let invite = request(
        Method::Invite,
        "sip:+447700900123@carrier.example.net;user=phone",
        "1 INVITE",
        "3848276298220188511",
        "74bf9",
    )
    .header(
        HeaderName::Contact,
        "<sip:alice@192.0.2.10:5062;transport=udp>",
    )
    .header(
        HeaderName::Allow,
        "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE",
    )
    .header(HeaderName::Supported, "replaces, timer")
    .header(
        HeaderName::from_static("P-Asserted-Identity"),
        "<tel:+15551234567>",
    )
    .body("application/sdp", SDP)
    .build()
    .expect("INVITE");
    let trying = Response::for_request(&invite, 100).build().expect("100");
    let ringing = Response::for_request(&invite, 180)
        .to_tag("as7d3f")
        .build()
        .expect("180");
    let ok = Response::for_request(&invite, 200)
        .to_tag("as7d3f")
        .header(HeaderName::Contact, "<sip:gw@198.51.100.20:5060>")
        .body(
            "application/sdp",
            SDP.replace("192.0.2.10", "198.51.100.20"),
        )
        .build()
        .expect("200");
    let ack = request(
        Method::Ack,
        "sip:gw@198.51.100.20:5060",
        "1 ACK",
        "3848276298220188511",
        "74bfa",
    )
    .build()
    .expect("ACK");
    let bye = request(
        Method::Bye,
        "sip:gw@198.51.100.20:5060",
        "2 BYE",
        "3848276298220188511",
        "74bfb",
    )
    .build()
    .expect("BYE");
    let bye_ok = Response::for_request(&bye, 200).build().expect("200 BYE");

    let message = request(
        Method::Message,
        "sip:+447700900123@carrier.example.net;user=phone",
        "1 MESSAGE",
        "a7c9e1",
        "m1",
    )
    .body(
        "text/plain;charset=UTF-8",
        "Your Telegate code is 482913. Привет!",
    )
    .build()
    .expect("MESSAGE");
    let accepted = Response::for_request(&message, 202)
        .to_tag("sms1")
        .build()
        .expect("202");

    let register = Request::new(Method::Register, b("sip:registrar.example.net"))
        .header(
            HeaderName::Via,
            "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKr1",
        )
        .header(HeaderName::MaxForwards, "70")
        .header(HeaderName::From, "<sip:alice@example.net>;tag=r1")
        .header(HeaderName::To, "<sip:alice@example.net>")
        .header(HeaderName::CallId, "reg-1@192.0.2.10")
        .header(HeaderName::CSeq, "1 REGISTER")
        .header(
            HeaderName::Contact,
            "<sip:alice@192.0.2.10:5062>;expires=3600",
        )
        .build()
        .expect("REGISTER");
    let challenge = Response::for_request(&register, 401)
        .to_tag("reg")
        .header(
            HeaderName::WwwAuthenticate,
            "Digest realm=\"example.net\", nonce=\"84a4cc6f3082121f32b42a2187831a9e\", algorithm=MD5, qop=\"auth\"",
        )
        .build()
        .expect("401");
    let register2 = Request::new(Method::Register, b("sip:registrar.example.net"))
        .header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKr2")
        .header(HeaderName::MaxForwards, "70")
        .header(HeaderName::From, "<sip:alice@example.net>;tag=r1")
        .header(HeaderName::To, "<sip:alice@example.net>")
        .header(HeaderName::CallId, "reg-1@192.0.2.10")
        .header(HeaderName::CSeq, "2 REGISTER")
        .header(HeaderName::Contact, "<sip:alice@192.0.2.10:5062>;expires=3600")
        .header(
            HeaderName::Authorization,
            "Digest username=\"alice\", realm=\"example.net\", nonce=\"84a4cc6f3082121f32b42a2187831a9e\", uri=\"sip:registrar.example.net\", response=\"7587245234b3434cc3412213e5f113a5\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"",
        )
        .build()
        .expect("REGISTER 2");
    let registered = Response::for_request(&register2, 200)
        .to_tag("reg")
        .header(
            HeaderName::Contact,
            "<sip:alice@192.0.2.10:5062>;expires=3600",
        )
        .header(HeaderName::Expires, "3600")
        .build()
        .expect("200 REGISTER");

    let options = request(
        Method::Options,
        "sip:carrier.example.net",
        "1 OPTIONS",
        "opt-1",
        "o1",
    )
    .header(HeaderName::Accept, "application/sdp")
    .build()
    .expect("OPTIONS");
    let busy = Response::for_request(&options, 486)
        .to_tag("b")
        .build()
        .expect("486");
    let info = request(
        Method::Info,
        "sip:gw@198.51.100.20:5060",
        "3 INFO",
        "3848276298220188511",
        "i1",
    )
    .body("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n")
    .build()
    .expect("INFO");

    // Compact forms and a folded line, parsed and written again in long form.
    let compact = Message::parse(b("OPTIONS sip:carrier.example.net SIP/2.0\r\n\
v: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKc1\r\n\
f: <sip:alice@atlanta.example.com>;tag=c1\r\n\
t: <sip:carrier.example.net>\r\n\
i: compact-1@192.0.2.10\r\n\
CSeq: 7\r\n  OPTIONS\r\n\
Max-Forwards: 70\r\n\
l: 0\r\n\r\n"))
    .expect("compact");

    vec![
        (true, invite),
        (false, trying),
        (false, ringing),
        (false, ok),
        (true, ack),
        (true, message),
        (false, accepted),
        (true, register),
        (false, challenge),
        (true, register2),
        (false, registered),
        (true, options),
        (false, busy),
        (true, info),
        (true, compact),
        (true, bye),
        (false, bye_ok),
    ]
}

// ---- running tshark ----

/// Removes the file when dropped, even if the test fails.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tshark(file: &Path, extra: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args(["-d", "udp.port==5060,sip"])
        .args(extra)
        .output()
        .expect("run tshark");
    // As root tshark warns on stderr; only the exit status counts.
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tshark output is UTF-8")
}

/// Per frame: (methods, status codes, malformed, expert severities, messages).
type Row = (String, String, bool, Vec<u32>, String);

fn frames(file: &Path) -> BTreeMap<u32, Row> {
    let fields = [
        "frame.number",
        "sip.Method",
        "sip.Status-Code",
        "_ws.malformed",
        "_ws.expert.severity",
        "_ws.expert.message",
    ];
    let mut args = vec![
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ];
    for f in &fields {
        args.extend(["-e", f]);
    }
    let out = tshark(file, &args);
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let col = |i: usize| cols.get(i).copied().unwrap_or("").trim().to_string();
            let severities = col(4)
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().expect("severity"))
                .collect();
            let n = col(0).parse().expect("frame number");
            (n, (col(1), col(2), !col(3).is_empty(), severities, col(5)))
        })
        .collect()
}

/// Wireshark's PI_ERROR and PI_WARN expert severities.
const PI_ERROR: u32 = 0x0080_0000;
const PI_WARN: u32 = 0x0060_0000;

#[test]
fn tshark_dissects_every_message() {
    match Command::new("tshark").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!("skipping: tshark --version failed ({})", o.status);
            return;
        }
        Err(e) => {
            eprintln!("skipping: tshark not found on PATH ({e})");
            return;
        }
    }
    let messages = messages();
    let packets: Vec<_> = messages
        .iter()
        .map(|(to_uas, m)| {
            let (from, to) = if *to_uas { (UAC, UAS) } else { (UAS, UAC) };
            (from, to, m.to_bytes())
        })
        .collect();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let file = TempFile(std::env::temp_dir().join(format!(
        "telegate-sip-tshark-{}-{nanos}.pcap",
        std::process::id()
    )));
    std::fs::write(&file.0, pcap(&packets)).expect("write pcap");

    let seen = frames(&file.0);
    assert_eq!(seen.len(), messages.len(), "one frame per message");
    let mut problems = Vec::new();
    for (i, (_, m)) in messages.iter().enumerate() {
        let frame = i as u32 + 1;
        let (methods, statuses, malformed, severities, text) = &seen[&frame];
        let (want_method, want_status) = match m.method() {
            Some(method) => (method.to_string(), String::new()),
            None => (String::new(), m.status().expect("response").to_string()),
        };
        if (methods, statuses) != (&want_method, &want_status) {
            problems.push(format!(
                "frame {frame}: tshark saw method {methods:?} status {statuses:?}, we wrote {want_method:?} {want_status:?}"
            ));
        }
        if *malformed || severities.iter().any(|&s| s >= PI_ERROR) {
            problems.push(format!(
                "frame {frame} ({want_method}{want_status}): malformed or error: {text}"
            ));
        } else if severities.iter().any(|&s| s >= PI_WARN) {
            eprintln!("tshark warning, frame {frame}: {text}");
        }
    }
    if !problems.is_empty() {
        let detail = tshark(&file.0, &["-V"]);
        panic!("{}\n\n{detail}", problems.join("\n"));
    }
    // The count of SIP messages tshark recognised, by method and status.
    let sip = tshark(
        &file.0,
        &["-Y", "sip", "-T", "fields", "-e", "frame.number"],
    );
    assert_eq!(
        sip.lines().filter(|l| !l.trim().is_empty()).count(),
        messages.len()
    );
}
