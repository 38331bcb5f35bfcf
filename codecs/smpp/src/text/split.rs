//! Choosing an encoding for outgoing text and cutting it into concatenated
//! segments (3GPP TS 23.040 §9.2.3.24.1 / §9.2.3.24.8, SMPP 3.4
//! §5.3.2.22–§5.3.2.24 SAR TLVs, §5.3.2.32 `message_payload`).
//!
//! The encoding is the cheapest that represents the whole text: GSM 7-bit
//! when every character is in the default alphabet or its extension table,
//! Latin-1 only when [`SplitOptions::allow_latin1`] is set (many carriers
//! mishandle `data_coding` `0x03`) and it takes fewer segments, else UCS-2.
//!
//! Segment sizes, from the 140-octet TP-UD (3GPP TS 23.040 §9.2.3.16):
//!
//! | alphabet | single | 6-octet UDH / SAR | 7-octet UDH |
//! |----------|--------|-------------------|-------------|
//! | GSM 7-bit (septets) | 160 | 153 | 152 |
//! | Latin-1 (octets)    | 140 | 134 | 133 |
//! | UCS-2 (UTF-16 units)| 70  | 67  | 66  |
//!
//! GSM payloads are **unpacked**, one septet per octet, as SMPP carries
//! `data_coding` 0 (SMPP 3.4 §5.2.19): a 153-septet segment behind a 6-octet
//! UDH is 159 octets of `short_message`, which is what SMSCs expect; the
//! SMSC packs it for the air interface. (Use [`super::gsm7::pack_with_fill`]
//! with [`crate::udh::fill_bits`] for an SMSC that wants packed data.)
//!
//! A GSM escape pair (ESC + code) or a UTF-16 surrogate pair is never cut:
//! a segment then ends one unit short, and every segment decodes on its own.

use super::gsm7;
use super::{latin1, Alphabet, TextError};
use bytes::{BufMut, Bytes, BytesMut};

/// How a text too long for one `short_message` is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Concat {
    /// UDH with IEI `0x00`, 8-bit reference (3GPP TS 23.040 §9.2.3.24.1):
    /// `05 00 03 ref total seq`.
    Udh8 {
        /// Concatenated short message reference number.
        reference: u8,
    },
    /// UDH with IEI `0x08`, 16-bit reference (3GPP TS 23.040 §9.2.3.24.8):
    /// `06 08 04 refhi reflo total seq`.
    Udh16 {
        /// Concatenated short message reference number.
        reference: u16,
    },
    /// No UDH; the caller sends `sar_msg_ref_num`, `sar_total_segments` and
    /// `sar_segment_seqnum` TLVs (SMPP 3.4 §5.3.2.22–§5.3.2.24) from
    /// [`Segment::sar`]. Segments are sized as for an 8-bit UDH, since the
    /// SMSC adds one.
    Sar {
        /// Value for `sar_msg_ref_num`.
        reference: u16,
    },
    /// No cut: the whole text in one `message_payload` TLV (SMPP 3.4
    /// §5.3.2.32), at most 65 535 octets.
    Payload,
}

/// Options for [`split`] and [`count_segments`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SplitOptions {
    /// How long text is carried.
    pub concat: Concat,
    /// Whether Latin-1 (`data_coding` `0x03`) may be chosen. Off by default:
    /// many carriers mishandle it.
    pub allow_latin1: bool,
}

impl Default for SplitOptions {
    /// 8-bit UDH concatenation with reference 0, Latin-1 not allowed.
    fn default() -> Self {
        SplitOptions {
            concat: Concat::Udh8 { reference: 0 },
            allow_latin1: false,
        }
    }
}

impl SplitOptions {
    /// Options with the given concatenation method and Latin-1 not allowed.
    pub fn new(concat: Concat) -> Self {
        SplitOptions {
            concat,
            allow_latin1: false,
        }
    }
}

/// SAR values for one segment (SMPP 3.4 §5.3.2.22–§5.3.2.24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SarInfo {
    /// `sar_msg_ref_num`.
    pub reference: u16,
    /// `sar_total_segments`.
    pub total: u8,
    /// `sar_segment_seqnum`, from 1.
    pub seq: u8,
}

