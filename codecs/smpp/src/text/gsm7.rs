//! GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1
//! and §6.2.1.1), plus 7-bit packing (3GPP TS 23.038 §6.1.2.1.1).
//!
//! SMPP usually carries `data_coding` 0 text *unpacked*: one septet per
//! octet, high bit clear. [`encode_unpacked`] / [`decode_unpacked`] work in
//! that form; [`pack`] / [`unpack`] (and their `_with_fill` variants for
//! text after a User Data Header) convert to and from the packed form used
//! on the air interface.
//!
//! Extension characters (`^ { } \ [ ~ ] | €` and form feed) are sent as the
//! escape septet `0x1B` followed by their code in the extension table, so
//! they count as two septets.

use super::TextError;

/// The escape septet that selects the extension table
/// (3GPP TS 23.038 §6.2.1, code `0x1B`).
pub const ESC: u8 = 0x1B;

/// The default alphabet, indexed by septet (3GPP TS 23.038 §6.2.1).
/// Position `0x1B` (escape) holds a space, which is what a lone escape
/// decodes to.
const BASE: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table entries (3GPP TS 23.038 §6.2.1.1): code after ESC,
/// and the character. `0x0A` is the page break, decoded as form feed.
const EXT: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Marker for "no code" in [`ASCII_CODES`].
const NONE: u16 = 0xFFFF;
/// Flag for "extension table code" in a lookup value.
const EXT_FLAG: u16 = 0x100;

/// Code for each ASCII character: a base septet, `EXT_FLAG | code` for an
/// extension character, or [`NONE`].
const ASCII_CODES: [u16; 128] = build_ascii_codes();

const fn build_ascii_codes() -> [u16; 128] {
    let mut t = [NONE; 128];
    let mut i = 0;
    while i < 128 {
        let c = BASE[i] as u32;
        if i != ESC as usize && c < 128 {
            t[c as usize] = i as u16;
        }
        i += 1;
    }
    let mut j = 0;
    while j < EXT.len() {
        let c = EXT[j].1 as u32;
        if c < 128 {
            t[c as usize] = EXT_FLAG | EXT[j].0 as u16;
        }
        j += 1;
    }
    t
}

/// Looks up `c`: `Some(septet)` or `Some(EXT_FLAG | code)`, `None` if `c`
/// is not in the default alphabet or its extension table.
#[inline]
pub(crate) fn lookup(c: char) -> Option<u16> {
    let v = match c {
        '\0'..='\u{7F}' => ASCII_CODES.get(c as usize).copied().unwrap_or(NONE),
        '£' => 0x01,
        '¥' => 0x03,
        'è' => 0x04,
        'é' => 0x05,
        'ù' => 0x06,
        'ì' => 0x07,
        'ò' => 0x08,
        'Ç' => 0x09,
        'Ø' => 0x0B,
        'ø' => 0x0C,
        'Å' => 0x0E,
        'å' => 0x0F,
        'Δ' => 0x10,
        'Φ' => 0x12,
        'Γ' => 0x13,
        'Λ' => 0x14,
        'Ω' => 0x15,
        'Π' => 0x16,
        'Ψ' => 0x17,
        'Σ' => 0x18,
        'Θ' => 0x19,
        'Ξ' => 0x1A,
        'Æ' => 0x1C,
        'æ' => 0x1D,
        'ß' => 0x1E,
        'É' => 0x1F,
        '¤' => 0x24,
        '¡' => 0x40,
        'Ä' => 0x5B,
        'Ö' => 0x5C,
        'Ñ' => 0x5D,
        'Ü' => 0x5E,
        '§' => 0x5F,
        '¿' => 0x60,
        'ä' => 0x7B,
        'ö' => 0x7C,
        'ñ' => 0x7D,
        'ü' => 0x7E,
        'à' => 0x7F,
        '€' => EXT_FLAG | 0x65,
        _ => NONE,
    };
    (v != NONE).then_some(v)
}

/// Number of septets `c` takes: 1 for the default alphabet, 2 for the
/// extension table (ESC + code), `None` if not representable.
#[inline]
pub(crate) fn char_septets(c: char) -> Option<usize> {
    lookup(c).map(|v| if v & EXT_FLAG != 0 { 2 } else { 1 })
}

