//! Content-fingerprint velocity: the same or nearly the same text sent to
//! many distinct recipients within a window, across accounts.
//!
//! A campaign varies names, numbers and links per recipient, so texts are
//! compared by the *set of words* of the masked text (digits already folded
//! to `#` by [`normalize`](super::normalize)), with MinHash: 16 hash
//! functions, cut into 8 bands of 2. Two texts whose word sets overlap
//! by a Jaccard similarity J share at least one band with probability
//! 1 - (1 - J²)⁸: 0.99 at J = 0.7 (a template with a few words changed),
//! 0.08 at J = 0.1. Counting distinct recipients per band value finds a
//! campaign without comparing texts pairwise.
//!
//! Recipients are counted as keyed hashes (never numbers), per band value,
//! in two half-window generations: a count covers between one half and one
//! whole window. Each band value keeps at most `cap` recipients (enough to
//! say "at least the threshold"), and the number of band values tracked is
//! bounded; beyond it the oldest generation is dropped early.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// MinHash functions.
const HASHES: usize = 16;
/// Rows per band.
const ROWS: usize = 2;
/// Bands.
pub const BANDS: usize = HASHES / ROWS;

/// A text's band values (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u64; BANDS]);

impl Fingerprint {
    /// Bands two fingerprints share.
    pub fn shared_bands(&self, other: &Fingerprint) -> usize {
        self.0
            .iter()
            .zip(other.0.iter())
            .filter(|(a, b)| a == b)
            .count()
    }
}

/// The MinHash functions: word hash `x` (FNV-1a 64 of the word, then
/// splitmix64) goes to `(x ^ SEEDS[i]) * MULS[i]` for function `i`; every
/// `MULS[i]` is odd, so each function is a bijection of the well-mixed `x`
/// and one multiply per function is enough.
const SEEDS: [u64; HASHES] = {
    let mut s = [0u64; HASHES];
    let mut i = 0;
    while i < HASHES {
        s[i] = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1);
        i += 1;
    }
    s
};
const MULS: [u64; HASHES] = {
    let mut m = [0u64; HASHES];
    let mut i = 0;
    while i < HASHES {
        m[i] = 0xD6E8_FEB8_6659_FD93u64
            .wrapping_add(0x6A09_E667_F3BC_C908u64.wrapping_mul(i as u64))
            | 1;
        i += 1;
    }
    m
};

/// The fingerprint of a masked text. Words of one or two letters are
/// left out (too common to tell texts apart). Fixed across processes, so
/// gateways can compare fingerprints. Allocates nothing.
pub fn fingerprint(masked: &str) -> Fingerprint {
    let mut mins = [u64::MAX; HASHES];
    let mut any = false;
    let mut word = |w: &[u8]| {
        any = true;
        let x = crate::hash::splitmix64(fnv1a(w));
        for ((m, s), k) in mins.iter_mut().zip(SEEDS).zip(MULS) {
            *m = (*m).min((x ^ s).wrapping_mul(k));
        }
    };
    if masked.is_ascii() {
        // The words of `split_whitespace`, byte by byte: a byte is a
        // character here.
        masked
            .as_bytes()
            .split(|&b| matches!(b, b' ' | b'\t'..=b'\r'))
            .filter(|w| w.len() >= 3)
            .for_each(&mut word);
    } else {
        for w in masked.split_whitespace() {
            // At least three characters (a byte length of 12 or more
            // always is).
            if w.len() < 3 || (w.len() < 12 && w.chars().nth(2).is_none()) {
                continue;
            }
            word(w.as_bytes());
        }
    }
    let mut bands = [0u64; BANDS];
    if any {
        for (b, band) in bands.iter_mut().enumerate() {
            let mut h = fnv1a(&[b as u8]);
            for r in 0..ROWS {
                h = crate::hash::splitmix64(h ^ mins[b * ROWS + r]);
            }
            *band = h;
        }
    }
    Fingerprint(bands)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    crate::hash::fnv1a(crate::hash::FNV_OFFSET, bytes)
}

/// Hashes keys that are already well-mixed 64-bit values (band values,
/// keyed recipient hashes) with one multiply-xorshift under a per-process
/// random key, so crafted texts cannot aim at one bucket.
#[derive(Clone)]
struct MixState(u64);

impl Default for MixState {
    fn default() -> MixState {
        MixState(std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64) | 1)
    }
}

impl BuildHasher for MixState {
    type Hasher = Mix;
    fn build_hasher(&self) -> Mix {
        Mix(self.0)
    }
}

struct Mix(u64);

impl Hasher for Mix {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0 ^ i)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
    fn finish(&self) -> u64 {
        crate::hash::splitmix64(self.0)
    }
}

