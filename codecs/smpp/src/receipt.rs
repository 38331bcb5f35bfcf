//! Delivery receipts (SMPP 3.4 Appendix B) and message ids.
//!
//! An SMSC reports the fate of a message with a `deliver_sm` (or
//! `data_sm`) whose `esm_class` marks it as a delivery receipt. SMPP 3.4
//! Appendix B gives the conventional, SMSC-specific text carried in its
//! `short_message`:
//!
//! ```text
//! id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
//! ```
//!
//! [`Receipt::format`] writes exactly that layout; [`Receipt::parse`] is
//! lenient, because carriers differ in case, spelling, order and date
//! length. The `stat` word maps to the `message_state` values of
//! §5.2.28 (SMPP 5.0 §4.8.4.37) through [`ReceiptStat`].
//!
//! Message ids are compared with [`normalize_message_id`], [`id_keys`],
//! [`ids_match`] and [`message_id_candidates`]: carriers answer
//! `submit_sm_resp` with one spelling of an id and send the receipt with
//! another (hex or decimal, upper or lower case, with or without leading
//! zeros).

use std::fmt;
use std::ops::Range;

use bytes::Bytes;

use crate::time::{days_in_month, AbsoluteTime, Sign};

/// Number of characters of the original message conventionally copied
/// into `text:` (SMPP 3.4 Appendix B).
pub const RECEIPT_TEXT_CHARS: usize = 20;

/// Why a delivery receipt could not be parsed (SMPP 3.4 Appendix B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReceiptError {
    /// No `id:` field: the text is not a delivery receipt.
    MissingId,
    /// `id:` is present but its value is empty.
    EmptyId,
}

impl fmt::Display for ReceiptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReceiptError::MissingId => f.write_str("delivery receipt has no id field"),
            ReceiptError::EmptyId => f.write_str("delivery receipt has an empty id"),
        }
    }
}

impl std::error::Error for ReceiptError {}

/// An SMPP `message_state` value (SMPP 3.4 §5.2.28; SMPP 5.0 §4.8.4.37),
/// as carried by the `message_state` TLV and `query_sm_resp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageState(pub u8);

impl MessageState {
    /// 0: SCHEDULED (SMPP 5.0 only).
    pub const SCHEDULED: MessageState = MessageState(0);
    /// 1: ENROUTE.
    pub const ENROUTE: MessageState = MessageState(1);
    /// 2: DELIVERED.
    pub const DELIVERED: MessageState = MessageState(2);
    /// 3: EXPIRED.
    pub const EXPIRED: MessageState = MessageState(3);
    /// 4: DELETED.
    pub const DELETED: MessageState = MessageState(4);
    /// 5: UNDELIVERABLE.
    pub const UNDELIVERABLE: MessageState = MessageState(5);
    /// 6: ACCEPTED.
    pub const ACCEPTED: MessageState = MessageState(6);
    /// 7: UNKNOWN.
    pub const UNKNOWN: MessageState = MessageState(7);
    /// 8: REJECTED.
    pub const REJECTED: MessageState = MessageState(8);
    /// 9: SKIPPED (SMPP 5.0 only).
    pub const SKIPPED: MessageState = MessageState(9);

    /// The state's name in §5.2.28, or `None` for an undefined value.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "SCHEDULED",
            1 => "ENROUTE",
            2 => "DELIVERED",
            3 => "EXPIRED",
            4 => "DELETED",
            5 => "UNDELIVERABLE",
            6 => "ACCEPTED",
            7 => "UNKNOWN",
            8 => "REJECTED",
            9 => "SKIPPED",
            _ => return None,
        })
    }
}

/// The `stat:` word of a delivery receipt (SMPP 3.4 Appendix B), mapped to
/// `message_state` (§5.2.28).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReceiptStat {
    /// `ENROUTE` — message_state 1.
    Enroute,
    /// `DELIVRD` — message_state 2.
    Delivered,
    /// `EXPIRED` — message_state 3.
    Expired,
    /// `DELETED` — message_state 4.
    Deleted,
    /// `UNDELIV` — message_state 5.
    Undeliverable,
    /// `ACCEPTD` — message_state 6.
    Accepted,
    /// `UNKNOWN` — message_state 7.
    Unknown,
    /// `REJECTD` — message_state 8.
    Rejected,
    /// `SKIPPED` — message_state 9 (SMPP 5.0).
    Skipped,
    /// Any other word, kept as written (non-UTF-8 octets are replaced by
    /// U+FFFD). It should be non-empty, without whitespace and not one of
    /// the words above, or it does not round trip.
    Other(String),
}

impl ReceiptStat {
    /// Reads a `stat:` word, ignoring ASCII case. Besides the Appendix B
    /// words (`ENROUTE DELIVRD EXPIRED DELETED UNDELIV ACCEPTD UNKNOWN
    /// REJECTD`) and `SKIPPED`, the spelled-out aliases `DELIVERED`,
    /// `UNDELIVERABLE`, `UNDELIVERED`, `ACCEPTED` and `REJECTED` are
    /// recognised; anything else is [`ReceiptStat::Other`].
    pub fn from_word(word: &[u8]) -> ReceiptStat {
        /// The longest word known.
        const LONGEST: usize = "UNDELIVERABLE".len();
        if word.len() <= LONGEST {
            let mut upper = [0u8; LONGEST];
            upper[..word.len()].copy_from_slice(word);
            upper.make_ascii_uppercase();
            let known = match &upper[..word.len()] {
                b"ENROUTE" => Some(ReceiptStat::Enroute),
                b"DELIVRD" | b"DELIVERED" => Some(ReceiptStat::Delivered),
                b"EXPIRED" => Some(ReceiptStat::Expired),
                b"DELETED" => Some(ReceiptStat::Deleted),
                b"UNDELIV" | b"UNDELIVERABLE" | b"UNDELIVERED" => Some(ReceiptStat::Undeliverable),
                b"ACCEPTD" | b"ACCEPTED" => Some(ReceiptStat::Accepted),
                b"UNKNOWN" => Some(ReceiptStat::Unknown),
                b"REJECTD" | b"REJECTED" => Some(ReceiptStat::Rejected),
                b"SKIPPED" => Some(ReceiptStat::Skipped),
                _ => None,
            };
            if let Some(stat) = known {
                return stat;
            }
        }
        ReceiptStat::Other(String::from_utf8_lossy(word).into_owned())
    }

    /// The word written after `stat:` (SMPP 3.4 Appendix B); `SKIPPED` for
    /// the SMPP 5.0 state, and the text itself for [`ReceiptStat::Other`].
    pub fn word(&self) -> &str {
        match self {
            ReceiptStat::Enroute => "ENROUTE",
            ReceiptStat::Delivered => "DELIVRD",
            ReceiptStat::Expired => "EXPIRED",
            ReceiptStat::Deleted => "DELETED",
            ReceiptStat::Undeliverable => "UNDELIV",
            ReceiptStat::Accepted => "ACCEPTD",
            ReceiptStat::Unknown => "UNKNOWN",
            ReceiptStat::Rejected => "REJECTD",
            ReceiptStat::Skipped => "SKIPPED",
            ReceiptStat::Other(s) => s,
        }
    }