/// Whether `c` is in the GSM 7-bit default alphabet or its extension table
/// (3GPP TS 23.038 §6.2.1, §6.2.1.1).
pub fn is_representable(c: char) -> bool {
    lookup(c).is_some()
}

/// Number of septets `text` takes in GSM 7-bit (extension characters count
/// 2, 3GPP TS 23.038 §6.2.1.1), or `None` if some character is not
/// representable.
pub fn septet_len(text: &str) -> Option<usize> {
    text.chars()
        .try_fold(0usize, |n, c| Some(n + char_septets(c)?))
}

/// Encodes `text` as unpacked GSM 7-bit: one septet per octet, extension
/// characters as `0x1B` + code (3GPP TS 23.038 §6.2.1, §6.2.1.1). This is the
/// form SMPP carries for `data_coding` 0 (SMPP 3.4 §5.2.19).
///
/// # Errors
/// [`TextError::Unrepresentable`] with the byte offset in `text` of the first
/// character that the alphabet lacks.
pub fn encode_unpacked(text: &str) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(text.len());
    encode_unpacked_into(text, &mut out)?;
    Ok(out)
}

/// Like [`encode_unpacked`], appending to `out`. On error `out` may hold the
/// septets of the characters before the failing one.
pub fn encode_unpacked_into(text: &str, out: &mut Vec<u8>) -> Result<(), TextError> {
    // Never cuts, so `cuts` never allocates.
    encode_cut(text, usize::MAX, out, &mut Vec::new())
}

/// Encodes `text` unpacked, appending to `out`, and pushes to `cuts` the
/// offset in `out` where each new segment of at most `limit` septets starts
/// (greedy; an escape pair is never cut, so a segment may end one short).
pub(crate) fn encode_cut(
    text: &str,
    limit: usize,
    out: &mut Vec<u8>,
    cuts: &mut Vec<usize>,
) -> Result<(), TextError> {
    out.reserve(text.len());
    let mut seg_start = out.len();
    let bytes = text.as_bytes();
    let mut index = 0;
    while let Some(&b) = bytes.get(index) {
        let (v, advance) = if b < 0x80 {
            // ASCII fast path: one table load per character.
            (ASCII_CODES.get(usize::from(b)).copied().unwrap_or(NONE), 1)
        } else {
            let c = text
                .get(index..)
                .and_then(|t| t.chars().next())
                .ok_or(TextError::Unrepresentable { index })?;
            (lookup(c).unwrap_or(NONE), c.len_utf8())
        };
        if v == NONE {
            return Err(TextError::Unrepresentable { index });
        }
        let ext = v & EXT_FLAG != 0;
        let width = if ext { 2 } else { 1 };
        if out.len() - seg_start + width > limit {
            seg_start = out.len();
            cuts.push(seg_start);
        }
        if ext {
            out.push(ESC);
        }
        out.push((v & 0x7F) as u8);
        index += advance;
    }
    Ok(())
}

fn ext_char(code: u8) -> Option<char> {
    EXT.iter().find(|&&(k, _)| k == code).map(|&(_, c)| c)
}

fn base_char(septet: u8) -> char {
    BASE.get(usize::from(septet)).copied().unwrap_or(' ')
}

/// Decodes unpacked GSM 7-bit (one septet per octet, 3GPP TS 23.038 §6.2.1).
///
/// * ESC followed by a code of the extension table gives that character
///   (§6.2.1.1); ESC followed by a code the table lacks gives the base-table
///   character for that code, as the note to §6.2.1.1 prescribes.
/// * ESC ESC (reserved for a further extension table) decodes as a space,
///   as §6.2.1.1 says a receiver shall display it.
/// * A trailing lone ESC (e.g. a segment cut by a careless sender) decodes
///   as a space rather than failing the whole message.
///
/// # Errors
/// [`TextError::InvalidGsm7Octet`] for an octet above `0x7F`.
pub fn decode_unpacked(septets: &[u8]) -> Result<String, TextError> {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().copied().enumerate();
    while let Some((index, b)) = iter.next() {
        if b > 0x7F {
            return Err(TextError::InvalidGsm7Octet { index });
        }
        if b != ESC {
            out.push(base_char(b));
            continue;
        }
        match iter.next() {
            None => out.push(' '),
            Some((index, code)) if code > 0x7F => {
                return Err(TextError::InvalidGsm7Octet { index });
            }
            Some((_, ESC)) => out.push(' '),
            Some((_, code)) => out.push(ext_char(code).unwrap_or_else(|| base_char(code))),
        }
    }
    Ok(out)
}

