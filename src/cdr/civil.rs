//! UTC calendar arithmetic for partition names and RFC 3339 times, without
//! a date crate (Howard Hinnant's `civil_from_days` / `days_from_civil`).

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The partition file name for a write time: `cdr-YYYYMMDDHH.tgc` (UTC).
pub(crate) fn partition_name(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let h = (secs % 86_400) / 3600;
    format!("cdr-{y:04}{m:02}{d:02}{h:02}.tgc")
}

/// The start (unix seconds) of the hour a partition file name stands for.
pub(crate) fn parse_partition_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("cdr-")?.strip_suffix(".tgc")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = digits[0..4].parse().ok()?;
    let m: u32 = digits[4..6].parse().ok()?;
    let d: u32 = digits[6..8].parse().ok()?;
    let h: u64 = digits[8..10].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    u64::try_from(days)
        .ok()
        .map(|days| days * 86_400 + h * 3600)
}

/// RFC 3339 UTC with milliseconds: `2024-05-01T12:34:56.789Z`.
pub(crate) fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        unix_ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        // 2024-02-29T23:59:59.999Z (leap day), checked with `date -u -d @1709251199`.
        assert_eq!(rfc3339(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(partition_name(1_709_251_199_999), "cdr-2024022923.tgc");
        assert_eq!(
            parse_partition_name("cdr-2024022923.tgc"),
            Some(1_709_251_199 / 3600 * 3600)
        );
        assert_eq!(parse_partition_name("cdr-2024022924.tgc"), None);
        assert_eq!(parse_partition_name("cdr-2024022923.tgc.tmp"), None);
    }

    #[test]
    fn names_round_trip_over_years() {
        let mut t = 0u64;
        while t < 4_102_444_800 {
            let name = partition_name(t * 1000);
            assert_eq!(parse_partition_name(&name), Some(t / 3600 * 3600), "{name}");
            t += 7919 * 13;
        }
    }
}
