//! Reassembly of concatenated short messages (3GPP TS 23.040 §9.2.3.24.1,
//! §9.2.3.24.8; SMPP 3.4 §5.3.2.22–§5.3.2.24 SAR TLVs).
//!
//! A [`Reassembler`] collects segments arriving in any order and yields the
//! whole message once every segment of a set is in. A set is identified by
//! a caller-chosen key (e.g. `(account, source, destination)`) plus the
//! concatenation reference and total; an 8-bit reference is widened to 16
//! bits, so an 8-bit and a 16-bit reference of equal value share a set.
//!
//! It is bounded: at most `max_sets` incomplete sets and `max_bytes` octets
//! of segment payload are held, the oldest set (by first arrival) being
//! evicted first to make room. Time is a caller-supplied millisecond
//! timestamp, so behaviour is deterministic; [`Reassembler::expire`] returns
//! the sets whose first segment arrived `timeout_ms` or more ago.
//!
//! Payloads are kept as given (for GSM 7-bit, unpacked septets): decode the
//! concatenation of [`Assembled::parts`] with the message's `data_coding`,
//! e.g. via [`crate::text::decode`].

use crate::udh::{Udh, UdhError};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;

/// Concatenation values of one segment: reference, total and sequence
/// number (3GPP TS 23.040 §9.2.3.24.1 / §9.2.3.24.8, or the SMPP SAR TLVs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConcatInfo {
    /// Reference number (8-bit references widened).
    pub reference: u16,
    /// Number of segments in the message.
    pub total: u8,
    /// This segment's sequence number, from 1.
    pub seq: u8,
}

impl ConcatInfo {
    /// The values of the UDH's concatenation element (IEI `0x00` or `0x08`),
    /// if it has one.
    pub fn from_udh(udh: &Udh) -> Option<ConcatInfo> {
        udh.concat().map(|(reference, total, seq)| ConcatInfo {
            reference,
            total,
            seq,
        })
    }

    /// The values of the `sar_msg_ref_num`, `sar_total_segments` and
    /// `sar_segment_seqnum` TLVs (SMPP 3.4 §5.3.2.22–§5.3.2.24).
    pub fn from_sar(reference: u16, total: u8, seq: u8) -> ConcatInfo {
        ConcatInfo {
            reference,
            total,
            seq,
        }
    }

    /// Checks `total >= 1` and `1 <= seq <= total`.
    ///
    /// # Errors
    /// [`ReassembleError::ZeroTotal`] or [`ReassembleError::BadSeq`].
    pub fn validate(&self) -> Result<(), ReassembleError> {
        if self.total == 0 {
            return Err(ReassembleError::ZeroTotal);
        }
        if self.seq == 0 || self.seq > self.total {
            return Err(ReassembleError::BadSeq {
                seq: self.seq,
                total: self.total,
            });
        }
        Ok(())
    }
}

/// Reads the concatenation values from a `short_message`: when `esm_class`
/// has the UDHI bit `0x40` (SMPP 3.4 §5.2.12), parses the User Data Header
/// and returns its concatenation element (if any) and the text after the
/// header; otherwise returns `None` and the whole `short_message`.
///
/// # Errors
/// The header does not parse.
pub fn concat_from_short_message(
    esm_class: u8,
    short_message: &Bytes,
) -> Result<(Option<ConcatInfo>, Bytes), UdhError> {
    if esm_class & 0x40 == 0 {
        return Ok((None, short_message.clone()));
    }
    let (udh, rest) = Udh::split_off(short_message)?;
    Ok((ConcatInfo::from_udh(&udh), rest))
}

/// Why a segment was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReassembleError {
    /// The total number of segments is 0.
    ZeroTotal,
    /// The sequence number is 0 or above the total.
    BadSeq {
        /// The sequence number.
        seq: u8,
        /// The total.
        total: u8,
    },
    /// The segment alone is larger than the reassembler's byte bound.
    TooLarge {
        /// Segment payload length.
        len: usize,
        /// The bound.
        max: usize,
    },
}

impl fmt::Display for ReassembleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ReassembleError::ZeroTotal => f.write_str("concatenated message with total 0"),
            ReassembleError::BadSeq { seq, total } => {
                write!(f, "segment sequence number {seq} outside 1..={total}")
            }
            ReassembleError::TooLarge { len, max } => {
                write!(f, "segment of {len} octets exceeds the {max}-octet bound")
            }
        }
    }
}

impl std::error::Error for ReassembleError {}

