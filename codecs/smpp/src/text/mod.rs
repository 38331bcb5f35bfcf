//! Message text: the alphabets SMPP's `data_coding` selects (SMPP 3.4
//! §5.2.19, 3GPP TS 23.038 §4), splitting long text into concatenated
//! segments (3GPP TS 23.040 §9.2.3.24.1, SMPP 3.4 §5.3.2.22–§5.3.2.24,
//! §5.3.2.32) and reassembling them.
//!
//! * [`gsm7`]: GSM 7-bit default alphabet + extension table, 7-bit packing.
//! * [`latin1`]: ISO-8859-1 (`data_coding` `0x03`).
//! * [`ucs2`]: UCS-2 as UTF-16BE with surrogate pairs (`data_coding` `0x08`).
//! * [`cyrillic`] / [`hebrew`]: ISO-8859-5 / ISO-8859-8 (`0x06` / `0x07`).
//! * [`decode`] / [`decode_with_udh`]: text from a `short_message` given its
//!   `data_coding` (and `esm_class`).
//! * [`split`](mod@split): choose an encoding and cut text into segments.
//! * [`reassemble`]: collect segments back into whole messages.

pub mod gsm7;
mod iso8859;
pub mod latin1;
pub mod reassemble;
pub mod split;
pub mod ucs2;

pub use iso8859::{cyrillic, hebrew};
pub use split::{count_segments, split, Concat, SarInfo, Segment, Split, SplitOptions};

use crate::udh::{Udh, UdhError};
use std::fmt;

/// Why text could not be encoded, decoded or split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextError {
    /// A character the target alphabet lacks; `index` is its byte offset in
    /// the input `&str`.
    Unrepresentable {
        /// Byte offset of the character in the input text.
        index: usize,
    },
    /// An octet above `0x7F` in unpacked GSM 7-bit text (3GPP TS 23.038
    /// §6.2.1).
    InvalidGsm7Octet {
        /// Offset of the octet.
        index: usize,
    },
    /// An octet the alphabet leaves undefined (IA5 above `0x7F`, an
    /// unassigned ISO-8859-8 position).
    InvalidOctet {
        /// Offset of the octet.
        index: usize,
    },
    /// UCS-2 / UTF-16 data of odd length.
    OddUcs2Length,
    /// A UTF-16 surrogate without its partner.
    UnpairedSurrogate {
        /// Byte offset of the surrogate's code unit.
        index: usize,
    },
    /// The data coding says 8-bit binary data (SMPP 3.4 §5.2.19 `0x02`,
    /// `0x04`; 3GPP TS 23.038 8-bit data): it is not text.
    Binary,
    /// A data coding this crate does not decode (JIS, Kanji, KS C 5601,
    /// pictograms, compressed or reserved values); carries the `data_coding`.
    Unsupported(u8),
    /// `esm_class` announced a User Data Header that does not parse.
    BadUdh(UdhError),
    /// The text needs more than 255 segments.
    TooManySegments {
        /// The number of segments it would take.
        needed: usize,
    },
    /// The text is too long for one `message_payload` (65 535 octets,
    /// SMPP 3.4 §5.3.2.32).
    TooLong {
        /// Encoded length in octets.
        len: usize,
    },
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TextError::Unrepresentable { index } => write!(
                f,
                "character at byte {index} is not representable in the alphabet"
            ),
            TextError::InvalidGsm7Octet { index } => {
                write!(f, "octet at {index} is not a GSM 7-bit septet")
            }
            TextError::InvalidOctet { index } => {
                write!(f, "octet at {index} is undefined in the alphabet")
            }
            TextError::OddUcs2Length => f.write_str("UCS-2 data has an odd length"),
            TextError::UnpairedSurrogate { index } => {
                write!(f, "unpaired UTF-16 surrogate at byte {index}")
            }
            TextError::Binary => f.write_str("data coding is 8-bit binary, not text"),
            TextError::Unsupported(dc) => write!(f, "unsupported data_coding {dc:#04x}"),
            TextError::BadUdh(e) => write!(f, "bad user data header: {e}"),
            TextError::TooManySegments { needed } => {
                write!(f, "text needs {needed} segments, more than 255")
            }
            TextError::TooLong { len } => {
                write!(f, "{len} octets exceed the 65535 of message_payload")
            }
        }
    }
}

impl std::error::Error for TextError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TextError::BadUdh(e) => Some(e),
            _ => None,
        }
    }
}

impl From<UdhError> for TextError {
    fn from(e: UdhError) -> Self {
        TextError::BadUdh(e)
    }
}

