//! Text normalisation for spam matching.
//!
//! Spam senders disguise keywords with look-alike letters (Cyrillic `а`,
//! Greek `Α`), invisible characters, fullwidth forms, accents, leetspeak
//! (`fr33`) and spacing (`f r e e`, `c.l.i.c.k`). [`normalize`] turns a decoded
//! message into three canonical views that rules match against. It is used
//! **for matching only**: the text that is forwarded is never changed.
//!
//! Rule patterns (keywords, hosts) must be passed through the same folding
//! ([`fold_confusables`] or [`normalize`]) so both sides agree: folding is
//! lossy on purpose, for example Cyrillic `р` and Latin `p` become the same.
//!
//! Everything here is total (no input panics), runs in time linear in the
//! input; [`normalize_into`] reuses the output `String`s and a per-thread
//! scratch buffer, so it allocates nothing in the steady state.
//!
//! # Pipeline for [`Normalized::folded`]
//!
//! 1. Stream-safe NFKC (fullwidth `ＦＲＥＥ` → `FREE`, ligatures, `ℓ` → `l`,
//!    micro sign → `μ`). The stream-safe step bounds runs of combining marks,
//!    which keeps normalisation linear; the U+034F it may insert is removed in
//!    the next step.
//! 2. Invisible characters removed: U+00AD, U+034F, U+061C, U+180E,
//!    U+200B..=U+200F, U+202A..=U+202E, U+2060..=U+2064, U+2066..=U+2069,
//!    U+FE00..=U+FE0F, U+FEFF, U+E0000..=U+E007F. Stray combining diacritics
//!    (U+0300..=U+036F) that NFKC could not compose are dropped too.
//! 3. Confusables checked on the character *before* lower-casing, so that
//!    capitals fold by their own shape (Greek `Η` → `h` although `η` → `n`);
//!    otherwise full Unicode lower-casing, then the confusable table again.
//!    See [`fold_confusables`] for the table.
//! 4. Latin letters U+00C0..=U+024F and U+1E00..=U+1EFF are canonically
//!    decomposed and their combining marks dropped (`é` → `e`, `ŝ` → `s`).
//! 5. Whitespace runs collapse to one space; leading and trailing whitespace
//!    is trimmed.
//! 6. Leetspeak inside words (see below).
//!
//! # Leetspeak
//!
//! Candidates: `0`→`o`, `1`→`i`, `3`→`e`, `4`→`a`, `5`→`s`, `7`→`t`, `@`→`a`,
//! `$`→`s`, `|`→`l`, and `!`→`i` only when both of its neighbours are
//! alphanumeric. A maximal run of candidates is folded when:
//!
//! - it has a letter on both sides (`c4sh`, `r3@d`), except a lone `|`
//!   between two letters, which stays a separator (`w|i|n` squeezes to `win`);
//! - or it has a letter on its left, at most two characters, and no
//!   alphanumeric on its right (`fr33`, `h3ll0`), unless a digit group goes
//!   on after a `,` or `.` (`usd50.00`, `ngn1,234` are amounts);
//! - or it is only symbols (`$ @ |`), at most two, with a letter on its right
//!   and no alphanumeric on its left (`$ave`, `@ttention`).
//!
//! Leading digit runs are kept (`5pm`, `1st`, `4ever`), as are numbers with no
//! adjacent letter (`0800123`, `£100`, `10:30`) and runs next to other digits
//! (`covid19`). Short alphanumeric codes can still fold (`mp3` → `mpe`,
//! `a1` → `ai`); that is accepted for matching.
use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_normalization::UnicodeNormalization;