/// A complete message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled<K> {
    /// The caller's key.
    pub key: K,
    /// Concatenation reference.
    pub reference: u16,
    /// Number of segments.
    pub total: u8,
    /// Segment payloads in sequence order (`parts[0]` is segment 1).
    pub parts: Vec<Bytes>,
}

impl<K> Assembled<K> {
    /// Total payload length.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    /// Whether every part is empty.
    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(Bytes::is_empty)
    }

    /// The parts concatenated.
    pub fn concat(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for p in &self.parts {
            v.extend_from_slice(p);
        }
        v
    }
}

/// An incomplete set, returned when evicted or expired so the caller can
/// judge what arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incomplete<K> {
    /// The caller's key.
    pub key: K,
    /// Concatenation reference.
    pub reference: u16,
    /// Number of segments announced.
    pub total: u8,
    /// The segments that arrived, as `(seq, payload)`, in sequence order.
    pub parts: Vec<(u8, Bytes)>,
    /// Timestamp (ms) of the first segment.
    pub first_ms: u64,
    /// Timestamp (ms) of the latest segment.
    pub last_ms: u64,
}

impl<K> Incomplete<K> {
    /// The sequence numbers that did not arrive.
    pub fn missing(&self) -> Vec<u8> {
        (1..=self.total)
            .filter(|s| !self.parts.iter().any(|(p, _)| p == s))
            .collect()
    }
}

/// What [`Reassembler::push`] did with a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushStatus<K> {
    /// The segment completed its set (or was a message of total 1).
    Complete(Assembled<K>),
    /// Stored; the set is still incomplete.
    Pending {
        /// Segments of the set held now.
        received: u8,
        /// Segments announced.
        total: u8,
    },
    /// A segment with this sequence number was already held: the first one
    /// is kept and this one ignored.
    Duplicate {
        /// The repeated sequence number.
        seq: u8,
    },
}

/// The result of [`Reassembler::push`]: what happened to the segment, and
/// the incomplete sets evicted (oldest first) to make room for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome<K> {
    /// What happened to the segment.
    pub status: PushStatus<K>,
    /// Sets evicted to respect `max_sets` / `max_bytes`.
    pub evicted: Vec<Incomplete<K>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SetKey<K> {
    key: K,
    reference: u16,
    total: u8,
}

#[derive(Debug)]
struct PendingSet<K> {
    key: SetKey<K>,
    parts: Vec<(u8, Bytes)>,
    seen: [u64; 4],
    bytes: usize,
    first_ms: u64,
    last_ms: u64,
}

impl<K> PendingSet<K> {
    fn has(&self, seq: u8) -> bool {
        let i = usize::from(seq);
        self.seen
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    fn mark(&mut self, seq: u8) {
        let i = usize::from(seq);
        if let Some(w) = self.seen.get_mut(i / 64) {
            *w |= 1u64 << (i % 64);
        }
    }

    fn into_incomplete(mut self) -> Incomplete<K> {
        self.parts.sort_unstable_by_key(|(s, _)| *s);
        Incomplete {
            key: self.key.key,
            reference: self.key.reference,
            total: self.key.total,
            parts: self.parts,
            first_ms: self.first_ms,
            last_ms: self.last_ms,
        }
    }
}

/// Collects concatenated segments until each message is complete; bounded
/// in sets and bytes, oldest set evicted first.
#[derive(Debug)]
pub struct Reassembler<K> {
    max_sets: usize,
    max_bytes: usize,
    timeout_ms: u64,
    index: HashMap<SetKey<K>, u64>,
    sets: BTreeMap<u64, PendingSet<K>>,
    next_id: u64,
    bytes: usize,
}

impl<K: Hash + Eq + Clone> Reassembler<K> {
    /// A reassembler holding at most `max_sets` incomplete sets (at least 1
    /// is used if 0 is given) and `max_bytes` octets of segment payload;
    /// [`Reassembler::expire`] drops sets `timeout_ms` after their first
    /// segment.
    pub fn new(max_sets: usize, max_bytes: usize, timeout_ms: u64) -> Self {
        Reassembler {
            max_sets: max_sets.max(1),
            max_bytes,
            timeout_ms,
            index: HashMap::new(),
            sets: BTreeMap::new(),
            next_id: 0,
            bytes: 0,
        }
    }

    /// Number of incomplete sets held.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether no incomplete set is held.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Octets of segment payload held.
    pub fn bytes_held(&self) -> usize {
        self.bytes
    }

    /// The earliest timestamp (ms) at which [`Reassembler::expire`] will
    /// return a set, if any set is held.
    pub fn next_deadline(&self) -> Option<u64> {
        self.sets
            .values()
            .map(|s| s.first_ms.saturating_add(self.timeout_ms))
            .min()
    }

