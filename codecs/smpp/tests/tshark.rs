//! Cross-check of the encoder against an independent decoder: Wireshark's
//! SMPP dissector, through `tshark`.
//!
//! Every PDU is written into a pcap file, each in its own TCP segment of
//! one connection to port 2775 (after a SYN / SYN-ACK / ACK handshake), and
//! `tshark` must see as many SMPP PDUs as were written, with the same
//! `command_id`s, none of them malformed and no expert error.
//!
//! Skipped (passes) when `tshark` is not on `PATH`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use telegate_smpp::pdu::{Body, DeliverSm, DestAddress, SubmitMulti, SubmitSm};
use telegate_smpp::receipt::{Receipt, ReceiptDate, ReceiptErr, ReceiptStat};
use telegate_smpp::text::{self, Concat, SplitOptions};
use telegate_smpp::{Address, CommandId, Npi, Pdu, Tlv, Ton};

/// The port Wireshark's SMPP dissector is also forced onto with `-d`.
const SMPP_PORT: u16 = 2775;
const ESME_PORT: u16 = 40_000;
const ESME_IP: [u8; 4] = [10, 0, 0, 1];
const SMSC_IP: [u8; 4] = [10, 0, 0, 2];

// ---- pcap writing (libpcap format, LINKTYPE_ETHERNET) ----

/// One's-complement sum of 16-bit big-endian words (RFC 1071), not yet
/// inverted.
fn ones_sum(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for w in &mut chunks {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

#[derive(Clone, Copy)]
struct Side {
    ip: [u8; 4],
    port: u16,
    mac: [u8; 6],
    /// Next sequence number this side sends.
    seq: u32,
}

const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

struct Pcap {
    out: Vec<u8>,
    ip_id: u16,
    usecs: u64,
}

impl Pcap {
    fn new() -> Pcap {
        let mut out = Vec::new();
        out.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes()); // magic, µs
        out.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        out.extend_from_slice(&65_535u32.to_le_bytes()); // snaplen
        out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        Pcap {
            out,
            ip_id: 1,
            usecs: 1_700_000_000_000_000,
        }
    }

    /// Appends one Ethernet / IPv4 / TCP packet from `from` to `to`
    /// carrying `payload`, and advances `from`'s sequence number.
    fn segment(&mut self, from: &mut Side, to: &Side, flags: u8, payload: &[u8]) {
        let tcp_len = 20 + payload.len();
        let ip_len = 20 + tcp_len;
        let ack = if flags & ACK != 0 { to.seq } else { 0 };

        let mut tcp = Vec::with_capacity(tcp_len);
        tcp.extend_from_slice(&from.port.to_be_bytes());
        tcp.extend_from_slice(&to.port.to_be_bytes());
        tcp.extend_from_slice(&from.seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        tcp.push(5 << 4); // data offset: 5 words, no options
        tcp.push(flags);
        tcp.extend_from_slice(&65_535u16.to_be_bytes()); // window
        tcp.extend_from_slice(&[0, 0]); // checksum, below
        tcp.extend_from_slice(&[0, 0]); // urgent pointer
        tcp.extend_from_slice(payload);
        // TCP checksum over the IPv4 pseudo-header (RFC 793 §3.1).
        let mut pseudo = Vec::with_capacity(12);
        pseudo.extend_from_slice(&from.ip);
        pseudo.extend_from_slice(&to.ip);
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&(tcp_len as u16).to_be_bytes());
        let sum = fold(ones_sum(ones_sum(0, &pseudo), &tcp));
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());

        let mut ip = Vec::with_capacity(20);
        ip.push(0x45); // IPv4, IHL 5
        ip.push(0); // DSCP / ECN
        ip.extend_from_slice(&u16::try_from(ip_len).expect("fits").to_be_bytes());
        ip.extend_from_slice(&self.ip_id.to_be_bytes());
        ip.extend_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
        ip.push(64); // TTL
        ip.push(6); // TCP
        ip.extend_from_slice(&[0, 0]); // header checksum, below
        ip.extend_from_slice(&from.ip);
        ip.extend_from_slice(&to.ip);
        let sum = fold(ones_sum(0, &ip));
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(fold(ones_sum(0, &ip)), 0, "IPv4 checksum verifies");
        self.ip_id = self.ip_id.wrapping_add(1);

        let mut frame = Vec::with_capacity(14 + ip_len);
        frame.extend_from_slice(&to.mac);
        frame.extend_from_slice(&from.mac);
        frame.extend_from_slice(&0x0800u16.to_be_bytes());
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&tcp);

        self.usecs += 1_000;
        let len = u32::try_from(frame.len()).expect("fits");
        self.out
            .extend_from_slice(&((self.usecs / 1_000_000) as u32).to_le_bytes());
        self.out
            .extend_from_slice(&((self.usecs % 1_000_000) as u32).to_le_bytes());
        self.out.extend_from_slice(&len.to_le_bytes()); // captured
        self.out.extend_from_slice(&len.to_le_bytes()); // original
        self.out.extend_from_slice(&frame);

        let used = payload.len() as u32 + u32::from(flags & SYN != 0);
        from.seq = from.seq.wrapping_add(used);
    }
}

