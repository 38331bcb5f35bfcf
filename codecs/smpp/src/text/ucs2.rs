//! UCS-2, SMPP `data_coding` `0x08` (SMPP 3.4 §5.2.19; 3GPP TS 23.038 §6.2.3),
//! handled as UTF-16 big-endian so characters outside the BMP travel as
//! surrogate pairs, as handsets and SMSCs do in practice.
//!
//! [`decode`] is strict: an unpaired surrogate is an error
//! ([`TextError::UnpairedSurrogate`]). [`decode_lossy`] replaces each with
//! U+FFFD instead.

use super::TextError;

/// Encodes `text` as UTF-16BE (two octets per code unit; characters above
/// U+FFFF as a surrogate pair, four octets).
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    encode_into(text, &mut out);
    out
}

/// Like [`encode`], appending to `out`.
pub fn encode_into(text: &str, out: &mut Vec<u8>) {
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
}

/// Number of UTF-16 code units `text` takes (the UCS-2 "character" count
/// that SMS limits are expressed in).
pub fn unit_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

fn units(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes.chunks_exact(2).map(|p| {
        u16::from_be_bytes([
            p.first().copied().unwrap_or(0),
            p.get(1).copied().unwrap_or(0),
        ])
    })
}

/// Decodes UTF-16BE.
///
/// # Errors
/// * [`TextError::OddUcs2Length`] if `bytes` has an odd length.
/// * [`TextError::UnpairedSurrogate`] with the byte offset of a high
///   surrogate not followed by a low one, or of a lone low surrogate.
pub fn decode(bytes: &[u8]) -> Result<String, TextError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(TextError::OddUcs2Length);
    }
    let mut out = String::with_capacity(bytes.len());
    let mut offset = 0usize;
    for r in char::decode_utf16(units(bytes)) {
        match r {
            Ok(c) => {
                out.push(c);
                offset += 2 * c.len_utf16();
            }
            Err(_) => return Err(TextError::UnpairedSurrogate { index: offset }),
        }
    }
    Ok(out)
}

/// Decodes UTF-16BE, replacing each unpaired surrogate with U+FFFD and a
/// trailing odd octet with U+FFFD. Never fails.
pub fn decode_lossy(bytes: &[u8]) -> String {
    let mut out: String = char::decode_utf16(units(bytes))
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if !bytes.len().is_multiple_of(2) {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        assert_eq!(encode("😀"), [0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(encode("Aé"), [0x00, 0x41, 0x00, 0xE9]);
        assert_eq!(decode(&[0xD8, 0x3D, 0xDE, 0x00]).unwrap(), "😀");
        assert_eq!(unit_len("a😀"), 3);
        assert_eq!(decode(&[0x00]), Err(TextError::OddUcs2Length));
        assert_eq!(
            decode(&[0x00, 0x41, 0xD8, 0x3D]),
            Err(TextError::UnpairedSurrogate { index: 2 })
        );
        assert_eq!(
            decode(&[0x00, 0x41, 0xD8, 0x3D, 0x00, 0x41]),
            Err(TextError::UnpairedSurrogate { index: 2 })
        );
        assert_eq!(
            decode(&[0xDE, 0x00, 0x00, 0x41]),
            Err(TextError::UnpairedSurrogate { index: 0 })
        );
        assert_eq!(
            decode_lossy(&[0xDE, 0x00, 0x00, 0x41, 0x00]),
            "\u{FFFD}A\u{FFFD}"
        );
    }

    proptest! {
        #[test]
        fn round_trip(s in any::<String>()) {
            let e = encode(&s);
            prop_assert_eq!(e.len(), 2 * unit_len(&s));
            prop_assert_eq!(decode(&e).unwrap(), s.clone());
            prop_assert_eq!(decode_lossy(&e), s);
        }

        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            if let Ok(s) = decode(&b) {
                prop_assert_eq!(encode(&s), b.clone());
            }
            let _ = decode_lossy(&b);
        }
    }
}