    fn evict_oldest(&mut self) -> Option<Incomplete<K>> {
        let (_, set) = self.sets.pop_first()?;
        self.index.remove(&set.key);
        self.bytes = self.bytes.saturating_sub(set.bytes);
        Some(set.into_incomplete())
    }

    /// Adds one segment's payload (text after any UDH) received at `now_ms`.
    ///
    /// A segment whose set already holds its sequence number is reported
    /// as [`PushStatus::Duplicate`] and dropped. A message of total 1 is
    /// returned complete at once. Once a set completes it is forgotten, so a
    /// late repeat of one of its segments starts a new set.
    ///
    /// # Errors
    /// Total 0, sequence number 0 or above total, or a payload larger than
    /// `max_bytes`; nothing is changed then.
    pub fn push(
        &mut self,
        key: K,
        info: ConcatInfo,
        payload: Bytes,
        now_ms: u64,
    ) -> Result<PushOutcome<K>, ReassembleError> {
        info.validate()?;
        let len = payload.len();
        if len > self.max_bytes {
            return Err(ReassembleError::TooLarge {
                len,
                max: self.max_bytes,
            });
        }
        if info.total == 1 {
            return Ok(PushOutcome {
                status: PushStatus::Complete(Assembled {
                    key,
                    reference: info.reference,
                    total: 1,
                    parts: vec![payload],
                }),
                evicted: Vec::new(),
            });
        }
        let sk = SetKey {
            key,
            reference: info.reference,
            total: info.total,
        };
        let mut existing = self.index.get(&sk).copied();
        if let Some(id) = existing {
            if self.sets.get(&id).is_some_and(|s| s.has(info.seq)) {
                return Ok(PushOutcome {
                    status: PushStatus::Duplicate { seq: info.seq },
                    evicted: Vec::new(),
                });
            }
        }
        let mut evicted = Vec::new();
        if existing.is_none() {
            while self.sets.len() >= self.max_sets {
                match self.evict_oldest() {
                    Some(s) => evicted.push(s),
                    None => break,
                }
            }
        }
        while self.bytes.saturating_add(len) > self.max_bytes {
            let oldest = self.sets.first_key_value().map(|(id, _)| *id);
            if oldest.is_some() && oldest == existing {
                existing = None;
            }
            match self.evict_oldest() {
                Some(s) => evicted.push(s),
                None => break,
            }
        }
        let id = match existing {
            Some(id) => id,
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.index.insert(sk.clone(), id);
                self.sets.insert(
                    id,
                    PendingSet {
                        key: sk,
                        parts: Vec::new(),
                        seen: [0; 4],
                        bytes: 0,
                        first_ms: now_ms,
                        last_ms: now_ms,
                    },
                );
                id
            }
        };
        let Some(set) = self.sets.get_mut(&id) else {
            // Unreachable: the set was found or inserted above.
            return Ok(PushOutcome {
                status: PushStatus::Pending {
                    received: 0,
                    total: info.total,
                },
                evicted,
            });
        };
        set.mark(info.seq);
        set.parts.push((info.seq, payload));
        set.bytes += len;
        set.last_ms = now_ms;
        self.bytes += len;
        let received = set.parts.len();
        if received < usize::from(info.total) {
            return Ok(PushOutcome {
                status: PushStatus::Pending {
                    received: u8::try_from(received).unwrap_or(u8::MAX),
                    total: info.total,
                },
                evicted,
            });
        }
        let status = match self.sets.remove(&id) {
            Some(mut set) => {
                self.index.remove(&set.key);
                self.bytes = self.bytes.saturating_sub(set.bytes);
                set.parts.sort_unstable_by_key(|(s, _)| *s);
                PushStatus::Complete(Assembled {
                    key: set.key.key,
                    reference: set.key.reference,
                    total: set.key.total,
                    parts: set.parts.into_iter().map(|(_, p)| p).collect(),
                })
            }
            None => PushStatus::Pending {
                received: 0,
                total: info.total,
            },
        };
        Ok(PushOutcome { status, evicted })
    }