/// The canonical views of one message, all derived from the same input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Normalized {
    /// NFKC, lower-cased, invisible characters removed, confusables and
    /// Latin accents folded to ASCII, leetspeak inside words folded,
    /// whitespace collapsed to single spaces and trimmed.
    pub folded: String,
    /// `folded` with spaced-out letters joined: a run of at least three
    /// single-letter tokens, each separated by exactly one of
    /// `space . - _ * , / |`, becomes one word (`f r e e` → `free`,
    /// `c.l.i.c.k` → `click`). A gap of two or more whitespace characters in
    /// the input ends a run, so `f r e e  m o n e y` → `free money`.
    pub squeezed: String,
    /// `folded` with every run of numeric characters replaced by one `#`
    /// (`your code 123456 expires 10:30` → `your code # expires #:#`).
    pub masked: String,
}

/// Marks a collapsed whitespace run of two or more characters in the scratch
/// buffer. It cannot occur otherwise: every input whitespace is collapsed.
const WIDE_GAP: char = '\t';

/// Normalises `text` into its [`Normalized`] views. Never panics; linear time.
pub fn normalize(text: &str) -> Normalized {
    let mut out = Normalized::default();
    normalize_into(text, &mut out);
    out
}

/// A symbol of the scratch buffer: a `char`, or a byte for ASCII text
/// (the same pipeline, a quarter of the memory and no table look-ups).
trait Sym: Copy + PartialEq {
    fn ch(self) -> char;
    /// `c` is ASCII.
    fn from_ascii(c: char) -> Self;
    /// Writes the three views of the (leet-folded) scratch buffer `v`.
    fn views(v: &[Self], out: &mut Normalized);
}

impl Sym for char {
    #[inline]
    fn ch(self) -> char {
        self
    }
    #[inline]
    fn from_ascii(c: char) -> Self {
        c
    }
    fn views(v: &[char], out: &mut Normalized) {
        let Normalized {
            folded,
            squeezed,
            masked,
        } = out;
        folded.clear();
        masked.clear();
        squeezed.clear();
        fold_and_mask(v, |c| folded.push(c), |c| masked.push(c));
        squeeze(v, |c| squeezed.push(c));
    }
}

impl Sym for u8 {
    #[inline]
    fn ch(self) -> char {
        char::from(self)
    }
    #[inline]
    fn from_ascii(c: char) -> Self {
        u8::try_from(c).unwrap_or(b'?')
    }
    /// Byte by byte into the strings' own buffers: every byte is ASCII.
    fn views(v: &[u8], out: &mut Normalized) {
        fn bytes_of(s: &mut String) -> Vec<u8> {
            let mut b = std::mem::take(s).into_bytes();
            b.clear();
            b
        }
        fn string_of(b: Vec<u8>) -> String {
            String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        }
        let (mut folded, mut masked, mut squeezed) = (
            bytes_of(&mut out.folded),
            bytes_of(&mut out.masked),
            bytes_of(&mut out.squeezed),
        );
        // `fold_and_mask` for ASCII: the folded view in one copy, then the
        // digit runs masked from it.
        folded.extend(
            v.iter()
                .map(|&b| if b == WIDE_GAP as u8 { b' ' } else { b }),
        );
        masked.reserve(v.len());
        let mut in_number = false;
        for &b in &folded {
            if b.is_ascii_digit() {
                if !in_number {
                    masked.push(b'#');
                }
                in_number = true;
            } else {
                masked.push(b);
                in_number = false;
            }
        }
        squeezed.reserve(v.len());
        squeeze(v, |c| squeezed.push(c));
        out.folded = string_of(folded);
        out.masked = string_of(masked);
        out.squeezed = string_of(squeezed);
    }
}

#[derive(Default)]
struct Scratch {
    chars: Vec<char>,
    bytes: Vec<u8>,
}

