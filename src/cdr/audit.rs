//! The audit log of CDR maintenance: one JSON line per sweep, erase,
//! export, hold or release, with who did it and how much it touched. It
//! holds account SIDs and counts, never numbers or content. Keep it
//! outside the CDR directory, so that erasing an account's records leaves
//! the record of the erasure.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::store::unix_ms_now;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A retention sweep.
    Sweep,
    /// An account's records erased.
    Erase,
    /// An account's records exported.
    Export,
    /// An account put on hold.
    Hold,
    /// An account's hold released.
    Release,
}

/// One audit line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// Unix ms.
    pub time_ms: u64,
    /// What was done.
    pub action: AuditAction,
    /// The account it was done to (none for a sweep).
    pub account: Option<String>,
    /// Who did it: an admin user, `cli:<unix user>`, or `sweeper`.
    pub actor: String,
    /// Records removed or exported.
    pub records: u64,
    /// Partitions rewritten or deleted.
    pub partitions: u64,
    /// Bytes freed or written.
    pub bytes: u64,
}

impl AuditEntry {
    /// An entry stamped now with zero counts.
    pub fn new(action: AuditAction, account: Option<&str>, actor: &str) -> AuditEntry {
        AuditEntry {
            time_ms: unix_ms_now(),
            action,
            account: account.map(str::to_owned),
            actor: actor.to_owned(),
            records: 0,
            partitions: 0,
            bytes: 0,
        }
    }
}

/// An append-only audit log file (`0600`); see the [module docs](self).
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens (creating `0600`) the log for appending.
    pub fn open(path: &Path) -> io::Result<AuditLog> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and fsyncs it.
    pub fn append(&self, entry: &AuditEntry) -> io::Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(io::Error::other)?;
        line.push(b'\n');
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        (&*file).write_all(&line)?;
        file.sync_data()
    }

    /// Reads every entry of a log.
    pub fn read(path: &Path) -> io::Result<Vec<AuditEntry>> {
        let f = File::open(path)?;
        let mut out = Vec::new();
        for line in BufReader::new(f).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            out.push(
                serde_json::from_str(&line)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn appends_json_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("audit.log");
        let log = AuditLog::open(&path).unwrap();
        let mut e = AuditEntry::new(AuditAction::Erase, Some("acme"), "cli:root");
        e.records = 12;
        e.partitions = 3;
        log.append(&e).unwrap();
        log.append(&AuditEntry::new(AuditAction::Sweep, None, "sweeper"))
            .unwrap();
        drop(log);
        let log = AuditLog::open(&path).unwrap();
        log.append(&AuditEntry::new(AuditAction::Hold, Some("acme"), "alice"))
            .unwrap();
        let back = AuditLog::read(&path).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0], e);
        assert_eq!(back[2].action, AuditAction::Hold);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text
            .lines()
            .next()
            .unwrap()
            .contains("\"action\":\"erase\""));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