/// Packs septets (the low 7 bits of each octet) into octets, first septet in
/// the low bits of the first octet (3GPP TS 23.038 §6.1.2.1.1). Unused high
/// bits of the last octet are zero; 23.038 §6.1.2.3.1's CR padding is not
/// added, the septet count travelling separately (e.g. TP-UDL).
pub fn pack(septets: &[u8]) -> Vec<u8> {
    pack_with_fill(septets, 0)
}

/// Like [`pack`], but the first septet starts after `fill_bits` zero bits,
/// as the text after a User Data Header does (3GPP TS 23.040 §9.2.3.24,
/// see [`crate::udh::fill_bits`]). The output is only the part after the
/// UDH: `ceil((fill_bits + 7 * septets.len()) / 8)` octets.
pub fn pack_with_fill(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let fill = usize::from(fill_bits);
    let total_bits = fill + 7 * septets.len();
    let mut out = vec![0u8; total_bits.div_ceil(8)];
    let mut bit = fill;
    for &s in septets {
        let v = u16::from(s & 0x7F) << (bit % 8);
        let byte = bit / 8;
        if let Some(o) = out.get_mut(byte) {
            *o |= (v & 0xFF) as u8;
        }
        if let Some(o) = out.get_mut(byte + 1) {
            *o |= (v >> 8) as u8;
        }
        bit += 7;
    }
    out
}

/// Unpacks up to `septets` septets from packed octets (3GPP TS 23.038
/// §6.1.2.1.1), one septet per output octet. Stops early, without error, if
/// `packed` holds fewer whole septets.
pub fn unpack(packed: &[u8], septets: usize) -> Vec<u8> {
    unpack_with_fill(packed, septets, 0)
}