thread_local! {
    /// The per-thread scratch buffers of [`normalize_into`].
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Scratch capacity kept between calls; a larger buffer is released.
const SCRATCH_KEEP: usize = 4096;

/// [`normalize`] into `out`, reusing its strings' capacity (and per-thread
/// scratch buffers), so a caller that keeps one [`Normalized`] per worker
/// allocates nothing in the steady state.
///
/// Two fast paths give exactly what the full pipeline gives: plain ASCII
/// text is lower-cased byte by byte (NFKC, the confusable table and accent
/// stripping cannot change it), and other text whose characters all pass
/// the NFKC quick check skips the NFKC pass, which would leave it
/// unchanged.
pub fn normalize_into(text: &str, out: &mut Normalized) {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            normalize_with(text, &mut scratch, out);
            if scratch.chars.capacity() > SCRATCH_KEEP {
                scratch.chars = Vec::new();
            }
            if scratch.bytes.capacity() > SCRATCH_KEEP {
                scratch.bytes = Vec::new();
            }
        }
        // Re-entered from within normalisation itself: cannot happen, but
        // stay total.
        Err(_) => normalize_with(text, &mut Scratch::default(), out),
    });
}

fn normalize_with(text: &str, scratch: &mut Scratch, out: &mut Normalized) {
    if text.is_ascii() {
        let v = &mut scratch.bytes;
        v.clear();
        v.reserve(text.len());
        let mut buf = Collapser { out: v, ws: 0 };
        for b in text.bytes() {
            buf.push(b.to_ascii_lowercase());
        }
        finish(v, out);
        return;
    }
    let v = &mut scratch.chars;
    v.clear();
    v.reserve(text.len());
    let mut buf = Collapser { out: v, ws: 0 };
    if unicode_normalization::is_nfkc_quick(text.chars())
        == unicode_normalization::IsNormalized::Yes
    {
        for c in text.chars() {
            fold_char(c, &mut |f| buf.push(f));
        }
    } else {
        for c in text.chars().stream_safe().nfkc() {
            fold_char(c, &mut |f| buf.push(f));
        }
    }
    finish(v, out);
}

/// Leetspeak, then the three views, from the collapsed scratch buffer.
fn finish<T: Sym>(chars: &mut [T], out: &mut Normalized) {
    fold_leet(chars);
    T::views(chars, out);
}

/// Emits [`Normalized::folded`] (wide gaps as spaces) to `folded` and
/// [`Normalized::masked`] (each run of numeric characters as one `#`) to
/// `masked`, in one pass over the scratch buffer.
#[inline]
fn fold_and_mask<T: Sym>(chars: &[T], mut folded: impl FnMut(T), mut masked: impl FnMut(T)) {
    let gap = T::from_ascii(WIDE_GAP);
    let space = T::from_ascii(' ');
    let hash = T::from_ascii('#');
    let mut in_number = false;
    for &c in chars {
        let c = if c == gap { space } else { c };
        folded(c);
        if c.ch().is_numeric() {
            if !in_number {
                masked(hash);
            }
            in_number = true;
        } else {
            masked(c);
            in_number = false;
        }
    }
}

/// Folds look-alike characters to ASCII without touching anything else's
/// structure: stream-safe NFKC, invisible characters removed, lower-cased,
/// confusables folded and Latin accents stripped. No leetspeak and no
/// whitespace collapsing, so it suits URL hosts (`pаypal.com` with a Cyrillic
/// `а` → `paypal.com`) as well as rule keywords. Punycode (`xn--`) hosts are
/// not decoded.
///
/// Confusable table (capitals are checked before lower-casing):
///
/// | to | Cyrillic | Greek | Latin |
/// |----|----------|-------|-------|
/// | a  | А а      | Α α   | ɑ     |
/// | b  | В        | Β β   |       |
/// | c  | С с      | ϲ Ϲ   |       |
/// | d  | ԁ        |       | đ     |
/// | e  | Е е      | Ε ε   |       |
/// | g  |          |       | ɡ     |
/// | h  | Н Һ һ    | Η     | ħ     |
/// | i  | І і      | Ι ι   | ı     |
/// | j  | Ј ј      | ϳ     |       |
/// | k  | К        | Κ κ   |       |
/// | l  | Ӏ ӏ      |       | ł     |
/// | m  | М        | Μ     |       |
/// | n  |          | Ν η   |       |
/// | o  | О о      | Ο ο   | ø     |
/// | p  | Р р      | Ρ ρ   |       |
/// | q  | Ԛ ԛ      |       |       |
/// | s  | Ѕ ѕ      |       |       |
/// | t  | Т        | Τ τ   |       |
/// | u  |          | μ υ   |       |
/// | v  |          | ν     |       |
/// | w  | Ԝ ԝ      | ω     |       |
/// | x  | Х х      | Χ χ   |       |
/// | y  | У у Ү ү  | Υ γ   |       |
/// | z  |          | Ζ     |       |
///
/// Lower-case Cyrillic `в н к м т` (small-capital shapes) are deliberately
/// not folded, to keep ordinary Cyrillic text recognisable.
pub fn fold_confusables(s: &str) -> String {
    if s.is_ascii() {
        // NFKC, the tables and accent stripping leave ASCII as it is.
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars().stream_safe().nfkc() {
        fold_char(c, &mut |f| out.push(f));
    }
    out
}

/// Accumulates folded characters, collapsing whitespace runs: one
/// whitespace becomes `' '`, two or more become [`WIDE_GAP`]; leading and
/// trailing whitespace is dropped.
struct Collapser<'a, T> {
    out: &'a mut Vec<T>,
    ws: usize,
}

