//! `telegate filter eval`: the whole verdict (rules, URLs, classifier,
//! sender; not velocity, which needs live traffic) over a labelled set,
//! optionally after an evasion trick is applied to every text, as a
//! spammer would.
//!
//! The tricks, each applied to every message:
//!
//! - `homoglyph`: Latin letters swapped for Cyrillic and Greek look-alikes;
//! - `zero-width`: U+200B and U+200D between the letters of every word;
//! - `leet`: `a→4 e→3 i→1 o→0 s→$ t→7` inside words;
//! - `spacing`: every word's letters spaced out (`f r e e`), words apart by
//!   two spaces;
//! - `ucs2`: the text sent as UCS-2 (`data_coding` 8) and decoded back as
//!   the gateway does;
//! - `split`: the text cut into three concatenated segments (UDH, 8-bit
//!   reference, GSM 7-bit), reassembled and decoded as the gateway does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use telegate_smpp::pdu::SubmitSm;

use super::engine::{message_text, AccountPolicy, Action, Engine, Message};
use super::reassembly::{concat_info, Offer, Reassembler, SetKey};

/// An evasion trick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trick {
    /// Look-alike letters.
    Homoglyph,
    /// Invisible characters inside words.
    ZeroWidth,
    /// Digits and symbols for letters.
    Leet,
    /// Spaced-out letters.
    Spacing,
    /// UCS-2 encoding.
    Ucs2,
    /// Three concatenated segments.
    Split,
}

impl Trick {
    /// Every trick.
    pub const ALL: [Trick; 6] = [
        Trick::Homoglyph,
        Trick::ZeroWidth,
        Trick::Leet,
        Trick::Spacing,
        Trick::Ucs2,
        Trick::Split,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Trick::Homoglyph => "homoglyph",
            Trick::ZeroWidth => "zero-width",
            Trick::Leet => "leet",
            Trick::Spacing => "spacing",
            Trick::Ucs2 => "ucs2",
            Trick::Split => "split",
        }
    }

    /// The trick of a name.
    pub fn parse(s: &str) -> Option<Trick> {
        Trick::ALL.into_iter().find(|t| t.name() == s)
    }
}

fn homoglyph(c: char) -> char {
    match c {
        'a' => 'а',
        'e' => 'е',
        'o' => 'о',
        'p' => 'р',
        'c' => 'с',
        'x' => 'х',
        'y' => 'у',
        'i' => 'і',
        'A' => 'Α',
        'B' => 'В',
        'E' => 'Ε',
        'H' => 'Η',
        'K' => 'Κ',
        'M' => 'М',
        'O' => 'Ο',
        'P' => 'Р',
        'T' => 'Τ',
        'X' => 'Χ',
        _ => c,
    }
}

fn leet(c: char) -> char {
    match c.to_ascii_lowercase() {
        'a' => '4',
        'e' => '3',
        'i' => '1',
        'o' => '0',
        's' => '$',
        't' => '7',
        _ => c,
    }
}

/// Applies `trick` to `text` as a spammer would. `Ucs2` and `Split` give
/// the text back unchanged: their work is in the encoding ([`judge`]).
pub fn apply(trick: Trick, text: &str) -> String {
    match trick {
        Trick::Homoglyph => text.chars().map(homoglyph).collect(),
        Trick::ZeroWidth => {
            let mut out = String::with_capacity(text.len() * 2);
            let mut prev_alpha = false;
            for (i, c) in text.chars().enumerate() {
                if prev_alpha && c.is_alphabetic() {
                    out.push(if i % 2 == 0 { '\u{200B}' } else { '\u{200D}' });
                }
                out.push(c);
                prev_alpha = c.is_alphabetic();
            }
            out
        }
        Trick::Leet => text
            .split(' ')
            .map(|w| {
                // Inside words only: first and last letters stay.
                let chars: Vec<char> = w.chars().collect();
                if chars.len() < 3 {
                    return w.to_owned();
                }
                let n = chars.len();
                chars
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| if i == 0 || i == n - 1 { c } else { leet(c) })
                    .collect()
            })
            .collect::<Vec<String>>()
            .join(" "),
        Trick::Spacing => text
            .split_whitespace()
            .map(|w| w.chars().map(String::from).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("  "),
        Trick::Ucs2 | Trick::Split => text.to_owned(),
    }
}