/// Like [`unpack`], skipping `fill_bits` leading bits first (text after a
/// User Data Header, 3GPP TS 23.040 §9.2.3.24; `packed` starts after the
/// UDH).
pub fn unpack_with_fill(packed: &[u8], septets: usize, fill_bits: u8) -> Vec<u8> {
    let fill = usize::from(fill_bits);
    let available = packed.len().saturating_mul(8).saturating_sub(fill) / 7;
    let n = septets.min(available);
    let mut out = Vec::with_capacity(n);
    let mut bit = fill;
    for _ in 0..n {
        let byte = bit / 8;
        let lo = u16::from(packed.get(byte).copied().unwrap_or(0));
        let hi = u16::from(packed.get(byte + 1).copied().unwrap_or(0));
        let v = ((hi << 8) | lo) >> (bit % 8);
        out.push((v & 0x7F) as u8);
        bit += 7;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_consistency() {
        for s in 0u8..128 {
            if s == ESC {
                continue;
            }
            let c = base_char(s);
            // 0x20 and 0x1B both show as space; only 0x20 encodes.
            assert_eq!(lookup(c), Some(u16::from(s)), "septet {s:#x} {c:?}");
        }
        for &(code, c) in &EXT {
            assert_eq!(lookup(c), Some(EXT_FLAG | u16::from(code)));
        }
        assert_eq!(lookup('`'), None);
        assert_eq!(lookup('ç'), None);
        assert_eq!(lookup('\t'), None);
        assert_eq!(lookup('😀'), None);
    }

    #[test]
    fn known_answers() {
        let hw = encode_unpacked("hello world").unwrap();
        assert_eq!(hw, b"hello world");
        assert_eq!(
            pack(&hw),
            [0xE8, 0x32, 0x9B, 0xFD, 0x06, 0xDD, 0xDF, 0x72, 0x36, 0x19]
        );
        assert_eq!(unpack(&pack(&hw), 11), hw);
        assert_eq!(encode_unpacked("€").unwrap(), [0x1B, 0x65]);
        assert_eq!(encode_unpacked("[").unwrap(), [0x1B, 0x3C]);
        assert_eq!(encode_unpacked("@£$¥").unwrap(), [0x00, 0x01, 0x02, 0x03]);
        assert_eq!(encode_unpacked("\u{0C}").unwrap(), [0x1B, 0x0A]);
        assert_eq!(
            encode_unpacked("a`b"),
            Err(TextError::Unrepresentable { index: 1 })
        );
        assert_eq!(
            encode_unpacked("éx😀"),
            Err(TextError::Unrepresentable { index: 3 })
        );
        assert_eq!(septet_len("a€{"), Some(5));
        assert_eq!(septet_len("a😀"), None);
        assert!(is_representable('Ω'));
        assert!(!is_representable('ω'));
        // "Hi" packed is 0xC8 0x34.
        assert_eq!(pack(b"Hi"), [0xC8, 0x34]);
        // 8 septets fit 7 octets exactly.
        assert_eq!(pack(b"12345678").len(), 7);
    }

    #[test]
    fn decode_escapes() {
        assert_eq!(decode_unpacked(&[0x1B, 0x65, 0x41]).unwrap(), "€A");
        // Unknown extension code: base-table character.
        assert_eq!(decode_unpacked(&[0x1B, 0x41]).unwrap(), "A");
        // ESC ESC: space.
        assert_eq!(decode_unpacked(&[0x1B, 0x1B, 0x41]).unwrap(), " A");
        // Trailing lone ESC: space.
        assert_eq!(decode_unpacked(&[0x41, 0x1B]).unwrap(), "A ");
        assert_eq!(
            decode_unpacked(&[0x41, 0x80]),
            Err(TextError::InvalidGsm7Octet { index: 1 })
        );
        assert_eq!(
            decode_unpacked(&[0x1B, 0xFF]),
            Err(TextError::InvalidGsm7Octet { index: 1 })
        );
        assert_eq!(decode_unpacked(&[0x00, 0x11, 0x7F]).unwrap(), "@_à");
    }

    #[test]
    fn fill_known_answer() {
        // After a 6-octet UDH there is 1 fill bit: "A" (0x41) lands as 0x82.
        assert_eq!(pack_with_fill(b"A", 1), [0x82]);
        assert_eq!(unpack_with_fill(&[0x82], 1, 1), b"A");
        // Too large a septet count is capped by what the input holds.
        assert_eq!(unpack(&[0xC8, 0x34], usize::MAX), b"Hi");
        assert_eq!(unpack_with_fill(&[], 5, 6), b"");
        assert_eq!(unpack_with_fill(&[0xFF], 5, 200), b"");
    }

    fn gsm_char() -> impl Strategy<Value = char> {
        let all: Vec<char> = BASE
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != usize::from(ESC))
            .map(|(_, &c)| c)
            .chain(EXT.iter().map(|&(_, c)| c))
            .collect();
        proptest::sample::select(all)
    }

    proptest! {
        #[test]
        fn round_trip(s in proptest::collection::vec(gsm_char(), 0..300)) {
            let text: String = s.into_iter().collect();
            let enc = encode_unpacked(&text).unwrap();
            prop_assert_eq!(enc.len(), septet_len(&text).unwrap());
            prop_assert!(enc.iter().all(|&b| b < 0x80));
            prop_assert_eq!(decode_unpacked(&enc).unwrap(), text);
        }

        #[test]
        fn pack_round_trip(s in proptest::collection::vec(0u8..0x80, 0..300), fill in 0u8..7) {
            let p = pack_with_fill(&s, fill);
            prop_assert_eq!(p.len(), (usize::from(fill) + 7 * s.len()).div_ceil(8));
            prop_assert_eq!(unpack_with_fill(&p, s.len(), fill), s.clone());
            if fill == 0 {
                prop_assert_eq!(unpack(&pack(&s), s.len()), s);
            }
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = decode_unpacked(&b);
            let _ = unpack_with_fill(&b, 1000, 3);
        }

        #[test]
        fn septet_len_matches(s in ".{0,50}") {
            match encode_unpacked(&s) {
                Ok(e) => prop_assert_eq!(Some(e.len()), septet_len(&s)),
                Err(_) => prop_assert_eq!(None, septet_len(&s)),
            }
        }
    }
}