impl<T: Sym> Collapser<'_, T> {
    #[inline]
    fn push(&mut self, c: T) {
        if c.ch().is_whitespace() {
            self.ws = self.ws.saturating_add(1);
            return;
        }
        if self.ws > 0 && !self.out.is_empty() {
            self.out
                .push(T::from_ascii(if self.ws == 1 { ' ' } else { WIDE_GAP }));
        }
        self.ws = 0;
        self.out.push(c);
    }
}

/// Folds one NFKC character (steps 2–4 of the pipeline) into `emit`.
fn fold_char(c: char, emit: &mut impl FnMut(char)) {
    if is_invisible(c) || is_stray_mark(c) {
        return;
    }
    if let Some(m) = confusable(c) {
        emit(m);
        return;
    }
    // A capital that is not a look-alike itself (Greek `Γ`, `Ω`) must not
    // fold through its small letter's shape (`γ` → `y`, `ω` → `w`).
    let was_upper = c.is_uppercase();
    for l in c.to_lowercase() {
        if is_invisible(l) || is_stray_mark(l) {
            continue;
        }
        if is_latin_accented_range(l) {
            decompose_canonical(l, |d| {
                if !is_combining_mark(d) {
                    emit(confusable(d).unwrap_or(d));
                }
            });
        } else if was_upper {
            emit(l);
        } else {
            emit(confusable(l).unwrap_or(l));
        }
    }
}

/// Zero-width, bidi-control, variation-selector and tag characters.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// Combining diacritical marks left over after NFKC (nothing to compose with).
fn is_stray_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

/// Latin-1 Supplement, Latin Extended-A/B and Latin Extended Additional.
fn is_latin_accented_range(c: char) -> bool {
    matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}')
}

/// The confusable table documented on [`fold_confusables`].
fn confusable(c: char) -> Option<char> {
    Some(match c {
        // Cyrillic capitals.
        'А' => 'a',
        'В' => 'b',
        'С' => 'c',
        'Е' => 'e',
        'Н' | 'Һ' => 'h',
        'І' => 'i',
        'Ј' => 'j',
        'К' => 'k',
        'Ӏ' => 'l',
        'М' => 'm',
        'О' => 'o',
        'Р' => 'p',
        'Ԛ' => 'q',
        'Ѕ' => 's',
        'Т' => 't',
        'Ԝ' => 'w',
        'Х' => 'x',
        'У' | 'Ү' => 'y',
        // Cyrillic small letters.
        'а' => 'a',
        'с' => 'c',
        'ԁ' => 'd',
        'е' => 'e',
        'һ' => 'h',
        'і' => 'i',
        'ј' => 'j',
        'ӏ' => 'l',
        'о' => 'o',
        'р' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'ԝ' => 'w',
        'х' => 'x',
        'у' | 'ү' => 'y',
        // Greek capitals (the GSM 7-bit look-alikes plus lunate sigma).
        'Α' => 'a',
        'Β' => 'b',
        'Ϲ' => 'c',
        'Ε' => 'e',
        'Η' => 'h',
        'Ι' => 'i',
        'Κ' => 'k',
        'Μ' => 'm',
        'Ν' => 'n',
        'Ο' => 'o',
        'Ρ' => 'p',
        'Τ' => 't',
        'Χ' => 'x',
        'Υ' => 'y',
        'Ζ' => 'z',
        // Greek small letters.
        'α' => 'a',
        'β' => 'b',
        'ϲ' => 'c',
        'ε' => 'e',
        'ι' => 'i',
        'ϳ' => 'j',
        'κ' => 'k',
        'η' => 'n',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'μ' | 'υ' => 'u',
        'ν' => 'v',
        'ω' => 'w',
        'χ' => 'x',
        'γ' => 'y',
        // Latin letters with no canonical decomposition.
        'ɑ' => 'a',
        'đ' => 'd',
        'ɡ' => 'g',
        'ħ' => 'h',
        'ı' => 'i',
        'ł' => 'l',
        'ø' => 'o',
        _ => return None,
    })
}

