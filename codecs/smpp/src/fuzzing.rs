//! Entry points for the fuzz targets in `fuzz/`. Each one asserts the
//! properties the codec promises: no panic, and decode → encode → decode
//! gives the same value.
//!
//! | target      | function              |
//! |-------------|-----------------------|
//! | `pdu`       | [`frame_and_decode`]  |
//! | `pdu_frame` | [`decode_patched`]    |
//! | `text`      | [`text()`]            |
//! | `udh`       | [`udh()`]             |
//! | `receipt`   | [`receipt()`]         |

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeErrorKind, Field};
use crate::frame::Framer;
use crate::pdu::{Pdu, HEADER_LEN};
use crate::receipt::{Receipt, ReceiptDate, RECEIPT_TEXT_CHARS};
use crate::text::{self, gsm7, latin1, ucs2, Alphabet, Concat, SplitOptions, TextError};
use crate::time::{validate_time_field, AbsoluteTime, SmppTime, TIME_LEN};
use crate::udh::{fill_bits, Udh};

/// Frames a byte stream and decodes every frame; every PDU that decodes
/// must encode, and decode again to the same value.
pub fn frame_and_decode(data: &[u8]) {
    let framer = Framer::new(4096);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = framer.next_frame(&mut buf) {
        decode_one(&frame);
    }
}

/// Decodes one frame (as if already framed) and checks the round trip.
pub fn decode_one(frame: &Bytes) {
    let pdu = match Pdu::decode(frame) {
        Ok(p) => p,
        Err(e) => {
            // Every error must produce an answer (or none, for responses),
            // and that answer must encode.
            if let Some(r) = e.response() {
                r.to_bytes().expect("error response encodes");
            }
            let _ = e.to_string();
            return;
        }
    };
    let encoded = match pdu.to_bytes() {
        Ok(b) => b,
        // The one thing accepted on input but never written: a 255-octet
        // short_message (§5.2.22 allows 254).
        Err(e) if e.field == Field::ShortMessage && e.kind == DecodeErrorKind::TooLong => return,
        Err(e) => panic!("decoded PDU does not encode: {e}: {pdu:?}"),
    };
    let again = Pdu::decode(&encoded).expect("re-decode");
    assert_eq!(pdu, again);
}

/// Like [`decode_one`], but first overwrites `command_length` with the
/// input's length (when there is a whole header), so the fuzzer spends its
/// time in body parsing rather than in finding a matching length.
pub fn decode_patched(data: &[u8]) {
    let mut frame = data.to_vec();
    if let (Ok(len), Some(head)) = (u32::try_from(frame.len()), frame.get_mut(..4)) {
        if len >= HEADER_LEN as u32 {
            head.copy_from_slice(&len.to_be_bytes());
        }
    }
    decode_one(&Bytes::from(frame));
}

/// Text decoding and splitting. The first octet is the `data_coding`, the
/// rest the `short_message`.
///
/// * Decoding (with and without a UDH) never panics.
/// * Text that decodes re-encodes, in the same alphabet, to octets that
///   decode to the same text; for the one-to-one alphabets (ASCII,
///   Latin-1, UCS-2, ISO-8859-5/-8) to the very same octets.
/// * [`text::split()`] of the text, for every concatenation method, with and
///   without Latin-1, fails only for too many segments or too long a
///   payload, agrees with [`text::count_segments`], and its segments decode
///   one by one and join back into the text.
pub fn text(data: &[u8]) {
    let Some((&dc, rest)) = data.split_first() else {
        return;
    };
    if let Err(e) = text::decode_with_udh(dc, 0x40, rest) {
        let _ = e.to_string();
    }
    let s = match text::decode(dc, rest) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let alphabet = Alphabet::from_data_coding(dc);
    let (encoded, exact) = match alphabet {
        Alphabet::Gsm7 => (gsm7::encode_unpacked(&s), false),
        Alphabet::Ascii => (Ok(s.as_bytes().to_vec()), true),
        Alphabet::Latin1 => (latin1::encode(&s), true),
        Alphabet::Ucs2 => (Ok(ucs2::encode(&s)), true),
        Alphabet::Cyrillic => (text::cyrillic::encode(&s), true),
        Alphabet::Hebrew => (text::hebrew::encode(&s), true),
        Alphabet::Binary | Alphabet::Other(_) => {
            panic!("data_coding {dc:#04x} ({alphabet:?}) decoded as text")
        }
    };
    let encoded = encoded
        .unwrap_or_else(|e| panic!("decoded {alphabet:?} text does not re-encode: {e}: {s:?}"));
    if exact {
        assert_eq!(encoded, rest, "{alphabet:?} re-encoding differs");
    }
    let again = text::decode(dc, &encoded)
        .unwrap_or_else(|e| panic!("re-encoded {alphabet:?} text does not decode: {e}"));
    assert_eq!(again, s, "{alphabet:?} decode(encode(text)) differs");

    let methods = [
        Concat::Udh8 { reference: dc },
        Concat::Udh16 {
            reference: u16::from_be_bytes([dc, 0x5A]),
        },
        Concat::Sar {
            reference: u16::from(dc),
        },
        Concat::Payload,
    ];
    for concat in methods {
        for allow_latin1 in [false, true] {
            let opts = SplitOptions {
                concat,
                allow_latin1,
            };
            let counted = text::count_segments(&s, &opts);
            let split = match text::split(&s, &opts) {
                Ok(split) => split,
                Err(TextError::TooManySegments { .. } | TextError::TooLong { .. }) => continue,
                Err(e) => panic!("split {concat:?} failed: {e}: {s:?}"),
            };
            assert_eq!(
                counted,
                Ok((split.alphabet, split.segments.len())),
                "count_segments disagrees with split {concat:?}"
            );
            let mut whole = String::with_capacity(s.len());
            for seg in &split.segments {
                let part = text::decode(split.data_coding, &seg.payload).unwrap_or_else(|e| {
                    panic!("segment {} of {concat:?} does not decode: {e}", seg.index)
                });
                whole.push_str(&part);
            }
            assert_eq!(whole, s, "segments of {concat:?} do not join back");
        }
    }
}

