//! Human-readable config values: durations (`"30s"`), sizes (`"64KiB"`)
//! and secrets read from a file or the environment.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// A duration written as a number and a unit: `"250ms"`, `"30s"`, `"10m"`,
/// `"72h"`, `"30d"`. Several parts may be combined: `"1h30m"`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    /// `secs` seconds.
    pub const fn secs(secs: u64) -> Duration {
        Duration(std::time::Duration::from_secs(secs))
    }

    /// `ms` milliseconds.
    pub const fn millis(ms: u64) -> Duration {
        Duration(std::time::Duration::from_millis(ms))
    }

    /// The std duration.
    pub const fn get(self) -> std::time::Duration {
        self.0
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        const UNITS: [(u128, &str); 5] = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1000, "s"),
            (1, "ms"),
        ];
        if ms == 0 {
            return f.write_str("0s");
        }
        for (n, unit) in UNITS {
            if ms.is_multiple_of(n) {
                return write!(f, "{}{unit}", ms / n);
            }
        }
        write!(f, "{ms}ms")
    }
}

/// Why a duration or size did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnitError(&'static str);

impl FromStr for Duration {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<Duration, UnitError> {
        const MSG: &str =
            "expected a duration such as \"250ms\", \"30s\", \"10m\", \"72h\" or \"30d\"";
        let s = s.trim();
        if s.is_empty() {
            return Err(UnitError(MSG));
        }
        let mut total: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(UnitError(MSG));
            }
            let n: u128 = rest[..digits].parse().map_err(|_| UnitError(MSG))?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let factor_ms: u128 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1000,
                "m" | "min" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(UnitError(MSG)),
            };
            rest = &rest[unit_len..];
            total = n
                .checked_mul(factor_ms)
                .and_then(|v| total.checked_add(v))
                .ok_or(UnitError("duration is too long"))?;
        }
        let ms = u64::try_from(total).map_err(|_| UnitError("duration is too long"))?;
        Ok(Duration::millis(ms))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A size in octets: `"512"`, `"64KiB"`, `"16MiB"`, `"1GiB"`, `"10kB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(s: &str) -> Result<ByteSize, UnitError> {
        const MSG: &str = "expected a size such as \"512\", \"64KiB\" or \"16MiB\"";
        let s = s.trim();
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(UnitError(MSG));
        }
        let n: u64 = s[..digits].parse().map_err(|_| UnitError(MSG))?;
        let factor: u64 = match s[digits..].trim() {
            "" | "B" => 1,
            "kB" | "KB" => 1000,
            "KiB" => 1 << 10,
            "MB" => 1_000_000,
            "MiB" => 1 << 20,
            "GB" => 1_000_000_000,
            "GiB" => 1 << 30,
            _ => return Err(UnitError(MSG)),
        };
        n.checked_mul(factor)
            .map(ByteSize)
            .ok_or(UnitError("size is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A secret: `{ file = "/etc/telegate/secrets/x" }` (the file's first
/// line), `{ env = "VAR" }`, or an inline string (for tests; examples
/// never show one).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Secret {
    /// Read from a file.
    File {
        /// The file holding the secret.
        file: PathBuf,
    },
    /// Read from an environment variable.
    Env {
        /// The variable's name.
        env: String,
    },
    /// Written in the config itself.
    Inline(String),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::File { file } => write!(f, "Secret(file {})", file.display()),
            Secret::Env { env } => write!(f, "Secret(env {env})"),
            Secret::Inline(_) => f.write_str("Secret(inline, redacted)"),
        }
    }
}

impl Secret {
    /// Reads the secret's value.
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::Env { env } => {
                std::env::var(env).map_err(|_| format!("environment variable {env} is not set"))
            }
            Secret::File { file } => std::fs::read_to_string(file)
                .map(|s| s.lines().next().unwrap_or_default().to_owned())
                .map_err(|e| format!("cannot read {}: {e}", file.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!("30s".parse::<Duration>().unwrap(), Duration::secs(30));
        assert_eq!("250ms".parse::<Duration>().unwrap(), Duration::millis(250));
        assert_eq!("1h30m".parse::<Duration>().unwrap(), Duration::secs(5400));
        assert_eq!(
            "72h".parse::<Duration>().unwrap(),
            Duration::secs(72 * 3600)
        );
        assert_eq!("30d".parse::<Duration>().unwrap().to_string(), "30d");
        assert_eq!(Duration::millis(1500).to_string(), "1500ms");
        for bad in ["", "30", "s", "3x", "1h 2m", "-1s", "99999999999999999999d"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!("64KiB".parse::<ByteSize>().unwrap(), ByteSize(65536));
        assert_eq!("512".parse::<ByteSize>().unwrap(), ByteSize(512));
        assert_eq!("16MiB".parse::<ByteSize>().unwrap(), ByteSize(16 << 20));
        assert!("12 parsecs".parse::<ByteSize>().is_err());
    }
}
