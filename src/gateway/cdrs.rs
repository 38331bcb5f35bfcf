//! The gateway's side of the CDRs ([`crate::cdr`]): a draft per message
//! segment from its submit to its outcome, a record per final receipt,
//! the retention sweeper, and the requests (erase, export, query, holds)
//! that run against the live store.
//!
//! A submit takes a slot in the writer's bounded queue before anything
//! else happens to it ([`Core::cdr_draft`]); with no slot free the ESME is
//! answered `ESME_RTHROTTLED`. The record is then written at its outcome
//! through that slot, which can neither block nor fail, so no record is
//! ever dropped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use telegate_smpp::CommandStatus;

use super::{Core, Runtime};
use crate::cdr::pseudonym::Pseudonymizer;
use crate::cdr::record::{DataCodingClass, ReceiptState, RecordKind, RecordRef, Verdict};
use crate::cdr::store::{
    self as cdr_store, AuditAction, AuditEntry, AuditLog, CdrPermit, CdrWriter, EraseReport,
    ExportFormat, FileBackend, Holds, Query, QueryResult, Retention, WriterHandle, WriterOptions,
};
use crate::config::{CdrConfig, Config};
use crate::filter::engine::Action;
use crate::metrics;
use crate::routing::{country_code, RoutingTable, MAX_DIGITS};

/// Unix time of monotonic instants: lets a CDR take its times from the
/// instants the gateway reads anyway (a clock reading costs about as much
/// as encoding a record). The offset between the two clocks is read at
/// start and again every second ([`Core::cdr_upkeep`]), so a step of the
/// wall clock shows within a second; between readings both clocks are
/// slewed alike by NTP. Times agree with a direct reading to a
/// millisecond or so.
#[derive(Debug)]
pub(crate) struct UnixClock {
    base: Instant,
    /// Unix ms at `base`.
    offset_ms: AtomicU64,
}

impl UnixClock {
    fn new() -> UnixClock {
        let c = UnixClock {
            base: Instant::now(),
            offset_ms: AtomicU64::new(0),
        };
        c.refresh();
        c
    }

    /// Reads both clocks again.
    fn refresh(&self) {
        let wall = unix_ms(SystemTime::now());
        let since = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.offset_ms
            .store(wall.saturating_sub(since), Ordering::Relaxed);
    }

    /// Unix ms at `at`.
    pub(crate) fn unix_ms(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.base).as_millis();
        self.offset_ms
            .load(Ordering::Relaxed)
            .saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
    }
}

/// The running CDR machinery of a gateway.
pub(crate) struct CdrCore {
    pub(crate) writer: CdrWriter,
    clock: UnixClock,
    handle: Mutex<Option<WriterHandle>>,
    pub(crate) dir: PathBuf,
    audit: AuditLog,
    holds: Mutex<Holds>,
}

impl std::fmt::Debug for CdrCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdrCore").field("dir", &self.dir).finish()
    }
}

/// Why a CDR request failed.
#[derive(Debug, thiserror::Error)]
pub enum CdrError {
    /// The gateway writes no CDRs.
    #[error("CDRs are off: there is no [cdr] table")]
    Off,
    /// The request is refused (e.g. erasing an account under legal hold).
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error("CDR store: {0}")]
    Io(#[from] std::io::Error),
}

impl CdrCore {
    /// Opens the store and starts its writer.
    pub(crate) fn start(c: &CdrConfig) -> std::io::Result<CdrCore> {
        let backend = FileBackend::open(&c.dir)?;
        let (writer, handle) = CdrWriter::start(
            Box::new(backend),
            WriterOptions {
                queue: c.queue as usize,
                fsync_interval: c.fsync_interval.get(),
                // Records are queued encoded and the writer takes all of
                // them at once: this caps one write at a few hundred KiB.
                batch: 4096,
            },
        )?;
        let audit_path = c.audit_log();
        if let Some(parent) = audit_path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(CdrCore {
            writer,
            clock: UnixClock::new(),
            handle: Mutex::new(Some(handle)),
            dir: c.dir.clone(),
            audit: AuditLog::open(&audit_path)?,
            holds: Mutex::new(Holds::load(&c.dir)?),
        })
    }