/// Leetspeak replacement for a candidate character.
fn leet(c: char) -> char {
    match c {
        '0' => 'o',
        '1' | '!' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        '|' => 'l',
        other => other,
    }
}

/// Whether `v[i]` may take part in a leetspeak run.
#[inline(always)]
fn is_leet_candidate<T: Sym>(v: &[T], i: usize) -> bool {
    match v.get(i).map(|c| c.ch()) {
        Some('0' | '1' | '3' | '4' | '5' | '7' | '@' | '$' | '|') => true,
        Some('!') => {
            let before = i
                .checked_sub(1)
                .and_then(|k| v.get(k))
                .is_some_and(|c| c.ch().is_alphanumeric());
            let after = v.get(i + 1).is_some_and(|c| c.ch().is_alphanumeric());
            before && after
        }
        _ => false,
    }
}

/// Applies the leetspeak rules (module docs) in place; one pass over `v`.
fn fold_leet<T: Sym>(v: &mut [T]) {
    let mut i = 0;
    while i < v.len() {
        if !is_leet_candidate(v, i) {
            i += 1;
            continue;
        }
        let start = i;
        while is_leet_candidate(v, i) {
            i += 1;
        }
        let end = i;
        let len = end - start;
        let left = start.checked_sub(1).and_then(|k| v.get(k)).map(|c| c.ch());
        let right = v.get(end).map(|c| c.ch());
        let letter = |c: Option<char>| c.is_some_and(char::is_alphabetic);
        let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        let run = v.get(start..end).unwrap_or(&[]);
        let only_symbols = run.iter().all(|c| matches!(c.ch(), '$' | '@' | '|'));
        let fold = if letter(left) && letter(right) {
            !(len == 1 && run.first().map(|c| c.ch()) == Some('|'))
        } else if letter(left) {
            // `usd50.00`, `ngn1,234`: a currency code before an amount, not
            // leetspeak; the digits go on past the separator.
            let amount = matches!(right, Some(',' | '.'))
                && v.get(end + 1).is_some_and(|c| c.ch().is_ascii_digit());
            len <= 2 && !alnum(right) && !amount
        } else if letter(right) {
            only_symbols && len <= 2 && !alnum(left)
        } else {
            false
        };
        if fold {
            for c in v.iter_mut().take(end).skip(start) {
                *c = T::from_ascii(leet(c.ch()));
            }
        }
    }
}

/// Separators that may sit between spaced-out letters.
#[inline]
fn is_squeeze_sep(c: char) -> bool {
    matches!(c, ' ' | '.' | '-' | '_' | '*' | ',' | '/' | '|')
}

