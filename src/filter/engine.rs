//! The filter's verdict: every signal of one message added up.
//!
//! [`Engine`] holds what a configuration load builds (rules, lists, model,
//! thresholds) and is rebuilt on reload; [`Velocity`] holds the counters
//! that must outlive a reload (campaign fingerprints across accounts).
//! [`Engine::judge`] normalises the text once and hands the same
//! [`Normalized`] to every signal:
//!
//! | rule id               | signal                                             |
//! |-----------------------|----------------------------------------------------|
//! | keyword / regex ids   | the rules file ([`RuleSet`])                       |
//! | `url.*`               | URLs against the domain lists ([`DomainPolicy`])   |
//! | `classifier`          | the statistical model ([`Model`])                  |
//! | `sender.brand`, `sender.invalid` | the source address ([`check_sender`])   |
//! | `velocity.campaign`   | near-identical text to many recipients             |
//! | `velocity.rate`, `velocity.recipients` | the account's own rates           |
//!
//! Scores add up. A message scoring at least `block_score` is blocked, at
//! least `flag_score` flagged; a velocity signal flags at least. The
//! classifier's contribution is `base × block_score + weight × (logit(p) −
//! logit(threshold))`, floored at 0. With `base` 1 a model score at its own
//! threshold blocks on its own; with a smaller `base` (the default) the
//! model needs more confidence to block alone, and corroboration from the
//! rules, URLs or sender below that; a confident "ham" contributes nothing
//! (so rules alone need the full `block_score`).
//!
//! A rule with a negative score is a discount, not a signal of its own: it
//! marks traffic the model was never shown as ham (balances, masked account
//! numbers, one-time passwords, appointment reminders: the UCI training set
//! is personal chat) and lowers the classifier's contribution only. It
//! never offsets a keyword, regex, URL, sender or velocity hit, so a
//! smishing text dressed as a bank alert is still judged on its lures.
//!
//! An account may be exempt from named rules (never from all of them); an
//! exempt rule's hit is dropped before scoring.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cache::{local_id, next_generation, Content, VerdictCache};
use super::classifier::Model;
use super::normalize::{fold_confusables, normalize_into, Normalized};
use super::rules::{Hit, RuleSet};
use super::sender::{check_sender, SenderHit};
use super::urls::{default_shorteners, extract_urls, DomainPolicy, UrlHit};
use super::velocity::{fingerprint, AccountRate, Campaigns, Fingerprint};

/// The filter's own signals, besides the rules file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Classifier,
    UrlBlocked,
    UrlShortener,
    UrlIp,
    UrlPunycode,
    UrlLookalike,
    SenderBrand,
    SenderInvalid,
    VelocityCampaign,
    VelocityRate,
    VelocityRecipients,
}

/// The rule id of each [`Builtin`], in its order.
pub const BUILT_IN_IDS: &[&str] = &[
    "classifier",
    "url.blocked",
    "url.shortener",
    "url.ip",
    "url.punycode",
    "url.lookalike",
    "sender.brand",
    "sender.invalid",
    "velocity.campaign",
    "velocity.rate",
    "velocity.recipients",
];

/// What happens to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Forwarded.
    Allow,
    /// Forwarded, and counted as evidence.
    Flag,
    /// Rejected with the configured status.
    Block,
}

impl Action {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Block => "block",
        }
    }
}

/// The outcome of [`Engine::judge`].
#[derive(Debug, Clone)]
pub struct Verdict {
    /// What to do.
    pub action: Action,
    /// The summed score.
    pub score: f32,
    /// Every signal that fired (exempt ones removed).
    pub hits: Vec<Hit>,
    /// The normalised (folded) text of a blocked message, for the
    /// review evidence; empty for other verdicts.
    pub evidence: String,
}