    /// Writes out everything queued and stops the writer.
    pub(crate) fn shutdown(&self) {
        let handle = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            h.shutdown();
        }
    }

    fn holds(&self) -> std::sync::MutexGuard<'_, Holds> {
        self.holds.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn audit(&self, entry: AuditEntry) {
        if let Err(e) = self.audit.append(&entry) {
            tracing::error!(error = %e, action = ?entry.action, "cannot write the CDR audit log");
        }
    }
}

/// The pseudonym key of a config, when it writes CDRs.
pub(crate) fn pseudonymizer(config: &Config) -> Result<Option<Arc<Pseudonymizer>>, String> {
    let Some(c) = &config.cdr else {
        return Ok(None);
    };
    let key = c
        .pseudonym_key
        .resolve()
        .map_err(|e| format!("cdr.pseudonym_key: {e}"))?;
    Ok(Some(Arc::new(Pseudonymizer::new(key.trim().as_bytes()))))
}

/// The retention of every account under `config`, with the holds set
/// through the admin API.
pub(crate) fn retention_of(config: &Config, holds: &Holds) -> impl Fn(&str) -> Retention {
    let default = config
        .cdr
        .as_ref()
        .map_or(Duration::from_secs(30 * 86_400), |c| c.retention.get());
    let accounts: std::collections::HashMap<String, Retention> = config
        .accounts
        .iter()
        .map(|a| {
            (
                a.sid().to_owned(),
                Retention {
                    keep: a.retention.map_or(default, |r| r.get()),
                    hold: a.legal_hold,
                },
            )
        })
        .collect();
    let held: std::collections::HashSet<String> =
        holds.list().into_iter().map(|h| h.account).collect();
    move |sid: &str| {
        let mut r = accounts.get(sid).copied().unwrap_or(Retention {
            keep: default,
            hold: false,
        });
        r.hold |= held.contains(sid);
        r
    }
}

/// Unix milliseconds of `t`.
pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A message segment's CDR from its submit to its outcome: its reserved
/// slot in the writer's queue and what is known at submit.
pub(crate) struct Draft {
    permit: CdrPermit,
    submit_time_ms: u64,
    segment: u8,
    segments: u8,
    data_coding: DataCodingClass,
    pub(crate) verdict: Verdict,
    pub(crate) rules: Vec<Arc<str>>,
    key_id: u32,
    source: Option<[u8; 16]>,
    dest: Option<[u8; 16]>,
    country_code: u16,
    /// The route's prefix, once routed.
    route_prefix: RoutePrefix,
}

/// Longer route prefixes are kept shared rather than copied.
const INLINE_PREFIX: usize = 22;

/// A draft's route prefix: copied when short, so that no reference count
/// shared by every message of the route is touched per message.
enum RoutePrefix {
    None,
    Inline { len: u8, bytes: [u8; INLINE_PREFIX] },
    Shared(Arc<str>),
}

impl RoutePrefix {
    fn as_str(&self) -> Option<&str> {
        match self {
            RoutePrefix::None => None,
            // Copied whole from a `str`, so always UTF-8.
            RoutePrefix::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).ok()
            }
            RoutePrefix::Shared(s) => Some(s),
        }
    }
}

impl Draft {
    /// Sets the route's prefix, once routed.
    pub(crate) fn set_route_prefix(&mut self, prefix: &Arc<str>) {
        self.route_prefix = if prefix.len() <= INLINE_PREFIX {
            let mut bytes = [0u8; INLINE_PREFIX];
            bytes[..prefix.len()].copy_from_slice(prefix.as_bytes());
            RoutePrefix::Inline {
                len: prefix.len() as u8,
                bytes,
            }
        } else {
            RoutePrefix::Shared(prefix.clone())
        };
    }
}

impl std::fmt::Debug for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Pseudonyms are not printed either.
        f.debug_struct("Draft")
            .field("segment", &self.segment)
            .field("segments", &self.segments)
            .finish_non_exhaustive()
    }
}

