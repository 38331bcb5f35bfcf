//! SMPP time strings (SMPP 3.4 §7.1.1; SMPP 5.0 §4.7.23.4).
//!
//! `schedule_delivery_time` and `validity_period` carry a C-Octet String that
//! is either empty ("not set") or exactly 16 characters:
//!
//! * absolute time (§7.1.1.1), `YYMMDDhhmmsstnnp`: a local date and time,
//!   `t` tenths of a second, `nn` the offset from UTC in quarter-hours
//!   (00–48) and `p` `'+'` (local time is ahead of UTC) or `'-'` (behind);
//! * relative time (§7.1.1.2), `YYMMDDhhmmss000R`: an interval from the
//!   SMSC's current time.
//!
//! [`SmppTime::parse`] validates a 16-octet string (the C-Octet terminator is
//! not part of it); [`SmppTime::format`] writes one back. For every valid
//! value `parse(format(x)) == x`. Dates and epoch seconds are converted with
//! the proleptic Gregorian calendar (Howard Hinnant's `days_from_civil`),
//! with two-digit years read as 2000–2099.

use std::fmt;

/// Length of a non-empty SMPP time string (SMPP 3.4 §7.1.1).
pub const TIME_LEN: usize = 16;

/// Seconds in a day.
const DAY: i64 = 86_400;
/// Days from 1970-01-01 to 2000-01-01.
const DAYS_1970_TO_2000: i64 = 10_957;
/// Unix seconds of 2000-01-01T00:00:00Z, the first instant of year `00`.
const MIN_UNIX: i64 = DAYS_1970_TO_2000 * DAY;
/// Unix seconds of 2099-12-31T23:59:59Z, the last instant of year `99`.
const MAX_UNIX: i64 = 4_102_444_799;

/// Why a string is not a valid SMPP time (SMPP 3.4 §7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeError {
    /// Not exactly 16 octets (`found` is the length seen).
    Length {
        /// Length of the rejected string.
        found: usize,
    },
    /// A non-digit where §7.1.1 requires a digit (0-based `offset`).
    NotDigit {
        /// 0-based offset of the offending octet.
        offset: u8,
    },
    /// The 16th character is not `'+'`, `'-'` or `'R'`.
    BadIndicator {
        /// The octet found in position 16.
        found: u8,
    },
    /// Month outside 01–12.
    Month,
    /// Day 00 or past the end of the month (leap years read as 20YY).
    Day,
    /// Hour above 23.
    Hour,
    /// Minute above 59.
    Minute,
    /// Second above 59.
    Second,
    /// UTC offset `nn` above 48 quarter-hours.
    Offset,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeError::Length { found } => {
                write!(f, "SMPP time must be 16 characters, found {found}")
            }
            TimeError::NotDigit { offset } => {
                write!(f, "SMPP time has a non-digit at offset {offset}")
            }
            TimeError::BadIndicator { found } => write!(
                f,
                "SMPP time indicator must be '+', '-' or 'R', found 0x{found:02x}"
            ),
            TimeError::Month => f.write_str("SMPP time month out of range"),
            TimeError::Day => f.write_str("SMPP time day out of range"),
            TimeError::Hour => f.write_str("SMPP time hour out of range"),
            TimeError::Minute => f.write_str("SMPP time minute out of range"),
            TimeError::Second => f.write_str("SMPP time second out of range"),
            TimeError::Offset => f.write_str("SMPP time UTC offset above 48 quarter-hours"),
        }
    }
}

impl std::error::Error for TimeError {}

/// Direction of an absolute time's UTC offset (the `p` of §7.1.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sign {
    /// `'+'`: local time is ahead of UTC.
    #[default]
    Plus,
    /// `'-'`: local time is behind UTC.
    Minus,
}

impl Sign {
    /// The character written for this sign.
    pub fn as_byte(self) -> u8 {
        match self {
            Sign::Plus => b'+',
            Sign::Minus => b'-',
        }
    }
}

