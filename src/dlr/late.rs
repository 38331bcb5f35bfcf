//! Receipts that overtook their own submit_sm_resp.
//!
//! A carrier with several binds may send a receipt on one bind before the
//! submit_sm_resp carrying the same message id has been read from another.
//! Such a receipt is parked here under a keyed hash of its carrier and
//! normalised message id. Inserting the mapping takes the parked receipts
//! of that id at once ([`LateQueue::take`]), so an early receipt costs a
//! map insert and removal, not a timer, and no allocation for its key.
//! Those still parked after a grace period are handed to a sweeper
//! ([`LateQueue::take_due`]), which tries the hex/decimal readings of the
//! id and finally gives up.
//!
//! The queue is empty when receipts follow their responses;
//! [`LateQueue::take`] then costs one atomic load.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

use super::store::MsgId;
use crate::hash::Mix;

/// Parked items of type `T` (a receipt and whoever waits for its answer),
/// by key, in arrival order.
///
/// A key is a 64-bit hash ([`LateQueue::key`]) keyed per process, so a
/// carrier cannot pick ids that collide; [`LateQueue::take`] still checks
/// each item it takes against the caller's id, so a collision could only
/// leave an item parked, never hand over the wrong one.
pub(crate) struct LateQueue<T> {
    len: AtomicUsize,
    inner: Mutex<Inner<T>>,
    wake: Notify,
    seed: foldhash::quality::RandomState,
}

struct Inner<T> {
    next_ticket: u64,
    by_key: HashMap<u64, Parked<T>, Mix>,
    /// Arrival time, ticket and key of every parked item, oldest first.
    /// Items taken by key leave their entry here; it is skipped later.
    order: VecDeque<(Instant, u64, u64)>,
}

/// The (ticket, item) pairs parked under one key, in arrival order. Almost
/// always one: it is then held inline, so parking and taking it allocate
/// nothing.
enum Parked<T> {
    One(u64, T),
    Many(Vec<(u64, T)>),
}

impl<T> Parked<T> {
    fn push(&mut self, ticket: u64, item: T) {
        // Swapped out for a moment: an empty Vec does not allocate.
        *self = match std::mem::replace(self, Parked::Many(Vec::new())) {
            Parked::One(t0, i0) => Parked::Many(vec![(t0, i0), (ticket, item)]),
            Parked::Many(mut v) => {
                v.push((ticket, item));
                Parked::Many(v)
            }
        };
    }

    fn into_vec(self) -> Vec<(u64, T)> {
        match self {
            Parked::One(t, i) => vec![(t, i)],
            Parked::Many(v) => v,
        }
    }
}

/// Items taken by [`LateQueue::take`], oldest first: none or one (no
/// allocation), or more.
#[derive(Debug)]
pub(crate) enum Taken<T> {
    None,
    One(T),
    Many(Vec<T>),
}

impl<T> Taken<T> {
    /// Whether nothing was taken.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Taken::None => true,
            Taken::One(_) => false,
            Taken::Many(v) => v.is_empty(),
        }
    }
}

impl<T> IntoIterator for Taken<T> {
    type Item = T;
    type IntoIter = std::iter::Chain<std::option::IntoIter<T>, std::vec::IntoIter<T>>;

    fn into_iter(self) -> Self::IntoIter {
        let (one, many) = match self {
            Taken::None => (None, Vec::new()),
            Taken::One(t) => (Some(t), Vec::new()),
            Taken::Many(v) => (None, v),
        };
        one.into_iter().chain(many)
    }
}

impl<T> std::fmt::Debug for LateQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LateQueue")
            .field("len", &self.len())
            .finish()
    }
}

impl<T> Default for LateQueue<T> {
    fn default() -> Self {
        Self {
            len: AtomicUsize::new(0),
            inner: Mutex::new(Inner {
                next_ticket: 0,
                by_key: HashMap::default(),
                order: VecDeque::new(),
            }),
            wake: Notify::new(),
            seed: Default::default(),
        }
    }
}