/// What a CDR keeps of an address: its pseudonym, of its E.164 digits
/// when it reads as a number, else of its bytes as sent (an alphanumeric
/// sender id); and the number's country code (0 when it is none).
///
/// With `cached`, the answer is looked up in (and kept in) this thread's
/// [`RECENT`] addresses: for senders, which repeat. Destinations seldom
/// do, so for them a cache would only cost a slot write per message.
fn take_address(
    key: &Pseudonymizer,
    routing: &RoutingTable,
    (ton, npi, addr): (u8, u8, &[u8]),
    cached: bool,
) -> Option<([u8; 16], u16)> {
    if addr.is_empty() {
        return None;
    }
    let compute = || compute_address(key, routing, (ton, npi, addr));
    if !cached || addr.len() > CACHED_ADDR {
        return Some(compute());
    }
    let taken = RECENT.try_with(|recent| {
        let mut recent = recent.borrow_mut();
        let slot = &mut recent[slot_of(ton, npi, addr)];
        let hit = slot.generation == key.generation()
            && slot.ton == ton
            && slot.npi == npi
            && slot.addr[..usize::from(slot.len)] == *addr;
        if !hit {
            let (pseudonym, cc) = compute();
            let mut bytes = [0u8; CACHED_ADDR];
            bytes[..addr.len()].copy_from_slice(addr);
            *slot = Recent {
                generation: key.generation(),
                ton,
                npi,
                len: addr.len() as u8,
                addr: bytes,
                cc,
                pseudonym,
            };
        }
        (slot.pseudonym, slot.cc)
    });
    // Without the cache (the thread is being torn down): computed.
    Some(taken.unwrap_or_else(|_| compute()))
}

/// [`take_address`] without the cache.
fn compute_address(
    key: &Pseudonymizer,
    routing: &RoutingTable,
    (ton, npi, addr): (u8, u8, &[u8]),
) -> ([u8; 16], u16) {
    let mut buf = [0u8; MAX_DIGITS];
    match routing.normalize(ton, npi, addr, &mut buf) {
        Some(e164) => (key.pseudonym(e164), country_code(e164)),
        None => (key.pseudonym(addr), 0),
    }
}

/// Addresses up to this long are cached: every SMPP address is (21 bytes
/// at most with its NUL, 20 without).
const CACHED_ADDR: usize = 21;
/// Cached addresses per thread.
const RECENT_SLOTS: usize = 256;

/// One address [`take_address`] has seen lately on this thread, with what
/// it gave.
#[derive(Clone, Copy)]
struct Recent {
    /// The [`Pseudonymizer::generation`] that made it, 0 for an empty slot.
    /// A runtime's key is made with its routing table, so this names the
    /// normalisation rules too: a reload starts afresh.
    generation: u64,
    ton: u8,
    npi: u8,
    len: u8,
    addr: [u8; CACHED_ADDR],
    cc: u16,
    pseudonym: [u8; 16],
}

const EMPTY: Recent = Recent {
    generation: 0,
    ton: 0,
    npi: 0,
    len: 0,
    addr: [0; CACHED_ADDR],
    cc: 0,
    pseudonym: [0; 16],
};

thread_local! {
    /// The pseudonyms of senders this thread took lately, direct-mapped
    /// (16 KiB). Senders repeat (an account has a few sender ids and short
    /// codes), and a cache hit saves normalising the number and the two
    /// SHA-256 compressions of its HMAC. The numbers stay in this process's
    /// memory, beside the messages that carry them, and are never written
    /// anywhere; a new key (a reload) misses every slot.
    static RECENT: std::cell::RefCell<Box<[Recent; RECENT_SLOTS]>> =
        std::cell::RefCell::new(Box::new([EMPTY; RECENT_SLOTS]));
}

/// The slot of an address. The hash is unkeyed: a peer that picks
/// addresses to collide only makes its own lookups miss.
fn slot_of(ton: u8, npi: u8, addr: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (u64::from(ton) << 8) ^ u64::from(npi);
    for chunk in addr.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    (h >> 56) as usize % RECENT_SLOTS
}

/// What a submit's outcome adds to its CDR, borrowed ([`Outcome::sent`]
/// from a task's owned outcome).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SentTo<'a> {
    /// The carrier that answered (or that was tried last).
    pub(crate) carrier: Option<&'a str>,
    /// submit_sm → submit_sm_resp at that carrier.
    pub(crate) latency: Duration,
    /// The route's prefix (when the draft has none yet).
    pub(crate) route_prefix: Option<&'a str>,
}

