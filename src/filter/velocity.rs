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
//! whole window. A band value holds its first recipient exactly and, from
//! the second on, a fixed-size bitmap of its recipients (at least twice the
//! flagging threshold in bits): the count over both generations is the
//! linear-counting estimate from the union of their bitmaps, exact for one
//! or two recipients and within a few percent at the threshold. A campaign
//! to many recipients thus costs its bands' table entries and bitmaps, not
//! an entry per recipient: the tables stay small enough for the cache. The
//! memory held is bounded; beyond the bound the oldest generation is
//! dropped early.

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

/// One generation: the recipients of each (band, value) key. A key holds
/// its first recipient exactly; from the second distinct one on, a bitmap
/// of the recipients' bit positions (in [`Gen::bitmaps`], a fixed number
/// of words per key). Most band values only ever meet one recipient (a
/// text sent once), so most texts touch one table per band; a campaign's
/// keys touch one word of their bitmap too, which stays the same size
/// however many recipients they get.
#[derive(Default)]
struct Gen {
    counts: HashMap<u64, Slot, MixState>,
    /// The bitmaps, [`Campaigns::words`] words each.
    bitmaps: Vec<u64>,
    /// Units held: a key, or a bitmap word.
    len: usize,
}

/// The recipients of one band key in one generation.
#[derive(Clone, Copy)]
struct Slot {
    /// The first recipient's key.
    first: u64,
    /// 1 + the index of the key's bitmap, once a second distinct
    /// recipient came; 0 before (the first recipient's bit stands alone).
    bitmap: u32,
    /// Bits set: of the bitmap, or 1 for the first recipient alone.
    ones: u16,
    /// Of those, the bits the older generation's bitmap of the key (as it
    /// was when this generation started; it no longer changes) does not
    /// have: the bits of the two together are its `ones` plus these.
    extra: u16,
}

/// Folds a band number and value into one word.
fn band_key(band: usize, value: u64) -> u64 {
    crate::hash::splitmix64(value ^ (band as u64).wrapping_mul(0xA076_1D64_78BD_642F))
}

/// Whether `slot` (with its generation's bitmaps) has bit `bit`.
fn has_bit(slot: &Slot, bitmaps: &[u64], bit: usize, words: usize) -> bool {
    match (slot.bitmap as usize).checked_sub(1) {
        None => bit_of(slot.first, words) == bit,
        Some(i) => bitmaps
            .get(i * words + bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0),
    }
}

impl Gen {
    fn len(&self) -> usize {
        self.len
    }

    fn clear(&mut self) {
        self.counts.clear();
        self.bitmaps.clear();
        self.len = 0;
    }

    /// Adds recipient `r` (bit `bit`) under `key`, given the key's slot in
    /// the older generation; returns the key's slot here.
    fn add(
        &mut self,
        key: u64,
        r: u64,
        bit: usize,
        words: usize,
        older: Option<(&Slot, &[u64])>,
    ) -> Slot {
        let new_to_older = || older.is_none_or(|(o, bitmaps)| !has_bit(o, bitmaps, bit, words));
        let Gen {
            counts,
            bitmaps,
            len,
        } = self;
        match counts.entry(key) {
            Entry::Vacant(e) => {
                *len += 1;
                *e.insert(Slot {
                    first: r,
                    bitmap: 0,
                    ones: 1,
                    extra: u16::from(new_to_older()),
                })
            }
            Entry::Occupied(mut e) => {
                let s = e.get_mut();
                if s.bitmap == 0 {
                    if s.first == r {
                        return *s;
                    }
                    let at = bitmaps.len();
                    bitmaps.resize(at + words, 0);
                    let b = bit_of(s.first, words);
                    bitmaps[at + b / 64] |= 1 << (b % 64);
                    s.bitmap = u32::try_from(at / words + 1).unwrap_or(u32::MAX);
                    *len += words;
                }
                let at = (s.bitmap as usize - 1) * words + bit / 64;
                if let Some(w) = bitmaps.get_mut(at) {
                    if *w & (1 << (bit % 64)) == 0 {
                        *w |= 1 << (bit % 64);
                        s.ones += 1;
                        s.extra += u16::from(new_to_older());
                    }
                }
                *s
            }
        }
    }
}

/// The bit of recipient key `r` in a bitmap of `words` words.
fn bit_of(r: u64, words: usize) -> usize {
    // Recipient keys are keyed hashes: their low bits are uniform.
    (r as usize) & (words * 64 - 1)
}

