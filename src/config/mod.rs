//! Configuration: TOML schema, loading and validation.
//!
//! [`Config::load`] reads a file, parses it strictly (unknown keys are
//! errors) and validates it; every problem names its key path
//! (`carrier[1].window`) and, when the source text is known, its line.

mod schema;
pub mod units;
mod validate;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use schema::*;
pub use units::{ByteSize, Duration, Secret};

/// Largest config file read; anything bigger is certainly a mistake.
const MAX_FILE_LEN: u64 = 16 << 20;

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path such as `carrier[1].window`; empty for the whole file.
    pub key: String,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.key.is_empty()) {
            (Some(line), false) => write!(f, "line {line}: {}: {}", self.key, self.message),
            (Some(line), true) => write!(f, "line {line}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.key, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file did not parse or did not validate.
    Invalid {
        /// The file, when loaded from one.
        path: Option<PathBuf>,
        /// Every problem found (at least one).
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems found (empty for I/O errors).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Io { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }

    fn with_path(self, file: &Path) -> ConfigError {
        match self {
            ConfigError::Invalid { problems, .. } => ConfigError::Invalid {
                path: Some(file.to_owned()),
                problems,
            },
            other => other,
        }
    }

    fn with_lines(self, src: &str) -> ConfigError {
        match self {
            ConfigError::Invalid { path, problems } => {
                let doc = toml_edit::ImDocument::parse(src).ok();
                let problems = problems
                    .into_iter()
                    .map(|mut p| {
                        if p.line.is_none() {
                            p.line = doc
                                .as_ref()
                                .and_then(|d| validate::line_of_key(d, src, &p.key));
                        }
                        p
                    })
                    .collect();
                ConfigError::Invalid { path, problems }
            }
            other => other,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfigError::Invalid { path, problems } => {
                for (i, p) in problems.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    match path {
                        Some(path) => write!(f, "{}: {p}", path.display())?,
                        None => write!(f, "{p}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            ConfigError::Invalid { .. } => None,
        }
    }
}

impl Config {
    /// Reads, parses and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut src = String::new();
        file.take(MAX_FILE_LEN + 1)
            .read_to_string(&mut src)
            .map_err(io)?;
        if src.len() as u64 > MAX_FILE_LEN {
            return Err(ConfigError::Invalid {
                path: Some(path.to_owned()),
                problems: vec![Problem {
                    key: String::new(),
                    line: None,
                    message: format!("file is larger than {MAX_FILE_LEN} bytes"),
                }],
            });
        }
        Config::from_toml(&src).map_err(|e| e.with_path(path))
    }

    /// Parses and validates a config from TOML text.
    pub fn from_toml(src: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(src).map_err(|e| parse_error(src, &e))?;
        config.validate().map_err(|e| e.with_lines(src))?;
        Ok(config)
    }

    /// Checks everything serde cannot: references between sections,
    /// limits, secrets and files. Problems carry key paths but no lines
    /// (there is no source text here); [`Config::from_toml`] adds them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = validate::check(self);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                path: None,
                problems,
            })
        }
    }

    /// What this config would run, one item per line, without secrets:
    /// listeners, accounts (system_id and sid), carriers and route count.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let s_ = &mut s;
        for addr in &self.server.listen {
            let _ = writeln!(s_, "listen smpp {addr}");
        }
        for addr in &self.server.tls_listen {
            let _ = writeln!(s_, "listen smpp+tls {addr}");
        }
        if let Some(addr) = self.metrics.listen {
            let _ = writeln!(s_, "listen metrics {addr} (GET /metrics)");
        }
        if let Some(addr) = self.admin.listen {
            let auth = if self.admin.token.is_some() {
                "token"
            } else {
                "no token"
            };
            let _ = writeln!(s_, "listen admin {addr} ({auth})");
        }
        let _ = writeln!(s_, "accounts: {}", self.accounts.len());
        for a in &self.accounts {
            let binds: Vec<&str> = a.bind_types.iter().map(|b| b.as_str()).collect();
            let _ = writeln!(
                s_,
                "  account {} (sid {}): binds {} of [{}], {} msg/s, {} mo numbers",
                a.system_id,
                a.sid(),
                a.max_binds,
                binds.join(","),
                if a.throughput == 0 {
                    "unlimited".to_owned()
                } else {
                    a.throughput.to_string()
                },
                a.mo_numbers.len(),
            );
        }
        let _ = writeln!(s_, "carriers: {}", self.carriers.len());
        for c in &self.carriers {
            let _ = writeln!(
                s_,
                "  carrier {} at {}{}: {} {} bind(s), window {}, {} msg/s",
                c.name,
                c.address,
                if c.tls { " (tls)" } else { "" },
                c.binds,
                c.bind.as_str(),
                c.window,
                if c.throughput == 0 {
                    "unlimited".to_owned()
                } else {
                    c.throughput.to_string()
                },
            );
        }
        let per_account = self
            .routes
            .iter()
            .filter(|r| !r.accounts.is_empty())
            .count();
        let _ = writeln!(
            s_,
            "routes: {} ({} per-account)",
            self.routes.len(),
            per_account
        );
        let _ = writeln!(
            s_,
            "dlr store {} (ttl {})",
            self.dlr.store.display(),
            self.dlr.ttl
        );
        match &self.cdr {
            Some(c) => {
                let held = self.accounts.iter().filter(|a| a.legal_hold).count();
                let _ = writeln!(
                    s_,
                    "cdrs in {} (retention {}, {} account override(s), {} legal hold(s)), audit log {}",
                    c.dir.display(),
                    c.retention,
                    self.accounts.iter().filter(|a| a.retention.is_some()).count(),
                    held,
                    c.audit_log().display()
                );
            }
            None => {
                let _ = writeln!(s_, "cdrs off");
            }
        }
        match self.filter.as_ref().filter(|f| f.enabled) {
            Some(f) => {
                let _ = writeln!(
                    s_,
                    "filter: on; rules {}, classifier {}; block at {}, flag at {}, status 0x{:08X}",
                    f.rules
                        .as_ref()
                        .map_or("built in".to_owned(), |p| p.display().to_string()),
                    match (&f.model, f.classifier) {
                        (_, false) => "off".to_owned(),
                        (Some(p), true) => p.display().to_string(),
                        (None, true) => "built in".to_owned(),
                    },
                    f.block_score,
                    f.flag_score,
                    f.block_status
                );
                let _ = writeln!(
                    s_,
                    "suspension: {}; {} blocked and {} of messages within {}",
                    if self.suspension.enabled {
                        "automatic"
                    } else {
                        "manual only"
                    },
                    self.suspension.min_blocked,
                    self.suspension.max_blocked_ratio,
                    self.suspension.window
                );
            }
            None => {
                let _ = writeln!(s_, "filter: off");
            }
        }
        s
    }
}