impl<T> LateQueue<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // Every update is a few map operations that cannot panic halfway
        // in a way that breaks an invariant the readers rely on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key of a carrier's message id: its carrier's name and the id's
    /// normalised spelling (the one the DLR store indexes), hashed.
    pub(crate) fn key(&self, carrier: &str, carrier_msg_id: &[u8]) -> u64 {
        self.key_normalized(carrier, &MsgId::normalized(carrier_msg_id))
    }

    /// [`key`](Self::key) of an id already normalised.
    pub(crate) fn key_normalized(&self, carrier: &str, normalized: &MsgId) -> u64 {
        let mut h = self.seed.build_hasher();
        h.write(carrier.as_bytes());
        // A separator no name contains, so ("ab", "c") is not ("a", "bc").
        h.write_u8(0xFF);
        h.write(normalized.as_bytes());
        h.finish()
    }

    /// Items parked now.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Parks `item` under `key`, unless `recheck` (run under the queue's
    /// lock, after this park is visible to [`take`](Self::take)) finds
    /// what the item waits for; then the item comes back with it.
    ///
    /// Together with `take`, this closes the race with an insert that
    /// happens between the caller's first miss and the park: either the
    /// inserter's `take` sees the parked item, or `recheck` sees the insert.
    pub(crate) fn park<R>(
        &self,
        key: u64,
        now: Instant,
        item: T,
        recheck: impl FnOnce() -> Option<R>,
    ) -> Result<(), (T, R)> {
        let mut g = self.lock();
        let was = self.len.fetch_add(1, Ordering::SeqCst);
        if let Some(r) = recheck() {
            self.len.fetch_sub(1, Ordering::SeqCst);
            return Err((item, r));
        }
        let ticket = g.next_ticket;
        g.next_ticket += 1;
        g.order.push_back((now, ticket, key));
        match g.by_key.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().push(ticket, item),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Parked::One(ticket, item));
            }
        }
        drop(g);
        if was == 0 {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Takes every item parked under the key `key` gives that `matches`
    /// (the caller's check of the item's own id, against what `key` gave
    /// beside the key), oldest first. `key` runs only when something is
    /// parked. Call it after making what they wait for visible (a store
    /// insert).
    pub(crate) fn take<K>(
        &self,
        key: impl FnOnce() -> (u64, K),
        matches: impl Fn(&T, &K) -> bool,
    ) -> Taken<T> {
        // Pairs with the SeqCst increment in `park`: an item parked after
        // our insert has rechecked and seen it; one parked before is
        // counted here.
        fence(Ordering::SeqCst);
        if self.len.load(Ordering::SeqCst) == 0 {
            return Taken::None;
        }
        let (key, id) = key();
        let mut g = self.lock();
        let Some(items) = g.by_key.remove(&key) else {
            return Taken::None;
        };
        let items = match items {
            Parked::One(ticket, item) => {
                if matches(&item, &id) {
                    self.len.fetch_sub(1, Ordering::SeqCst);
                    return Taken::One(item);
                }
                // Another id with the same hash: it stays.
                g.by_key.insert(key, Parked::One(ticket, item));
                return Taken::None;
            }
            Parked::Many(v) => v,
        };
        // Another id with the same hash may be parked too: it stays.
        let (taken, kept): (Vec<_>, Vec<_>) = items.into_iter().partition(|(_, t)| matches(t, &id));
        if !kept.is_empty() {
            g.by_key.insert(key, Parked::Many(kept));
        }
        let taken: Vec<T> = taken.into_iter().map(|(_, t)| t).collect();
        self.len.fetch_sub(taken.len(), Ordering::SeqCst);
        Taken::Many(taken)
    }

    /// Takes every item parked at or before `cutoff`, oldest first, with
    /// its key and arrival time.
    pub(crate) fn take_due(&self, cutoff: Instant) -> Vec<(u64, Instant, T)> {
        let mut out = Vec::new();
        if self.len() == 0 {
            return out;
        }
        let mut g = self.lock();
        while g.order.front().is_some_and(|(at, _, _)| *at <= cutoff) {
            let Some((at, ticket, key)) = g.order.pop_front() else {
                break;
            };
            // Taken out and put back with what stays: this is the sweeper,
            // not the data path.
            let Some(parked) = g.by_key.remove(&key) else {
                continue;
            };
            let (item, rest) = match parked {
                Parked::One(t, item) if t == ticket => (item, None),
                one @ Parked::One(..) => {
                    // Taken by key already; another item has the key now.
                    g.by_key.insert(key, one);
                    continue;
                }
                Parked::Many(mut items) => match items.iter().position(|(t, _)| *t == ticket) {
                    Some(pos) => {
                        let (_, item) = items.remove(pos);
                        (item, (!items.is_empty()).then_some(Parked::Many(items)))
                    }
                    None => {
                        g.by_key.insert(key, Parked::Many(items));
                        continue;
                    }
                },
            };
            if let Some(rest) = rest {
                g.by_key.insert(key, rest);
            }
            self.len.fetch_sub(1, Ordering::SeqCst);
            out.push((key, at, item));
        }
        if g.by_key.is_empty() {
            // Entries of items taken by key: nothing left to skip over.
            g.order.clear();
        }
        out
    }

    /// Waits until something is parked (returns at once if something is).
    pub(crate) async fn parked(&self) {
        let notified = self.wake.notified();
        if self.len() > 0 {
            return;
        }
        notified.await;
    }

    /// Drops everything parked (at shutdown), returning it.
    pub(crate) fn drain(&self) -> Vec<T> {
        let mut g = self.lock();
        g.order.clear();
        let items: Vec<T> = g
            .by_key
            .drain()
            .flat_map(|(_, v)| v.into_vec().into_iter().map(|(_, t)| t))
            .collect();
        self.len.fetch_sub(items.len(), Ordering::SeqCst);
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn all<T>(_: &T, _: &()) -> bool {
        true
    }

    #[test]
    fn key_uses_the_normalised_spelling() {
        let q = LateQueue::<()>::default();
        assert_eq!(q.key("c", b"00ABC"), q.key("c", b"abc"));
        assert_ne!(q.key("c", b"abc"), q.key("d", b"abc"));
        assert_ne!(q.key("c", b"abc"), q.key("c", b"abd"));
        assert_ne!(q.key("ab", b"c"), q.key("a", b"bc"));
        // Keyed per queue (per process in the gateway).
        let other = LateQueue::<()>::default();
        assert_ne!(q.key("c", b"abc"), other.key("c", b"abc"));
    }

    #[test]
    fn take_returns_items_of_the_key_in_order() {
        let q = LateQueue::default();
        let t0 = Instant::now();
        q.park(q.key("c", b"1"), t0, "a", || None::<()>).unwrap();
        q.park(q.key("c", b"2"), t0, "b", || None::<()>).unwrap();
        q.park(q.key("c", b"1"), t0, "c", || None::<()>).unwrap();
        assert_eq!(q.len(), 3);
        assert_eq!(
            q.take(|| (q.key("c", b"1"), ()), all)
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["a", "c"]
        );
        assert_eq!(q.len(), 1);
        assert!(q.take(|| (q.key("c", b"1"), ()), all).is_empty());
        assert!(q.take(|| (q.key("d", b"2"), ()), all).is_empty());
        assert_eq!(
            q.take(|| (q.key("c", b"2"), ()), all)
                .into_iter()
                .collect::<Vec<_>>(),
            vec!["b"]
        );
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn take_leaves_items_of_another_id_under_the_same_key() {
        // A hash collision, forced: two ids parked under one key. Taking
        // for one id hands over only its items; the other stays parked and
        // still leaves by the sweeper's way.
        let q = LateQueue::default();
        let t0 = Instant::now();
        q.park(7, t0, ("x", 1), || None::<()>).unwrap();
        q.park(7, t0, ("y", 2), || None::<()>).unwrap();
        q.park(7, t0, ("x", 3), || None::<()>).unwrap();
        assert_eq!(
            q.take(|| (7, "x"), |i, id| i.0 == *id)
                .into_iter()
                .collect::<Vec<_>>(),
            vec![("x", 1), ("x", 3)]
        );
        assert_eq!(q.len(), 1);
        assert!(q.take(|| (7, "x"), |i, id| i.0 == *id).is_empty());
        let due: Vec<_> = q.take_due(t0).into_iter().map(|(k, _, i)| (k, i)).collect();
        assert_eq!(due, vec![(7, ("y", 2))]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_lone_item_of_another_id_stays_and_a_second_joins_it() {
        // The single-item form: a colliding id's take leaves it, a second
        // park under the key turns it into a list, in arrival order.
        let q = LateQueue::default();
        let t0 = Instant::now();
        q.park(7, t0, ("y", 1), || None::<()>).unwrap();
        assert!(q.take(|| (7, "x"), |i, id| i.0 == *id).is_empty());
        assert_eq!(q.len(), 1);
        q.park(7, t0, ("x", 2), || None::<()>).unwrap();
        q.park(7, t0, ("y", 3), || None::<()>).unwrap();
        let ys: Vec<_> = q
            .take(|| (7, "y"), |i, id| i.0 == *id)
            .into_iter()
            .collect();
        assert_eq!(ys, vec![("y", 1), ("y", 3)]);
        let xs: Vec<_> = q
            .take(|| (7, "x"), |i, id| i.0 == *id)
            .into_iter()
            .collect();
        assert_eq!(xs, vec![("x", 2)]);
        assert_eq!(q.len(), 0);
        assert!(q.take_due(t0).is_empty());
    }

    #[test]
    fn the_sweeper_skips_a_taken_item_whose_key_holds_a_newer_one() {
        let q = LateQueue::default();
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(5);
        q.park(7, t0, "old", || None::<()>).unwrap();
        assert_eq!(
            q.take(|| (7, ()), all).into_iter().collect::<Vec<_>>(),
            vec!["old"]
        );
        q.park(7, t1, "new", || None::<()>).unwrap();
        // The old item's entry in the arrival order is stale: nothing due
        // at t0, and the newer item stays parked.
        assert!(q.take_due(t0).is_empty());
        assert_eq!(q.len(), 1);
        let due: Vec<_> = q.take_due(t1).into_iter().map(|(k, _, i)| (k, i)).collect();
        assert_eq!(due, vec![(7, "new")]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn recheck_hit_returns_the_item_unparked() {
        let q = LateQueue::default();
        let r = q.park(q.key("c", b"1"), Instant::now(), 7, || Some("found"));
        assert_eq!(r, Err((7, "found")));
        assert_eq!(q.len(), 0);
        assert!(q.take(|| (q.key("c", b"1"), ()), all).is_empty());
    }

    #[test]
    fn take_due_is_oldest_first_and_skips_taken_items() {
        let q = LateQueue::default();
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(10);
        let t2 = t0 + Duration::from_millis(20);
        q.park(q.key("c", b"1"), t0, 1, || None::<()>).unwrap();
        q.park(q.key("c", b"2"), t1, 2, || None::<()>).unwrap();
        q.park(q.key("c", b"1"), t1, 3, || None::<()>).unwrap();
        q.park(q.key("c", b"3"), t2, 4, || None::<()>).unwrap();
        assert_eq!(
            q.take(|| (q.key("c", b"2"), ()), all)
                .into_iter()
                .collect::<Vec<_>>(),
            vec![2]
        );
        let due: Vec<i32> = q.take_due(t1).into_iter().map(|(_, _, i)| i).collect();
        assert_eq!(due, vec![1, 3]);
        assert_eq!(q.len(), 1);
        assert!(q.take_due(t1).is_empty());
        let due = q.take_due(t2);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, q.key("c", b"3"));
        assert_eq!(due[0].1, t2);
        assert_eq!(q.len(), 0);
        assert_eq!(q.lock().order.len(), 0);
    }

    #[test]
    fn drain_empties_the_queue() {
        let q = LateQueue::default();
        let t0 = Instant::now();
        q.park(q.key("c", b"1"), t0, 1, || None::<()>).unwrap();
        q.park(q.key("c", b"2"), t0, 2, || None::<()>).unwrap();
        let mut all = q.drain();
        all.sort();
        assert_eq!(all, vec![1, 2]);
        assert_eq!(q.len(), 0);
        assert!(q.take_due(t0).is_empty());
    }

    #[tokio::test]
    async fn parked_wakes_on_first_item() {
        let q = std::sync::Arc::new(LateQueue::default());
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.parked().await });
        tokio::task::yield_now().await;
        q.park(q.key("c", b"1"), Instant::now(), 1, || None::<()>)
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .unwrap();
        // Returns at once while something is parked.
        tokio::time::timeout(Duration::from_secs(5), q.parked())
            .await
            .expect("immediate");
    }
}
