//! Validation of a parsed [`Config`], and mapping key paths to lines.
//!
//! Key paths are written the way an operator finds them in the file:
//! `server.window`, `carrier[1].reconnect.min`, `route[0].weights.carrier-a`
//! (array-of-tables index counted from 0 in file order).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use toml_edit::{Array, ArrayOfTables, ImDocument, Item, TableLike, Value};

use super::units::Duration;
use super::{Config, Problem};

/// Longest system_id (SMPP 3.4 §4.1: C-Octet String of at most 16 octets).
const MAX_SYSTEM_ID: usize = 15;
/// Longest bind password (SMPP 3.4 §4.1: at most 9 octets with the NUL).
const MAX_PASSWORD: usize = 8;
/// Longest system_type (SMPP 3.4 §4.1: at most 13 octets with the NUL).
const MAX_SYSTEM_TYPE: usize = 12;
/// Most carriers one route may list (route candidates are a fixed array).
pub(crate) const MAX_ROUTE_CARRIERS: usize = 16;
/// Longest route prefix and MO number, in digits.
const MAX_DIGITS: usize = 20;
/// Accounts and carriers are indexed by `u16`.
const MAX_ENTRIES: usize = u16::MAX as usize;
/// Bounds of `server.max_pdu_len`.
const PDU_LEN: std::ops::RangeInclusive<u64> = 16..=70_000;

/// Collects problems.
struct Check {
    problems: Vec<Problem>,
}

impl Check {
    fn err(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            line: None,
            message: message.into(),
        });
    }

    fn at_least_one(&mut self, key: String, v: u32) {
        if v == 0 {
            self.err(key, "must be at least 1");
        }
    }

    fn nonzero(&mut self, key: String, d: Duration) {
        if d.get().is_zero() {
            self.err(key, "must be longer than 0s");
        }
    }

    fn readable_file(&mut self, key: String, path: &Path) {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => self.err(key, format!("{} is not a file", path.display())),
            Err(e) => self.err(key, format!("cannot read {}: {e}", path.display())),
        }
    }

    fn smpp_string(&mut self, key: String, s: &str, max: usize, may_be_empty: bool) {
        if s.is_empty() && !may_be_empty {
            self.err(key, "must not be empty");
        } else if s.len() > max {
            self.err(key, format!("is longer than {max} characters"));
        } else if !s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            self.err(key, "must be printable ASCII");
        }
    }
}

