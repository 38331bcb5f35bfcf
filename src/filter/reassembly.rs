//! Holding the segments of a concatenated message until the set is whole,
//! so the filter judges the full text (a keyword or link split across
//! segments is still seen) and all segments are forwarded or rejected
//! together.
//!
//! Segments are identified by UDH concatenation (8- or 16-bit reference)
//! or by the `sar_*` TLVs ([`concat_info`]), and grouped by account,
//! source, destination, reference and total. Everything is bounded: a set
//! waits at most `timeout` (then it is released as it is, to be judged on
//! what arrived), at most `max_sets` sets and `max_bytes` octets are held
//! (beyond, the oldest set is released early). The holder is generic over
//! the segment (the caller keeps whatever it needs to answer the ESME).
//! Unrelated messages never wait: a message that is not a segment, or a
//! malformed one, is not held.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use telegate_smpp::pdu::SubmitSm;
use telegate_smpp::tlv::TlvList;
use telegate_smpp::udh::Udh;

/// `(reference, total, seq)` of a segment, from its UDH (when esm_class
/// says a UDH is present) or its `sar_*` TLVs; `None` for a message that
/// is not one of several segments, or whose numbering is invalid.
pub fn concat_info(sm: &SubmitSm) -> Option<(u16, u8, u8)> {
    let info = if sm.esm_class & 0x40 != 0 {
        Udh::parse(&sm.short_message)
            .ok()
            .and_then(|(u, _)| u.concat())
    } else {
        None
    }
    .or_else(|| sm.tlvs.sar())?;
    let (_, total, seq) = info;
    (total >= 2 && seq >= 1 && seq <= total).then_some(info)
}

/// What identifies one concatenated message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SetKey {
    /// The submitting account.
    pub account: u16,
    /// Source address octets.
    pub source: Box<[u8]>,
    /// Destination address octets.
    pub dest: Box<[u8]>,
    /// Concatenation reference.
    pub reference: u16,
    /// Segments in the set.
    pub total: u8,
}

/// What [`Reassembler::offer`] did with a segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer<T> {
    /// Held until the rest of its set arrives.
    Held,
    /// The set is whole: every segment, in order.
    Complete(Vec<T>),
    /// The same segment number arrived twice; the second comes back.
    Duplicate(T),
}

struct Set<T> {
    since: Instant,
    parts: Vec<Option<T>>,
    have: usize,
    bytes: usize,
}

/// The segments held, bounded in time and memory.
pub struct Reassembler<T> {
    timeout: Duration,
    max_sets: usize,
    max_bytes: usize,
    bytes: usize,
    sets: HashMap<SetKey, Set<T>>,
    /// Arrival order of sets (stale entries skipped).
    order: VecDeque<(Instant, SetKey)>,
    /// Sets released early (over the bounds), waiting to be collected.
    released: Vec<Vec<T>>,
}

