//! Automated suspension with human review (issue 5, item 6).
//!
//! Every message the filter judges is [recorded](Suspensions::record)
//! against its account. A sliding window per account counts allowed and
//! blocked messages; when the blocked ones pass both a count
//! ([`SuspensionPolicy::min_blocked`]) and a ratio
//! ([`SuspensionPolicy::max_blocked_ratio`]), the account is suspended,
//! the audit log gets an entry and one [`Notice`] is returned for the
//! caller to log, count, and post to the webhook.
//!
//! # Privacy
//!
//! Message text is *evidence* only while an account is under review
//! (DESIGN.md, "Privacy rules"):
//!
//! - Before a suspension, the last [`evidence_max`](SuspensionPolicy::evidence_max)
//!   blocked messages of an account are held in memory only, and only while
//!   they are inside the window: content lives no longer than the window.
//! - When the account is suspended they become its evidence, written to a
//!   file of its own (`evidence/<sid-hex>.json`, mode 0600), apart from
//!   everything else. Each item expires
//!   [`evidence_ttl`](SuspensionPolicy::evidence_ttl) after the message was
//!   judged; reinstatement deletes the file.
//! - Notices, audit entries, logs and [`SuspensionInfo`] never carry message
//!   text or phone numbers. [`Evidence`]'s `Debug` shows the text's length,
//!   not the text.
//!
//! # Time
//!
//! Windows run on [`Instant`] (passed in, so tests can move the clock);
//! times that outlive the process (suspension start, evidence time, audit
//! entries) are [`SystemTime`]s, serialised as RFC 3339 UTC strings with
//! milliseconds (`2024-05-01T12:00:00.123Z`).
//!
//! # Files (under the state directory)
//!
//! - `suspensions.json`: `{"suspensions":[{"account":..,"since":..,"by":..,
//!   "reason":..,"blocked":..,"total":..}]}`, replaced atomically (temp
//!   file, fsync, rename, fsync of the directory) after every change.
//! - `evidence/<sid-hex>.json`: `{"account":..,"evidence":[{"normalized_text":..,
//!   "hits":[["rule-id",score],..],"at":..}]}`, one per suspended account
//!   with evidence, written the same way; mode 0600.
//!
//! The audit log is a separate append-only file of JSON lines
//! ([`AuditEntry`]).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cdr::civil::{civil_from_days, days_from_civil};
use arc_swap::ArcSwap;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};

/// Buckets per window: a count covers between 9/10 and all of the window.
const BUCKETS: usize = 10;
/// Accounts tracked at most; accounts come from config, this only guards
/// against a flood of unknown system ids.
const MAX_ACCOUNTS: usize = 100_000;
/// The suspension state file, in the state directory.
const STATE_FILE: &str = "suspensions.json";
/// The evidence directory, in the state directory.
const EVIDENCE_DIR: &str = "evidence";
/// Actor of automatic suspensions.
pub const AUTO_ACTOR: &str = "auto";

/// When an account is suspended, and how long evidence is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct SuspensionPolicy {
    /// The sliding window over which messages are counted (default 10 min).
    pub window: Duration,
    /// Blocked messages within the window needed to suspend (default 20).
    pub min_blocked: u32,
    /// Blocked / (allowed + blocked) within the window needed to suspend
    /// (default 0.2).
    pub max_blocked_ratio: f64,
    /// Blocked messages kept per account as evidence (default 50).
    pub evidence_max: usize,
    /// How long evidence is kept after the message was judged (default 7 days).
    pub evidence_ttl: Duration,
}

impl Default for SuspensionPolicy {
    fn default() -> Self {
        SuspensionPolicy {
            window: Duration::from_secs(600),
            min_blocked: 20,
            max_blocked_ratio: 0.2,
            evidence_max: 50,
            evidence_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl SuspensionPolicy {
    /// Checks the values, naming the offending key (for config validation).
    pub fn validate(&self) -> Result<(), String> {
        if self.window < Duration::from_millis(BUCKETS as u64) {
            return Err("suspension window must be at least 10 ms".to_owned());
        }
        if self.min_blocked == 0 {
            return Err("suspension min_blocked must be at least 1".to_owned());
        }
        if !(0.0..=1.0).contains(&self.max_blocked_ratio) {
            return Err("suspension max_blocked_ratio must be between 0 and 1".to_owned());
        }
        if self.evidence_ttl.is_zero() {
            return Err("suspension evidence_ttl must not be zero".to_owned());
        }
        Ok(())
    }

    /// The length of one window bucket, in nanoseconds (at least 1).
    fn bucket_ns(&self) -> u64 {
        let ns = self.window.as_nanos() / BUCKETS as u128;
        u64::try_from(ns).unwrap_or(u64::MAX).max(1)
    }
}

/// One blocked message kept for review: never logged, never in CDRs.
///
/// Serialised as `{"normalized_text":..,"hits":[["rule-id",score],..],"at":"<RFC 3339>"}`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The normalised text the verdict was made on.
    pub normalized_text: String,
    /// The rules that fired: rule id and score.
    pub hits: Vec<(String, f32)>,
    /// When the message was judged.
    #[serde(with = "rfc3339_serde")]
    pub at: SystemTime,
}

impl std::fmt::Debug for Evidence {
    /// Shows the text's length only, so a stray `{:?}` cannot log content.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evidence")
            .field(
                "normalized_text",
                &format_args!("<{} chars>", self.normalized_text.chars().count()),
            )
            .field("hits", &self.hits)
            .field("at", &format_rfc3339(self.at))
            .finish()
    }
}

/// The filter's verdict on one message, as far as suspension cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The message was forwarded.
    Allowed,
    /// The message was blocked; the evidence is kept only if the account
    /// comes under review.
    Blocked(Evidence),
}

/// A suspension, to be logged, counted and posted to the webhook.
///
/// Never carries message text or phone numbers. `time` is RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The account's system id.
    pub account: String,
    /// When the account was suspended (RFC 3339 UTC).
    pub time: String,
    /// Who suspended it: [`AUTO_ACTOR`] or the admin's name.
    pub actor: String,
    /// Why, without message content.
    pub reason: String,
    /// Blocked messages in the window at the time.
    pub blocked: u32,
    /// All judged messages in the window at the time.
    pub total: u32,
}

