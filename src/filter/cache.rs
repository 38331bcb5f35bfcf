//! A per-thread cache of content verdicts.
//!
//! The content signals of a message (rules, URLs, classifier) and its
//! campaign fingerprint are pure functions of its decoded text and of the
//! [`Engine`](super::engine::Engine) that judged it, and a bulk campaign
//! sends one text to thousands of recipients. So each worker thread keeps
//! the content part of its recent verdicts, keyed by the text: a text seen
//! again skips normalisation, the rules, the URLs and the model. Sender,
//! velocity, exemptions and thresholds still run for every message.
//!
//! * **No text is kept.** The key is a 128-bit keyed hash of the exact
//!   decoded text (two foldhash hashes under independent per-thread random
//!   seeds); a value is the content hits (rule ids and scores) and the
//!   campaign fingerprint, which the campaign counters hold anyway.
//! * **Bounded.** 4-way set-associative, a fixed number of entries per
//!   thread (`[filter] verdict_cache`), the oldest entry of a set replaced
//!   first. About 120 bytes an entry, plus the hits of those that have any.
//! * **Per engine.** An entry carries the generation of the engine that
//!   made it (a number no other engine has, [`next_generation`]); a
//!   reload's new engine never reads an old engine's entries.
//! * **Per thread.** Nothing in it is written by two threads, so it costs
//!   no cache-line transfers between cores.

use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use foldhash::quality::SeedableRandomState;

use super::rules::Hit;
use super::velocity::Fingerprint;

/// Ways per set.
const WAYS: usize = 4;

/// A fresh engine generation: never 0 (an empty slot), never the same
/// twice in a process.
pub(crate) fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// This thread's copy of rule id `id`. The hits of a cached verdict are
/// cloned for every message and dropped on the same thread: with ids of
/// the thread's own, that counts references on lines no other thread
/// writes (the rules' own ids are shared by every worker thread). At most
/// [`LOCAL_IDS`] are kept (ids come from the configuration; reloads may
/// bring new ones); past that the copies start afresh.
pub(crate) fn local_id(id: &Arc<str>) -> Arc<str> {
    thread_local! {
        static IDS: RefCell<HashSet<Arc<str>>> = RefCell::default();
    }
    IDS.with(|ids| {
        let Ok(mut ids) = ids.try_borrow_mut() else {
            return id.clone();
        };
        if let Some(own) = ids.get(&**id) {
            return own.clone();
        }
        if ids.len() >= LOCAL_IDS {
            ids.clear();
        }
        let own: Arc<str> = Arc::from(&**id);
        ids.insert(own.clone());
        own
    })
}

/// Rule ids [`local_id`] keeps per thread.
const LOCAL_IDS: usize = 4096;

/// The key of a text: two independent 64-bit keyed hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key([u64; 2]);

/// The content part of a verdict.
#[derive(Debug, Clone)]
pub(crate) struct Content {
    /// The content hits, in their order (before exemptions).
    pub(crate) hits: Box<[Hit]>,
    /// The campaign fingerprint of the text (unused when the engine counts
    /// no campaigns).
    pub(crate) fingerprint: Fingerprint,
}

#[derive(Debug, Clone, Copy, Default)]
struct Tag {
    key: [u64; 2],
    /// 0: empty.
    generation: u64,
}

/// One thread's cache (see the module docs).
pub(crate) struct VerdictCache {
    seeds: [SeedableRandomState; 2],
    /// `sets × WAYS` tags, way 0 of a set the newest.
    tags: Vec<Tag>,
    values: Vec<Option<Content>>,
    sets: usize,
}