/// Writes the handshake and then one segment per PDU: requests from the
/// ESME to port 2775, responses back. Returns the pcap file's bytes and,
/// for each PDU, the frame number (from 1) it travels in.
fn capture(pdus: &[Bytes]) -> (Vec<u8>, Vec<u32>) {
    let mut esme = Side {
        ip: ESME_IP,
        port: ESME_PORT,
        mac: [0x02, 0, 0, 0, 0, 0x01],
        seq: 0x1000_0000,
    };
    let mut smsc = Side {
        ip: SMSC_IP,
        port: SMPP_PORT,
        mac: [0x02, 0, 0, 0, 0, 0x02],
        seq: 0x7000_0000,
    };
    let mut pcap = Pcap::new();
    pcap.segment(&mut esme, &smsc, SYN, &[]);
    pcap.segment(&mut smsc, &esme, SYN | ACK, &[]);
    pcap.segment(&mut esme, &smsc, ACK, &[]);
    let mut frames = Vec::new();
    let mut frame = 3;
    for pdu in pdus {
        let id = u32::from_be_bytes(pdu[4..8].try_into().expect("header"));
        if CommandId(id).is_response() {
            pcap.segment(&mut smsc, &esme, PSH | ACK, pdu);
        } else {
            pcap.segment(&mut esme, &smsc, PSH | ACK, pdu);
        }
        frame += 1;
        frames.push(frame);
    }
    (pcap.out, frames)
}

// ---- the PDUs ----

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

fn intl(digits: &'static [u8]) -> Address {
    Address::new(Ton::INTERNATIONAL, Npi::ISDN, b(digits))
}

