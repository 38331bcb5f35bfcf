//! The `telegate` binary's command line.

use std::process::Command;

#[test]
fn version_and_help() {
    let bin = env!("CARGO_BIN_EXE_telegate");
    let out = Command::new(bin).arg("--version").output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(s.trim(), format!("telegate {}", env!("CARGO_PKG_VERSION")));

    let out = Command::new(bin).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("Usage: telegate"));

    let out = Command::new(bin).arg("--no-such-flag").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