fn is_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// Writes one key of a path, quoted when it is not a bare TOML key.
pub(crate) fn key_segment(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_owned()
    } else {
        let mut s = String::with_capacity(k.len() + 2);
        s.push('"');
        for c in k.chars() {
            if c == '"' || c == '\\' {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
        s
    }
}

/// Every problem in `cfg` (empty when it is valid).
pub(crate) fn check(cfg: &Config) -> Vec<Problem> {
    let mut c = Check {
        problems: Vec::new(),
    };
    server(&mut c, cfg);
    routing(&mut c, cfg);
    accounts(&mut c, cfg);
    carriers(&mut c, cfg);
    routes(&mut c, cfg);
    dlr(&mut c, cfg);
    operations(&mut c, cfg);
    filter(&mut c, cfg);
    cdr(&mut c, cfg);
    c.problems
}

/// Shortest CDR pseudonym key, in characters (`openssl rand -hex 32` gives 64).
const MIN_CDR_KEY: usize = 32;

fn cdr(c: &mut Check, cfg: &Config) {
    for (i, a) in cfg.accounts.iter().enumerate() {
        if let Some(r) = a.retention {
            c.nonzero(format!("account[{i}].retention"), r);
        }
    }
    let Some(d) = &cfg.cdr else {
        return;
    };
    if d.dir.as_os_str().is_empty() {
        c.err("cdr.dir", "must not be empty");
    }
    c.nonzero("cdr.retention".into(), d.retention);
    c.nonzero("cdr.fsync_interval".into(), d.fsync_interval);
    c.nonzero("cdr.sweep_interval".into(), d.sweep_interval);
    if d.fsync_interval.get() > std::time::Duration::from_secs(60) {
        c.err("cdr.fsync_interval", "must be at most 60s");
    }
    if !(1024..=16_777_216).contains(&d.queue) {
        c.err("cdr.queue", "must be between 1024 and 16777216");
    }
    match d.pseudonym_key.resolve() {
        Ok(k) if k.trim().len() < MIN_CDR_KEY => c.err(
            "cdr.pseudonym_key",
            format!("must be at least {MIN_CDR_KEY} characters (e.g. `openssl rand -hex 32`)"),
        ),
        Ok(_) => {}
        Err(e) => c.err("cdr.pseudonym_key", e),
    }
    if let crate::config::Secret::File { file } = &d.pseudonym_key {
        if inside(file, &d.dir) {
            c.err(
                "cdr.pseudonym_key",
                format!("{} must not be inside cdr.dir", file.display()),
            );
        }
    }
    if inside(&d.audit_log(), &d.dir) {
        c.err("cdr.audit_log", "must not be inside cdr.dir");
    }
}

/// Whether `path` lies under `dir` (compared as written and, where they
/// exist, as resolved paths).
fn inside(path: &Path, dir: &Path) -> bool {
    let resolved = |p: &Path| {
        p.parent()
            .and_then(|parent| std::fs::canonicalize(parent).ok())
            .map(|parent| parent.join(p.file_name().unwrap_or_default()))
            .unwrap_or_else(|| p.to_path_buf())
    };
    let dir_resolved = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    path.starts_with(dir) || resolved(path).starts_with(&dir_resolved)
}

fn score(c: &mut Check, key: &str, v: f32) {
    if !v.is_finite() || !(0.0..=100.0).contains(&v) {
        c.err(key, "must be a number from 0 to 100");
    }
}

fn filter(c: &mut Check, cfg: &Config) {
    let s = &cfg.suspension;
    c.nonzero("suspension.window".into(), s.window);
    c.nonzero("suspension.evidence_ttl".into(), s.evidence_ttl);
    c.at_least_one("suspension.min_blocked".into(), s.min_blocked);
    c.at_least_one("suspension.evidence_max".into(), s.evidence_max);
    if s.evidence_max > 10_000 {
        c.err("suspension.evidence_max", "at most 10000");
    }
    if !(s.max_blocked_ratio > 0.0 && s.max_blocked_ratio <= 1.0) {
        c.err(
            "suspension.max_blocked_ratio",
            "must be above 0 and at most 1",
        );
    }
    if let Some(w) = &s.webhook {
        if !(w.starts_with("http://") || w.starts_with("https://"))
            || w.parse::<hyper::Uri>().is_err()
        {
            c.err("suspension.webhook", "must be an http:// or https:// URL");
        }
    }
    let Some(f) = &cfg.filter else {
        for (i, a) in cfg.accounts.iter().enumerate() {
            if !a.filter_exempt.is_empty() {
                c.err(
                    format!("account[{i}].filter_exempt"),
                    "there is no [filter] to be exempt from",
                );
            }
        }
        return;
    };
    score(c, "filter.block_score", f.block_score);
    score(c, "filter.flag_score", f.flag_score);
    score(c, "filter.classifier_weight", f.classifier_weight);
    score(c, "filter.classifier_base", f.classifier_base);
    score(c, "filter.campaign_score", f.campaign_score);
    score(c, "filter.rate_score", f.rate_score);
    if f.block_score <= 0.0 {
        c.err("filter.block_score", "must be above 0");
    }
    if f.flag_score > f.block_score {
        c.err("filter.flag_score", "must not be above block_score");
    }
    if let Some(t) = f.classifier_threshold {
        if !(t > 0.0 && t < 1.0) {
            c.err("filter.classifier_threshold", "must be between 0 and 1");
        }
    }
    let status = telegate_smpp::CommandStatus(f.block_status);
    if status.is_ok() {
        c.err(
            "filter.block_status",
            "must be an error status (e.g. 0x45, ESME_RSUBMITFAIL)",
        );
    }
    c.nonzero("filter.campaign_window".into(), f.campaign_window);
    c.nonzero("filter.reassembly_timeout".into(), f.reassembly_timeout);
    c.at_least_one("filter.reassembly_max_sets".into(), f.reassembly_max_sets);
    if f.verdict_cache > 1 << 20 {
        c.err(
            "filter.verdict_cache",
            "must be at most 1048576 entries (per worker thread)",
        );
    }
    if f.reassembly_max_bytes.0 < 1024 {
        c.err("filter.reassembly_max_bytes", "must be at least 1KiB");
    }
    let engine = match crate::filter::build_engine(f) {
        Ok(e) => e,
        Err((key, message)) => {
            c.err(key, message);
            return;
        }
    };
    let all = engine.rule_ids();
    for (i, a) in cfg.accounts.iter().enumerate() {
        let key = format!("account[{i}].filter_exempt");
        for (j, id) in a.filter_exempt.iter().enumerate() {
            if !engine.knows(id) {
                c.err(
                    format!("{key}[{j}]"),
                    format!("{id:?} is not a filter rule"),
                );
            }
        }
        let exempt: HashSet<&str> = a.filter_exempt.iter().map(String::as_str).collect();
        if !all.is_empty() && all.iter().all(|id| exempt.contains(&**id)) {
            c.err(key, "may exempt from some rules, never from all of them");
        }
    }
}

fn server(c: &mut Check, cfg: &Config) {
    let s = &cfg.server;
    if s.listen.is_empty() && s.tls_listen.is_empty() {
        c.err(
            "server.listen",
            "no listener: set server.listen or server.tls_listen",
        );
    }
    let mut seen = HashSet::new();
    for (name, addrs) in [("listen", &s.listen), ("tls_listen", &s.tls_listen)] {
        for (i, a) in addrs.iter().enumerate() {
            // Port 0 asks for a fresh port each time, so it never clashes.
            if a.port() != 0 && !seen.insert(*a) {
                c.err(
                    format!("server.{name}[{i}]"),
                    format!("{a} is listed twice"),
                );
            }
        }
    }
    if !s.tls_listen.is_empty() {
        if s.tls_cert.is_none() {
            c.err("server.tls_cert", "tls_listen needs tls_cert");
        }
        if s.tls_key.is_none() {
            c.err("server.tls_key", "tls_listen needs tls_key");
        }
    }
    if let Some(p) = &s.tls_cert {
        c.readable_file("server.tls_cert".into(), p);
    }
    if let Some(p) = &s.tls_key {
        c.readable_file("server.tls_key".into(), p);
    }
    c.at_least_one("server.window".into(), s.window);
    c.at_least_one("server.deliver_window".into(), s.deliver_window);
    c.at_least_one("server.max_connections".into(), s.max_connections);
    c.at_least_one("server.auth_max_failures".into(), s.auth_max_failures);
    for (name, d) in [
        ("enquire_link_interval", s.enquire_link_interval),
        ("inactivity_timeout", s.inactivity_timeout),
        ("bind_timeout", s.bind_timeout),
        ("response_timeout", s.response_timeout),
        ("submit_deadline", s.submit_deadline),
        ("auth_failure_window", s.auth_failure_window),
        ("auth_lockout", s.auth_lockout),
    ] {
        c.nonzero(format!("server.{name}"), d);
    }
    if s.auth_failure_delay.get() > std::time::Duration::from_secs(60) {
        c.err("server.auth_failure_delay", "must be at most 60s");
    }
    if !PDU_LEN.contains(&s.max_pdu_len.0) {
        c.err(
            "server.max_pdu_len",
            format!(
                "must be between {} and {} octets",
                PDU_LEN.start(),
                PDU_LEN.end()
            ),
        );
    }
    c.smpp_string(
        "server.system_id".into(),
        &s.system_id,
        MAX_SYSTEM_ID,
        false,
    );
}

fn routing(c: &mut Check, cfg: &Config) {
    let r = &cfg.routing;
    if let Some(cc) = &r.country_code {
        if cc.is_empty() || cc.len() > 3 || !is_digits(cc) || cc.starts_with('0') {
            c.err(
                "routing.country_code",
                "must be 1 to 3 digits, not starting with 0",
            );
        }
    }
    for (name, v) in [
        ("national_prefix", &r.national_prefix),
        ("international_prefix", &r.international_prefix),
    ] {
        if !is_digits(v) || v.len() > 4 {
            c.err(format!("routing.{name}"), "must be at most 4 digits");
        }
    }
    if !r.national_prefix.is_empty() && r.national_prefix == r.international_prefix {
        c.err(
            "routing.national_prefix",
            "must differ from routing.international_prefix",
        );
    }
}

fn accounts(c: &mut Check, cfg: &Config) {
    if cfg.accounts.len() > MAX_ENTRIES {
        c.err("account", format!("at most {MAX_ENTRIES} accounts"));
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut sids: HashMap<&str, usize> = HashMap::new();
    let mut numbers: HashMap<&str, usize> = HashMap::new();
    for (i, a) in cfg.accounts.iter().enumerate() {
        let k = |f: &str| format!("account[{i}].{f}");
        c.smpp_string(k("system_id"), &a.system_id, MAX_SYSTEM_ID, false);
        let dup_id = ids.insert(&a.system_id, i);
        if let Some(prev) = dup_id {
            c.err(
                k("system_id"),
                format!("{:?} is also account[{prev}].system_id", a.system_id),
            );
        }
        if let Some(sid) = &a.sid {
            if sid.is_empty() || sid.len() > 64 || !sid.bytes().all(|b| b.is_ascii_graphic()) {
                c.err(k("sid"), "must be 1 to 64 printable ASCII characters");
            }
        }
        let prev_sid = sids.insert(a.sid(), i);
        if let Some(prev) = prev_sid.filter(|_| a.sid.is_some() || dup_id.is_none()) {
            c.err(
                if a.sid.is_some() {
                    k("sid")
                } else {
                    k("system_id")
                },
                format!("sid {:?} is also the sid of account[{prev}]", a.sid()),
            );
        }
        match argon2::PasswordHash::new(&a.password_hash) {
            Ok(h) if h.algorithm.as_str().starts_with("argon2") && h.hash.is_some() => {}
            Ok(_) => c.err(
                k("password_hash"),
                "is not an argon2 hash (use `telegate hash-password`)",
            ),
            Err(e) => c.err(
                k("password_hash"),
                format!("is not a PHC string ({e}); use `telegate hash-password`"),
            ),
        }
        c.at_least_one(k("max_binds"), a.max_binds);
        if a.bind_types.is_empty() {
            c.err(k("bind_types"), "must allow at least one bind type");
        }
        if a.window == Some(0) {
            c.err(k("window"), "must be at least 1");
        }
        for (j, n) in a.mo_numbers.iter().enumerate() {
            let key = format!("account[{i}].mo_numbers[{j}]");
            if n.is_empty() || n.len() > MAX_DIGITS || !is_digits(n) {
                c.err(key, format!("must be 1 to {MAX_DIGITS} digits"));
            } else if let Some(prev) = numbers.insert(n, i) {
                c.err(
                    key,
                    if prev == i {
                        format!("{n} is listed twice")
                    } else {
                        format!("{n} also belongs to account[{prev}]")
                    },
                );
            }
        }
    }
}

fn carriers(c: &mut Check, cfg: &Config) {
    if cfg.carriers.len() > MAX_ENTRIES {
        c.err("carrier", format!("at most {MAX_ENTRIES} carriers"));
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, cr) in cfg.carriers.iter().enumerate() {
        let k = |f: &str| format!("carrier[{i}].{f}");
        if cr.name.is_empty() || cr.name.len() > 64 || cr.name.chars().any(char::is_control) {
            c.err(k("name"), "must be 1 to 64 characters");
        }
        if let Some(prev) = names.insert(&cr.name, i) {
            c.err(
                k("name"),
                format!("{:?} is also carrier[{prev}].name", cr.name),
            );
        }
        match split_host_port(&cr.address) {
            Some((host, _)) => {
                if cr.tls && cr.tls_server_name.is_none() {
                    server_name(c, k("address"), host);
                }
            }
            None => c.err(k("address"), "must be host:port"),
        }
        if cr.tls {
            match &cr.tls_ca {
                Some(p) => c.readable_file(k("tls_ca"), p),
                None => c.err(k("tls_ca"), "a TLS carrier needs tls_ca (a PEM CA bundle)"),
            }
            if let Some(n) = &cr.tls_server_name {
                server_name(c, k("tls_server_name"), n);
            }
        } else {
            if cr.tls_ca.is_some() {
                c.err(k("tls_ca"), "is only used with tls = true");
            }
            if cr.tls_server_name.is_some() {
                c.err(k("tls_server_name"), "is only used with tls = true");
            }
        }
        c.smpp_string(k("system_id"), &cr.system_id, MAX_SYSTEM_ID, false);
        match cr.password.resolve() {
            Ok(pw) => {
                if pw.len() > MAX_PASSWORD {
                    c.err(
                        k("password"),
                        format!("is longer than {MAX_PASSWORD} characters (SMPP 3.4 limit)"),
                    );
                }
            }
            Err(e) => c.err(k("password"), e),
        }
        c.smpp_string(k("system_type"), &cr.system_type, MAX_SYSTEM_TYPE, true);
        c.at_least_one(k("binds"), cr.binds);
        if cr.binds > 256 {
            c.err(k("binds"), "must be at most 256");
        }
        c.at_least_one(k("window"), cr.window);
        c.nonzero(k("enquire_link_interval"), cr.enquire_link_interval);
        c.nonzero(k("response_timeout"), cr.response_timeout);
        c.nonzero(k("reconnect.min"), cr.reconnect.min);
        if cr.reconnect.min > cr.reconnect.max {
            c.err(
                k("reconnect.max"),
                format!(
                    "must not be shorter than reconnect.min ({})",
                    cr.reconnect.min
                ),
            );
        }
    }
}

fn split_host_port(addr: &str) -> Option<(&str, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().ok()?;
    (!host.is_empty() && port != 0 && !host.contains(char::is_whitespace)).then_some((host, port))
}

fn server_name(c: &mut Check, key: String, name: &str) {
    if rustls::pki_types::ServerName::try_from(name).is_err() {
        c.err(key, format!("{name:?} is not a valid TLS server name"));
    }
}

fn routes(c: &mut Check, cfg: &Config) {
    let carriers: HashMap<&str, &super::CarrierConfig> = cfg
        .carriers
        .iter()
        .map(|cr| (cr.name.as_str(), cr))
        .collect();
    let accounts: HashSet<&str> = cfg.accounts.iter().map(|a| a.system_id.as_str()).collect();
    // (prefix, account or None for global) → route index.
    let mut seen: HashMap<(&str, Option<&str>), usize> = HashMap::new();
    for (i, r) in cfg.routes.iter().enumerate() {
        let k = |f: &str| format!("route[{i}].{f}");
        if r.prefix.len() > MAX_DIGITS || !is_digits(&r.prefix) {
            c.err(
                k("prefix"),
                format!("must be at most {MAX_DIGITS} digits (\"\" matches everything)"),
            );
        }
        let check_carrier = |c: &mut Check, key: String, name: &str| match carriers.get(name) {
            None => c.err(key, format!("no carrier is named {name:?}")),
            Some(cr) if !cr.bind.can_submit() => c.err(
                key,
                format!("carrier {name:?} binds as rx and cannot take submits"),
            ),
            Some(_) => {}
        };
        match (r.carriers.is_empty(), r.weights.is_empty()) {
            (true, true) => c.err(k("carriers"), "needs carriers or weights"),
            (false, false) => c.err(k("weights"), "use either carriers or weights, not both"),
            (false, true) => {
                let mut dup = HashSet::new();
                for (j, name) in r.carriers.iter().enumerate() {
                    let key = format!("route[{i}].carriers[{j}]");
                    if !dup.insert(name.as_str()) {
                        c.err(key, format!("{name:?} is listed twice"));
                    } else {
                        check_carrier(c, key, name);
                    }
                }
            }
            (true, false) => {
                for (name, w) in &r.weights {
                    let key = format!("route[{i}].weights.{}", key_segment(name));
                    check_carrier(c, key.clone(), name);
                    if *w == 0 {
                        c.err(key, "weight must be at least 1");
                    }
                }
            }
        }
        if r.carriers.len().max(r.weights.len()) > MAX_ROUTE_CARRIERS {
            c.err(
                k(if r.weights.is_empty() {
                    "carriers"
                } else {
                    "weights"
                }),
                format!("at most {MAX_ROUTE_CARRIERS} carriers per route"),
            );
        }
        if r.accounts.is_empty() {
            if let Some(prev) = seen.insert((&r.prefix, None), i) {
                c.err(
                    k("prefix"),
                    format!("route[{prev}] has the same prefix for all accounts"),
                );
            }
        }
        for (j, a) in r.accounts.iter().enumerate() {
            let key = format!("route[{i}].accounts[{j}]");
            if !accounts.contains(a.as_str()) {
                c.err(key, format!("no account has system_id {a:?}"));
            } else if let Some(prev) = seen.insert((&r.prefix, Some(a)), i) {
                c.err(
                    key,
                    if prev == i {
                        format!("{a:?} is listed twice")
                    } else {
                        format!("route[{prev}] has the same prefix for {a:?}")
                    },
                );
            }
        }
    }
}

fn dlr(c: &mut Check, cfg: &Config) {
    let d = &cfg.dlr;
    if d.store.as_os_str().is_empty() {
        c.err("dlr.store", "must not be empty");
    }
    c.nonzero("dlr.ttl".into(), d.ttl);
    c.nonzero("dlr.final_ttl".into(), d.final_ttl);
    c.nonzero("dlr.commit_interval".into(), d.commit_interval);
    c.nonzero("dlr.held_ttl".into(), d.held_ttl);
    if d.commit_interval.get() > std::time::Duration::from_secs(1) {
        c.err("dlr.commit_interval", "must be at most 1s");
    }
    if d.match_wait.get() > std::time::Duration::from_secs(60) {
        c.err("dlr.match_wait", "must be at most 60s");
    }
    if d.max_entries == 0 {
        c.err("dlr.max_entries", "must be at least 1");
    }
}

fn operations(c: &mut Check, cfg: &Config) {
    c.nonzero("server.shutdown_grace".into(), cfg.server.shutdown_grace);
    if cfg.server.workers > 1024 {
        c.err(
            "server.workers",
            "must be at most 1024 (0 = one per CPU core)",
        );
    }
    if let Some(a) = cfg.admin.listen {
        if !a.ip().is_loopback() && cfg.admin.token.is_none() {
            c.err(
                "admin.token",
                format!("required when admin.listen ({a}) is not a loopback address"),
            );
        }
        if cfg.metrics.listen == Some(a) && a.port() != 0 {
            c.err("admin.listen", "must differ from metrics.listen");
        }
    }
    if let Some(t) = &cfg.admin.token {
        match t.resolve() {
            Ok(v) if v.len() < 16 => c.err("admin.token", "must be at least 16 characters"),
            Ok(_) => {}
            Err(e) => c.err("admin.token", e),
        }
    }
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&cfg.log.level) {
        c.err("log.level", format!("not a valid level filter: {e}"));
    }
}

// ---------------------------------------------------------------------------
// Key paths ↔ positions in the source.

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Option<Vec<Seg>> {
    let mut segs = Vec::new();
    let mut chars = path.chars().peekable();
    while let Some(&ch) = chars.peek() {
        match ch {
            '.' => {
                chars.next();
            }
            '[' => {
                chars.next();
                let mut n = String::new();
                for ch in chars.by_ref() {
                    if ch == ']' {
                        break;
                    }
                    n.push(ch);
                }
                segs.push(Seg::Index(n.parse().ok()?));
            }
            '"' => {
                chars.next();
                let mut k = String::new();
                while let Some(ch) = chars.next() {
                    match ch {
                        '"' => break,
                        '\\' => k.push(chars.next()?),
                        _ => k.push(ch),
                    }
                }
                segs.push(Seg::Key(k));
            }
            _ => {
                let mut k = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch == '.' || ch == '[' {
                        break;
                    }
                    k.push(ch);
                    chars.next();
                }
                segs.push(Seg::Key(k));
            }
        }
    }
    Some(segs)
}

