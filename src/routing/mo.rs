//! MO routing: which account a mobile-originated deliver_sm goes to, by
//! its destination (our number or short code, `[[account]] mo_numbers`).

use std::collections::HashMap;

use super::normalize::{normalize, MAX_DIGITS};
use super::AccountIdx;
use crate::config::{Config, RoutingConfig};

/// Exact-match table of MO numbers → account.
#[derive(Debug, Clone, Default)]
pub struct MoTable {
    numbers: HashMap<Box<[u8]>, AccountIdx>,
}

impl MoTable {
    /// Builds the table from every account's `mo_numbers`. A number is
    /// stored as written (digits, a leading `+` dropped): configure
    /// E.164 numbers in international form and short codes as dialled.
    /// Errors name the key (`account[i].mo_numbers`) for a number that is
    /// not digits or too long, and for one claimed by two accounts.
    pub fn build(cfg: &Config) -> Result<MoTable, String> {
        if cfg.accounts.len() > usize::from(AccountIdx::MAX) {
            return Err(format!("too many accounts ({})", cfg.accounts.len()));
        }
        let idx: Vec<AccountIdx> = (0..cfg.accounts.len()).map(|i| i as AccountIdx).collect();
        MoTable::build_indexed(cfg, &idx)
    }

    /// Like [`build`](Self::build), with `idx[i]` the index of
    /// `cfg.accounts[i]` (a reload keeps the indexes of accounts that
    /// stay).
    pub fn build_indexed(cfg: &Config, idx: &[AccountIdx]) -> Result<MoTable, String> {
        let mut numbers: HashMap<Box<[u8]>, AccountIdx> = HashMap::new();
        let mut owner: HashMap<AccountIdx, usize> = HashMap::new();
        for (i, account) in cfg.accounts.iter().enumerate() {
            let Some(&ai) = idx.get(i) else {
                return Err(format!("account[{i}] has no index"));
            };
            owner.insert(ai, i);
            for number in &account.mo_numbers {
                let at = format!("account[{i}].mo_numbers ({number:?})");
                let digits = number.trim().strip_prefix('+').unwrap_or(number.trim());
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("{at}: must be digits"));
                }
                if digits.len() > MAX_DIGITS {
                    return Err(format!("{at}: longer than {MAX_DIGITS} digits"));
                }
                if let Some(other) = numbers.get(digits.as_bytes()) {
                    let other = owner.get(other).copied().unwrap_or(i);
                    return Err(format!(
                        "{at}: also an MO number of account[{other}] ({:?})",
                        cfg.accounts[other].system_id
                    ));
                }
                numbers.insert(digits.as_bytes().into(), ai);
            }
        }
        Ok(MoTable { numbers })
    }

    /// Number of MO numbers.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// Whether no account has MO numbers.
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// The account an MO message to `dest` goes to: the destination is
    /// normalised (see [`normalize`]) and matched exactly; failing that,
    /// its digits as written (a leading `+` dropped) are matched, so short
    /// codes and numbers configured in national form still find their
    /// account. Allocates nothing.
    pub fn lookup(
        &self,
        routing: &RoutingConfig,
        ton: u8,
        npi: u8,
        dest: &[u8],
    ) -> Option<AccountIdx> {
        if self.numbers.is_empty() {
            return None;
        }
        let mut buf = [0u8; MAX_DIGITS];
        if let Some(digits) = normalize(routing, ton, npi, dest, &mut buf) {
            if let Some(&acc) = self.numbers.get(digits) {
                return Some(acc);
            }
        }
        let written = dest.trim_ascii();
        let written = written.strip_prefix(b"+").unwrap_or(written);
        self.numbers.get(written).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(accounts: &str) -> Config {
        toml::from_str(&format!("[routing]\ncountry_code = \"49\"\n{accounts}"))
            .expect("test config parses")
    }

    const ACCOUNTS: &str = r#"
        [[account]]
        system_id = "acme"
        password_hash = "x"
        mo_numbers = ["12345", "+4915199999999"]

        [[account]]
        system_id = "beta"
        password_hash = "x"
        mo_numbers = ["4930123456", "0800111"]
    "#;

    #[test]
    fn exact_match_on_normalised_or_written() {
        let cfg = config(ACCOUNTS);
        let t = MoTable::build(&cfg).unwrap();
        let r = &cfg.routing;
        assert_eq!(t.len(), 4);
        // Short code, any TON that leaves it as written.
        assert_eq!(t.lookup(r, 0, 0, b"12345"), Some(0));
        assert_eq!(t.lookup(r, 6, 0, b"12345"), Some(0));
        assert_eq!(t.lookup(r, 3, 0, b"12345"), Some(0));
        // E.164 in every form.
        assert_eq!(t.lookup(r, 1, 1, b"4915199999999"), Some(0));
        assert_eq!(t.lookup(r, 1, 1, b"+4915199999999"), Some(0));
        assert_eq!(t.lookup(r, 2, 1, b"015199999999"), Some(0));
        assert_eq!(t.lookup(r, 0, 1, b"004915199999999"), Some(0));
        assert_eq!(t.lookup(r, 0, 1, b"030123456"), Some(1));
        // National short code kept as written although TON 2 would add the
        // country code.
        assert_eq!(t.lookup(r, 2, 1, b"0800111"), Some(1));
        // No prefix matching, no alphanumerics.
        assert_eq!(t.lookup(r, 1, 1, b"491519999999"), None);
        assert_eq!(t.lookup(r, 1, 1, b"49151999999990"), None);
        assert_eq!(t.lookup(r, 0, 0, b"1234"), None);
        assert_eq!(t.lookup(r, 5, 0, b"ACME"), None);
    }

    #[test]
    fn build_errors() {
        let err = MoTable::build(&config(
            r#"
            [[account]]
            system_id = "acme"
            password_hash = "x"
            mo_numbers = ["12345"]
            [[account]]
            system_id = "beta"
            password_hash = "x"
            mo_numbers = ["+12345"]
            "#,
        ))
        .unwrap_err();
        assert!(
            err.starts_with("account[1].mo_numbers") && err.contains("acme"),
            "{err}"
        );
        let err = MoTable::build(&config(
            r#"
            [[account]]
            system_id = "acme"
            password_hash = "x"
            mo_numbers = ["12-345"]
            "#,
        ))
        .unwrap_err();
        assert!(err.contains("digits"), "{err}");
    }

    #[test]
    fn empty_table() {
        let cfg = config("");
        let t = MoTable::build(&cfg).unwrap();
        assert!(t.is_empty());
        assert_eq!(t.lookup(&cfg.routing, 1, 1, b"12345"), None);
    }
}