/// An absolute SMPP time, `YYMMDDhhmmsstnnp` (SMPP 3.4 §7.1.1.1).
///
/// Fields hold the values as written: a local date and time plus its offset
/// from UTC. Values produced by [`SmppTime::parse`] are always in range (see
/// [`AbsoluteTime::is_valid`]); out-of-range values built by hand still
/// format and convert without panicking, but do not round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AbsoluteTime {
    /// Year of the century, 00–99 (read as 2000–2099).
    pub year: u8,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–28/29/30/31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
    /// Tenths of a second, 0–9.
    pub tenths: u8,
    /// Offset from UTC in quarter-hours, 0–48.
    pub quarter_hours: u8,
    /// Direction of the offset.
    pub sign: Sign,
}

/// A relative SMPP time, `YYMMDDhhmmss000R` (SMPP 3.4 §7.1.1.2).
///
/// Each field is a two-digit count, 00–99; §7.1.1.2 sets no smaller ranges,
/// so e.g. 36 hours is accepted as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RelativeTime {
    /// Years, 0–99 (365 days each in [`RelativeTime::to_seconds`]).
    pub years: u8,
    /// Months, 0–99 (30 days each in [`RelativeTime::to_seconds`]).
    pub months: u8,
    /// Days, 0–99.
    pub days: u8,
    /// Hours, 0–99.
    pub hours: u8,
    /// Minutes, 0–99.
    pub minutes: u8,
    /// Seconds, 0–99.
    pub seconds: u8,
}

/// A non-empty SMPP time string, absolute or relative (SMPP 3.4 §7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmppTime {
    /// `YYMMDDhhmmsstnnp` with `p` = `'+'` or `'-'`.
    Absolute(AbsoluteTime),
    /// `YYMMDDhhmmss000R`.
    Relative(RelativeTime),
}

/// Whether `20YY` is a leap year.
fn is_leap(year2: u8) -> bool {
    let y = 2000 + u32::from(year2);
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Number of days in `month` (1–12) of year `20YY`; 0 for a bad month.
pub(crate) fn days_in_month(year2: u8, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year2) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
/// `days_from_civil`). Any input is accepted without overflow for the
/// ranges used here.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (m + 9).rem_euclid(12); // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01
/// (Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = if m <= 2 { y + 1 } else { y };
    // `d` and `m` are in 1..=31 and 1..=12 by construction.
    (y, m as u8, d as u8)
}

/// Writes `v` as two decimal digits (values above 99 wrap modulo 100).
fn put2(out: &mut [u8], at: usize, v: u8) {
    let v = v % 100;
    if let Some(slot) = out.get_mut(at..at + 2) {
        slot[0] = b'0' + v / 10;
        slot[1] = b'0' + v % 10;
    }
}

/// Reads the two digits at `at`, reporting the first non-digit.
fn get2(s: &[u8; TIME_LEN], at: usize) -> Result<u8, TimeError> {
    let d = |i: usize| {
        let b = s[i];
        if b.is_ascii_digit() {
            Ok(b - b'0')
        } else {
            Err(TimeError::NotDigit { offset: i as u8 })
        }
    };
    Ok(d(at)? * 10 + d(at + 1)?)
}

impl SmppTime {
    /// Parses a 16-octet SMPP time string (SMPP 3.4 §7.1.1), without its
    /// C-Octet NUL terminator.
    ///
    /// Absolute times are checked fully: month 01–12, day within the month
    /// (February 29 only in leap years, the year read as 20YY), hour ≤ 23,
    /// minute and second ≤ 59, tenths any digit, offset `nn` ≤ 48 and
    /// indicator `'+'` or `'-'`.
    ///
    /// Relative times need 15 digits and `'R'`. Each two-digit field may be
    /// 00–99. The `tnn` digits before `'R'` should be `000` (§7.1.1.2), but
    /// some SMSCs write other digits there; any digits are accepted and
    /// ignored, and [`SmppTime::format`] writes `000`.
    pub fn parse(s: &[u8]) -> Result<SmppTime, TimeError> {
        let s: &[u8; TIME_LEN] = s
            .try_into()
            .map_err(|_| TimeError::Length { found: s.len() })?;
        let year = get2(s, 0)?;
        let month = get2(s, 2)?;
        let day = get2(s, 4)?;
        let hour = get2(s, 6)?;
        let minute = get2(s, 8)?;
        let second = get2(s, 10)?;
        if !s[12].is_ascii_digit() {
            return Err(TimeError::NotDigit { offset: 12 });
        }
        let tenths = s[12] - b'0';
        let quarter_hours = get2(s, 13)?;
        let sign = match s[15] {
            b'+' => Sign::Plus,
            b'-' => Sign::Minus,
            b'R' => {
                return Ok(SmppTime::Relative(RelativeTime {
                    years: year,
                    months: month,
                    days: day,
                    hours: hour,
                    minutes: minute,
                    seconds: second,
                }))
            }
            found => return Err(TimeError::BadIndicator { found }),
        };
        let t = AbsoluteTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            tenths,
            quarter_hours,
            sign,
        };
        t.check()?;
        Ok(SmppTime::Absolute(t))
    }

    /// Parses an optional time field: empty means "not set" (`Ok(None)`),
    /// anything else must satisfy [`SmppTime::parse`].
    pub fn parse_optional(s: &[u8]) -> Result<Option<SmppTime>, TimeError> {
        if s.is_empty() {
            Ok(None)
        } else {
            SmppTime::parse(s).map(Some)
        }
    }

    /// The 16-character string (SMPP 3.4 §7.1.1), without a NUL terminator.
    pub fn format(&self) -> [u8; TIME_LEN] {
        match self {
            SmppTime::Absolute(t) => t.format(),
            SmppTime::Relative(t) => t.format(),
        }
    }
}

