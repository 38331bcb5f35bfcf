//! A statistical SMS spam classifier: logistic regression over hashed
//! text features.
//!
//! # Features
//!
//! Features are computed on the normalised message
//! ([`Normalized::squeezed`]: NFKC, case-folded, look-alikes and leetspeak
//! folded, spaced-out letters joined), so the model sees `fr33 c4sh` and
//! `ｆｒｅｅ ｃａｓｈ` as `free cash`. One streaming pass over its characters
//! makes a bag of hashed features, with no allocation:
//!
//! - words: maximal runs of alphanumeric characters, as unigrams and
//!   bigrams; in a bigram an all-digit word stands for its number shape;
//! - character 3- and 4-grams inside each word, the word framed by an edge
//!   mark at both ends (so `^wi` and `in$` differ from `win`);
//! - number shapes of all-digit words: the length class (1–2, 3, 4, 5, 6,
//!   7–9, 10, 11, 12+ digits), the leading digit (two for 10 digits or
//!   more: `07…`, `09…`) and whether a currency symbol came just before
//!   (`£1000`); and for words mixing digits and letters, the word with each
//!   digit run as one `#` (`150p` → `#p`, `txt80488` → `txt#`);
//! - each punctuation or symbol character (not the space);
//! - coarse features: a URL-like token (`http://`, `www.`, `name.tld`), a
//!   word of at least 5 digits, a currency symbol, and the length in
//!   characters in five buckets.
//!
//! Hashing: every feature kind starts from its own 64-bit seed and absorbs
//! 64-bit values with `h = (rotl(h, 5) ^ v) * 0x517cc1b727220a95`: a word
//! absorbs its characters' code points, a bigram the two words' hashes, an
//! n-gram its code points newest first. A hash `h` goes to bucket
//! `((h ^ h >> 29) * 0xbf58476d1ce4e5b9) >> (64 - bits)` of `2^bits`
//! (2^16 by default). The seeds and constants are in the source;
//! [`FEATURE_SET`] names this recipe in the model file: a change to it must
//! bump the number, since old weights would be meaningless.
//!
//! # Model
//!
//! `P(spam) = sigmoid(bias + Σ w[bucket] / √n)` over the message's `n`
//! features (counted with repetition), trained by plain SGD on the log
//! loss (ham examples weighted by [`TrainOptions::ham_weight`]) with a
//! per-epoch L2 shrink. The weights are stored as `i16` with one `f32`
//! scale, so a 2^16-bucket model is 128 KiB (it stays in L2 cache while
//! scoring), and the model in
//! memory is exactly the model on disk: a save→load round trip scores
//! identically.
//!
//! The decision threshold is chosen at training time from cross-validated
//! scores of the training data alone, as the lowest threshold that blocks at
//! most [`TrainOptions::max_ham_blocked`] of the ham, and stored in the file.

use std::fmt;
use std::io::{self, Read, Write};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// The file's first eight bytes.
pub const MAGIC: [u8; 8] = *b"TGSPAMLR";
/// The file layout version this code reads and writes.
pub const VERSION: u16 = 2;
/// The feature recipe (see the module docs) the weights belong to.
pub const FEATURE_SET: u16 = 2;
/// Default number of hash buckets, as a power of two.
pub const DEFAULT_BUCKET_BITS: u8 = 16;
/// The largest bucket count a file may declare (2^24 = 32 MiB of weights).
const MAX_BUCKET_BITS: u8 = 24;
/// magic, version, feature set, bucket bits + 3 reserved, bias, scale,
/// threshold.
const HEADER_LEN: usize = 8 + 2 + 2 + 4 + 4 + 4 + 4;

use crate::filter::normalize::{normalize, Normalized};

/// Odd 64-bit constants: the mixing multiplier and the seed of each
/// feature kind.
const K_MIX: u64 = 0x517c_c1b7_2722_0a95;
const SEED_WORD: u64 = 0x243f_6a88_85a3_08d3;
const SEED_BIGRAM: u64 = 0x1319_8a2e_0370_7344;
const SEED_CHAR: u64 = 0xa409_3822_299f_31d0;
const SEED_SHAPE: u64 = 0x082e_fa98_ec4e_6c89;
const SEED_PUNCT: u64 = 0x4528_21e6_38d0_1377;
const SEED_MASKED: u64 = 0x3f84_d5b5_b547_0917;
const SEED_COARSE: u64 = 0xbe54_66cf_34e9_0c6c;
/// Marks the start and the end of a word in its character n-grams.
const EDGE: u32 = 0x02;
/// Character n-gram lengths inside words.
const NGRAM_MIN: usize = 3;
const NGRAM_MAX: usize = 4;