/// A few PDUs as a gateway really sends and receives them.
fn realistic() -> Vec<Pdu> {
    // Second part of a long Cyrillic text: UCS-2 with an 8-bit
    // concatenation UDH.
    let long = "Привет! Это длинное сообщение, которое не помещается в одну часть SMS, \
                поэтому его отправляют в нескольких частях с заголовком UDH.";
    let split =
        text::split(long, &SplitOptions::new(Concat::Udh8 { reference: 0x42 })).expect("splits");
    assert_eq!(split.data_coding, 0x08, "UCS-2 chosen");
    assert!(split.segments.len() > 1, "needs concatenation");
    let part = &split.segments[1];
    let submit_udh = SubmitSm {
        service_type: Bytes::new(),
        source: Address::new(Ton::ALPHANUMERIC, Npi::UNKNOWN, b(b"Telegate")),
        dest: intl(b"79161234567"),
        esm_class: 0x40,
        registered_delivery: 1,
        data_coding: split.data_coding,
        short_message: part.short_message(),
        ..SubmitSm::default()
    };

    let receipt = Receipt {
        sub: Some(1),
        dlvrd: Some(1),
        submit_date: ReceiptDate::parse(b"2611291015"),
        done_date: ReceiptDate::parse(b"2611291016"),
        stat: Some(ReceiptStat::Delivered),
        err: Some(ReceiptErr::from_code(0)),
        text: Some(b(b"Hello from Telegate")),
        ..Receipt::new(b(b"0192f3a4b5c6d7e8"))
    };
    let deliver_receipt = DeliverSm {
        source: intl(b"447700900123"),
        dest: Address::new(Ton::ALPHANUMERIC, Npi::UNKNOWN, b(b"Telegate")),
        esm_class: 0x04,
        short_message: receipt.format().into(),
        tlvs: vec![
            Tlv::ReceiptedMessageId(b(b"0192f3a4b5c6d7e8")),
            Tlv::MessageState(2),
        ],
        ..SubmitSm::default()
    };

    let multi = SubmitMulti {
        service_type: b(b"CMT"),
        source: intl(b"447700900000"),
        dests: vec![
            DestAddress::Sme(intl(b"447700900001")),
            DestAddress::Sme(Address::new(Ton::NATIONAL, Npi::ISDN, b(b"07700900002"))),
            DestAddress::DistributionList(b(b"night-shift")),
        ],
        esm_class: 0,
        protocol_id: 0,
        priority_flag: 0,
        schedule_delivery_time: Bytes::new(),
        validity_period: b(b"000001000000000R"),
        registered_delivery: 1,
        replace_if_present_flag: 0,
        data_coding: 0,
        sm_default_msg_id: 0,
        short_message: b(b"Shift starts at 22:00"),
        tlvs: vec![Tlv::UserMessageReference(77)],
    };

    let base = 1000;
    vec![
        Pdu::new(base, Body::SubmitSm(Box::new(submit_udh))),
        Pdu::new(base + 1, Body::DeliverSm(Box::new(deliver_receipt))),
        Pdu::new(base + 2, Body::SubmitMulti(Box::new(multi))),
    ]
}

/// Adjusts the PDUs where Wireshark's SMPP dissector cannot follow, so the
/// rest of each PDU is still checked. The dissector parses each known TLV
/// by its structure and advances by what it read, not by the TLV's length
/// field, so one disagreement desynchronises every following TLV and the
/// packet is reported malformed.
///
/// * `broadcast_rep_num` (tag 0x0604): we write 2 octets, as oserl and
///   node-smpp read SMPP 5.0; Wireshark (checked with 4.0.17,
///   `packet-smpp.c`) and rusmpp read one. Left out here; our decoder
///   accepts both forms.
/// * `source_telematics_id` (tag 0x0010): SMPP 5.0, smpplib, oserl and
///   rusmpp give it 2 octets (like `dest_telematics_id`), which is what we
///   write; Wireshark 4.0 reads one (an SMPP 3.4 reading). Left out here;
///   our decoder accepts both forms.
fn wireshark_compatible(mut pdu: Pdu) -> Pdu {
    let fix = |tlvs: &mut Vec<Tlv>| {
        tlvs.retain(|t| !matches!(t, Tlv::BroadcastRepNum(_) | Tlv::SourceTelematicsId(_)));
    };
    match &mut pdu.body {
        Body::SubmitSm(b) | Body::DeliverSm(b) => fix(&mut b.tlvs),
        Body::BroadcastSm(b) => fix(&mut b.tlvs),
        _ => {}
    }
    pdu
}

fn pdus() -> Vec<Pdu> {
    Pdu::examples()
        .into_iter()
        // `Body::Other` is a made-up command_id (0x00000222) with an opaque
        // body: no dissector knows it, so there is nothing to cross-check
        // (Wireshark would only label it an unknown operation).
        .filter(|p| !matches!(p.body, Body::Other { .. }))
        .map(wireshark_compatible)
        .chain(realistic())
        .collect()
}

// ---- running tshark ----

/// Removes the file when dropped, even if the test fails.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_pcap() -> TempFile {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    TempFile(std::env::temp_dir().join(format!(
        "telegate-smpp-tshark-{}-{nanos}.pcap",
        std::process::id()
    )))
}