impl fmt::Display for SmppTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_ascii(f, &self.format())
    }
}

impl From<AbsoluteTime> for SmppTime {
    fn from(t: AbsoluteTime) -> SmppTime {
        SmppTime::Absolute(t)
    }
}

impl From<RelativeTime> for SmppTime {
    fn from(t: RelativeTime) -> SmppTime {
        SmppTime::Relative(t)
    }
}

/// Writes formatter output that is known to be ASCII digits and signs.
fn write_ascii(f: &mut fmt::Formatter<'_>, s: &[u8]) -> fmt::Result {
    for &b in s {
        fmt::Write::write_char(f, char::from(b))?;
    }
    Ok(())
}

/// Checks a time field of a PDU (SMPP 3.4 §7.1.1): empty ("not set") is
/// valid, anything else must satisfy [`SmppTime::parse`].
pub fn validate_time_field(s: &[u8]) -> Result<(), TimeError> {
    SmppTime::parse_optional(s).map(|_| ())
}

impl AbsoluteTime {
    /// Checks every field against the ranges of SMPP 3.4 §7.1.1.1.
    fn check(&self) -> Result<(), TimeError> {
        if self.year > 99 {
            return Err(TimeError::NotDigit { offset: 0 });
        }
        if !(1..=12).contains(&self.month) {
            return Err(TimeError::Month);
        }
        if self.day == 0 || self.day > days_in_month(self.year, self.month) {
            return Err(TimeError::Day);
        }
        if self.hour > 23 {
            return Err(TimeError::Hour);
        }
        if self.minute > 59 {
            return Err(TimeError::Minute);
        }
        if self.second > 59 {
            return Err(TimeError::Second);
        }
        if self.tenths > 9 {
            return Err(TimeError::NotDigit { offset: 12 });
        }
        if self.quarter_hours > 48 {
            return Err(TimeError::Offset);
        }
        Ok(())
    }

    /// Whether every field is within the ranges of SMPP 3.4 §7.1.1.1 (and
    /// so the value round trips through [`AbsoluteTime::format`]).
    pub fn is_valid(&self) -> bool {
        self.check().is_ok()
    }

    /// The 16-character string `YYMMDDhhmmsstnnp` (SMPP 3.4 §7.1.1.1).
    /// Out-of-range fields wrap to their last digits.
    pub fn format(&self) -> [u8; TIME_LEN] {
        let mut out = [b'0'; TIME_LEN];
        put2(&mut out, 0, self.year);
        put2(&mut out, 2, self.month);
        put2(&mut out, 4, self.day);
        put2(&mut out, 6, self.hour);
        put2(&mut out, 8, self.minute);
        put2(&mut out, 10, self.second);
        out[12] = b'0' + self.tenths % 10;
        put2(&mut out, 13, self.quarter_hours);
        out[15] = self.sign.as_byte();
        out
    }

    /// The offset from UTC in seconds (positive east of UTC).
    pub fn offset_seconds(&self) -> i64 {
        let s = i64::from(self.quarter_hours) * 900;
        match self.sign {
            Sign::Plus => s,
            Sign::Minus => -s,
        }
    }

