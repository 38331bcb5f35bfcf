//! Sender-ID checks: an alphanumeric sender that imitates a protected
//! brand, and a source address that is not valid for its TON/NPI.

use super::normalize::fold_confusables;

/// What is wrong with a source address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderHit {
    /// An alphanumeric sender that reads as a protected brand without
    /// being one of the account's own registered senders.
    BrandImitation {
        /// The brand it imitates.
        brand: String,
    },
    /// Not a valid address for its TON/NPI.
    InvalidForTon(&'static str),
}

/// Checks a source address: `ton`/`npi` as sent, `addr` its octets,
/// `brands` the protected brand names (lower case, letters and digits
/// only, e.g. `paypal`, `hsbc`), `own` the senders the account may use
/// (compared case-insensitively).
pub fn check_sender(
    ton: u8,
    npi: u8,
    addr: &[u8],
    brands: &[String],
    own: &[String],
) -> Vec<SenderHit> {
    let mut hits = Vec::new();
    let Ok(text) = std::str::from_utf8(addr) else {
        hits.push(SenderHit::InvalidForTon("not text"));
        return hits;
    };
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match ton {
        // International: E.164, up to 15 digits, no leading 0.
        1 => {
            let d = text.strip_prefix('+').unwrap_or(text);
            if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
                hits.push(SenderHit::InvalidForTon(
                    "international number with non-digits",
                ));
            } else if d.len() < 7 || d.len() > 15 {
                hits.push(SenderHit::InvalidForTon(
                    "international number of a wrong length",
                ));
            } else if d.starts_with('0') {
                hits.push(SenderHit::InvalidForTon(
                    "international number starting with 0",
                ));
            }
        }
        // National, network-specific, subscriber, abbreviated: digits.
        2..=4 | 6 => {
            if !digits {
                hits.push(SenderHit::InvalidForTon("number with non-digits"));
            } else if text.len() > 15 {
                hits.push(SenderHit::InvalidForTon("number longer than 15 digits"));
            }
        }
        // Alphanumeric: up to 11 characters (GSM 03.38), something to read.
        5 => {
            if text.chars().count() > 11 {
                hits.push(SenderHit::InvalidForTon(
                    "alphanumeric sender over 11 characters",
                ));
            } else if text.trim().is_empty() {
                hits.push(SenderHit::InvalidForTon("empty alphanumeric sender"));
            }
        }
        _ => {}
    }
    if npi == 1 && ton != 5 && !digits && !text.starts_with('+') {
        hits.push(SenderHit::InvalidForTon("E.164 plan with non-digits"));
    }
    // Brand imitation: only senders with letters can read as a brand.
    if text.bytes().any(|b| b.is_ascii_alphabetic()) || !text.is_ascii() {
        let is_own = own.iter().any(|o| o.eq_ignore_ascii_case(text));
        if !is_own {
            let folded: String = fold_confusables(text)
                .chars()
                .map(|c| match c {
                    '0' => 'o',
                    '1' => 'l',
                    '3' => 'e',
                    '4' => 'a',
                    '5' => 's',
                    c => c,
                })
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            if let Some(b) = brands
                .iter()
                .find(|b| !b.is_empty() && folded.contains(b.as_str()))
            {
                hits.push(SenderHit::BrandImitation { brand: b.clone() });
            }
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brands() -> Vec<String> {
        vec!["paypal".into(), "hsbc".into(), "royalmail".into()]
    }

    #[test]
    fn brand_imitations_are_flagged_unless_registered() {
        let own = vec!["HSBC".to_owned()];
        let b = brands();
        assert_eq!(check_sender(5, 0, b"HSBC", &b, &own), vec![]);
        assert_eq!(
            check_sender(5, 0, b"HSBC-Alert", &b, &own),
            vec![SenderHit::BrandImitation {
                brand: "hsbc".into()
            }]
        );
        assert_eq!(
            check_sender(5, 0, "PаyPаl".as_bytes(), &b, &own),
            vec![SenderHit::BrandImitation {
                brand: "paypal".into()
            }]
        );
        assert_eq!(
            check_sender(5, 0, b"R0yal Mail", &b, &own),
            vec![SenderHit::BrandImitation {
                brand: "royalmail".into()
            }]
        );
        assert_eq!(check_sender(5, 0, b"ACME", &b, &own), vec![]);
    }

    #[test]
    fn addresses_must_fit_their_ton() {
        let b = brands();
        assert!(check_sender(1, 1, b"447700900123", &b, &[]).is_empty());
        assert!(check_sender(1, 1, b"+447700900123", &b, &[]).is_empty());
        assert!(matches!(
            check_sender(1, 1, b"07700900123", &b, &[])[..],
            [SenderHit::InvalidForTon(_)]
        ));
        assert!(!check_sender(1, 1, b"12345", &b, &[]).is_empty());
        assert!(!check_sender(1, 1, b"4477009001239999", &b, &[]).is_empty());
        assert!(!check_sender(1, 1, b"44770090ABC", &b, &[]).is_empty());
        assert!(check_sender(3, 0, b"80011", &b, &[]).is_empty());
        assert!(!check_sender(3, 0, b"800AB", &b, &[]).is_empty());
        assert!(!check_sender(5, 0, b"ABCDEFGHIJKL", &b, &[]).is_empty());
        assert!(check_sender(5, 0, b"ACME Ltd", &b, &[]).is_empty());
        assert!(!check_sender(5, 0, &[0xff, 0xfe], &b, &[]).is_empty());
        assert!(check_sender(0, 0, b"", &b, &[]).is_empty());
    }
}