/// One suspended account, for the admin API (`since` is RFC 3339 UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuspensionInfo {
    /// The account's system id.
    pub account: String,
    /// When it was suspended.
    #[serde(with = "rfc3339_serde")]
    pub since: SystemTime,
    /// Who suspended it.
    pub by: String,
    /// Why (the automatic reason or the admin's note).
    pub reason: String,
    /// Blocked messages in the window at the time.
    pub blocked: u32,
    /// All judged messages in the window at the time.
    pub total: u32,
    /// Evidence items currently kept.
    pub evidence: usize,
}

/// One line of the audit log. Never carries message text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (RFC 3339 UTC).
    pub time: String,
    /// Who: [`AUTO_ACTOR`] or the admin's name.
    pub actor: String,
    /// `suspend`, `auto-suspend`, `reinstate` or `view-evidence`.
    pub action: String,
    /// The account's system id.
    pub account: String,
    /// The admin's note, the automatic reason, or what was shown.
    pub note: String,
}

/// Why a suspension operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SuspensionError {
    /// A state, evidence or audit file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A state file is not what this module writes.
    #[error("{}: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The account is suspended already.
    #[error("account {0} is already suspended")]
    AlreadySuspended(String),
    /// The account is not suspended.
    #[error("account {0} is not suspended")]
    NotSuspended(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SuspensionError + '_ {
    move |source| SuspensionError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A suspension as persisted in `suspensions.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    account: String,
    #[serde(with = "rfc3339_serde")]
    since: SystemTime,
    by: String,
    reason: String,
    blocked: u32,
    total: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    suspensions: Vec<Record>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceFile {
    account: String,
    evidence: Vec<Evidence>,
}

/// Allowed and blocked counts of one window bucket.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    idx: u64,
    allowed: u32,
    blocked: u32,
}

/// A ring of [`BUCKETS`] time buckets.
#[derive(Debug, Clone)]
struct Window {
    bucket_ns: u64,
    buckets: [Bucket; BUCKETS],
}

impl Window {
    fn new(bucket_ns: u64) -> Window {
        Window {
            bucket_ns,
            buckets: [Bucket::default(); BUCKETS],
        }
    }

    /// Counts one message in bucket `idx`.
    fn add(&mut self, idx: u64, blocked: bool) {
        let b = &mut self.buckets[(idx % BUCKETS as u64) as usize];
        if b.idx != idx {
            *b = Bucket {
                idx,
                allowed: 0,
                blocked: 0,
            };
        }
        if blocked {
            b.blocked = b.blocked.saturating_add(1);
        } else {
            b.allowed = b.allowed.saturating_add(1);
        }
    }

    /// Blocked and total counts of the buckets still in the window at `idx`.
    fn counts(&self, idx: u64) -> (u32, u32) {
        let (mut blocked, mut total) = (0u32, 0u32);
        for b in self.buckets.iter().filter(|b| live(b.idx, idx)) {
            blocked = blocked.saturating_add(b.blocked);
            total = total.saturating_add(b.blocked).saturating_add(b.allowed);
        }
        (blocked, total)
    }

    fn is_empty(&self, idx: u64) -> bool {
        self.counts(idx).1 == 0
    }

    fn clear(&mut self) {
        self.buckets = [Bucket::default(); BUCKETS];
    }
}

/// Whether bucket `b` is inside the window ending at bucket `now`.
fn live(b: u64, now: u64) -> bool {
    b <= now && now - b < BUCKETS as u64
}

/// A suspended account's record and evidence.
#[derive(Debug)]
struct Suspension {
    record: Record,
    evidence: VecDeque<Evidence>,
}

/// What is known about one account.
#[derive(Debug)]
struct Account {
    window: Window,
    /// Recent blocked messages, with the instant they were recorded; only
    /// those inside the window, at most `evidence_max`.
    recent: VecDeque<(Instant, Evidence)>,
    suspension: Option<Suspension>,
}

impl Account {
    fn new(bucket_ns: u64) -> Account {
        Account {
            window: Window::new(bucket_ns),
            recent: VecDeque::new(),
            suspension: None,
        }
    }

    /// Drops window state built with another bucket length (the policy's
    /// window changed) and recent blocked messages older than the window.
    fn refresh(&mut self, policy: &SuspensionPolicy, now: Instant) {
        let bucket_ns = policy.bucket_ns();
        if self.window.bucket_ns != bucket_ns {
            self.window = Window::new(bucket_ns);
        }
        if let Some(cutoff) = now.checked_sub(policy.window) {
            while self.recent.front().is_some_and(|(t, _)| *t < cutoff) {
                self.recent.pop_front();
            }
        }
        while self.recent.len() > policy.evidence_max {
            self.recent.pop_front();
        }
    }

    fn idle(&self, idx: u64) -> bool {
        self.suspension.is_none() && self.recent.is_empty() && self.window.is_empty(idx)
    }
}

/// The append-only audit log.
#[derive(Debug)]
struct Audit {
    path: PathBuf,
    file: Mutex<File>,
}

impl Audit {
    fn open(path: &Path) -> Result<Audit, SuspensionError> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err(path))?;
        Ok(Audit {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Appends one entry with one write; `sync` also fsyncs it.
    fn append(
        &self,
        actor: &str,
        action: &str,
        account: &str,
        note: &str,
        sync: bool,
    ) -> Result<(), SuspensionError> {
        let entry = AuditEntry {
            time: format_rfc3339(SystemTime::now()),
            actor: actor.to_owned(),
            action: action.to_owned(),
            account: account.to_owned(),
            note: note.to_owned(),
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| SuspensionError::Corrupt {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        line.push(b'\n');
        let mut file = lock(&self.file);
        file.write_all(&line)
            .and_then(|()| file.flush())
            .and_then(|()| if sync { file.sync_data() } else { Ok(()) })
            .map_err(io_err(&self.path))
    }
}

/// Reads an audit log (for tests and the admin CLI).
pub fn audit_entries(path: &Path) -> Result<Vec<AuditEntry>, SuspensionError> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| SuspensionError::Corrupt {
                path: path.to_owned(),
                detail: format!("line {}: {e}", n + 1),
            })
        })
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Suspended accounts, per-account windows and evidence.
///
/// Shared behind an `Arc` by every session. [`record`](Suspensions::record)
/// and [`is_suspended`](Suspensions::is_suspended) touch one account's
/// shard of a [`DashMap`] only; files are written only when a suspension
/// starts, ends, gains evidence or loses expired evidence.
pub struct Suspensions {
    accounts: DashMap<Box<str>, Account>,
    /// Accounts suspended now, changed only with their entry (see
    /// [`set_suspension`]): while it is 0, [`Suspensions::is_suspended`]
    /// (asked for every message) reads this line, which stays shared,
    /// rather than lock a shard of the map, which both worker threads
    /// would write.
    suspended: AtomicUsize,
    policy: ArcSwap<SuspensionPolicy>,
    /// Bucket indices count from here.
    epoch: Instant,
    state_dir: Option<PathBuf>,
    audit: Option<Audit>,
    /// Serialises file writes, so the last write reflects the last change.
    persist: Mutex<()>,
    max_accounts: usize,
    full_warned: AtomicBool,
    /// The bucket (plus one) in which a full map was last pruned: at most
    /// one pruning pass per bucket, however many new accounts knock.
    pruned_in: AtomicU64,
}

impl std::fmt::Debug for Suspensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suspensions")
            .field("accounts", &self.accounts.len())
            .field("policy", &**self.policy.load())
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

/// Proof that the caller holds [`Suspensions::persist`].
type Held<'a> = MutexGuard<'a, ()>;

/// Sets an account's suspension (its map entry held), keeping the count
/// of suspended accounts; returns the one it had.
fn set_suspension(
    count: &AtomicUsize,
    slot: &mut Option<Suspension>,
    new: Option<Suspension>,
) -> Option<Suspension> {
    match (slot.is_some(), new.is_some()) {
        (false, true) => {
            count.fetch_add(1, Ordering::AcqRel);
        }
        (true, false) => {
            count.fetch_sub(1, Ordering::AcqRel);
        }
        _ => {}
    }
    std::mem::replace(slot, new)
}

impl Suspensions {
    /// Opens the suspension state: loads `state_dir/suspensions.json` and the
    /// evidence files (dropping expired evidence, and evidence of accounts
    /// that are no longer suspended), and opens the audit log for appending.
    ///
    /// `state_dir` `None` keeps everything in memory; `audit_log` `None`
    /// writes no audit log (tests).
    pub fn open(
        state_dir: Option<&Path>,
        audit_log: Option<&Path>,
        policy: SuspensionPolicy,
    ) -> Result<Suspensions, SuspensionError> {
        let audit = audit_log.map(Audit::open).transpose()?;
        let bucket_ns = policy.bucket_ns();
        let accounts = DashMap::new();
        let suspended = AtomicUsize::new(0);
        if let Some(dir) = state_dir {
            let evidence_dir = dir.join(EVIDENCE_DIR);
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&evidence_dir)
                .map_err(io_err(&evidence_dir))?;
            for r in load_state(&dir.join(STATE_FILE))? {
                let mut acc = Account::new(bucket_ns);
                let sid: Box<str> = r.account.as_str().into();
                set_suspension(
                    &suspended,
                    &mut acc.suspension,
                    Some(Suspension {
                        record: r,
                        evidence: VecDeque::new(),
                    }),
                );
                accounts.insert(sid, acc);
            }
            load_evidence(&evidence_dir, &accounts, &policy, SystemTime::now())?;
        }
        Ok(Suspensions {
            accounts,
            suspended,
            policy: ArcSwap::from_pointee(policy),
            epoch: Instant::now(),
            state_dir: state_dir.map(Path::to_owned),
            audit,
            persist: Mutex::new(()),
            max_accounts: MAX_ACCOUNTS,
            full_warned: AtomicBool::new(false),
            pruned_in: AtomicU64::new(0),
        })
    }

    /// Replaces the policy (config reload). A changed window restarts the
    /// counts of every account; a smaller `evidence_max` applies from the
    /// next message.
    pub fn set_policy(&self, policy: SuspensionPolicy) {
        self.policy.store(std::sync::Arc::new(policy));
    }

    /// The current policy.
    pub fn policy(&self) -> SuspensionPolicy {
        SuspensionPolicy::clone(&self.policy.load())
    }

    /// Whether `sid` is suspended (checked at every bind).
    pub fn is_suspended(&self, sid: &str) -> bool {
        if self.suspended.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.accounts
            .get(sid)
            .is_some_and(|a| a.suspension.is_some())
    }

    fn bucket_index(&self, now: Instant, policy: &SuspensionPolicy) -> u64 {
        let ns = now.saturating_duration_since(self.epoch).as_nanos() / policy.bucket_ns() as u128;
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// Records one judged message of `sid` at `now`.
    ///
    /// Returns the [`Notice`] when this message made the account cross both
    /// thresholds; once per suspension. Blocked messages of an account
    /// already suspended (in flight) join its evidence, up to
    /// `evidence_max`.
    ///
    /// Cheap for the usual message (one account's map shard, no I/O). The
    /// rare call that suspends, or adds in-flight evidence to a suspended
    /// account, writes and fsyncs the state files and the audit log before
    /// returning: a few milliseconds, at most `evidence_max + 1` times per
    /// suspension.
    pub fn record(&self, sid: &str, verdict: Recorded, now: Instant) -> Option<Notice> {
        let policy = self.policy.load();
        let idx = self.bucket_index(now, &policy);
        let mut entry = match self.accounts.get_mut(sid) {
            Some(e) => e,
            None => {
                if !self.admit(&policy, idx, now) {
                    return None;
                }
                self.accounts
                    .entry(sid.into())
                    .or_insert_with(|| Account::new(policy.bucket_ns()))
            }
        };
        let acc = entry.value_mut();
        if let Some(s) = &mut acc.suspension {
            let Recorded::Blocked(ev) = verdict else {
                return None;
            };
            if s.evidence.len() >= policy.evidence_max {
                return None;
            }
            s.evidence.push_back(ev);
            drop(entry);
            let held = lock(&self.persist);
            if let Err(e) = self.save_evidence(&held, sid) {
                tracing::error!(account = sid, error = %e, "cannot save suspension evidence");
            }
            return None;
        }
        acc.refresh(&policy, now);
        let blocked = matches!(verdict, Recorded::Blocked(_));
        acc.window.add(idx, blocked);
        let Recorded::Blocked(ev) = verdict else {
            return None;
        };
        if policy.evidence_max > 0 {
            if acc.recent.len() >= policy.evidence_max {
                acc.recent.pop_front();
            }
            acc.recent.push_back((now, ev));
        }
        let (blocked, total) = acc.window.counts(idx);
        if blocked < policy.min_blocked
            || f64::from(blocked) < policy.max_blocked_ratio * f64::from(total)
        {
            return None;
        }
        let reason = format!(
            "{blocked} of {total} messages blocked within {} s (thresholds: {} blocked, ratio {})",
            policy.window.as_secs(),
            policy.min_blocked,
            policy.max_blocked_ratio
        );
        let record = Record {
            account: sid.to_owned(),
            since: SystemTime::now(),
            by: AUTO_ACTOR.to_owned(),
            reason,
            blocked,
            total,
        };
        let notice = notice(&record);
        let evidence = acc.recent.drain(..).map(|(_, e)| e).collect();
        set_suspension(
            &self.suspended,
            &mut acc.suspension,
            Some(Suspension { record, evidence }),
        );
        drop(entry);
        tracing::warn!(
            account = sid,
            blocked,
            total,
            "account suspended automatically"
        );
        let held = lock(&self.persist);
        // The account stays suspended in memory even if it cannot be saved.
        if let Err(e) = self.save_state(&held) {
            tracing::error!(account = sid, error = %e, "cannot save suspension state");
        }
        if let Err(e) = self.save_evidence(&held, sid) {
            tracing::error!(account = sid, error = %e, "cannot save suspension evidence");
        }
        self.audit(AUTO_ACTOR, "auto-suspend", sid, &notice.reason, true);
        Some(notice)
    }

    /// Whether a new account may be tracked: below the bound, after
    /// forgetting idle accounts if needed.
    fn admit(&self, policy: &SuspensionPolicy, idx: u64, now: Instant) -> bool {
        if self.accounts.len() < self.max_accounts {
            return true;
        }
        if self
            .pruned_in
            .swap(idx.saturating_add(1), Ordering::Relaxed)
            == idx.saturating_add(1)
        {
            return false;
        }
        self.accounts.retain(|_, acc| {
            acc.refresh(policy, now);
            !acc.idle(idx)
        });
        if self.accounts.len() < self.max_accounts {
            return true;
        }
        if !self.full_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                max = self.max_accounts,
                "suspension tracking is full; new accounts are not counted"
            );
        }
        false
    }

    /// Suspends `sid` by hand. Its recent blocked messages (inside the
    /// window) become its evidence.
    ///
    /// Fails if it is suspended already or the state cannot be saved (then
    /// nothing changed).
    pub fn suspend(&self, sid: &str, actor: &str, note: &str) -> Result<Notice, SuspensionError> {
        let held = lock(&self.persist);
        let policy = self.policy.load();
        let now = Instant::now();
        let idx = self.bucket_index(now, &policy);
        let notice = {
            let mut entry = self
                .accounts
                .entry(sid.into())
                .or_insert_with(|| Account::new(policy.bucket_ns()));
            let acc = entry.value_mut();
            if acc.suspension.is_some() {
                return Err(SuspensionError::AlreadySuspended(sid.to_owned()));
            }
            acc.refresh(&policy, now);
            let (blocked, total) = acc.window.counts(idx);
            let record = Record {
                account: sid.to_owned(),
                since: SystemTime::now(),
                by: actor.to_owned(),
                reason: note.to_owned(),
                blocked,
                total,
            };
            let notice = notice(&record);
            let evidence = acc.recent.iter().map(|(_, e)| e.clone()).collect();
            set_suspension(
                &self.suspended,
                &mut acc.suspension,
                Some(Suspension { record, evidence }),
            );
            notice
        };
        if let Err(e) = self.save_state(&held) {
            if let Some(mut acc) = self.accounts.get_mut(sid) {
                set_suspension(&self.suspended, &mut acc.suspension, None);
            }
            return Err(e);
        }
        if let Some(mut acc) = self.accounts.get_mut(sid) {
            acc.recent.clear();
        }
        if let Err(e) = self.save_evidence(&held, sid) {
            tracing::error!(account = sid, error = %e, "cannot save suspension evidence");
        }
        self.audit(actor, "suspend", sid, note, true);
        tracing::warn!(account = sid, actor, "account suspended by hand");
        Ok(notice)
    }

    /// Reinstates `sid`: clears its window counts and deletes its evidence.
    ///
    /// Fails if it is not suspended or the state cannot be saved (then it
    /// stays suspended).
    pub fn reinstate(&self, sid: &str, actor: &str, note: &str) -> Result<(), SuspensionError> {
        let held = lock(&self.persist);
        let old = {
            let mut acc = self
                .accounts
                .get_mut(sid)
                .filter(|a| a.suspension.is_some())
                .ok_or_else(|| SuspensionError::NotSuspended(sid.to_owned()))?;
            acc.window.clear();
            acc.recent.clear();
            set_suspension(&self.suspended, &mut acc.suspension, None)
        };
        if let Err(e) = self.save_state(&held) {
            if let Some(mut acc) = self.accounts.get_mut(sid) {
                set_suspension(&self.suspended, &mut acc.suspension, old);
            }
            return Err(e);
        }
        // Reinstated either way; an evidence file left behind is deleted at
        // the next open.
        if let Err(e) = self.save_evidence(&held, sid) {
            tracing::error!(account = sid, error = %e, "cannot delete suspension evidence");
        }
        self.audit(actor, "reinstate", sid, note, true);
        tracing::info!(account = sid, actor, "account reinstated");
        Ok(())
    }

    /// Deletes an account's evidence (an erasure request), leaving its
    /// suspension in place; returns how many items were deleted.
    pub fn erase_evidence(&self, sid: &str, actor: &str) -> Result<usize, SuspensionError> {
        let held = lock(&self.persist);
        let removed = match self.accounts.get_mut(sid) {
            Some(mut acc) => {
                let recent = std::mem::take(&mut acc.recent).len();
                recent
                    + acc
                        .suspension
                        .as_mut()
                        .map_or(0, |s| std::mem::take(&mut s.evidence).len())
            }
            None => 0,
        };
        // Rewritten (or removed) even with nothing in memory: a file left
        // by an earlier run goes too.
        self.save_evidence(&held, sid)?;
        self.audit(
            actor,
            "erase-evidence",
            sid,
            &format!("{removed} evidence items erased"),
            true,
        );
        Ok(removed)
    }

    /// The suspended accounts, oldest first.
    pub fn list(&self) -> Vec<SuspensionInfo> {
        let mut out: Vec<SuspensionInfo> = self
            .accounts
            .iter()
            .filter_map(|a| {
                a.suspension.as_ref().map(|s| SuspensionInfo {
                    account: s.record.account.clone(),
                    since: s.record.since,
                    by: s.record.by.clone(),
                    reason: s.record.reason.clone(),
                    blocked: s.record.blocked,
                    total: s.record.total,
                    evidence: s.evidence.len(),
                })
            })
            .collect();
        out.sort_by(|a, b| {
            a.since
                .cmp(&b.since)
                .then_with(|| a.account.cmp(&b.account))
        });
        out
    }

    /// The evidence of a suspended account, oldest first, shown to `actor`.
    ///
    /// `Ok(None)` if the account is not suspended. Viewing is audited; if
    /// the audit entry cannot be written the evidence is not shown.
    pub fn evidence(
        &self,
        sid: &str,
        actor: &str,
    ) -> Result<Option<Vec<Evidence>>, SuspensionError> {
        let Some(evidence) = self.accounts.get(sid).and_then(|a| {
            a.suspension
                .as_ref()
                .map(|s| s.evidence.iter().cloned().collect::<Vec<_>>())
        }) else {
            return Ok(None);
        };
        if let Some(audit) = &self.audit {
            let note = format!("{} evidence items shown", evidence.len());
            audit.append(actor, "view-evidence", sid, &note, false)?;
        }
        Ok(Some(evidence))
    }

    /// Expires evidence older than `evidence_ttl` (by wall clock), trims it
    /// to a lowered `evidence_max`, and forgets accounts whose window is
    /// empty. Called every few seconds.
    pub fn sweep(&self, now: Instant) {
        let policy = self.policy.load();
        let idx = self.bucket_index(now, &policy);
        let wall = SystemTime::now();
        let mut changed = Vec::new();
        self.accounts.retain(|sid, acc| {
            acc.refresh(&policy, now);
            if let Some(s) = &mut acc.suspension {
                let before = s.evidence.len();
                s.evidence.retain(|e| !expired(e, &policy, wall));
                while s.evidence.len() > policy.evidence_max {
                    s.evidence.pop_front();
                }
                if s.evidence.len() != before {
                    changed.push(sid.to_string());
                }
                return true;
            }
            !acc.idle(idx)
        });
        if changed.is_empty() {
            return;
        }
        let held = lock(&self.persist);
        for sid in changed {
            if let Err(e) = self.save_evidence(&held, &sid) {
                tracing::error!(account = %sid, error = %e, "cannot save suspension evidence");
            }
        }
    }

    /// Accounts tracked (suspended or with messages in the window).
    pub fn tracked(&self) -> usize {
        self.accounts.len()
    }

    fn audit(&self, actor: &str, action: &str, sid: &str, note: &str, sync: bool) {
        if let Some(audit) = &self.audit {
            if let Err(e) = audit.append(actor, action, sid, note, sync) {
                tracing::error!(account = sid, action, error = %e, "cannot write the audit log");
            }
        }
    }

    /// Writes `suspensions.json` from the current state.
    fn save_state(&self, _held: &Held<'_>) -> Result<(), SuspensionError> {
        let Some(dir) = &self.state_dir else {
            return Ok(());
        };
        let mut suspensions: Vec<Record> = self
            .accounts
            .iter()
            .filter_map(|a| a.suspension.as_ref().map(|s| s.record.clone()))
            .collect();
        suspensions.sort_by(|a, b| a.account.cmp(&b.account));
        let path = dir.join(STATE_FILE);
        let data = serde_json::to_vec_pretty(&StateFile { suspensions }).map_err(|e| {
            SuspensionError::Corrupt {
                path: path.clone(),
                detail: e.to_string(),
            }
        })?;
        write_atomic(&path, &data)
    }

    /// Writes `sid`'s evidence file from the current state, or deletes it
    /// when the account is not suspended or has no evidence.
    fn save_evidence(&self, _held: &Held<'_>, sid: &str) -> Result<(), SuspensionError> {
        let Some(dir) = &self.state_dir else {
            return Ok(());
        };
        let path = evidence_path(dir, sid);
        let evidence: Vec<Evidence> = self
            .accounts
            .get(sid)
            .and_then(|a| {
                a.suspension
                    .as_ref()
                    .map(|s| s.evidence.iter().cloned().collect())
            })
            .unwrap_or_default();
        if evidence.is_empty() {
            return remove_file(&path);
        }
        let data = serde_json::to_vec(&EvidenceFile {
            account: sid.to_owned(),
            evidence,
        })
        .map_err(|e| SuspensionError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        write_atomic(&path, &data)
    }
}

fn notice(r: &Record) -> Notice {
    Notice {
        account: r.account.clone(),
        time: format_rfc3339(r.since),
        actor: r.by.clone(),
        reason: r.reason.clone(),
        blocked: r.blocked,
        total: r.total,
    }
}

fn expired(e: &Evidence, policy: &SuspensionPolicy, wall: SystemTime) -> bool {
    e.at.checked_add(policy.evidence_ttl)
        .is_some_and(|end| end <= wall)
}

/// `state_dir/evidence/<sid as lowercase hex>.json`: any system id maps to
/// a safe, distinct file name.
fn evidence_path(dir: &Path, sid: &str) -> PathBuf {
    use std::fmt::Write as _;
    let mut name = String::with_capacity(sid.len() * 2 + 5);
    for b in sid.bytes() {
        let _ = write!(name, "{b:02x}");
    }
    name.push_str(".json");
    dir.join(EVIDENCE_DIR).join(name)
}

fn remove_file(path: &Path) -> Result<(), SuspensionError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

fn load_state(path: &Path) -> Result<Vec<Record>, SuspensionError> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path)(e)),
    };
    // A state file that cannot be read must not silently unsuspend anyone.
    let state: StateFile = serde_json::from_slice(&data).map_err(|e| SuspensionError::Corrupt {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(state.suspensions)
}

/// Loads the evidence files into the suspended `accounts`; deletes files
/// of accounts not suspended, unreadable files, leftover temp files, and
/// rewrites files that lost expired items.
fn load_evidence(
    dir: &Path,
    accounts: &DashMap<Box<str>, Account>,
    policy: &SuspensionPolicy,
    wall: SystemTime,
) -> Result<(), SuspensionError> {
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        if path.extension().is_none_or(|e| e != "json") {
            remove_file(&path)?;
            continue;
        }
        let file: Option<EvidenceFile> = match fs::read(&path) {
            Ok(d) => serde_json::from_slice(&d).ok(),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let Some(file) = file else {
            tracing::warn!(file = %path.display(), "unreadable evidence file deleted");
            remove_file(&path)?;
            continue;
        };
        // Only the file named after a suspended account counts as its evidence.
        let named_right = dir
            .parent()
            .is_some_and(|state| evidence_path(state, &file.account) == path);
        let Some(mut acc) = accounts
            .get_mut(file.account.as_str())
            .filter(|a| named_right && a.suspension.is_some())
        else {
            remove_file(&path)?;
            continue;
        };
        let total = file.evidence.len();
        let mut kept: VecDeque<Evidence> = file
            .evidence
            .into_iter()
            .filter(|e| !expired(e, policy, wall))
            .collect();
        while kept.len() > policy.evidence_max {
            kept.pop_front();
        }
        let changed = kept.len() != total;
        let empty = kept.is_empty();
        if let Some(s) = acc.suspension.as_mut() {
            s.evidence = kept;
        }
        if empty {
            drop(acc);
            remove_file(&path)?;
        } else if changed {
            let data = serde_json::to_vec(&EvidenceFile {
                account: file.account.clone(),
                evidence: acc
                    .suspension
                    .as_ref()
                    .map(|s| s.evidence.iter().cloned().collect())
                    .unwrap_or_default(),
            })
            .map_err(|e| SuspensionError::Corrupt {
                path: path.clone(),
                detail: e.to_string(),
            })?;
            drop(acc);
            write_atomic(&path, &data)?;
        }
    }
    Ok(())
}

/// Writes `data` to `path` durably with mode 0600: temp file, fsync,
/// rename, fsync of the directory.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), SuspensionError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    remove_file(&tmp)?;
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        f.write_all(data)
            .and_then(|()| f.sync_all())
            .map_err(io_err(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))?;
    }
    Ok(())
}

/// Formats `t` as RFC 3339 UTC with milliseconds (`2024-05-01T12:00:00.123Z`).
/// Times before 1970 are shown as the epoch.
pub fn format_rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        d.subsec_millis()
    )
}

/// Parses what [`format_rfc3339`] writes: `YYYY-MM-DDTHH:MM:SS[.fraction]`
/// followed by `Z` or `+00:00` (UTC only). `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let padded = format!("{:0<9}", &frac[..digits]);
        nanos = padded.parse().ok()?;
        rest = &frac[digits..];
    }
    if !matches!(rest, "Z" | "z" | "+00:00") {
        return None;
    }
    if !(1..=12).contains(&mo) || d == 0 || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    // Reject days past the month's end (2024-02-30).
    if civil_from_days(days) != (y as i64, mo as u32, d as u32) || days < 0 {
        return None;
    }
    let secs = days as u64 * 86_400 + h * 3600 + mi * 60 + sec;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// Serde for `SystemTime` as an RFC 3339 string.