/// One step of the feature hash: `(rotl(h, 5) ^ v) * K_MIX`.
#[inline]
fn mix(h: u64, v: u64) -> u64 {
    (h.rotate_left(5) ^ v).wrapping_mul(K_MIX)
}

/// The bucket of a feature hash among `2^bits`: the top bits after a
/// final xor-shift-multiply.
#[inline]
fn bucket(h: u64, bits: u8) -> usize {
    let h = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (h >> (64 - u32::from(bits))) as usize
}

fn coarse(id: u64) -> u64 {
    mix(SEED_COARSE, id)
}

fn is_currency(c: char) -> bool {
    matches!(c, '£' | '$' | '€' | '¥' | '₹' | '₦' | '₽' | '₩' | '¢')
}

const TLDS: &[&[u8]] = &[
    b"com", b"net", b"org", b"info", b"biz", b"co", b"uk", b"us", b"ly", b"me", b"io", b"tk",
    b"ru", b"cn", b"in", b"de", b"xyz", b"site", b"online", b"top", b"club", b"link", b"app",
    b"mobi", b"ws", b"cc", b"gl", b"to",
];

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// `http://…`, `www.…`, or `name.tld` / `name.tld/…` for a common TLD.
fn is_url_like(tok: &str) -> bool {
    let b = tok.as_bytes();
    if contains_ci(b, b"http://") || contains_ci(b, b"https://") || contains_ci(b, b"www.") {
        return true;
    }
    for (i, &ch) in b.iter().enumerate() {
        if ch != b'.' || i == 0 || !b[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &b[i + 1..];
        let n = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        if !(2..=6).contains(&n) || !matches!(rest.get(n), None | Some(b'/')) {
            continue;
        }
        if TLDS.iter().any(|t| t.eq_ignore_ascii_case(&rest[..n])) {
            return true;
        }
    }
    false
}

/// The shape of an all-digit word: its length class, its leading digit
/// (two for 10 digits or more: `07`, `08`, `09`, `44`) and whether a
/// currency symbol came just before it.
fn number_shape(len: u32, first: u32, first2: u32, money: bool) -> u64 {
    let class: u64 = match len {
        0..=2 => 1,
        3 => 2,
        4 => 3,
        5 => 4,
        6 => 5,
        7..=9 => 6,
        10 => 7,
        11 => 8,
        _ => 9,
    };
    let lead = if len >= 10 {
        u64::from(first) * 16 + u64::from(first2)
    } else {
        u64::from(first)
    };
    mix(SEED_SHAPE, class << 16 | lead << 1 | u64::from(money))
}

/// The state of the word being read.
struct Word {
    hash: u64,
    /// The last `NGRAM_MAX` symbols (code points or [`EDGE`]), newest
    /// first.
    recent: [u32; NGRAM_MAX],
    /// Symbols pushed, the start edge included.
    symbols: usize,
    /// The word with every digit run as one `#`, hashed.
    masked: u64,
    len: u32,
    digits: u32,
    first: u32,
    first2: u32,
}

impl Word {
    fn new() -> Word {
        Word {
            hash: SEED_WORD,
            masked: SEED_MASKED,
            recent: [EDGE; NGRAM_MAX],
            symbols: 1,
            len: 0,
            digits: 0,
            first: 0,
            first2: 0,
        }
    }

    /// Pushes one symbol and emits the character n-grams that end on it:
    /// the 3-gram, then the 4-gram, each hashed newest symbol first.
    #[inline]
    fn push_symbol(&mut self, s: u32, emit: &mut impl FnMut(u64)) {
        let [a, b, c, _] = self.recent;
        self.recent = [s, a, b, c];
        self.symbols += 1;
        if self.symbols >= NGRAM_MIN {
            let h3 = mix(
                mix(mix(SEED_CHAR, u64::from(s)), u64::from(a)),
                u64::from(b),
            );
            emit(h3);
            if self.symbols >= NGRAM_MAX {
                emit(mix(h3, u64::from(c)));
            }
        }
    }

    /// Ends the word: its closing n-grams, the word (or its number shape)
    /// and the masked form, and the bigram with `prev`. Returns the unit
    /// the next bigram starts from, and resets the word.
    #[inline]
    fn end(&mut self, money: bool, prev: Option<u64>, emit: &mut impl FnMut(u64)) -> u64 {
        self.push_symbol(EDGE, emit);
        emit(self.hash);
        let unit = if self.digits == self.len {
            let shape = number_shape(self.len, self.first, self.first2, money);
            emit(shape);
            shape
        } else {
            if self.digits > 0 {
                emit(self.masked);
            }
            self.hash
        };
        if let Some(p) = prev {
            emit(mix(mix(SEED_BIGRAM, p), unit));
        }
        *self = Word::new();
        unit
    }
}

/// Calls `emit` with the 64-bit hash of every feature of a normalised text
/// (see the module docs). Allocates nothing.
fn for_each_feature(text: &str, mut emit: impl FnMut(u64)) {
    let mut word = Word::new();
    let mut in_word = false;
    let mut in_digits = false;
    let mut prev_word: Option<u64> = None;
    let mut money = false;
    let mut chars = 0u32;
    let mut currency = false;
    let mut long_digits = false;

    for c in text.chars() {
        chars += 1;
        if c.is_alphanumeric() {
            let v = u32::from(c);
            if c.is_ascii_digit() {
                if word.len == 0 || !in_digits {
                    word.masked = mix(word.masked, u64::from(b'#'));
                }
                in_digits = true;
                let d = v - u32::from('0');
                if word.len == 0 {
                    word.first = d;
                } else if word.len == 1 {
                    word.first2 = d;
                }
                word.digits += 1;
            } else {
                word.masked = mix(word.masked, u64::from(v));
                in_digits = false;
            }
            word.len += 1;
            word.hash = mix(word.hash, u64::from(v));
            word.push_symbol(v, &mut emit);
            in_word = true;
            continue;
        }
        if in_word {
            long_digits |= word.digits >= 5;
            prev_word = Some(word.end(money, prev_word, &mut emit));
            in_word = false;
        }
        money = is_currency(c);
        currency |= money;
        if c != ' ' {
            emit(mix(SEED_PUNCT, u64::from(u32::from(c))));
        }
    }
    if in_word {
        long_digits |= word.digits >= 5;
        word.end(money, prev_word, &mut emit);
    }

    // Only a token with a dot can be URL-like: most texts skip the split.
    if text.as_bytes().contains(&b'.') && text.split(' ').any(|t| t.contains('.') && is_url_like(t))
    {
        emit(coarse(1));
    }
    if long_digits {
        emit(coarse(2));
    }
    if currency {
        emit(coarse(3));
    }
    emit(coarse(
        10 + match chars {
            0..=39 => 0,
            40..=79 => 1,
            80..=119 => 2,
            120..=159 => 3,
            _ => 4,
        },
    ));
}

#[inline]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Why a model file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The reader failed.
    #[error("cannot read the model: {0}")]
    Io(#[from] io::Error),
    /// The file ends before its declared size.
    #[error("model file truncated: {got} bytes, {want} expected")]
    Truncated {
        /// Bytes read.
        got: usize,
        /// Bytes the header declares.
        want: usize,
    },
    /// Not a Telegate spam model.
    #[error("not a telegate spam model (bad magic)")]
    BadMagic,
    /// A file layout this build cannot read.
    #[error("unsupported model file version {0} (this build reads {VERSION})")]
    UnsupportedVersion(u16),
    /// Weights for another feature recipe.
    #[error("model was trained on feature set {0}; this build computes feature set {FEATURE_SET}")]
    UnsupportedFeatures(u16),
    /// A bucket count outside 2^1..=2^24.
    #[error("model declares 2^{0} buckets; 2^1 to 2^{MAX_BUCKET_BITS} are accepted")]
    BadDims(u8),
    /// Bytes after the checksum.
    #[error("model file has trailing data after its checksum")]
    TrailingData,
    /// The CRC-32 does not match: the file is corrupt.
    #[error("model file checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the file is corrupt")]
    Checksum {
        /// The CRC-32 in the file.
        stored: u32,
        /// The CRC-32 of the bytes read.
        computed: u32,
    },
    /// A header value out of range.
    #[error("model file has an invalid {0}")]
    BadValue(&'static str),
}

/// Training knobs; the defaults are the ones the shipped model used.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Hash buckets as a power of two.
    pub bucket_bits: u8,
    /// Passes over the data.
    pub epochs: u32,
    /// The SGD step at epoch 0; epoch `e` uses `lr / (1 + e/2)`.
    pub learning_rate: f32,
    /// L2 penalty, applied as a shrink of every weight once per epoch.
    pub l2: f32,
    /// Seed for the shuffles, so training is reproducible.
    pub seed: u64,
    /// Folds for choosing the threshold; below 2, the threshold is 0.5.
    pub cv_folds: usize,
    /// Largest share of ham the chosen threshold may block in the
    /// cross-validated scores.
    pub max_ham_blocked: f64,
    /// Weight of a ham example's loss relative to a spam one's (above 1
    /// pushes ham scores down harder, for a low ham-blocked budget).
    pub ham_weight: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            bucket_bits: DEFAULT_BUCKET_BITS,
            epochs: 40,
            learning_rate: 2.0,
            l2: 0.0,
            seed: 0x7e1e_6a7e,
            cv_folds: 5,
            max_ham_blocked: 0.002,
            ham_weight: 2.0,
        }
    }
}