/// Thresholds and velocity limits (from `[filter]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Block at or above this score.
    pub block_score: f32,
    /// Flag at or above this score.
    pub flag_score: f32,
    /// The classifier's contribution at its own threshold, as a share of
    /// `block_score` (1: the classifier blocks alone at its threshold).
    pub classifier_base: f32,
    /// Slope of the classifier's contribution per logit unit.
    pub classifier_weight: f32,
    /// The model's own threshold replaced (`None`: the one in the file).
    pub classifier_threshold: Option<f32>,
    /// Distinct recipients of near-identical text in the window that flag
    /// it (0: off).
    pub campaign_recipients: usize,
    /// Score added by a campaign hit.
    pub campaign_score: f32,
    /// Messages per second from one account that flag (0: off).
    pub max_per_second: u64,
    /// Distinct recipients per minute from one account that flag (0: off).
    pub max_recipients_per_minute: usize,
    /// Score added by an account-rate hit.
    pub rate_score: f32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            block_score: 1.0,
            flag_score: 0.6,
            classifier_base: 0.8,
            classifier_weight: 0.35,
            classifier_threshold: None,
            campaign_recipients: 200,
            campaign_score: 0.3,
            max_per_second: 0,
            max_recipients_per_minute: 0,
            rate_score: 0.2,
        }
    }
}

/// What the account adds to a judgement.
#[derive(Debug, Default, Clone)]
pub struct AccountPolicy {
    /// Rule ids this account is exempt from.
    pub exempt: HashSet<Arc<str>>,
    /// Alphanumeric senders registered to the account (brand checks skip
    /// them).
    pub senders: Vec<String>,
}

/// One message to judge.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// Its decoded text (`None`: binary content; only the sender and
    /// velocity signals apply).
    pub text: Option<&'a str>,
    /// Source TON, NPI and address octets.
    pub source: (u8, u8, &'a [u8]),
    /// Every destination address.
    pub recipients: &'a [&'a [u8]],
}

/// The rebuilt-on-reload part of the filter.
#[derive(Debug)]
pub struct Engine {
    rules: RuleSet,
    policy: DomainPolicy,
    model: Option<Model>,
    settings: Settings,
    known: HashSet<Arc<str>>,
    /// [`BUILT_IN_IDS`], made once: hits clone them.
    builtin: Vec<Arc<str>>,
    /// This engine's own number: its entries in the verdict caches are
    /// its alone (see [`super::cache`]).
    generation: u64,
    /// Entries of each thread's verdict cache (0: none).
    verdict_cache: usize,
}

/// One thread's reused buffers and verdict cache.
#[derive(Default)]
struct Scratch {
    normalized: Normalized,
    cache: VerdictCache,
}

/// Counters that outlive reloads: campaign fingerprints across accounts.
#[derive(Debug)]
pub struct Velocity {
    campaigns: Campaigns,
}

impl Velocity {
    /// Counts over `window`, up to `cap` recipients per text.
    pub fn new(window: Duration, cap: usize) -> Velocity {
        Velocity {
            campaigns: Campaigns::new(window, cap.max(1), 1_000_000),
        }
    }

    /// [`Velocity::new`] with recipients keyed by a fixed seed, so the
    /// campaign estimates are the same in every run (tests).
    #[cfg(test)]
    pub(crate) fn with_fixed_seed(window: Duration, cap: usize) -> Velocity {
        Velocity {
            campaigns: Campaigns::with_seed(
                window,
                cap.max(1),
                1_000_000,
                foldhash::quality::SeedableRandomState::fixed(),
            ),
        }
    }
}

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

impl Engine {
    /// Builds the engine from compiled rules (with their lists), an
    /// optional model and the thresholds.
    pub fn new(rules: RuleSet, model: Option<Model>, settings: Settings) -> Engine {
        let lists = &rules.lists;
        let policy = DomainPolicy::new(
            lists.block_domains.clone(),
            lists.allow_domains.clone(),
            lists.shorteners.clone().unwrap_or_else(default_shorteners),
            lists.url_brands.clone(),
        );
        let known = rules
            .ids()
            .cloned()
            .chain(BUILT_IN_IDS.iter().map(|s| Arc::from(*s)))
            .collect();
        Engine {
            rules,
            policy,
            model,
            settings,
            known,
            builtin: BUILT_IN_IDS.iter().map(|s| Arc::from(*s)).collect(),
            generation: next_generation(),
            verdict_cache: 0,
        }
    }