impl<T> std::fmt::Debug for Reassembler<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reassembler")
            .field("sets", &self.sets.len())
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl<T> Reassembler<T> {
    /// Sets wait at most `timeout`; at most `max_sets` sets and
    /// `max_bytes` octets of segments are held.
    pub fn new(timeout: Duration, max_sets: usize, max_bytes: usize) -> Reassembler<T> {
        Reassembler {
            timeout,
            max_sets: max_sets.max(1),
            max_bytes: max_bytes.max(1),
            bytes: 0,
            sets: HashMap::new(),
            order: VecDeque::new(),
            released: Vec::new(),
        }
    }

    /// Sets held now.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Offers segment `seq` (1-based, ≤ `key.total`) of `bytes` octets.
    pub fn offer(&mut self, key: SetKey, seq: u8, bytes: usize, item: T, now: Instant) -> Offer<T> {
        let total = usize::from(key.total);
        let idx = usize::from(seq).saturating_sub(1);
        if !self.sets.contains_key(&key) {
            self.order.push_back((now, key.clone()));
            self.sets.insert(
                key.clone(),
                Set {
                    since: now,
                    parts: (0..total).map(|_| None).collect(),
                    have: 0,
                    bytes: 0,
                },
            );
        }
        let Some(set) = self.sets.get_mut(&key) else {
            return Offer::Held;
        };
        let Some(slot) = set.parts.get_mut(idx) else {
            return Offer::Duplicate(item);
        };
        if slot.is_some() {
            return Offer::Duplicate(item);
        }
        *slot = Some(item);
        set.have += 1;
        set.bytes += bytes;
        self.bytes += bytes;
        if set.have == total {
            let done = self.sets.remove(&key).map(|s| self.finish(s));
            return Offer::Complete(done.unwrap_or_default());
        }
        self.enforce_bounds(&key);
        Offer::Held
    }

    fn finish(&mut self, s: Set<T>) -> Vec<T> {
        self.bytes -= s.bytes;
        s.parts.into_iter().flatten().collect()
    }

    /// Over a bound: release the oldest sets (never `keep`, the one just
    /// added to, unless it is alone over the bound).
    fn enforce_bounds(&mut self, keep: &SetKey) {
        while self.sets.len() > self.max_sets || self.bytes > self.max_bytes {
            let Some((_, k)) = self.order.pop_front() else {
                break;
            };
            if &k == keep && self.sets.len() > 1 {
                self.order.push_back((Instant::now(), k));
                continue;
            }
            if let Some(s) = self.sets.remove(&k) {
                let parts = self.finish(s);
                self.released.push(parts);
            }
        }
    }

    /// Sets whose time is up (waiting since before `now - timeout`), and
    /// those released early by the bounds: each as the segments that
    /// arrived, in order, to be judged on what is there.
    pub fn take_expired(&mut self, now: Instant) -> Vec<Vec<T>> {
        let mut out = std::mem::take(&mut self.released);
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.timeout {
                break;
            }
            let Some((_, k)) = self.order.pop_front() else {
                break;
            };
            let expired = self
                .sets
                .get(&k)
                .is_some_and(|s| now.saturating_duration_since(s.since) >= self.timeout);
            if expired {
                if let Some(s) = self.sets.remove(&k) {
                    let parts = self.finish(s);
                    out.push(parts);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use telegate_smpp::tlv::Tlv;

    fn key(reference: u16, total: u8) -> SetKey {
        SetKey {
            account: 1,
            source: b"447700900001".as_slice().into(),
            dest: b"491511234567".as_slice().into(),
            reference,
            total,
        }
    }

    #[test]
    fn concat_info_reads_udh_and_sar() {
        let mut udh8 = vec![0x05, 0x00, 0x03, 0x2A, 0x03, 0x02];
        udh8.extend_from_slice(b"part two");
        let sm = SubmitSm {
            esm_class: 0x40,
            short_message: Bytes::from(udh8),
            ..SubmitSm::default()
        };
        assert_eq!(concat_info(&sm), Some((0x2A, 3, 2)));
        let mut udh16 = vec![0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01];
        udh16.extend_from_slice(b"one");
        let sm = SubmitSm {
            esm_class: 0x40,
            short_message: Bytes::from(udh16),
            ..SubmitSm::default()
        };
        assert_eq!(concat_info(&sm), Some((0x1234, 2, 1)));
        let sm = SubmitSm {
            tlvs: vec![
                Tlv::SarMsgRefNum(7),
                Tlv::SarTotalSegments(2),
                Tlv::SarSegmentSeqnum(2),
            ],
            ..SubmitSm::default()
        };
        assert_eq!(concat_info(&sm), Some((7, 2, 2)));
        // Not a segment, or numbered wrong.
        assert_eq!(concat_info(&SubmitSm::default()), None);
        let bad = SubmitSm {
            esm_class: 0x40,
            short_message: Bytes::from_static(&[0x05, 0x00, 0x03, 0x01, 0x02, 0x05]),
            ..SubmitSm::default()
        };
        assert_eq!(concat_info(&bad), None);
    }

    #[test]
    fn a_set_completes_in_order_whatever_the_arrival_order() {
        let mut r = Reassembler::new(Duration::from_secs(10), 100, 1 << 20);
        let t = Instant::now();
        assert_eq!(r.offer(key(1, 3), 3, 10, "c", t), Offer::Held);
        assert_eq!(r.offer(key(1, 3), 1, 10, "a", t), Offer::Held);
        assert_eq!(r.offer(key(1, 3), 1, 10, "a2", t), Offer::Duplicate("a2"));
        // Another set in between is kept apart.
        assert_eq!(r.offer(key(2, 2), 1, 10, "x", t), Offer::Held);
        assert_eq!(
            r.offer(key(1, 3), 2, 10, "b", t),
            Offer::Complete(vec!["a", "b", "c"])
        );
        assert_eq!(r.len(), 1);
        assert_eq!(
            r.offer(key(2, 2), 2, 10, "y", t),
            Offer::Complete(vec!["x", "y"])
        );
        assert!(r.is_empty());
        assert_eq!(r.bytes, 0);
    }

    #[test]
    fn an_incomplete_set_is_released_after_the_timeout() {
        let mut r = Reassembler::new(Duration::from_secs(5), 100, 1 << 20);
        let t = Instant::now();
        r.offer(key(1, 3), 1, 10, 1, t);
        r.offer(key(1, 3), 3, 10, 3, t);
        r.offer(key(2, 2), 1, 10, 9, t + Duration::from_secs(3));
        assert!(r.take_expired(t + Duration::from_secs(4)).is_empty());
        assert_eq!(r.take_expired(t + Duration::from_secs(5)), vec![vec![1, 3]]);
        assert_eq!(r.take_expired(t + Duration::from_secs(8)), vec![vec![9]]);
        assert!(r.is_empty());
    }

    #[test]
    fn bounds_release_the_oldest_sets_early() {
        let mut r = Reassembler::new(Duration::from_secs(60), 2, 1 << 20);
        let t = Instant::now();
        r.offer(key(1, 2), 1, 10, "a", t);
        r.offer(key(2, 2), 1, 10, "b", t);
        r.offer(key(3, 2), 1, 10, "c", t);
        assert_eq!(r.len(), 2);
        assert_eq!(r.take_expired(t), vec![vec!["a"]]);
        // The byte bound too.
        let mut r = Reassembler::new(Duration::from_secs(60), 100, 25);
        r.offer(key(1, 2), 1, 10, "a", t);
        r.offer(key(2, 2), 1, 10, "b", t);
        r.offer(key(3, 2), 1, 10, "c", t);
        assert_eq!(r.take_expired(t), vec![vec!["a"]]);
        assert!(r.bytes <= 25);
    }
}