/// One segment of a split text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The full User Data Header, UDHL included, when the text was cut with
    /// [`Concat::Udh8`] / [`Concat::Udh16`]; send with `esm_class` bit `0x40`.
    pub udh: Option<Bytes>,
    /// The encoded text of this segment: unpacked septets (one per octet)
    /// for GSM 7-bit, octets for Latin-1, UTF-16BE for UCS-2.
    pub payload: Bytes,
    /// SAR TLV values when the text was cut with [`Concat::Sar`].
    pub sar: Option<SarInfo>,
    /// Sequence number of this segment, from 1.
    pub index: u8,
    /// Number of segments.
    pub total: u8,
}

impl Segment {
    /// What goes in `short_message`: the UDH (if any) followed by the
    /// payload. Set `esm_class` bit `0x40` (UDHI) when [`Segment::udh`] is
    /// `Some`.
    pub fn short_message(&self) -> Bytes {
        match &self.udh {
            None => self.payload.clone(),
            Some(udh) => {
                let mut b = BytesMut::with_capacity(udh.len() + self.payload.len());
                b.put_slice(udh);
                b.put_slice(&self.payload);
                b.freeze()
            }
        }
    }
}

/// A text encoded and cut into segments by [`split`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The `data_coding` to send (SMPP 3.4 §5.2.19): `0x00`, `0x03` or
    /// `0x08`.
    pub data_coding: u8,
    /// The chosen alphabet: [`Alphabet::Gsm7`], [`Alphabet::Latin1`] or
    /// [`Alphabet::Ucs2`].
    pub alphabet: Alphabet,
    /// The segments, in order; exactly one if the text fits one message or
    /// [`Concat::Payload`] was asked for.
    pub segments: Vec<Segment>,
}

/// Most octets one `message_payload` may carry (SMPP 3.4 §5.3.2.32).
const MAX_PAYLOAD: usize = 65_535;

/// Units per segment: (single message, with a 6-octet UDH or SAR, with a
/// 7-octet UDH).
fn limits(alphabet: Alphabet) -> (usize, usize, usize) {
    match alphabet {
        Alphabet::Latin1 => (140, 134, 133),
        Alphabet::Ucs2 => (70, 67, 66),
        _ => (160, 153, 152),
    }
}

/// Units per segment when the text must be cut.
fn multi_limit(alphabet: Alphabet, concat: Concat) -> usize {
    let (_, l8, l16) = limits(alphabet);
    match concat {
        Concat::Udh16 { .. } => l16,
        _ => l8,
    }
}

/// Octets per unit.
fn unit_size(alphabet: Alphabet) -> usize {
    if alphabet == Alphabet::Ucs2 {
        2
    } else {
        1
    }
}

/// Units `c` takes in `alphabet`, `None` if not representable.
#[inline]
fn width(alphabet: Alphabet, c: char) -> Option<usize> {
    match alphabet {
        Alphabet::Gsm7 => gsm7::char_septets(c),
        Alphabet::Latin1 => latin1::is_representable(c).then_some(1),
        _ => Some(c.len_utf16()),
    }
}

/// Number of segments greedy cutting gives, never cutting inside a
/// character, for a text of `total` units.
fn segment_count(text: &str, alphabet: Alphabet, total: usize, concat: Concat) -> usize {
    let (single, _, _) = limits(alphabet);
    if total <= single || concat == Concat::Payload {
        return 1;
    }
    let limit = multi_limit(alphabet, concat);
    if alphabet == Alphabet::Latin1 {
        return total.div_ceil(limit);
    }
    let mut count = 1;
    let mut units = 0;
    for c in text.chars() {
        let w = width(alphabet, c).unwrap_or(1);
        if units + w > limit {
            count += 1;
            units = 0;
        }
        units += w;
    }
    count
}

/// Picks the alphabet and its segment count.
fn choose(text: &str, opts: &SplitOptions) -> Result<(Alphabet, usize), TextError> {
    let concat = opts.concat;
    let mut best: Option<(Alphabet, usize)> = gsm7::septet_len(text).map(|n| {
        (
            Alphabet::Gsm7,
            segment_count(text, Alphabet::Gsm7, n, concat),
        )
    });
    if opts.allow_latin1 && text.chars().all(latin1::is_representable) {
        let n = text.chars().count();
        let count = segment_count(text, Alphabet::Latin1, n, concat);
        if best.is_none_or(|(_, b)| count < b) {
            best = Some((Alphabet::Latin1, count));
        }
    }
    // UCS-2 never takes fewer segments than GSM 7-bit or Latin-1: a GSM
    // segment holds at least 76 characters, a Latin-1 one 133, a UCS-2 one
    // at most 70.
    let (alphabet, count) = match best {
        Some(b) => b,
        None => {
            let n = super::ucs2::unit_len(text);
            (
                Alphabet::Ucs2,
                segment_count(text, Alphabet::Ucs2, n, concat),
            )
        }
    };
    if count > usize::from(u8::MAX) {
        return Err(TextError::TooManySegments { needed: count });
    }
    Ok((alphabet, count))
}

