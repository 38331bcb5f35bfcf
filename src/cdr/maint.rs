//! Maintenance of the CDR directory: the retention sweep, erasure of an
//! account's records, and directory statistics. All take the directory
//! lock per partition ([`super::store`]), so they are safe while a writer
//! appends, also from another process.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;

use super::query::Retention;
use super::record::{peek_account, RecordKind, RecordView};
use super::store::{
    partitions, read_partition, remove_stale_tmp, rewrite_partition, Decision, DirLock,
};

/// What [`sweep`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Partitions deleted whole (every record expired).
    pub partitions_deleted: u64,
    /// Partitions rewritten without their expired records.
    pub partitions_rewritten: u64,
    /// Records removed.
    pub records_removed: u64,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Expired records kept because their account is on hold.
    pub held_kept: u64,
}

/// What [`erase`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EraseReport {
    /// Records removed.
    pub records_removed: u64,
    /// Partitions rewritten without them.
    pub partitions_rewritten: u64,
    /// Partitions deleted whole (they held nothing else).
    pub partitions_deleted: u64,
}

/// Directory statistics ([`dir_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Partition files.
    pub partitions: u64,
    /// Readable records in them.
    pub records: u64,
    /// Bytes of partition files.
    pub bytes: u64,
    /// The oldest submit time of any record, unix ms.
    pub oldest_ms: Option<u64>,
}

/// Opens the lock of an existing directory; `None` if there is no
/// directory (nothing to do).
fn lock_existing(dir: &Path) -> io::Result<Option<DirLock>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    DirLock::open(dir).map(Some)
}

/// Removes expired records: a record expires `keep` after its submit time,
/// with `keep` looked up now for its account (so a shortened retention
/// applies to old records too). A held account's records are never
/// removed. A partition left empty is deleted; one with some expired
/// records is rewritten; others are not touched (and the writer is not held
/// up while they are read).
pub fn sweep(
    dir: &Path,
    now_s: u64,
    retention: &dyn Fn(&str) -> Retention,
) -> io::Result<SweepReport> {
    let mut report = SweepReport::default();
    let Some(lock) = lock_existing(dir)? else {
        return Ok(report);
    };
    {
        let _guard = lock.exclusive()?;
        remove_stale_tmp(dir)?;
    }
    let mut cache: HashMap<Vec<u8>, Retention> = HashMap::new();
    let mut decide = |payload: &[u8]| -> Decision {
        // Keep what cannot be read rather than guess its age.
        let Ok(v) = RecordView::parse(payload) else {
            return Decision::Keep;
        };
        let acct = v.account().as_bytes();
        let ret = match cache.get(acct) {
            Some(r) => *r,
            None => {
                let r = retention(v.account());
                cache.insert(acct.to_vec(), r);
                r
            }
        };
        if !ret.expired(v.submit_time_ms(), now_s) {
            Decision::Keep
        } else if ret.hold {
            Decision::KeepHeld
        } else {
            Decision::Remove
        }
    };
    for part in partitions(dir)? {
        let out = rewrite_partition(dir, &lock, &part, false, &mut decide)?;
        report.records_removed += out.removed;
        report.held_kept += out.held_kept;
        report.bytes_freed += out.bytes_freed;
        report.partitions_deleted += u64::from(out.deleted);
        report.partitions_rewritten += u64::from(out.rewritten);
    }
    Ok(report)
}

/// Removes every record of `account` (with `until_ms`: only those at or
/// before it, by submit time for Submit records and receipt time for
/// Receipt records) from every partition; other accounts' records are
/// untouched. Torn tails and stale temporary files are removed too, since
/// they may hold the account's bytes. Holds are not consulted: the caller
/// decides whether a held account may be erased.
pub fn erase(dir: &Path, account: &str, until_ms: Option<u64>) -> io::Result<EraseReport> {
    let mut report = EraseReport::default();
    let Some(lock) = lock_existing(dir)? else {
        return Ok(report);
    };
    {
        let _guard = lock.exclusive()?;
        remove_stale_tmp(dir)?;
    }
    let want = account.as_bytes();
    let mut decide = |payload: &[u8]| -> Decision {
        if peek_account(payload) != Some(want) {
            return Decision::Keep;
        }
        let Some(until) = until_ms else {
            return Decision::Remove;
        };
        match RecordView::parse(payload) {
            Ok(v) => {
                let t = match v.kind() {
                    RecordKind::Submit => v.submit_time_ms(),
                    RecordKind::Receipt => v.final_time_ms(),
                };
                if t <= until {
                    Decision::Remove
                } else {
                    Decision::Keep
                }
            }
            // The account's, but unreadable: erasure wins.
            Err(_) => Decision::Remove,
        }
    };
    for part in partitions(dir)? {
        let out = rewrite_partition(dir, &lock, &part, true, &mut decide)?;
        report.records_removed += out.removed;
        report.partitions_deleted += u64::from(out.deleted);
        report.partitions_rewritten += u64::from(out.rewritten);
    }
    Ok(report)
}

/// Counts partitions, records and bytes, and finds the oldest submit time.
/// Reads every partition (a sequential scan; meant for a once-a-minute
/// metric).
pub fn dir_stats(dir: &Path) -> io::Result<DirStats> {
    let mut stats = DirStats::default();
    let Some(lock) = lock_existing(dir)? else {
        return Ok(stats);
    };
    for part in partitions(dir)? {
        let len = match fs::metadata(&part.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut oldest = stats.oldest_ms;
        let out = read_partition(&lock, &part.path, |payload| {
            if let Ok(v) = RecordView::parse(payload) {
                let t = v.submit_time_ms();
                oldest = Some(oldest.map_or(t, |o: u64| o.min(t)));
            }
            Ok(())
        })?;
        stats.oldest_ms = oldest;
        stats.partitions += 1;
        stats.bytes += len;
        stats.records += out.records;
    }
    Ok(stats)
}
