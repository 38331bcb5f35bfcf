//! User Data Header (3GPP TS 23.040 §9.2.3.24).
//!
//! When an SMPP `submit_sm` / `deliver_sm` has `esm_class` bit `0x40`
//! (UDHI, SMPP 3.4 §5.2.12) set, `short_message` starts with a User Data
//! Header: one length octet (UDHL) followed by UDHL octets of information
//! elements (IEI, IEDL, data). [`Udh::parse`] and [`Udh::split_off`] read it;
//! [`Udh::encode`] writes it back, byte for byte for elements it keeps
//! verbatim.
//!
//! Known elements are typed:
//!
//! | IEI    | element                                   | length |
//! |--------|-------------------------------------------|--------|
//! | `0x00` | concatenated SM, 8-bit reference (§9.2.3.24.1)  | 3 |
//! | `0x04` | application port, 8-bit (§9.2.3.24.3)     | 2      |
//! | `0x05` | application port, 16-bit (§9.2.3.24.4)    | 4      |
//! | `0x08` | concatenated SM, 16-bit reference (§9.2.3.24.8) | 4 |
//!
//! Every other element is kept as [`InformationElement::Other`].

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

/// IEI of the concatenated short message element, 8-bit reference
/// (3GPP TS 23.040 §9.2.3.24.1).
pub const IEI_CONCAT_8: u8 = 0x00;
/// IEI of the application port addressing element, 8-bit ports
/// (3GPP TS 23.040 §9.2.3.24.3).
pub const IEI_PORT_8: u8 = 0x04;
/// IEI of the application port addressing element, 16-bit ports
/// (3GPP TS 23.040 §9.2.3.24.4).
pub const IEI_PORT_16: u8 = 0x05;
/// IEI of the concatenated short message element, 16-bit reference
/// (3GPP TS 23.040 §9.2.3.24.8).
pub const IEI_CONCAT_16: u8 = 0x08;

/// Why a User Data Header could not be read or written
/// (3GPP TS 23.040 §9.2.3.24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UdhError {
    /// The buffer is empty: there is no UDHL octet.
    Empty,
    /// UDHL announces more octets than the buffer holds.
    Truncated {
        /// The UDHL value read.
        udhl: u8,
        /// Octets available after the UDHL octet.
        available: usize,
    },
    /// An information element's header or data runs past the end of the
    /// header as given by UDHL.
    ElementOverrun {
        /// The IEI of the offending element.
        iei: u8,
        /// Offset of the element's IEI octet, counted from the UDHL octet.
        offset: usize,
    },
    /// A known element (IEI `0x00`, `0x04`, `0x05` or `0x08`) has the wrong
    /// IEDL for its type.
    BadElementLength {
        /// The IEI of the element.
        iei: u8,
        /// The IEDL found.
        len: u8,
    },
    /// On encoding: the header (or one element's data) is longer than the
    /// 255 octets that UDHL (or IEDL) can express.
    TooLong {
        /// The length that does not fit in one octet.
        len: usize,
    },
}

impl fmt::Display for UdhError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            UdhError::Empty => f.write_str("user data header: empty buffer, no UDHL octet"),
            UdhError::Truncated { udhl, available } => write!(
                f,
                "user data header: UDHL {udhl} exceeds the {available} octets available"
            ),
            UdhError::ElementOverrun { iei, offset } => write!(
                f,
                "user data header: element IEI {iei:#04x} at offset {offset} runs past UDHL"
            ),
            UdhError::BadElementLength { iei, len } => write!(
                f,
                "user data header: element IEI {iei:#04x} has invalid length {len}"
            ),
            UdhError::TooLong { len } => write!(
                f,
                "user data header: length {len} does not fit in one octet"
            ),
        }
    }
}

impl std::error::Error for UdhError {}