/// The alphabet [`split`] would choose and how many segments it would make,
/// without encoding anything.
///
/// # Errors
/// [`TextError::TooManySegments`] past 255 segments. (The 65 535-octet limit
/// of [`Concat::Payload`] is only checked by [`split`].)
pub fn count_segments(text: &str, opts: &SplitOptions) -> Result<(Alphabet, usize), TextError> {
    choose(text, opts)
}

/// Encodes `text` in Latin-1 or UCS-2 into `out`, pushing to `cuts` the
/// offset where each new segment of at most `limit` units starts (a
/// surrogate pair is never cut).
fn encode_cut_wide(
    text: &str,
    alphabet: Alphabet,
    limit: usize,
    out: &mut Vec<u8>,
    cuts: &mut Vec<usize>,
) -> Result<(), TextError> {
    let limit_octets = limit.saturating_mul(unit_size(alphabet));
    let mut seg_start = out.len();
    if alphabet == Alphabet::Latin1 {
        out.reserve(text.len());
        for (index, c) in text.char_indices() {
            let b = u8::try_from(c).map_err(|_| TextError::Unrepresentable { index })?;
            if out.len() - seg_start >= limit_octets {
                seg_start = out.len();
                cuts.push(seg_start);
            }
            out.push(b);
        }
    } else {
        // UTF-16 never takes more than twice the UTF-8 length.
        out.reserve(text.len().saturating_mul(2));
        let mut units = [0u16; 2];
        for c in text.chars() {
            if out.len() - seg_start + 2 * c.len_utf16() > limit_octets {
                seg_start = out.len();
                cuts.push(seg_start);
            }
            for u in c.encode_utf16(&mut units).iter() {
                out.extend_from_slice(&u.to_be_bytes());
            }
        }
    }
    Ok(())
}

