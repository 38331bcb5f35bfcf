//! ISO-8859-5 (Latin/Cyrillic, SMPP `data_coding` `0x06`) and ISO-8859-8
//! (Latin/Hebrew, `data_coding` `0x07`), SMPP 3.4 §5.2.19.
//!
//! Both share ISO-8859-1's lower half (`0x00..=0xA0`); the upper half is
//! mapped per the ISO tables. Octets that ISO-8859-8 leaves undefined are
//! [`TextError::InvalidOctet`].

use super::TextError;

/// ISO-8859-5 (Latin/Cyrillic).
pub mod cyrillic {
    use super::TextError;

    /// The character for one ISO-8859-5 octet (every octet is defined).
    pub fn decode_byte(b: u8) -> char {
        match b {
            0x00..=0xA0 | 0xAD => char::from(b),
            0xF0 => '\u{2116}',
            0xFD => '\u{A7}',
            // 0xA1..=0xFF otherwise: U+0401..=U+045F.
            _ => char::from_u32(u32::from(b) + 0x360).unwrap_or(char::REPLACEMENT_CHARACTER),
        }
    }

    /// The ISO-8859-5 octet for `c`, if any.
    pub fn encode_char(c: char) -> Option<u8> {
        match c {
            '\u{0}'..='\u{A0}' | '\u{AD}' => u8::try_from(c).ok(),
            '\u{2116}' => Some(0xF0),
            '\u{A7}' => Some(0xFD),
            '\u{401}'..='\u{45F}' if c != '\u{40D}' && c != '\u{450}' && c != '\u{45D}' => {
                u8::try_from(u32::from(c) - 0x360).ok()
            }
            _ => None,
        }
    }

    /// Decodes ISO-8859-5. Never fails: every octet is defined.
    pub fn decode(bytes: &[u8]) -> String {
        bytes.iter().copied().map(decode_byte).collect()
    }

    /// Encodes `text` as ISO-8859-5.
    ///
    /// # Errors
    /// [`TextError::Unrepresentable`] with the byte offset of the first
    /// character outside the table.
    pub fn encode(text: &str) -> Result<Vec<u8>, TextError> {
        text.char_indices()
            .map(|(index, c)| encode_char(c).ok_or(TextError::Unrepresentable { index }))
            .collect()
    }
}

/// ISO-8859-8 (Latin/Hebrew).
pub mod hebrew {
    use super::TextError;

    /// The character for one ISO-8859-8 octet, `None` where the table leaves
    /// the octet undefined (`0xA1`, `0xBF..=0xDE`, `0xFB`, `0xFC`, `0xFF`).
    pub fn decode_byte(b: u8) -> Option<char> {
        match b {
            0x00..=0xA0 | 0xA2..=0xA9 | 0xAB..=0xB9 | 0xBB..=0xBE => Some(char::from(b)),
            0xAA => Some('\u{D7}'),
            0xBA => Some('\u{F7}'),
            0xDF => Some('\u{2017}'),
            0xE0..=0xFA => char::from_u32(u32::from(b) - 0xE0 + 0x5D0),
            0xFD => Some('\u{200E}'),
            0xFE => Some('\u{200F}'),
            _ => None,
        }
    }

    /// The ISO-8859-8 octet for `c`, if any.
    pub fn encode_char(c: char) -> Option<u8> {
        match c {
            '\u{0}'..='\u{A0}'
            | '\u{A2}'..='\u{A9}'
            | '\u{AB}'..='\u{B9}'
            | '\u{BB}'..='\u{BE}' => u8::try_from(c).ok(),
            '\u{D7}' => Some(0xAA),
            '\u{F7}' => Some(0xBA),
            '\u{2017}' => Some(0xDF),
            '\u{5D0}'..='\u{5EA}' => u8::try_from(u32::from(c) - 0x5D0 + 0xE0).ok(),
            '\u{200E}' => Some(0xFD),
            '\u{200F}' => Some(0xFE),
            _ => None,
        }
    }

    /// Decodes ISO-8859-8.
    ///
    /// # Errors
    /// [`TextError::InvalidOctet`] with the offset of the first undefined
    /// octet.
    pub fn decode(bytes: &[u8]) -> Result<String, TextError> {
        bytes
            .iter()
            .enumerate()
            .map(|(index, &b)| decode_byte(b).ok_or(TextError::InvalidOctet { index }))
            .collect()
    }

    /// Encodes `text` as ISO-8859-8.
    ///
    /// # Errors
    /// [`TextError::Unrepresentable`] with the byte offset of the first
    /// character outside the table.
    pub fn encode(text: &str) -> Result<Vec<u8>, TextError> {
        text.char_indices()
            .map(|(index, c)| encode_char(c).ok_or(TextError::Unrepresentable { index }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyrillic_table() {
        assert_eq!(cyrillic::decode(&[0xA1, 0xB0, 0xCF, 0xD0, 0xEF]), "ЁАЯая");
        assert_eq!(cyrillic::decode(&[0xF0, 0xFD, 0xFF, 0xAD]), "№§џ\u{AD}");
        assert_eq!(
            cyrillic::encode("Привет").unwrap(),
            [0xBF, 0xE0, 0xD8, 0xD2, 0xD5, 0xE2]
        );
        assert_eq!(
            cyrillic::encode("aé"),
            Err(TextError::Unrepresentable { index: 1 })
        );
        for b in 0..=255u8 {
            assert_eq!(
                cyrillic::encode_char(cyrillic::decode_byte(b)),
                Some(b),
                "{b:#x}"
            );
        }
    }

    #[test]
    fn hebrew_table() {
        assert_eq!(hebrew::decode(&[0xE0, 0xFA, 0xAA, 0x41]).unwrap(), "את×A");
        assert_eq!(
            hebrew::decode(&[0x41, 0xC0]),
            Err(TextError::InvalidOctet { index: 1 })
        );
        assert_eq!(hebrew::encode("שלום").unwrap(), [0xF9, 0xEC, 0xE5, 0xED]);
        let mut defined = 0;
        for b in 0..=255u8 {
            if let Some(c) = hebrew::decode_byte(b) {
                defined += 1;
                assert_eq!(hebrew::encode_char(c), Some(b), "{b:#x}");
            }
        }
        // 256 minus 0xA1, 0xBF..=0xDE (32), 0xFB, 0xFC, 0xFF.
        assert_eq!(defined, 256 - 36);
    }
}