    /// The same engine with a verdict cache of `entries` entries per
    /// thread (0: none, as [`Engine::new`] makes it): the content signals
    /// of a text this thread judged recently are not computed again (see
    /// [`super::cache`]).
    pub fn with_verdict_cache(mut self, entries: usize) -> Engine {
        self.verdict_cache = entries;
        self
    }

    /// The same engine with no rules and no lists: the classifier alone
    /// (for measuring it).
    pub fn classifier_only(self) -> Engine {
        let rules = RuleSet::from_toml("").unwrap_or(self.rules);
        Engine::new(rules, self.model, self.settings)
    }

    /// A hit of a built-in signal whose id is this thread's own copy
    /// ([`local_id`]): a verdict made and dropped on one worker thread then
    /// counts references on a line no other thread writes (the sender and
    /// velocity signals, which come with every message of a campaign).
    fn local_hit(&self, b: Builtin, score: f32) -> Hit {
        Hit {
            rule: local_id(&self.builtin[b as usize]),
            score,
        }
    }

    /// A hit of a built-in signal.
    fn hit(&self, b: Builtin, score: f32) -> Hit {
        Hit {
            rule: self.builtin[b as usize].clone(),
            score,
        }
    }

    /// The same engine with `model` in place of its own.
    pub fn with_model(self, model: Model) -> Engine {
        Engine::new(self.rules, Some(model), self.settings)
    }

    /// Whether `id` names a rule or built-in signal.
    pub fn knows(&self, id: &str) -> bool {
        self.known.contains(id)
    }

    /// Every rule id, rules file first.
    pub fn rule_ids(&self) -> Vec<Arc<str>> {
        let mut v: Vec<Arc<str>> = self.known.iter().cloned().collect();
        v.sort();
        v
    }

    /// The classifier's probability that `text` is spam (`None`: no
    /// model), as the verdict computes it.
    pub fn model_score(&self, text: &str) -> Option<f32> {
        let m = self.model.as_ref()?;
        Some(m.score_normalized(&super::normalize::normalize(text)))
    }

    /// The thresholds in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The content signals of `text` (rules, URLs, classifier), appended
    /// to `hits`.
    pub fn content(&self, text: &str, n: &Normalized, hits: &mut Vec<Hit>) {
        let start = hits.len();
        self.rules.scan(n, hits);
        let scores = &self.rules.lists.url_scores;
        let url_hits = hits.len();
        for u in extract_urls(text) {
            for h in self.policy.check(&u, &fold_confusables) {
                let (b, score) = match h {
                    UrlHit::Blocked(_) => (Builtin::UrlBlocked, scores.blocked),
                    UrlHit::Shortener(_) => (Builtin::UrlShortener, scores.shortener),
                    UrlHit::IpHost => (Builtin::UrlIp, scores.ip),
                    UrlHit::Punycode => (Builtin::UrlPunycode, scores.punycode),
                    UrlHit::Lookalike { .. } => (Builtin::UrlLookalike, scores.lookalike),
                };
                // Each signal once per message, however many URLs.
                let id = &self.builtin[b as usize];
                if !hits[url_hits..].iter().any(|h| Arc::ptr_eq(&h.rule, id)) {
                    hits.push(self.hit(b, score));
                }
            }
        }
        if let Some(m) = &self.model {
            let p = m.score_normalized(n);
            let t = self.settings.classifier_threshold.unwrap_or(m.threshold());
            // A rule with a negative score marks traffic the model never saw
            // as ham (bank alerts, one-time passwords, reminders): it
            // discounts the model's contribution, never another signal's.
            let discount: f32 = hits[start..].iter().map(|h| h.score.min(0.0)).sum();
            let s = self.settings.block_score * self.settings.classifier_base
                + self.settings.classifier_weight * (logit(p) - logit(t))
                + discount;
            if s > 0.0 {
                hits.push(self.hit(Builtin::Classifier, s));
            }
        }
    }