    /// The stat for a `message_state` value (§5.2.28): 1 ENROUTE …
    /// 8 REJECTED, 9 SKIPPED (SMPP 5.0). `None` for 0 (SCHEDULED, which a
    /// receipt never reports) and undefined values.
    pub fn from_message_state(state: u8) -> Option<ReceiptStat> {
        Some(match state {
            1 => ReceiptStat::Enroute,
            2 => ReceiptStat::Delivered,
            3 => ReceiptStat::Expired,
            4 => ReceiptStat::Deleted,
            5 => ReceiptStat::Undeliverable,
            6 => ReceiptStat::Accepted,
            7 => ReceiptStat::Unknown,
            8 => ReceiptStat::Rejected,
            9 => ReceiptStat::Skipped,
            _ => return None,
        })
    }

    /// The `message_state` value (§5.2.28) of this stat;
    /// [`ReceiptStat::Other`] maps to 7 (UNKNOWN).
    pub fn to_message_state(&self) -> u8 {
        match self {
            ReceiptStat::Enroute => 1,
            ReceiptStat::Delivered => 2,
            ReceiptStat::Expired => 3,
            ReceiptStat::Deleted => 4,
            ReceiptStat::Undeliverable => 5,
            ReceiptStat::Accepted => 6,
            ReceiptStat::Unknown | ReceiptStat::Other(_) => 7,
            ReceiptStat::Rejected => 8,
            ReceiptStat::Skipped => 9,
        }
    }
}

impl fmt::Display for ReceiptStat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl From<&ReceiptStat> for MessageState {
    fn from(stat: &ReceiptStat) -> MessageState {
        MessageState(stat.to_message_state())
    }
}

/// A `submit date:` / `done date:` value, `YYMMDDhhmm` or `YYMMDDhhmmss`
/// (SMPP 3.4 Appendix B), in the SMSC's local time (Appendix B gives no
/// time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReceiptDate {
    /// Year of the century, 00–99 (read as 2000–2099).
    pub year: u8,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31 (checked against the month).
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59, when the date has 12 digits.
    pub second: Option<u8>,
}

impl ReceiptDate {
    /// Reads a date of 10 digits (`YYMMDDhhmm`, Appendix B) or 12 digits
    /// (`YYMMDDhhmmss`). As a leniency, 14 digits `20YYMMDDhhmmss` are also
    /// read. `None` if the length, a digit or a range (as for
    /// [`AbsoluteTime`], SMPP 3.4 §7.1.1.1) is wrong.
    pub fn parse(s: &[u8]) -> Option<ReceiptDate> {
        let s = match s.len() {
            10 | 12 => s,
            14 if s.starts_with(b"20") => s.get(2..)?,
            _ => return None,
        };
        let two = |at: usize| -> Option<u8> {
            match s.get(at..at + 2)? {
                [a @ b'0'..=b'9', b @ b'0'..=b'9'] => Some((a - b'0') * 10 + (b - b'0')),
                _ => None,
            }
        };
        let date = ReceiptDate {
            year: two(0)?,
            month: two(2)?,
            day: two(4)?,
            hour: two(6)?,
            minute: two(8)?,
            second: if s.len() == 12 { Some(two(10)?) } else { None },
        };
        date.is_valid().then_some(date)
    }

    /// Whether every field is in range: month 1–12, day within the month
    /// (leap years read as 20YY), hour ≤ 23, minute and second ≤ 59.
    pub fn is_valid(&self) -> bool {
        self.year <= 99
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour <= 23
            && self.minute <= 59
            && self.second.is_none_or(|s| s <= 59)
    }

    /// Appends the 10 or 12 digits (12 when `second` is set). Fields above
    /// 99 wrap to their last two digits.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        for v in [self.year, self.month, self.day, self.hour, self.minute] {
            push2(out, v);
        }
        if let Some(s) = self.second {
            push2(out, s);
        }
    }

    /// The date as 10 or 12 digits.
    pub fn format(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12);
        self.encode_into(&mut out);
        out
    }

    /// The date as an [`AbsoluteTime`] (SMPP 3.4 §7.1.1.1), taken to be
    /// UTC (`00+`) since Appendix B gives no zone; a missing second is 0.
    pub fn to_absolute_time(&self) -> AbsoluteTime {
        AbsoluteTime {
            year: self.year,
            month: self.month,
            day: self.day,
            hour: self.hour,
            minute: self.minute,
            second: self.second.unwrap_or(0),
            tenths: 0,
            quarter_hours: 0,
            sign: Sign::Plus,
        }
    }

    /// Unix seconds of this date read as UTC (see
    /// [`ReceiptDate::to_absolute_time`]).
    pub fn to_unix_seconds(&self) -> i64 {
        self.to_absolute_time().to_unix_seconds()
    }

    /// The UTC date of `secs` since the Unix epoch (clamped to 2000–2099,
    /// as [`AbsoluteTime::from_unix_seconds`]), with seconds when
    /// `with_seconds`.
    pub fn from_unix_seconds(secs: i64, with_seconds: bool) -> ReceiptDate {
        let t = AbsoluteTime::from_unix_seconds(secs, 0);
        ReceiptDate {
            year: t.year,
            month: t.month,
            day: t.day,
            hour: t.hour,
            minute: t.minute,
            second: with_seconds.then_some(t.second),
        }
    }
}

impl fmt::Display for ReceiptDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.format() {
            fmt::Write::write_char(f, char::from(b))?;
        }
        Ok(())
    }
}

/// The `err:` value of a receipt (SMPP 3.4 Appendix B: a network-specific
/// error code, conventionally 3 characters), kept exactly as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReceiptErr(Bytes);

impl ReceiptErr {
    /// An error code as written. It should be non-empty and without
    /// whitespace, or the receipt does not round trip.
    pub fn new(raw: impl Into<Bytes>) -> ReceiptErr {
        ReceiptErr(raw.into())
    }

    /// A decimal code, zero-padded to 3 digits (`err:000`).
    pub fn from_code(code: u32) -> ReceiptErr {
        let mut v = Vec::with_capacity(10);
        push_padded(&mut v, code, 3);
        ReceiptErr(Bytes::from(v))
    }

    /// The text as written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The code as a number: all decimal digits are read as decimal
    /// (`"000"`, `"011"`); otherwise hex digits, with an optional `0x`,
    /// are read as hex (`"00B"`, `"0x1F"`). `None` for anything else or
    /// a value above `u32::MAX`.
    pub fn code(&self) -> Option<u32> {
        err_code(self.0.as_ref())
    }
}

/// An `err:` value's code, as [`ReceiptErr::code`] reads it.
pub fn err_code(s: &[u8]) -> Option<u32> {
    if let Some(v) = parse_radix(s, 10) {
        return u32::try_from(v).ok();
    }
    let hex = match s {
        [b'0', b'x' | b'X', rest @ ..] => rest,
        _ => s,
    };
    parse_radix(hex, 16).and_then(|v| u32::try_from(v).ok())
}