/// [`SentTo`], owned: what a task that retries and fails over collects.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The carrier that answered (or that was tried last).
    pub(crate) carrier: Option<crate::name::Name>,
    /// submit_sm → submit_sm_resp at that carrier.
    pub(crate) latency: Duration,
    /// The route's prefix (when the draft has none yet).
    pub(crate) route_prefix: Option<Arc<str>>,
}

impl Outcome {
    pub(crate) fn sent(&self) -> SentTo<'_> {
        SentTo {
            carrier: self.carrier.as_deref(),
            latency: self.latency,
            route_prefix: self.route_prefix.as_deref(),
        }
    }
}

impl Core {
    /// A CDR draft for a submit taken in at `received`, with its slot in
    /// the writer's queue. `Err` when the queue is full: the ESME is to be
    /// throttled. `Ok(None)` when CDRs are off.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn cdr_draft(
        &self,
        rt: &Runtime,
        received: Instant,
        source: (u8, u8, &[u8]),
        dest: (u8, u8, &[u8]),
        data_coding: u8,
        concat: Option<(u16, u8, u8)>,
    ) -> Result<Option<Draft>, ()> {
        let (Some(cdr), Some(key)) = (&self.cdr, &rt.cdr_key) else {
            return Ok(None);
        };
        let permit = cdr.writer.try_reserve().ok_or(())?;
        let routing = &rt.routes;
        let dest = take_address(key, routing, dest, false);
        let (segment, segments) = concat.map_or((1, 1), |(_, total, seq)| (seq, total));
        Ok(Some(Draft {
            permit,
            submit_time_ms: cdr.clock.unix_ms(received),
            segment,
            segments,
            data_coding: DataCodingClass::from_data_coding(data_coding),
            verdict: Verdict::NotFiltered,
            rules: Vec::new(),
            key_id: key.key_id(),
            source: take_address(key, routing, source, true).map(|(p, _)| p),
            dest: dest.map(|(p, _)| p),
            country_code: dest.map_or(0, |(_, cc)| cc),
            route_prefix: RoutePrefix::None,
        }))
    }

    /// Writes a submit's CDR at its outcome, reached at `now`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish_cdr(
        &self,
        draft: Draft,
        account: &str,
        gateway_id: u64,
        registered_delivery: u8,
        status: CommandStatus,
        outcome: SentTo<'_>,
        now: Instant,
    ) {
        let now = match &self.cdr {
            Some(c) => c.clock.unix_ms(now),
            None => unix_ms(SystemTime::now()),
        };
        let pending = status.is_ok() && registered_delivery & 0x03 != 0;
        let receipt_by_s = if pending {
            now / 1000 + self.hot.dlr_ttl_s.load(Ordering::Relaxed)
        } else {
            0
        };
        let Draft {
            permit,
            submit_time_ms,
            segment,
            segments,
            data_coding,
            verdict,
            rules,
            key_id,
            source,
            dest,
            country_code,
            route_prefix,
        } = draft;
        let record = RecordRef {
            kind: RecordKind::Submit,
            submit_time_ms,
            final_time_ms: now,
            account,
            gateway_id,
            carrier: outcome.carrier,
            route_prefix: route_prefix.as_str().or(outcome.route_prefix),
            country_code,
            segment,
            segments,
            data_coding,
            verdict,
            rules: &rules,
            submit_status: status.0,
            receipt: if pending {
                ReceiptState::Pending
            } else {
                ReceiptState::NotRequested
            },
            error_code: 0,
            carrier_latency_us: u32::try_from(outcome.latency.as_micros()).unwrap_or(u32::MAX),
            receipt_by_s,
            key_id,
            source,
            dest,
        };
        permit.write_ref(&record);
    }

    /// A slot for a receipt's CDR; `Err` when the writer is behind (the
    /// carrier is then asked to send the receipt again later). `Ok(None)`
    /// when CDRs are off.
    pub(crate) fn cdr_receipt_slot(&self) -> Result<Option<CdrPermit>, ()> {
        match &self.cdr {
            None => Ok(None),
            Some(c) => c.writer.try_reserve().map(Some).ok_or(()),
        }
    }

    /// Writes the CDR of a final receipt.
    pub(crate) fn write_receipt_cdr(
        &self,
        permit: CdrPermit,
        account: &str,
        carrier: &str,
        gateway_id: u64,
        state: u8,
        error_code: u16,
    ) {
        let record = RecordRef::receipt(
            account,
            carrier,
            gateway_id,
            unix_ms(SystemTime::now()),
            ReceiptState::from_message_state(state),
            error_code,
        );
        permit.write_ref(&record);
    }

    /// Sweeps expired records every `[cdr].sweep_interval`, and publishes
    /// the writer's and the store's figures.
    pub(crate) async fn cdr_upkeep(self: Arc<Self>) {
        let Some(cdr) = &self.cdr else {
            return;
        };
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut next_sweep = tokio::time::Instant::now();
        let mut next_stats = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.shutdown.cancelled() => break,
            }
            cdr.clock.refresh();
            let s = cdr.writer.stats();
            metrics::set_cdr_writer(metrics::CdrSample {
                records: s.records,
                bytes: s.bytes,
                errors: s.errors,
                queued: s.queued,
                lag: s.lag,
            });
            let now = tokio::time::Instant::now();
            if now >= next_sweep {
                let every = self
                    .rt()
                    .config
                    .cdr
                    .as_ref()
                    .map_or(Duration::from_secs(3600), |c| c.sweep_interval.get());
                next_sweep = now + every;
                let core = self.clone();
                let _ = tokio::task::spawn_blocking(move || core.cdr_sweep_now()).await;
            }
            if now >= next_stats {
                next_stats = now + Duration::from_secs(60);
                let dir = cdr.dir.clone();
                if let Ok(Ok(st)) =
                    tokio::task::spawn_blocking(move || cdr_store::dir_stats(&dir)).await
                {
                    let age = st.oldest_ms.map(|ms| {
                        Duration::from_millis(unix_ms(SystemTime::now()).saturating_sub(ms))
                    });
                    metrics::set_cdr_store(st.records, st.bytes, age);
                }
            }
        }
    }

    /// One retention sweep (blocking).
    pub(crate) fn cdr_sweep_now(&self) -> Result<cdr_store::SweepReport, CdrError> {
        self.cdr_sweep_by("sweeper")
    }

    /// One retention sweep (blocking), audited under `actor`.
    pub(crate) fn cdr_sweep_by(&self, actor: &str) -> Result<cdr_store::SweepReport, CdrError> {
        let cdr = self.cdr.as_ref().ok_or(CdrError::Off)?;
        let rt = self.rt_full();
        let retention = retention_of(&rt.config, &cdr.holds());
        let now_s = unix_ms(SystemTime::now()) / 1000;
        match cdr_store::sweep(&cdr.dir, now_s, &retention) {
            Ok(r) => {
                metrics::cdr_sweep(true, r.records_removed);
                if r.records_removed > 0 || r.partitions_deleted > 0 || actor != "sweeper" {
                    tracing::info!(
                        removed = r.records_removed,
                        deleted = r.partitions_deleted,
                        rewritten = r.partitions_rewritten,
                        "expired CDRs swept"
                    );
                    let mut e = AuditEntry::new(AuditAction::Sweep, None, actor);
                    e.records = r.records_removed;
                    e.partitions = r.partitions_deleted + r.partitions_rewritten;
                    e.bytes = r.bytes_freed;
                    cdr.audit(e);
                }
                Ok(r)
            }
            Err(e) => {
                metrics::cdr_sweep(false, 0);
                tracing::error!(error = %e, "CDR sweep failed");
                Err(e.into())
            }
        }
    }

    /// Erases an account's records (blocking): its CDRs up to `until_ms`,
    /// and, for a whole erasure, its DLR mappings and filter evidence.
    pub(crate) fn cdr_erase(
        &self,
        sid: &str,
        until_ms: Option<u64>,
        actor: &str,
    ) -> Result<serde_json::Value, CdrError> {
        let cdr = self.cdr.as_ref().ok_or(CdrError::Off)?;
        let rt = self.rt_full();
        if retention_of(&rt.config, &cdr.holds())(sid).hold {
            return Err(CdrError::Refused(format!(
                "account {sid} is under a legal hold: its records cannot be erased until the hold is lifted"
            )));
        }
        let EraseReport {
            records_removed,
            partitions_rewritten,
            partitions_deleted,
        } = cdr_store::erase(&cdr.dir, sid, until_ms)?;
        metrics::cdr_erased(records_removed);
        // Mappings are keyed by system_id; an account gone from the config
        // is taken to have used its SID as system_id.
        let system_id = rt
            .config
            .accounts
            .iter()
            .find(|a| a.sid() == sid)
            .map_or_else(|| sid.to_owned(), |a| a.system_id.clone());
        let (mappings, evidence) = if until_ms.is_none() {
            let mappings = self.dlr.remove_account(&system_id);
            if let Err(e) = self.dlr.flush() {
                tracing::error!(error = %e, "DLR store flush after erasure failed");
            }
            let evidence = self
                .filter
                .suspensions
                .erase_evidence(sid, actor)
                .map_err(|e| CdrError::Io(std::io::Error::other(e.to_string())))?;
            (mappings, evidence)
        } else {
            (0, 0)
        };
        tracing::info!(
            account = sid,
            actor,
            records = records_removed,
            dlr_mappings = mappings,
            evidence,
            until_ms,
            "account's records erased"
        );
        let mut e = AuditEntry::new(AuditAction::Erase, Some(sid), actor);
        e.records = records_removed + mappings as u64 + evidence as u64;
        e.partitions = partitions_rewritten + partitions_deleted;
        cdr.audit(e);
        Ok(serde_json::json!({
            "account": sid,
            "records_removed": records_removed,
            "partitions_rewritten": partitions_rewritten,
            "partitions_deleted": partitions_deleted,
            "dlr_mappings_removed": mappings,
            "evidence_removed": evidence,
        }))
    }

    /// A customer's copy of an account's records (blocking).
    pub(crate) fn cdr_export(
        &self,
        sid: &str,
        from_ms: Option<u64>,
        to_ms: Option<u64>,
        format: ExportFormat,
        actor: &str,
    ) -> Result<Vec<u8>, CdrError> {
        let cdr = self.cdr.as_ref().ok_or(CdrError::Off)?;
        let rt = self.rt_full();
        let retention = retention_of(&rt.config, &cdr.holds());
        let mut out = Vec::new();
        let rows = cdr_store::export(
            &cdr.dir,
            sid,
            from_ms,
            to_ms,
            format,
            unix_ms(SystemTime::now()) / 1000,
            &retention,
            &mut out,
        )?;
        let mut e = AuditEntry::new(AuditAction::Export, Some(sid), actor);
        e.records = rows;
        e.bytes = out.len() as u64;
        cdr.audit(e);
        Ok(out)
    }

    /// Records and totals for support and billing (blocking).
    pub(crate) fn cdr_query(&self, q: &Query) -> Result<QueryResult, CdrError> {
        let cdr = self.cdr.as_ref().ok_or(CdrError::Off)?;
        let rt = self.rt_full();
        let retention = retention_of(&rt.config, &cdr.holds());
        Ok(cdr_store::query(
            &cdr.dir,
            q,
            unix_ms(SystemTime::now()) / 1000,
            &retention,
        )?)
    }

    /// Sets or lifts a legal hold on an account.
    pub(crate) fn cdr_hold(
        &self,
        sid: &str,
        on: bool,
        actor: &str,
        note: &str,
    ) -> Result<(), CdrError> {
        let cdr = self.cdr.as_ref().ok_or(CdrError::Off)?;
        cdr.holds().set(sid, on, actor, Some(note))?;
        let action = if on {
            AuditAction::Hold
        } else {
            AuditAction::Release
        };
        cdr.audit(AuditEntry::new(action, Some(sid), actor));
        tracing::info!(account = sid, actor, on, "CDR legal hold changed");
        Ok(())
    }

    /// The legal holds: set through the API, and from the config.
    pub(crate) fn cdr_holds(&self) -> Result<serde_json::Value, CdrError> {
        let cdr = self.cdr.as_ref().ok_or(CdrError::Off)?;
        let rt = self.rt();
        let api: Vec<serde_json::Value> = cdr
            .holds()
            .list()
            .into_iter()
            .map(|h| serde_json::to_value(h).unwrap_or_default())
            .collect();
        let config: Vec<&str> = rt
            .config
            .accounts
            .iter()
            .filter(|a| a.legal_hold)
            .map(|a| a.sid())
            .collect();
        Ok(serde_json::json!({ "holds": api, "config": config }))
    }
}