    /// Seconds since 1970-01-01T00:00:00Z of this instant, the year read as
    /// 20YY and the local time shifted by its UTC offset (SMPP 3.4
    /// §7.1.1.1). Tenths are dropped. Never panics, even for out-of-range
    /// fields (the result is then meaningless).
    pub fn to_unix_seconds(&self) -> i64 {
        let days = days_from_civil(
            2000 + i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        days * DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - self.offset_seconds()
    }

    /// The UTC time (`nn` = `00`, `p` = `'+'`) of `secs` since the Unix
    /// epoch, with `tenths` (values above 9 become 9).
    ///
    /// Two-digit years cover only 2000–2099, so `secs` is clamped to
    /// 2000-01-01T00:00:00Z ..= 2099-12-31T23:59:59Z.
    pub fn from_unix_seconds(secs: i64, tenths: u8) -> AbsoluteTime {
        let secs = secs.clamp(MIN_UNIX, MAX_UNIX);
        let days = secs.div_euclid(DAY);
        let rem = secs.rem_euclid(DAY);
        let (y, month, day) = civil_from_days(days);
        // In range by the clamp: y is 2000..=2099, rem < 86400.
        let year = (y - 2000).clamp(0, 99) as u8;
        AbsoluteTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
            tenths: tenths.min(9),
            quarter_hours: 0,
            sign: Sign::Plus,
        }
    }
}

impl fmt::Display for AbsoluteTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_ascii(f, &self.format())
    }
}

impl RelativeTime {
    /// The 16-character string `YYMMDDhhmmss000R` (SMPP 3.4 §7.1.1.2).
    /// Fields above 99 wrap to their last two digits.
    pub fn format(&self) -> [u8; TIME_LEN] {
        let mut out = [b'0'; TIME_LEN];
        put2(&mut out, 0, self.years);
        put2(&mut out, 2, self.months);
        put2(&mut out, 4, self.days);
        put2(&mut out, 6, self.hours);
        put2(&mut out, 8, self.minutes);
        put2(&mut out, 10, self.seconds);
        out[15] = b'R';
        out
    }

    /// Length of the interval in seconds.
    ///
    /// §7.1.1.2 does not define the length of a month or year; this counts
    /// a month as 30 days and a year as 365 days, as most SMSCs do.
    pub fn to_seconds(&self) -> u64 {
        const D: u64 = 86_400;
        u64::from(self.years) * 365 * D
            + u64::from(self.months) * 30 * D
            + u64::from(self.days) * D
            + u64::from(self.hours) * 3600
            + u64::from(self.minutes) * 60
            + u64::from(self.seconds)
    }

    /// The relative time for an interval of `secs` seconds, split greedily
    /// into years of 365 days, months of 30 days, days, hours, minutes and
    /// seconds (so `to_seconds(from_seconds(s)) == s`). Intervals of 100
    /// years or more are clamped to 99 years and the largest remainder.
    pub fn from_seconds(secs: u64) -> RelativeTime {
        const D: u64 = 86_400;
        const YEAR: u64 = 365 * D;
        const MONTH: u64 = 30 * D;
        // 99 years, 12 months (365 - 360 = 5 days left), 4 days, 23:59:59.
        const MAX: u64 = 99 * YEAR + 12 * MONTH + 4 * D + 86_399;
        let s = secs.min(MAX);
        // Every quotient below is at most 99, so the casts are lossless.
        RelativeTime {
            years: (s / YEAR) as u8,
            months: (s % YEAR / MONTH) as u8,
            days: (s % YEAR % MONTH / D) as u8,
            hours: (s % D / 3600) as u8,
            minutes: (s % 3600 / 60) as u8,
            seconds: (s % 60) as u8,
        }
    }
}