/// A delivery receipt (SMPP 3.4 Appendix B).
///
/// `None` fields were absent (or unreadable) and are left out by
/// [`Receipt::format`]. The message text is raw octets in the encoding of
/// the original message; drop it with `text = None` (no `text:` key) or
/// [`Receipt::redact_text`] (an empty `text:`), e.g. before logging or
/// relaying a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Receipt {
    /// The message id as written, matching `submit_sm_resp.message_id` up
    /// to spelling (see [`ids_match`]). Must be non-empty and without
    /// whitespace to round trip.
    pub id: Bytes,
    /// `sub:` — number of messages originally submitted.
    pub sub: Option<u32>,
    /// `dlvrd:` — number of messages delivered.
    pub dlvrd: Option<u32>,
    /// `submit date:` — when the message was submitted.
    pub submit_date: Option<ReceiptDate>,
    /// `done date:` — when the message reached its final state.
    pub done_date: Option<ReceiptDate>,
    /// `stat:` — the final state.
    pub stat: Option<ReceiptStat>,
    /// `err:` — network-specific error code.
    pub err: Option<ReceiptErr>,
    /// `text:` — the start of the original message, raw, to the end of the
    /// receipt.
    pub text: Option<Bytes>,
}

/// Fields found by [`scan`], as spans of the input where raw.
#[derive(Default)]
struct Scan {
    id: Option<Range<usize>>,
    empty_id: bool,
    sub: Option<u32>,
    dlvrd: Option<u32>,
    submit_date: Option<ReceiptDate>,
    done_date: Option<ReceiptDate>,
    stat: Option<ReceiptStat>,
    err: Option<Range<usize>>,
    text: Option<Range<usize>>,
}

impl Scan {
    /// Where the id is, or why there is none.
    fn id(&self) -> Result<Range<usize>, ReceiptError> {
        match &self.id {
            Some(r) => Ok(r.clone()),
            None if self.empty_id => Err(ReceiptError::EmptyId),
            None => Err(ReceiptError::MissingId),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    Text,
}

/// Separators between receipt fields.
fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c' | 0)
}

fn skip_seps(s: &[u8], mut pos: usize) -> usize {
    while s.get(pos).is_some_and(|&b| is_sep(b)) {
        pos += 1;
    }
    pos
}

fn token_end(s: &[u8], mut pos: usize) -> usize {
    while s.get(pos).is_some_and(|&b| !is_sep(b)) {
        pos += 1;
    }
    pos
}

/// If `rest` starts with `word` (ASCII case-insensitive), the length.
fn prefix_ci(rest: &[u8], word: &[u8]) -> Option<usize> {
    let head = rest.get(..word.len())?;
    head.eq_ignore_ascii_case(word).then_some(word.len())
}

/// Matches a key name at the start of `rest`: `<first>` then any run of
/// spaces, tabs, `_` or `-` then `date` for the two dates.
fn compound_key(rest: &[u8], first: &[u8]) -> Option<usize> {
    let mut i = prefix_ci(rest, first)?;
    while rest
        .get(i)
        .is_some_and(|&b| matches!(b, b' ' | b'\t' | b'_' | b'-'))
    {
        i += 1;
    }
    Some(i + prefix_ci(rest.get(i..)?, b"date")?)
}

/// If a key (any case, optional blanks before the colon) starts at `pos`,
/// the key and the position just after its `:`.
fn match_key(s: &[u8], pos: usize) -> Option<(Key, usize)> {
    let rest = s.get(pos..)?;
    let colon_after = |n: usize| -> Option<usize> {
        let mut i = n;
        while rest.get(i).is_some_and(|&b| b == b' ' || b == b'\t') {
            i += 1;
        }
        (rest.get(i) == Some(&b':')).then_some(pos + i + 1)
    };
    if let Some(end) = compound_key(rest, b"submit").and_then(colon_after) {
        return Some((Key::SubmitDate, end));
    }
    if let Some(end) = compound_key(rest, b"done").and_then(colon_after) {
        return Some((Key::DoneDate, end));
    }
    const SIMPLE: &[(&[u8], Key)] = &[
        (b"id", Key::Id),
        (b"sub", Key::Sub),
        (b"dlvrd", Key::Dlvrd),
        (b"stat", Key::Stat),
        (b"status", Key::Stat),
        (b"err", Key::Err),
        (b"error", Key::Err),
        (b"text", Key::Text),
    ];
    SIMPLE.iter().find_map(|&(word, key)| {
        let end = prefix_ci(rest, word).and_then(colon_after)?;
        Some((key, end))
    })
}

/// Reads the fields of a receipt; see [`Receipt::parse`] for the rules.
fn scan(s: &[u8]) -> Scan {
    let mut out = Scan::default();
    let mut pos = 0;
    loop {
        pos = skip_seps(s, pos);
        if pos >= s.len() {
            break;
        }
        let Some((key, after_colon)) = match_key(s, pos) else {
            // Unknown word or key: skip it.
            pos = token_end(s, pos);
            continue;
        };
        if key == Key::Text {
            out.text = Some(after_colon..s.len());
            break;
        }
        // The value is the next word, unless that word is itself a key
        // (`err: text:...` has an empty err).
        let next = skip_seps(s, after_colon);
        let start = if next > after_colon && match_key(s, next).is_some() {
            after_colon
        } else {
            next
        };
        let end = token_end(s, start);
        let value = s.get(start..end).unwrap_or_default();
        pos = end;
        if value.is_empty() {
            if key == Key::Id {
                out.empty_id = true;
            }
            continue;
        }
        match key {
            Key::Id => {
                out.id.get_or_insert(start..end);
            }
            Key::Sub => {
                if out.sub.is_none() {
                    out.sub = parse_count(value);
                }
            }
            Key::Dlvrd => {
                if out.dlvrd.is_none() {
                    out.dlvrd = parse_count(value);
                }
            }
            Key::SubmitDate => {
                if out.submit_date.is_none() {
                    out.submit_date = ReceiptDate::parse(value);
                }
            }
            Key::DoneDate => {
                if out.done_date.is_none() {
                    out.done_date = ReceiptDate::parse(value);
                }
            }
            Key::Stat => {
                if out.stat.is_none() {
                    out.stat = Some(ReceiptStat::from_word(value));
                }
            }
            Key::Err => {
                out.err.get_or_insert(start..end);
            }
            Key::Text => {}
        }
    }
    out
}

/// `sub:` / `dlvrd:` counts: decimal digits that fit a `u32`.
fn parse_count(s: &[u8]) -> Option<u32> {
    parse_radix(s, 10).and_then(|v| u32::try_from(v).ok())
}

/// All-digit text in `radix` (10 or 16, any case) as a `u128`; `None` if
/// empty, another character appears, or it overflows.
fn parse_radix(s: &[u8], radix: u32) -> Option<u128> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u128, |acc, &b| {
        let d = char::from(b).to_digit(radix)?;
        acc.checked_mul(u128::from(radix))?
            .checked_add(u128::from(d))
    })
}

fn push2(out: &mut Vec<u8>, v: u8) {
    let v = v % 100;
    out.push(b'0' + v / 10);
    out.push(b'0' + v % 10);
}

/// Appends `v` in decimal, zero-padded to at least `width` digits.
fn push_padded(out: &mut Vec<u8>, v: u32, width: usize) {
    let mut digits = [0u8; 10];
    let mut n = 0;
    let mut v = v;
    loop {
        if let Some(slot) = digits.get_mut(n) {
            *slot = b'0' + (v % 10) as u8;
        }
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend(std::iter::repeat_n(b'0', width.saturating_sub(n)));
    out.extend(digits.iter().take(n).rev());
}

/// What a gateway reads of every receipt it relays: where the `id:` value
/// sits, the `stat:` word and where the `err:` value sits; see
/// [`scan_core`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptCore {
    /// The `id:` value's octets in the text.
    pub id: Range<usize>,
    /// The `stat:` word, read as [`ReceiptStat::from_word`] does.
    pub stat: Option<ReceiptStat>,
    /// The `err:` value's octets in the text (see [`err_code`]).
    pub err: Option<Range<usize>>,
}