/// The text the gateway's filter would see for `text` sent with `trick`:
/// through UCS-2, or cut into three UDH segments and reassembled.
pub fn through_the_wire(trick: Option<Trick>, text: &str) -> String {
    match trick {
        Some(Trick::Ucs2) => {
            let b: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
            message_text(8, 0, &b, None).unwrap_or_default()
        }
        Some(Trick::Split) => {
            let chars: Vec<char> = text.chars().collect();
            let n = chars.len().div_ceil(3).max(1);
            let mut r: Reassembler<SubmitSm> = Reassembler::new(Duration::from_secs(5), 4, 1 << 20);
            let now = Instant::now();
            let pieces: Vec<String> = chars.chunks(n).map(|c| c.iter().collect()).collect();
            let total = pieces.len().max(1) as u8;
            let mut whole = None;
            // Out of order, as networks deliver them.
            let mut order: Vec<usize> = (0..pieces.len()).collect();
            order.reverse();
            for i in order {
                let mut sm_bytes = vec![5, 0, 3, 0x2A, total, i as u8 + 1];
                // UCS-2 keeps every character; the test is the split.
                sm_bytes.extend(pieces[i].encode_utf16().flat_map(u16::to_be_bytes));
                let sm = SubmitSm {
                    esm_class: 0x40,
                    data_coding: 8,
                    short_message: Bytes::from(sm_bytes),
                    ..SubmitSm::default()
                };
                let Some((reference, total, seq)) = concat_info(&sm) else {
                    continue;
                };
                let key = SetKey {
                    account: 0,
                    source: Box::new([]),
                    dest: Box::new([]),
                    reference,
                    total,
                };
                if let Offer::Complete(parts) = r.offer(key, seq, sm.short_message.len(), sm, now) {
                    whole = Some(parts);
                }
            }
            whole
                .unwrap_or_default()
                .iter()
                .filter_map(|sm| {
                    message_text(sm.data_coding, sm.esm_class, &sm.short_message, None)
                })
                .collect()
        }
        _ => text.to_owned(),
    }
}

/// What [`evaluate`] measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Spam blocked.
    pub spam_blocked: usize,
    /// Spam flagged (forwarded).
    pub spam_flagged: usize,
    /// Spam allowed.
    pub spam_allowed: usize,
    /// Ham blocked.
    pub ham_blocked: usize,
    /// Ham flagged.
    pub ham_flagged: usize,
    /// Ham allowed.
    pub ham_allowed: usize,
    /// Per rule: hits on spam, hits on ham, in blocked messages.
    pub rules: HashMap<String, (usize, usize)>,
    /// Time spent judging.
    pub elapsed: Duration,
    /// Every verdict, in the order of the examples (no text).
    pub judged: Vec<Judged>,
}

/// One example's verdict, for `telegate filter eval --dump` (no text).
#[derive(Debug, Clone)]
pub struct Judged {
    /// The example's line in its set (0-based, in file order).
    pub index: usize,
    /// Its label.
    pub spam: bool,
    /// The verdict.
    pub action: Action,
    /// The summed score.
    pub score: f32,
    /// The classifier's probability of spam (`None`: no model).
    pub model: Option<f32>,
    /// The signals that fired, with their scores.
    pub hits: Vec<(String, f32)>,
}

impl std::fmt::Display for Judged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\t{}\t{}\t{:.3}\t",
            self.index,
            if self.spam { "spam" } else { "ham" },
            self.action.as_str(),
            self.score
        )?;
        match self.model {
            Some(p) => write!(f, "{p:.5}\t")?,
            None => write!(f, "-\t")?,
        }
        for (i, (rule, score)) in self.hits.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            write!(f, "{sep}{rule}={score:.2}")?;
        }
        Ok(())
    }
}

impl Report {
    /// Spam messages.
    pub fn spam(&self) -> usize {
        self.spam_blocked + self.spam_flagged + self.spam_allowed
    }

    /// Ham messages.
    pub fn ham(&self) -> usize {
        self.ham_blocked + self.ham_flagged + self.ham_allowed
    }

    /// Share of spam blocked (0 when there is none).
    pub fn recall(&self) -> f64 {
        self.spam_blocked as f64 / self.spam().max(1) as f64
    }

    /// Share of ham blocked.
    pub fn ham_blocked_rate(&self) -> f64 {
        self.ham_blocked as f64 / self.ham().max(1) as f64
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "            blocked  flagged  allowed")?;
        if self.spam() > 0 {
            writeln!(
                f,
                "spam {:>6}  {:>7}  {:>7}  {:>7}",
                self.spam(),
                self.spam_blocked,
                self.spam_flagged,
                self.spam_allowed
            )?;
        }
        if self.ham() > 0 {
            writeln!(
                f,
                "ham  {:>6}  {:>7}  {:>7}  {:>7}",
                self.ham(),
                self.ham_blocked,
                self.ham_flagged,
                self.ham_allowed
            )?;
        }
        if self.spam() > 0 {
            writeln!(
                f,
                "spam recall (blocked): {:.2} % ({} of {})",
                self.recall() * 100.0,
                self.spam_blocked,
                self.spam()
            )?;
        }
        if self.ham() > 0 {
            writeln!(
                f,
                "ham blocked: {:.2} % ({} of {})",
                self.ham_blocked_rate() * 100.0,
                self.ham_blocked,
                self.ham()
            )?;
        }
        let mut rules: Vec<_> = self.rules.iter().collect();
        rules.sort_by(|a, b| (b.1 .0 + b.1 .1).cmp(&(a.1 .0 + a.1 .1)).then(a.0.cmp(b.0)));
        writeln!(f, "top rules in blocked messages (spam / ham):")?;
        for (rule, (s, h)) in rules.iter().take(15) {
            writeln!(f, "  {rule:<24} {s:>6} / {h}")?;
        }
        Ok(())
    }
}