/// One information element of a User Data Header
/// (3GPP TS 23.040 §9.2.3.24).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InformationElement {
    /// Concatenated short message, 8-bit reference (IEI `0x00`,
    /// 3GPP TS 23.040 §9.2.3.24.1).
    Concat8 {
        /// Concatenated short message reference number.
        reference: u8,
        /// Maximum number of short messages in the concatenated message.
        total: u8,
        /// Sequence number of this short message, from 1.
        seq: u8,
    },
    /// Concatenated short message, 16-bit reference (IEI `0x08`,
    /// 3GPP TS 23.040 §9.2.3.24.8).
    Concat16 {
        /// Concatenated short message reference number.
        reference: u16,
        /// Maximum number of short messages in the concatenated message.
        total: u8,
        /// Sequence number of this short message, from 1.
        seq: u8,
    },
    /// Application port addressing, 8-bit ports (IEI `0x04`,
    /// 3GPP TS 23.040 §9.2.3.24.3).
    Port8 {
        /// Destination port.
        dest: u8,
        /// Originator port.
        src: u8,
    },
    /// Application port addressing, 16-bit ports (IEI `0x05`,
    /// 3GPP TS 23.040 §9.2.3.24.4).
    Port16 {
        /// Destination port.
        dest: u16,
        /// Originator port.
        src: u16,
    },
    /// Any other element, kept verbatim (its data is at most 255 octets for
    /// the element to be encodable).
    Other {
        /// Information Element Identifier.
        iei: u8,
        /// Information element data (without IEI and IEDL).
        data: Bytes,
    },
}

impl InformationElement {
    /// The Information Element Identifier of this element.
    pub fn iei(&self) -> u8 {
        match self {
            InformationElement::Concat8 { .. } => IEI_CONCAT_8,
            InformationElement::Concat16 { .. } => IEI_CONCAT_16,
            InformationElement::Port8 { .. } => IEI_PORT_8,
            InformationElement::Port16 { .. } => IEI_PORT_16,
            InformationElement::Other { iei, .. } => *iei,
        }
    }

    /// Length of the element's data (IEDL), without the IEI and IEDL octets.
    pub fn data_len(&self) -> usize {
        match self {
            InformationElement::Concat8 { .. } => 3,
            InformationElement::Concat16 { .. } => 4,
            InformationElement::Port8 { .. } => 2,
            InformationElement::Port16 { .. } => 4,
            InformationElement::Other { data, .. } => data.len(),
        }
    }

    /// Encoded length of the element: IEI + IEDL + data.
    pub fn encoded_len(&self) -> usize {
        2 + self.data_len()
    }

    /// Writes IEI, IEDL and data. The caller has checked `data_len() <= 255`.
    fn encode_unchecked(&self, dst: &mut impl BufMut) {
        // `data_len` fits in a u8: checked by `Udh::check`.
        let iedl = u8::try_from(self.data_len()).unwrap_or(u8::MAX);
        dst.put_u8(self.iei());
        dst.put_u8(iedl);
        match self {
            InformationElement::Concat8 {
                reference,
                total,
                seq,
            } => {
                dst.put_u8(*reference);
                dst.put_u8(*total);
                dst.put_u8(*seq);
            }
            InformationElement::Concat16 {
                reference,
                total,
                seq,
            } => {
                dst.put_u16(*reference);
                dst.put_u8(*total);
                dst.put_u8(*seq);
            }
            InformationElement::Port8 { dest, src } => {
                dst.put_u8(*dest);
                dst.put_u8(*src);
            }
            InformationElement::Port16 { dest, src } => {
                dst.put_u16(*dest);
                dst.put_u16(*src);
            }
            InformationElement::Other { data, .. } => dst.put_slice(data),
        }
    }
}

/// A User Data Header: the information elements that follow UDHL
/// (3GPP TS 23.040 §9.2.3.24).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Udh {
    /// The information elements, in wire order.
    pub elements: Vec<InformationElement>,
}

impl Udh {
    /// A header holding the given elements.
    pub fn new(elements: Vec<InformationElement>) -> Self {
        Udh { elements }
    }

    /// Parses the UDH at the start of `short_message` (UDHL octet first).
    ///
    /// Returns the header and the number of octets it takes, UDHL octet
    /// included, so the text starts at `short_message[consumed..]`.
    /// Every element must fit inside UDHL and UDHL inside the buffer; the
    /// known elements must have their fixed length (IEI `0x00`: 3, `0x08`: 4,
    /// `0x04`: 2, `0x05`: 4). A UDHL of 0 gives an empty header.
    pub fn parse(short_message: &[u8]) -> Result<(Udh, usize), UdhError> {
        parse_with(short_message, |range| {
            Bytes::copy_from_slice(short_message.get(range).unwrap_or_default())
        })
    }