/// Reads the id, state and error of receipt text exactly as
/// [`Receipt::parse`] does, without reading the counts, dates and text or
/// building a [`Receipt`].
///
/// Text in the layout of SMPP 3.4 Appendix B as carriers write it (`id:`,
/// `sub:`, `dlvrd:`, `submit date:`, `done date:`, `stat:`, `err:` in that
/// order, lowercase, one space apart, each with a value, then `text:` or
/// the end) is read in one pass; anything else goes through the lenient
/// scanner of [`Receipt::parse`].
pub fn scan_core(s: &[u8]) -> Result<ReceiptCore, ReceiptError> {
    if let Some(core) = scan_canonical(s) {
        return Ok(core);
    }
    let f = scan(s);
    Ok(ReceiptCore {
        id: f.id()?,
        stat: f.stat,
        err: f.err,
    })
}

/// The Appendix B layout, keys and single spaces exactly as written
/// there; `None` at the first octet that differs. Where it answers, the
/// lenient scanner reads the same: each key comes once, in front of its
/// value with nothing between, and the scan ends at `text:`.
fn scan_canonical(s: &[u8]) -> Option<ReceiptCore> {
    /// The value starting at `pos`: up to the next separator, not empty.
    fn value(s: &[u8], pos: usize) -> Option<usize> {
        let end = token_end(s, pos);
        (end > pos).then_some(end)
    }
    /// `key` at `pos`; the position after it.
    fn key(s: &[u8], pos: usize, key: &[u8]) -> Option<usize> {
        let end = pos.checked_add(key.len())?;
        (s.get(pos..end)? == key).then_some(end)
    }
    let id_start = key(s, 0, b"id:")?;
    let mut end = value(s, id_start)?;
    let id = id_start..end;
    for k in [&b" sub:"[..], b" dlvrd:", b" submit date:", b" done date:"] {
        end = value(s, key(s, end, k)?)?;
    }
    let stat_start = key(s, end, b" stat:")?;
    end = value(s, stat_start)?;
    let stat = ReceiptStat::from_word(&s[stat_start..end]);
    let err_start = key(s, end, b" err:")?;
    end = value(s, err_start)?;
    let err = err_start..end;
    if end != s.len() {
        key(s, end, b" text:")?;
    }
    Some(ReceiptCore {
        id,
        stat: Some(stat),
        err: Some(err),
    })
}

impl Receipt {
    /// A receipt with only an id.
    pub fn new(id: impl Into<Bytes>) -> Receipt {
        Receipt {
            id: id.into(),
            ..Receipt::default()
        }
    }

    /// Parses receipt text (SMPP 3.4 Appendix B) leniently, copying the
    /// id, err and text out of `s`. Never panics, whatever the octets.
    ///
    /// * Keys are matched in any ASCII case; `submit date`, `submit_date`,
    ///   `submitdate`, `submit-date` (and `done …` alike) are the same key,
    ///   `status` and `error` are read as `stat` and `err`. Blanks may
    ///   stand before a `:` and between a `:` and its value.
    /// * Fields are separated by any run of whitespace (or NULs), come in
    ///   any order, and all but `id` may be missing. Unknown keys and
    ///   stray words are skipped. When a key repeats, the first readable
    ///   value wins.
    /// * A value runs to the next whitespace, except `text:`, which runs
    ///   to the end of the input, spaces and colons included, unaltered.
    /// * `id` is kept as written ([`Receipt::id`]); compare ids with
    ///   [`ids_match`] or [`message_id_candidates`].
    /// * A `sub`/`dlvrd` that is not a decimal `u32`, or a date that is
    ///   not a valid 10-, 12- (or `20`-prefixed 14-) digit date, becomes
    ///   `None` rather than failing the receipt.
    /// * `err` is kept as written; [`ReceiptErr::code`] reads it.
    ///
    /// Fails only without a non-empty `id` value.
    pub fn parse(s: &[u8]) -> Result<Receipt, ReceiptError> {
        Receipt::build(s, |r| Bytes::copy_from_slice(s.get(r).unwrap_or_default()))
    }

    /// As [`Receipt::parse`], but the id, err and text are slices of `s`
    /// (no copy), e.g. of a decoded `short_message`.
    pub fn parse_bytes(s: &Bytes) -> Result<Receipt, ReceiptError> {
        Receipt::build(s, |r| {
            if r.start <= r.end && r.end <= s.len() {
                s.slice(r)
            } else {
                Bytes::new()
            }
        })
    }

    fn build(s: &[u8], take: impl Fn(Range<usize>) -> Bytes) -> Result<Receipt, ReceiptError> {
        let f = scan(s);
        Ok(Receipt {
            id: take(f.id()?),
            sub: f.sub,
            dlvrd: f.dlvrd,
            submit_date: f.submit_date,
            done_date: f.done_date,
            stat: f.stat,
            err: f.err.map(|r| ReceiptErr(take(r))),
            text: f.text.map(&take),
        })
    }

    /// Appends the canonical text (SMPP 3.4 Appendix B): `id:`, `sub:`
    /// and `dlvrd:` as at least 3 zero-padded digits, `submit date:` and
    /// `done date:` as 10 digits (12 with seconds), `stat:` word, `err:`
    /// as written, and `text:` last, each `None` field left out, separated
    /// by single spaces. The text is written whole: cut it first with
    /// [`Receipt::truncate_text`] if wanted.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"id:");
        out.extend_from_slice(&self.id);
        if let Some(n) = self.sub {
            out.extend_from_slice(b" sub:");
            push_padded(out, n, 3);
        }
        if let Some(n) = self.dlvrd {
            out.extend_from_slice(b" dlvrd:");
            push_padded(out, n, 3);
        }
        if let Some(d) = &self.submit_date {
            out.extend_from_slice(b" submit date:");
            d.encode_into(out);
        }
        if let Some(d) = &self.done_date {
            out.extend_from_slice(b" done date:");
            d.encode_into(out);
        }
        if let Some(stat) = &self.stat {
            out.extend_from_slice(b" stat:");
            out.extend_from_slice(stat.word().as_bytes());
        }
        if let Some(err) = &self.err {
            out.extend_from_slice(b" err:");
            out.extend_from_slice(err.as_bytes());
        }
        if let Some(text) = &self.text {
            out.extend_from_slice(b" text:");
            out.extend_from_slice(text);
        }
    }

    /// The canonical text; see [`Receipt::encode_into`].
    pub fn format(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(120 + self.id.len() + self.text.as_ref().map_or(0, Bytes::len));
        self.encode_into(&mut out);
        out
    }

    /// Empties the text but keeps an empty `text:` key (for peers that
    /// expect it), so the receipt can be relayed or logged without message
    /// content. Set `text = None` to drop the key too.
    pub fn redact_text(&mut self) {
        if self.text.is_some() {
            self.text = Some(Bytes::new());
        }
    }

    /// Cuts the text to at most `max_chars` characters (see
    /// [`truncate_text`]); Appendix B conventionally carries
    /// [`RECEIPT_TEXT_CHARS`].
    pub fn truncate_text(&mut self, max_chars: usize) {
        if let Some(text) = &mut self.text {
            let n = truncate_text(text, max_chars).len();
            text.truncate(n);
        }
    }

    /// `message_state` (§5.2.28) of the `stat:` field, if any.
    pub fn message_state(&self) -> Option<u8> {
        self.stat.as_ref().map(ReceiptStat::to_message_state)
    }

    /// The numeric `err:` code, if present and readable
    /// ([`ReceiptErr::code`]).
    pub fn err_code(&self) -> Option<u32> {
        self.err.as_ref().and_then(ReceiptErr::code)
    }

    /// Lookup keys of the id ([`id_keys`]).
    pub fn id_keys(&self) -> IdKeys {
        id_keys(&self.id)
    }
}