/// The CDR verdict of a filter action.
pub(crate) fn verdict_of(a: Action) -> Verdict {
    match a {
        Action::Allow => Verdict::Allow,
        Action::Flag => Verdict::Flag,
        Action::Block => Verdict::Block,
    }
}

impl From<CdrError> for crate::admin::CdrApiError {
    fn from(e: CdrError) -> Self {
        use crate::admin::CdrApiError as E;
        match e {
            CdrError::Off => E::Off,
            CdrError::Refused(m) => E::Refused(m),
            CdrError::Io(e) => E::Failed(e.to_string()),
        }
    }
}

impl Core {
    /// Serves a CDR request of the admin API; the store work runs on the
    /// blocking pool.
    pub(crate) async fn cdr_request(
        self: Arc<Self>,
        req: crate::admin::CdrRequest,
    ) -> Result<crate::admin::CdrAnswer, crate::admin::CdrApiError> {
        use crate::admin::{CdrAnswer, CdrApiError, CdrRequest};
        if self.cdr.is_none() {
            return Err(CdrApiError::Off);
        }
        let work = move || -> Result<CdrAnswer, CdrError> {
            Ok(match req {
                CdrRequest::Query(q) => CdrAnswer::Json(query_json(&self.cdr_query(&q)?)),
                CdrRequest::Export {
                    account,
                    from_ms,
                    to_ms,
                    format,
                    by,
                } => CdrAnswer::Data {
                    content_type: match format {
                        ExportFormat::Csv => "text/csv",
                        ExportFormat::Jsonl => "application/x-ndjson",
                    },
                    body: self.cdr_export(&account, from_ms, to_ms, format, &by)?,
                },
                CdrRequest::Erase {
                    account,
                    until_ms,
                    by,
                } => CdrAnswer::Json(self.cdr_erase(&account, until_ms, &by)?),
                CdrRequest::Hold {
                    account,
                    on,
                    by,
                    note,
                } => {
                    self.cdr_hold(&account, on, &by, &note)?;
                    CdrAnswer::Json(self.cdr_holds()?)
                }
                CdrRequest::Holds => CdrAnswer::Json(self.cdr_holds()?),
                CdrRequest::Sweep { by } => {
                    let r = self.cdr_sweep_by(&by)?;
                    CdrAnswer::Json(serde_json::json!({
                        "records_removed": r.records_removed,
                        "partitions_deleted": r.partitions_deleted,
                        "partitions_rewritten": r.partitions_rewritten,
                        "held_kept": r.held_kept,
                    }))
                }
            })
        };
        match tokio::task::spawn_blocking(work).await {
            Ok(r) => r.map_err(Into::into),
            Err(e) => Err(CdrApiError::Failed(format!("CDR task failed: {e}"))),
        }
    }
}