impl fmt::Display for RelativeTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_ascii(f, &self.format())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn abs(s: &str) -> AbsoluteTime {
        match SmppTime::parse(s.as_bytes()) {
            Ok(SmppTime::Absolute(t)) => t,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn parses_absolute() {
        let t = abs("230615123456704+");
        assert_eq!(
            t,
            AbsoluteTime {
                year: 23,
                month: 6,
                day: 15,
                hour: 12,
                minute: 34,
                second: 56,
                tenths: 7,
                quarter_hours: 4,
                sign: Sign::Plus,
            }
        );
        assert_eq!(&t.format(), b"230615123456704+");
        assert_eq!(t.to_string(), "230615123456704+");
        // 12:34:56 at UTC+1 is 11:34:56Z.
        assert_eq!(t.to_unix_seconds(), 1_686_828_896);
    }

    #[test]
    fn parses_relative() {
        let t = SmppTime::parse(b"000001020304000R").unwrap();
        let r = RelativeTime {
            years: 0,
            months: 0,
            days: 1,
            hours: 2,
            minutes: 3,
            seconds: 4,
        };
        assert_eq!(t, SmppTime::Relative(r));
        assert_eq!(r.to_seconds(), 86_400 + 2 * 3600 + 3 * 60 + 4);
        assert_eq!(t.to_string(), "000001020304000R");
        // Non-zero "tnn" digits before R are tolerated and dropped.
        assert_eq!(
            SmppTime::parse(b"000001020304123R").unwrap(),
            SmppTime::Relative(r)
        );
        // Relative fields are counts, not calendar values.
        assert!(SmppTime::parse(b"990099999999000R").is_ok());
        assert_eq!(
            RelativeTime {
                years: 1,
                months: 1,
                ..Default::default()
            }
            .to_seconds(),
            395 * 86_400
        );
    }

    #[test]
    fn rejects_bad_times() {
        use TimeError::*;
        let cases: &[(&[u8], TimeError)] = &[
            (b"", Length { found: 0 }),
            (b"230615123456704", Length { found: 15 }),
            (b"230615123456704+\0", Length { found: 17 }),
            (b"2306151234567x4+", NotDigit { offset: 13 }),
            (b"23061512345670 +", NotDigit { offset: 14 }),
            (b"230615123456704Z", BadIndicator { found: b'Z' }),
            (b"230015123456704+", Month),
            (b"231315123456704+", Month),
            (b"230600123456704+", Day),
            (b"230631123456704+", Day),
            (b"230229123456704+", Day),
            (b"000230123456704+", Day),
            (b"230615243456704+", Hour),
            (b"230615126056704+", Minute),
            (b"230615123460704+", Second),
            (b"230615123456749-", Offset),
            (b"0000010203040a0R", NotDigit { offset: 13 }),
            (
                b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
                NotDigit { offset: 0 },
            ),
        ];
        for (s, e) in cases {
            assert_eq!(
                SmppTime::parse(s),
                Err(*e),
                "{:?}",
                String::from_utf8_lossy(s)
            );
            assert!(!e.to_string().is_empty());
        }
        // Leap days: 2024 and 2000 are leap years, 2023 is not.
        assert!(SmppTime::parse(b"240229000000000+").is_ok());
        assert!(SmppTime::parse(b"000229000000000+").is_ok());
        assert!(SmppTime::parse(b"230615123456748-").is_ok());
    }

    #[test]
    fn validate_field() {
        assert_eq!(validate_time_field(b""), Ok(()));
        assert_eq!(validate_time_field(b"000001000000000R"), Ok(()));
        assert!(validate_time_field(b"0").is_err());
        assert_eq!(SmppTime::parse_optional(b""), Ok(None));
    }

    #[test]
    fn unix_known_answers() {
        let t = AbsoluteTime::from_unix_seconds(MIN_UNIX, 0);
        assert_eq!(&t.format(), b"000101000000000+");
        assert_eq!(t.to_unix_seconds(), 946_684_800);
        assert_eq!(
            &AbsoluteTime::from_unix_seconds(MAX_UNIX, 12).format(),
            b"991231235959900+"
        );
        // Clamped outside 2000..=2099.
        assert_eq!(
            AbsoluteTime::from_unix_seconds(0, 0).to_unix_seconds(),
            MIN_UNIX
        );
        assert_eq!(
            AbsoluteTime::from_unix_seconds(i64::MIN, 0).to_unix_seconds(),
            MIN_UNIX
        );
        assert_eq!(
            AbsoluteTime::from_unix_seconds(i64::MAX, 0).to_unix_seconds(),
            MAX_UNIX
        );
        // 2024-02-29T12:00:00Z.
        assert_eq!(
            &AbsoluteTime::from_unix_seconds(1_709_208_000, 0).format(),
            b"240229120000000+"
        );
        // Negative offset: 07:00 at UTC-5 is 12:00Z.
        assert_eq!(abs("240229070000020-").to_unix_seconds(), 1_709_208_000);
        // Out-of-range hand-built fields do not panic.
        let junk = AbsoluteTime {
            year: 255,
            month: 255,
            day: 255,
            hour: 255,
            minute: 255,
            second: 255,
            tenths: 255,
            quarter_hours: 255,
            sign: Sign::Minus,
        };
        let _ = junk.to_unix_seconds();
        assert!(!junk.is_valid());
        assert_eq!(&junk.format(), b"555555555555555-");
    }

    #[test]
    fn relative_from_seconds() {
        assert_eq!(RelativeTime::from_seconds(0), RelativeTime::default());
        let r = RelativeTime::from_seconds(u64::MAX);
        assert_eq!(r.years, 99);
        assert_eq!(SmppTime::parse(&r.format()), Ok(SmppTime::Relative(r)));
    }

    fn any_absolute() -> impl Strategy<Value = AbsoluteTime> {
        (
            0u8..100,
            1u8..13,
            1u8..32,
            0u8..24,
            0u8..60,
            0u8..60,
            0u8..10,
            0u8..49,
            any::<bool>(),
        )
            .prop_filter_map(
                "day past end of month",
                |(y, mo, d, h, mi, s, t, q, neg)| {
                    (d <= days_in_month(y, mo)).then_some(AbsoluteTime {
                        year: y,
                        month: mo,
                        day: d,
                        hour: h,
                        minute: mi,
                        second: s,
                        tenths: t,
                        quarter_hours: q,
                        sign: if neg { Sign::Minus } else { Sign::Plus },
                    })
                },
            )
    }

    fn any_relative() -> impl Strategy<Value = RelativeTime> {
        (0u8..100, 0u8..100, 0u8..100, 0u8..100, 0u8..100, 0u8..100).prop_map(
            |(years, months, days, hours, minutes, seconds)| RelativeTime {
                years,
                months,
                days,
                hours,
                minutes,
                seconds,
            },
        )
    }

    proptest! {
        #[test]
        fn absolute_round_trip(t in any_absolute()) {
            let s = SmppTime::Absolute(t);
            prop_assert_eq!(SmppTime::parse(&s.format()), Ok(s));
            let shown = s.to_string();
            prop_assert_eq!(shown.as_bytes(), &s.format()[..]);
        }

        #[test]
        fn relative_round_trip(t in any_relative()) {
            let s = SmppTime::Relative(t);
            prop_assert_eq!(SmppTime::parse(&s.format()), Ok(s));
        }

        #[test]
        fn unix_round_trip(secs in MIN_UNIX..=MAX_UNIX, tenths in 0u8..10) {
            let t = AbsoluteTime::from_unix_seconds(secs, tenths);
            prop_assert!(t.is_valid());
            prop_assert_eq!(t.to_unix_seconds(), secs);
            prop_assert_eq!(t.tenths, tenths);
        }

        #[test]
        fn unix_round_trip_from_fields(t in any_absolute()) {
            // Back through UTC: the same instant, written with offset 00+.
            let utc = AbsoluteTime::from_unix_seconds(t.to_unix_seconds(), t.tenths);
            prop_assert_eq!(utc.to_unix_seconds(), t.to_unix_seconds().clamp(MIN_UNIX, MAX_UNIX));
            if t.quarter_hours == 0 {
                prop_assert_eq!(utc, AbsoluteTime { sign: Sign::Plus, ..t });
            }
        }

        #[test]
        fn relative_seconds_round_trip(secs in 0u64..(99 * 365 * 86_400)) {
            prop_assert_eq!(RelativeTime::from_seconds(secs).to_seconds(), secs);
        }

        #[test]
        fn parse_never_panics(s in proptest::collection::vec(any::<u8>(), 0..20)) {
            let _ = SmppTime::parse(&s);
        }

        #[test]
        fn parse_never_panics_digits(s in "[0-9+R-]{16}") {
            if let Ok(t @ SmppTime::Absolute(a)) = SmppTime::parse(s.as_bytes()) {
                prop_assert_eq!(&t.format()[..], s.as_bytes());
                let _ = a.to_unix_seconds();
            }
        }
    }
}
