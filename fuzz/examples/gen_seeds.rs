//! Writes the committed seed corpus, `corpus/<target>/seed-*`.
//!
//! Run from anywhere: `cargo run --manifest-path fuzz/Cargo.toml --example
//! gen_seeds`. Existing `seed-*` files are replaced; inputs the fuzzer
//! added (other names) are left alone.

mod seed_out;

use telegate_smpp::receipt::{Receipt, ReceiptDate, ReceiptErr, ReceiptStat};
use telegate_smpp::text::{cyrillic, gsm7, hebrew, latin1, ucs2};
use telegate_smpp::Pdu;

use seed_out::Out;

fn with_dc(dc: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![dc];
    v.extend_from_slice(body);
    v
}

fn main() {
    // pdu and pdu_frame: every example PDU; pdu also gets them as one stream.
    let mut pdu = Out::new("pdu");
    let mut pdu_frame = Out::new("pdu_frame");
    let mut stream = Vec::new();
    for p in Pdu::examples() {
        let bytes = p.to_bytes().expect("example encodes");
        let name = p.command_id().name().unwrap_or("unknown").to_string();
        pdu.put(&name, &bytes);
        pdu_frame.put(&name, &bytes);
        stream.extend_from_slice(&bytes);
    }
    pdu.put("stream", &stream);

    // text: first octet is data_coding.
    let mut text = Out::new("text");
    let gsm = |s: &str| gsm7::encode_unpacked(s).expect("GSM text");
    text.put(
        "gsm",
        &with_dc(0x00, &gsm("Hello world! @£$¥èé Δ_ΦΓ ÄÖÑÜ§¿äöñüà")),
    );
    text.put(
        "gsm-ext",
        &with_dc(0x00, &gsm("€ {curly} [square] ~^|\\ \u{0C}")),
    );
    text.put(
        "gsm-esc-edge",
        &[0x00, b'a', 0x1B, 0x1B, b'b', 0x1B, 0x41, 0x1B],
    );
    text.put(
        "gsm-long",
        &with_dc(0x00, &gsm(&"Lorem ipsum € dolor ".repeat(20))),
    );
    text.put("gsm-class0", &with_dc(0xF0, &gsm("Flash!")));
    text.put("gsm-general", &with_dc(0x11, &gsm("general coding")));
    text.put("ascii", &with_dc(0x01, b"plain IA5 text"));
    text.put(
        "latin1",
        &with_dc(
            0x03,
            &latin1::encode("Grüße aus Köln, ça va? ÿ").expect("Latin-1"),
        ),
    );
    text.put(
        "latin1-long",
        &with_dc(0x03, &latin1::encode(&"ç{}".repeat(60)).expect("Latin-1")),
    );
    text.put("ucs2", &with_dc(0x08, &ucs2::encode("Привет 😀 中文 𝄞")));
    text.put(
        "ucs2-long",
        &with_dc(0x08, &ucs2::encode(&"жё😀".repeat(30))),
    );
    text.put("ucs2-general", &with_dc(0x18, &ucs2::encode("Ωmega")));
    text.put("ucs2-mwi", &with_dc(0xE0, &ucs2::encode("voicemail")));
    text.put(
        "cyrillic",
        &with_dc(
            0x06,
            &cyrillic::encode("Привет, мир № 1").expect("ISO-8859-5"),
        ),
    );
    text.put(
        "hebrew",
        &with_dc(0x07, &hebrew::encode("שלום עולם").expect("ISO-8859-8")),
    );
    text.put("binary", &[0x04, 0xDE, 0xAD, 0xBE, 0xEF]);
    let mut udh_text = vec![0x00, 0x05, 0x00, 0x03, 0xCC, 0x02, 0x01];
    udh_text.extend_from_slice(&gsm("second part"));
    text.put("gsm-udh", &udh_text);

    // udh: the header first, maybe followed by text.
    let mut udh = Out::new("udh");
    udh.put("concat8", &[0x05, 0x00, 0x03, 0x2A, 0x03, 0x01, b'h', b'i']);
    udh.put("concat16", &[0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x02]);
    udh.put("port8", &[0x04, 0x04, 0x02, 0xF5, 0x00]);
    udh.put("port16", &[0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x01]);
    udh.put(
        "port16-concat8",
        &[
            0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x07, 0x02, 0x01,
        ],
    );
    udh.put("national-language", &[0x03, 0x24, 0x01, 0x02, b'x']);
    udh.put("empty", &[0x00, b't', b'e', b'x', b't']);

    // receipt: receipts, receipt dates and SMPP times.
    let mut receipt = Out::new("receipt");
    receipt.put(
        "appendix-b",
        b"id:0123456789 sub:001 dlvrd:001 submit date:0610191018 done date:0610191018 stat:DELIVRD err:000 text:Hello world",
    );
    let full = Receipt {
        sub: Some(1),
        dlvrd: Some(0),
        submit_date: ReceiptDate::parse(b"261129101530"),
        done_date: ReceiptDate::parse(b"2611291016"),
        stat: Some(ReceiptStat::Undeliverable),
        err: Some(ReceiptErr::from_code(0x0B)),
        text: Some(b"caf\xc3\xa9 text: with: colons".to_vec().into()),
        ..Receipt::new(b"7f3a9c".to_vec())
    };
    receipt.put("formatted", &full.format());
    receipt.put(
        "lenient",
        b"ID : 0xABCDEF Sub:1 DLVRD:1 Submit_Date:20240229235959 done-date:2402292359 Status:delivered Error:0x1f Text:",
    );
    receipt.put("empty-err", b"id:42 err: text:x");
    receipt.put("stat-other", b"stat:WEIRD id:abc\tdlvrd:99999999999");
    receipt.put("absolute-time", b"261129101500004+");
    receipt.put("absolute-time-west", b"240229235959948-");
    receipt.put("relative-time", b"000001000000000R");
    receipt.put("relative-time-odd", b"991231235959123R");
    receipt.put("receipt-date", b"2402292359");

    for o in [&pdu, &pdu_frame, &text, &udh, &receipt] {
        o.report();
    }
}