/// A trained classifier: quantised weights, bias and decision threshold.
#[derive(Clone, PartialEq)]
pub struct Model {
    bucket_bits: u8,
    weights: Box<[i16]>,
    scale: f32,
    bias: f32,
    threshold: f32,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("buckets", &self.weights.len())
            .field("scale", &self.scale)
            .field("bias", &self.bias)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

/// The view of a normalised message the features are computed on.
#[inline]
fn model_text(n: &Normalized) -> &str {
    &n.squeezed
}

/// Every example's feature buckets, computed once for all epochs.
fn featurize(examples: &[(bool, &str)], bits: u8) -> Vec<Vec<u32>> {
    examples
        .iter()
        .map(|(_, text)| {
            let n = normalize(text);
            let mut v = Vec::new();
            for_each_feature(model_text(&n), |h| v.push(bucket(h, bits) as u32));
            v
        })
        .collect()
}

/// SGD on the log loss over `idx` (indices into `feats`/`labels`).
fn fit(feats: &[Vec<u32>], labels: &[bool], idx: &[usize], opts: &TrainOptions) -> (Vec<f32>, f32) {
    let mut w = vec![0f32; 1 << opts.bucket_bits];
    let mut bias = 0f32;
    let mut order = idx.to_vec();
    let mut rng = StdRng::seed_from_u64(opts.seed);
    for epoch in 0..opts.epochs {
        order.shuffle(&mut rng);
        let lr = opts.learning_rate / (1.0 + epoch as f32 / 2.0);
        for &i in &order {
            let f = &feats[i];
            if f.is_empty() {
                continue;
            }
            let x = 1.0 / (f.len() as f32).sqrt();
            let z = bias + x * f.iter().map(|&b| w[b as usize]).sum::<f32>();
            let g = if labels[i] {
                sigmoid(z) - 1.0
            } else {
                opts.ham_weight * sigmoid(z)
            };
            bias -= lr * g;
            let step = lr * g * x;
            for &b in f {
                w[b as usize] -= step;
            }
        }
        let shrink = 1.0 - (lr * opts.l2 * order.len() as f32).min(0.5);
        w.iter_mut().for_each(|v| *v *= shrink);
    }
    (w, bias)
}

fn quantise(bucket_bits: u8, w: &[f32], bias: f32, threshold: f32) -> Model {
    let max = w.iter().fold(0f32, |m, v| m.max(v.abs()));
    let scale = if max > 0.0 {
        max / f32::from(i16::MAX)
    } else {
        1.0
    };
    let weights = w
        .iter()
        .map(|v| (v / scale).round().clamp(-32767.0, 32767.0) as i16)
        .collect();
    Model {
        bucket_bits,
        weights,
        scale,
        bias,
        threshold,
    }
}

/// The lowest threshold at which at most `max_rate` of `ham_scores` score
/// at or above it (0.5 when there is no ham).
pub fn threshold_for_ham_blocked(ham_scores: &[f32], max_rate: f64) -> f32 {
    let mut s: Vec<f32> = ham_scores.iter().copied().filter(|v| !v.is_nan()).collect();
    if s.is_empty() {
        return 0.5;
    }
    s.sort_by(|a, b| b.total_cmp(a));
    let allowed = (max_rate * s.len() as f64).floor() as usize;
    if allowed >= s.len() {
        return 0.0;
    }
    let above = |x: f32| f32::from_bits(x.max(0.0).to_bits() + 1).min(1.0);
    let t = if allowed == 0 {
        above(s[0])
    } else {
        let mid = (s[allowed] + s[allowed - 1]) / 2.0;
        if mid > s[allowed] {
            mid
        } else {
            above(s[allowed])
        }
    };
    t.min(1.0)
}

/// Trains a model on `(is_spam, text)` examples. See [`train_with_cv`].
pub fn train(examples: &[(bool, &str)], opts: &TrainOptions) -> Model {
    train_with_cv(examples, opts).0
}

/// Trains a model and, with `opts.cv_folds >= 2`, picks its threshold from
/// out-of-fold scores of `examples`; returns the confusion of those
/// out-of-fold scores at that threshold too.
pub fn train_with_cv(examples: &[(bool, &str)], opts: &TrainOptions) -> (Model, Option<Confusion>) {
    let bits = opts.bucket_bits.clamp(1, MAX_BUCKET_BITS);
    let opts = TrainOptions {
        bucket_bits: bits,
        ..opts.clone()
    };
    let feats = featurize(examples, bits);
    let labels: Vec<bool> = examples.iter().map(|e| e.0).collect();
    let all: Vec<usize> = (0..examples.len()).collect();

    let mut threshold = 0.5;
    let mut cv = None;
    if opts.cv_folds >= 2 && examples.len() >= opts.cv_folds {
        let mut shuffled = all.clone();
        shuffled.shuffle(&mut StdRng::seed_from_u64(opts.seed ^ 0xf01d));
        let mut oof = vec![0f32; examples.len()];
        for k in 0..opts.cv_folds {
            let in_fold = |pos: usize| pos % opts.cv_folds == k;
            let trainset: Vec<usize> = (0..shuffled.len())
                .filter(|&p| !in_fold(p))
                .map(|p| shuffled[p])
                .collect();
            let (w, b) = fit(&feats, &labels, &trainset, &opts);
            let m = quantise(bits, &w, b, 0.5);
            for p in (0..shuffled.len()).filter(|&p| in_fold(p)) {
                let i = shuffled[p];
                oof[i] = m.score_buckets(&feats[i]);
            }
        }
        let ham: Vec<f32> = (0..examples.len())
            .filter(|&i| !labels[i])
            .map(|i| oof[i])
            .collect();
        threshold = threshold_for_ham_blocked(&ham, opts.max_ham_blocked);
        let mut c = Confusion::default();
        for (i, &s) in oof.iter().enumerate() {
            c.add(labels[i], s >= threshold);
        }
        cv = Some(c);
    }
    let (w, b) = fit(&feats, &labels, &all, &opts);
    (quantise(bits, &w, b, threshold), cv)
}

impl Model {
    /// P(spam) for raw `text`, in 0..=1: [`normalize`] then
    /// [`Model::score_normalized`].
    pub fn score(&self, text: &str) -> f32 {
        self.score_normalized(&normalize(text))
    }