/// Encodes `text` and cuts it into segments.
///
/// Chooses the alphabet as [`count_segments`] does; a text that fits one
/// message (160 septets / 140 octets / 70 UTF-16 units) gives one segment
/// with neither UDH nor SAR values, whatever `opts.concat` says. An empty
/// text gives one empty segment.
///
/// # Errors
/// [`TextError::TooManySegments`] past 255 segments; [`TextError::TooLong`]
/// for [`Concat::Payload`] past 65 535 octets.
pub fn split(text: &str, opts: &SplitOptions) -> Result<Split, TextError> {
    let concat = opts.concat;
    let mut buf = Vec::with_capacity(text.len() + 16);
    // `bounds` starts with 0; cut points follow, then the end is pushed.
    let mut bounds = Vec::with_capacity(8);
    bounds.push(0usize);
    let latin1_ok = || opts.allow_latin1 && text.chars().all(latin1::is_representable);
    // Common case first: one GSM pass that encodes and cuts at once.
    let gsm = gsm7::encode_cut(
        text,
        multi_limit(Alphabet::Gsm7, concat),
        &mut buf,
        &mut bounds,
    );
    let alphabet = match gsm {
        Ok(()) => {
            let gsm_count = if buf.len() <= limits(Alphabet::Gsm7).0 || concat == Concat::Payload {
                1
            } else {
                bounds.len()
            };
            let better_latin1 = gsm_count > 1 && latin1_ok() && {
                let n = text.chars().count();
                segment_count(text, Alphabet::Latin1, n, concat) < gsm_count
            };
            if better_latin1 {
                Alphabet::Latin1
            } else {
                Alphabet::Gsm7
            }
        }
        Err(_) if latin1_ok() => Alphabet::Latin1,
        Err(_) => Alphabet::Ucs2,
    };
    if alphabet != Alphabet::Gsm7 {
        buf.clear();
        bounds.truncate(1);
        encode_cut_wide(
            text,
            alphabet,
            multi_limit(alphabet, concat),
            &mut buf,
            &mut bounds,
        )?;
    }
    let unit = unit_size(alphabet);
    if buf.len() / unit <= limits(alphabet).0 || concat == Concat::Payload {
        bounds.truncate(1);
    }
    bounds.push(buf.len());
    if concat == Concat::Payload && buf.len() > MAX_PAYLOAD {
        return Err(TextError::TooLong { len: buf.len() });
    }
    let n_segments = bounds.len() - 1;
    let total =
        u8::try_from(n_segments).map_err(|_| TextError::TooManySegments { needed: n_segments })?;
    let payload = Bytes::from(buf);
    let udh_len = match concat {
        Concat::Udh8 { .. } => 6,
        Concat::Udh16 { .. } => 7,
        _ => 0,
    };
    let udhs = if total > 1 && udh_len > 0 {
        let mut u = BytesMut::with_capacity(udh_len * n_segments);
        for seq in 1..=total {
            match concat {
                Concat::Udh8 { reference } => {
                    u.put_slice(&[0x05, 0x00, 0x03, reference, total, seq]);
                }
                Concat::Udh16 { reference } => {
                    let [hi, lo] = reference.to_be_bytes();
                    u.put_slice(&[0x06, 0x08, 0x04, hi, lo, total, seq]);
                }
                _ => {}
            }
        }
        Some(u.freeze())
    } else {
        None
    };
    let segments = bounds
        .windows(2)
        .zip(1..=total)
        .map(|(w, seq)| {
            let (start, end) = match *w {
                [s, e] => (s, e),
                _ => (0, 0),
            };
            let off = usize::from(seq - 1) * udh_len;
            Segment {
                udh: udhs.as_ref().map(|u| u.slice(off..off + udh_len)),
                payload: payload.slice(start..end),
                sar: match concat {
                    Concat::Sar { reference } if total > 1 => Some(SarInfo {
                        reference,
                        total,
                        seq,
                    }),
                    _ => None,
                },
                index: seq,
                total,
            }
        })
        .collect();
    Ok(Split {
        data_coding: alphabet.data_coding(),
        alphabet,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::gsm7::ESC;
    use crate::text::{decode, decode_with_udh, ucs2};
    use crate::udh::Udh;
    use proptest::prelude::*;

    fn opts(concat: Concat, allow_latin1: bool) -> SplitOptions {
        SplitOptions {
            concat,
            allow_latin1,
        }
    }

    #[test]
    fn single_segments() {
        let s = split("hello", &SplitOptions::default()).unwrap();
        assert_eq!(s.alphabet, Alphabet::Gsm7);
        assert_eq!(s.data_coding, 0);
        assert_eq!(s.segments.len(), 1);
        let seg = &s.segments[0];
        assert_eq!(seg.udh, None);
        assert_eq!(&seg.payload[..], b"hello");
        assert_eq!(seg.short_message(), seg.payload);
        assert_eq!((seg.index, seg.total), (1, 1));

        let t = "a".repeat(160);
        assert_eq!(
            count_segments(&t, &SplitOptions::default()).unwrap(),
            (Alphabet::Gsm7, 1)
        );
        let t = "a".repeat(161);
        assert_eq!(
            count_segments(&t, &SplitOptions::default()).unwrap(),
            (Alphabet::Gsm7, 2)
        );
        let t = "ж".repeat(70);
        assert_eq!(
            count_segments(&t, &SplitOptions::default()).unwrap(),
            (Alphabet::Ucs2, 1)
        );
        let t = "ж".repeat(71);
        assert_eq!(
            count_segments(&t, &SplitOptions::default()).unwrap(),
            (Alphabet::Ucs2, 2)
        );
        let e = split("", &SplitOptions::default()).unwrap();
        assert_eq!(e.segments.len(), 1);
        assert!(e.segments[0].payload.is_empty());
    }

    #[test]
    fn udh8_segments() {
        let t = "x".repeat(400);
        let s = split(&t, &opts(Concat::Udh8 { reference: 0xCC }, false)).unwrap();
        assert_eq!(s.segments.len(), 3);
        let lens: Vec<usize> = s.segments.iter().map(|s| s.payload.len()).collect();
        assert_eq!(lens, [153, 153, 94]);
        let first = &s.segments[0];
        assert_eq!(
            first.udh.as_deref(),
            Some(&[0x05, 0x00, 0x03, 0xCC, 0x03, 0x01][..])
        );
        assert_eq!(first.short_message().len(), 159);
        assert_eq!(
            s.segments[2].udh.as_deref(),
            Some(&[0x05, 0x00, 0x03, 0xCC, 0x03, 0x03][..])
        );
        let (udh, text) = decode_with_udh(0, 0x40, &s.segments[1].short_message()).unwrap();
        assert_eq!(udh.unwrap().concat(), Some((0xCC, 3, 2)));
        assert_eq!(text, "x".repeat(153));
    }

    #[test]
    fn udh16_and_sar_and_payload() {
        let t = "x".repeat(400);
        let s = split(&t, &opts(Concat::Udh16 { reference: 0x1234 }, false)).unwrap();
        let lens: Vec<usize> = s.segments.iter().map(|s| s.payload.len()).collect();
        assert_eq!(lens, [152, 152, 96]);
        assert_eq!(
            s.segments[1].udh.as_deref(),
            Some(&[0x06, 0x08, 0x04, 0x12, 0x34, 0x03, 0x02][..])
        );

        let s = split(&t, &opts(Concat::Sar { reference: 7 }, false)).unwrap();
        assert_eq!(s.segments.len(), 3);
        assert!(s.segments.iter().all(|s| s.udh.is_none()));
        assert_eq!(
            s.segments[2].sar,
            Some(SarInfo {
                reference: 7,
                total: 3,
                seq: 3
            })
        );
        let s = split("short", &opts(Concat::Sar { reference: 7 }, false)).unwrap();
        assert_eq!(s.segments[0].sar, None);

        let s = split(&t, &opts(Concat::Payload, false)).unwrap();
        assert_eq!(s.segments.len(), 1);
        assert_eq!(s.segments[0].payload.len(), 400);
        assert_eq!(s.segments[0].udh, None);
        let big = "x".repeat(70_000);
        assert_eq!(
            split(&big, &opts(Concat::Payload, false)),
            Err(TextError::TooLong { len: 70_000 })
        );
    }

    #[test]
    fn escape_pairs_and_surrogates_not_cut() {
        // 152 'a' then '€': the pair would straddle 153.
        let t = format!("{}€{}", "a".repeat(152), "b".repeat(20));
        let s = split(&t, &SplitOptions::default()).unwrap();
        assert_eq!(s.segments[0].payload.len(), 152);
        assert_eq!(&s.segments[1].payload[..2], &[0x1B, 0x65]);

        let t = format!("{}😀{}", "ж".repeat(66), "ж".repeat(10));
        let s = split(&t, &SplitOptions::default()).unwrap();
        assert_eq!(s.alphabet, Alphabet::Ucs2);
        assert_eq!(s.segments[0].payload.len(), 132);
        assert_eq!(
            ucs2::decode(&s.segments[1].payload).unwrap().chars().next(),
            Some('😀')
        );
    }

    #[test]
    fn latin1_choice() {
        // 'é' is GSM; 'ç' is not, but it is Latin-1.
        let t = "ç".repeat(100);
        assert_eq!(
            count_segments(&t, &SplitOptions::default()).unwrap(),
            (Alphabet::Ucs2, 2)
        );
        let s = split(&t, &opts(Concat::Udh8 { reference: 1 }, true)).unwrap();
        assert_eq!(s.alphabet, Alphabet::Latin1);
        assert_eq!(s.data_coding, 3);
        assert_eq!(s.segments.len(), 1);
        // Many extension characters: Latin-1 beats GSM when allowed.
        let t = "{".repeat(100);
        assert_eq!(
            count_segments(&t, &opts(Concat::Udh8 { reference: 1 }, true)).unwrap(),
            (Alphabet::Latin1, 1)
        );
        assert_eq!(
            count_segments(&t, &SplitOptions::default()).unwrap(),
            (Alphabet::Gsm7, 2)
        );
        // Ties go to GSM.
        assert_eq!(
            count_segments("hello", &opts(Concat::Udh8 { reference: 1 }, true)).unwrap(),
            (Alphabet::Gsm7, 1)
        );
    }

    #[test]
    fn too_many_segments() {
        let t = "a".repeat(153 * 255);
        assert_eq!(count_segments(&t, &SplitOptions::default()).unwrap().1, 255);
        assert_eq!(
            split(&t, &SplitOptions::default()).unwrap().segments.len(),
            255
        );
        let t = "a".repeat(153 * 255 + 1);
        assert_eq!(
            split(&t, &SplitOptions::default()),
            Err(TextError::TooManySegments { needed: 256 })
        );
    }

    fn arb_text() -> impl Strategy<Value = String> {
        let chars = prop_oneof![
            4 => proptest::char::range('a', 'z'),
            2 => proptest::sample::select(vec!['€', '{', '}', '[', '~', '|', '^', '\\', '\u{0C}']),
            1 => proptest::sample::select(vec!['é', 'Ω', 'ç', 'ÿ', 'ж', '😀', '𝄞', '中']),
            1 => any::<char>(),
        ];
        prop_oneof![
            proptest::collection::vec(chars.clone(), 0..600),
            // Mostly-GSM texts so GSM and Latin-1 splits get exercised.
            proptest::collection::vec(
                prop_oneof![
                    3 => proptest::char::range('a', 'z'),
                    2 => proptest::sample::select(vec!['€', '{', 'é', 'ç']),
                ],
                0..800
            ),
        ]
        .prop_map(|v| v.into_iter().collect())
    }

    fn arb_concat() -> impl Strategy<Value = Concat> {
        prop_oneof![
            any::<u8>().prop_map(|reference| Concat::Udh8 { reference }),
            any::<u16>().prop_map(|reference| Concat::Udh16 { reference }),
            any::<u16>().prop_map(|reference| Concat::Sar { reference }),
            Just(Concat::Payload),
        ]
    }

    proptest! {
        #[test]
        fn split_round_trip(text in arb_text(), concat in arb_concat(), latin in any::<bool>()) {
            let o = opts(concat, latin);
            let s = split(&text, &o).unwrap();
            let (alpha, count) = count_segments(&text, &o).unwrap();
            prop_assert_eq!(alpha, s.alphabet);
            prop_assert_eq!(count, s.segments.len());
            prop_assert_eq!(Alphabet::from_data_coding(s.data_coding), s.alphabet);
            let n = s.segments.len();
            let (single, _, _) = limits(s.alphabet);
            let unit = unit_size(s.alphabet);
            let mut whole = String::new();
            for (i, seg) in s.segments.iter().enumerate() {
                prop_assert_eq!(usize::from(seg.index), i + 1);
                prop_assert_eq!(usize::from(seg.total), n);
                let units = seg.payload.len() / unit;
                if concat == Concat::Payload {
                    prop_assert_eq!(n, 1);
                } else if n == 1 {
                    prop_assert!(units <= single);
                } else {
                    prop_assert!(units <= multi_limit(s.alphabet, concat));
                }
                match s.alphabet {
                    Alphabet::Gsm7 => {
                        // Never ends on a lone ESC, so the next never starts
                        // with an orphaned extension code.
                        prop_assert_ne!(seg.payload.last().copied(), Some(ESC));
                    }
                    Alphabet::Ucs2 => {
                        let first = seg.payload.first().copied().unwrap_or(0);
                        prop_assert!(!(0xDC..=0xDF).contains(&first), "starts with low surrogate");
                    }
                    _ => {}
                }
                // Each segment decodes on its own.
                whole.push_str(&decode(s.data_coding, &seg.payload).unwrap());
                match concat {
                    Concat::Udh8 { reference } if n > 1 => {
                        let (udh, used) = Udh::parse(seg.udh.as_deref().unwrap()).unwrap();
                        prop_assert_eq!(used, 6);
                        prop_assert_eq!(udh.concat(), Some((u16::from(reference), seg.total, seg.index)));
                        prop_assert!(seg.short_message().len() <= 6 + multi_limit(s.alphabet, concat) * unit);
                    }
                    Concat::Udh16 { reference } if n > 1 => {
                        let (udh, used) = Udh::parse(seg.udh.as_deref().unwrap()).unwrap();
                        prop_assert_eq!(used, 7);
                        prop_assert_eq!(udh.concat(), Some((reference, seg.total, seg.index)));
                    }
                    Concat::Sar { reference } if n > 1 => {
                        prop_assert_eq!(seg.sar, Some(SarInfo { reference, total: seg.total, seq: seg.index }));
                        prop_assert!(seg.udh.is_none());
                    }
                    _ => {
                        prop_assert!(seg.udh.is_none());
                        prop_assert!(seg.sar.is_none());
                    }
                }
            }
            prop_assert_eq!(whole, text);
        }
    }
}