/// One generation: distinct recipients per band value, as flat tables
/// (no allocation per text). Per (band, value) key, a count and the first
/// recipient seen; every further (band, value, recipient) pair folded to
/// one 64-bit word in a set (8 bytes an entry; two pairs folding alike
/// would undercount one recipient, at odds of 2^-64). Most band values
/// only ever meet one recipient (a text sent once), so most texts touch
/// one table per band, not two.
#[derive(Default)]
struct Gen {
    counts: HashMap<u64, Slot, MixState>,
    pairs: HashSet<u64, MixState>,
    /// Pairs held: one per slot plus the set's.
    len: usize,
}

/// The recipients counted under one band key.
#[derive(Clone, Copy)]
struct Slot {
    count: u32,
    /// The first recipient's key (its pair is not in [`Gen::pairs`]).
    first: u64,
}

/// Folds a band number and value into one word.
fn band_key(band: usize, value: u64) -> u64 {
    crate::hash::splitmix64(value ^ (band as u64).wrapping_mul(0xA076_1D64_78BD_642F))
}

/// Folds a band key and a recipient key into one word.
fn pair_key(key: u64, recipient: u64) -> u64 {
    crate::hash::splitmix64(key ^ recipient.rotate_left(32))
}

impl Gen {
    fn len(&self) -> usize {
        self.len
    }

    fn clear(&mut self) {
        self.counts.clear();
        self.pairs.clear();
        self.len = 0;
    }

    /// Recipients under `key`, and whether `recipient` is one of them.
    fn lookup(&self, key: u64, recipient: u64) -> (usize, bool) {
        match self.counts.get(&key) {
            None => (0, false),
            Some(s) => (
                s.count as usize,
                s.first == recipient
                    || (s.count >= 2 && self.pairs.contains(&pair_key(key, recipient))),
            ),
        }
    }
}

struct State {
    current: Gen,
    previous: Gen,
    /// When `current` started.
    since: Instant,
}

/// Distinct recipients per near-duplicate text, over a sliding window.
pub struct Campaigns {
    half: Duration,
    cap: usize,
    max_keys: usize,
    /// Keys recipients, so numbers are never held.
    seed: std::collections::hash_map::RandomState,
    state: Mutex<State>,
}

impl std::fmt::Debug for Campaigns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Campaigns")
            .field("window", &(self.half * 2))
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

impl Campaigns {
    /// Counts over `window`, up to `cap` recipients per text (the flagging
    /// threshold or a little more), tracking at most `max_keys`
    /// (band value, recipient) pairs per half-window generation (8 to 24
    /// bytes each with the counts); past that the generations roll early.
    pub fn new(window: Duration, cap: usize, max_keys: usize) -> Campaigns {
        Campaigns {
            half: (window / 2).max(Duration::from_millis(1)),
            cap: cap.max(1),
            max_keys: max_keys.max(4),
            seed: std::collections::hash_map::RandomState::new(),
            state: Mutex::new(State {
                current: Gen::default(),
                previous: Gen::default(),
                since: Instant::now(),
            }),
        }
    }

    fn recipient_key(&self, recipient: &[u8]) -> u64 {
        let mut h = self.seed.build_hasher();
        h.write(recipient);
        h.finish()
    }