/// The first `max_chars` characters of `text`: UTF-8 characters when the
/// text is valid UTF-8, otherwise octets (one per character in the
/// single-octet encodings that SMPP uses). Never splits a UTF-8 character.
pub fn truncate_text(text: &[u8], max_chars: usize) -> &[u8] {
    let end = match std::str::from_utf8(text) {
        Ok(s) => s
            .char_indices()
            .nth(max_chars)
            .map_or(text.len(), |(i, _)| i),
        Err(_) => max_chars.min(text.len()),
    };
    text.get(..end).unwrap_or(text)
}

// ---------------------------------------------------------------------------
// Message ids
// ---------------------------------------------------------------------------

/// A message id in canonical spelling: trimmed of whitespace and NULs,
/// ASCII lower case, leading `0`s removed (an all-zero id becomes `0`).
///
/// Two ids with the same `NormalizedId` are the same id written differently
/// (`"0A1B"`, `"0a1b"` and `"00000A1B"` all normalize to `a1b`). Use it as
/// the key of the table of submitted messages. It assumes ids are not
/// case-sensitive, which holds for the hex and decimal ids SMSCs issue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NormalizedId(Vec<u8>);

impl NormalizedId {
    /// The canonical octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for NormalizedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// Normalizes a message id (SMPP 3.4 §5.2.23 `message_id`, and the `id:`
/// of an Appendix B receipt); see [`NormalizedId`].
pub fn normalize_message_id(id: &[u8]) -> NormalizedId {
    NormalizedId(message_id_body(id).to_ascii_lowercase())
}

/// The part of a message id that [`normalize_message_id`] keeps, before
/// it lowercases it: separators trimmed, leading zeros dropped but one.
/// For callers that store the normalised id without allocating.
pub fn message_id_body(id: &[u8]) -> &[u8] {
    let start = id.iter().position(|&b| !is_sep(b)).unwrap_or(id.len());
    let end = id
        .iter()
        .rposition(|&b| !is_sep(b))
        .map_or(start, |i| i + 1);
    let trimmed = id.get(start..end).unwrap_or_default();
    // Keep one digit of an all-zero id.
    let zeros = trimmed.iter().take_while(|&&b| b == b'0').count();
    let zeros = if zeros == trimmed.len() {
        zeros.saturating_sub(1)
    } else {
        zeros
    };
    trimmed.get(zeros..).unwrap_or_default()
}

/// How a carrier writes message ids (like Kannel's `msg-id-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdRadix {
    /// Decimal digits.
    Decimal,
    /// Hexadecimal digits, any case.
    Hex,
}

impl IdRadix {
    fn base(self) -> u32 {
        match self {
            IdRadix::Decimal => 10,
            IdRadix::Hex => 16,
        }
    }
}

/// The numeric value of an id read in `radix` (after
/// [`normalize_message_id`]); `None` if it has other characters, is empty,
/// or exceeds `u128`.
pub fn message_id_value(id: &[u8], radix: IdRadix) -> Option<u128> {
    parse_radix(normalize_message_id(id).as_bytes(), radix.base())
}

/// Rewrites an id from one radix to another, normalized: for a carrier
/// known to write hex ids in `submit_sm_resp` and decimal ones in receipts,
/// `convert_message_id(receipt_id, Decimal, Hex)` gives the key under which
/// the submission was stored. `None` if the id is not a number in `from`.
pub fn convert_message_id(id: &[u8], from: IdRadix, to: IdRadix) -> Option<NormalizedId> {
    message_id_value(id, from).map(|v| render(v, to))
}

fn render(v: u128, radix: IdRadix) -> NormalizedId {
    NormalizedId(
        match radix {
            IdRadix::Decimal => v.to_string(),
            IdRadix::Hex => format!("{v:x}"),
        }
        .into_bytes(),
    )
}

/// The ways a message id can be read: its [`NormalizedId`], and its value
/// if it is a decimal number and if it is a hex number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdKeys {
    /// The canonical spelling.
    pub normalized: NormalizedId,
    /// The value read as decimal, if all digits (and it fits `u128`).
    pub decimal: Option<u128>,
    /// The value read as hex, if all hex digits (and it fits `u128`).
    pub hex: Option<u128>,
}

/// The keys of an id; see [`ids_match`] for how they are compared.
pub fn id_keys(id: &[u8]) -> IdKeys {
    let normalized = normalize_message_id(id);
    let decimal = parse_radix(normalized.as_bytes(), 10);
    let hex = parse_radix(normalized.as_bytes(), 16);
    IdKeys {
        normalized,
        decimal,
        hex,
    }
}

impl IdKeys {
    /// The matching rule of [`ids_match`].
    pub fn matches(&self, other: &IdKeys) -> bool {
        let cross = |a: Option<u128>, b: Option<u128>| a.is_some() && a == b;
        self.normalized == other.normalized
            || cross(self.hex, other.decimal)
            || cross(self.decimal, other.hex)
    }

