//! Keyword, phrase and regex rules over normalised text.
//!
//! A rules file (TOML) holds `[[keyword]]` and `[[regex]]` rules, each
//! with an id and a score:
//!
//! ```toml
//! [[keyword]]
//! id = "prize.claim"
//! score = 0.4
//! phrases = ["claim your prize", "you have won"]
//!
//! [[regex]]
//! id = "fee.upfront"
//! score = 0.5
//! pattern = '\b(pay|send)\b.{0,20}\b(fee|deposit)\b'
//! ```
//!
//! * Phrases go through the same folding as the message
//!   ([`normalize`](super::normalize::normalize)), so a rule written
//!   `paypal` matches `PаyPаl` with Cyrillic letters, `p@ypal` and
//!   `ＰＡＹＰＡＬ`. All phrases of all rules are found in one
//!   Aho-Corasick pass over the folded text and one over the squeezed text
//!   (so `f r e e` and `c.l.i.c.k` match `free` and `click`); a phrase
//!   counts only on word boundaries (`kill` does not match `skill`).
//! * Regexes run as one `RegexSet` pass over the folded text (and one over
//!   the squeezed text when it differs). Their `\b`,
//!   `\w` and `\d` are ASCII (the folded text is mostly ASCII, and Unicode
//!   word boundaries would make the set far slower), and sizes are capped.
//! * Each rule fires at most once per message.
//! * A negative score marks ham the classifier was never shown (bank
//!   alerts, one-time passwords): it discounts the classifier's
//!   contribution only ([`Engine`](super::engine::Engine)), never another
//!   rule's.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::{RegexSet, RegexSetBuilder};
use serde::Deserialize;

use super::normalize::{normalize, Normalized};

/// One rule that fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The rule's id.
    pub rule: Arc<str>,
    /// Its score.
    pub score: f32,
}

/// Why a rules file was refused. Messages name the rule.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not valid TOML of the expected shape.
    #[error("{0}")]
    Parse(String),
    /// A rule is wrong.
    #[error("{kind}[{index}] ({id:?}): {message}")]
    Rule {
        /// `keyword` or `regex`.
        kind: &'static str,
        /// Its position among rules of its kind.
        index: usize,
        /// Its id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// The automaton or regex set could not be built.
    #[error("{0}")]
    Build(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "keyword")]
    keywords: Vec<KeywordRule>,
    #[serde(default, rename = "regex")]
    regexes: Vec<RegexRule>,
    #[serde(default)]
    urls: UrlSection,
    #[serde(default)]
    sender: SenderSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeywordRule {
    id: String,
    score: f32,
    #[serde(default)]
    phrases: Vec<String>,
    /// A plain-text list of more phrases, one a line (`#` comments),
    /// relative to the rules file.
    #[serde(default)]
    file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UrlSection {
    block: Option<String>,
    allow: Option<String>,
    shorteners: Option<String>,
    brands: Option<String>,
    #[serde(default)]
    scores: UrlScores,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SenderSection {
    brands: Option<String>,
    #[serde(default)]
    scores: SenderScores,
}

/// Scores of the URL signals (`[urls.scores]` in the rules file); the rule
/// ids are `url.blocked`, `url.shortener`, `url.ip`, `url.punycode` and
/// `url.lookalike`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UrlScores {
    /// A host on (or under) the block list.
    pub blocked: f32,
    /// A public link shortener.
    pub shortener: f32,
    /// A bare IP address as host.
    pub ip: f32,
    /// A punycode (`xn--`) label.
    pub punycode: f32,
    /// A registrable domain that imitates a protected brand.
    pub lookalike: f32,
}

impl Default for UrlScores {
    fn default() -> UrlScores {
        UrlScores {
            blocked: 1.0,
            shortener: 0.25,
            ip: 0.4,
            punycode: 0.3,
            lookalike: 0.8,
        }
    }
}

/// Scores of the sender-ID signals (`[sender.scores]`); rule ids
/// `sender.brand` and `sender.invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SenderScores {
    /// An alphanumeric sender that reads as a protected brand.
    pub brand: f32,
    /// A source address not valid for its TON/NPI.
    pub invalid: f32,
}