/// Emits [`Normalized::squeezed`] to `out` from the folded scratch
/// buffer.
#[inline]
fn squeeze<T: Sym>(v: &[T], mut out: impl FnMut(T)) {
    let boundary = |k: Option<usize>| match k.and_then(|k| v.get(k)) {
        None => true,
        Some(&c) => c.ch() == WIDE_GAP || is_squeeze_sep(c.ch()),
    };
    // A character standing alone between separators (or the ends): spaced
    // numbers, symbols and dots (`0 9 0 6`, `£ 1 0 0`, `w w w . x`) are
    // joined like spaced letters.
    let single = |k: usize| {
        v.get(k)
            .is_some_and(|c| c.ch() != WIDE_GAP && !c.ch().is_whitespace())
            && boundary(k.checked_sub(1))
            && boundary(k.checked_add(1))
    };
    let mut i = 0;
    while let Some(&c) = v.get(i) {
        if single(i) {
            // Follow the chain letter, separator, letter, ...
            let mut j = i;
            let mut count = 1usize;
            while v.get(j + 1).is_some_and(|&s| is_squeeze_sep(s.ch())) && single(j + 2) {
                j += 2;
                count += 1;
            }
            // Two are enough for a word set apart by wide gaps on both
            // sides (`t o` in `c a l l  t o  c l a i m`).
            let gap = |k: Option<usize>| match k.and_then(|k| v.get(k)) {
                None => true,
                Some(&c) => c.ch() == WIDE_GAP,
            };
            if count >= 3 || (count == 2 && gap(i.checked_sub(1)) && gap(j.checked_add(1))) {
                v.iter()
                    .take(j + 1)
                    .skip(i)
                    .step_by(2)
                    .for_each(|&c| out(c));
                i = j + 1;
                continue;
            }
        }
        out(if c.ch() == WIDE_GAP {
            T::from_ascii(' ')
        } else {
            c
        });
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folded(s: &str) -> String {
        normalize(s).folded
    }

    /// The full pipeline with no fast path: NFKC on every text.
    fn normalize_full(text: &str) -> Normalized {
        let mut v = Vec::new();
        let mut buf = Collapser { out: &mut v, ws: 0 };
        for c in text.chars().stream_safe().nfkc() {
            fold_char(c, &mut |f| buf.push(f));
        }
        let mut out = Normalized::default();
        finish(&mut v, &mut out);
        out
    }

    const SAMPLES: &[&str] = &[
        "",
        "   ",
        "Hi Mum, see you at Dinner tonight?",
        "WINNER!! You have won a \u{a3}1000 cash prize. Call 09061701461 now",
        "f r e e  m o n e y c.l.i.c.k W1N N0W!! $ave @ttention he||o w|i|n",
        "Call 08001234567 for 100 at 10:30, 5pm on the 1st, covid19 win1000",
        "tab\there\nnew line\r\n  \x0b\x0c ctl\x01\x1f~` a1 mp3 FR33 c4sh r3@d",
        "URGENT: verify at HTTP://Bit.LY/AbC123 or www.Example.co.uk/x?y=1",
        "\u{0412}\u{0430}nk \u{0392}\u{0391}\u{039D}\u{039A} caf\u{e9} \u{1F389} na\u{ef}ve \u{a3}5",
        "\u{ff26}\u{ff32}\u{ff25}\u{ff25} fr\u{200B}ee Gratuite\u{0301} \u{3b3}\u{3c9} \u{2460}",
    ];

    #[test]
    fn fast_paths_equal_the_full_pipeline() {
        let mut reused = Normalized::default();
        let mut texts: Vec<String> = SAMPLES.iter().map(|s| s.to_string()).collect();
        // Real messages too, when the data is there.
        let data = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/sms/uci-train.tsv"
        );
        if let Ok(tsv) = std::fs::read_to_string(data) {
            texts.extend(
                tsv.lines()
                    .filter_map(|l| l.split_once('\t'))
                    .map(|(_, t)| t.to_string()),
            );
        }
        for t in &texts {
            let want = normalize_full(t);
            assert_eq!(normalize(t), want, "{t:?}");
            // Reusing one output for every text gives the same.
            normalize_into(t, &mut reused);
            assert_eq!(reused, want, "{t:?}");
            let mut upper = t.to_uppercase();
            upper.push_str(" \u{0301}x\u{0301}");
            assert_eq!(normalize(&upper), normalize_full(&upper), "{upper:?}");
        }
        for t in SAMPLES {
            let full: String = t
                .chars()
                .stream_safe()
                .nfkc()
                .flat_map(|c| {
                    let mut v = Vec::new();
                    fold_char(c, &mut |f| v.push(f));
                    v
                })
                .collect();
            assert_eq!(fold_confusables(t), full, "{t:?}");
        }
    }

    #[test]
    fn plain_ham_only_lowercased() {
        let n = normalize("Hi Mum, see you at Dinner tonight?");
        assert_eq!(n.folded, "hi mum, see you at dinner tonight?");
        assert_eq!(n.squeezed, n.folded);
        assert_eq!(n.masked, n.folded);
    }

    #[test]
    fn cyrillic_lookalikes() {
        // "В" and "а" below are Cyrillic.
        assert_eq!(folded("\u{0412}\u{0430}nk"), "bank");
        assert_eq!(folded("P\u{0430}yP\u{0430}l"), "paypal");
        assert_eq!(fold_confusables("p\u{0430}ypal.com"), "paypal.com");
    }

    #[test]
    fn greek_capitals() {
        assert_eq!(folded("\u{0392}\u{0391}\u{039D}\u{039A}"), "bank");
        assert_eq!(
            folded("\u{0397}\u{039F}\u{03A4} \u{039C}\u{0395}\u{0396}\u{0399}\u{03A7}\u{03A5}"),
            "hot mezixy"
        );
        assert_eq!(folded("\u{03B7}\u{03BF}\u{03C4}"), "not");
        // Capitals that are not look-alikes keep their Greek small letter.
        assert_eq!(folded("\u{0393}\u{03A9}"), "\u{03B3}\u{03C9}");
    }

    #[test]
    fn invisible_characters_removed() {
        assert_eq!(folded("fr\u{200B}ee"), "free");
        assert_eq!(folded("c\u{00AD}a\u{FEFF}s\u{E0041}h\u{FE0F}"), "cash");
        assert_eq!(folded("\u{202E}win\u{202C}"), "win");
    }

    #[test]
    fn fullwidth_via_nfkc() {
        assert_eq!(folded("ＦＲＥＥ"), "free");
        assert_eq!(folded("ｆｒｅｅ ５０％"), "free 50%");
    }

    #[test]
    fn accents_stripped() {
        assert_eq!(folded("Gratuité"), "gratuite");
        assert_eq!(folded("GRATUITÉ Ñandú Øre"), "gratuite nandu ore");
        // Decomposed input composes under NFKC, then is stripped.
        assert_eq!(folded("Gratuite\u{0301}"), "gratuite");
        // Non-Latin scripts keep their marks.
        assert_eq!(folded("й"), "й");
    }

    #[test]
    fn leetspeak_inside_words() {
        assert_eq!(folded("fr33 c4sh"), "free cash");
        assert_eq!(folded("h3ll0 w0rld"), "hello world");
        assert_eq!(folded("$ave 50% @ttention"), "save 50% attention");
        assert_eq!(folded("w!n he||o"), "win hello");
        assert_eq!(folded("W1N N0W!"), "win now!");
    }

    #[test]
    fn standalone_numbers_kept() {
        assert_eq!(folded("call 0800123"), "call 0800123");
        assert_eq!(
            folded("Call 08001234567 for £100"),
            "call 08001234567 for £100"
        );
        assert_eq!(folded("meet 5pm on the 1st"), "meet 5pm on the 1st");
        assert_eq!(folded("covid19 win1000"), "covid19 win1000");
        assert_eq!(folded("FREE!!!"), "free!!!");
        // A currency code glued to an amount keeps its digits.
        assert_eq!(folded("Bal:NGN1,234.00"), "bal:ngn1,234.00");
        assert_eq!(folded("debited USD50.00"), "debited usd50.00");
        assert_eq!(folded("of N1,000.00"), "of n1,000.00");
        // Leetspeak before a full stop still folds.
        assert_eq!(folded("fr33. c4sh."), "free. cash.");
    }

    #[test]
    fn whitespace_collapsed_and_trimmed() {
        assert_eq!(folded("  free \t\n money  "), "free money");
        assert_eq!(folded("a\u{00A0}\u{00A0}b"), "a b");
    }

    #[test]
    fn squeezed_joins_spaced_letters() {
        assert_eq!(normalize("c.l.i.c.k here").squeezed, "click here");
        assert_eq!(normalize("w-i-n now").squeezed, "win now");
        assert_eq!(normalize("w|i|n").squeezed, "win");
        assert_eq!(normalize("F R E E").squeezed, "free");
        // A double space ends a run: separate words stay separate.
        let n = normalize("f r e e  m o n e y");
        assert_eq!(n.folded, "f r e e m o n e y");
        assert_eq!(n.squeezed, "free money");
        // A single space does not: the run continues.
        assert_eq!(normalize("f r e e m o n e y").squeezed, "freemoney");
        // Fewer than three letters, or letters in words, stay as they are.
        assert_eq!(normalize("a b testing").squeezed, "a b testing");
        assert_eq!(normalize("c..l..i").squeezed, "c..l..i");
        assert_eq!(normalize("ok a.b.c. done").squeezed, "ok abc. done");
        // Digits, symbols and dots too.
        assert_eq!(
            normalize("c a l l  0 9 0 6 1 7 0 1 4 6 1").squeezed,
            "call 09061701461"
        );
        assert_eq!(
            normalize("w i n  £ 1 0 0 !  w w w . x . c o m").squeezed,
            "win £100! www.x.com"
        );
        // Two-letter words between wide gaps, not between single spaces.
        assert_eq!(
            normalize("c a l l  t o  c l a i m").squeezed,
            "call to claim"
        );
        assert_eq!(normalize("a b testing").squeezed, "a b testing");
    }

    #[test]
    fn masked_digit_runs() {
        assert_eq!(
            normalize("Your code 123456 expires 10:30").masked,
            "your code # expires #:#"
        );
        assert_eq!(normalize("fr33 £100").masked, "free £#");
    }

    #[test]
    fn emoji_pass_through() {
        let n = normalize("🎉 WIN 💰💰 now 👍🏽 👨\u{200D}👩\u{200D}👧");
        assert_eq!(n.folded, "🎉 win 💰💰 now 👍🏽 👨👩👧");
    }

    #[test]
    fn empty_and_blank_input() {
        assert_eq!(normalize(""), Normalized::default());
        assert_eq!(normalize(" \u{200B}\t "), Normalized::default());
        assert_eq!(fold_confusables(""), "");
    }

    #[test]
    fn very_long_input_completes() {
        let mut s = String::new();
        while s.len() < 100 * 1024 {
            s.push_str("f r 3 e c.l.i.c.k W1N 0800 \u{0430}\u{200B} x\u{0301}\u{0302}\u{0303} ");
        }
        // A long run of combining marks must stay linear (stream-safe NFKC).
        s.push('a');
        s.extend(std::iter::repeat_n('\u{0301}', 50_000));
        let n = normalize(&s);
        assert!(n.folded.len() <= s.len());
        assert!(n.squeezed.len() <= n.folded.len());
        assert!(n.masked.len() <= n.folded.len());
    }

    #[test]
    fn never_panics_on_assorted_characters() {
        let mut s = String::new();
        for cp in (0u32..0x3_0000).step_by(7).chain(0xE_0000..0xE_0080) {
            if let Some(c) = char::from_u32(cp) {
                s.push(c);
                if cp % 5 == 0 {
                    s.push_str(" 1!|$ ");
                }
            }
        }
        let n = normalize(&s);
        let _ = fold_confusables(&s);
        assert!(!n.folded.is_empty());
        assert!(!n.folded.starts_with(' ') && !n.folded.ends_with(' '));
    }
}
