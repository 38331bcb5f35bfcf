//! The systemd files in `systemd/`: the unit has the keys operations rely on, and systemd's own
//! tools accept the unit, the sysusers and the tmpfiles entries when they are installed here.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_telegate");

fn systemd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd")
}

fn unit_text() -> String {
    fs::read_to_string(systemd_dir().join("telegate.service")).expect("systemd/telegate.service")
}

/// A unit file's assignments by section, every value of a repeated key kept in order.
/// (No line continuations: the unit does not use them, and this parser would reject them.)
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn parse_unit(text: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        assert!(!line.ends_with('\\'), "line {}: continuation", n + 1);
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_owned());
            unit.entry(name.to_owned()).or_default();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not KEY=VALUE: {line}", n + 1));
        let section = section
            .as_ref()
            .unwrap_or_else(|| panic!("line {}: outside a section", n + 1));
        unit.get_mut(section)
            .expect("section recorded")
            .entry(key.trim().to_owned())
            .or_default()
            .push(value.trim().to_owned());
    }
    unit
}

/// The last value of `key` in `[section]` (the one systemd uses for single-valued keys).
fn get<'a>(unit: &'a Unit, section: &str, key: &str) -> &'a str {
    unit.get(section)
        .and_then(|s| s.get(key))
        .and_then(|v| v.last())
        .unwrap_or_else(|| panic!("[{section}] {key}= missing"))
}

fn seconds(value: &str) -> u64 {
    value
        .strip_suffix('s')
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("expected a value like 45s, got {value:?}"))
}

