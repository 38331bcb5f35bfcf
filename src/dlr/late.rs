//! Receipts that overtook their own submit_sm_resp.
//!
//! A carrier with several binds may send a receipt on one bind before the
//! submit_sm_resp carrying the same message id has been read from another.
//! Such a receipt is parked here under its carrier and normalised message
//! id. Inserting the mapping takes the parked receipts of that id at once
//! ([`LateQueue::take`]), so an early receipt costs a map insert and
//! removal, not a timer. Those still parked after a grace period are handed
//! to a sweeper ([`LateQueue::take_due`]), which tries the hex/decimal
//! readings of the id and finally gives up.
//!
//! The queue is empty almost always; [`LateQueue::take`] then costs one
//! atomic load.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use telegate_smpp::receipt::normalize_message_id;
use tokio::sync::Notify;

/// The key of a carrier's message id: the carrier's name, a separator that
/// cannot occur in it, and the id's normalised spelling (the same spelling
/// the DLR store indexes).
pub(crate) fn late_key(carrier: &str, carrier_msg_id: &[u8]) -> Box<[u8]> {
    let id = normalize_message_id(carrier_msg_id);
    super::store::make_key(carrier, id.as_bytes()).into_boxed_slice()
}

/// Parked items of type `T` (a receipt and whoever waits for its answer),
/// by key, in arrival order.
pub(crate) struct LateQueue<T> {
    len: AtomicUsize,
    inner: Mutex<Inner<T>>,
    wake: Notify,
}

struct Inner<T> {
    next_ticket: u64,
    by_key: HashMap<Box<[u8]>, Vec<(u64, T)>>,
    /// Arrival time, ticket and key of every parked item, oldest first.
    /// Items taken by key leave their entry here; it is skipped later.
    order: VecDeque<(Instant, u64, Box<[u8]>)>,
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
                by_key: HashMap::new(),
                order: VecDeque::new(),
            }),
            wake: Notify::new(),
        }
    }
}

impl<T> LateQueue<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // Every update is a few map operations that cannot panic halfway
        // in a way that breaks an invariant the readers rely on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
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
        key: Box<[u8]>,
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
        g.order.push_back((now, ticket, key.clone()));
        g.by_key.entry(key).or_default().push((ticket, item));
        drop(g);
        if was == 0 {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Takes every item parked under `key`, oldest first. Call it after
    /// making what they wait for visible (a store insert).
    pub(crate) fn take(&self, key: impl FnOnce() -> Box<[u8]>) -> Vec<T> {
        // Pairs with the SeqCst increment in `park`: an item parked after
        // our insert has rechecked and seen it; one parked before is
        // counted here.
        fence(Ordering::SeqCst);
        if self.len.load(Ordering::SeqCst) == 0 {
            return Vec::new();
        }
        let key = key();
        let mut g = self.lock();
        let Some(items) = g.by_key.remove(&key) else {
            return Vec::new();
        };
        self.len.fetch_sub(items.len(), Ordering::SeqCst);
        items.into_iter().map(|(_, t)| t).collect()
    }

    /// Takes every item parked at or before `cutoff`, oldest first, with
    /// its key and arrival time.
    pub(crate) fn take_due(&self, cutoff: Instant) -> Vec<(Box<[u8]>, Instant, T)> {
        let mut out = Vec::new();
        if self.len() == 0 {
            return out;
        }
        let mut g = self.lock();
        while g.order.front().is_some_and(|(at, _, _)| *at <= cutoff) {
            let Some((at, ticket, key)) = g.order.pop_front() else {
                break;
            };
            let Some(items) = g.by_key.get_mut(&key) else {
                continue;
            };
            let Some(pos) = items.iter().position(|(t, _)| *t == ticket) else {
                continue;
            };
            let (_, item) = items.remove(pos);
            if items.is_empty() {
                g.by_key.remove(&key);
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
            .flat_map(|(_, v)| v.into_iter().map(|(_, t)| t))
            .collect();
        self.len.fetch_sub(items.len(), Ordering::SeqCst);
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn key_uses_the_normalised_spelling() {
        assert_eq!(late_key("c", b"00ABC"), late_key("c", b"abc"));
        assert_ne!(late_key("c", b"abc"), late_key("d", b"abc"));
        assert_ne!(late_key("c", b"abc"), late_key("c", b"abd"));
    }

    #[test]
    fn take_returns_items_of_the_key_in_order() {
        let q = LateQueue::default();
        let t0 = Instant::now();
        q.park(late_key("c", b"1"), t0, "a", || None::<()>).unwrap();
        q.park(late_key("c", b"2"), t0, "b", || None::<()>).unwrap();
        q.park(late_key("c", b"1"), t0, "c", || None::<()>).unwrap();
        assert_eq!(q.len(), 3);
        assert_eq!(q.take(|| late_key("c", b"1")), vec!["a", "c"]);
        assert_eq!(q.len(), 1);
        assert!(q.take(|| late_key("c", b"1")).is_empty());
        assert!(q.take(|| late_key("d", b"2")).is_empty());
        assert_eq!(q.take(|| late_key("c", b"2")), vec!["b"]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn recheck_hit_returns_the_item_unparked() {
        let q = LateQueue::default();
        let r = q.park(late_key("c", b"1"), Instant::now(), 7, || Some("found"));
        assert_eq!(r, Err((7, "found")));
        assert_eq!(q.len(), 0);
        assert!(q.take(|| late_key("c", b"1")).is_empty());
    }

    #[test]
    fn take_due_is_oldest_first_and_skips_taken_items() {
        let q = LateQueue::default();
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(10);
        let t2 = t0 + Duration::from_millis(20);
        q.park(late_key("c", b"1"), t0, 1, || None::<()>).unwrap();
        q.park(late_key("c", b"2"), t1, 2, || None::<()>).unwrap();
        q.park(late_key("c", b"1"), t1, 3, || None::<()>).unwrap();
        q.park(late_key("c", b"3"), t2, 4, || None::<()>).unwrap();
        assert_eq!(q.take(|| late_key("c", b"2")), vec![2]);
        let due: Vec<i32> = q.take_due(t1).into_iter().map(|(_, _, i)| i).collect();
        assert_eq!(due, vec![1, 3]);
        assert_eq!(q.len(), 1);
        assert!(q.take_due(t1).is_empty());
        let due = q.take_due(t2);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, late_key("c", b"3"));
        assert_eq!(due[0].1, t2);
        assert_eq!(q.len(), 0);
        assert_eq!(q.lock().order.len(), 0);
    }

    #[test]
    fn drain_empties_the_queue() {
        let q = LateQueue::default();
        let t0 = Instant::now();
        q.park(late_key("c", b"1"), t0, 1, || None::<()>).unwrap();
        q.park(late_key("c", b"2"), t0, 2, || None::<()>).unwrap();
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
        q.park(late_key("c", b"1"), Instant::now(), 1, || None::<()>)
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
