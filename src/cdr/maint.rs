//! Maintenance of the CDR directory: the retention sweep, erasure of an
//! account's records, and directory statistics. All take the directory
//! lock per partition ([`super::store`]), so they are safe while a writer
//! appends, also from another process.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;

use super::query::Retention;
use super::record::{is_account, RecordKind, RecordView};
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
        if !is_account(payload, want) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::query::tests::{receipt_for, submit, write_events, T0};
    use crate::cdr::record::{ReceiptState, Record};
    use crate::cdr::store::{CdrBackend, FileBackend, FrameReader};
    use crate::cdr::writer::{CdrWriter, WriterOptions};
    use std::path::PathBuf;
    use std::time::Duration;

    const HOUR: u64 = 3_600_000;
    const DAY_S: u64 = 86_400;

    fn all_records(dir: &Path) -> Vec<(PathBuf, Vec<Record>)> {
        partitions(dir)
            .unwrap()
            .into_iter()
            .map(|p| {
                let mut r = FrameReader::open(&p.path).unwrap().unwrap();
                let mut recs = Vec::new();
                while let Some(f) = r.next().unwrap() {
                    recs.push(Record::decode(f.payload).unwrap());
                }
                assert_eq!(r.torn_bytes(), 0);
                (p.path, recs)
            })
            .collect()
    }

    fn retention(account: &str) -> Retention {
        Retention {
            keep: Duration::from_secs(if account == "beta" { 10 * DAY_S } else { DAY_S }),
            hold: account == "gamma",
        }
    }

    #[test]
    fn sweep_removes_exactly_the_expired_records() {
        let tmp = tempfile::tempdir().unwrap();
        let h = |n: u64| T0 + n * HOUR;
        let mut events = Vec::new();
        // Hour 0: only acme, all expired at "now" → deleted whole.
        for i in 0..5 {
            events.push((h(0) + i, submit("acme", i, h(0))));
        }
        // Hour 1: acme expired + beta live → rewritten.
        for i in 0..5 {
            events.push((h(1) + i, submit("acme", 10 + i, h(1))));
            events.push((h(1) + i, submit("beta", 20 + i, h(1))));
        }
        // Hour 2: gamma expired but held + acme expired, and acme's
        // receipt for hour 1 (expires with its submit) → rewritten.
        for i in 0..3 {
            events.push((h(2) + i, submit("gamma", 30 + i, h(2))));
            events.push((h(2) + i, submit("acme", 40 + i, h(2))));
        }
        let s = submit("acme", 10, h(1));
        events.push((h(2) + 9, receipt_for(&s, ReceiptState::Delivered, h(2) + 9)));
        // Hour 40: acme live (not yet a day old at "now") → untouched.
        for i in 0..4 {
            events.push((h(40) + i, submit("acme", 50 + i, h(40))));
        }
        write_events(tmp.path(), events);
        let before = all_records(tmp.path());
        assert_eq!(before.len(), 4);
        let last_mtime = std::fs::metadata(&before[3].0).unwrap().modified().unwrap();

        let now_s = h(41) / 1000;
        let report = sweep(tmp.path(), now_s, &retention).unwrap();
        assert_eq!(
            report,
            SweepReport {
                partitions_deleted: 1,
                partitions_rewritten: 2,
                records_removed: 5 + 5 + 3 + 1,
                bytes_freed: report.bytes_freed,
                held_kept: 3,
            }
        );
        assert!(report.bytes_freed > 0);
        let after = all_records(tmp.path());
        assert_eq!(after.len(), 3);
        let accounts = |recs: &[Record]| -> Vec<(String, u64)> {
            recs.iter()
                .map(|r| (r.account.to_string(), r.gateway_id))
                .collect()
        };
        assert_eq!(
            accounts(&after[0].1),
            (20..25)
                .map(|g| ("beta".to_string(), g))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            accounts(&after[1].1),
            (30..33)
                .map(|g| ("gamma".to_string(), g))
                .collect::<Vec<_>>()
        );
        assert_eq!(after[2].1, before[3].1);
        assert_eq!(
            std::fs::metadata(&after[2].0).unwrap().modified().unwrap(),
            last_mtime,
            "a partition with nothing expired is not rewritten"
        );
        // Idempotent.
        let again = sweep(tmp.path(), now_s, &retention).unwrap();
        assert_eq!(
            again,
            SweepReport {
                held_kept: 3,
                ..SweepReport::default()
            }
        );
        // A shortened retention applies to old records too.
        let short = |_: &str| Retention {
            keep: Duration::from_secs(60),
            hold: false,
        };
        let r = sweep(tmp.path(), now_s, &short).unwrap();
        assert_eq!(r.records_removed, 5 + 3 + 4);
        assert!(partitions(tmp.path()).unwrap().is_empty());
    }

    fn dir_contains(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
        let mut hits = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let data = std::fs::read(&p).unwrap();
            if data.windows(needle.len()).any(|w| w == needle) {
                hits.push(p);
            }
        }
        hits
    }

    #[test]
    fn erase_removes_only_that_account_everywhere() {
        let tmp = tempfile::tempdir().unwrap();
        let mut events = Vec::new();
        for i in 0..30u64 {
            let t = T0 + i * HOUR / 4;
            events.push((t, submit("ACsecret42", i, t)));
            if i % 3 == 0 {
                events.push((t + 1, submit("other", 100 + i, t)));
            }
            let s = submit("ACsecret42", i, t);
            events.push((t + 2, receipt_for(&s, ReceiptState::Delivered, t + 2)));
        }
        write_events(tmp.path(), events);
        // A crashed rewrite's leftover and a torn tail, both with the SID.
        let parts = partitions(tmp.path()).unwrap();
        std::fs::write(
            parts[0].path.with_extension("tgc.tmp"),
            b"TGCDR\0\x01\0 ACsecret42",
        )
        .unwrap();
        let last = &parts[parts.len() - 1].path;
        let mut data = std::fs::read(last).unwrap();
        data.extend_from_slice(b"\x40\0\0\0\0\0\0\0ACsecret42");
        std::fs::write(last, &data).unwrap();
        let others_before: Vec<Record> = crate::cdr::store::tests::read_dir(tmp.path())
            .into_iter()
            .filter(|r| &*r.account == "other")
            .collect();
        assert_eq!(others_before.len(), 10);

        // Partial erase first.
        let until = T0 + 10 * HOUR / 4;
        let r = erase(tmp.path(), "ACsecret42", Some(until)).unwrap();
        // Submits 0..=10 by submit time; receipts 0..=9 by receipt time
        // (receipt 10 came 2 ms after `until`).
        assert_eq!(r.records_removed, 11 + 10);
        let left = crate::cdr::store::tests::read_dir(tmp.path());
        assert!(left
            .iter()
            .filter(|r| &*r.account == "ACsecret42")
            .all(|r| match r.kind {
                crate::cdr::record::RecordKind::Submit => r.submit_time_ms > until,
                crate::cdr::record::RecordKind::Receipt => r.final_time_ms > until,
            }));

        let r = erase(tmp.path(), "ACsecret42", None).unwrap();
        assert_eq!(r.records_removed, 60 - 21);
        assert!(r.partitions_deleted > 0);
        assert!(dir_contains(tmp.path(), b"ACsecret42").is_empty());
        let others_after: Vec<Record> = crate::cdr::store::tests::read_dir(tmp.path());
        assert_eq!(others_after, others_before);
        assert_eq!(
            erase(tmp.path(), "ACsecret42", None).unwrap(),
            EraseReport::default()
        );
    }

    #[test]
    fn concurrent_writer_and_erase_lose_no_other_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let backend = FileBackend::open(&dir).unwrap();
        let (w, handle) = CdrWriter::start(
            Box::new(backend),
            WriterOptions {
                queue: 256,
                fsync_interval: Duration::from_millis(2),
                batch: 8,
            },
        )
        .unwrap();
        let n = 6000u64;
        let producer = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async {
                for i in 0..n {
                    let acct = if i % 2 == 0 { "keep" } else { "gone" };
                    w.write(submit(acct, i, T0 + i)).await;
                }
            });
        });
        let mut erased = 0;
        let mut rounds = 0;
        while !producer.is_finished() || rounds < 3 {
            erased += erase(&dir, "gone", None).unwrap().records_removed;
            rounds += 1;
        }
        producer.join().unwrap();
        handle.shutdown();
        erased += erase(&dir, "gone", None).unwrap().records_removed;
        assert_eq!(erased, n / 2);
        let left = crate::cdr::store::tests::read_dir(&dir);
        let want: Vec<u64> = (0..n).step_by(2).collect();
        let got: Vec<u64> = left.iter().map(|r| r.gateway_id).collect();
        assert_eq!(got, want);
        assert!(left.iter().all(|r| &*r.account == "keep"));
        assert_eq!(w.stats().records, n);
    }

    #[test]
    fn dir_stats_counts() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(
            dir_stats(&tmp.path().join("missing")).unwrap(),
            DirStats::default()
        );
        let mut b = FileBackend::open(tmp.path()).unwrap();
        b.append_at(&[submit("a", 1, T0 + 5), submit("a", 2, T0 + 1)], T0)
            .unwrap();
        b.append_at(&[submit("b", 3, T0 - 10)], T0 + HOUR).unwrap();
        b.sync().unwrap();
        let s = dir_stats(tmp.path()).unwrap();
        assert_eq!(s.partitions, 2);
        assert_eq!(s.records, 3);
        assert_eq!(s.oldest_ms, Some(T0 - 10));
        let bytes: u64 = partitions(tmp.path())
            .unwrap()
            .iter()
            .map(|p| std::fs::metadata(&p.path).unwrap().len())
            .sum();
        assert_eq!(s.bytes, bytes);
    }
}