    /// P(spam), in 0..=1, for a message already normalised (the filter
    /// normalises once for every signal). Allocates nothing.
    pub fn score_normalized(&self, text: &Normalized) -> f32 {
        let bits = self.bucket_bits;
        let w = &self.weights[..];
        let mut sum = 0i32;
        let mut n = 0u32;
        for_each_feature(model_text(text), |h| {
            sum = sum.saturating_add(i32::from(w[bucket(h, bits) & (w.len() - 1)]));
            n = n.saturating_add(1);
        });
        if n == 0 {
            return sigmoid(self.bias);
        }
        sigmoid(self.bias + self.scale * sum as f32 / (n as f32).sqrt())
    }

    /// P(spam) from a message's feature buckets.
    fn score_buckets(&self, buckets: &[u32]) -> f32 {
        let sum: i64 = buckets
            .iter()
            .map(|&b| i64::from(self.weights[b as usize]))
            .sum();
        if buckets.is_empty() {
            return sigmoid(self.bias);
        }
        sigmoid(self.bias + self.scale * sum as f32 / (buckets.len() as f32).sqrt())
    }

    /// Whether `text` scores at or above the model's threshold.
    pub fn is_spam(&self, text: &str) -> bool {
        self.score(text) >= self.threshold
    }

    /// The decision threshold stored with the model.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Replaces the stored decision threshold (clamped to 0..=1).
    pub fn set_threshold(&mut self, t: f32) {
        self.threshold = if t.is_nan() { 0.5 } else { t.clamp(0.0, 1.0) };
    }

