//! The E.164 country calling code of a number (ITU-T E.164 Annex, the
//! assignment list of ITU-T Operational Bulletin), for CDRs and billing.
//!
//! Codes are one to three digits and prefix-free: `1` (North American
//! Numbering Plan) and `7` are the only one-digit codes; the two-digit
//! codes are listed in [`TWO_DIGIT`]; every other number starts with a
//! three-digit code (some of those are spare, and then name a zone).

/// The two-digit country codes in use.
const TWO_DIGIT: [u8; 44] = [
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56,
    57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
];

/// [`TWO_DIGIT`] as a set of bits, tested with one shift.
const TWO_DIGIT_BITS: u128 = {
    let mut bits = 0u128;
    let mut i = 0;
    while i < TWO_DIGIT.len() {
        bits |= 1 << TWO_DIGIT[i];
        i += 1;
    }
    bits
};

/// The country calling code of `e164` (digits only, no `+`), or 0 when it
/// is not a plausible international number (too short, not digits).
pub fn country_code(e164: &[u8]) -> u16 {
    if e164.len() < 4 || !e164.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    let d = |i: usize| u16::from(e164[i] - b'0');
    match d(0) {
        0 => 0,
        1 | 7 => d(0),
        _ => {
            let two = d(0) * 10 + d(1);
            if TWO_DIGIT_BITS & (1 << two) != 0 {
                two
            } else {
                two * 10 + d(2)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{country_code, TWO_DIGIT};

    /// The bit set says of every two-digit start what the list says.
    #[test]
    fn two_digit_set_is_the_list() {
        for two in 20u8..=99 {
            let number = format!("{two}12345678");
            let want = if TWO_DIGIT.contains(&two) {
                u16::from(two)
            } else {
                u16::from(two) * 10 + 1
            };
            if two / 10 != 7 {
                assert_eq!(country_code(number.as_bytes()), want, "{number}");
            }
        }
    }

    #[test]
    fn codes_of_known_numbers() {
        for (number, cc) in [
            ("12025550123", 1),
            ("79161234567", 7),
            ("447700900123", 44),
            ("4915112345678", 49),
            ("33612345678", 33),
            ("8613800138000", 86),
            ("919876543210", 91),
            ("971501234567", 971),
            ("353871234567", 353),
            ("2348031234567", 234),
            ("27821234567", 27),
            ("201001234567", 20),
            ("5511987654321", 55),
            ("989121234567", 98),
            ("9647701234567", 964),
            ("85291234567", 852),
            ("3801234567", 380),
            ("420601123456", 420),
        ] {
            assert_eq!(country_code(number.as_bytes()), cc, "{number}");
        }
    }

    #[test]
    fn not_international() {
        for n in ["", "123", "0044123456", "+447700900123", "ACME", "44 770"] {
            assert_eq!(country_code(n.as_bytes()), 0, "{n}");
        }
    }
}
