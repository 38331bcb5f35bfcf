//! Requests in flight on one connection, by sequence number.
//!
//! A connection numbers its requests in order and its window bounds how
//! many are out at once, so a ring indexed by the sequence number's low
//! bits finds a request without hashing, and requests sent one after the
//! other sit side by side. Responses come back in about the order the
//! requests went, so settling them walks the ring forwards, which the
//! CPU's prefetcher follows; a hash map scatters the same requests over
//! its table, and each settle began with a cache miss.
//!
//! A request still out when the ring comes round to its slot again (one
//! stuck while the rest flow, or more out than the ring holds) goes to an
//! overflow map instead: nothing is ever refused or overwritten.

use std::collections::HashMap;

use crate::hash::Mix;

/// The most slots a ring gets, whatever the window (each slot is the size
/// of a `T` and a sequence number).
const MAX_SLOTS: usize = 1 << 13;

/// Requests in flight by sequence number: a ring for the expected case and
/// an overflow map for the rest. The ring is allocated on the first insert,
/// so an idle connection costs nothing.
pub(crate) struct SeqMap<T> {
    ring: Box<[Option<(u32, T)>]>,
    /// Slots the ring gets on its first insert (a power of two).
    slots: usize,
    /// Entries in the ring.
    in_ring: usize,
    overflow: HashMap<u32, T, Mix>,
}

impl<T> SeqMap<T> {
    /// A map for a connection with at most `window` requests out: the ring
    /// has twice as many slots (a power of two, at most [`MAX_SLOTS`]), so
    /// a request answered later than the next window's worth is still in
    /// its slot.
    pub(crate) fn with_window(window: usize) -> SeqMap<T> {
        SeqMap {
            ring: Box::new([]),
            slots: window
                .saturating_mul(2)
                .next_power_of_two()
                .clamp(16, MAX_SLOTS),
            in_ring: 0,
            overflow: HashMap::default(),
        }
    }

    fn slot(&self, seq: u32) -> usize {
        seq as usize & (self.ring.len() - 1)
    }

    /// Requests in flight.
    pub(crate) fn len(&self) -> usize {
        self.in_ring + self.overflow.len()
    }

    /// Registers `value` under `seq`, returning what was there under the
    /// same number, if anything.
    pub(crate) fn insert(&mut self, seq: u32, value: T) -> Option<T> {
        if self.ring.is_empty() {
            self.ring = (0..self.slots).map(|_| None).collect();
        }
        let i = self.slot(seq);
        match &mut self.ring[i] {
            slot @ None => {
                *slot = Some((seq, value));
                self.in_ring += 1;
                None
            }
            Some((s, v)) if *s == seq => Some(std::mem::replace(v, value)),
            Some(_) => self.overflow.insert(seq, value),
        }
    }

    /// Takes the request registered under `seq`.
    pub(crate) fn remove(&mut self, seq: u32) -> Option<T> {
        if !self.ring.is_empty() {
            let i = self.slot(seq);
            if matches!(&self.ring[i], Some((s, _)) if *s == seq) {
                self.in_ring -= 1;
                return self.ring[i].take().map(|(_, v)| v);
            }
        }
        if self.overflow.is_empty() {
            return None;
        }
        self.overflow.remove(&seq)
    }

    /// Takes every request for which `pred` holds.
    pub(crate) fn take_if(&mut self, mut pred: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut out = Vec::new();
        for slot in self.ring.iter_mut() {
            if slot.as_ref().is_some_and(|(_, v)| pred(v)) {
                out.extend(slot.take().map(|(_, v)| v));
            }
        }
        self.in_ring -= out.len();
        if !self.overflow.is_empty() {
            let keys: Vec<u32> = self
                .overflow
                .iter()
                .filter(|(_, v)| pred(v))
                .map(|(&k, _)| k)
                .collect();
            out.extend(keys.iter().filter_map(|k| self.overflow.remove(k)));
        }
        out
    }

    /// Takes every request.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.take_if(|_| true)
    }
}

impl<T> std::fmt::Debug for SeqMap<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeqMap")
            .field("len", &self.len())
            .field("slots", &self.ring.len())
            .field("overflow", &self.overflow.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_in_order_and_out_of_order() {
        let mut m = SeqMap::with_window(4);
        assert_eq!(m.remove(1), None, "empty, no ring yet");
        for s in 1..=6u32 {
            assert_eq!(m.insert(s, s * 10), None);
        }
        assert_eq!(m.len(), 6);
        assert_eq!(m.remove(4), Some(40));
        assert_eq!(m.remove(4), None);
        assert_eq!(m.remove(1), Some(10));
        assert_eq!(m.remove(99), None);
        assert_eq!(m.len(), 4);
        assert_eq!(m.insert(2, 21), Some(20), "same number: replaced");
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn a_request_outstanding_past_a_lap_of_the_ring_is_kept_apart() {
        // 16 slots (the minimum): sequence numbers 3, 19, 35 share a slot.
        let mut m = SeqMap::with_window(1);
        m.insert(3, "stuck");
        for s in 4..40u32 {
            m.insert(s, "flowing");
            assert_eq!(m.remove(s), Some("flowing"));
        }
        m.insert(19, "a");
        m.insert(35, "b");
        assert_eq!(m.len(), 3);
        assert_eq!(m.remove(35), Some("b"));
        assert_eq!(m.remove(3), Some("stuck"));
        assert_eq!(m.remove(19), Some("a"));
        assert_eq!(m.len(), 0);
        // The slot is free again for the next lap.
        m.insert(51, "c");
        assert_eq!(m.remove(51), Some("c"));
    }

    #[test]
    fn wraps_with_the_sequence_numbers() {
        // Sequence numbers go 0x7FFF_FFFF, then 1 (0 is never used).
        let mut m = SeqMap::with_window(8);
        m.insert(0x7FFF_FFFE, 'a');
        m.insert(0x7FFF_FFFF, 'b');
        m.insert(1, 'c');
        m.insert(2, 'd');
        assert_eq!(m.remove(0x7FFF_FFFF), Some('b'));
        assert_eq!(m.remove(1), Some('c'));
        assert_eq!(m.remove(0x7FFF_FFFE), Some('a'));
        assert_eq!(m.remove(2), Some('d'));
    }

    #[test]
    fn take_if_and_drain_reach_the_ring_and_the_overflow() {
        let mut m = SeqMap::with_window(1);
        for s in [1u32, 17, 33, 2, 3] {
            m.insert(s, s);
        }
        let mut odd = m.take_if(|v| v % 2 == 1);
        odd.sort_unstable();
        assert_eq!(odd, vec![1, 3, 17, 33]);
        assert_eq!(m.len(), 1);
        assert_eq!(m.remove(2), Some(2));
        for s in [5u32, 21, 6] {
            m.insert(s, s);
        }
        let mut all = m.drain();
        all.sort_unstable();
        assert_eq!(all, vec![5, 6, 21]);
        assert_eq!(m.len(), 0);
        assert_eq!(m.remove(5), None);
    }

    #[test]
    fn ring_size_follows_the_window() {
        assert_eq!(SeqMap::<()>::with_window(0).slots, 16);
        assert_eq!(SeqMap::<()>::with_window(256).slots, 512);
        assert_eq!(SeqMap::<()>::with_window(300).slots, 1024);
        assert_eq!(SeqMap::<()>::with_window(1 << 20).slots, MAX_SLOTS);
    }
}
