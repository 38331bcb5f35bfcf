//! The `telegate` binary's subcommands: check-config, run with a bad
//! config, hash-password and the demo.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_telegate");

/// EX_USAGE: what the binary exits with on a bad configuration.
const EX_USAGE: i32 = 64;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `cmd` to its end, killing it if it takes longer than `limit`.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("telegate starts");
    let until = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "telegate did not exit within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The example config with its absolute paths moved into `dir`, where
/// the files it names (TLS material, a password file) are created.
fn example_config(dir: &Path) -> std::path::PathBuf {
    for f in [
        "tls/cert.pem",
        "tls/key.pem",
        "tls/carrier-b-ca.pem",
        "secrets/carrier-b",
    ] {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "b-secret\n").unwrap();
    }
    std::fs::write(
        dir.join("secrets/cdr-key"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let example = include_str!("../conf/telegate.toml");
    let prefix = format!("{}/", dir.display());
    let src = example
        .replace("/etc/telegate/", &prefix)
        .replace("/var/lib/telegate/", &prefix);
    let path = dir.join("telegate.toml");
    std::fs::write(&path, src).unwrap();
    path
}

/// A small valid config (no TLS, no files besides the store dir).
fn small_config(dir: &Path) -> String {
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$hDVYa+moi9nOmxgUPX1tIA$4ldNbfYJiTf3wgvNAkJv0VymBnwRh2KVsvLyIqNtizs";
    format!(
        r#"[server]
listen = ["127.0.0.1:0"]

[dlr]
store = {store:?}

[[account]]
system_id = "esme1"
password_hash = "{hash}"

[[carrier]]
name = "c1"
address = "127.0.0.1:9"
system_id = "telegate"
password = "pw"

[[route]]
prefix = ""
carriers = ["c1"]
"#,
        store = dir.join("dlr").display().to_string(),
    )
}

#[test]
fn check_config_accepts_the_example() {
    let dir = tempfile::tempdir().unwrap();
    let path = example_config(dir.path());
    let out = run_bounded(
        Command::new(BIN)
            .arg("check-config")
            .arg(&path)
            .env("TELEGATE_CARRIER_A_PASSWORD", "a-secret"),
        Duration::from_secs(60),
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(&format!("{}: OK", path.display())),
        "{stdout}"
    );
    // The summary: listeners, accounts, carriers.
    for want in [
        "listen smpp 0.0.0.0:2775",
        "listen smpp+tls 0.0.0.0:3550",
        "listen metrics 127.0.0.1:9775",
        "listen admin 127.0.0.1:9776",
        "accounts: 2",
        "account acme (sid AC5f3c0001)",
        "account globex",
        "carriers: 3",
        "carrier carrier-a at smsc.carrier-a.example:2775",
        "carrier carrier-b at smsc.carrier-b.example:3550 (tls)",
    ] {
        assert!(stdout.contains(want), "summary lacks {want:?}:\n{stdout}");
    }
    // Never a secret.
    for secret in ["a-secret", "b-secret", "argon2"] {
        assert!(
            !stdout.contains(secret),
            "summary shows {secret:?}:\n{stdout}"
        );
        assert!(
            !stderr.contains(secret),
            "stderr shows {secret:?}:\n{stderr}"
        );
    }
}

#[test]
fn check_config_without_the_secret_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = example_config(dir.path());
    let out = run_bounded(
        Command::new(BIN)
            .arg("check-config")
            .arg(&path)
            .env_remove("TELEGATE_CARRIER_A_PASSWORD"),
        Duration::from_secs(60),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(EX_USAGE), "{stderr}");
    assert!(stderr.contains("TELEGATE_CARRIER_A_PASSWORD"), "{stderr}");
}

#[test]
fn check_config_accepts_a_small_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.toml");
    std::fs::write(&path, small_config(dir.path())).unwrap();
    let out = run_bounded(
        Command::new(BIN).arg("check-config").arg(&path),
        Duration::from_secs(60),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("accounts: 1"), "{stdout}");
    assert!(stdout.contains("carrier c1 at 127.0.0.1:9"), "{stdout}");
}

#[test]
fn unknown_key_exits_64_naming_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    // The unknown key is on line 3.
    let src = small_config(dir.path()).replacen(
        "listen = [\"127.0.0.1:0\"]\n",
        "listen = [\"127.0.0.1:0\"]\nwindw = 5\n",
        1,
    );
    assert_eq!(src.lines().nth(2), Some("windw = 5"));
    std::fs::write(&path, &src).unwrap();
    let out = run_bounded(
        Command::new(BIN).arg("check-config").arg(&path),
        Duration::from_secs(60),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(EX_USAGE), "{stderr}");
    assert!(stderr.contains("windw"), "key not named: {stderr}");
    assert!(stderr.contains("line 3"), "line not named: {stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
}

#[test]
fn run_with_a_bad_config_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let src = small_config(dir.path()).replace("prefix = \"\"", "prefix = \"4x\"");
    std::fs::write(&path, src).unwrap();
    let out = run_bounded(
        Command::new(BIN).arg("run").arg("--config").arg(&path),
        Duration::from_secs(60),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(EX_USAGE), "{stderr}");
    assert!(stderr.contains("prefix"), "{stderr}");

    // A file that does not exist is a bad config too.
    let out = run_bounded(
        Command::new(BIN)
            .arg("run")
            .arg("--config")
            .arg(dir.path().join("missing.toml")),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(EX_USAGE), "{}", text(&out.stderr));
}

#[test]
fn hash_password_prints_a_verifiable_argon2id_hash() {
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("telegate starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"pw\n")
        .expect("password written");
    let out = child.wait_with_output().expect("output");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let hash = stdout.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash:?}");
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    let v = telegate::auth::PasswordVerifier::new();
    assert!(
        v.verify(hash, b"pw"),
        "the hash does not verify its password"
    );
    assert!(!v.verify(hash, b"px"), "the hash verifies another password");
    assert!(!v.verify(hash, b"pw\n"), "the newline is part of the hash");
}

#[test]
fn hash_password_refuses_an_empty_password() {
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("telegate starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"\n")
        .expect("written");
    let out = child.wait_with_output().expect("output");
    assert_eq!(out.status.code(), Some(EX_USAGE));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
}

#[test]
fn demo_once_shows_the_receipt_matched() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_bounded(
        Command::new(BIN)
            .args(["demo", "--once", "--listen", "127.0.0.1:0"])
            .current_dir(dir.path()),
        Duration::from_secs(60),
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        text(&out.stderr)
    );
    assert!(stdout.contains("receipt matched"), "{stdout}");
}