    /// The spellings to look up, best first; see [`message_id_candidates`].
    pub fn candidates(&self) -> Vec<NormalizedId> {
        let mut out = vec![self.normalized.clone()];
        let alternates = [
            self.decimal.map(|v| render(v, IdRadix::Hex)),
            self.hex.map(|v| render(v, IdRadix::Decimal)),
        ];
        for c in alternates.into_iter().flatten() {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }
}

/// Whether two message ids may name the same message, e.g. the
/// `submit_sm_resp` id and a receipt's `id:`.
///
/// They match when
/// 1. their [`NormalizedId`]s are equal (same id up to case, leading zeros
///    and surrounding whitespace: `"0A1B"` = `"0a1b"` = `"00000A1B"`;
///    for numbers this is equality of value in the same radix), or
/// 2. one read as hex equals the other read as decimal (`"0A1B"` =
///    `"2587"`): carriers that answer `submit_sm_resp` in hex and write
///    receipts in decimal, or the reverse.
///
/// Rule 2 is a guess. An id of digits only reads both ways, so two
/// *different* all-digit ids can match (`"10"` hex is `"16"` decimal).
/// Prefer an exact [`NormalizedId`] hit, and fall back on rule 2 only when
/// none exists (as [`message_id_candidates`] orders it), or configure the
/// carrier's radix and use [`convert_message_id`].
pub fn ids_match(a: &[u8], b: &[u8]) -> bool {
    id_keys(a).matches(&id_keys(b))
}

/// The [`NormalizedId`]s under which a message with id `id` may have been
/// stored, best first, without duplicates (at most 3):
///
/// 1. `normalize_message_id(id)`;
/// 2. if `id` is decimal, its value written in hex;
/// 3. if `id` is hex, its value written in decimal.
///
/// Store submitted messages under `normalize_message_id(resp_id)`; for a
/// receipt, look each candidate up in order and take the first hit. The
/// stored id `s` is among the candidates of `id` exactly when
/// `ids_match(s, id)`. Entries 2 and 3 carry the risk described in
/// [`ids_match`].
pub fn message_id_candidates(id: &[u8]) -> Vec<NormalizedId> {
    id_keys(id).candidates()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CANONICAL: &[u8] = b"id:0123456789 sub:001 dlvrd:001 submit date:0610191018 \
done date:0610191018 stat:DELIVRD err:000 text:Hello";

    fn date(y: u8, mo: u8, d: u8, h: u8, mi: u8, s: Option<u8>) -> ReceiptDate {
        ReceiptDate {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: s,
        }
    }

    #[test]
    fn canonical_example() {
        let r = Receipt::parse(CANONICAL).unwrap();
        let d = date(6, 10, 19, 10, 18, None);
        assert_eq!(
            r,
            Receipt {
                id: Bytes::from_static(b"0123456789"),
                sub: Some(1),
                dlvrd: Some(1),
                submit_date: Some(d),
                done_date: Some(d),
                stat: Some(ReceiptStat::Delivered),
                err: Some(ReceiptErr::from_code(0)),
                text: Some(Bytes::from_static(b"Hello")),
            }
        );
        assert_eq!(r.format(), CANONICAL);
        assert_eq!(r.message_state(), Some(2));
        assert_eq!(r.err_code(), Some(0));
        assert_eq!(Receipt::parse_bytes(&Bytes::from_static(CANONICAL)), Ok(r));
    }

    #[test]
    fn kannel_style() {
        // Capitalised `Text:` as Kannel's examples show it, and a longer text.
        let s = b"id:1234567890 sub:001 dlvrd:001 submit date:0707121545 \
done date:0707121546 stat:DELIVRD err:000 Text:Hello World: again";
        let r = Receipt::parse(s).unwrap();
        assert_eq!(&r.id[..], b"1234567890");
        assert_eq!(r.done_date, Some(date(7, 7, 12, 15, 46, None)));
        assert_eq!(r.text.as_deref(), Some(&b"Hello World: again"[..]));
        // Re-emitted with the canonical lower-case key.
        assert_eq!(
            r.format(),
            b"id:1234567890 sub:001 dlvrd:001 submit date:0707121545 \
done date:0707121546 stat:DELIVRD err:000 text:Hello World: again"
        );
    }

    #[test]
    fn smppkit_style() {
        // A receipt as smppkit-like simulators build it: hex id, text cut
        // to the first 20 characters of the message.
        let message = b"This is a fairly long message body";
        let mut r = Receipt {
            id: Bytes::from_static(b"5F3A9C01"),
            sub: Some(1),
            dlvrd: Some(1),
            submit_date: Some(date(24, 2, 29, 23, 59, None)),
            done_date: Some(date(24, 3, 1, 0, 0, None)),
            stat: Some(ReceiptStat::Delivered),
            err: Some(ReceiptErr::from_code(0)),
            text: Some(Bytes::copy_from_slice(message)),
        };
        r.truncate_text(RECEIPT_TEXT_CHARS);
        let s = r.format();
        assert_eq!(
            s,
            b"id:5F3A9C01 sub:001 dlvrd:001 submit date:2402292359 \
done date:2403010000 stat:DELIVRD err:000 text:This is a fairly lon"
        );
        assert_eq!(Receipt::parse(&s), Ok(r));
    }

    #[test]
    fn lenient_keys_and_layout() {
        let s = b"  ID:00000A1B\tSUB:1  DLVRD:0\r\nSubmit_Date:230615120030 \
DoneDate : 2306151201 Stat: undeliv  Foo:bar Err:00B network:x TEXT:";
        let r = Receipt::parse(s).unwrap();
        assert_eq!(&r.id[..], b"00000A1B");
        assert_eq!(r.sub, Some(1));
        assert_eq!(r.dlvrd, Some(0));
        assert_eq!(r.submit_date, Some(date(23, 6, 15, 12, 0, Some(30))));
        assert_eq!(r.done_date, Some(date(23, 6, 15, 12, 1, None)));
        assert_eq!(r.stat, Some(ReceiptStat::Undeliverable));
        assert_eq!(r.err.as_ref().map(ReceiptErr::as_bytes), Some(&b"00B"[..]));
        assert_eq!(r.err_code(), Some(11));
        assert_eq!(r.text.as_deref(), Some(&b""[..]));

        // Fields in another order, spelled-out stat, hyphenated date key.
        let r = Receipt::parse(b"stat:DELIVERED submit-date:2306151200 id:77").unwrap();
        assert_eq!(&r.id[..], b"77");
        assert_eq!(r.stat, Some(ReceiptStat::Delivered));
        assert_eq!(r.submit_date, Some(date(23, 6, 15, 12, 0, None)));
        assert_eq!(r.format(), b"id:77 submit date:2306151200 stat:DELIVRD");

        // An empty value before the next key stays empty.
        let r = Receipt::parse(b"id:1 err: stat:EXPIRED text:x").unwrap();
        assert_eq!(r.err, None);
        assert_eq!(r.stat, Some(ReceiptStat::Expired));
    }

    #[test]
    fn missing_and_bad_fields() {
        let r = Receipt::parse(b"id:abc").unwrap();
        assert_eq!(r, Receipt::new(Bytes::from_static(b"abc")));
        assert_eq!(r.format(), b"id:abc");

        // Bad dates and counts do not fail the receipt.
        let r = Receipt::parse(
            b"id:1 sub:x dlvrd:99999999999 submit date:2302291200 done date:061019 stat:weird",
        )
        .unwrap();
        assert_eq!(
            (r.sub, r.dlvrd, r.submit_date, r.done_date),
            (None, None, None, None)
        );
        assert_eq!(r.stat, Some(ReceiptStat::Other("weird".into())));
        assert_eq!(r.message_state(), Some(7));

        assert_eq!(Receipt::parse(b""), Err(ReceiptError::MissingId));
        assert_eq!(
            Receipt::parse(b"sub:001 stat:DELIVRD text:id:5"),
            Err(ReceiptError::MissingId)
        );
        assert_eq!(
            Receipt::parse(b"id: stat:DELIVRD"),
            Err(ReceiptError::EmptyId)
        );
        assert_eq!(Receipt::parse(b"id:"), Err(ReceiptError::EmptyId));
        assert!(!ReceiptError::MissingId.to_string().is_empty());
        // `text:` swallows what looks like keys; the first id wins.
        let r = Receipt::parse(b"id:1 id:2 text:stat:DELIVRD").unwrap();
        assert_eq!((&r.id[..], r.stat.is_none()), (&b"1"[..], true));
        // Non-UTF-8 is fine.
        let r = Receipt::parse(b"id:\xff\xfe stat:\xff text:\x00\x01").unwrap();
        assert_eq!(&r.id[..], b"\xff\xfe");
        assert_eq!(r.text.as_deref(), Some(&b"\x00\x01"[..]));
    }

    #[test]
    fn dates() {
        assert_eq!(
            ReceiptDate::parse(b"2402291200"),
            Some(date(24, 2, 29, 12, 0, None))
        );
        assert_eq!(
            ReceiptDate::parse(b"240229120059"),
            Some(date(24, 2, 29, 12, 0, Some(59)))
        );
        assert_eq!(
            ReceiptDate::parse(b"20240229120059"),
            Some(date(24, 2, 29, 12, 0, Some(59)))
        );
        for bad in [
            &b"2302291200"[..],
            b"2313011200",
            b"2301012400",
            b"2301011260",
            b"230101120060",
            b"23010112",
            b"19240229120059",
            b"24022912OO",
        ] {
            assert_eq!(
                ReceiptDate::parse(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let d = date(24, 2, 29, 12, 0, None);
        assert_eq!(d.to_unix_seconds(), 1_709_208_000);
        assert_eq!(ReceiptDate::from_unix_seconds(1_709_208_000, false), d);
        assert_eq!(d.to_string(), "2402291200");
    }

    #[test]
    fn stat_words_and_states() {
        for state in 1..=9u8 {
            let stat = ReceiptStat::from_message_state(state).unwrap();
            assert_eq!(stat.to_message_state(), state);
            assert_eq!(ReceiptStat::from_word(stat.word().as_bytes()), stat);
            assert_eq!(
                ReceiptStat::from_word(stat.word().to_lowercase().as_bytes()),
                stat
            );
            assert!(MessageState::from(&stat).name().is_some());
        }
        assert_eq!(ReceiptStat::from_message_state(0), None);
        assert_eq!(ReceiptStat::from_message_state(10), None);
        for (w, s) in [
            ("delivered", ReceiptStat::Delivered),
            ("Undeliverable", ReceiptStat::Undeliverable),
            ("ACCEPTED", ReceiptStat::Accepted),
            ("rejected", ReceiptStat::Rejected),
            ("REJECTD", ReceiptStat::Rejected),
            ("undelivered", ReceiptStat::Undeliverable),
            ("Undeliv", ReceiptStat::Undeliverable),
            ("acceptd", ReceiptStat::Accepted),
            ("Delivrd", ReceiptStat::Delivered),
        ] {
            assert_eq!(ReceiptStat::from_word(w.as_bytes()), s);
        }
        for w in ["", "DELIVRD2", "UNDELIVERABLES", "DELİVRD", "déliv"] {
            assert_eq!(
                ReceiptStat::from_word(w.as_bytes()),
                ReceiptStat::Other(w.to_owned()),
                "{w:?}"
            );
        }
        assert_eq!(MessageState::SKIPPED.name(), Some("SKIPPED"));
        assert_eq!(MessageState(200).name(), None);
    }

    #[test]
    fn err_codes() {
        let code = |s: &'static [u8]| ReceiptErr::new(Bytes::from_static(s)).code();
        assert_eq!(code(b"000"), Some(0));
        assert_eq!(code(b"011"), Some(11));
        assert_eq!(code(b"00B"), Some(11));
        assert_eq!(code(b"0x1f"), Some(31));
        assert_eq!(code(b"E:1"), None);
        assert_eq!(code(b"99999999999"), None);
        assert_eq!(ReceiptErr::from_code(7).as_bytes(), b"007");
        assert_eq!(ReceiptErr::from_code(1234).as_bytes(), b"1234");
    }

    #[test]
    fn text_helpers() {
        assert_eq!(truncate_text(b"short", 20), b"short");
        assert_eq!(
            truncate_text(b"0123456789abcdefghijKLM", 20),
            b"0123456789abcdefghij"
        );
        // UTF-8 is cut on character boundaries.
        let s = "ééééé".as_bytes();
        assert_eq!(truncate_text(s, 2), "éé".as_bytes());
        // Other octets are cut as octets.
        assert_eq!(truncate_text(b"\xe9\xe9\xe9", 2), b"\xe9\xe9");
        assert_eq!(truncate_text(b"abc", 0), b"");

        let mut r = Receipt::parse(CANONICAL).unwrap();
        r.redact_text();
        assert!(r.format().ends_with(b" err:000 text:"));
        r.text = None;
        assert!(r.format().ends_with(b" err:000"));
        r.redact_text();
        assert_eq!(r.text, None);
    }

    #[test]
    fn id_normalization() {
        let n = |s: &[u8]| normalize_message_id(s);
        assert_eq!(n(b"0A1B"), n(b"0a1b"));
        assert_eq!(n(b"00000A1B"), n(b"a1b"));
        assert_eq!(n(b" 0A1B\0").as_bytes(), b"a1b");
        assert_eq!(n(b"0000").as_bytes(), b"0");
        assert_eq!(n(b"").as_bytes(), b"");
        assert_eq!(n(b"  ").as_bytes(), b"");
        assert_eq!(n(b"0123456789").as_bytes(), b"123456789");
        assert_ne!(n(b"0A1B"), n(b"2587"));

        // Same id, different spellings.
        for (a, b) in [
            (&b"0A1B"[..], &b"2587"[..]), // hex resp, decimal receipt
            (b"2587", b"0a1b"),           // decimal resp, hex receipt
            (b"0A1B", b"0a1b"),
            (b"0A1B", b"00000A1B"),
            (b"00000123", b"123"),
            (b"ABC-def", b"abc-DEF"), // opaque ids: case only
            (b"10", b"16"),           // all-digit hex resp "10" = decimal 16
        ] {
            assert!(ids_match(a, b), "{a:?} {b:?}");
            assert!(ids_match(b, a), "{a:?} {b:?}");
            assert!(message_id_candidates(b).contains(&n(a)));
        }
        for (a, b) in [
            (&b"0A1B"[..], &b"0A1C"[..]),
            (b"2587", b"2588"),
            (b"abc-def", b"abc-de"),
            (b"", b"0"),
        ] {
            assert!(!ids_match(a, b), "{a:?} {b:?}");
        }

        // Candidates: exact spelling first, then the cross-radix guesses.
        let c = message_id_candidates(b"2587");
        let c: Vec<&[u8]> = c.iter().map(NormalizedId::as_bytes).collect();
        assert_eq!(c, [&b"2587"[..], b"a1b", b"9607"]);
        let c = message_id_candidates(b"00000A1B");
        let c: Vec<&[u8]> = c.iter().map(NormalizedId::as_bytes).collect();
        assert_eq!(c, [&b"a1b"[..], b"2587"]);
        assert_eq!(message_id_candidates(b"7").len(), 1);
        assert_eq!(message_id_candidates(b"msg-1").len(), 1);

        // Configured radix.
        assert_eq!(
            convert_message_id(b"2587", IdRadix::Decimal, IdRadix::Hex),
            Some(n(b"0A1B"))
        );
        assert_eq!(
            convert_message_id(b"0A1B", IdRadix::Hex, IdRadix::Decimal),
            Some(n(b"2587"))
        );
        assert_eq!(
            convert_message_id(b"0A1B", IdRadix::Decimal, IdRadix::Hex),
            None
        );
        assert_eq!(
            message_id_value(b"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", IdRadix::Hex),
            Some(u128::MAX)
        );
        assert_eq!(
            message_id_value(b"1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", IdRadix::Hex),
            None
        );
        let r = Receipt::parse(b"id:00000A1B").unwrap();
        assert_eq!(r.id_keys().hex, Some(0xa1b));
        assert_eq!(r.id_keys().decimal, None);
    }

    fn any_date() -> impl Strategy<Value = ReceiptDate> {
        (
            0u8..100,
            1u8..13,
            1u8..32,
            0u8..24,
            0u8..60,
            proptest::option::of(0u8..60),
        )
            .prop_filter_map("day past end of month", |(y, mo, d, h, mi, s)| {
                let r = date(y, mo, d, h, mi, s);
                r.is_valid().then_some(r)
            })
    }

    fn any_stat() -> impl Strategy<Value = ReceiptStat> {
        prop_oneof![
            (1u8..10)
                .prop_map(|s| ReceiptStat::from_message_state(s).unwrap_or(ReceiptStat::Unknown)),
            "[A-Za-z_]{1,12}".prop_map(|w| ReceiptStat::from_word(w.as_bytes())),
        ]
    }

    fn any_receipt() -> impl Strategy<Value = Receipt> {
        (
            "[0-9A-Za-z_-]{1,40}",
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any_date()),
            proptest::option::of(any_date()),
            proptest::option::of(any_stat()),
            proptest::option::of("[0-9A-Za-z]{1,4}"),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..60)),
        )
            .prop_map(
                |(id, sub, dlvrd, submit_date, done_date, stat, err, text)| Receipt {
                    id: Bytes::from(id),
                    sub,
                    dlvrd,
                    submit_date,
                    done_date,
                    stat,
                    err: err.map(ReceiptErr::new),
                    text: text.map(Bytes::from),
                },
            )
    }

    /// [`scan_core`]'s answer, as read through [`Receipt::parse_bytes`].
    fn core_of_parse(s: &[u8]) -> Result<ReceiptCore, ReceiptError> {
        let b = Bytes::copy_from_slice(s);
        let r = Receipt::parse_bytes(&b)?;
        let at = |v: &Bytes| {
            let start = v.as_ptr() as usize - b.as_ptr() as usize;
            start..start + v.len()
        };
        Ok(ReceiptCore {
            id: at(&r.id),
            stat: r.stat,
            err: r.err.as_ref().map(|e| at(&e.0)),
        })
    }

    #[test]
    fn scan_core_reads_carrier_layouts() {
        let s = b"id:0a1B sub:001 dlvrd:001 submit date:2611300809 done date:2611300810 stat:DELIVRD err:000 text:hello there";
        let c = scan_core(s).unwrap();
        assert_eq!(&s[c.id.clone()], b"0a1B");
        assert_eq!(c.stat, Some(ReceiptStat::Delivered));
        assert_eq!(err_code(&s[c.err.clone().unwrap()]), Some(0));
        assert_eq!(Ok(c), core_of_parse(s));
        // Without text, upper-case keys, NUL-terminated, tabs: the same
        // answers as the lenient parser.
        for s in [
            &b"id:77 sub:001 dlvrd:000 submit date:2611300809 done date:2611300810 stat:UNDELIV err:0x1F"[..],
            b"ID:77 SUB:001 DLVRD:000 SUBMIT DATE:2611300809 DONE DATE:2611300810 STAT:UNDELIV ERR:0x1F",
            b"id:77 sub:001 dlvrd:000 submit date:2611300809 done date:2611300810 stat:EXPIRED err:001\0",
            b"id:77\tsub:001 dlvrd:000 submit date:x done date:y stat:EXPIRED err:001 text:",
            b"id:77 sub:001 dlvrd:000 submit date:x done date:y stat: err:001 text:",
            b"id: sub:001",
            b"stat:DELIVRD",
        ] {
            assert_eq!(scan_core(s), core_of_parse(s), "{}", String::from_utf8_lossy(s));
        }
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(r in any_receipt()) {
            let s = r.format();
            prop_assert_eq!(Receipt::parse(&s), Ok(r.clone()));
            prop_assert_eq!(Receipt::parse_bytes(&Bytes::from(s)), Ok(r));
        }

        #[test]
        fn parse_never_panics(s in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(r) = Receipt::parse(&s) {
                let _ = r.format();
                let _ = r.err_code();
                let _ = r.id_keys().candidates();
            }
        }

        #[test]
        fn parse_never_panics_receiptish(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("id:".to_string()), Just("sub:".to_string()), Just("dlvrd:".to_string()),
                    Just("submit date:".to_string()), Just("done_date:".to_string()),
                    Just("stat:".to_string()), Just("err:".to_string()), Just("text:".to_string()),
                    Just(" ".to_string()), Just(":".to_string()), "[0-9A-Fa-z]{0,14}",
                ],
                0..24,
            )
        ) {
            let s = parts.concat();
            let _ = Receipt::parse(s.as_bytes());
        }