impl std::fmt::Debug for VerdictCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerdictCache")
            .field("entries", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl Default for VerdictCache {
    fn default() -> VerdictCache {
        VerdictCache::new(0)
    }
}

impl VerdictCache {
    /// A cache of `entries` entries, rounded up to a multiple of the ways
    /// (0: off). Memory is taken on the first use, not here.
    pub(crate) fn new(entries: usize) -> VerdictCache {
        VerdictCache {
            seeds: [SeedableRandomState::random(), SeedableRandomState::random()],
            tags: Vec::new(),
            values: Vec::new(),
            sets: entries.div_ceil(WAYS),
        }
    }

    /// Entries it holds at most.
    pub(crate) fn capacity(&self) -> usize {
        self.sets * WAYS
    }

    /// Makes it `entries` entries, emptied, when it is another size.
    pub(crate) fn resize(&mut self, entries: usize) {
        let sets = entries.div_ceil(WAYS);
        if sets != self.sets {
            self.sets = sets;
            self.tags = Vec::new();
            self.values = Vec::new();
        }
    }

    /// The key of `text`.
    pub(crate) fn key(&self, text: &str) -> Key {
        let b = text.as_bytes();
        Key([self.seeds[0].hash_one(b), self.seeds[1].hash_one(b)])
    }

    /// The first slot of `key`'s set.
    fn set_of(&self, key: Key) -> usize {
        // Multiply-shift onto 0..sets: no power of two needed.
        ((u128::from(key.0[0]) * self.sets as u128) >> 64) as usize * WAYS
    }

    /// The content `generation`'s engine found for the text of `key`.
    pub(crate) fn get(&self, key: Key, generation: u64) -> Option<&Content> {
        if self.tags.is_empty() {
            return None;
        }
        let set = self.set_of(key);
        let found = (set..set + WAYS)
            .find(|&i| self.tags[i].key == key.0 && self.tags[i].generation == generation)
            .and_then(|i| self.values[i].as_ref());
        #[cfg(test)]
        if found.is_some() {
            tests::HITS.with(|h| h.set(h.get() + 1));
        }
        found
    }

    /// Keeps `content` for the text of `key`, as `generation`'s engine
    /// found it; the set's oldest entry goes. Its rule ids are replaced by
    /// this thread's copies (see [`local_id`]).
    pub(crate) fn insert(&mut self, key: Key, generation: u64, mut content: Content) {
        if self.sets == 0 {
            return;
        }
        for h in content.hits.iter_mut() {
            h.rule = local_id(&h.rule);
        }
        if self.tags.is_empty() {
            self.tags = vec![Tag::default(); self.sets * WAYS];
            self.values = vec![None; self.sets * WAYS];
        }
        let set = self.set_of(key);
        let ways = set..set + WAYS;
        self.tags[ways.clone()].rotate_right(1);
        self.values[ways].rotate_right(1);
        self.tags[set] = Tag {
            key: key.0,
            generation,
        };
        self.values[set] = Some(content);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::FilterConfig;
    use crate::filter::engine::Velocity;
    use crate::filter::engine::{AccountPolicy, Action, Engine, Message, Settings, Verdict};
    use crate::filter::rules::RuleSet;
    use crate::filter::velocity::AccountRate;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    thread_local! {
        /// Cache hits on this thread (each test runs on a thread of its own).
        pub(crate) static HITS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    fn hits() -> u64 {
        HITS.with(|h| h.get())
    }

    fn content(score: f32) -> Content {
        Content {
            hits: vec![Hit {
                rule: "r".into(),
                score,
            }]
            .into(),
            fingerprint: Fingerprint([1; super::super::velocity::BANDS]),
        }
    }

    #[test]
    fn keeps_by_text_and_generation() {
        let mut c = VerdictCache::new(8);
        let (g1, g2) = (next_generation(), next_generation());
        assert_ne!(g1, g2);
        let k = c.key("hello");
        assert_ne!(k, c.key("hello "));
        assert!(c.get(k, g1).is_none());
        c.insert(k, g1, content(0.5));
        assert_eq!(c.get(k, g1).map(|v| v.hits[0].score), Some(0.5));
        assert!(c.get(k, g2).is_none(), "another engine's entry");
        assert!(c.get(c.key("other"), g1).is_none());
    }

    #[test]
    fn bounded_oldest_first() {
        let mut c = VerdictCache::new(5);
        assert_eq!(c.capacity(), 8);
        let g = next_generation();
        let keys: Vec<Key> = (0..1000).map(|i| c.key(&format!("text {i}"))).collect();
        for (i, &k) in keys.iter().enumerate() {
            c.insert(k, g, content(i as f32));
            assert!(c.get(k, g).is_some());
        }
        let held = keys.iter().filter(|&&k| c.get(k, g).is_some()).count();
        assert_eq!(held, 8);
        // The newest are held.
        assert!(c.get(keys[999], g).is_some());
    }

    #[test]
    fn off_holds_nothing() {
        let mut c = VerdictCache::new(0);
        let g = next_generation();
        let k = c.key("x");
        c.insert(k, g, content(1.0));
        assert!(c.get(k, g).is_none());
        c.resize(4);
        c.insert(k, g, content(1.0));
        assert!(c.get(k, g).is_some());
        c.resize(0);
        assert!(c.get(k, g).is_none());
    }

    /// A verdict as bits, so scores compare exactly.
    fn bits(v: &Verdict) -> (Action, u32, Vec<(String, u32)>, String) {
        (
            v.action,
            v.score.to_bits(),
            v.hits
                .iter()
                .map(|h| (h.rule.to_string(), h.score.to_bits()))
                .collect(),
            v.evidence.clone(),
        )
    }

    struct Judge {
        engine: Engine,
        rate: AccountRate,
        velocity: Velocity,
    }

    impl Judge {
        fn new(engine: Engine) -> Judge {
            Judge {
                engine,
                rate: AccountRate::new(100, Instant::now()),
                velocity: Velocity::with_fixed_seed(Duration::from_secs(600), 201),
            }
        }

        fn judge(&self, text: &str, to: &str, policy: &AccountPolicy, now: Instant) -> Verdict {
            self.engine.judge(
                &Message {
                    text: Some(text),
                    source: (5, 0, b"SHOP"),
                    recipients: &[to.as_bytes()],
                },
                policy,
                Some((&self.rate, &self.velocity)),
                now,
            )
        }
    }

    fn shipped(verdict_cache: u32) -> Engine {
        crate::filter::build_engine(&FilterConfig {
            verdict_cache,
            ..FilterConfig::default()
        })
        .expect("the shipped filter builds")
    }

    #[test]
    fn a_hit_gives_the_verdict_of_a_miss_on_uci_test() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/sms/uci-test.tsv");
        if !path.exists() {
            eprintln!("skipped: {} not found", path.display());
            return;
        }
        let mut seen = std::collections::HashSet::new();
        let texts: Vec<String> = crate::filter::datasets::load(&path, None)
            .expect("uci-test loads")
            .into_iter()
            .map(|(_, t)| t)
            .filter(|t| seen.insert(t.clone()))
            .collect();
        let cached = Judge::new(shipped(4096));
        let plain = Judge::new(shipped(0));
        let p = AccountPolicy::default();
        let now = Instant::now();
        let mut blocked = 0;
        // Twice each, to new recipients (campaign counts move too): the
        // second judgement of a text is a hit.
        for (i, text) in texts.iter().enumerate() {
            for round in 0..2 {
                let to = format!("4477{round}{i:07}");
                let before = hits();
                let c = cached.judge(text, &to, &p, now);
                assert_eq!(hits() - before, round, "{text:?}");
                let u = plain.judge(text, &to, &p, now);
                assert_eq!(bits(&c), bits(&u), "{text:?}");
                blocked += usize::from(c.action == Action::Block);
            }
        }
        assert_eq!(hits(), texts.len() as u64);
        assert!(
            blocked > 100,
            "the spam's blocked evidence is compared too: {blocked}"
        );
    }

    fn rules(prize: f32) -> RuleSet {
        RuleSet::from_toml(&format!(
            "[[keyword]]\nid = \"prize\"\nscore = {prize}\nphrases = [\"claim your prize\"]\n\n\
             [[keyword]]\nid = \"urgent\"\nscore = 0.5\nphrases = [\"act now\"]\n"
        ))
        .unwrap()
    }

    #[test]
    fn a_new_engine_does_not_read_the_old_ones_entries() {
        let p = AccountPolicy::default();
        let now = Instant::now();
        let old =
            Judge::new(Engine::new(rules(0.6), None, Settings::default()).with_verdict_cache(64));
        let text = "Claim your prize today";
        assert_eq!(old.judge(text, "1", &p, now).action, Action::Flag);
        assert_eq!(old.judge(text, "2", &p, now).action, Action::Flag);
        assert_eq!(hits(), 1);
        // A reload: new rules, the same text.
        let new =
            Judge::new(Engine::new(rules(1.2), None, Settings::default()).with_verdict_cache(64));
        let v = new.judge(text, "3", &p, now);
        assert_eq!(v.action, Action::Block, "{v:?}");
        assert_eq!(v.evidence, "claim your prize today");
        assert_eq!(hits(), 1);
        // Both keep their own.
        assert_eq!(new.judge(text, "4", &p, now).action, Action::Block);
        assert_eq!(old.judge(text, "5", &p, now).action, Action::Flag);
        assert_eq!(hits(), 3);
    }

    #[test]
    fn exemptions_and_evidence_apply_on_a_hit() {
        let e =
            Judge::new(Engine::new(rules(0.6), None, Settings::default()).with_verdict_cache(64));
        let exempt = AccountPolicy {
            exempt: [Arc::from("urgent")].into_iter().collect(),
            senders: Vec::new(),
        };
        let p = AccountPolicy::default();
        let now = Instant::now();
        let text = "Act now! Claim your prize";
        let v = e.judge(text, "1", &exempt, now);
        assert_eq!((v.action, v.evidence.as_str()), (Action::Flag, ""));
        let v = e.judge(text, "2", &p, now);
        assert_eq!(hits(), 1);
        assert_eq!(v.action, Action::Block);
        assert_eq!(v.evidence, "act now! claim your prize");
        let v = e.judge(text, "3", &exempt, now);
        assert_eq!(hits(), 2);
        assert_eq!(v.action, Action::Flag);
        assert!(v.hits.iter().all(|h| &*h.rule != "urgent"), "{v:?}");
    }

    #[test]
    fn an_engine_without_a_cache_computes_every_time() {
        let e = Judge::new(Engine::new(rules(0.6), None, Settings::default()));
        let p = AccountPolicy::default();
        let now = Instant::now();
        let text = "Act now! Claim your prize";
        let first = e.judge(text, "1", &p, now);
        let second = e.judge(text, "2", &p, now);
        assert_eq!(hits(), 0);
        assert_eq!(bits(&first), bits(&second));
        assert_eq!(first.evidence, "act now! claim your prize");
        let off = Judge::new(shipped(0));
        off.judge(text, "1", &p, now);
        off.judge(text, "2", &p, now);
        assert_eq!(hits(), 0);
    }
}