/// Distinct recipients from the bits set in a bitmap of `m` bits, by
/// linear counting (Whang, Vander-Zanden and Taylor, 1990): with `z` of
/// the bits zero, `m ln(m / z)`. A bitmap has at least twice the cap's
/// bits, so up to the cap the estimate's relative standard error is at
/// most about `0.55 / √n` (4 % at 200 recipients, 1 at 50).
fn estimate(ones: usize, m: usize) -> usize {
    let z = m.saturating_sub(ones);
    if z == 0 {
        return usize::MAX;
    }
    let m = m as f64;
    ((m * (m / z as f64).ln()).round() as usize).max(ones.min(1))
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
    /// Words of a key's recipient bitmap.
    words: usize,
    /// Keys recipients, so numbers are never held.
    seed: foldhash::quality::SeedableRandomState,
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
    /// threshold or a little more), holding at most `max_keys` units per
    /// half-window generation: a unit is a band key (about 24 bytes with
    /// its table entry) or a word of a key's recipient bitmap (8 bytes;
    /// `2 cap` bits a bitmap, rounded up to a power of two, 64 at least
    /// and 32,768 at most: a cap past 16,384 gets fewer than twice its
    /// bits, and a coarser estimate).
    /// Past the bound the generations roll early.
    pub fn new(window: Duration, cap: usize, max_keys: usize) -> Campaigns {
        Campaigns::with_seed(
            window,
            cap,
            max_keys,
            foldhash::quality::SeedableRandomState::random(),
        )
    }

    /// [`Campaigns::new`] with the recipients keyed by `seed`: a fixed
    /// seed gives the same counts in every run (tests).
    pub(crate) fn with_seed(
        window: Duration,
        cap: usize,
        max_keys: usize,
        seed: foldhash::quality::SeedableRandomState,
    ) -> Campaigns {
        let cap = cap.max(1);
        // At most 2^15 bits, so a bitmap's bit count fits a `u16`.
        let words = (cap.saturating_mul(2).next_power_of_two() / 64).clamp(1, 1 << 9);
        Campaigns {
            half: (window / 2).max(Duration::from_millis(1)),
            cap,
            max_keys: max_keys.max(BANDS * (1 + words)),
            words,
            seed,
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
    /// the window (at most `cap`), this one included: exact for one or
    /// two, an estimate within a few percent beyond (see [`estimate`]).
    /// An empty text (no word of three letters or more) is not counted.
    pub fn observe(&self, fp: &Fingerprint, recipient: &[u8], now: Instant) -> usize {
        if fp.0 == [0; BANDS] {
            return 0;
        }
        let words = self.words;
        let r = self.recipient_key(recipient);
        let bit = bit_of(r, words);
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(s.since) >= self.half * 2 {
            s.previous.clear();
            s.current.clear();
            s.since = now;
        } else if now.saturating_duration_since(s.since) >= self.half
            || s.current.len() + BANDS * (1 + words) > self.max_keys
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
        // Exact while both generations hold one recipient of a key (the
        // most of those), else the most bits any band's key has over both.
        let mut exact = 0;
        let mut ones = 0;
        let State {
            current, previous, ..
        } = &mut *s;
        for (band, &value) in fp.0.iter().enumerate() {
            let key = band_key(band, value);
            let older = previous.counts.get(&key);
            let c = current.add(
                key,
                r,
                bit,
                words,
                older.map(|o| (o, &previous.bitmaps[..])),
            );
            match older {
                None if c.bitmap == 0 => exact = exact.max(1),
                Some(o) if c.bitmap == 0 && o.bitmap == 0 => {
                    exact = exact.max(1 + usize::from(o.first != c.first));
                }
                _ => {
                    ones = ones.max(usize::from(c.extra) + older.map_or(0, |o| usize::from(o.ones)))
                }
            }
        }
        let best = if ones == 0 {
            exact
        } else {
            exact.max(estimate(ones, words * 64))
        };
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
        // Each text went to 30 recipients; no unrelated ones pooled (two
        // may share a band; the estimate's standard error is about one).
        assert!(max <= 64, "{max}");
    }

    #[test]
    fn the_window_forgets() {
        let c = Campaigns::new(Duration::from_secs(10), 1_000, 100_000);
        let t0 = Instant::now();
        let f = fp("the same text sent to everyone");
        for i in 0..50u32 {
            c.observe(&f, format!("r{i}").as_bytes(), t0);
        }
        let n = c.observe(&f, b"r50", t0 + Duration::from_secs(1));
        // An estimate past two recipients (standard error about 1 here).
        assert!((47..=55).contains(&n), "{n}");
        // Two windows later: only the new recipient.
        assert_eq!(c.observe(&f, b"r51", t0 + Duration::from_secs(25)), 1);
    }

    #[test]
    fn estimates_stay_close() {
        // The same text to 200 distinct recipients, then to the same 200
        // again half a window on (the newer generation), then to 150 new
        // ones: with ten recipient keys (fixed seeds, so the test gives the
        // same figures every run).
        let f = fp("the same text sent to everyone on the list");
        for seed in 0..10u64 {
            let c = Campaigns::with_seed(
                Duration::from_secs(10),
                400,
                100_000,
                foldhash::quality::SeedableRandomState::with_seed(
                    seed,
                    foldhash::SharedSeed::global_fixed(),
                ),
            );
            let t0 = Instant::now();
            let send = |from: u32, to: u32, at: Instant| {
                (from..to)
                    .map(|i| c.observe(&f, format!("r{i}").as_bytes(), at))
                    .last()
                    .unwrap_or(0)
            };
            let n = send(0, 200, t0);
            assert!((185..=215).contains(&n), "seed {seed}: {n} of 200");
            // Repeats do not count twice across the generations.
            let t1 = t0 + Duration::from_secs(6);
            let n = send(0, 200, t1);
            assert!((185..=215).contains(&n), "seed {seed}: {n} of 200 again");
            let n = send(200, 350, t1);
            assert!((325..=375).contains(&n), "seed {seed}: {n} of 350");
        }
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