fn tshark(file: &Path, extra: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args(["-d", "tcp.port==2775,smpp"])
        .args(extra)
        .output()
        .expect("run tshark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // As root (as in CI) tshark warns "Running as user "root" and group
    // "root". This could be dangerous." on stderr: only the exit status
    // counts.
    assert!(out.status.success(), "tshark failed: {stderr}");
    String::from_utf8(out.stdout).expect("tshark output is UTF-8")
}

/// One line of `-T fields` output.
#[derive(Debug, Default)]
struct FrameInfo {
    command_ids: Vec<u32>,
    malformed: bool,
    /// Expert severities (Wireshark's PI_* values: 0x00800000 is error).
    severities: Vec<u32>,
    messages: String,
}

const PI_ERROR: u32 = 0x0080_0000;
const PI_WARN: u32 = 0x0060_0000;

fn parse_num(s: &str) -> u32 {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|e| panic!("bad number {s:?} in tshark output: {e}"))
}

fn list(s: &str) -> Vec<u32> {
    s.split(',')
        .filter(|v| !v.trim().is_empty())
        .map(parse_num)
        .collect()
}

fn frames(file: &Path) -> BTreeMap<u32, FrameInfo> {
    let out = tshark(
        file,
        &[
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
            "-e",
            "frame.number",
            "-e",
            "smpp.command_id",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.expert.severity",
            "-e",
            "_ws.expert.message",
        ],
    );
    let mut map = BTreeMap::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let col = |i: usize| cols.get(i).copied().unwrap_or("");
        let info = FrameInfo {
            command_ids: list(col(1)),
            malformed: !col(2).trim().is_empty(),
            severities: list(col(3)),
            messages: col(4).to_string(),
        };
        map.insert(parse_num(col(0)), info);
    }
    map
}

#[test]
fn tshark_dissects_every_pdu() {
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

    let pdus = pdus();
    let encoded: Vec<Bytes> = pdus
        .iter()
        .map(|p| p.to_bytes().unwrap_or_else(|e| panic!("{p:?}: {e}")))
        .collect();
    let (pcap, frame_of) = capture(&encoded);
    let file = temp_pcap();
    std::fs::write(&file.0, &pcap).expect("write pcap");

    let seen = frames(&file.0);
    assert_eq!(
        seen.len(),
        frame_of.len() + 3,
        "tshark read a different number of frames"
    );

    let mut problems = Vec::new();
    let mut bad = std::collections::BTreeSet::new();
    let mut warnings = Vec::new();
    for (frame, info) in &seen {
        let name = frame_of
            .iter()
            .position(|f| f == frame)
            .map_or("handshake".to_string(), |i| {
                let id = pdus[i].command_id();
                format!("{} ({:#010x})", id.name().unwrap_or("?"), id.0)
            });
        if info.malformed {
            bad.insert(*frame);
            problems.push(format!(
                "frame {frame} {name}: malformed: {}",
                info.messages
            ));
        }
        if info.severities.iter().any(|&s| s >= PI_ERROR) {
            bad.insert(*frame);
            problems.push(format!(
                "frame {frame} {name}: expert error: {}",
                info.messages
            ));
        } else if info.severities.iter().any(|&s| s >= PI_WARN) {
            warnings.push(format!("frame {frame} {name}: {}", info.messages));
        }
    }
    for w in &warnings {
        eprintln!("tshark warning: {w}");
    }
    if !problems.is_empty() {
        let filter: Vec<String> = bad.iter().map(|f| format!("frame.number == {f}")).collect();
        let detail = tshark(&file.0, &["-V", "-Y", &filter.join(" || ")]);
        panic!("{}\n\n{detail}", problems.join("\n"));
    }

    let ids: Vec<u32> = seen.values().flat_map(|f| f.command_ids.clone()).collect();
    let expected: Vec<u32> = pdus.iter().map(|p| p.command_id().0).collect();
    assert_eq!(
        ids.len(),
        expected.len(),
        "tshark saw {} SMPP PDUs, {} were written",
        ids.len(),
        expected.len()
    );
    for (i, (&frame, pdu)) in frame_of.iter().zip(&pdus).enumerate() {
        let got = seen
            .get(&frame)
            .map(|f| f.command_ids.clone())
            .unwrap_or_default();
        assert_eq!(
            got,
            [pdu.command_id().0],
            "PDU {i} ({:?}) in frame {frame}",
            pdu.command_id().name()
        );
    }
}