    /// Number of hash buckets.
    pub fn buckets(&self) -> usize {
        self.weights.len()
    }

    /// The file image: header, little-endian `i16` weights, then the
    /// CRC-32 (IEEE) of everything before it.
    ///
    /// ```text
    /// 0   8  magic "TGSPAMLR"
    /// 8   2  version (2)          10  2  feature set (2)
    /// 12  1  bucket bits          13  3  reserved, zero
    /// 16  4  bias f32             20  4  weight scale f32
    /// 24  4  threshold f32        28  2^bits x i16 weights
    /// end 4  crc32
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.weights.len() * 2 + 4);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&FEATURE_SET.to_le_bytes());
        out.extend_from_slice(&[self.bucket_bits, 0, 0, 0]);
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&self.scale.to_le_bytes());
        out.extend_from_slice(&self.threshold.to_le_bytes());
        for w in self.weights.iter() {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Writes the model file (see [`Model::to_bytes`]).
    pub fn save(&self, mut w: impl Write) -> io::Result<()> {
        w.write_all(&self.to_bytes())?;
        w.flush()
    }

    /// Reads a model file, checking its magic, version, size and checksum.
    pub fn load(r: impl Read) -> Result<Model, ModelError> {
        let cap = HEADER_LEN + (2usize << MAX_BUCKET_BITS) + 4;
        let mut buf = Vec::new();
        r.take(cap as u64 + 1).read_to_end(&mut buf)?;
        Model::from_bytes(&buf)
    }

    /// Parses a model file image; never panics on bad input.
    pub fn from_bytes(b: &[u8]) -> Result<Model, ModelError> {
        let f32_at = |at: usize| f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        if b.len() < 8 || b[..8] != MAGIC {
            if b.len() < 8 && MAGIC.starts_with(b) {
                return Err(ModelError::Truncated {
                    got: b.len(),
                    want: HEADER_LEN,
                });
            }
            return Err(ModelError::BadMagic);
        }
        if b.len() < HEADER_LEN {
            return Err(ModelError::Truncated {
                got: b.len(),
                want: HEADER_LEN,
            });
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        if version != VERSION {
            return Err(ModelError::UnsupportedVersion(version));
        }
        let features = u16::from_le_bytes([b[10], b[11]]);
        if features != FEATURE_SET {
            return Err(ModelError::UnsupportedFeatures(features));
        }
        let bits = b[12];
        if !(1..=MAX_BUCKET_BITS).contains(&bits) {
            return Err(ModelError::BadDims(bits));
        }
        let n = 1usize << bits;
        let want = HEADER_LEN + n * 2 + 4;
        if b.len() < want {
            return Err(ModelError::Truncated { got: b.len(), want });
        }
        if b.len() > want {
            return Err(ModelError::TrailingData);
        }
        let body = &b[..want - 4];
        let stored = u32::from_le_bytes([b[want - 4], b[want - 3], b[want - 2], b[want - 1]]);
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(ModelError::Checksum { stored, computed });
        }
        if b[13..16] != [0, 0, 0] {
            return Err(ModelError::BadValue("reserved header bytes"));
        }
        let (bias, scale, threshold) = (f32_at(16), f32_at(20), f32_at(24));
        if !bias.is_finite() {
            return Err(ModelError::BadValue("bias"));
        }
        if !scale.is_finite() || scale <= 0.0 {
            return Err(ModelError::BadValue("weight scale"));
        }
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ModelError::BadValue("threshold"));
        }
        let weights = body[HEADER_LEN..]
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(Model {
            bucket_bits: bits,
            weights,
            scale,
            bias,
            threshold,
        })
    }
}

