//! Destination normalisation to E.164 digits (ITU-T E.164; SMPP 3.4
//! §5.2.5 `addr_ton`, §5.2.6 `addr_npi`).

use crate::config::RoutingConfig;

/// Longest normalised number, in digits. E.164 numbers have at most 15
/// digits and SMPP addresses at most 20 characters; the slack covers a
/// country code put in front of a long national number.
pub const MAX_DIGITS: usize = 32;

/// SMPP 3.4 §5.2.5 type-of-number values this function treats specially.
const TON_UNKNOWN: u8 = 0;
const TON_INTERNATIONAL: u8 = 1;
const TON_NATIONAL: u8 = 2;
const TON_ALPHANUMERIC: u8 = 5;

/// SMPP 3.4 §5.2.6 numbering plans whose numbers are E.164 (or may be):
/// 0 unknown, 1 ISDN (E.163/E.164). Numbers in other plans (data, telex,
/// private, ...) are never rewritten.
fn is_e164_plan(npi: u8) -> bool {
    npi <= 1
}

/// Normalises a destination address into `out` and returns the digits.
///
/// Rules, by `addr_ton` (SMPP 3.4 §5.2.5):
///
/// * a leading `+` always means international, whatever the TON: it is
///   stripped and the digits are used as they are;
/// * TON 1 (international): the digits as they are;
/// * TON 0 (unknown) in plan 0 or 1: a number starting with
///   `international_prefix` (e.g. `00`) has it stripped; otherwise, when
///   `country_code` is configured, a number starting with
///   `national_prefix` (e.g. `0`) has it replaced by the country code;
///   otherwise the digits as written;
/// * TON 2 (national) in plan 0 or 1: `national_prefix` (when present) is
///   replaced by `country_code`, or, when the number does not start with
///   it, the country code is put in front; without a configured country
///   code the digits as written;
/// * TON 5 (alphanumeric): `None`. An alphanumeric destination has no
///   digits to route on, and guessing (e.g. routing `"12AB"` by `12`) would
///   send a malformed address to a carrier; the caller rejects it with
///   `ESME_RINVDSTADR`;
/// * every other TON (network specific, subscriber number, abbreviated,
///   reserved) and numbers in non-E.164 plans: the digits as written, so
///   short codes route by the digits the ESME sent.
///
/// Surrounding ASCII whitespace is ignored. Anything else that is not a
/// digit (after the optional leading `+`), an empty result, a result longer
/// than [`MAX_DIGITS`], or a configured prefix or country code that is not
/// digits (or longer than 8) gives `None`. Allocates nothing.
pub fn normalize<'a>(
    cfg: &RoutingConfig,
    ton: u8,
    npi: u8,
    addr: &[u8],
    out: &'a mut [u8; MAX_DIGITS],
) -> Option<&'a [u8]> {
    Rules::new(cfg).ok()?.apply(ton, npi, addr, out)
}

/// A prefix or country code of at most [`Rules::MAX_PART`] digits, held
/// inline so applying the rules reads no heap memory.
#[derive(Debug, Clone, Copy, Default)]
struct Part {
    digits: [u8; Rules::MAX_PART],
    len: u8,
}

impl Part {
    fn new(key: &str, s: &str) -> Result<Part, String> {
        let b = s.as_bytes();
        if !all_digits(b) {
            return Err(format!("routing.{key} {s:?} must be digits"));
        }
        if b.len() > Rules::MAX_PART {
            return Err(format!(
                "routing.{key} {s:?} is longer than {} digits",
                Rules::MAX_PART
            ));
        }
        let mut p = Part::default();
        p.digits[..b.len()].copy_from_slice(b);
        p.len = b.len() as u8;
        Ok(p)
    }

    fn get(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }
}

/// [`RoutingConfig`] checked and copied inline, ready to apply per
/// message (the routing table keeps one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    country: Option<Part>,
    intl: Part,
    national: Part,
}

impl Rules {
    const MAX_PART: usize = 8;

    /// Checks the settings: the country code (a leading `+` allowed) and
    /// both prefixes must be digits, at most 8 of them.
    pub(crate) fn new(cfg: &RoutingConfig) -> Result<Rules, String> {
        let country = match cfg.country_code.as_deref() {
            Some(cc) => {
                let digits = cc.trim().strip_prefix('+').unwrap_or(cc.trim());
                if digits.is_empty() {
                    return Err(format!("routing.country_code {cc:?} must be digits"));
                }
                Some(Part::new("country_code", digits)?)
            }
            None => None,
        };
        Ok(Rules {
            country,
            intl: Part::new("international_prefix", &cfg.international_prefix)?,
            national: Part::new("national_prefix", &cfg.national_prefix)?,
        })
    }