    /// Like [`Udh::parse`], but returns the rest of `short_message` (the text
    /// after the header) as a zero-copy slice, and unknown elements' data as
    /// slices of `short_message` too.
    pub fn split_off(short_message: &Bytes) -> Result<(Udh, Bytes), UdhError> {
        let (udh, consumed) = parse_with(short_message, |range| short_message.slice(range))?;
        Ok((udh, short_message.slice(consumed..)))
    }

    /// Length in octets of the encoded header, UDHL octet included.
    pub fn encoded_len(&self) -> usize {
        1 + self.body_len()
    }

    fn body_len(&self) -> usize {
        self.elements
            .iter()
            .map(InformationElement::encoded_len)
            .sum()
    }

    fn check(&self) -> Result<u8, UdhError> {
        for e in &self.elements {
            let len = e.data_len();
            if len > usize::from(u8::MAX) {
                return Err(UdhError::TooLong { len });
            }
        }
        let body = self.body_len();
        u8::try_from(body).map_err(|_| UdhError::TooLong { len: body })
    }

    /// Writes UDHL followed by every element.
    ///
    /// Fails, writing nothing, when the elements take more than 255 octets or
    /// an [`InformationElement::Other`] has more than 255 octets of data.
    pub fn encode(&self, dst: &mut impl BufMut) -> Result<(), UdhError> {
        let udhl = self.check()?;
        dst.put_u8(udhl);
        for e in &self.elements {
            e.encode_unchecked(dst);
        }
        Ok(())
    }

    /// The encoded header (UDHL included) as [`Bytes`].
    pub fn to_bytes(&self) -> Result<Bytes, UdhError> {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut buf)?;
        Ok(buf.freeze())
    }

    /// The concatenation element, if any, as `(reference, total, seq)`; an
    /// 8-bit reference is widened. If several are present the last one wins,
    /// as 3GPP TS 23.040 §9.2.3.24 prescribes for repeated elements.
    pub fn concat(&self) -> Option<(u16, u8, u8)> {
        self.elements.iter().rev().find_map(|e| match *e {
            InformationElement::Concat8 {
                reference,
                total,
                seq,
            } => Some((u16::from(reference), total, seq)),
            InformationElement::Concat16 {
                reference,
                total,
                seq,
            } => Some((reference, total, seq)),
            _ => None,
        })
    }

    /// The application port addressing element, if any, as `(dest, src)`;
    /// 8-bit ports are widened. The last one wins if several are present.
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.elements.iter().rev().find_map(|e| match *e {
            InformationElement::Port8 { dest, src } => Some((u16::from(dest), u16::from(src))),
            InformationElement::Port16 { dest, src } => Some((dest, src)),
            _ => None,
        })
    }
}

fn parse_with(
    buf: &[u8],
    mut make: impl FnMut(std::ops::Range<usize>) -> Bytes,
) -> Result<(Udh, usize), UdhError> {
    let (&udhl, rest) = buf.split_first().ok_or(UdhError::Empty)?;
    let body = rest.get(..usize::from(udhl)).ok_or(UdhError::Truncated {
        udhl,
        available: rest.len(),
    })?;
    let mut elements = Vec::new();
    let mut pos = 0usize;
    while pos < body.len() {
        let offset = pos + 1;
        let iei = body.get(pos).copied().unwrap_or_default();
        let iedl = body
            .get(pos + 1)
            .copied()
            .ok_or(UdhError::ElementOverrun { iei, offset })?;
        let start = pos + 2;
        let end = start + usize::from(iedl);
        let data = body
            .get(start..end)
            .ok_or(UdhError::ElementOverrun { iei, offset })?;
        let bad = UdhError::BadElementLength { iei, len: iedl };
        let element = match iei {
            IEI_CONCAT_8 => match *data {
                [reference, total, seq] => InformationElement::Concat8 {
                    reference,
                    total,
                    seq,
                },
                _ => return Err(bad),
            },
            IEI_CONCAT_16 => match *data {
                [hi, lo, total, seq] => InformationElement::Concat16 {
                    reference: u16::from_be_bytes([hi, lo]),
                    total,
                    seq,
                },
                _ => return Err(bad),
            },
            IEI_PORT_8 => match *data {
                [dest, src] => InformationElement::Port8 { dest, src },
                _ => return Err(bad),
            },
            IEI_PORT_16 => match *data {
                [d1, d2, s1, s2] => InformationElement::Port16 {
                    dest: u16::from_be_bytes([d1, d2]),
                    src: u16::from_be_bytes([s1, s2]),
                },
                _ => return Err(bad),
            },
            _ => InformationElement::Other {
                iei,
                // +1: offsets in `buf` are past the UDHL octet.
                data: make(start + 1..end + 1),
            },
        };
        elements.push(element);
        pos = end;
    }
    Ok((Udh { elements }, 1 + usize::from(udhl)))
}