/// Counts of decisions against labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Spam scored at or above the threshold.
    pub spam_caught: u64,
    /// Spam scored below it.
    pub spam_missed: u64,
    /// Ham scored at or above it (false positives).
    pub ham_blocked: u64,
    /// Ham scored below it.
    pub ham_passed: u64,
}

impl Confusion {
    /// Records one decision.
    pub fn add(&mut self, is_spam: bool, blocked: bool) {
        match (is_spam, blocked) {
            (true, true) => self.spam_caught += 1,
            (true, false) => self.spam_missed += 1,
            (false, true) => self.ham_blocked += 1,
            (false, false) => self.ham_passed += 1,
        }
    }

    /// Share of spam caught (0 when there is no spam).
    pub fn spam_recall(&self) -> f64 {
        ratio(self.spam_caught, self.spam_caught + self.spam_missed)
    }

    /// Share of ham blocked (0 when there is no ham).
    pub fn ham_blocked_rate(&self) -> f64 {
        ratio(self.ham_blocked, self.ham_blocked + self.ham_passed)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl fmt::Display for Confusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spam = self.spam_caught + self.spam_missed;
        let ham = self.ham_blocked + self.ham_passed;
        writeln!(
            f,
            "spam recall:  {:.2}% ({}/{})",
            100.0 * self.spam_recall(),
            self.spam_caught,
            spam
        )?;
        writeln!(
            f,
            "ham blocked:  {:.2}% ({}/{})",
            100.0 * self.ham_blocked_rate(),
            self.ham_blocked,
            ham
        )?;
        writeln!(f, "              blocked   passed")?;
        writeln!(
            f,
            "  spam      {:>9} {:>8}",
            self.spam_caught, self.spam_missed
        )?;
        write!(
            f,
            "  ham       {:>9} {:>8}",
            self.ham_blocked, self.ham_passed
        )
    }
}