/// The character set a `data_coding` value selects (SMPP 3.4 §5.2.19,
/// 3GPP TS 23.038 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet, carried unpacked (3GPP TS 23.038 §6.2.1).
    Gsm7,
    /// IA5 / ASCII (SMPP `0x01`).
    Ascii,
    /// ISO-8859-1 (SMPP `0x03`).
    Latin1,
    /// UCS-2, handled as UTF-16BE (SMPP `0x08`).
    Ucs2,
    /// 8-bit binary data (SMPP `0x02`, `0x04`; 23.038 8-bit data).
    Binary,
    /// ISO-8859-5 Latin/Cyrillic (SMPP `0x06`).
    Cyrillic,
    /// ISO-8859-8 Latin/Hebrew (SMPP `0x07`).
    Hebrew,
    /// Anything else: JIS, Kanji, KS C 5601, pictograms, compressed or
    /// reserved codings; carries the `data_coding`.
    Other(u8),
}

impl Alphabet {
    /// The alphabet `data_coding` selects.
    ///
    /// * `0x00..=0x0F`: SMPP 3.4 §5.2.19's table; `0x00` (SMSC default
    ///   alphabet) is taken as GSM 7-bit, unpacked.
    /// * `0x10..=0x1F` and `0x40..=0x5F` (3GPP TS 23.038 §4 general data
    ///   coding, uncompressed, incl. "automatic deletion"): bits 3..2 give the
    ///   alphabet, `00` GSM 7-bit, `01` 8-bit, `10` UCS-2, `11` reserved.
    /// * `0xC0..=0xDF` (message waiting, discard/store): GSM 7-bit;
    ///   `0xE0..=0xEF` (message waiting, store, UCS-2): UCS-2.
    /// * `0xF0..=0xFF` (data coding / message class): bit 2 clear GSM 7-bit,
    ///   set 8-bit.
    /// * Compressed (`0x20..=0x3F`, `0x60..=0x7F`) and reserved
    ///   (`0x80..=0xBF`) groups: [`Alphabet::Other`].
    pub fn from_data_coding(data_coding: u8) -> Alphabet {
        match data_coding {
            0x00 => Alphabet::Gsm7,
            0x01 => Alphabet::Ascii,
            0x02 | 0x04 => Alphabet::Binary,
            0x03 => Alphabet::Latin1,
            0x06 => Alphabet::Cyrillic,
            0x07 => Alphabet::Hebrew,
            0x08 => Alphabet::Ucs2,
            0x10..=0x1F | 0x40..=0x5F => match (data_coding >> 2) & 0x03 {
                0 => Alphabet::Gsm7,
                1 => Alphabet::Binary,
                2 => Alphabet::Ucs2,
                _ => Alphabet::Other(data_coding),
            },
            0xC0..=0xDF => Alphabet::Gsm7,
            0xE0..=0xEF => Alphabet::Ucs2,
            0xF0..=0xFF if data_coding & 0x04 == 0 => Alphabet::Gsm7,
            0xF0..=0xFF => Alphabet::Binary,
            _ => Alphabet::Other(data_coding),
        }
    }

    /// The plain SMPP 3.4 §5.2.19 `data_coding` for this alphabet:
    /// `0x00`, `0x01`, `0x03`, `0x08`, `0x04`, `0x06`, `0x07`, or the value
    /// carried by [`Alphabet::Other`].
    pub fn data_coding(self) -> u8 {
        match self {
            Alphabet::Gsm7 => 0x00,
            Alphabet::Ascii => 0x01,
            Alphabet::Latin1 => 0x03,
            Alphabet::Ucs2 => 0x08,
            Alphabet::Binary => 0x04,
            Alphabet::Cyrillic => 0x06,
            Alphabet::Hebrew => 0x07,
            Alphabet::Other(dc) => dc,
        }
    }

    /// Decodes `bytes` in this alphabet (GSM 7-bit taken as unpacked).
    ///
    /// # Errors
    /// The alphabet's decoding errors; [`TextError::Binary`] for binary,
    /// [`TextError::Unsupported`] for [`Alphabet::Other`].
    pub fn decode(self, bytes: &[u8]) -> Result<String, TextError> {
        match self {
            Alphabet::Gsm7 => gsm7::decode_unpacked(bytes),
            Alphabet::Ascii => decode_ascii(bytes),
            Alphabet::Latin1 => Ok(latin1::decode(bytes)),
            Alphabet::Ucs2 => ucs2::decode(bytes),
            Alphabet::Binary => Err(TextError::Binary),
            Alphabet::Cyrillic => Ok(cyrillic::decode(bytes)),
            Alphabet::Hebrew => hebrew::decode(bytes),
            Alphabet::Other(dc) => Err(TextError::Unsupported(dc)),
        }
    }
}

fn decode_ascii(bytes: &[u8]) -> Result<String, TextError> {
    match bytes.iter().position(|&b| b > 0x7F) {
        Some(index) => Err(TextError::InvalidOctet { index }),
        None => Ok(bytes.iter().copied().map(char::from).collect()),
    }
}