mod rfc3339_serde {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_rfc3339(*t))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 UTC time"))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    use super::*;

    const TEXT: &str = "win a free prize at bit.ly/xyz SECRETTEXT";

    fn blocked(text: &str) -> Recorded {
        blocked_at(text, SystemTime::now())
    }

    fn blocked_at(text: &str, at: SystemTime) -> Recorded {
        Recorded::Blocked(Evidence {
            normalized_text: text.to_owned(),
            hits: vec![
                ("kw.prize".to_owned(), 2.5),
                ("url.shortener".to_owned(), 1.0),
            ],
            at,
        })
    }

    fn memory() -> Suspensions {
        Suspensions::open(None, None, SuspensionPolicy::default()).expect("open")
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn suspends_when_the_count_is_reached() {
        let s = memory();
        let t = Instant::now();
        for i in 0..19 {
            assert_eq!(s.record("acme", blocked(TEXT), t), None, "message {i}");
        }
        assert!(!s.is_suspended("acme"));
        let n = s.record("acme", blocked(TEXT), t).expect("notice");
        assert!(s.is_suspended("acme"));
        assert!(!s.is_suspended("other"));
        assert_eq!((n.account.as_str(), n.actor.as_str()), ("acme", AUTO_ACTOR));
        assert_eq!((n.blocked, n.total), (20, 20));
        assert!(n.reason.contains("20 of 20"), "{}", n.reason);
        assert!(parse_rfc3339(&n.time).is_some(), "{}", n.time);
        let json = serde_json::to_string(&n).expect("json");
        assert!(
            !json.contains("prize") && !json.contains("SECRETTEXT"),
            "{json}"
        );
    }

    #[test]
    fn a_low_ratio_does_not_suspend() {
        let s = memory();
        let t = Instant::now();
        for _ in 0..975 {
            assert_eq!(s.record("acme", Recorded::Allowed, t), None);
        }
        // 25 of 1000 blocked: above the count, far below the ratio.
        for _ in 0..25 {
            assert_eq!(s.record("acme", blocked(TEXT), t), None);
        }
        assert!(!s.is_suspended("acme"));
        // b >= 0.2 (975 + b) first holds at b = 244.
        for b in 26..244 {
            assert_eq!(s.record("acme", blocked(TEXT), t), None, "blocked {b}");
        }
        let n = s.record("acme", blocked(TEXT), t).expect("notice at 244");
        assert_eq!((n.blocked, n.total), (244, 1219));
    }

    #[test]
    fn one_notice_per_suspension_and_evidence_is_bounded() {
        let s = memory();
        let t = Instant::now();
        let mut notices = 0;
        for i in 0..200 {
            if s.record("acme", blocked(&format!("text {i}")), t).is_some() {
                notices += 1;
            }
            s.record("acme", Recorded::Allowed, t);
        }
        assert_eq!(notices, 1);
        let list = s.list();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].evidence, 50);
        let ev = s
            .evidence("acme", "alice")
            .expect("audit")
            .expect("suspended");
        assert_eq!(ev.len(), 50);
        // The first 20 (from the window), then in-flight ones up to the bound.
        assert_eq!(ev[0].normalized_text, "text 0");
        assert_eq!(ev[49].normalized_text, "text 49");
    }

    #[test]
    fn evidence_before_suspension_keeps_only_the_last_items() {
        let policy = SuspensionPolicy {
            evidence_max: 5,
            ..SuspensionPolicy::default()
        };
        let s = Suspensions::open(None, None, policy).expect("open");
        let t = Instant::now();
        for i in 0..20 {
            s.record("acme", blocked(&format!("text {i}")), t);
        }
        assert!(s.is_suspended("acme"));
        let texts: Vec<String> = s
            .evidence("acme", "alice")
            .expect("audit")
            .expect("suspended")
            .into_iter()
            .map(|e| e.normalized_text)
            .collect();
        assert_eq!(
            texts,
            ["text 15", "text 16", "text 17", "text 18", "text 19"]
        );
        s.record("acme", blocked("late"), t);
        assert_eq!(s.list()[0].evidence, 5);
    }

    #[test]
    fn concurrent_records_give_one_notice() {
        let s = Arc::new(memory());
        let t = Instant::now();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    (0..50)
                        .filter(|_| s.record("acme", blocked(TEXT), t).is_some())
                        .count()
                })
            })
            .collect();
        let notices: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
        assert_eq!(notices, 1);
        assert_eq!(s.list()[0].blocked, 20);
    }

    #[test]
    fn old_blocked_messages_fall_out_of_the_window() {
        let window = SuspensionPolicy::default().window;
        // Control: within the window, the 20th suspends.
        let s = memory();
        let t0 = Instant::now();
        for _ in 0..19 {
            s.record("acme", blocked(TEXT), t0);
        }
        assert!(s.record("acme", blocked(TEXT), t0 + window / 2).is_some());

        let s = memory();
        for _ in 0..19 {
            s.record("acme", blocked(TEXT), t0);
        }
        let t1 = t0 + window + window / 5;
        assert_eq!(s.record("acme", blocked(TEXT), t1), None);
        assert!(!s.is_suspended("acme"));
        // The content of the old ones is gone too, not only the counts.
        assert_eq!(s.accounts.get("acme").expect("tracked").recent.len(), 1);
        for _ in 0..18 {
            assert_eq!(s.record("acme", blocked(TEXT), t1), None);
        }
        let n = s
            .record("acme", blocked(TEXT), t1)
            .expect("20 in the new window");
        assert_eq!((n.blocked, n.total), (20, 20));
        assert_eq!(s.list()[0].evidence, 20);
    }

    #[test]
    fn sweep_forgets_idle_accounts_but_not_suspended_ones() {
        let s = memory();
        let t0 = Instant::now();
        s.record("quiet", Recorded::Allowed, t0);
        s.record("quiet2", blocked(TEXT), t0);
        s.suspend("bad", "alice", "complaint").expect("suspend");
        assert_eq!(s.tracked(), 3);
        s.sweep(t0 + Duration::from_secs(1));
        assert_eq!(s.tracked(), 3);
        s.sweep(t0 + Duration::from_secs(3600));
        assert_eq!(s.tracked(), 1);
        assert!(s.is_suspended("bad"));
    }

    #[test]
    fn tracked_accounts_are_bounded() {
        let mut s = memory();
        s.max_accounts = 3;
        let t0 = Instant::now();
        for sid in ["a", "b", "c", "d"] {
            s.record(sid, Recorded::Allowed, t0);
        }
        assert_eq!(s.tracked(), 3);
        assert!(s.accounts.get("d").is_none());
        // Once the others are idle, room is made.
        let later = t0 + Duration::from_secs(3600);
        s.record("e", Recorded::Allowed, later);
        assert!(s.accounts.get("e").is_some());
        assert_eq!(s.tracked(), 1);
    }

    #[test]
    fn manual_suspend_and_reinstate() {
        let s = memory();
        let t = Instant::now();
        for _ in 0..3 {
            s.record("acme", blocked(TEXT), t);
            s.record("acme", Recorded::Allowed, t);
        }
        let n = s
            .suspend("acme", "alice", "customer complaint")
            .expect("suspend");
        assert_eq!(n.actor, "alice");
        assert_eq!(n.reason, "customer complaint");
        assert_eq!((n.blocked, n.total), (3, 6));
        assert!(s.is_suspended("acme"));
        assert!(matches!(
            s.suspend("acme", "bob", "again"),
            Err(SuspensionError::AlreadySuspended(_))
        ));
        assert_eq!(s.list()[0].by, "alice");
        assert_eq!(s.list()[0].evidence, 3);
        // A suspended account gets no notice.
        for _ in 0..30 {
            assert_eq!(s.record("acme", blocked(TEXT), t), None);
        }
        s.reinstate("acme", "bob", "resolved").expect("reinstate");
        assert!(!s.is_suspended("acme"));
        assert!(s.list().is_empty());
        assert_eq!(s.evidence("acme", "bob").expect("no audit"), None);
        assert!(matches!(
            s.reinstate("acme", "bob", "again"),
            Err(SuspensionError::NotSuspended(_))
        ));
        // The counts restarted: 19 more blocked do not suspend.
        for _ in 0..19 {
            assert_eq!(s.record("acme", blocked(TEXT), t), None);
        }
        assert!(s.record("acme", blocked(TEXT), t).is_some());
        // The count behind is_suspended's shortcut went 1, 0, 1.
        assert!(s.is_suspended("acme"));
        assert_eq!(s.suspended.load(Ordering::Relaxed), 1);
        s.reinstate("acme", "bob", "resolved").expect("reinstate");
        assert_eq!(s.suspended.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn state_and_evidence_survive_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("state");
        let day = Duration::from_secs(86_400);
        let old = SystemTime::now() - 8 * day;
        let t = Instant::now();
        {
            let s =
                Suspensions::open(Some(&state), None, SuspensionPolicy::default()).expect("open");
            for i in 0..20 {
                let at = if i < 5 { old } else { SystemTime::now() };
                s.record("acme", blocked_at(&format!("{TEXT} {i}"), at), t);
            }
            // All of this one's evidence is past its expiry.
            for _ in 0..20 {
                s.record("stale", blocked_at(TEXT, old), t);
            }
            assert!(s.is_suspended("acme") && s.is_suspended("stale"));
            assert_eq!(s.list()[0].evidence, 20);
            let file = evidence_path(&state, "acme");
            assert!(file.exists());
            assert_eq!(mode(&file), 0o600);
            assert_eq!(mode(&state.join(STATE_FILE)), 0o600);
            let saved = fs::read_to_string(state.join(STATE_FILE)).expect("state");
            assert!(!saved.contains("SECRETTEXT"), "{saved}");
        }
        // An evidence file of an account that is not suspended is deleted.
        let orphan = evidence_path(&state, "orphan");
        fs::write(
            &orphan,
            serde_json::to_vec(&EvidenceFile {
                account: "orphan".to_owned(),
                evidence: vec![],
            })
            .expect("json"),
        )
        .expect("write");

        let s = Suspensions::open(Some(&state), None, SuspensionPolicy::default()).expect("reopen");
        assert!(s.is_suspended("acme") && s.is_suspended("stale"));
        assert_eq!(s.suspended.load(Ordering::Relaxed), 2);
        let ev = s
            .evidence("acme", "alice")
            .expect("audit")
            .expect("suspended");
        assert_eq!(ev.len(), 15, "expired evidence dropped");
        assert_eq!(ev[0].normalized_text, format!("{TEXT} 5"));
        assert_eq!(ev[0].hits[0], ("kw.prize".to_owned(), 2.5));
        assert_eq!(s.evidence("stale", "alice").expect("audit"), Some(vec![]));
        assert!(!evidence_path(&state, "stale").exists());
        assert!(!orphan.exists());
        let info = &s.list()[0];
        assert_eq!(
            (info.account.as_str(), info.by.as_str()),
            ("acme", AUTO_ACTOR)
        );
        assert_eq!((info.blocked, info.total), (20, 20));

        // Reinstating deletes the evidence and survives the next restart.
        s.reinstate("acme", "alice", "false positive")
            .expect("reinstate");
        assert!(!evidence_path(&state, "acme").exists());
        drop(s);
        let s = Suspensions::open(Some(&state), None, SuspensionPolicy::default()).expect("reopen");
        assert!(!s.is_suspended("acme"));
        assert!(s.is_suspended("stale"));
    }

    #[test]
    fn sweep_expires_evidence() {
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = SuspensionPolicy {
            evidence_ttl: Duration::from_secs(3600),
            ..SuspensionPolicy::default()
        };
        let s = Suspensions::open(Some(dir.path()), None, policy).expect("open");
        let t = Instant::now();
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        for i in 0..20 {
            let at = if i % 2 == 0 {
                two_hours_ago
            } else {
                SystemTime::now()
            };
            s.record("acme", blocked_at(TEXT, at), t);
        }
        assert_eq!(s.list()[0].evidence, 20);
        s.sweep(t);
        assert_eq!(s.list()[0].evidence, 10);
        let file: EvidenceFile =
            serde_json::from_slice(&fs::read(evidence_path(dir.path(), "acme")).expect("read"))
                .expect("parse");
        assert_eq!(file.evidence.len(), 10);
        // A lowered bound applies at the next sweep, keeping the newest.
        s.set_policy(SuspensionPolicy {
            evidence_max: 4,
            evidence_ttl: Duration::from_secs(3600),
            ..SuspensionPolicy::default()
        });
        s.sweep(t);
        assert_eq!(s.list()[0].evidence, 4);
        let file: EvidenceFile =
            serde_json::from_slice(&fs::read(evidence_path(dir.path(), "acme")).expect("read"))
                .expect("parse");
        assert_eq!(file.evidence.len(), 4);
    }

    #[test]
    fn the_audit_log_records_every_action_without_content() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("audit.log");
        let s = Suspensions::open(Some(dir.path()), Some(&log), SuspensionPolicy::default())
            .expect("open");
        let t = Instant::now();
        for _ in 0..20 {
            s.record("acme", blocked(TEXT), t);
        }
        s.evidence("acme", "alice")
            .expect("audit")
            .expect("suspended");
        s.reinstate("acme", "alice", "false positive")
            .expect("reinstate");
        s.suspend("acme", "bob", "manual review").expect("suspend");
        assert_eq!(mode(&log), 0o600);
        let raw = fs::read_to_string(&log).expect("read");
        assert!(
            !raw.contains("SECRETTEXT") && !raw.contains("prize"),
            "{raw}"
        );
        let entries = audit_entries(&log).expect("parse");
        let actions: Vec<(&str, &str, &str)> = entries
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str(), e.account.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                (AUTO_ACTOR, "auto-suspend", "acme"),
                ("alice", "view-evidence", "acme"),
                ("alice", "reinstate", "acme"),
                ("bob", "suspend", "acme"),
            ]
        );
        assert_eq!(entries[2].note, "false positive");
        assert!(entries.iter().all(|e| parse_rfc3339(&e.time).is_some()));
        // Reopening appends.
        drop(s);
        let s = Suspensions::open(Some(dir.path()), Some(&log), SuspensionPolicy::default())
            .expect("reopen");
        s.reinstate("acme", "carol", "ok").expect("reinstate");
        assert_eq!(audit_entries(&log).expect("parse").len(), 5);
    }

    #[test]
    fn a_corrupt_state_file_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join(STATE_FILE), b"{not json").expect("write");
        assert!(matches!(
            Suspensions::open(Some(dir.path()), None, SuspensionPolicy::default()),
            Err(SuspensionError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_policy_change_applies() {
        let s = memory();
        let t = Instant::now();
        s.set_policy(SuspensionPolicy {
            min_blocked: 3,
            ..SuspensionPolicy::default()
        });
        assert_eq!(s.policy().min_blocked, 3);
        s.record("acme", blocked(TEXT), t);
        s.record("acme", blocked(TEXT), t);
        assert!(s.record("acme", blocked(TEXT), t).is_some());
    }

    #[test]
    fn policy_validation_names_the_key() {
        assert_eq!(SuspensionPolicy::default().validate(), Ok(()));
        let bad = SuspensionPolicy {
            max_blocked_ratio: 1.5,
            ..SuspensionPolicy::default()
        };
        assert!(bad
            .validate()
            .expect_err("invalid")
            .contains("max_blocked_ratio"));
    }

    #[test]
    fn evidence_debug_hides_the_text() {
        let Recorded::Blocked(e) = blocked(TEXT) else {
            unreachable!()
        };
        let shown = format!("{e:?}");
        assert!(!shown.contains("SECRETTEXT"), "{shown}");
        assert!(shown.contains("kw.prize"), "{shown}");
    }

    #[test]
    fn rfc3339_formats_and_parses() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(format_rfc3339(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20.123Z"), Some(t));
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = parse_rfc3339("2024-02-29T00:00:00+00:00").expect("leap day");
        assert_eq!(format_rfc3339(leap), "2024-02-29T00:00:00.000Z");
        for bad in [
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-11-14T22:13:20+01:00",
            "2023-11-14 22:13:20Z",
            "2023-11-14T22:13:20.Z",
            "",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        let now = SystemTime::now();
        let back = parse_rfc3339(&format_rfc3339(now)).expect("round trip");
        assert!(now.duration_since(back).expect("not later") < Duration::from_millis(1));
    }
}