/// Scores `examples` with `model` at `threshold`.
pub fn evaluate(model: &Model, examples: &[(bool, &str)], threshold: f32) -> Confusion {
    let mut c = Confusion::default();
    for (spam, text) in examples {
        c.add(*spam, model.score(text) >= threshold);
    }
    c
}

/// A TSV line that is not `ham|spam<TAB>text`.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: expected `ham` or `spam`, a tab, then the text")]
pub struct TsvError {
    /// 1-based line number.
    pub line: usize,
}

/// Parses labelled TSV: one `ham<TAB>text` or `spam<TAB>text` a line;
/// blank lines are skipped.
pub fn parse_tsv(data: &str) -> Result<Vec<(bool, &str)>, TsvError> {
    let mut out = Vec::new();
    for (i, line) in data.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (label, text) = line.split_once('\t').ok_or(TsvError { line: i + 1 })?;
        let spam = match label.trim() {
            l if l.eq_ignore_ascii_case("spam") => true,
            l if l.eq_ignore_ascii_case("ham") => false,
            _ => return Err(TsvError { line: i + 1 }),
        };
        out.push((spam, text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPAM: &[&str] = &[
        "WINNER!! You have won a £1000 cash prize. Call 09061701461 now to claim",
        "FREE entry to win a brand new phone! Text WIN to 87121 now",
        "Urgent! Your account is suspended, verify at http://bit.ly/xyz123 now",
        "Congratulations you have been selected for a £500 prize, call 08002986030",
        "Claim your FREE ringtone now, txt STOP to 85069 to end, £1.50/msg",
        "You have won a guaranteed cash award! Call 09050000327 to claim now",
    ];
    const HAM: &[&str] = &[
        "Are we still on for lunch tomorrow?",
        "I'll be home late tonight, don't wait up",
        "Can you pick up some milk on the way back",
        "Happy birthday! Hope you have a lovely day",
        "ok see you at the station at 6",
        "Sorry I missed your call, will ring you later",
    ];

    fn examples() -> Vec<(bool, &'static str)> {
        let mut v: Vec<(bool, &str)> = SPAM.iter().map(|s| (true, *s)).collect();
        v.extend(HAM.iter().map(|s| (false, *s)));
        v
    }

    fn small_opts() -> TrainOptions {
        TrainOptions {
            bucket_bits: 14,
            cv_folds: 0,
            ..TrainOptions::default()
        }
    }

    #[test]
    fn separates_obvious_spam_and_ham() {
        let m = train(&examples(), &small_opts());
        for s in SPAM {
            assert!(m.score(s) > 0.5, "{s}: {}", m.score(s));
        }
        for h in HAM {
            assert!(m.score(h) < 0.5, "{h}: {}", m.score(h));
        }
        assert!(m.score("Call now to claim your FREE cash prize 09061234567") > 0.5);
        assert!(m.score("see you tomorrow for lunch") < 0.5);
    }

    #[test]
    fn cross_validation_sets_a_threshold() {
        let opts = TrainOptions {
            cv_folds: 3,
            ..small_opts()
        };
        let (m, cv) = train_with_cv(&examples(), &opts);
        let cv = cv.expect("cv ran");
        assert_eq!(cv.spam_caught + cv.spam_missed, SPAM.len() as u64);
        assert_eq!(cv.ham_blocked + cv.ham_passed, HAM.len() as u64);
        assert!((0.0..=1.0).contains(&m.threshold()));
    }

    #[test]
    fn threshold_respects_the_ham_budget() {
        let ham: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let t = threshold_for_ham_blocked(&ham, 0.002);
        assert_eq!(ham.iter().filter(|&&s| s >= t).count(), 2);
        let t = threshold_for_ham_blocked(&ham, 0.0);
        assert_eq!(ham.iter().filter(|&&s| s >= t).count(), 0);
        assert_eq!(threshold_for_ham_blocked(&[], 0.002), 0.5);
    }

    #[test]
    fn save_load_round_trip_scores_identically() {
        let m = train(&examples(), &small_opts());
        let mut buf = Vec::new();
        m.save(&mut buf).unwrap();
        assert_eq!(buf.len(), HEADER_LEN + (2 << 14) + 4);
        let back = Model::load(&buf[..]).unwrap();
        assert_eq!(back, m);
        for t in SPAM.iter().chain(HAM) {
            assert_eq!(back.score(t).to_bits(), m.score(t).to_bits());
        }
    }

    #[test]
    fn corrupt_and_truncated_files_are_rejected() {
        let m = train(&examples(), &small_opts());
        let good = m.to_bytes();
        for len in [0, 4, 8, 20, HEADER_LEN, good.len() / 2, good.len() - 1] {
            let e = Model::from_bytes(&good[..len]).unwrap_err();
            assert!(matches!(e, ModelError::Truncated { .. }), "{len}: {e}");
        }
        let mut flipped = good.clone();
        flipped[HEADER_LEN + 100] ^= 0x40;
        assert!(matches!(
            Model::from_bytes(&flipped),
            Err(ModelError::Checksum { .. })
        ));
        let mut magic = good.clone();
        magic[0] = b'X';
        assert!(matches!(
            Model::from_bytes(&magic),
            Err(ModelError::BadMagic)
        ));
        let mut version = good.clone();
        version[8] = 9;
        assert!(matches!(
            Model::from_bytes(&version),
            Err(ModelError::UnsupportedVersion(9))
        ));
        let mut dims = good.clone();
        dims[12] = 60;
        assert!(matches!(
            Model::from_bytes(&dims),
            Err(ModelError::BadDims(60))
        ));
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(
            Model::from_bytes(&long),
            Err(ModelError::TrailingData)
        ));
        // Every single-byte corruption is refused without a panic.
        for i in (0..good.len()).step_by(97) {
            let mut b = good.clone();
            b[i] = b[i].wrapping_add(1);
            assert!(Model::from_bytes(&b).is_err(), "byte {i}");
        }
        assert!(Model::load(&b"garbage"[..]).is_err());
    }

    #[test]
    fn score_never_panics() {
        let m = train(&examples(), &small_opts());
        let huge = "FREE prize call 0906 now ".repeat(10_000);
        let odd = [
            "",
            " ",
            "\t\n",
            "a",
            "ÀÉÎ İ ß",
            "🎉🎉 win 💰💰 now 🎁",
            "\u{0}\u{fffd}",
            &huge,
        ];
        for t in odd {
            let s = m.score(t);
            assert!((0.0..=1.0).contains(&s), "{t:?}: {s}");
        }
    }

    #[test]
    fn coarse_features() {
        assert!(is_url_like("http://x"));
        assert!(is_url_like("WWW.example.org"));
        assert!(is_url_like("bit.ly/abc"));
        assert!(is_url_like("example.com"));
        assert!(!is_url_like("ok..."));
        assert!(!is_url_like("e.g."));
        assert!(!is_url_like("home.later"));
        let mut n = 0;
        for_each_feature("", |_| n += 1);
        assert_eq!(n, 1, "the length bucket only");
    }

    #[test]
    fn score_normalized_equals_score() {
        let m = train(&examples(), &small_opts());
        for t in SPAM
            .iter()
            .chain(HAM)
            .chain(&["", "🎉 W1N £100 now", "c.l.i.c.k"])
        {
            assert_eq!(
                m.score_normalized(&normalize(t)).to_bits(),
                m.score(t).to_bits(),
                "{t}"
            );
        }
    }

    #[test]
    fn evasions_score_like_the_clean_text() {
        let m = train(&examples(), &small_opts());
        let clean = m.score("free cash prize, call now");
        // Leetspeak, a Cyrillic look-alike, a zero-width space, fullwidth.
        for t in [
            "fr33 c4sh prize, call now",
            "free c\u{0430}sh pri\u{200B}ze, call now",
            "ＦＲＥＥ cash prize, call now",
        ] {
            assert_eq!(m.score(t).to_bits(), clean.to_bits(), "{t}");
        }
    }

    fn features(t: &str) -> Vec<u64> {
        let mut v = Vec::new();
        for_each_feature(&normalize(t).squeezed, |h| v.push(h));
        v
    }

    #[test]
    fn numbers_share_their_shape() {
        let a = features("call 09061701461");
        let b = features("call 09069998888");
        let shared = a.iter().filter(|h| b.contains(h)).count();
        // "call" (word, 3 n-grams, 2 edge n-grams), the shape, the bigram
        // call→shape, the long-digits and length features, the n-grams
        // `^09`, `^090`, `^0906`.
        assert!(shared >= 10, "{shared}");
        let money = features("win £1000");
        let plain = features("win 1000");
        assert_ne!(money, plain);
        // Digits inside a word generalise too: 150p and 25p share `#p`.
        let p150 = features("x150p");
        let p25 = features("x25p");
        assert!(p150.iter().any(|h| p25.contains(h)));
    }

    #[test]
    fn tsv_parsing() {
        let v = parse_tsv("ham\thello\n\nspam\tWIN now\r\n").unwrap();
        assert_eq!(v, vec![(false, "hello"), (true, "WIN now")]);
        assert_eq!(parse_tsv("ham hello").unwrap_err().line, 1);
        assert_eq!(parse_tsv("ham\tx\nmaybe\tx").unwrap_err().line, 2);
    }
}