    /// See [`normalize`].
    pub(crate) fn apply<'a>(
        &self,
        ton: u8,
        npi: u8,
        addr: &[u8],
        out: &'a mut [u8; MAX_DIGITS],
    ) -> Option<&'a [u8]> {
        let (head, body) = self.split(ton, npi, addr)?;
        let len = head.len() + body.len();
        out[..head.len()].copy_from_slice(head);
        out[head.len()..len].copy_from_slice(body);
        Some(&out[..len])
    }

    /// The normalised number as two parts without copying: digits to put
    /// in front (a country code, or empty) and the rest of `addr`. Their
    /// total length is 1..=[`MAX_DIGITS`] and both are digits only.
    #[inline]
    pub(crate) fn split<'s, 'a>(
        &'s self,
        ton: u8,
        npi: u8,
        addr: &'a [u8],
    ) -> Option<(&'s [u8], &'a [u8])> {
        if ton == TON_ALPHANUMERIC {
            return None;
        }
        let addr = addr.trim_ascii();
        let (plus, digits) = match addr.split_first() {
            Some((b'+', rest)) => (true, rest),
            _ => (false, addr),
        };
        if digits.is_empty() || digits.len() > MAX_DIGITS || !all_digits(digits) {
            return None;
        }
        let country = self.country.as_ref().map(Part::get);
        let (head, body): (&[u8], &[u8]) = if plus || ton == TON_INTERNATIONAL || !is_e164_plan(npi)
        {
            (&[], digits)
        } else if ton == TON_UNKNOWN {
            match (
                strip(digits, self.intl.get()),
                country,
                strip(digits, self.national.get()),
            ) {
                (Some(rest), _, _) => (&[], rest),
                (None, Some(cc), Some(rest)) => (cc, rest),
                _ => (&[], digits),
            }
        } else if ton == TON_NATIONAL {
            match country {
                Some(cc) => (cc, strip(digits, self.national.get()).unwrap_or(digits)),
                None => (&[], digits),
            }
        } else {
            (&[], digits)
        };
        if body.is_empty() || head.len() + body.len() > MAX_DIGITS {
            return None;
        }
        Some((head, body))
    }
}

fn all_digits(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_digit)
}

/// `s` without `prefix`, when `prefix` is non-empty and `s` starts with it.
fn strip<'s>(s: &'s [u8], prefix: &[u8]) -> Option<&'s [u8]> {
    if prefix.is_empty() {
        None
    } else {
        s.strip_prefix(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(cc: Option<&str>) -> RoutingConfig {
        RoutingConfig {
            country_code: cc.map(str::to_owned),
            ..RoutingConfig::default()
        }
    }

    fn norm(cfg: &RoutingConfig, ton: u8, npi: u8, addr: &str) -> Option<String> {
        let mut out = [0u8; MAX_DIGITS];
        normalize(cfg, ton, npi, addr.as_bytes(), &mut out)
            .map(|d| String::from_utf8(d.to_vec()).unwrap())
    }

    #[test]
    fn international() {
        let c = cfg(Some("49"));
        assert_eq!(
            norm(&c, 1, 1, "447700900123").as_deref(),
            Some("447700900123")
        );
        assert_eq!(
            norm(&c, 1, 1, "+447700900123").as_deref(),
            Some("447700900123")
        );
        // A `+` is international whatever the TON says.
        assert_eq!(
            norm(&c, 0, 1, "+447700900123").as_deref(),
            Some("447700900123")
        );
        assert_eq!(
            norm(&c, 2, 1, "+447700900123").as_deref(),
            Some("447700900123")
        );
        // TON 1 is taken as is: a leading 0 is not a trunk prefix there.
        assert_eq!(norm(&c, 1, 1, "0151").as_deref(), Some("0151"));
    }

    #[test]
    fn unknown_ton() {
        let c = cfg(Some("49"));
        assert_eq!(
            norm(&c, 0, 1, "00447700900123").as_deref(),
            Some("447700900123")
        );
        assert_eq!(
            norm(&c, 0, 0, "015112345678").as_deref(),
            Some("4915112345678")
        );
        assert_eq!(
            norm(&c, 0, 1, "4915112345678").as_deref(),
            Some("4915112345678")
        );
        // Without a country code national numbers stay as written, but the
        // international prefix still goes.
        let c = cfg(None);
        assert_eq!(
            norm(&c, 0, 1, "015112345678").as_deref(),
            Some("015112345678")
        );
        assert_eq!(norm(&c, 0, 1, "0044123").as_deref(), Some("44123"));
    }

    #[test]
    fn national_ton() {
        let c = cfg(Some("+49"));
        assert_eq!(
            norm(&c, 2, 1, "015112345678").as_deref(),
            Some("4915112345678")
        );
        assert_eq!(
            norm(&c, 2, 1, "15112345678").as_deref(),
            Some("4915112345678")
        );
        let c = cfg(None);
        assert_eq!(
            norm(&c, 2, 1, "015112345678").as_deref(),
            Some("015112345678")
        );
    }

    #[test]
    fn short_codes_and_other_plans_as_written() {
        let c = cfg(Some("49"));
        assert_eq!(norm(&c, 3, 0, "0800").as_deref(), Some("0800"));
        assert_eq!(norm(&c, 6, 0, "12345").as_deref(), Some("12345"));
        assert_eq!(norm(&c, 0, 9, "0123").as_deref(), Some("0123"));
        assert_eq!(norm(&c, 0, 0, "12345").as_deref(), Some("12345"));
    }

    #[test]
    fn rejects() {
        let c = cfg(Some("49"));
        assert_eq!(norm(&c, 5, 0, "ACME"), None);
        assert_eq!(norm(&c, 5, 0, "12345"), None);
        assert_eq!(norm(&c, 1, 1, ""), None);
        assert_eq!(norm(&c, 1, 1, "+"), None);
        assert_eq!(norm(&c, 1, 1, "44 77"), None);
        assert_eq!(norm(&c, 1, 1, "44-77"), None);
        assert_eq!(norm(&c, 1, 1, "++44"), None);
        assert_eq!(norm(&c, 0, 1, "00"), None);
        assert_eq!(norm(&c, 1, 1, &"1".repeat(33)), None);
        assert_eq!(norm(&c, 1, 1, &"1".repeat(32)).map(|s| s.len()), Some(32));
        // The country code must fit too.
        assert_eq!(norm(&c, 2, 1, &"1".repeat(31)), None);
        assert_eq!(norm(&cfg(Some("4x")), 2, 1, "0151"), None);
    }

    #[test]
    fn whitespace_trimmed() {
        let c = cfg(None);
        assert_eq!(norm(&c, 1, 1, " 4477\t").as_deref(), Some("4477"));
    }
}