    /// Removes and returns, oldest first, the incomplete sets whose first
    /// segment arrived `timeout_ms` or more before `now_ms`.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Incomplete<K>> {
        let timeout = self.timeout_ms;
        let ids: Vec<u64> = self
            .sets
            .iter()
            .filter(|(_, s)| now_ms.saturating_sub(s.first_ms) >= timeout)
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(set) = self.sets.remove(&id) {
                self.index.remove(&set.key);
                self.bytes = self.bytes.saturating_sub(set.bytes);
                out.push(set.into_incomplete());
            }
        }
        out
    }

    /// Removes and returns every incomplete set, oldest first.
    pub fn drain(&mut self) -> Vec<Incomplete<K>> {
        self.index.clear();
        self.bytes = 0;
        std::mem::take(&mut self.sets)
            .into_values()
            .map(PendingSet::into_incomplete)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{decode, split, Concat, SplitOptions};
    use proptest::prelude::*;

    fn info(reference: u16, total: u8, seq: u8) -> ConcatInfo {
        ConcatInfo::from_sar(reference, total, seq)
    }

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn out_of_order_and_duplicates() {
        let mut r = Reassembler::new(10, 1000, 60_000);
        let o = r.push("k", info(1, 3, 3), b("c"), 0).unwrap();
        assert_eq!(
            o.status,
            PushStatus::Pending {
                received: 1,
                total: 3
            }
        );
        let o = r.push("k", info(1, 3, 1), b("a"), 1).unwrap();
        assert_eq!(
            o.status,
            PushStatus::Pending {
                received: 2,
                total: 3
            }
        );
        let o = r.push("k", info(1, 3, 1), b("X"), 2).unwrap();
        assert_eq!(o.status, PushStatus::Duplicate { seq: 1 });
        // Another key with the same reference is a different set.
        r.push("other", info(1, 3, 2), b("Z"), 2).unwrap();
        assert_eq!(r.len(), 2);
        let o = r.push("k", info(1, 3, 2), b("b"), 3).unwrap();
        match o.status {
            PushStatus::Complete(a) => {
                assert_eq!(a.key, "k");
                assert_eq!(a.concat(), b"abc");
                assert_eq!(a.len(), 3);
            }
            s => panic!("{s:?}"),
        }
        assert_eq!(r.len(), 1);
        assert_eq!(r.bytes_held(), 1);
        assert_eq!(r.drain().len(), 1);
        assert!(r.is_empty());
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn errors_and_single() {
        let mut r = Reassembler::new(10, 4, 1000);
        assert_eq!(
            r.push(0, info(1, 0, 1), b("a"), 0),
            Err(ReassembleError::ZeroTotal)
        );
        assert_eq!(
            r.push(0, info(1, 2, 0), b("a"), 0),
            Err(ReassembleError::BadSeq { seq: 0, total: 2 })
        );
        assert_eq!(
            r.push(0, info(1, 2, 3), b("a"), 0),
            Err(ReassembleError::BadSeq { seq: 3, total: 2 })
        );
        assert_eq!(
            r.push(0, info(1, 2, 1), b("abcde"), 0),
            Err(ReassembleError::TooLarge { len: 5, max: 4 })
        );
        let o = r.push(0, info(1, 1, 1), b("abc"), 0).unwrap();
        assert!(matches!(o.status, PushStatus::Complete(_)));
        assert!(r.is_empty());
        assert!(!ReassembleError::ZeroTotal.to_string().is_empty());
    }

    #[test]
    fn eviction_by_sets() {
        let mut r = Reassembler::new(2, 1000, 1000);
        r.push(1, info(1, 2, 1), b("a"), 0).unwrap();
        r.push(2, info(1, 2, 1), b("b"), 1).unwrap();
        // Adding to an existing set evicts nothing.
        let o = r.push(2, info(1, 3, 1), b("c"), 2).unwrap();
        assert_eq!(o.evicted.len(), 1);
        assert_eq!(o.evicted[0].key, 1);
        assert_eq!(o.evicted[0].missing(), vec![2]);
        assert_eq!(r.len(), 2);
        let o = r.push(2, info(1, 3, 2), b("d"), 3).unwrap();
        assert!(o.evicted.is_empty());
    }

    #[test]
    fn eviction_by_bytes() {
        let mut r = Reassembler::new(100, 10, 1000);
        r.push(1, info(1, 2, 1), b("aaaa"), 0).unwrap();
        r.push(2, info(1, 2, 1), b("bbbb"), 1).unwrap();
        assert_eq!(r.bytes_held(), 8);
        let o = r.push(3, info(1, 2, 1), b("cccc"), 2).unwrap();
        assert_eq!(o.evicted.len(), 1);
        assert_eq!(o.evicted[0].key, 1);
        assert_eq!(r.bytes_held(), 8);
        // The set being added to is itself the oldest: it goes, and the
        // segment starts a new set.
        let o = r.push(2, info(1, 2, 2), b("dddddd"), 3).unwrap();
        let keys: Vec<i32> = o.evicted.iter().map(|s| s.key).collect();
        assert_eq!(keys, [2]);
        assert_eq!(
            o.status,
            PushStatus::Pending {
                received: 1,
                total: 2
            }
        );
        assert_eq!(r.bytes_held(), 10);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn expiry() {
        let mut r = Reassembler::new(10, 1000, 100);
        r.push("a", info(1, 2, 1), b("x"), 1000).unwrap();
        r.push("b", info(1, 2, 1), b("y"), 1050).unwrap();
        assert_eq!(r.next_deadline(), Some(1100));
        assert!(r.expire(1099).is_empty());
        let e = r.expire(1100);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].key, "a");
        assert_eq!(e[0].parts, vec![(1, b("x"))]);
        assert_eq!(r.len(), 1);
        assert_eq!(r.bytes_held(), 1);
        assert_eq!(r.expire(u64::MAX).len(), 1);
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn concat_from_udh() {
        let sm = Bytes::from_static(&[0x06, 0x08, 0x04, 0x01, 0x02, 0x03, 0x01, b'h']);
        let (ci, rest) = concat_from_short_message(0x40, &sm).unwrap();
        assert_eq!(ci, Some(info(0x0102, 3, 1)));
        assert_eq!(&rest[..], b"h");
        let (ci, rest) = concat_from_short_message(0x00, &sm).unwrap();
        assert_eq!(ci, None);
        assert_eq!(rest, sm);
        assert!(concat_from_short_message(0x40, &Bytes::from_static(&[0x05])).is_err());
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                3 => proptest::char::range('a', 'z'),
                1 => proptest::sample::select(vec!['€', '{', '😀', 'ж']),
            ],
            0..700,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn shuffled_reassembly(
            (text, order) in text_strategy().prop_flat_map(|t| {
                let n = split(&t, &SplitOptions::new(Concat::Udh16 { reference: 9 }))
                    .map(|s| s.segments.len())
                    .unwrap_or(1);
                (Just(t), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
            }),
            dup in any::<bool>(),
        ) {
            let s = split(&text, &SplitOptions::new(Concat::Udh16 { reference: 9 })).unwrap();
            let mut r = Reassembler::new(4, 100_000, 1000);
            let mut done = None;
            for (k, &i) in order.iter().enumerate() {
                let seg = &s.segments[i];
                let esm = if seg.udh.is_some() { 0x40 } else { 0 };
                let (ci, rest) = concat_from_short_message(esm, &seg.short_message()).unwrap();
                let ci = ci.unwrap_or(ConcatInfo::from_sar(0, 1, 1));
                if dup && k == 1 {
                    let again = r.push(("acct", 7), ConcatInfo::from_sar(ci.reference, ci.total, s.segments[order[0]].index), Bytes::new(), 0).unwrap();
                    let is_dup = matches!(again.status, PushStatus::Duplicate { .. });
                    prop_assert!(is_dup, "expected duplicate");
                }
                let o = r.push(("acct", 7), ci, rest, k as u64).unwrap();
                prop_assert!(o.evicted.is_empty());
                if let PushStatus::Complete(a) = o.status {
                    prop_assert_eq!(k + 1, order.len());
                    done = Some(a);
                }
            }
            let a = done.unwrap();
            prop_assert_eq!(decode(s.data_coding, &a.concat()).unwrap(), text);
            prop_assert!(r.is_empty());
            prop_assert_eq!(r.bytes_held(), 0);
        }

        #[test]
        fn bounds_hold(ops in proptest::collection::vec((0u8..6, 1u8..4, 1u8..4, 0usize..30), 0..200),
                       max_sets in 1usize..5, max_bytes in 0usize..80) {
            let mut r = Reassembler::new(max_sets, max_bytes, 50);
            let mut now = 0u64;
            for (key, total, seq, len) in ops {
                now += 3;
                let res = r.push(key, info(1, total, seq), Bytes::from(vec![0u8; len]), now);
                if seq > total {
                    prop_assert!(res.is_err());
                }
                if len > max_bytes {
                    prop_assert!(res.is_err());
                }
                prop_assert!(r.len() <= max_sets);
                prop_assert!(r.bytes_held() <= max_bytes);
                let held: usize = r.sets.values().map(|s| s.bytes).sum();
                prop_assert_eq!(held, r.bytes_held());
                prop_assert_eq!(r.index.len(), r.sets.len());
                if now.is_multiple_of(30) {
                    r.expire(now);
                }
            }
        }
    }
}