/// A query's answer as JSON: totals, then the rows.
pub(crate) fn query_json(r: &QueryResult) -> serde_json::Value {
    let t = &r.totals;
    let map = |m: &dyn Fn() -> Vec<(String, u64)>| -> serde_json::Map<String, serde_json::Value> {
        m().into_iter().map(|(k, v)| (k, v.into())).collect()
    };
    serde_json::json!({
        "totals": {
            "messages": t.messages,
            "segments": t.segments,
            "by_submit_status": map(&|| t.by_submit_status.iter().map(|(k, v)| (format!("0x{k:08x}"), *v)).collect()),
            "by_receipt": map(&|| t.by_receipt.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()),
            "by_country": map(&|| t.by_country.iter().map(|(k, v)| (k.to_string(), *v)).collect()),
            "by_carrier": map(&|| t.by_carrier.iter().map(|(k, v)| (k.clone(), *v)).collect()),
        },
        "rows": r.rows.iter().map(cdr_store::row_json).collect::<Vec<_>>(),
        "torn": r.torn,
    })
}

/// `telegate cdr query` on the store of `config`, without a gateway (or
/// beside a running one: reads take the store's shared lock).
pub fn cdr_query_offline(config: &Config, q: &Query) -> Result<serde_json::Value, CdrError> {
    let c = config.cdr.as_ref().ok_or(CdrError::Off)?;
    let holds = Holds::load(&c.dir)?;
    let retention = retention_of(config, &holds);
    let r = cdr_store::query(&c.dir, q, unix_ms(SystemTime::now()) / 1000, &retention)?;
    Ok(query_json(&r))
}