/// Decodes a `short_message` (or `message_payload`) by its `data_coding`
/// (SMPP 3.4 §5.2.19; see [`Alphabet::from_data_coding`]). The bytes must not
/// hold a User Data Header; see [`decode_with_udh`].
///
/// # Errors
/// See [`Alphabet::decode`].
pub fn decode(data_coding: u8, bytes: &[u8]) -> Result<String, TextError> {
    Alphabet::from_data_coding(data_coding).decode(bytes)
}

/// Decodes a `short_message`, first reading and stripping the User Data
/// Header (3GPP TS 23.040 §9.2.3.24) when `esm_class` has the UDHI bit
/// `0x40` set (SMPP 3.4 §5.2.12). Returns the header, if any, and the text.
///
/// With `data_coding` 0 the text after the header is taken as unpacked
/// septets, as SMPP carries it: no fill bits.
///
/// # Errors
/// [`TextError::BadUdh`] if the header does not parse, else see
/// [`Alphabet::decode`].
pub fn decode_with_udh(
    data_coding: u8,
    esm_class: u8,
    bytes: &[u8],
) -> Result<(Option<Udh>, String), TextError> {
    if esm_class & 0x40 == 0 {
        return Ok((None, decode(data_coding, bytes)?));
    }
    let (udh, consumed) = Udh::parse(bytes)?;
    let rest = bytes.get(consumed..).unwrap_or_default();
    Ok((Some(udh), decode(data_coding, rest)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn alphabet_mapping() {
        use Alphabet::*;
        let cases = [
            (0x00, Gsm7),
            (0x01, Ascii),
            (0x02, Binary),
            (0x03, Latin1),
            (0x04, Binary),
            (0x05, Other(0x05)),
            (0x06, Cyrillic),
            (0x07, Hebrew),
            (0x08, Ucs2),
            (0x0D, Other(0x0D)),
            (0x0E, Other(0x0E)),
            (0x10, Gsm7),
            (0x11, Gsm7),
            (0x14, Binary),
            (0x18, Ucs2),
            (0x1C, Other(0x1C)),
            (0x20, Other(0x20)),
            (0x48, Ucs2),
            (0x80, Other(0x80)),
            (0xC0, Gsm7),
            (0xD1, Gsm7),
            (0xE0, Ucs2),
            (0xF0, Gsm7),
            (0xF1, Gsm7),
            (0xF4, Binary),
            (0xF6, Binary),
        ];
        for (dc, a) in cases {
            assert_eq!(Alphabet::from_data_coding(dc), a, "{dc:#x}");
        }
        for a in [Gsm7, Ascii, Latin1, Ucs2, Binary, Cyrillic, Hebrew] {
            assert_eq!(Alphabet::from_data_coding(a.data_coding()), a);
        }
    }

    #[test]
    fn decode_by_data_coding() {
        assert_eq!(decode(0x00, &[0x1B, 0x65, 0x00]).unwrap(), "€@");
        assert_eq!(decode(0xF0, b"hi").unwrap(), "hi");
        assert_eq!(decode(0x01, b"a@").unwrap(), "a@");
        assert_eq!(
            decode(0x01, &[0x41, 0x80]),
            Err(TextError::InvalidOctet { index: 1 })
        );
        assert_eq!(decode(0x03, &[0xE9]).unwrap(), "é");
        assert_eq!(decode(0x08, &[0x04, 0x10]).unwrap(), "А");
        assert_eq!(decode(0x06, &[0xB0]).unwrap(), "А");
        assert_eq!(decode(0x07, &[0xE0]).unwrap(), "א");
        assert_eq!(decode(0x04, b"x"), Err(TextError::Binary));
        assert_eq!(decode(0xF4, b"x"), Err(TextError::Binary));
        assert_eq!(decode(0x05, b"x"), Err(TextError::Unsupported(0x05)));
        assert_eq!(decode(0x0D, b"x"), Err(TextError::Unsupported(0x0D)));
    }

    #[test]
    fn decode_udh() {
        let sm = [0x05, 0x00, 0x03, 0xCC, 0x02, 0x01, b'h', b'i'];
        let (udh, text) = decode_with_udh(0, 0x40, &sm).unwrap();
        assert_eq!(udh.unwrap().concat(), Some((0xCC, 2, 1)));
        assert_eq!(text, "hi");
        let (udh, text) = decode_with_udh(0x03, 0x00, b"hi").unwrap();
        assert!(udh.is_none());
        assert_eq!(text, "hi");
        let e = decode_with_udh(0, 0x43, &[0x09, 0x00]).unwrap_err();
        assert!(matches!(e, TextError::BadUdh(_)));
        assert!(std::error::Error::source(&e).is_some());
        assert!(!e.to_string().is_empty());
    }

    proptest! {
        #[test]
        fn decode_never_panics(dc in any::<u8>(), esm in any::<u8>(),
                               b in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = decode_with_udh(dc, esm, &b);
        }
    }
}
