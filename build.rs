//! Puts the commit the daemon was built from in `TELEGATE_GIT_SHA` (for
//! `telegate_build_info`): `git rev-parse --short=12 HEAD`, or the
//! `TELEGATE_GIT_SHA` environment variable when set (a build from a
//! source tarball), or "unknown" when there is no git or no repository.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Re-run when `path` (as git names it) changes, but only if it exists:
/// a missing file would make cargo re-run this script on every build.
fn watch(git_path: &str) {
    if let Some(p) = git(&["rev-parse", "--git-path", git_path]) {
        if PathBuf::from(&p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TELEGATE_GIT_SHA");
    let sha = match std::env::var("TELEGATE_GIT_SHA") {
        Ok(s) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => {
            // HEAD moves on checkout; the branch it points to moves on
            // commit (a loose ref, or packed-refs once packed). In a
            // worktree these resolve into the shared repository.
            watch("HEAD");
            if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watch(&r);
                watch("packed-refs");
            }
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
    };
    println!("cargo:rustc-env=TELEGATE_GIT_SHA={sha}");
}