impl Default for SenderScores {
    fn default() -> SenderScores {
        SenderScores {
            brand: 0.6,
            invalid: 0.2,
        }
    }
}

/// The URL and sender lists a rules file names, read from their plain-text
/// files (one entry a line, `#` starts a comment).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lists {
    /// Blocked domains.
    pub block_domains: Vec<String>,
    /// Allowed domains (never flagged).
    pub allow_domains: Vec<String>,
    /// Link shorteners; `None`: the built-in list.
    pub shorteners: Option<Vec<String>>,
    /// Brands whose look-alike domains are flagged.
    pub url_brands: Vec<String>,
    /// Brands an alphanumeric sender may not imitate.
    pub sender_brands: Vec<String>,
    /// URL signal scores.
    pub url_scores: UrlScores,
    /// Sender signal scores.
    pub sender_scores: SenderScores,
}

/// Reads a plain-text list: one entry a line, blank lines and `#` comments
/// skipped, entries trimmed.
pub fn read_list(path: &Path) -> Result<Vec<String>, RulesError> {
    let src = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(parse_list(&src))
}

fn parse_list(src: &str) -> Vec<String> {
    src.lines()
        .map(|l| l.split_once('#').map_or(l, |(a, _)| a).trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegexRule {
    id: String,
    score: f32,
    pattern: String,
}

/// Most regex rules in one file.
pub const MAX_REGEXES: usize = 1_000;
/// Most phrases over all keyword rules.
pub const MAX_PHRASES: usize = 200_000;
/// `conf/filter/rules.toml`, built in.
const BUILTIN_RULES: &str = include_str!("../../conf/filter/rules.toml");
/// The lists it names, built in.
const BUILTIN_LISTS: &[(&str, &str)] = &[
    (
        "lists/brands.txt",
        include_str!("../../conf/filter/lists/brands.txt"),
    ),
    (
        "lists/allow-domains.txt",
        include_str!("../../conf/filter/lists/allow-domains.txt"),
    ),
    (
        "lists/block-domains.txt",
        include_str!("../../conf/filter/lists/block-domains.txt"),
    ),
    (
        "lists/smish-account.txt",
        include_str!("../../conf/filter/lists/smish-account.txt"),
    ),
    (
        "lists/smish-delivery.txt",
        include_str!("../../conf/filter/lists/smish-delivery.txt"),
    ),
];

/// Rule id prefixes the filter's built-in signals use.
const RESERVED_PREFIXES: [&str; 3] = ["url.", "sender.", "velocity."];
/// Up to this many phrases the keyword automaton is a DFA.
const DFA_MAX_PHRASES: usize = 500;
/// Compiled size cap of the regex set.
const REGEX_SIZE_LIMIT: usize = 32 << 20;

/// The compiled rules.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// Keyword rules by index: id and score.
    keyword_rules: Vec<(Arc<str>, f32)>,
    /// Per phrase (pattern index), the keyword rule it belongs to.
    phrase_rule: Vec<u32>,
    phrases: Option<AhoCorasick>,
    regex_rules: Vec<(Arc<str>, f32)>,
    regexes: Option<RegexSet>,
    /// The URL and sender lists and scores the file names.
    pub lists: Lists,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

impl RuleSet {
    /// Reads and compiles a rules file.
    pub fn load(path: &Path) -> Result<RuleSet, RulesError> {
        let src = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
            path: path.display().to_string(),
            source,
        })?;
        RuleSet::from_toml_in(&src, path.parent())
    }

    /// Compiles rules from TOML text that names no list files.
    pub fn from_toml(src: &str) -> Result<RuleSet, RulesError> {
        RuleSet::from_toml_in(src, None)
    }

    /// Compiles rules from TOML text; list files named in it are read
    /// relative to `base` (absolute paths as they are).
    pub fn from_toml_in(src: &str, base: Option<&Path>) -> Result<RuleSet, RulesError> {
        RuleSet::from_toml_with(src, &|name: &str| {
            let p = Path::new(name);
            let path = if p.is_absolute() {
                p.to_path_buf()
            } else {
                match base {
                    Some(b) => b.join(p),
                    None => {
                        return Err(RulesError::Parse(format!(
                            "list file {name:?} is relative, but the rules have no file to be relative to"
                        )))
                    }
                }
            };
            read_list(&path)
        })
    }

    /// The rules built into the binary: `conf/filter/rules.toml` and the
    /// lists under `conf/filter/lists/`.
    pub fn builtin() -> Result<RuleSet, RulesError> {
        RuleSet::from_toml_with(BUILTIN_RULES, &|name: &str| {
            BUILTIN_LISTS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, src)| parse_list(src))
                .ok_or_else(|| RulesError::Parse(format!("no built-in list {name:?}")))
        })
    }

    /// Compiles rules from TOML text; `list` reads a named list file.
    pub fn from_toml_with(
        src: &str,
        list_file: &dyn Fn(&str) -> Result<Vec<String>, RulesError>,
    ) -> Result<RuleSet, RulesError> {
        let file: File = toml::from_str(src).map_err(|e| RulesError::Parse(e.to_string()))?;
        let list = |name: &Option<String>| -> Result<Option<Vec<String>>, RulesError> {
            name.as_deref().map(list_file).transpose()
        };
        let lists = Lists {
            block_domains: list(&file.urls.block)?.unwrap_or_default(),
            allow_domains: list(&file.urls.allow)?.unwrap_or_default(),
            shorteners: list(&file.urls.shorteners)?,
            url_brands: list(&file.urls.brands)?.unwrap_or_default(),
            sender_brands: list(&file.sender.brands)?.unwrap_or_default(),
            url_scores: file.urls.scores,
            sender_scores: file.sender.scores,
        };
        let mut ids = HashSet::new();
        let check = |kind: &'static str, index: usize, id: &str, score: f32| {
            let err = |message: &str| RulesError::Rule {
                kind,
                index,
                id: id.to_owned(),
                message: message.to_owned(),
            };
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(err("id must be printable ASCII without spaces"));
            }
            if RESERVED_PREFIXES.iter().any(|p| id.starts_with(p)) || id == "classifier" {
                return Err(err(
                    "ids `classifier`, `url.*`, `sender.*` and `velocity.*` are the filter's own",
                ));
            }
            if !score.is_finite() || !(-10.0..=10.0).contains(&score) {
                return Err(err("score must be a number from -10 to 10"));
            }
            Ok(())
        };

        let mut keyword_rules = Vec::with_capacity(file.keywords.len());
        let mut patterns: Vec<String> = Vec::new();
        let mut phrase_rule = Vec::new();
        for (i, r) in file.keywords.iter().enumerate() {
            check("keyword", i, &r.id, r.score)?;
            if !ids.insert(r.id.clone()) {
                return Err(RulesError::Rule {
                    kind: "keyword",
                    index: i,
                    id: r.id.clone(),
                    message: "id used twice".into(),
                });
            }
            let mut phrases = r.phrases.clone();
            if let Some(f) = &r.file {
                let listed = list_file(f).map_err(|e| RulesError::Rule {
                    kind: "keyword",
                    index: i,
                    id: r.id.clone(),
                    message: e.to_string(),
                })?;
                phrases.extend(listed);
            }
            if phrases.is_empty() {
                return Err(RulesError::Rule {
                    kind: "keyword",
                    index: i,
                    id: r.id.clone(),
                    message: "no phrases".into(),
                });
            }
            for p in &phrases {
                let folded = normalize(p).folded;
                if folded.is_empty() {
                    return Err(RulesError::Rule {
                        kind: "keyword",
                        index: i,
                        id: r.id.clone(),
                        message: format!("phrase {p:?} is empty once normalised"),
                    });
                }
                patterns.push(folded);
                phrase_rule.push(i as u32);
            }
            keyword_rules.push((Arc::from(r.id.as_str()), r.score));
        }
        if patterns.len() > MAX_PHRASES {
            return Err(RulesError::Build(format!(
                "{} phrases; at most {MAX_PHRASES}",
                patterns.len()
            )));
        }
        let phrases = if patterns.is_empty() {
            None
        } else {
            // A DFA scans several times faster than the NFA the builder
            // picks above 100 patterns; past a few hundred its table
            // (states x byte classes) would outgrow the caches.
            let kind = (patterns.len() <= DFA_MAX_PHRASES).then_some(AhoCorasickKind::DFA);
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .kind(kind)
                    .build(&patterns)
                    .map_err(|e| RulesError::Build(format!("keyword automaton: {e}")))?,
            )
        };

        if file.regexes.len() > MAX_REGEXES {
            return Err(RulesError::Build(format!(
                "{} regex rules; at most {MAX_REGEXES}",
                file.regexes.len()
            )));
        }
        let mut regex_rules = Vec::with_capacity(file.regexes.len());
        let mut sources = Vec::with_capacity(file.regexes.len());
        for (i, r) in file.regexes.iter().enumerate() {
            check("regex", i, &r.id, r.score)?;
            if !ids.insert(r.id.clone()) {
                return Err(RulesError::Rule {
                    kind: "regex",
                    index: i,
                    id: r.id.clone(),
                    message: "id used twice".into(),
                });
            }
            // Each alone first, so an error names its rule.
            RegexSetBuilder::new([&r.pattern])
                .unicode(false)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| RulesError::Rule {
                    kind: "regex",
                    index: i,
                    id: r.id.clone(),
                    message: format!("bad pattern: {e}"),
                })?;
            sources.push(r.pattern.clone());
            regex_rules.push((Arc::from(r.id.as_str()), r.score));
        }
        let regexes = if sources.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(&sources)
                    .unicode(false)
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| RulesError::Build(format!("regex set: {e}")))?,
            )
        };
        Ok(RuleSet {
            keyword_rules,
            phrase_rule,
            phrases,
            regex_rules,
            regexes,
            lists,
        })
    }

    /// The id of every keyword and regex rule.
    pub fn ids(&self) -> impl Iterator<Item = &Arc<str>> {
        self.keyword_rules
            .iter()
            .chain(&self.regex_rules)
            .map(|(id, _)| id)
    }

    /// Rules in the set.
    pub fn len(&self) -> usize {
        self.keyword_rules.len() + self.regex_rules.len()
    }

    /// Whether the set has no rules.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends to `hits` every rule that fires on `text` (each once).
    pub fn scan(&self, text: &Normalized, hits: &mut Vec<Hit>) {
        let start = hits.len();
        // The squeezed view differs only when letters were spaced out.
        let squeezed = (text.squeezed != text.folded).then_some(text.squeezed.as_bytes());
        if let Some(ac) = &self.phrases {
            // Rules fired so far: few per message, so a short list beats a
            // flag per rule (2,000 rules would mean 2 KB to clear per
            // message).
            let mut fired: Vec<u32> = Vec::new();
            for hay in std::iter::once(text.folded.as_bytes()).chain(squeezed) {
                for m in ac.find_overlapping_iter(hay) {
                    let before_ok = m.start() == 0 || !is_word_byte(hay[m.start() - 1]);
                    let after_ok = m.end() == hay.len() || !is_word_byte(hay[m.end()]);
                    if !(before_ok && after_ok) {
                        continue;
                    }
                    let Some(&r) = self.phrase_rule.get(m.pattern().as_usize()) else {
                        continue;
                    };
                    if !fired.contains(&r) {
                        fired.push(r);
                        let (id, score) = &self.keyword_rules[r as usize];
                        hits.push(Hit {
                            rule: id.clone(),
                            score: *score,
                        });
                    }
                }
            }
        }
        if let Some(set) = &self.regexes {
            let mut fired: Vec<usize> = Vec::new();
            for hay in std::iter::once(text.folded.as_bytes()).chain(squeezed) {
                // Most messages match no regex: one quick pass says so.
                if !set.is_match(hay) {
                    continue;
                }
                for i in set.matches(hay).iter() {
                    if fired.contains(&i) {
                        continue;
                    }
                    fired.push(i);
                    let (id, score) = &self.regex_rules[i];
                    hits.push(Hit {
                        rule: id.clone(),
                        score: *score,
                    });
                }
            }
        }
        debug_assert!(hits.len() >= start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
[[keyword]]
id = "prize"
score = 0.4
phrases = ["claim your prize", "you have won"]

[[keyword]]
id = "brand.paypal"
score = 0.2
phrases = ["paypal"]

[[keyword]]
id = "kill"
score = 0.1
phrases = ["kill"]

[[keyword]]
id = "click"
score = 0.3
phrases = ["click here"]

[[regex]]
id = "fee"
score = 0.5
pattern = '\b(pay|send)\b.{0,20}\b(fee|deposit)\b'
"#;

    fn ids(rules: &RuleSet, text: &str) -> Vec<String> {
        let mut hits = Vec::new();
        rules.scan(&normalize(text), &mut hits);
        let mut v: Vec<String> = hits.iter().map(|h| h.rule.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn phrases_fire_once_on_word_boundaries() {
        let r = RuleSet::from_toml(RULES).unwrap();
        assert_eq!(r.len(), 5);
        assert_eq!(ids(&r, "You have WON! Claim your prize now"), ["prize"]);
        assert_eq!(ids(&r, "Great skills, no killer"), Vec::<String>::new());
        assert_eq!(ids(&r, "I will kill it"), ["kill"]);
        assert!(ids(&r, "Lunch at 1?").is_empty());
    }

    #[test]
    fn evasions_are_folded_before_matching() {
        let r = RuleSet::from_toml(RULES).unwrap();
        // Cyrillic а, zero-width space, fullwidth, leetspeak, spacing.
        assert_eq!(ids(&r, "Your Pаy\u{200B}Pаl account"), ["brand.paypal"]);
        assert_eq!(ids(&r, "ＰＡＹＰＡＬ"), ["brand.paypal"]);
        assert_eq!(ids(&r, "p@ypal alert"), ["brand.paypal"]);
        assert_eq!(ids(&r, "c l i c k  h e r e"), ["click"]);
        assert_eq!(ids(&r, "c.l.i.c.k here"), ["click"]);
    }

    #[test]
    fn regexes_run_as_one_set() {
        let r = RuleSet::from_toml(RULES).unwrap();
        assert_eq!(ids(&r, "Just PAY the small fee today"), ["fee"]);
        assert!(ids(&r, "Payday fees apply").is_empty());
    }

    #[test]
    fn errors_name_the_rule() {
        let e = RuleSet::from_toml("[[regex]]\nid = \"r1\"\nscore = 1\npattern = \"(\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("regex[0] (\"r1\"): bad pattern"), "{e}");
        let e = RuleSet::from_toml(
            "[[keyword]]\nid = \"a\"\nscore = 1\nphrases = [\"x\"]\n[[regex]]\nid = \"a\"\nscore = 1\npattern = \"y\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("id used twice"), "{e}");
        let e = RuleSet::from_toml("[[keyword]]\nid = \"a\"\nscore = 99\nphrases = [\"x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("score"), "{e}");
        let e =
            RuleSet::from_toml("[[keyword]]\nid = \"a\"\nscore = 1\nphrases = [\"\u{200B}\"]\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("empty once normalised"), "{e}");
        assert!(RuleSet::from_toml("[[rule]]\n").is_err());
    }

    #[test]
    fn lists_come_from_plain_text_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("prize.txt"),
            "# prize phrases\nlucky draw winner\n\n  golden ticket  # trailing comment\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("block.txt"), "evil.example\n").unwrap();
        std::fs::write(dir.path().join("brands.txt"), "paypal\nhsbc\n").unwrap();
        let src = r#"
[[keyword]]
id = "prize.list"
score = 0.4
file = "prize.txt"

[urls]
block = "block.txt"
brands = "brands.txt"
scores = { shortener = 0.5 }

[sender]
brands = "brands.txt"
"#;
        std::fs::write(dir.path().join("rules.toml"), src).unwrap();
        let r = RuleSet::load(&dir.path().join("rules.toml")).unwrap();
        assert_eq!(ids(&r, "You are our GOLDEN ticket holder"), ["prize.list"]);
        assert_eq!(ids(&r, "lucky draw winner!"), ["prize.list"]);
        assert_eq!(r.lists.block_domains, ["evil.example"]);
        assert_eq!(r.lists.url_brands, ["paypal", "hsbc"]);
        assert_eq!(r.lists.sender_brands, ["paypal", "hsbc"]);
        assert_eq!(r.lists.shorteners, None);
        assert_eq!(r.lists.url_scores.shortener, 0.5);
        assert_eq!(r.lists.url_scores.blocked, UrlScores::default().blocked);
        // A missing list names its rule; relative lists need a file.
        std::fs::remove_file(dir.path().join("prize.txt")).unwrap();
        let e = RuleSet::load(&dir.path().join("rules.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("keyword[0] (\"prize.list\")") && e.contains("prize.txt"),
            "{e}"
        );
        assert!(RuleSet::from_toml("[urls]\nblock = \"x.txt\"\n").is_err());
    }

    #[test]
    fn built_in_signal_ids_are_reserved() {
        for id in ["classifier", "url.blocked", "sender.x", "velocity.campaign"] {
            let src = format!("[[keyword]]\nid = \"{id}\"\nscore = 1\nphrases = [\"x\"]\n");
            let e = RuleSet::from_toml(&src).unwrap_err().to_string();
            assert!(e.contains("the filter's own"), "{id}: {e}");
        }
    }

    #[test]
    fn two_thousand_keyword_rules_compile_and_match() {
        let mut src = String::new();
        for i in 0..2_000 {
            src.push_str(&format!(
                "[[keyword]]\nid = \"k{i}\"\nscore = 0.1\nphrases = [\"word{i}x\", \"phrase number {i}\"]\n"
            ));
        }
        let r = RuleSet::from_toml(&src).unwrap();
        assert_eq!(r.len(), 2_000);
        assert_eq!(
            ids(&r, "this has word1234x and phrase number 7"),
            ["k1234", "k7"]
        );
        assert!(ids(&r, "").is_empty());
    }

    #[test]
    fn the_shipped_rules_compile() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/filter/rules.toml");
        let r = RuleSet::load(&path).unwrap();
        assert!(r.len() >= 20, "{} rules", r.len());
        let spam = "URGENT! You have won a £1000 prize. Claim your prize now: call 09061701461";
        assert!(!ids(&r, spam).is_empty());
        for ham in [
            "Your verification code is 482913. It expires in 10 minutes.",
            "Your parcel will be delivered tomorrow between 9am and 1pm.",
            "Reminder: dentist appointment on Tue 14 May at 10:30.",
            "HSBC: a payment of £25.00 to ACME LTD was made from your account ending 1234.",
        ] {
            let mut hits = Vec::new();
            r.scan(&normalize(ham), &mut hits);
            let score: f32 = hits.iter().map(|h| h.score).sum();
            assert!(score < 0.5, "{ham:?} scored {score}: {hits:?}");
        }
    }
}