    /// Records that a text with fingerprint `fp` goes to `recipient`, and
    /// returns how many distinct recipients its near-duplicates reached in
    /// the window (at most `cap`), this one included. An empty text (no
    /// word of three letters or more) is not counted.
    pub fn observe(&self, fp: &Fingerprint, recipient: &[u8], now: Instant) -> usize {
        if fp.0 == [0; BANDS] {
            return 0;
        }
        let r = self.recipient_key(recipient);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(s.since) >= self.half * 2 {
            s.previous.clear();
            s.current.clear();
            s.since = now;
        } else if now.saturating_duration_since(s.since) >= self.half
            || s.current.len() + BANDS > self.max_keys
        {
            // The older generation's tables are cleared and reused (their
            // memory stays; no page faults on the next fill).
            let State {
                current, previous, ..
            } = &mut *s;
            std::mem::swap(current, previous);
            current.clear();
            s.since = now;
        }
        let mut best = 0;
        let State {
            current, previous, ..
        } = &mut *s;
        for (band, &value) in fp.0.iter().enumerate() {
            let key = band_key(band, value);
            let (prev_len, prev_has) = previous.lookup(key, r);
            // Distinct over both generations: the older count plus the
            // newer, which only ever takes recipients the older does not
            // hold (the older does not change while the newer fills).
            let n = match current.counts.entry(key) {
                Entry::Vacant(e) => {
                    if prev_len < self.cap && !prev_has {
                        e.insert(Slot { count: 1, first: r });
                        current.len += 1;
                        prev_len + 1
                    } else {
                        prev_len
                    }
                }
                Entry::Occupied(mut e) => {
                    let s = e.get_mut();
                    let n = prev_len + s.count as usize;
                    if n < self.cap
                        && !prev_has
                        && s.first != r
                        && current.pairs.insert(pair_key(key, r))
                    {
                        s.count += 1;
                        current.len += 1;
                        n + 1
                    } else {
                        n
                    }
                }
            };
            best = best.max(n);
        }
        best.min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::normalize::normalize;

    fn fp(text: &str) -> Fingerprint {
        fingerprint(&normalize(text).masked)
    }

    #[test]
    fn near_duplicates_share_bands_and_unrelated_texts_do_not() {
        let a = fp(
            "Hi John, your parcel 4411 is held. Pay the £1.99 fee at dpd-redeliver.com/a1 today",
        );
        let b = fp(
            "Hi Sarah, your parcel 9274 is held. Pay the £2.99 fee at dpd-redeliver.com/x9 today",
        );
        let c = fp("Are we still on for lunch tomorrow at noon? Let me know");
        assert!(a.shared_bands(&b) >= 1, "{a:?} {b:?}");
        assert_eq!(a.shared_bands(&c), 0);
        assert_eq!(fp("ok"), Fingerprint([0; BANDS]));
    }

    #[test]
    fn words_count_by_characters_not_bytes() {
        // Two characters in four bytes: left out, like "ok".
        assert_eq!(fingerprint("éé ok"), Fingerprint([0; BANDS]));
        // Three characters: counted, and different words differ.
        let a = fingerprint("été");
        assert_ne!(a, Fingerprint([0; BANDS]));
        assert_ne!(a, fingerprint("ete"));
        assert_eq!(a, fingerprint("  été  ok "));
    }

    #[test]
    fn a_campaign_to_500_recipients_is_counted() {
        let names = [
            "John", "Sarah", "Ahmed", "Li", "Maria", "Tom", "Anna", "Raj",
        ];
        let c = Campaigns::new(Duration::from_secs(600), 1_000, 100_000);
        let t0 = Instant::now();
        let mut last = 0;
        for i in 0..500u32 {
            let text = format!(
                "Hi {}, your parcel {} could not be delivered. Reschedule at parcel-help.com/{} now",
                names[i as usize % names.len()],
                1000 + i * 7,
                i * 31
            );
            let to = format!("+4477009{i:05}");
            last = c.observe(
                &fp(&text),
                to.as_bytes(),
                t0 + Duration::from_millis(u64::from(i)),
            );
        }
        assert!(last >= 400, "campaign counted {last}");
        // The same recipient again does not count twice.
        let again = c.observe(
            &fp(
                "Hi Tom, your parcel 1 could not be delivered. Reschedule at parcel-help.com/2 now",
            ),
            b"+447700900000",
            t0 + Duration::from_secs(1),
        );
        assert!(again <= last + 1);
    }

    #[test]
    fn unrelated_messages_stay_low() {
        let texts = [
            "Are we still on for lunch tomorrow at noon?",
            "Your appointment with Dr Patel is confirmed for Monday 10:30",
            "Your verification code is 123456. Do not share it with anyone",
            "Running late, traffic on the motorway, see you soon",
            "Happy birthday! Hope you have a wonderful day",
            "The meeting moved to room four, bring the slides",
            "Your order has shipped and will arrive on Thursday",
            "Can you pick up milk and bread on the way home",
            "Payment received, thank you for banking with us",
            "Match postponed because of the weather, training instead",
        ];
        let c = Campaigns::new(Duration::from_secs(600), 1_000, 100_000);
        let t0 = Instant::now();
        let mut max = 0;
        for i in 0..300u32 {
            let text = texts[i as usize % texts.len()];
            max = max.max(c.observe(&fp(text), format!("r{i}").as_bytes(), t0));
        }
        // Each text went to 30 recipients; no unrelated ones pooled.
        assert!(max <= 60, "{max}");
    }

    #[test]
    fn the_window_forgets() {
        let c = Campaigns::new(Duration::from_secs(10), 1_000, 100_000);
        let t0 = Instant::now();
        let f = fp("the same text sent to everyone");
        for i in 0..50u32 {
            c.observe(&f, format!("r{i}").as_bytes(), t0);
        }
        assert_eq!(c.observe(&f, b"r50", t0 + Duration::from_secs(1)), 51);
        // Two windows later: only the new recipient.
        assert_eq!(c.observe(&f, b"r51", t0 + Duration::from_secs(25)), 1);
    }

    #[test]
    fn memory_is_bounded() {
        let c = Campaigns::new(Duration::from_secs(600), 10, 1_000);
        let t0 = Instant::now();
        for i in 0..3_000u64 {
            c.observe(&fp(&format!("word{i} other{i} third{i}")), b"r", t0);
        }
        let s = c.state.lock().unwrap();
        assert!(s.current.len() + s.previous.len() <= 2_000 + 2 * BANDS);
    }
}

/// One account's sending rate: messages in the last second and the last
/// minute, and distinct recipients in the last minute (keyed hashes,
/// bounded), each over two half-window generations like [`Campaigns`].
pub struct AccountRate {
    seed: std::collections::hash_map::RandomState,
    state: Mutex<RateState>,
    max_recipients: usize,
}

struct RateState {
    sec: (Instant, u64, u64),
    min: (Instant, u64, u64),
    recipients: (HashSet<u64>, HashSet<u64>),
}

/// [`AccountRate::observe`]'s figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// Messages over about the last second (between 0.5 and 1 s).
    pub per_second: u64,
    /// Messages over about the last minute.
    pub per_minute: u64,
    /// Distinct recipients over about the last minute (at most the cap).
    pub recipients_per_minute: usize,
}