/// Judges every example (after `trick`) with `engine`, without velocity.
pub fn evaluate(engine: &Engine, examples: &[(bool, String)], trick: Option<Trick>) -> Report {
    let mut report = Report::default();
    let policy = AccountPolicy::default();
    for (index, (spam, text)) in examples.iter().enumerate() {
        let sent = match trick {
            Some(t) => apply(t, text),
            None => text.clone(),
        };
        let seen = through_the_wire(trick, &sent);
        // Only the verdict is timed (not the tricks, nor the model's
        // score for the dump, which normalises again).
        let started = Instant::now();
        let v = engine.judge(
            &Message {
                text: Some(&seen),
                source: (1, 1, b"447700900000"),
                recipients: &[b"447700900001"],
            },
            &policy,
            None,
            started,
        );
        report.elapsed += started.elapsed();
        match (spam, v.action) {
            (true, Action::Block) => report.spam_blocked += 1,
            (true, Action::Flag) => report.spam_flagged += 1,
            (true, Action::Allow) => report.spam_allowed += 1,
            (false, Action::Block) => report.ham_blocked += 1,
            (false, Action::Flag) => report.ham_flagged += 1,
            (false, Action::Allow) => report.ham_allowed += 1,
        }
        if v.action == Action::Block {
            for h in &v.hits {
                let e = report.rules.entry(h.rule.to_string()).or_default();
                if *spam {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
            }
        }
        report.judged.push(Judged {
            index,
            spam: *spam,
            action: v.action,
            score: v.score,
            model: engine.model_score(&seen),
            hits: v
                .hits
                .iter()
                .map(|h| (h.rule.to_string(), h.score))
                .collect(),
        });
    }

    report
}

/// Cross-validates the whole filter on a labelled set: in each of `folds`
/// folds a classifier is trained on the rest (its threshold chosen by its
/// own cross-validation, as `telegate filter train` does) and the filter
/// (`engine`'s rules and thresholds with that model) judges the fold. The
/// folds' reports are summed. For choosing thresholds on training data
/// without touching held-out sets.
pub fn cross_validate(engine: Engine, examples: &[(bool, String)], folds: usize) -> Report {
    use super::classifier::{train_with_cv, TrainOptions};
    let folds = folds.max(2);
    let mut total = Report::default();
    let mut engine = Some(engine);
    for k in 0..folds {
        let train: Vec<(bool, &str)> = examples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != k)
            .map(|(_, (s, t))| (*s, t.as_str()))
            .collect();
        let test: Vec<(bool, String)> = examples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds == k)
            .map(|(_, e)| e.clone())
            .collect();
        let (model, _) = train_with_cv(&train, &TrainOptions::default());
        let Some(e) = engine.take() else {
            break;
        };
        let e = e.with_model(model);
        let r = evaluate(&e, &test, None);
        engine = Some(e);
        total.spam_blocked += r.spam_blocked;
        total.spam_flagged += r.spam_flagged;
        total.spam_allowed += r.spam_allowed;
        total.ham_blocked += r.ham_blocked;
        total.ham_flagged += r.ham_flagged;
        total.ham_allowed += r.ham_allowed;
        total.elapsed += r.elapsed;
        for (rule, (s, h)) in r.rules {
            let e = total.rules.entry(rule).or_default();
            e.0 += s;
            e.1 += h;
        }
        // The fold's j-th example is the set's (k + j × folds)-th.
        total.judged.extend(r.judged.into_iter().map(|mut j| {
            j.index = k + j.index * folds;
            j
        }));
    }
    total.judged.sort_by_key(|j| j.index);
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::normalize::normalize;

    const SPAM: &str =
        "URGENT! You have won a 1000 cash prize. Claim your prize now at www.example.com";

    #[test]
    fn every_trick_normalises_back_to_the_clean_text() {
        let clean = normalize(SPAM);
        for t in Trick::ALL {
            let seen = through_the_wire(Some(t), &apply(t, SPAM));
            let n = normalize(&seen);
            match t {
                // Spacing is undone in the squeezed view.
                Trick::Spacing => {
                    for phrase in ["urgent", "you have won", "claim your prize now"] {
                        assert!(n.squeezed.contains(phrase), "{t:?}: {:?}", n.squeezed);
                    }
                }
                // Leet folds inside words; digits that stay are numbers.
                Trick::Leet => assert!(n.folded.contains("claim your prize"), "{t:?}: {n:?}"),
                _ => assert_eq!(n.folded, clean.folded, "{t:?}: {seen:?}"),
            }
            if !matches!(t, Trick::Ucs2 | Trick::Split) {
                assert_ne!(apply(t, SPAM), SPAM, "{t:?} changed nothing");
            }
        }
    }

    #[test]
    fn split_goes_through_three_segments() {
        let seen = through_the_wire(Some(Trick::Split), SPAM);
        assert_eq!(seen, SPAM);
        assert_eq!(Trick::parse("zero-width"), Some(Trick::ZeroWidth));
        assert_eq!(Trick::parse("nope"), None);
    }
}
