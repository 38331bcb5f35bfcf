//! Receipts and MO messages held for an account that has no receiver bind
//! at the moment: a bounded FIFO per account, each item with an expiry
//! (`[dlr] held_per_account`, `held_ttl`).
//!
//! Not synchronised: the owner wraps it in a mutex. Accounts come from the
//! configuration, so the number of queues is bounded by it; an empty queue
//! is removed.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

/// Per-account bounded FIFOs with per-item expiry.
pub struct HeldQueues<T> {
    queues: HashMap<Box<str>, VecDeque<(Instant, T)>>,
    per_account: usize,
    ttl: Duration,
    len: usize,
    expired: u64,
    /// Told of each item dropped because it expired (for metrics).
    on_expire: Option<fn(&T)>,
}

impl<T> fmt::Debug for HeldQueues<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldQueues")
            .field("accounts", &self.queues.len())
            .field("len", &self.len)
            .field("per_account", &self.per_account)
            .field("ttl", &self.ttl)
            .field("expired", &self.expired)
            .finish()
    }
}

impl<T> HeldQueues<T> {
    /// Queues of at most `per_account` items each, kept for `ttl` each.
    pub fn new(per_account: usize, ttl: Duration) -> HeldQueues<T> {
        HeldQueues {
            queues: HashMap::new(),
            per_account,
            ttl,
            len: 0,
            expired: 0,
            on_expire: None,
        }
    }

    /// Calls `f` with every item dropped because it expired.
    pub fn on_expire(mut self, f: fn(&T)) -> HeldQueues<T> {
        self.on_expire = Some(f);
        self
    }

    /// Appends an item that expires `ttl` after `now`. A full queue
    /// first drops its expired items; if still full, the item comes back
    /// as `Err`.
    pub fn push(&mut self, account: &str, item: T, now: Instant) -> Result<(), T> {
        if self.per_account == 0 {
            return Err(item);
        }
        let expires = now + self.ttl;
        let q = match self.queues.get_mut(account) {
            Some(q) => q,
            None => self.queues.entry(account.into()).or_default(),
        };
        if q.len() >= self.per_account {
            let before = q.len();
            let hook = self.on_expire;
            q.retain(|(e, item)| keep(*e > now, item, hook));
            let dropped = before - q.len();
            self.len -= dropped;
            self.expired += dropped as u64;
            if q.len() >= self.per_account {
                return Err(item);
            }
        }
        q.push_back((expires, item));
        self.len += 1;
        Ok(())
    }

    /// The oldest unexpired item of `account`; expired items in front of it
    /// are dropped and counted.
    pub fn pop_ready(&mut self, account: &str, now: Instant) -> Option<T> {
        let q = self.queues.get_mut(account)?;
        let mut found = None;
        while let Some((expires, item)) = q.pop_front() {
            self.len -= 1;
            if expires > now {
                found = Some(item);
                break;
            }
            if let Some(f) = self.on_expire {
                f(&item);
            }
            self.expired += 1;
        }
        if q.is_empty() {
            self.queues.remove(account);
        }
        found
    }

    /// Drops every expired item; returns how many.
    pub fn sweep(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        let hook = self.on_expire;
        self.queues.retain(|_, q| {
            let before = q.len();
            q.retain(|(e, item)| keep(*e > now, item, hook));
            dropped += before - q.len();
            !q.is_empty()
        });
        self.len -= dropped;
        self.expired += dropped as u64;
        dropped
    }

    /// Items held, over all accounts.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Items held for `account`.
    pub fn account_len(&self, account: &str) -> usize {
        self.queues.get(account).map_or(0, VecDeque::len)
    }

    /// Items dropped because they expired, since creation.
    pub fn expired_count(&self) -> u64 {
        self.expired
    }
}

/// `live`, after telling `hook` of an item about to be dropped.
fn keep<T>(live: bool, item: &T, hook: Option<fn(&T)>) -> bool {
    if let (false, Some(f)) = (live, hook) {
        f(item);
    }
    live
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_fifo_per_account() {
        let t0 = Instant::now();
        let mut h = HeldQueues::new(2, Duration::from_secs(10));
        assert_eq!(h.push("a", 1, t0), Ok(()));
        assert_eq!(h.push("a", 2, t0), Ok(()));
        assert_eq!(h.push("a", 3, t0), Err(3));
        assert_eq!(h.push("b", 4, t0), Ok(()));
        assert_eq!((h.len(), h.account_len("a"), h.account_len("b")), (3, 2, 1));
        assert_eq!(h.pop_ready("a", t0), Some(1));
        assert_eq!(h.push("a", 5, t0), Ok(()));
        assert_eq!(h.pop_ready("a", t0), Some(2));
        assert_eq!(h.pop_ready("a", t0), Some(5));
        assert_eq!(h.pop_ready("a", t0), None);
        assert_eq!(h.pop_ready("zzz", t0), None);
        assert_eq!(h.len(), 1);
        assert_eq!(h.expired_count(), 0);
        let mut none: HeldQueues<u8> = HeldQueues::new(0, Duration::from_secs(1));
        assert_eq!(none.push("a", 1, t0), Err(1));
    }

    #[test]
    fn expiry() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        let mut h = HeldQueues::new(3, ttl);
        h.push("a", 1, t0).unwrap();
        h.push("a", 2, t0 + Duration::from_secs(5)).unwrap();
        // At t0 + 10 s the first has expired, the second not.
        assert_eq!(h.pop_ready("a", t0 + ttl), Some(2));
        assert_eq!(h.expired_count(), 1);
        assert!(h.is_empty());

        h.push("a", 3, t0).unwrap();
        h.push("b", 4, t0).unwrap();
        h.push("b", 5, t0 + ttl).unwrap();
        assert_eq!(h.sweep(t0 + ttl), 2);
        assert_eq!(h.len(), 1);
        assert_eq!(h.expired_count(), 3);
        assert_eq!(h.account_len("a"), 0);

        // A full queue makes room by dropping expired items.
        h.push("b", 6, t0 + ttl).unwrap();
        h.push("b", 7, t0 + ttl).unwrap();
        assert_eq!(h.push("b", 8, t0 + ttl), Err(8));
        assert_eq!(h.push("b", 8, t0 + ttl * 2), Ok(()));
        assert_eq!(h.len(), 1);
        assert_eq!(h.expired_count(), 6);
    }

    #[test]
    fn expired_items_are_reported() {
        use std::sync::atomic::{AtomicU32, Ordering};
        static SEEN: AtomicU32 = AtomicU32::new(0);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        let mut h = HeldQueues::new(2, ttl).on_expire(|v: &u32| {
            SEEN.fetch_add(*v, Ordering::Relaxed);
        });
        h.push("a", 1, t0).unwrap();
        h.push("b", 10, t0).unwrap();
        h.push("b", 20, t0).unwrap();
        // By pop_ready, by a full queue making room, by the sweep.
        assert_eq!(h.pop_ready("a", t0 + ttl), None);
        h.push("b", 100, t0 + ttl).unwrap();
        h.push("c", 1000, t0).unwrap();
        h.sweep(t0 + ttl);
        assert_eq!(SEEN.load(Ordering::Relaxed), 1 + 10 + 20 + 1000);
        assert_eq!(h.expired_count(), 4);
    }
}