/// User Data Header parsing. [`Udh::parse`] never panics and agrees with
/// [`Udh::split_off`]; a header that parses encodes back to the very octets
/// it was read from, and those parse to the same header.
pub fn udh(data: &[u8]) {
    let shared = Bytes::copy_from_slice(data);
    let parsed = Udh::parse(data);
    let split = Udh::split_off(&shared);
    let (udh, consumed) = match parsed {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            assert_eq!(split.err(), Some(e), "split_off disagrees with parse");
            return;
        }
    };
    let (udh2, text) = split.expect("split_off fails where parse succeeds");
    assert_eq!(udh2, udh, "split_off disagrees with parse");
    assert_eq!(
        Some(&text[..]),
        data.get(consumed..),
        "split_off's text is not the rest"
    );
    let _ = (udh.concat(), udh.ports());
    assert!(fill_bits(consumed) <= 6);
    let encoded = udh.to_bytes().expect("a parsed UDH encodes");
    assert_eq!(encoded.len(), udh.encoded_len());
    assert_eq!(
        Some(&encoded[..]),
        data.get(..consumed),
        "UDH re-encoding differs"
    );
    let (again, used) = Udh::parse(&encoded).expect("re-encoded UDH parses");
    assert_eq!(again, udh);
    assert_eq!(used, encoded.len());
}

/// Delivery receipts and SMPP times.
///
/// * [`Receipt::parse`] never panics and agrees with [`Receipt::parse_bytes`];
///   a receipt that parses formats to text that parses to the same id and
///   stat, and formatting is then stable.
/// * [`ReceiptDate::parse`] and [`SmppTime::parse`] (of the whole input and
///   of its first 16 octets) never panic; what parses formats to a string
///   that parses to the same value. An absolute time converts to Unix
///   seconds and back to the same instant (within 2000–2099).
pub fn receipt(data: &[u8]) {
    let parsed = Receipt::parse(data);
    assert_eq!(
        parsed,
        Receipt::parse_bytes(&Bytes::copy_from_slice(data)),
        "parse_bytes disagrees with parse"
    );
    match parsed {
        Ok(r) => {
            let _ = (r.message_state(), r.err_code(), r.id_keys());
            let formatted = r.format();
            let again = Receipt::parse(&formatted).unwrap_or_else(|e| {
                panic!(
                    "formatted receipt does not parse: {e}: {:?}",
                    String::from_utf8_lossy(&formatted)
                )
            });
            assert_eq!(again.id, r.id, "receipt id does not round trip");
            assert_eq!(again.stat, r.stat, "receipt stat does not round trip");
            assert_eq!(again.format(), formatted, "receipt format is not stable");
            let mut cut = r;
            cut.truncate_text(RECEIPT_TEXT_CHARS);
            cut.redact_text();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }

    if let Some(d) = ReceiptDate::parse(data) {
        let f = d.format();
        assert_eq!(ReceiptDate::parse(&f), Some(d), "receipt date round trip");
        let _ = (d.to_string(), d.to_unix_seconds());
    }

    time(data);
    if let Some(head) = data.get(..TIME_LEN) {
        time(head);
    }
}

/// First and last Unix second of two-digit years 00–99 (2000–2099).
const UNIX_2000: i64 = 946_684_800;
const UNIX_2099_END: i64 = 4_102_444_799;

fn time(s: &[u8]) {
    let _ = validate_time_field(s);
    let t = match SmppTime::parse(s) {
        Ok(t) => t,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let f = t.format();
    assert_eq!(SmppTime::parse(&f), Ok(t), "SMPP time round trip");
    assert_eq!(t.to_string().as_bytes(), &f[..]);
    match t {
        SmppTime::Absolute(a) => {
            let secs = a.to_unix_seconds();
            if (UNIX_2000..=UNIX_2099_END).contains(&secs) {
                let back = AbsoluteTime::from_unix_seconds(secs, a.tenths);
                assert_eq!(back.to_unix_seconds(), secs, "unix seconds round trip");
                assert_eq!(back.tenths, a.tenths);
            }
        }
        SmppTime::Relative(r) => {
            let _ = r.to_seconds();
        }
    }
}