        #[test]
        fn scan_core_reads_what_parse_reads(r in any_receipt()) {
            // Canonical text (the fast path) ...
            let s = r.format();
            prop_assert_eq!(core_of_parse(&s), scan_core(&s));
            // ... and the same text bent out of the layout (the scanner).
            let bent = String::from_utf8_lossy(&s).replace(" stat:", "  STAT:");
            prop_assert_eq!(core_of_parse(bent.as_bytes()), scan_core(bent.as_bytes()));
        }

        #[test]
        fn scan_core_agrees_with_parse_on_receiptish_text(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("id:".to_string()), Just(" sub:".to_string()), Just(" dlvrd:".to_string()),
                    Just(" submit date:".to_string()), Just(" done date:".to_string()),
                    Just(" stat:".to_string()), Just(" err:".to_string()), Just(" text:".to_string()),
                    Just(" ".to_string()), Just("\0".to_string()), Just(":".to_string()),
                    "[0-9A-Za-z]{0,10}",
                ],
                0..24,
            )
        ) {
            let s = parts.concat();
            prop_assert_eq!(core_of_parse(s.as_bytes()), scan_core(s.as_bytes()));
        }

        #[test]
        fn ids_match_agrees_with_candidates(
            a in "0{0,3}[0-9a-fA-F]{1,6}|[0-9a-z-]{1,8}",
            b in "0{0,3}[0-9a-fA-F]{1,6}|[0-9a-z-]{1,8}",
        ) {
            let m = ids_match(a.as_bytes(), b.as_bytes());
            prop_assert_eq!(m, ids_match(b.as_bytes(), a.as_bytes()));
            prop_assert_eq!(
                m,
                message_id_candidates(b.as_bytes()).contains(&normalize_message_id(a.as_bytes()))
            );
        }

        #[test]
        fn spellings_of_one_value_match(v in any::<u64>(), zeros in 0usize..4, upper in any::<bool>()) {
            let hex = format!("{}{v:x}", "0".repeat(zeros));
            let hex = if upper { hex.to_uppercase() } else { hex };
            let dec = v.to_string();
            prop_assert!(ids_match(hex.as_bytes(), dec.as_bytes()));
            let upper_hex = format!("{v:X}");
            prop_assert!(ids_match(hex.as_bytes(), upper_hex.as_bytes()));
            prop_assert_eq!(
                convert_message_id(dec.as_bytes(), IdRadix::Decimal, IdRadix::Hex),
                Some(normalize_message_id(hex.as_bytes()))
            );
        }
    }
}