#[test]
fn service_unit_has_the_required_keys() {
    let unit = parse_unit(&unit_text());
    let svc = |key| get(&unit, "Service", key);

    assert_eq!(svc("Type"), "notify");
    assert_eq!(svc("NotifyAccess"), "main");
    assert_eq!(
        svc("ExecStart"),
        "/usr/bin/telegate run --config /etc/telegate/telegate.toml"
    );
    assert_eq!(
        svc("ExecStartPre"),
        "/usr/bin/telegate check-config /etc/telegate/telegate.toml"
    );
    assert_eq!(svc("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(svc("WatchdogSec"), "30s");
    assert_eq!(svc("Restart"), "on-failure");
    assert_eq!(svc("RestartSec"), "2s");
    // systemd must let a graceful shutdown finish before it sends SIGKILL.
    let grace = telegate::config::ServerConfig::default().shutdown_grace.0;
    assert!(
        seconds(svc("TimeoutStopSec")) > grace.as_secs(),
        "TimeoutStopSec must exceed the default shutdown_grace ({grace:?})"
    );

    assert_eq!(svc("User"), "telegate");
    assert_eq!(svc("Group"), "telegate");
    assert_eq!(svc("DynamicUser"), "no");
    assert_eq!(svc("StateDirectory"), "telegate");
    assert_eq!(svc("StateDirectoryMode"), "0700");
    assert_eq!(svc("ConfigurationDirectory"), "telegate");
    assert_eq!(svc("LimitNOFILE"), "262144");
    assert_eq!(svc("UMask"), "0077");

    for (key, value) in [
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("SystemCallFilter", "@system-service"),
        ("SystemCallErrorNumber", "EPERM"),
        ("SystemCallArchitectures", "native"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("ProtectClock", "yes"),
        ("ProtectHostname", "yes"),
        ("RestrictNamespaces", "yes"),
        ("RestrictRealtime", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert_eq!(svc(key), value, "[Service] {key}=");
    }
    // An empty assignment resets a list: it must be the only one for the set to be empty.
    for key in ["CapabilityBoundingSet", "AmbientCapabilities"] {
        assert_eq!(unit["Service"][key], [""], "{key}= assigned once, empty");
    }

    assert_eq!(get(&unit, "Install", "WantedBy"), "multi-user.target");
}

#[test]
fn sysusers_and_tmpfiles_entries() {
    let sysusers = fs::read_to_string(systemd_dir().join("telegate.sysusers")).unwrap();
    assert!(sysusers
        .lines()
        .any(|l| l == r#"u telegate - "Telegate SMPP gateway" /var/lib/telegate"#));

    let tmpfiles = fs::read_to_string(systemd_dir().join("telegate.tmpfiles")).unwrap();
    let entries: Vec<Vec<&str>> = tmpfiles
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect())
        .collect();
    for want in [
        ["d", "/var/lib/telegate", "0700", "telegate", "telegate"],
        ["d", "/var/lib/telegate/dlr", "0700", "telegate", "telegate"],
        ["d", "/var/lib/telegate/cdr", "0700", "telegate", "telegate"],
        ["d", "/etc/telegate", "0750", "root", "telegate"],
        ["d", "/etc/telegate/secrets", "0750", "root", "telegate"],
    ] {
        assert!(
            entries.iter().any(|e| e.starts_with(&want)),
            "tmpfiles entry {want:?} missing"
        );
    }
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `systemd-analyze verify` on a copy of the unit whose commands point at the binary just built
/// (verify fails when an Exec= program is missing). verify exits 0 even for unknown keys and
/// unparsable values, which it only prints, so any output is a failure too, except about the
/// `telegate` account, which exists only once telegate.sysusers is installed.
#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    if !have("systemd-analyze") {
        eprintln!("systemd-analyze not found; skipping verify (install the `systemd` package)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("telegate.service");
    fs::write(&unit, unit_text().replace("/usr/bin/telegate", BIN)).unwrap();

    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    let stderr = text(&out.stderr);
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !about_the_account(l))
        .collect();
    assert!(
        out.status.success() && complaints.is_empty(),
        "systemd-analyze verify: {}\nstdout:\n{}\nstderr:\n{stderr}",
        out.status,
        text(&out.stdout)
    );
    if !stderr.trim().is_empty() {
        eprintln!("systemd-analyze verify (tolerated):\n{stderr}");
    }
}

/// A complaint that the `telegate` user or group does not exist (yet), and nothing else.
fn about_the_account(line: &str) -> bool {
    let l = line.to_lowercase();
    (l.contains("user") || l.contains("group"))
        && l.contains("telegate")
        && !["unknown", "parse", "invalid", "not executable"]
            .iter()
            .any(|bad| l.contains(bad))
}

fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// `systemd-sysusers` then `systemd-tmpfiles --create` into a scratch root: the account is made
/// and the directories get the owners and modes the unit expects.
#[test]
fn sysusers_and_tmpfiles_apply_to_a_scratch_root() {
    if !have("systemd-sysusers") || !have("systemd-tmpfiles") {
        eprintln!("systemd-sysusers / systemd-tmpfiles not found; skipping");
        return;
    }
    if !running_as_root() {
        eprintln!("not root: systemd-tmpfiles cannot chown; skipping the scratch-root install");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("etc")).unwrap();
    let run = |tool: &str, args: &[&str], file: &str| {
        let out = Command::new(tool)
            .arg(format!("--root={}", root.path().display()))
            .args(args)
            .arg(systemd_dir().join(file))
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{tool}: {}\n{}",
            out.status,
            text(&out.stderr)
        );
    };
    run("systemd-sysusers", &[], "telegate.sysusers");
    run("systemd-tmpfiles", &["--create"], "telegate.tmpfiles");

    let passwd = fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    let entry: Vec<&str> = passwd
        .lines()
        .find(|l| l.starts_with("telegate:"))
        .expect("telegate in passwd")
        .split(':')
        .collect();
    let (uid, gid): (u32, u32) = (entry[2].parse().unwrap(), entry[3].parse().unwrap());
    assert_eq!(entry[5], "/var/lib/telegate");

    for (path, mode, owner) in [
        ("var/lib/telegate", 0o700, uid),
        ("var/lib/telegate/dlr", 0o700, uid),
        ("var/lib/telegate/cdr", 0o700, uid),
        ("etc/telegate", 0o750, 0),
        ("etc/telegate/secrets", 0o750, 0),
    ] {
        let meta = fs::metadata(root.path().join(path)).unwrap();
        assert!(meta.is_dir(), "{path}");
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "{path} mode");
        assert_eq!((meta.uid(), meta.gid()), (owner, gid), "{path} owner");
    }
}