impl std::fmt::Debug for AccountRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRate").finish_non_exhaustive()
    }
}

impl AccountRate {
    /// Counts up to `max_recipients` distinct recipients a minute.
    pub fn new(max_recipients: usize, now: Instant) -> AccountRate {
        AccountRate {
            seed: std::collections::hash_map::RandomState::new(),
            state: Mutex::new(RateState {
                sec: (now, 0, 0),
                min: (now, 0, 0),
                recipients: (HashSet::new(), HashSet::new()),
            }),
            max_recipients: max_recipients.max(1),
        }
    }

    /// Records one message to `recipient` and returns the rates with it.
    pub fn observe(&self, recipient: &[u8], now: Instant) -> Rates {
        let mut h = self.seed.build_hasher();
        h.write(recipient);
        let r = h.finish();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let roll = |w: &mut (Instant, u64, u64), half: Duration| -> bool {
            let age = now.saturating_duration_since(w.0);
            if age >= half * 2 {
                *w = (now, 0, 0);
                true
            } else if age >= half {
                *w = (now, 0, w.1);
                true
            } else {
                false
            }
        };
        roll(&mut s.sec, Duration::from_millis(500));
        let before = s.min.0;
        if roll(&mut s.min, Duration::from_secs(30)) {
            if now.saturating_duration_since(before) >= Duration::from_secs(60) {
                s.recipients.1.clear();
            } else {
                s.recipients.1 = std::mem::take(&mut s.recipients.0);
            }
            s.recipients.0.clear();
        }
        s.sec.1 += 1;
        s.min.1 += 1;
        if s.recipients.0.len() + s.recipients.1.len() < self.max_recipients
            && !s.recipients.1.contains(&r)
        {
            s.recipients.0.insert(r);
        }
        let distinct = s.recipients.0.len() + s.recipients.1.len();
        Rates {
            per_second: s.sec.1 + s.sec.2,
            per_minute: s.min.1 + s.min.2,
            recipients_per_minute: distinct.min(self.max_recipients),
        }
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn counts_messages_and_distinct_recipients() {
        let t0 = Instant::now();
        let a = AccountRate::new(10_000, t0);
        let mut last = None;
        for i in 0..100u32 {
            last = Some(a.observe(format!("+4477009{:05}", i % 40).as_bytes(), t0));
        }
        let r = last.unwrap();
        assert_eq!(r.per_second, 100);
        assert_eq!(r.per_minute, 100);
        assert_eq!(r.recipients_per_minute, 40);
        // A second and a half later: the per-second count has moved on,
        // the per-minute one has not.
        let r = a.observe(b"+447700900999", t0 + Duration::from_millis(1_500));
        assert_eq!(r.per_second, 1);
        assert_eq!(r.per_minute, 101);
        assert_eq!(r.recipients_per_minute, 41);
        // Two minutes later everything starts over.
        let r = a.observe(b"x", t0 + Duration::from_secs(150));
        assert_eq!(
            (r.per_second, r.per_minute, r.recipients_per_minute),
            (1, 1, 1)
        );
    }

    #[test]
    fn recipients_are_capped() {
        let t0 = Instant::now();
        let a = AccountRate::new(50, t0);
        let mut r = None;
        for i in 0..1_000u32 {
            r = Some(a.observe(&i.to_be_bytes(), t0));
        }
        assert_eq!(r.unwrap().recipients_per_minute, 50);
    }
}