fn format_path(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(&key_segment(k));
            }
            Seg::Index(i) => {
                let _ = write!(s, "[{i}]");
            }
        }
    }
    s
}

/// A node of the parsed document, whatever TOML syntax wrote it.
#[derive(Clone)]
enum Node<'a> {
    Table(&'a dyn TableLike, Option<Range<usize>>),
    Array(&'a Array),
    Tables(&'a ArrayOfTables),
    Scalar(&'a Value),
}

impl<'a> Node<'a> {
    fn of_item(item: &'a Item) -> Option<Node<'a>> {
        match item {
            Item::None => None,
            Item::Value(v) => Some(Node::of_value(v)),
            Item::Table(t) => Some(Node::Table(t, t.span())),
            Item::ArrayOfTables(a) => Some(Node::Tables(a)),
        }
    }

    fn of_value(v: &'a Value) -> Node<'a> {
        match v {
            Value::InlineTable(t) => Node::Table(t, t.span()),
            Value::Array(a) => Node::Array(a),
            _ => Node::Scalar(v),
        }
    }

    fn span(&self) -> Option<Range<usize>> {
        match self {
            Node::Table(_, span) => span.clone(),
            Node::Array(a) => a.span(),
            Node::Tables(a) => a.span(),
            Node::Scalar(v) => v.span(),
        }
    }

    /// The child at `seg`, with the span of its key when it has one.
    fn child(&self, seg: &Seg) -> Option<(Node<'a>, Option<Range<usize>>)> {
        match (self, seg) {
            (Node::Table(t, _), Seg::Key(k)) => {
                let (key, item) = t.get_key_value(k)?;
                Some((Node::of_item(item)?, key.span()))
            }
            (Node::Array(a), Seg::Index(i)) => Some((Node::of_value(a.get(*i)?), None)),
            (Node::Tables(a), Seg::Index(i)) => {
                let t = a.get(*i)?;
                Some((Node::Table(t, t.span()), None))
            }
            _ => None,
        }
    }

    fn children(&self) -> Vec<(Seg, Node<'a>, Option<Range<usize>>)> {
        match self {
            Node::Table(t, _) => t
                .iter()
                .filter_map(|(k, _)| {
                    let seg = Seg::Key(k.to_owned());
                    let (node, span) = self.child(&seg)?;
                    Some((seg, node, span))
                })
                .collect(),
            Node::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (Seg::Index(i), Node::of_value(v), None))
                .collect(),
            Node::Tables(a) => a
                .iter()
                .enumerate()
                .map(|(i, t)| (Seg::Index(i), Node::Table(t, t.span()), None))
                .collect(),
            Node::Scalar(_) => Vec::new(),
        }
    }
}

/// 1-based line of byte `offset` in `src`.
pub(crate) fn line_at(src: &str, offset: usize) -> usize {
    let end = offset.min(src.len());
    src.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line where `key` (a path such as `carrier[1].window`) is written, or
/// failing that the line of its nearest written parent (the table header
/// when the key was left to its default).
pub(crate) fn line_of_key(doc: &ImDocument<&str>, src: &str, key: &str) -> Option<usize> {
    let segs = parse_path(key)?;
    let mut node = Node::Table(doc.as_table(), None);
    let mut best: Option<usize> = None;
    for seg in &segs {
        let Some((child, key_span)) = node.child(seg) else {
            break;
        };
        if let Some(span) = key_span.or_else(|| child.span()) {
            best = Some(span.start);
        }
        node = child;
    }
    best.map(|off| line_at(src, off))
}

/// The key path written at byte `offset` (the deepest key or value whose
/// text covers it), or `""` when none does.
pub(crate) fn key_at(doc: &ImDocument<&str>, offset: usize) -> String {
    fn walk(node: Node<'_>, path: &mut Vec<Seg>, offset: usize, best: &mut Option<Vec<Seg>>) {
        for (seg, child, key_span) in node.children() {
            path.push(seg);
            let covers = |r: &Option<Range<usize>>| {
                r.as_ref()
                    .is_some_and(|r| r.start <= offset && offset < r.end.max(r.start + 1))
            };
            if covers(&key_span) || covers(&child.span()) {
                *best = Some(path.clone());
            }
            walk(child, path, offset, best);
            path.pop();
        }
    }
    let mut best = None;
    walk(
        Node::Table(doc.as_table(), None),
        &mut Vec::new(),
        offset,
        &mut best,
    );
    best.map(|segs| format_path(&segs)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for p in [
            "server.window",
            "carrier[1].reconnect.min",
            "route[0].weights.\"a.b\"",
            "account[2].mo_numbers[3]",
        ] {
            assert_eq!(format_path(&parse_path(p).unwrap()), p);
        }
    }

    #[test]
    fn lines_of_keys() {
        let src = "[server]\nwindow = 3\n\n[[carrier]]\nname = \"a\"\n\n[[carrier]]\nname = \"b\"\nreconnect = { min = \"1s\" }\n";
        let doc = ImDocument::parse(src).unwrap();
        assert_eq!(line_of_key(&doc, src, "server.window"), Some(2));
        assert_eq!(line_of_key(&doc, src, "carrier[1].name"), Some(8));
        assert_eq!(line_of_key(&doc, src, "carrier[1].reconnect.min"), Some(9));
        // Left to its default: the table header.
        assert_eq!(line_of_key(&doc, src, "carrier[1].window"), Some(7));
        assert_eq!(line_of_key(&doc, src, "server.listen"), Some(1));
        let off = src.find("\"b\"").unwrap();
        assert_eq!(key_at(&doc, off), "carrier[1].name");
    }
}