    /// The sender signals, appended to `hits`.
    pub fn sender(&self, source: (u8, u8, &[u8]), own: &[String], hits: &mut Vec<Hit>) {
        let scores = &self.rules.lists.sender_scores;
        let mut invalid = false;
        for h in check_sender(
            source.0,
            source.1,
            source.2,
            &self.rules.lists.sender_brands,
            own,
        ) {
            match h {
                SenderHit::BrandImitation { .. } => {
                    hits.push(self.local_hit(Builtin::SenderBrand, scores.brand))
                }
                SenderHit::InvalidForTon(_) if !invalid => {
                    invalid = true;
                    hits.push(self.local_hit(Builtin::SenderInvalid, scores.invalid));
                }
                SenderHit::InvalidForTon(_) => {}
            }
        }
    }

    /// Judges one message: content, sender and velocity signals, the
    /// account's exemptions, then the thresholds. `velocity` is the
    /// account's rate counter and the shared campaign counters (`None`:
    /// no velocity signals, as for an offline evaluation).
    pub fn judge(
        &self,
        msg: &Message<'_>,
        account: &AccountPolicy,
        velocity: Option<(&AccountRate, &Velocity)>,
        now: Instant,
    ) -> Verdict {
        thread_local! {
            /// Reused for every message this thread judges.
            static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                let Scratch { normalized, cache } = &mut *scratch;
                // An engine without a cache leaves the thread's alone (a
                // reload that turns it off leaves its memory, not its use).
                if self.verdict_cache > 0 {
                    cache.resize(self.verdict_cache);
                }
                self.judge_with(msg, account, velocity, now, normalized, Some(cache))
            }
            Err(_) => self.judge_with(
                msg,
                account,
                velocity,
                now,
                &mut Normalized::default(),
                None,
            ),
        })
    }

    fn judge_with(
        &self,
        msg: &Message<'_>,
        account: &AccountPolicy,
        velocity: Option<(&AccountRate, &Velocity)>,
        now: Instant,
        normalized: &mut Normalized,
        cache: Option<&mut VerdictCache>,
    ) -> Verdict {
        let mut hits = Vec::new();
        // The campaign fingerprint, when campaigns are counted.
        let mut fp = None;
        // Whether `normalized` holds the text's views.
        let mut have_normalized = false;
        let campaigns = self.settings.campaign_recipients > 0;
        match (msg.text, cache) {
            (Some(text), Some(cache)) if self.verdict_cache > 0 => {
                let key = cache.key(text);
                if let Some(c) = cache.get(key, self.generation) {
                    hits.extend_from_slice(&c.hits);
                    fp = campaigns.then_some(c.fingerprint);
                } else {
                    normalize_into(text, normalized);
                    have_normalized = true;
                    self.content(text, normalized, &mut hits);
                    let fingerprint = if campaigns {
                        fingerprint(&normalized.masked)
                    } else {
                        Fingerprint([0; super::velocity::BANDS])
                    };
                    fp = campaigns.then_some(fingerprint);
                    cache.insert(
                        key,
                        self.generation,
                        Content {
                            hits: hits.as_slice().into(),
                            fingerprint,
                        },
                    );
                }
            }
            (Some(text), _) => {
                normalize_into(text, normalized);
                have_normalized = true;
                self.content(text, normalized, &mut hits);
                if campaigns && velocity.is_some() {
                    fp = Some(fingerprint(&normalized.masked));
                }
            }
            (None, _) => {}
        }
        self.sender(msg.source, &account.senders, &mut hits);
        let mut velocity_hit = false;
        if let Some((rate, velocity)) = velocity {
            velocity_hit = self.velocity(msg, fp.as_ref(), rate, velocity, now, &mut hits);
        }
        if !account.exempt.is_empty() {
            hits.retain(|h| !account.exempt.contains(&h.rule));
            velocity_hit = velocity_hit && hits.iter().any(|h| h.rule.starts_with("velocity."));
        }
        let (action, score) = self.decide(&hits);
        let action = if velocity_hit {
            action.max(Action::Flag)
        } else {
            action
        };
        let evidence = match (action, msg.text) {
            (Action::Block, Some(text)) => {
                // A verdict from the cache: the text is normalised only
                // now, for the review evidence.
                if !have_normalized {
                    normalize_into(text, normalized);
                }
                normalized.folded.clone()
            }
            _ => String::new(),
        };
        Verdict {
            action,
            score,
            evidence,
            hits,
        }
    }

    /// The velocity signals; true when one fired.
    fn velocity(
        &self,
        msg: &Message<'_>,
        fp: Option<&Fingerprint>,
        rate: &AccountRate,
        velocity: &Velocity,
        now: Instant,
        hits: &mut Vec<Hit>,
    ) -> bool {
        let s = &self.settings;
        let mut velocity_hit = false;
        if let Some(fp) = fp.filter(|_| s.campaign_recipients > 0) {
            let mut most = 0;
            for r in msg.recipients {
                most = most.max(velocity.campaigns.observe(fp, r, now));
            }
            if most >= s.campaign_recipients {
                hits.push(self.local_hit(Builtin::VelocityCampaign, s.campaign_score));
                velocity_hit = true;
            }
        }
        let mut rates = None;
        if s.max_per_second > 0 || s.max_recipients_per_minute > 0 {
            for r in msg.recipients {
                rates = Some(rate.observe(r, now));
            }
        }
        if let Some(r) = rates {
            if s.max_per_second > 0 && r.per_second > s.max_per_second {
                hits.push(self.local_hit(Builtin::VelocityRate, s.rate_score));
                velocity_hit = true;
            }
            if s.max_recipients_per_minute > 0
                && r.recipients_per_minute > s.max_recipients_per_minute
            {
                hits.push(self.local_hit(Builtin::VelocityRecipients, s.rate_score));
                velocity_hit = true;
            }
        }
        velocity_hit
    }

    /// The action and total score for a set of hits.
    pub fn decide(&self, hits: &[Hit]) -> (Action, f32) {
        // Negative scores only discount the classifier (see `content`).
        let score: f32 = hits.iter().map(|h| h.score.max(0.0)).sum();
        let action = if score >= self.settings.block_score {
            Action::Block
        } else if score >= self.settings.flag_score {
            Action::Flag
        } else {
            Action::Allow
        };
        (action, score)
    }
}