/// `telegate cdr export` from the store of `config`; returns the rows
/// written. The export is written to the CDR audit log.
pub fn cdr_export_offline(
    config: &Config,
    account: &str,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    format: ExportFormat,
    by: &str,
    mut out: Box<dyn std::io::Write>,
) -> Result<u64, CdrError> {
    let c = config.cdr.as_ref().ok_or(CdrError::Off)?;
    let holds = Holds::load(&c.dir)?;
    let retention = retention_of(config, &holds);
    let now_s = unix_ms(SystemTime::now()) / 1000;
    let rows = cdr_store::export(
        &c.dir, account, from_ms, to_ms, format, now_s, &retention, &mut out,
    )?;
    out.flush()?;
    let audit = AuditLog::open(&c.audit_log())?;
    let mut e = AuditEntry::new(AuditAction::Export, Some(account), by);
    e.records = rows;
    audit.append(&e)?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing(country: &str) -> RoutingTable {
        let text = format!(
            r#"
            [routing]
            country_code = "{country}"

            [[account]]
            system_id = "acme"
            password_hash = "x"

            [[carrier]]
            name = "a"
            address = "127.0.0.1:1"
            system_id = "a"
            password = "p"

            [[route]]
            prefix = ""
            carriers = ["a"]
            "#
        );
        let config: Config = toml::from_str(&text).expect("test config parses");
        RoutingTable::build(&config).expect("test routes build")
    }

    /// Cached or not, and whatever shared a slot before, an address gives
    /// what it gives computed afresh. A runtime's key is made with its
    /// routing table, and a later runtime (another key, or the same key
    /// with other rules) never sees an earlier one's results.
    #[test]
    fn cached_pseudonyms_are_those_computed_afresh() {
        let runtimes = [
            (Pseudonymizer::new(b"key one"), routing("49")),
            (Pseudonymizer::new(b"key two"), routing("49")),
            (Pseudonymizer::new(b"key one"), routing("33")),
        ];
        // 600 numbers in 256 slots: many share one, in turn.
        let numbers: Vec<String> = (0..600).map(|i| format!("0151{i:07}")).collect();
        let mut addrs: Vec<(u8, u8, &[u8])> = numbers
            .iter()
            .flat_map(|n| [(2, 1, n.as_bytes()), (1, 1, n.as_bytes())])
            .collect();
        addrs.extend([
            (5, 0, &b"MyBank"[..]),
            (0, 1, b"+447700900123"),
            (0, 1, b"00447700900123"),
            (1, 1, b"123456789012345678901"),
            (1, 1, b"1234567890123456789012345"),
            (1, 1, b"12ab"),
        ]);
        for round in 0..3 {
            for (i, (key, routes)) in runtimes.iter().enumerate() {
                for &a in &addrs {
                    for cached in [true, false] {
                        assert_eq!(
                            take_address(key, routes, a, cached),
                            Some(compute_address(key, routes, a)),
                            "round {round}, runtime {i}, {a:?}, cached {cached}"
                        );
                    }
                }
            }
        }
        let (k1, de) = (&runtimes[0].0, &runtimes[0].1);
        assert_eq!(take_address(k1, de, (1, 1, b""), true), None);
        let (_, cc) = take_address(k1, de, (2, 1, b"015112345678"), false).unwrap();
        assert_eq!(cc, 49);
        let (_, cc) = take_address(k1, de, (5, 0, b"MyBank"), true).unwrap();
        assert_eq!(cc, 0);
    }
}