/// Number of fill bits needed after a UDH of `udh_len_octets` octets (UDHL
/// included) so that GSM 7-bit text starts on a septet boundary
/// (3GPP TS 23.040 §9.2.3.24: "fill bits" so that the UDH plus fill is a
/// whole number of septets). A 6-octet header needs 1 fill bit, a 7-octet
/// header none. The result is in `0..=6`.
pub fn fill_bits(udh_len_octets: usize) -> u8 {
    let rem = (udh_len_octets % 7) * 8 % 7;
    // rem < 7, so the subtraction result is in 0..=6.
    ((7 - rem) % 7) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_concat8() {
        let sm = [0x05, 0x00, 0x03, 0xCC, 0x02, 0x01, b'h', b'i'];
        let (udh, n) = Udh::parse(&sm).unwrap();
        assert_eq!(n, 6);
        assert_eq!(
            udh.elements,
            vec![InformationElement::Concat8 {
                reference: 0xCC,
                total: 2,
                seq: 1
            }]
        );
        assert_eq!(udh.concat(), Some((0xCC, 2, 1)));
        assert_eq!(udh.ports(), None);
        assert_eq!(&udh.to_bytes().unwrap()[..], &sm[..6]);
    }

    #[test]
    fn parse_concat16_and_ports() {
        let sm = [
            0x0C, 0x08, 0x04, 0x12, 0x34, 0x03, 0x02, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0xAA,
        ];
        let (udh, n) = Udh::parse(&sm).unwrap();
        assert_eq!(n, 13);
        assert_eq!(udh.concat(), Some((0x1234, 3, 2)));
        assert_eq!(udh.ports(), Some((0x0B84, 0x23F0)));
        let b = Bytes::copy_from_slice(&sm);
        let (udh2, rest) = Udh::split_off(&b).unwrap();
        assert_eq!(udh2, udh);
        assert_eq!(&rest[..], &[0xAA]);
    }

    #[test]
    fn parse_port8_and_other() {
        let sm = [0x07, 0x04, 0x02, 0x10, 0x20, 0x24, 0x01, 0x99];
        let (udh, n) = Udh::parse(&sm).unwrap();
        assert_eq!(n, 8);
        assert_eq!(udh.ports(), Some((0x10, 0x20)));
        assert_eq!(
            udh.elements[1],
            InformationElement::Other {
                iei: 0x24,
                data: Bytes::from_static(&[0x99])
            }
        );
        assert_eq!(&udh.to_bytes().unwrap()[..], &sm[..]);
    }

    #[test]
    fn empty_udhl() {
        assert_eq!(Udh::parse(&[0x00, 0x41]).unwrap(), (Udh::default(), 1));
    }

    #[test]
    fn errors() {
        assert_eq!(Udh::parse(&[]), Err(UdhError::Empty));
        assert_eq!(
            Udh::parse(&[0x05, 0x00, 0x03]),
            Err(UdhError::Truncated {
                udhl: 5,
                available: 2
            })
        );
        assert_eq!(
            Udh::parse(&[0x04, 0x00, 0x03, 0x01, 0x02]),
            Err(UdhError::ElementOverrun { iei: 0, offset: 1 })
        );
        assert_eq!(
            Udh::parse(&[0x01, 0x00]),
            Err(UdhError::ElementOverrun { iei: 0, offset: 1 })
        );
        assert_eq!(
            Udh::parse(&[0x04, 0x00, 0x02, 0x01, 0x02]),
            Err(UdhError::BadElementLength { iei: 0, len: 2 })
        );
        assert_eq!(
            Udh::parse(&[0x05, 0x08, 0x03, 0x01, 0x02, 0x03]),
            Err(UdhError::BadElementLength { iei: 8, len: 3 })
        );
        assert_eq!(
            Udh::parse(&[0x03, 0x04, 0x01, 0x01]),
            Err(UdhError::BadElementLength { iei: 4, len: 1 })
        );
        assert_eq!(
            Udh::parse(&[0x04, 0x05, 0x02, 0x01, 0x01]),
            Err(UdhError::BadElementLength { iei: 5, len: 2 })
        );
        let big = Udh::new(vec![InformationElement::Other {
            iei: 0x70,
            data: Bytes::from(vec![0u8; 300]),
        }]);
        assert_eq!(big.to_bytes(), Err(UdhError::TooLong { len: 300 }));
        let many = Udh::new(vec![
            InformationElement::Other {
                iei: 0x70,
                data: Bytes::from(vec![0u8; 200]),
            };
            2
        ]);
        let mut v = Vec::new();
        assert_eq!(many.encode(&mut v), Err(UdhError::TooLong { len: 404 }));
        assert!(v.is_empty());
        for e in [
            UdhError::Empty,
            UdhError::TooLong { len: 1 },
            UdhError::BadElementLength { iei: 0, len: 1 },
        ] {
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn fill_bits_values() {
        assert_eq!(fill_bits(0), 0);
        assert_eq!(fill_bits(6), 1);
        assert_eq!(fill_bits(7), 0);
        assert_eq!(fill_bits(1), 6);
        assert_eq!(fill_bits(5), 2);
        for n in 0..300usize {
            let f = usize::from(fill_bits(n));
            assert!(f < 7);
            assert_eq!((n * 8 + f) % 7, 0);
        }
    }

    fn arb_ie() -> impl Strategy<Value = InformationElement> {
        prop_oneof![
            (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(reference, total, seq)| {
                InformationElement::Concat8 {
                    reference,
                    total,
                    seq,
                }
            }),
            (any::<u16>(), any::<u8>(), any::<u8>()).prop_map(|(reference, total, seq)| {
                InformationElement::Concat16 {
                    reference,
                    total,
                    seq,
                }
            }),
            (any::<u8>(), any::<u8>())
                .prop_map(|(dest, src)| InformationElement::Port8 { dest, src }),
            (any::<u16>(), any::<u16>())
                .prop_map(|(dest, src)| InformationElement::Port16 { dest, src }),
            (
                any::<u8>().prop_filter("unknown IEI", |i| ![0, 4, 5, 8].contains(i)),
                proptest::collection::vec(any::<u8>(), 0..20)
            )
                .prop_map(|(iei, d)| InformationElement::Other {
                    iei,
                    data: Bytes::from(d)
                }),
        ]
    }

    proptest! {
        #[test]
        fn encode_parse_round_trip(elements in proptest::collection::vec(arb_ie(), 0..8),
                                   tail in proptest::collection::vec(any::<u8>(), 0..10)) {
            let udh = Udh::new(elements);
            let mut buf = udh.to_bytes().unwrap().to_vec();
            prop_assert_eq!(buf.len(), udh.encoded_len());
            buf.extend_from_slice(&tail);
            let (parsed, n) = Udh::parse(&buf).unwrap();
            prop_assert_eq!(n, udh.encoded_len());
            prop_assert_eq!(&parsed, &udh);
            let b = Bytes::from(buf);
            let (parsed2, rest) = Udh::split_off(&b).unwrap();
            prop_assert_eq!(&parsed2, &udh);
            prop_assert_eq!(&rest[..], &tail[..]);
        }

        #[test]
        fn parse_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok((udh, n)) = Udh::parse(&buf) {
                prop_assert!(n <= buf.len());
                // What parsed re-encodes to the same octets.
                prop_assert_eq!(&udh.to_bytes().unwrap()[..], &buf[..n]);
            }
        }
    }
}