/// The text of a message for filtering: `payload` (message_payload) when
/// present, else `short_message` with its UDH stripped when `esm_class`
/// says there is one, decoded by `data_coding`. GSM 7-bit that does not
/// decode is read as Latin-1 (many ESMEs send Latin-1 under data_coding
/// 0); UCS-2 of odd length loses its last octet. `None` for binary and
/// unknown codings.
pub fn message_text(
    data_coding: u8,
    esm_class: u8,
    short_message: &[u8],
    payload: Option<&[u8]>,
) -> Option<String> {
    use telegate_smpp::text::{latin1, Alphabet};
    let (udhi, bytes) = match payload {
        Some(p) => (esm_class & 0x40 != 0, p),
        None => (esm_class & 0x40 != 0, short_message),
    };
    let body = if udhi {
        let (_, used) = telegate_smpp::udh::Udh::parse(bytes).ok()?;
        bytes.get(used..).unwrap_or_default()
    } else {
        bytes
    };
    let alphabet = Alphabet::from_data_coding(data_coding);
    match alphabet {
        Alphabet::Binary | Alphabet::Other(_) => None,
        Alphabet::Ucs2 => {
            let even = &body[..body.len() & !1];
            Some(alphabet.decode(even).unwrap_or_else(|_| {
                even.chunks_exact(2)
                    .map(|c| {
                        char::from_u32(u32::from(u16::from_be_bytes([c[0], c[1]])))
                            .unwrap_or('\u{FFFD}')
                    })
                    .collect()
            }))
        }
        _ => Some(
            alphabet
                .decode(body)
                .unwrap_or_else(|_| latin1::decode(body)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(settings: Settings) -> Engine {
        let rules = RuleSet::from_toml(
            r#"
[[keyword]]
id = "prize"
score = 0.6
phrases = ["claim your prize"]

[[keyword]]
id = "urgent"
score = 0.5
phrases = ["act now"]

[sender]
scores = { brand = 0.6, invalid = 0.2 }
"#,
        )
        .unwrap();
        Engine::new(rules, None, settings)
    }

    fn judge(e: &Engine, text: &str, policy: &AccountPolicy) -> Verdict {
        let rate = AccountRate::new(100, Instant::now());
        let v = Velocity::new(Duration::from_secs(60), 500);
        e.judge(
            &Message {
                text: Some(text),
                source: (5, 0, b"SHOP"),
                recipients: &[b"447700900001"],
            },
            policy,
            Some((&rate, &v)),
            Instant::now(),
        )
    }

    #[test]
    fn scores_add_up_to_flag_and_block() {
        let e = engine(Settings::default());
        let p = AccountPolicy::default();
        assert_eq!(judge(&e, "see you at 5", &p).action, Action::Allow);
        let v = judge(&e, "Claim your prize today", &p);
        assert_eq!(v.action, Action::Flag, "{v:?}");
        let v = judge(&e, "Act now! Claim your prize", &p);
        assert_eq!(v.action, Action::Block);
        assert!((v.score - 1.1).abs() < 1e-4, "{}", v.score);
        assert_eq!(v.evidence, "act now! claim your prize");
    }

    #[test]
    fn a_negative_score_discounts_the_classifier_and_nothing_else() {
        use crate::filter::classifier::{train, TrainOptions};
        let spam = "win a cash prize now, call 09061701461 to claim";
        let ham = "are we still on for lunch tomorrow";
        let examples: Vec<(bool, &str)> = (0..20)
            .map(|i| (i % 2 == 0, if i % 2 == 0 { spam } else { ham }))
            .collect();
        let model = train(
            &examples,
            &TrainOptions {
                cv_folds: 0,
                ..TrainOptions::default()
            },
        );
        let with = |extra: &str| {
            let rules = RuleSet::from_toml(&format!(
                r#"
[[keyword]]
id = "prize"
score = 0.6
phrases = ["cash prize"]
{extra}
[sender]
scores = {{ brand = 0.6, invalid = 0.2 }}
"#
            ))
            .unwrap();
            Engine::new(rules, Some(model.clone()), Settings::default())
        };
        let p = AccountPolicy::default();
        let marker = "[[regex]]\nid = \"a2p.balance\"\nscore = -0.4\npattern = 'avl bal'\n";
        let plain = judge(&with(""), &format!("{spam} avl bal"), &p);
        let discounted = judge(&with(marker), &format!("{spam} avl bal"), &p);
        let score_of =
            |v: &Verdict, id: &str| v.hits.iter().find(|h| &*h.rule == id).map(|h| h.score);
        let before = score_of(&plain, "classifier").expect("the model scores the spam");
        assert!(before > 0.4, "{plain:?}");
        let after = score_of(&discounted, "classifier").unwrap_or(0.0);
        assert!((before - 0.4 - after).abs() < 1e-4, "{before} -> {after}");
        assert_eq!(score_of(&discounted, "a2p.balance"), Some(-0.4));
        // The keyword rule keeps its full score, and the total is the
        // positive hits' sum.
        assert_eq!(score_of(&discounted, "prize"), Some(0.6));
        assert!(
            (discounted.score - (0.6 + after)).abs() < 1e-4,
            "{discounted:?}"
        );

        // With nothing to discount (no model), a negative rule lowers
        // nothing: the keyword alone still flags.
        let rules = RuleSet::from_toml(&format!(
            "[[keyword]]\nid = \"prize\"\nscore = 0.6\nphrases = [\"cash prize\"]\n{marker}"
        ))
        .unwrap();
        let e = Engine::new(rules, None, Settings::default());
        let v = judge(&e, "cash prize avl bal", &p);
        assert_eq!(v.action, Action::Flag, "{v:?}");
        assert!((v.score - 0.6).abs() < 1e-6, "{v:?}");
    }

    #[test]
    fn exemptions_drop_only_their_rules() {
        let e = engine(Settings::default());
        let p = AccountPolicy {
            exempt: [Arc::from("urgent")].into_iter().collect(),
            senders: Vec::new(),
        };
        let v = judge(&e, "Act now! Claim your prize", &p);
        assert_eq!(v.action, Action::Flag);
        assert!(v.hits.iter().all(|h| &*h.rule != "urgent"));
        assert!(e.knows("urgent") && e.knows("classifier") && !e.knows("nope"));
    }

    #[test]
    fn a_campaign_is_flagged_once_it_reaches_its_recipients() {
        let e = engine(Settings {
            campaign_recipients: 50,
            ..Settings::default()
        });
        let p = AccountPolicy::default();
        let rate = AccountRate::new(1000, Instant::now());
        let vel = Velocity::new(Duration::from_secs(600), 500);
        let now = Instant::now();
        let mut flagged = 0;
        for i in 0..100u32 {
            let text = format!(
                "Dear customer {i}, your invoice {} is ready at our portal today",
                1000 + i * 7
            );
            let to = format!("4477009{i:05}");
            let v = e.judge(
                &Message {
                    text: Some(&text),
                    source: (1, 1, b"447700900000"),
                    recipients: &[to.as_bytes()],
                },
                &p,
                Some((&rate, &vel)),
                now,
            );
            if v.action == Action::Flag {
                assert!(v.hits.iter().any(|h| &*h.rule == "velocity.campaign"));
                flagged += 1;
            }
        }
        // The count is an estimate past two recipients (standard error about
        // one at 50), so the first flag may come a few messages early or late.
        assert!((45..=55).contains(&flagged), "{flagged}");
    }

    #[test]
    fn built_in_hits_carry_their_ids() {
        let e = engine(Settings::default());
        use Builtin::*;
        let names = [
            (Classifier, "classifier"),
            (UrlBlocked, "url.blocked"),
            (UrlShortener, "url.shortener"),
            (UrlIp, "url.ip"),
            (UrlPunycode, "url.punycode"),
            (UrlLookalike, "url.lookalike"),
            (SenderBrand, "sender.brand"),
            (SenderInvalid, "sender.invalid"),
            (VelocityCampaign, "velocity.campaign"),
            (VelocityRate, "velocity.rate"),
            (VelocityRecipients, "velocity.recipients"),
        ];
        assert_eq!(names.len(), BUILT_IN_IDS.len());
        for (b, n) in names {
            assert_eq!(&*e.hit(b, 0.0).rule, n);
        }
        let mut hits = Vec::new();
        let text = "see bit.ly/abc and http://192.0.2.7/x";
        let mut n = Normalized::default();
        normalize_into(text, &mut n);
        e.content(text, &n, &mut hits);
        let ids: Vec<&str> = hits.iter().map(|h| &*h.rule).collect();
        assert_eq!(ids, ["url.shortener", "url.ip"]);
        hits.clear();
        e.sender((1, 1, b"12"), &[], &mut hits);
        assert_eq!(&*hits[0].rule, "sender.invalid");
    }

    #[test]
    fn texts_decode_by_coding() {
        assert_eq!(message_text(0, 0, b"Hello", None).as_deref(), Some("Hello"));
        // Latin-1 under data_coding 0.
        assert_eq!(
            message_text(0, 0, b"caf\xe9", None).as_deref(),
            Some("café")
        );
        let ucs2: Vec<u8> = "Привет".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(message_text(8, 0, &ucs2, None).as_deref(), Some("Привет"));
        // UDH stripped: concatenation IE, 8-bit reference.
        let mut sm = vec![5, 0, 3, 7, 2, 1];
        sm.extend_from_slice(b"part one");
        assert_eq!(
            message_text(0, 0x40, &sm, None).as_deref(),
            Some("part one")
        );
        assert_eq!(message_text(4, 0, b"\x01\x02", None), None);
        assert_eq!(
            message_text(3, 0, b"", Some(b"payload text")).as_deref(),
            Some("payload text")
        );
    }
}
