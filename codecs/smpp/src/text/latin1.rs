//! ISO-8859-1 (Latin-1), SMPP `data_coding` `0x03` (SMPP 3.4 §5.2.19).
//!
//! Every octet maps to the Unicode code point of the same value, so decoding
//! never fails; encoding fails for characters above U+00FF.

use super::TextError;

/// Encodes `text` as ISO-8859-1, one octet per character.
///
/// # Errors
/// [`TextError::Unrepresentable`] with the byte offset in `text` of the
/// first character above U+00FF.
pub fn encode(text: &str) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::with_capacity(text.len());
    for (index, c) in text.char_indices() {
        out.push(u8::try_from(c).map_err(|_| TextError::Unrepresentable { index })?);
    }
    Ok(out)
}

/// Whether `c` is in ISO-8859-1 (U+0000..=U+00FF).
pub fn is_representable(c: char) -> bool {
    u8::try_from(c).is_ok()
}

/// Decodes ISO-8859-1: each octet is the code point of the same value.
pub fn decode(bytes: &[u8]) -> String {
    bytes.iter().copied().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        assert_eq!(encode("Aé\u{FF}").unwrap(), [0x41, 0xE9, 0xFF]);
        assert_eq!(encode("a€"), Err(TextError::Unrepresentable { index: 1 }));
        assert_eq!(decode(&[0x41, 0xE9, 0xA3]), "Aé£");
        assert!(is_representable('ÿ'));
        assert!(!is_representable('Ā'));
    }

    proptest! {
        #[test]
        fn round_trip(s in "[\u{0}-\u{FF}]{0,200}") {
            let e = encode(&s).unwrap();
            prop_assert_eq!(e.len(), s.chars().count());
            prop_assert_eq!(decode(&e), s);
        }

        #[test]
        fn bytes_round_trip(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(encode(&decode(&b)).unwrap(), b);
        }
    }
}