/// Turns a toml/serde error into a problem naming the key and line.
fn parse_error(src: &str, e: &toml::de::Error) -> ConfigError {
    let span = e.span();
    let line = span.as_ref().map(|r| validate::line_at(src, r.start));
    let key = match (&span, toml_edit::ImDocument::parse(src)) {
        (Some(r), Ok(doc)) => validate::key_at(&doc, r.start),
        _ => String::new(),
    };
    // Syntax errors span lines ("invalid table header\nexpected ..."): keep one line.
    let message = e.message().trim().replace('\n', "; ");
    ConfigError::Invalid {
        path: None,
        problems: vec![Problem { key, line, message }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$hDVYa+moi9nOmxgUPX1tIA$4ldNbfYJiTf3wgvNAkJv0VymBnwRh2KVsvLyIqNtizs";

    fn base() -> String {
        format!(
            r#"[server]
listen = ["127.0.0.1:2775"]

[[account]]
system_id = "acme"
password_hash = "{HASH}"

[[carrier]]
name = "a"
address = "127.0.0.1:2776"
system_id = "gw"
password = "pw"

[[route]]
prefix = ""
carriers = ["a"]
"#
        )
    }

    /// The one problem `src` has, or a panic.
    fn problem(src: &str) -> Problem {
        let e = Config::from_toml(src).expect_err("config should be rejected");
        assert_eq!(e.problems().len(), 1, "{e}");
        e.problems()[0].clone()
    }

    fn line_of(src: &str, needle: &str) -> usize {
        let off = src.find(needle).expect("needle in source");
        src[..off].matches('\n').count() + 1
    }

    #[test]
    fn base_is_valid() {
        let cfg = Config::from_toml(&base()).unwrap();
        assert_eq!(cfg.carriers[0].name, "a");
        let s = cfg.summary();
        assert!(s.contains("account acme (sid acme)"), "{s}");
        assert!(s.contains("routes: 1"), "{s}");
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let src = base().replace("name = \"a\"", "name = \"a\"\nwindw = 3");
        let p = problem(&src);
        assert_eq!(p.key, "carrier[0].windw");
        assert_eq!(p.line, Some(line_of(&src, "windw")));
        assert!(p.message.contains("unknown field `windw`"), "{}", p.message);

        let src = format!("{}\n[dlr]\nttl = \"1h\"\nstorage = \"/x\"\n", base());
        let p = problem(&src);
        assert_eq!(p.key, "dlr.storage");
        assert_eq!(p.line, Some(line_of(&src, "storage")));

        let src = format!("{}\n[nonsense]\nx = 1\n", base());
        let p = problem(&src);
        assert_eq!(p.key, "nonsense");
        assert_eq!(p.line, Some(line_of(&src, "[nonsense]")));
    }

    #[test]
    fn bad_values_name_key_and_line() {
        let src = base().replace(
            "listen = [",
            "enquire_link_interval = \"5 parsecs\"\nlisten = [",
        );
        let p = problem(&src);
        assert_eq!(p.key, "server.enquire_link_interval");
        assert_eq!(p.line, Some(2));
        assert!(p.message.contains("duration"), "{}", p.message);

        let src = base().replace("listen = [\"127.0.0.1:2775\"]", "listen = [\"nowhere\"]");
        let p = problem(&src);
        assert_eq!(p.key, "server.listen[0]");
        assert_eq!(p.line, Some(2));

        let src = base().replace("name = \"a\"", "name = \"a\"\nbind = \"both\"");
        let p = problem(&src);
        assert_eq!(p.key, "carrier[0].bind");
        assert_eq!(p.line, Some(line_of(&src, "bind = ")));

        let src = base().replace("system_id = \"gw\"", "");
        let p = problem(&src);
        assert!(p.message.contains("system_id"), "{}", p.message);
        assert_eq!(p.line, Some(line_of(&src, "[[carrier]]")));
    }

    /// Applies `edit` to the base config and expects exactly one
    /// validation problem at `key`, on the line holding `line_needle`.
    fn invalid(edit: impl Fn(String) -> String, key: &str, line_needle: &str) -> Problem {
        let src = edit(base());
        let p = problem(&src);
        assert_eq!(p.key, key, "{p}");
        assert_eq!(p.line, Some(line_of(&src, line_needle)), "{p}");
        p
    }

    #[test]
    fn validation_names_key_and_line() {
        invalid(
            |s| s.replace("name = \"a\"", "name = \"a\"\nwindow = 0"),
            "carrier[0].window",
            "window = 0",
        );
        // Left to its default: the line of the table.
        let p = invalid(
            |s| {
                s.replace(
                    "name = \"a\"",
                    "name = \"a\"\nreconnect = { min = \"9s\", max = \"2s\" }",
                )
            },
            "carrier[0].reconnect.max",
            "max = ",
        );
        assert!(p.message.contains("reconnect.min"), "{p}");
        invalid(
            |s| s.replace("carriers = [\"a\"]", "carriers = [\"b\"]"),
            "route[0].carriers[0]",
            "carriers = [\"b\"]",
        );
        invalid(
            |s| s.replace("prefix = \"\"", "prefix = \"+44\""),
            "route[0].prefix",
            "prefix",
        );
        invalid(
            |s| {
                s.replace(
                    "carriers = [\"a\"]",
                    "carriers = [\"a\"]\nweights = { a = 1 }",
                )
            },
            "route[0].weights",
            "weights",
        );
        invalid(
            |s| s.replace("carriers = [\"a\"]", "weights = { a = 0 }"),
            "route[0].weights.a",
            "weights",
        );
        invalid(
            |s| {
                s.replace(
                    "carriers = [\"a\"]",
                    "carriers = [\"a\"]\naccounts = [\"nobody\"]",
                )
            },
            "route[0].accounts[0]",
            "accounts",
        );
        invalid(
            |s| s.replace(HASH, "plaintext"),
            "account[0].password_hash",
            "password_hash",
        );
        invalid(
            |s| {
                s.replace(
                    "system_id = \"acme\"",
                    "system_id = \"much-too-long-system-id\"",
                )
            },
            "account[0].system_id",
            "much-too-long",
        );
        invalid(
            |s| {
                s.replace(
                    "password = \"pw\"",
                    "password = { env = \"TELEGATE_TEST_UNSET_VARIABLE\" }",
                )
            },
            "carrier[0].password",
            "password = {",
        );
        invalid(
            |s| s.replace("password = \"pw\"", "password = \"longer-than-8\""),
            "carrier[0].password",
            "password = ",
        );
        invalid(
            |s| s.replace("[server]", "[server]\nmax_pdu_len = \"1MiB\""),
            "server.max_pdu_len",
            "max_pdu_len",
        );
        invalid(
            |s| s.replace("[server]", "[server]\nbind_timeout = \"0s\""),
            "server.bind_timeout",
            "bind_timeout",
        );
        invalid(
            |s| s.replace("[server]", "[server]\nworkers = 5000"),
            "server.workers",
            "workers",
        );
        invalid(
            |s| s.replace("name = \"a\"", "name = \"a\"\nbind = \"rx\""),
            "route[0].carriers[0]",
            "carriers = ",
        );
    }

    #[test]
    fn tls_listener_needs_cert_and_key() {
        let src = base().replace(
            "[server]",
            "[server]\ntls_listen = [\"127.0.0.1:3550\"]\ntls_key = \"/nonexistent/key.pem\"",
        );
        let e = Config::from_toml(&src).unwrap_err();
        let got: Vec<(&str, Option<usize>)> = e
            .problems()
            .iter()
            .map(|p| (p.key.as_str(), p.line))
            .collect();
        assert_eq!(
            got,
            [("server.tls_cert", Some(1)), ("server.tls_key", Some(3))]
        );
        assert!(e.problems()[1].message.contains("/nonexistent/key.pem"));
    }

    #[test]
    fn cross_entry_duplicates() {
        let second = format!("\n[[account]]\nsystem_id = \"acme\"\npassword_hash = \"{HASH}\"\n");
        let src = format!("{}{second}", base());
        let p = problem(&src);
        assert_eq!(p.key, "account[1].system_id");
        assert_eq!(
            p.line,
            Some(
                src.rfind("system_id = \"acme\"")
                    .map(|o| src[..o].matches('\n').count() + 1)
                    .unwrap()
            )
        );

        let src = base().replace(
            "system_id = \"acme\"",
            "system_id = \"acme\"\nmo_numbers = [\"123\"]",
        ) + &format!(
            "\n[[account]]\nsystem_id = \"other\"\npassword_hash = \"{HASH}\"\nmo_numbers = [\"555\", \"123\"]\n"
        );
        let p = problem(&src);
        assert_eq!(p.key, "account[1].mo_numbers[1]");
        assert!(p.message.contains("account[0]"), "{p}");

        let src = base() + "\n[[route]]\nprefix = \"\"\ncarriers = [\"a\"]\n";
        assert_eq!(problem(&src).key, "route[1].prefix");
        // Same prefix once globally and once per account is fine.
        let src =
            base() + "\n[[route]]\nprefix = \"\"\ncarriers = [\"a\"]\naccounts = [\"acme\"]\n";
        Config::from_toml(&src).unwrap();
    }

    #[test]
    fn reports_every_problem() {
        let src = base()
            .replace("name = \"a\"", "name = \"a\"\nwindow = 0\nbinds = 0")
            .replace("prefix = \"\"", "prefix = \"x\"");
        let e = Config::from_toml(&src).unwrap_err();
        let keys: Vec<&str> = e.problems().iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["carrier[0].binds", "carrier[0].window", "route[0].prefix"]
        );
        assert_eq!(e.to_string().lines().count(), 3);
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, base().replace("window", "w") + "\nbogus = 1\n").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: line ", path.display())), "{e}");
        assert!(e.contains("bogus"), "{e}");
        let missing = Config::load(&dir.path().join("missing.toml")).unwrap_err();
        assert!(matches!(missing, ConfigError::Io { .. }));
    }

    #[test]
    fn example_config_loads() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "tls/cert.pem",
            "tls/key.pem",
            "tls/carrier-b-ca.pem",
            "secrets/carrier-b",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "b-secret\n").unwrap();
        }
        std::fs::write(
            dir.path().join("secrets/cdr-key"),
            "0123456789abcdef0123456789abcdef\n",
        )
        .unwrap();
        // Only this test reads this variable.
        std::env::set_var("TELEGATE_CARRIER_A_PASSWORD", "a-secret");
        let example = include_str!("../../conf/telegate.toml");
        let src = example.replace("/etc/telegate/", &format!("{}/", dir.path().display()));
        let path = dir.path().join("telegate.toml");
        std::fs::write(&path, &src).unwrap();
        let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.accounts.len(), 2);
        assert_eq!(cfg.carriers.len(), 3);
        assert_eq!(cfg.routes.len(), 3);
        assert_eq!(cfg.server.tls_listen.len(), 1);
        assert_eq!(cfg.carriers[1].password.resolve().unwrap(), "b-secret");
        let summary = cfg.summary();
        for secret in ["a-secret", "b-secret", "argon2"] {
            assert!(!summary.contains(secret), "{summary}");
        }
        assert!(
            summary.contains("carrier carrier-b at smsc.carrier-b.example:3550 (tls)"),
            "{summary}"
        );
    }
}
