//! Reading the CDR directory: rows (a Submit record joined with its
//! Receipt record), filtered queries with totals, and export as JSON lines
//! or CSV.
//!
//! # The join
//!
//! Partitions are scanned oldest first. A matching Submit record becomes a
//! candidate row; a later Receipt record with the same account and gateway
//! id completes it. Rows come out in the order of their Submit records. A
//! candidate waits for its receipt until the scan reaches partitions
//! written more than an hour after its `receipt_by_s` (or its
//! `final_time_ms` when that is 0: no receipt expected), and at most
//! [`JOIN_WINDOW`] candidates wait at once; then it is finished with the
//! Submit's own state. This bounds memory by the DLR window, not by the
//! size of the directory. A Receipt record with no waiting Submit (erased,
//! expired, or outside the query) is skipped.
//!
//! Submit records sharing an account and gateway id (a message's segments,
//! or a submit_multi's destinations) are one message; the gateway writes
//! them all within the ESME's response timeout, and the join recognises
//! them for an hour after the message's submit time.
//!
//! A row's receipt state is the Receipt's state if there is one; else, if
//! the Submit says pending and `now_s` is past its `receipt_by_s`,
//! [`ReceiptState::NoReceipt`]; else the Submit's state.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::civil::rfc3339;
use super::pseudonym::{hex16, parse_hex16};
use super::record::{
    is_account, peek_kind, DataCodingClass, ReceiptState, RecordKind, RecordView, Verdict,
};
use super::store::{partitions, read_partition_where, DirLock};

/// Most candidate rows waiting for their receipts at once; see the
/// [module docs](self).
pub const JOIN_WINDOW: usize = 1_000_000;
/// How long after a candidate's deadline (by partition write hour) its
/// receipt may still turn up.
const JOIN_SLACK_S: u64 = 3600;
/// Most receipts kept waiting for a Submit record written after them.
/// A carrier's receipt can overtake its own submit_sm_resp, so its Receipt
/// record can precede the Submit record by a few records (the gateway
/// writes the Submit when it answers the ESME); older ones are dropped.
const ORPHAN_WINDOW: usize = 65_536;
/// How long after a message's submit time another Submit record with its
/// gateway id (a segment or submit_multi destination) may still be
/// written: the gateway writes each at its carrier's answer, which comes
/// within the ESME's response timeout, far less than this.
const DUPLICATE_WINDOW_MS: u64 = 3_600_000;
/// The join's key map is purged when it holds more than this and twice
/// what the last purge left.
const PURGE_MIN: usize = 1 << 16;

/// A Receipt record read before its Submit record.
#[derive(Clone, Copy)]
struct Orphan {
    state: ReceiptState,
    time_ms: u64,
    error_code: u16,
    /// Its place in `Joiner::orphan_order`.
    seq: u64,
}

/// An account's retention, as the caller's configuration says at the time
/// of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Records expire this long after their submit time.
    pub keep: Duration,
    /// A legal hold: records are never expired.
    pub hold: bool,
}

impl Retention {
    /// Unix seconds at which a record submitted at `submit_time_ms` expires
    /// (ignoring the hold).
    pub fn expires_at_s(&self, submit_time_ms: u64) -> u64 {
        let ms = submit_time_ms.saturating_add(self.keep.as_millis().min(u64::MAX as u128) as u64);
        ms.div_ceil(1000)
    }

    /// Whether a record submitted at `submit_time_ms` has expired at `now_s`
    /// (ignoring the hold).
    pub fn expired(&self, submit_time_ms: u64, now_s: u64) -> bool {
        now_s >= self.expires_at_s(submit_time_ms)
    }
}

/// One logical CDR: a Submit record joined with its Receipt record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Account SID.
    pub account: Arc<str>,
    /// The gateway's message id.
    pub gateway_id: u64,
    /// 1-based segment index.
    pub segment: u8,
    /// Segment count.
    pub segments: u8,
    /// Unix ms when the ESME's submit came in.
    pub submit_time_ms: u64,
    /// Unix ms when the carrier answered (or the submit failed): the Submit
    /// record's `final_time_ms`.
    pub answer_time_ms: u64,
    /// Unix ms when the receipt came, if one did.
    pub receipt_time_ms: Option<u64>,
    /// The receipt time if any, else the answer time.
    pub final_time_ms: u64,
    /// Carrier name.
    pub carrier: Option<Arc<str>>,
    /// Matched route prefix.
    pub route_prefix: Option<Arc<str>>,
    /// Destination country calling code, 0 = unknown.
    pub country_code: u16,
    /// Alphabet class.
    pub data_coding: DataCodingClass,
    /// Filter verdict.
    pub verdict: Verdict,
    /// Filter rule ids that hit.
    pub rules: Vec<Arc<str>>,
    /// command_status answered to the ESME.
    pub submit_status: u32,
    /// The joined receipt state (see the [module docs](self)).
    pub receipt: ReceiptState,
    /// The receipt's error code if there is a receipt, else the Submit's.
    pub error_code: u16,
    /// Carrier latency in µs.
    pub carrier_latency_us: u32,
    /// Unix seconds after which no receipt was expected, 0 if none.
    pub receipt_by_s: u64,
    /// Pseudonym key id.
    pub key_id: u32,
    /// Source pseudonym.
    pub source: Option<[u8; 16]>,
    /// Destination pseudonym.
    pub dest: Option<[u8; 16]>,
    /// Unix seconds when the row expires under the account's retention.
    pub expires_at_s: u64,
    /// Whether the account is on hold (the row does not expire).
    pub held: bool,
}

/// Which rows a [`query`] matches; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Account SID.
    pub account: Option<String>,
    /// Submit time at or after this unix ms.
    pub from_ms: Option<u64>,
    /// Submit time at or before this unix ms.
    pub to_ms: Option<u64>,
    /// Carrier name.
    pub carrier: Option<String>,
    /// command_status answered to the ESME.
    pub status: Option<u32>,
    /// Joined receipt state.
    pub receipt: Option<ReceiptState>,
    /// Gateway message id.
    pub gateway_id: Option<u64>,
    /// Most rows returned (totals count all matches).
    pub limit: usize,
}

/// Counts over every row a query matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Distinct (account, gateway id) among the matched rows (segments
    /// sharing a gateway id count once when they are within the join
    /// window of each other).
    pub messages: u64,
    /// Matched rows (Submit records: one per segment).
    pub segments: u64,
    /// Rows by command_status answered to the ESME.
    pub by_submit_status: BTreeMap<u32, u64>,
    /// Rows by joined receipt state name.
    pub by_receipt: BTreeMap<&'static str, u64>,
    /// Rows by destination country calling code (0 = unknown).
    pub by_country: BTreeMap<u16, u64>,
    /// Rows by carrier name ("" = no carrier: blocked or failed early).
    pub by_carrier: BTreeMap<String, u64>,
}

/// What [`query`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryResult {
    /// The first `limit` matching rows, in submit record order.
    pub rows: Vec<Row>,
    /// Counts over all matching rows.
    pub totals: Totals,
    /// Bytes of torn partition tails skipped (a crash mid-write).
    pub torn: u64,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header row.
    Csv,
}

use crate::hash::Mix;

const NONE: u32 = u32::MAX;

/// Unix seconds of unix ms, as the join keeps them.
fn seconds(ms: u64) -> u32 {
    u32::try_from(ms / 1000).unwrap_or(u32::MAX)
}

/// Up to this many names, [`Names`] finds an id by comparing, not hashing.
const QUICK_NAMES: usize = 8;

/// Interns byte strings to small ids.
#[derive(Default)]
struct Names {
    ids: HashMap<Vec<u8>, u32, Mix>,
    names: Vec<Arc<str>>,
    /// The last id handed out or found: scans see long runs of one account
    /// and a handful of carriers.
    last: u32,
}

impl Names {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(id) = self.quick(s) {
            return id;
        }
        let id = match self.ids.get(s.as_bytes()) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as u32;
                self.ids.insert(s.as_bytes().to_vec(), id);
                self.names.push(Arc::from(s));
                id
            }
        };
        self.last = id;
        id
    }

    fn find(&self, s: &str) -> Option<u32> {
        self.quick(s)
            .or_else(|| self.ids.get(s.as_bytes()).copied())
    }

    /// The id without hashing: the last one, or any of a few names
    /// (carriers are a handful).
    fn quick(&self, s: &str) -> Option<u32> {
        if let Some(n) = self.names.get(self.last as usize) {
            if n.as_bytes() == s.as_bytes() {
                return Some(self.last);
            }
        }
        if self.names.len() <= QUICK_NAMES {
            return self
                .names
                .iter()
                .position(|n| n.as_bytes() == s.as_bytes())
                .map(|i| i as u32);
        }
        None
    }

    fn get(&self, id: u32) -> Option<&Arc<str>> {
        self.names.get(id as usize)
    }
}

/// The join's entry for one (account, gateway id).
#[derive(Clone, Copy)]
struct Latest {
    /// Sequence number of the latest candidate with the key.
    seq: u64,
    /// How many of the key's candidates still wait for a receipt they
    /// expect (an upper bound: one finished at its deadline is still
    /// counted).
    waiting: u32,
    /// The latest candidate's submit time, unix seconds.
    submit_s: u32,
}

/// A Submit waiting for its receipt.
struct Cand {
    account: u32,
    segment: u8,
    new_message: bool,
    status: u32,
    country: u16,
    carrier: u32,
    state: ReceiptState,
    deadline_s: u64,
    /// Previous candidate (sequence number) with the same key, or `u64::MAX`.
    prev_same: u64,
    resolved: bool,
    row: Option<Box<Row>>,
}

/// A finished candidate, handed to the sink.
struct Done {
    account: u32,
    new_message: bool,
    status: u32,
    country: u16,
    carrier: u32,
    state: ReceiptState,
    row: Option<Box<Row>>,
}

/// Which candidates carry a full row.
enum Attach {
    /// Every candidate (export).
    All,
    /// The first `n` candidates (no receipt filter: each is a row).
    FirstN(usize),
    /// While fewer than `n` rows were emitted (the receipt filter decides
    /// later which candidates are rows).
    WhileShort(usize),
}

/// Query filters other than the receipt state.
struct Filter<'q> {
    account: Option<&'q [u8]>,
    from_ms: u64,
    to_ms: u64,
    carrier: Option<&'q str>,
    status: Option<u32>,
    gateway_id: Option<u64>,
    receipt: Option<ReceiptState>,
}

struct Joiner<'r> {
    now_s: u64,
    retention: &'r dyn Fn(&str) -> Retention,
    retentions: HashMap<u32, Retention>,
    accounts: Names,
    carriers: Names,
    queue: VecDeque<Cand>,
    /// Sequence number of `queue[0]`.
    base: u64,
    /// The latest candidate per (account, gateway id); an entry below
    /// `base` is stale (that candidate is finished). See [`Joiner::purge`]
    /// for when entries go.
    pending: HashMap<(u32, u64), Latest, Mix>,
    /// `pending` is purged when it grows past this.
    purge_at: usize,
    /// The latest writer time seen (ms): the scan's clock.
    clock_ms: u64,
    attach: Attach,
    attached: usize,
    emitted_rows: usize,
    receipt_filter: Option<ReceiptState>,
    /// Receipts whose Submit record has not been read yet, by key.
    orphans: HashMap<(u32, u64), Orphan, Mix>,
    /// Orphan keys in arrival order, with their sequence numbers.
    orphan_order: VecDeque<((u32, u64), u64)>,
    orphan_seq: u64,
}

impl<'r> Joiner<'r> {
    fn new(
        now_s: u64,
        retention: &'r dyn Fn(&str) -> Retention,
        attach: Attach,
        receipt_filter: Option<ReceiptState>,
    ) -> Joiner<'r> {
        Joiner {
            now_s,
            retention,
            retentions: HashMap::new(),
            accounts: Names::default(),
            carriers: Names::default(),
            queue: VecDeque::new(),
            base: 0,
            pending: HashMap::with_capacity_and_hasher(1 << 16, Mix::default()),
            purge_at: PURGE_MIN,
            clock_ms: 0,
            attach,
            attached: 0,
            emitted_rows: 0,
            receipt_filter,
            orphans: HashMap::default(),
            orphan_order: VecDeque::new(),
            orphan_seq: 0,
        }
    }

    /// Drops the `pending` entries no record can still need: those of
    /// finished candidates, and those whose candidates (the latest and the
    /// earlier ones of its key) all have their receipts and were submitted
    /// more than [`DUPLICATE_WINDOW_MS`] before the scan's clock. Another
    /// Submit record of such a key (a segment or submit_multi destination
    /// sharing the gateway id) cannot be written that late, and a second
    /// receipt for it matches nothing either way. Without this, `pending`
    /// would hold every candidate in the window, most of them long
    /// answered, and each insert would miss the CPU caches.
    fn purge(&mut self) {
        let base = self.base;
        let horizon_s = seconds(self.clock_ms.saturating_sub(DUPLICATE_WINDOW_MS));
        self.pending
            .retain(|_, e| e.seq >= base && (e.waiting > 0 || e.submit_s > horizon_s));
        self.purge_at = (2 * self.pending.len()).max(PURGE_MIN);
    }

    /// Keeps a receipt whose Submit record may still come.
    fn park_orphan(&mut self, key: (u32, u64), v: &RecordView<'_>) {
        let seq = self.orphan_seq;
        self.orphan_seq += 1;
        self.orphans.insert(
            key,
            Orphan {
                state: v.receipt(),
                time_ms: v.final_time_ms(),
                error_code: v.error_code(),
                seq,
            },
        );
        self.orphan_order.push_back((key, seq));
        while self.orphan_order.len() > ORPHAN_WINDOW {
            if let Some((k, s)) = self.orphan_order.pop_front() {
                if self.orphans.get(&k).is_some_and(|o| o.seq == s) {
                    self.orphans.remove(&k);
                }
            }
        }
    }

    fn retention(&mut self, account: u32) -> Retention {
        if let Some(r) = self.retentions.get(&account) {
            return *r;
        }
        let name = self
            .accounts
            .get(account)
            .cloned()
            .unwrap_or_else(|| Arc::from(""));
        let r = (self.retention)(&name);
        self.retentions.insert(account, r);
        r
    }

    fn submit(
        &mut self,
        v: &RecordView<'_>,
        sink: &mut dyn FnMut(Done) -> io::Result<()>,
    ) -> io::Result<()> {
        let account = self.accounts.id(v.account());
        let carrier = v.carrier().map_or(NONE, |c| self.carriers.id(c));
        let state = if v.receipt() == ReceiptState::Pending && self.now_s > v.receipt_by_s() {
            ReceiptState::NoReceipt
        } else {
            v.receipt()
        };
        let key = (account, v.gateway_id());
        // Its receipt may have been written first.
        let orphan = if self.orphans.is_empty() {
            None
        } else {
            self.orphans.remove(&key)
        };
        let state = orphan.map_or(state, |o| o.state);
        let seq = self.base + self.queue.len() as u64;
        // Entries of candidates already finished are stale, not removed
        // one by one (that would cost a second hash probe per record);
        // they are purged in bulk below.
        // A Submit written expecting no receipt (not requested, or
        // refused) does not keep its key beyond the duplicate window. Its
        // own state, not the one derived from `now_s`: a receipt may still
        // be further on in the files.
        let mut latest = Latest {
            seq,
            waiting: u32::from(orphan.is_none() && v.receipt() == ReceiptState::Pending),
            submit_s: seconds(v.submit_time_ms()),
        };
        let prev = match self.pending.entry(key) {
            Entry::Occupied(mut e) => {
                let prev = *e.get();
                let live = prev.seq >= self.base;
                if live {
                    latest.waiting = latest.waiting.saturating_add(prev.waiting);
                }
                e.insert(latest);
                live.then_some(prev.seq)
            }
            Entry::Vacant(e) => {
                e.insert(latest);
                None
            }
        };
        let attach = match self.attach {
            Attach::All => true,
            Attach::FirstN(n) => self.attached < n,
            Attach::WhileShort(n) => self.emitted_rows < n,
        };
        let row = if attach {
            self.attached += 1;
            let ret = self.retention(account);
            let name = self
                .accounts
                .get(account)
                .cloned()
                .unwrap_or_else(|| Arc::from(""));
            let carrier_name = self.carriers.get(carrier).cloned();
            Some(Box::new(Row {
                account: name,
                gateway_id: v.gateway_id(),
                segment: v.segment(),
                segments: v.segments(),
                submit_time_ms: v.submit_time_ms(),
                answer_time_ms: v.final_time_ms(),
                receipt_time_ms: orphan.map(|o| o.time_ms),
                final_time_ms: orphan.map_or(v.final_time_ms(), |o| o.time_ms),
                carrier: carrier_name,
                route_prefix: v.route_prefix().map(Arc::from),
                country_code: v.country_code(),
                data_coding: v.data_coding(),
                verdict: v.verdict(),
                rules: v.rules().map(Arc::from).collect(),
                submit_status: v.submit_status(),
                receipt: state,
                error_code: orphan.map_or(v.error_code(), |o| o.error_code),
                carrier_latency_us: v.carrier_latency_us(),
                receipt_by_s: v.receipt_by_s(),
                key_id: v.key_id(),
                source: v.source().copied(),
                dest: v.dest().copied(),
                expires_at_s: ret.expires_at_s(v.submit_time_ms()),
                held: ret.hold,
            }))
        } else {
            None
        };
        let deadline_s = if v.receipt_by_s() > 0 {
            v.receipt_by_s()
        } else {
            v.final_time_ms() / 1000
        };
        self.queue.push_back(Cand {
            account,
            segment: v.segment(),
            new_message: prev.is_none(),
            status: v.submit_status(),
            country: v.country_code(),
            carrier,
            state,
            deadline_s,
            prev_same: prev.unwrap_or(u64::MAX),
            resolved: orphan.is_some(),
            row,
        });
        self.clock_ms = self.clock_ms.max(v.final_time_ms());
        if self.pending.len() > self.purge_at {
            self.purge();
        }
        while self.queue.len() > JOIN_WINDOW {
            self.pop(sink)?;
        }
        self.drain_resolved(sink)
    }

    fn receipt(
        &mut self,
        v: &RecordView<'_>,
        sink: &mut dyn FnMut(Done) -> io::Result<()>,
    ) -> io::Result<()> {
        let Some(account) = self.accounts.find(v.account()) else {
            let key = (self.accounts.id(v.account()), v.gateway_id());
            self.park_orphan(key, v);
            return Ok(());
        };
        let Some(entry) = self.pending.get_mut(&(account, v.gateway_id())) else {
            self.park_orphan((account, v.gateway_id()), v);
            return Ok(());
        };
        let latest = entry.seq;
        // Segments sharing a gateway id: the one with the receipt's segment
        // number; if none waits, every waiting one.
        let mut matched = false;
        for exact in [true, false] {
            let mut seq = latest;
            while seq != u64::MAX && seq >= self.base {
                let idx = (seq - self.base) as usize;
                let c = &mut self.queue[idx];
                if !c.resolved && (!exact || c.segment == v.segment()) {
                    c.resolved = true;
                    entry.waiting = entry.waiting.saturating_sub(1);
                    c.state = v.receipt();
                    if let Some(row) = &mut c.row {
                        row.receipt = v.receipt();
                        row.receipt_time_ms = Some(v.final_time_ms());
                        row.final_time_ms = v.final_time_ms();
                        row.error_code = v.error_code();
                    }
                    matched = true;
                    if exact {
                        break;
                    }
                }
                seq = c.prev_same;
            }
            if matched {
                break;
            }
        }
        self.drain_resolved(sink)
    }

    /// Finishes candidates whose deadline is well before `hour_s`.
    fn advance_to(
        &mut self,
        hour_s: u64,
        sink: &mut dyn FnMut(Done) -> io::Result<()>,
    ) -> io::Result<()> {
        while let Some(c) = self.queue.front() {
            if c.resolved || c.deadline_s.saturating_add(JOIN_SLACK_S) < hour_s {
                self.pop(sink)?;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn drain_resolved(&mut self, sink: &mut dyn FnMut(Done) -> io::Result<()>) -> io::Result<()> {
        while self.queue.front().is_some_and(|c| c.resolved) {
            self.pop(sink)?;
        }
        Ok(())
    }

    fn finish(&mut self, sink: &mut dyn FnMut(Done) -> io::Result<()>) -> io::Result<()> {
        while !self.queue.is_empty() {
            self.pop(sink)?;
        }
        Ok(())
    }

    fn pop(&mut self, sink: &mut dyn FnMut(Done) -> io::Result<()>) -> io::Result<()> {
        let Some(c) = self.queue.pop_front() else {
            return Ok(());
        };
        self.base += 1;
        if self.receipt_filter.is_some_and(|r| r != c.state) {
            return Ok(());
        }
        if c.row.is_some() {
            self.emitted_rows += 1;
        }
        sink(Done {
            account: c.account,
            new_message: c.new_message,
            status: c.status,
            country: c.country,
            carrier: c.carrier,
            state: c.state,
            row: c.row,
        })
    }
}

/// Scans the directory, feeding matching rows to `sink`. Returns torn bytes.
fn scan(
    dir: &Path,
    filter: &Filter<'_>,
    joiner: &mut Joiner<'_>,
    sink: &mut dyn FnMut(Done) -> io::Result<()>,
) -> io::Result<u64> {
    let parts = partitions(dir)?;
    if parts.is_empty() {
        return Ok(0);
    }
    let lock = DirLock::open(dir)?;
    let mut torn = 0;
    for part in &parts {
        joiner.advance_to(part.hour_s, sink)?;
        let wanted = |payload: &[u8]| filter.account.is_none_or(|a| is_account(payload, a));
        let out = read_partition_where(&lock, &part.path, wanted, |payload| {
            let Some(kind) = peek_kind(payload) else {
                return Ok(());
            };
            // A checksummed payload that does not decode was written by a
            // buggy or newer writer; skip it rather than fail the scan.
            let Ok(v) = RecordView::parse(payload) else {
                return Ok(());
            };
            if filter.gateway_id.is_some_and(|g| g != v.gateway_id()) {
                return Ok(());
            }
            let t = v.submit_time_ms();
            if t < filter.from_ms || t > filter.to_ms {
                return Ok(());
            }
            match kind {
                RecordKind::Submit => {
                    if filter.status.is_some_and(|s| s != v.submit_status()) {
                        return Ok(());
                    }
                    if filter.carrier.is_some() && filter.carrier != v.carrier() {
                        return Ok(());
                    }
                    joiner.submit(&v, sink)
                }
                RecordKind::Receipt => joiner.receipt(&v, sink),
            }
        })?;
        torn += out.torn_bytes;
    }
    joiner.finish(sink)?;
    Ok(torn)
}

/// Rows and totals matching `q`; see the [module docs](self) for the join.
/// `now_s` decides which pending receipts count as never coming;
/// `retention` gives each account's retention (for `expires_at_s`). Safe
/// while a writer appends to the directory.
pub fn query(
    dir: &Path,
    q: &Query,
    now_s: u64,
    retention: &dyn Fn(&str) -> Retention,
) -> io::Result<QueryResult> {
    let filter = Filter {
        account: q.account.as_deref().map(str::as_bytes),
        from_ms: q.from_ms.unwrap_or(0),
        to_ms: q.to_ms.unwrap_or(u64::MAX),
        carrier: q.carrier.as_deref(),
        status: q.status,
        gateway_id: q.gateway_id,
        receipt: q.receipt,
    };
    let attach = if q.receipt.is_some() {
        Attach::WhileShort(q.limit)
    } else {
        Attach::FirstN(q.limit)
    };
    let mut joiner = Joiner::new(now_s, retention, attach, filter.receipt);
    let mut result = QueryResult::default();
    // Counted in flat tables while scanning, turned into maps at the end.
    let mut segments = 0u64;
    let mut messages = 0u64;
    let mut by_status: HashMap<u32, u64, Mix> = HashMap::default();
    let mut by_receipt = [0u64; 16];
    let mut by_country = vec![0u64; usize::from(u16::MAX) + 1];
    let mut by_carrier: Vec<u64> = Vec::new();
    let mut no_carrier = 0u64;
    let rows = &mut result.rows;
    let limit = q.limit;
    let mut sink = |d: Done| -> io::Result<()> {
        segments += 1;
        messages += u64::from(d.new_message);
        *by_status.entry(d.status).or_default() += 1;
        by_receipt[d.state as usize] += 1;
        by_country[usize::from(d.country)] += 1;
        if d.carrier == NONE {
            no_carrier += 1;
        } else {
            let i = d.carrier as usize;
            if by_carrier.len() <= i {
                by_carrier.resize(i + 1, 0);
            }
            by_carrier[i] += 1;
        }
        if let Some(row) = d.row {
            if rows.len() < limit {
                rows.push(*row);
            }
        }
        let _ = d.account;
        Ok(())
    };
    result.torn = scan(dir, &filter, &mut joiner, &mut sink)?;
    let t = &mut result.totals;
    t.segments = segments;
    t.messages = messages;
    t.by_submit_status = by_status.into_iter().collect();
    for state in ReceiptState::ALL {
        let n = by_receipt[*state as usize];
        if n > 0 {
            t.by_receipt.insert(state.as_str(), n);
        }
    }
    for (cc, &n) in by_country.iter().enumerate() {
        if n > 0 {
            t.by_country.insert(cc as u16, n);
        }
    }
    if no_carrier > 0 {
        t.by_carrier.insert(String::new(), no_carrier);
    }
    for (id, &n) in by_carrier.iter().enumerate() {
        if n > 0 {
            let name = joiner.carriers.get(id as u32).map(|s| s.to_string());
            *t.by_carrier.entry(name.unwrap_or_default()).or_default() += n;
        }
    }
    Ok(result)
}

/// The export's field names, in order: the CSV header and the JSON keys.
///
/// `gateway_id` is the 16 lowercase hex digits the ESME saw; `*_time_ms`
/// are unix ms and `*_time` the same as RFC 3339 UTC; `receipt_time*` are
/// empty (CSV) / null (JSON) without a receipt; `carrier` and
/// `route_prefix` are null (JSON) / an empty unquoted field (CSV) when
/// absent, and `""` (a quoted empty field) when present but empty;
/// enums use their names ([`ReceiptState::as_str`] etc.); `rules` is an
/// array (JSON) or joined by `;` (CSV); `key_id` is 8 hex digits; `source`
/// and `dest` are 32 hex digits or empty/null.
pub const EXPORT_FIELDS: &[&str] = &[
    "account",
    "gateway_id",
    "segment",
    "segments",
    "submit_time_ms",
    "submit_time",
    "answer_time_ms",
    "answer_time",
    "receipt_time_ms",
    "receipt_time",
    "final_time_ms",
    "final_time",
    "carrier",
    "route_prefix",
    "country_code",
    "data_coding",
    "verdict",
    "rules",
    "submit_status",
    "receipt",
    "error_code",
    "carrier_latency_us",
    "receipt_by_s",
    "key_id",
    "source",
    "dest",
    "expires_at_s",
    "held",
];

/// One exported row as JSON (field names as in [`EXPORT_FIELDS`]).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRow {
    account: String,
    gateway_id: String,
    segment: u8,
    segments: u8,
    submit_time_ms: u64,
    submit_time: String,
    answer_time_ms: u64,
    answer_time: String,
    receipt_time_ms: Option<u64>,
    receipt_time: Option<String>,
    final_time_ms: u64,
    final_time: String,
    carrier: Option<String>,
    route_prefix: Option<String>,
    country_code: u16,
    data_coding: String,
    verdict: String,
    rules: Vec<String>,
    submit_status: u32,
    receipt: String,
    error_code: u16,
    carrier_latency_us: u32,
    receipt_by_s: u64,
    key_id: String,
    source: Option<String>,
    dest: Option<String>,
    expires_at_s: u64,
    held: bool,
}

impl JsonRow {
    fn from_row(r: &Row) -> JsonRow {
        JsonRow {
            account: r.account.to_string(),
            gateway_id: format!("{:016x}", r.gateway_id),
            segment: r.segment,
            segments: r.segments,
            submit_time_ms: r.submit_time_ms,
            submit_time: rfc3339(r.submit_time_ms),
            answer_time_ms: r.answer_time_ms,
            answer_time: rfc3339(r.answer_time_ms),
            receipt_time_ms: r.receipt_time_ms,
            receipt_time: r.receipt_time_ms.map(rfc3339),
            final_time_ms: r.final_time_ms,
            final_time: rfc3339(r.final_time_ms),
            carrier: r.carrier.as_deref().map(str::to_owned),
            route_prefix: r.route_prefix.as_deref().map(str::to_owned),
            country_code: r.country_code,
            data_coding: r.data_coding.as_str().to_owned(),
            verdict: r.verdict.as_str().to_owned(),
            rules: r.rules.iter().map(|s| s.to_string()).collect(),
            submit_status: r.submit_status,
            receipt: r.receipt.as_str().to_owned(),
            error_code: r.error_code,
            carrier_latency_us: r.carrier_latency_us,
            receipt_by_s: r.receipt_by_s,
            key_id: format!("{:08x}", r.key_id),
            source: r.source.as_ref().map(hex16),
            dest: r.dest.as_ref().map(hex16),
            expires_at_s: r.expires_at_s,
            held: r.held,
        }
    }

    fn into_row(self) -> io::Result<Row> {
        Ok(Row {
            account: Arc::from(self.account),
            gateway_id: parse_gateway_id(&self.gateway_id)?,
            segment: self.segment,
            segments: self.segments,
            submit_time_ms: self.submit_time_ms,
            answer_time_ms: self.answer_time_ms,
            receipt_time_ms: self.receipt_time_ms,
            final_time_ms: self.final_time_ms,
            carrier: self.carrier.map(Arc::from),
            route_prefix: self.route_prefix.map(Arc::from),
            country_code: self.country_code,
            data_coding: parse_name(DataCodingClass::from_name, &self.data_coding, "data_coding")?,
            verdict: parse_name(Verdict::from_name, &self.verdict, "verdict")?,
            rules: self.rules.into_iter().map(Arc::from).collect(),
            submit_status: self.submit_status,
            receipt: parse_name(ReceiptState::from_name, &self.receipt, "receipt")?,
            error_code: self.error_code,
            carrier_latency_us: self.carrier_latency_us,
            receipt_by_s: self.receipt_by_s,
            key_id: parse_key_id(&self.key_id)?,
            source: self.source.as_deref().map(parse_pseudonym).transpose()?,
            dest: self.dest.as_deref().map(parse_pseudonym).transpose()?,
            expires_at_s: self.expires_at_s,
            held: self.held,
        })
    }
}

/// A row as the JSON object of a JSON-lines export.
pub fn row_json(r: &Row) -> serde_json::Value {
    serde_json::to_value(JsonRow::from_row(r)).unwrap_or_default()
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad export field: {what}"),
    )
}

fn parse_name<T>(f: fn(&str) -> Option<T>, s: &str, what: &str) -> io::Result<T> {
    f(s).ok_or_else(|| bad(what))
}

fn parse_gateway_id(s: &str) -> io::Result<u64> {
    u64::from_str_radix(s, 16).map_err(|_| bad("gateway_id"))
}

fn parse_key_id(s: &str) -> io::Result<u32> {
    u32::from_str_radix(s, 16).map_err(|_| bad("key_id"))
}

fn parse_pseudonym(s: &str) -> io::Result<[u8; 16]> {
    parse_hex16(s).ok_or_else(|| bad("pseudonym"))
}

/// A CSV field: quoted when it holds a comma, quote, CR or LF, or when it
/// is an empty string that must read back as present.
fn csv_field(out: &mut String, s: &str, quote_empty: bool) {
    if s.contains([',', '"', '\n', '\r']) || (s.is_empty() && quote_empty) {
        out.push('"');
        for c in s.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn csv_row(r: &Row) -> String {
    let mut line = String::with_capacity(512);
    let opt = |o: Option<u64>| o.map(|v| v.to_string()).unwrap_or_default();
    let fields: [(String, bool); 28] = [
        (r.account.to_string(), false),
        (format!("{:016x}", r.gateway_id), false),
        (r.segment.to_string(), false),
        (r.segments.to_string(), false),
        (r.submit_time_ms.to_string(), false),
        (rfc3339(r.submit_time_ms), false),
        (r.answer_time_ms.to_string(), false),
        (rfc3339(r.answer_time_ms), false),
        (opt(r.receipt_time_ms), false),
        (r.receipt_time_ms.map(rfc3339).unwrap_or_default(), false),
        (r.final_time_ms.to_string(), false),
        (rfc3339(r.final_time_ms), false),
        (
            r.carrier.as_deref().unwrap_or_default().to_owned(),
            r.carrier.is_some(),
        ),
        (
            r.route_prefix.as_deref().unwrap_or_default().to_owned(),
            r.route_prefix.is_some(),
        ),
        (r.country_code.to_string(), false),
        (r.data_coding.as_str().to_owned(), false),
        (r.verdict.as_str().to_owned(), false),
        (r.rules.join(";"), false),
        (r.submit_status.to_string(), false),
        (r.receipt.as_str().to_owned(), false),
        (r.error_code.to_string(), false),
        (r.carrier_latency_us.to_string(), false),
        (r.receipt_by_s.to_string(), false),
        (format!("{:08x}", r.key_id), false),
        (r.source.as_ref().map(hex16).unwrap_or_default(), false),
        (r.dest.as_ref().map(hex16).unwrap_or_default(), false),
        (r.expires_at_s.to_string(), false),
        (r.held.to_string(), false),
    ];
    for (i, (s, quote_empty)) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        csv_field(&mut line, s, *quote_empty);
    }
    line.push_str("\r\n");
    line
}

/// Writes every row of `account` (submit time within the bounds, both
/// inclusive) to `out` as JSON lines or CSV (a header row of
/// [`EXPORT_FIELDS`], CRLF line ends, RFC 4180 quoting). Returns the
/// number of rows. Safe while a writer appends to the directory.
#[allow(clippy::too_many_arguments)]
pub fn export(
    dir: &Path,
    account: &str,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    format: ExportFormat,
    now_s: u64,
    retention: &dyn Fn(&str) -> Retention,
    out: &mut dyn Write,
) -> io::Result<u64> {
    let filter = Filter {
        account: Some(account.as_bytes()),
        from_ms: from_ms.unwrap_or(0),
        to_ms: to_ms.unwrap_or(u64::MAX),
        carrier: None,
        status: None,
        gateway_id: None,
        receipt: None,
    };
    if format == ExportFormat::Csv {
        out.write_all(EXPORT_FIELDS.join(",").as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    let mut joiner = Joiner::new(now_s, retention, Attach::All, None);
    let mut n = 0u64;
    let mut sink = |d: Done| -> io::Result<()> {
        let Some(row) = d.row else { return Ok(()) };
        match format {
            ExportFormat::Jsonl => {
                serde_json::to_writer(&mut *out, &JsonRow::from_row(&row))?;
                out.write_all(b"\n")?;
            }
            ExportFormat::Csv => out.write_all(csv_row(&row).as_bytes())?,
        }
        n += 1;
        Ok(())
    };
    scan(dir, &filter, &mut joiner, &mut sink)?;
    out.flush()?;
    Ok(n)
}

/// Reads one CSV record (which may span lines inside quotes): each field
/// with whether it was quoted. `None` at end of input.
fn read_csv_record(input: &mut dyn BufRead) -> io::Result<Option<Vec<(String, bool)>>> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    loop {
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if in_quotes {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        cur.push('"');
                    } else {
                        in_quotes = false;
                    }
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    '"' if cur.is_empty() && !quoted => {
                        quoted = true;
                        in_quotes = true;
                    }
                    ',' => {
                        fields.push((std::mem::take(&mut cur), quoted));
                        quoted = false;
                    }
                    '\r' | '\n' => {}
                    c => cur.push(c),
                }
            }
        }
        if !in_quotes {
            break;
        }
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Err(bad("unterminated quoted CSV field"));
        }
    }
    fields.push((cur, quoted));
    Ok(Some(fields))
}

fn csv_to_row(f: &[(String, bool)]) -> io::Result<Row> {
    let num = |i: usize, what: &str| -> io::Result<u64> { f[i].0.parse().map_err(|_| bad(what)) };
    let opt_num = |i: usize, what: &str| -> io::Result<Option<u64>> {
        if f[i].0.is_empty() {
            Ok(None)
        } else {
            num(i, what).map(Some)
        }
    };
    let opt_str = |i: usize| -> Option<Arc<str>> {
        (!f[i].0.is_empty() || f[i].1).then(|| Arc::from(f[i].0.as_str()))
    };
    let opt_pseudonym = |i: usize| -> io::Result<Option<[u8; 16]>> {
        if f[i].0.is_empty() {
            Ok(None)
        } else {
            parse_pseudonym(&f[i].0).map(Some)
        }
    };
    let small = |i: usize, what: &str, max: u64| -> io::Result<u64> {
        let v = num(i, what)?;
        if v > max {
            return Err(bad(what));
        }
        Ok(v)
    };
    Ok(Row {
        account: Arc::from(f[0].0.as_str()),
        gateway_id: parse_gateway_id(&f[1].0)?,
        segment: small(2, "segment", 255)? as u8,
        segments: small(3, "segments", 255)? as u8,
        submit_time_ms: num(4, "submit_time_ms")?,
        answer_time_ms: num(6, "answer_time_ms")?,
        receipt_time_ms: opt_num(8, "receipt_time_ms")?,
        final_time_ms: num(10, "final_time_ms")?,
        carrier: opt_str(12),
        route_prefix: opt_str(13),
        country_code: small(14, "country_code", u16::MAX.into())? as u16,
        data_coding: parse_name(DataCodingClass::from_name, &f[15].0, "data_coding")?,
        verdict: parse_name(Verdict::from_name, &f[16].0, "verdict")?,
        rules: if f[17].0.is_empty() {
            Vec::new()
        } else {
            f[17].0.split(';').map(Arc::from).collect()
        },
        submit_status: small(18, "submit_status", u32::MAX.into())? as u32,
        receipt: parse_name(ReceiptState::from_name, &f[19].0, "receipt")?,
        error_code: small(20, "error_code", u16::MAX.into())? as u16,
        carrier_latency_us: small(21, "carrier_latency_us", u32::MAX.into())? as u32,
        receipt_by_s: num(22, "receipt_by_s")?,
        key_id: parse_key_id(&f[23].0)?,
        source: opt_pseudonym(24)?,
        dest: opt_pseudonym(25)?,
        expires_at_s: num(26, "expires_at_s")?,
        held: match f[27].0.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(bad("held")),
        },
    })
}

/// Reads an export back into rows (for tests and tooling). The RFC 3339
/// columns are ignored; the unix ms columns are authoritative.
pub fn parse_export(format: ExportFormat, input: &mut dyn BufRead) -> io::Result<Vec<Row>> {
    let mut rows = Vec::new();
    match format {
        ExportFormat::Jsonl => {
            let mut line = String::new();
            loop {
                line.clear();
                if input.read_line(&mut line)? == 0 {
                    break;
                }
                if line.trim().is_empty() {
                    continue;
                }
                let j: JsonRow = serde_json::from_str(&line)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                rows.push(j.into_row()?);
            }
        }
        ExportFormat::Csv => {
            let Some(header) = read_csv_record(input)? else {
                return Ok(rows);
            };
            let names: Vec<&str> = header.iter().map(|(s, _)| s.as_str()).collect();
            if names != EXPORT_FIELDS {
                return Err(bad("unexpected CSV header"));
            }
            while let Some(fields) = read_csv_record(input)? {
                if fields.len() == 1 && fields[0].0.is_empty() && !fields[0].1 {
                    continue;
                }
                if fields.len() != EXPORT_FIELDS.len() {
                    return Err(bad("wrong number of CSV fields"));
                }
                rows.push(csv_to_row(&fields)?);
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cdr::record::Record;
    use crate::cdr::store::FileBackend;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    pub(crate) const T0: u64 = 1_700_000_000_000;
    const HOUR: u64 = 3_600_000;

    pub(crate) fn submit(account: &str, gateway_id: u64, t: u64) -> Record {
        Record {
            kind: RecordKind::Submit,
            submit_time_ms: t,
            final_time_ms: t + 40,
            account: Arc::from(account),
            gateway_id,
            carrier: Some(Arc::from("carrier-a")),
            route_prefix: Some(Arc::from("4477")),
            country_code: 44,
            segment: 1,
            segments: 1,
            data_coding: DataCodingClass::Gsm7,
            verdict: Verdict::Allow,
            rules: Vec::new(),
            submit_status: 0,
            receipt: ReceiptState::Pending,
            error_code: 0,
            carrier_latency_us: 1200,
            receipt_by_s: t / 1000 + 48 * 3600,
            key_id: 0x0102_0304,
            source: None,
            dest: None,
        }
    }

    pub(crate) fn receipt_for(s: &Record, state: ReceiptState, t: u64) -> Record {
        Record {
            kind: RecordKind::Receipt,
            final_time_ms: t,
            receipt: state,
            error_code: if state == ReceiptState::Delivered {
                0
            } else {
                34
            },
            receipt_by_s: 0,
            ..s.clone()
        }
    }

    /// Appends `(write time, record)` events in time order, batching those
    /// of one hour.
    pub(crate) fn write_events(dir: &Path, mut events: Vec<(u64, Record)>) {
        events.sort_by_key(|e| e.0);
        let mut b = FileBackend::open(dir).unwrap();
        let mut i = 0;
        while i < events.len() {
            let hour = events[i].0 / HOUR;
            let mut j = i;
            while j < events.len() && events[j].0 / HOUR == hour && j - i < 50 {
                j += 1;
            }
            let batch: Vec<Record> = events[i..j].iter().map(|e| e.1.clone()).collect();
            b.append_at(&batch, events[j - 1].0).unwrap();
            i = j;
        }
    }

    fn retention(account: &str) -> Retention {
        Retention {
            keep: Duration::from_secs(if account == "beta" {
                86_400
            } else {
                30 * 86_400
            }),
            hold: account == "gamma",
        }
    }

    struct Dataset {
        /// Submit records in write order, with their receipt if any.
        submits: Vec<(Record, Option<Record>)>,
        events: Vec<(u64, Record)>,
    }

    fn dataset(seed: u64, n: usize) -> Dataset {
        let mut rng = StdRng::seed_from_u64(seed);
        let accounts = ["acme", "beta", "gamma"];
        let carriers = ["carrier-a", "carrier-b", "car,\"q\"\nx"];
        let states = [
            ReceiptState::Delivered,
            ReceiptState::Undeliverable,
            ReceiptState::Expired,
            ReceiptState::Rejected,
        ];
        let mut submits = Vec::new();
        let mut events = Vec::new();
        let mut t = T0;
        for gid in 0..n as u64 {
            t += rng.gen_range(0..HOUR / 20);
            let mut s = submit(accounts[rng.gen_range(0..3)], 1000 + gid, t);
            s.carrier = match rng.gen_range(0..4) {
                3 => None,
                k => Some(Arc::from(carriers[k])),
            };
            s.route_prefix = match rng.gen_range(0..3) {
                0 => None,
                1 => Some(Arc::from("")),
                _ => Some(Arc::from("4420")),
            };
            s.country_code = [0, 1, 44, 33][rng.gen_range(0..4)];
            s.submit_status = [0, 0, 0, 0x58, 0x45][rng.gen_range(0..5)];
            s.source = rng.gen_bool(0.5).then(|| rng.gen());
            s.dest = rng.gen_bool(0.5).then(|| rng.gen());
            if rng.gen_bool(0.2) {
                s.rules = vec![Arc::from("url-short"), Arc::from("kw-1")];
                s.verdict = Verdict::Flag;
            }
            let mut rcpt = None;
            match rng.gen_range(0..4) {
                0 => {
                    s.receipt = ReceiptState::NotRequested;
                    s.receipt_by_s = 0;
                }
                1 => {
                    // Pending, no receipt ever: past its deadline at "now"
                    // for some, not for others.
                    s.receipt_by_s = t / 1000 + rng.gen_range(1..20) * 3600;
                }
                _ => {
                    let rt = t + rng.gen_range(1_000..5 * HOUR);
                    let r = receipt_for(&s, states[rng.gen_range(0..4)], rt);
                    events.push((rt, r.clone()));
                    rcpt = Some(r);
                }
            }
            events.push((s.final_time_ms, s.clone()));
            submits.push((s, rcpt));
        }
        // Written in order of the writer's clock, as the gateway would.
        submits.sort_by_key(|(s, _)| s.final_time_ms);
        Dataset { submits, events }
    }

    fn model_row(s: &Record, r: Option<&Record>, now_s: u64) -> Row {
        let ret = retention(&s.account);
        let state = match r {
            Some(r) => r.receipt,
            None if s.receipt == ReceiptState::Pending && now_s > s.receipt_by_s => {
                ReceiptState::NoReceipt
            }
            None => s.receipt,
        };
        Row {
            account: s.account.clone(),
            gateway_id: s.gateway_id,
            segment: s.segment,
            segments: s.segments,
            submit_time_ms: s.submit_time_ms,
            answer_time_ms: s.final_time_ms,
            receipt_time_ms: r.map(|r| r.final_time_ms),
            final_time_ms: r.map_or(s.final_time_ms, |r| r.final_time_ms),
            carrier: s.carrier.clone(),
            route_prefix: s.route_prefix.clone(),
            country_code: s.country_code,
            data_coding: s.data_coding,
            verdict: s.verdict,
            rules: s.rules.clone(),
            submit_status: s.submit_status,
            receipt: state,
            error_code: r.map_or(s.error_code, |r| r.error_code),
            carrier_latency_us: s.carrier_latency_us,
            receipt_by_s: s.receipt_by_s,
            key_id: s.key_id,
            source: s.source,
            dest: s.dest,
            expires_at_s: ret.expires_at_s(s.submit_time_ms),
            held: ret.hold,
        }
    }

    fn model(d: &Dataset, q: &Query, now_s: u64) -> QueryResult {
        let mut res = QueryResult::default();
        let mut seen = std::collections::HashSet::new();
        for (s, r) in &d.submits {
            let row = model_row(s, r.as_ref(), now_s);
            let ok = q.account.as_deref().is_none_or(|a| a == &*row.account)
                && q.from_ms.is_none_or(|f| row.submit_time_ms >= f)
                && q.to_ms.is_none_or(|t| row.submit_time_ms <= t)
                && q.carrier
                    .as_deref()
                    .is_none_or(|c| Some(c) == row.carrier.as_deref())
                && q.status.is_none_or(|st| st == row.submit_status)
                && q.receipt.is_none_or(|st| st == row.receipt)
                && q.gateway_id.is_none_or(|g| g == row.gateway_id);
            if !ok {
                continue;
            }
            let t = &mut res.totals;
            t.segments += 1;
            t.messages += u64::from(seen.insert((row.account.clone(), row.gateway_id)));
            *t.by_submit_status.entry(row.submit_status).or_default() += 1;
            *t.by_receipt.entry(row.receipt.as_str()).or_default() += 1;
            *t.by_country.entry(row.country_code).or_default() += 1;
            *t.by_carrier
                .entry(row.carrier.as_deref().unwrap_or("").to_owned())
                .or_default() += 1;
            if res.rows.len() < q.limit {
                res.rows.push(row);
            }
        }
        res
    }

    #[test]
    fn query_matches_a_model() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dataset(20, 3000);
        write_events(tmp.path(), d.events.clone());
        assert!(crate::cdr::store::partitions(tmp.path()).unwrap().len() > 50);
        let now_s = (T0 + 60 * HOUR) / 1000;
        let mid = d.submits[1500].0.submit_time_ms;
        let queries = [
            Query {
                limit: 10_000,
                ..Query::default()
            },
            Query {
                account: Some("acme".into()),
                limit: 25,
                ..Query::default()
            },
            Query {
                account: Some("beta".into()),
                from_ms: Some(mid),
                to_ms: Some(mid + 20 * HOUR),
                limit: 100,
                ..Query::default()
            },
            Query {
                carrier: Some("carrier-b".into()),
                status: Some(0),
                limit: 7,
                ..Query::default()
            },
            Query {
                receipt: Some(ReceiptState::NoReceipt),
                limit: 30,
                ..Query::default()
            },
            Query {
                account: Some("gamma".into()),
                receipt: Some(ReceiptState::Delivered),
                limit: 1_000,
                ..Query::default()
            },
            Query {
                receipt: Some(ReceiptState::Pending),
                limit: 1_000,
                ..Query::default()
            },
            Query {
                gateway_id: Some(d.submits[77].0.gateway_id),
                limit: 5,
                ..Query::default()
            },
            Query {
                account: Some("nobody".into()),
                limit: 5,
                ..Query::default()
            },
        ];
        for q in &queries {
            let got = query(tmp.path(), q, now_s, &retention).unwrap();
            let want = model(&d, q, now_s);
            assert_eq!(got.totals, want.totals, "{q:?}");
            assert_eq!(got.rows, want.rows, "{q:?}");
            assert_eq!(got.torn, 0);
        }
        // Sanity: the dataset exercises every join outcome.
        let all = model(&d, &queries[0], now_s).totals.by_receipt;
        for s in [
            "no_receipt",
            "pending",
            "not_requested",
            "delivered",
            "rejected",
        ] {
            assert!(all.get(s).copied().unwrap_or(0) > 0, "{s}: {all:?}");
        }
    }

    #[test]
    fn segments_sharing_a_gateway_id_count_as_one_message() {
        let tmp = tempfile::tempdir().unwrap();
        let mut events = Vec::new();
        for seg in 1..=3u8 {
            let mut s = submit("acme", 42, T0);
            s.segment = seg;
            s.segments = 3;
            events.push((T0 + u64::from(seg), s.clone()));
            let mut r = receipt_for(&s, ReceiptState::Delivered, T0 + 10_000);
            if seg == 2 {
                r.receipt = ReceiptState::Undeliverable;
            }
            events.push((T0 + 10_000 + u64::from(seg), r));
        }
        write_events(tmp.path(), events);
        let q = Query {
            limit: 10,
            ..Query::default()
        };
        let res = query(tmp.path(), &q, T0 / 1000, &retention).unwrap();
        assert_eq!(res.totals.messages, 1);
        assert_eq!(res.totals.segments, 3);
        let states: Vec<_> = res.rows.iter().map(|r| (r.segment, r.receipt)).collect();
        assert_eq!(
            states,
            [
                (1, ReceiptState::Delivered),
                (2, ReceiptState::Undeliverable),
                (3, ReceiptState::Delivered)
            ]
        );
    }

    #[test]
    fn a_receipt_written_before_its_submit_still_joins() {
        // The carrier's receipt overtook its submit_sm_resp: the Receipt
        // record was written a moment before the Submit record.
        let tmp = tempfile::tempdir().unwrap();
        let s = submit("acme", 7, T0);
        let r = receipt_for(&s, ReceiptState::Delivered, T0 + 1);
        let other = submit("acme", 8, T0 + 2);
        write_events(tmp.path(), vec![(T0 + 1, r), (T0 + 2, s), (T0 + 3, other)]);
        for account in [None, Some("acme".to_owned())] {
            let res = query(
                tmp.path(),
                &Query {
                    account: account.clone(),
                    limit: 10,
                    ..Query::default()
                },
                T0 / 1000,
                &retention,
            )
            .unwrap();
            assert_eq!(res.rows.len(), 2, "{account:?}");
            assert_eq!(res.rows[0].gateway_id, 7);
            assert_eq!(res.rows[0].receipt, ReceiptState::Delivered);
            assert_eq!(res.rows[0].receipt_time_ms, Some(T0 + 1));
            assert_ne!(res.rows[1].receipt, ReceiptState::Delivered);
            assert_eq!(res.totals.by_receipt.get("delivered"), Some(&1));
        }
    }

    #[test]
    fn the_key_map_forgets_answered_messages_but_not_waiting_ones() {
        // One message waits for its receipt for hours while 3 × PURGE_MIN
        // others over 6 hours are answered at once; a two-segment message has its
        // second Submit record written half an hour after the first.
        let tmp = tempfile::tempdir().unwrap();
        let filler = 3 * PURGE_MIN as u64;
        let step = 6 * HOUR / filler;
        let waiting = submit("acme", 1, T0);
        let mut events = vec![(T0, waiting.clone())];
        let mut seg1 = submit("acme", 2, T0 + 1000);
        seg1.segments = 2;
        let mut seg2 = seg1.clone();
        seg2.segment = 2;
        events.push((T0 + 1000, seg1.clone()));
        let mut seg2_written = false;
        for i in 0..filler {
            let t = T0 + 2000 + i * step;
            let s = submit("acme", 10 + i, t);
            events.push((t + 41, receipt_for(&s, ReceiptState::Delivered, t + 41)));
            events.push((t, s));
            if t > T0 + HOUR / 2 && !seg2_written {
                seg2.final_time_ms = t;
                events.push((t, seg2.clone()));
                seg2_written = true;
            }
        }
        let end = T0 + 7 * HOUR;
        events.push((end, receipt_for(&waiting, ReceiptState::Delivered, end)));
        write_events(tmp.path(), events);

        let filter = Filter {
            account: None,
            from_ms: 0,
            to_ms: u64::MAX,
            carrier: None,
            status: None,
            gateway_id: None,
            receipt: None,
        };
        let keep = retention;
        // "Now" is past the waiting message's receipt_by: its receipt,
        // further on in the files, must still join.
        let now_s = waiting.receipt_by_s + 3600;
        let mut joiner = Joiner::new(now_s, &keep, Attach::FirstN(2), None);
        let mut delivered = 0u64;
        let mut segments = 0u64;
        let mut messages = 0u64;
        let mut rows = Vec::new();
        scan(tmp.path(), &filter, &mut joiner, &mut |d: Done| {
            segments += 1;
            messages += u64::from(d.new_message);
            delivered += u64::from(d.state == ReceiptState::Delivered);
            rows.extend(d.row);
            Ok(())
        })
        .unwrap();
        assert_eq!(segments, filler + 3);
        assert_eq!(messages, filler + 2, "the two segments are one message");
        assert_eq!(delivered, filler + 1, "the waiting message got its receipt");
        assert_eq!(rows[0].gateway_id, 1);
        assert_eq!(rows[0].receipt, ReceiptState::Delivered);
        assert!(
            joiner.pending.len() < filler as usize / 2,
            "answered keys were purged: {} left",
            joiner.pending.len()
        );
    }

    #[test]
    fn a_damaged_record_of_another_account_does_not_end_the_scan() {
        use crate::cdr::store::{FRAME_HEADER, HEADER_LEN};
        let tmp = tempfile::tempdir().unwrap();
        let events: Vec<_> = (0..30u64)
            .map(|i| {
                let account = if i % 3 == 0 { "beta" } else { "acme" };
                (T0 + i, submit(account, 100 + i, T0 + i))
            })
            .collect();
        write_events(tmp.path(), events);
        let parts = crate::cdr::store::partitions(tmp.path()).unwrap();
        assert_eq!(parts.len(), 1);
        // Flip the last payload byte of beta's second record (gateway id
        // 103): its checksum no longer matches.
        let mut bytes = std::fs::read(&parts[0].path).unwrap();
        let mut at = HEADER_LEN as usize;
        let mut betas = 0;
        loop {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let payload = &bytes[at + FRAME_HEADER..at + FRAME_HEADER + len];
            if is_account(payload, b"beta") {
                betas += 1;
                if betas == 2 {
                    bytes[at + FRAME_HEADER + len - 1] ^= 0x55;
                    break;
                }
            }
            at += FRAME_HEADER + len;
        }
        std::fs::write(&parts[0].path, &bytes).unwrap();
        let run = |account: &str| {
            let q = Query {
                account: Some(account.into()),
                limit: 100,
                ..Query::default()
            };
            query(tmp.path(), &q, T0 / 1000, &retention).unwrap()
        };
        // acme's records are all checksummed and all there: beta's damaged
        // one is stepped over by its length.
        let acme = run("acme");
        assert_eq!(acme.rows.len(), 20);
        assert_eq!(acme.torn, 0);
        // beta's own scan checks it: the partition ends there, as a torn
        // tail does.
        let beta = run("beta");
        let ids: Vec<u64> = beta.rows.iter().map(|r| r.gateway_id).collect();
        assert_eq!(ids, [100]);
        assert!(beta.torn > 0);
    }

    #[test]
    fn a_receipt_without_its_submit_is_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let s = submit("acme", 7, T0);
        let r = receipt_for(&s, ReceiptState::Delivered, T0 + 5000);
        write_events(tmp.path(), vec![(T0 + 5000, r)]);
        let res = query(
            tmp.path(),
            &Query {
                limit: 10,
                ..Query::default()
            },
            T0 / 1000,
            &retention,
        )
        .unwrap();
        assert_eq!(res, QueryResult::default());
    }

    #[test]
    fn export_round_trips_in_both_formats() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dataset(21, 800);
        write_events(tmp.path(), d.events);
        let now_s = (T0 + 30 * HOUR) / 1000;
        for account in ["acme", "gamma"] {
            let want = query(
                tmp.path(),
                &Query {
                    account: Some(account.into()),
                    limit: usize::MAX,
                    ..Query::default()
                },
                now_s,
                &retention,
            )
            .unwrap()
            .rows;
            assert!(want.len() > 100);
            assert!(want.iter().any(|r| r.route_prefix.as_deref() == Some("")));
            assert!(want.iter().any(|r| r.carrier.is_none()));
            for format in [ExportFormat::Jsonl, ExportFormat::Csv] {
                let mut out = Vec::new();
                let n = export(
                    tmp.path(),
                    account,
                    None,
                    None,
                    format,
                    now_s,
                    &retention,
                    &mut out,
                )
                .unwrap();
                assert_eq!(n as usize, want.len());
                let text = String::from_utf8(out.clone()).unwrap();
                if format == ExportFormat::Csv {
                    assert!(text.starts_with("account,gateway_id,segment,"));
                    assert!(text.contains("\"car,\"\"q\"\"\nx\""), "quoted carrier");
                } else {
                    assert!(
                        text.contains("\"submit_time\":\"2023-11-"),
                        "RFC 3339 times"
                    );
                }
                let back = parse_export(format, &mut io::Cursor::new(out)).unwrap();
                assert_eq!(back, want, "{format:?}");
            }
        }
        // Time bounds.
        let from = T0 + 10 * HOUR;
        let mut out = Vec::new();
        let n = export(
            tmp.path(),
            "acme",
            Some(from),
            None,
            ExportFormat::Jsonl,
            now_s,
            &retention,
            &mut out,
        )
        .unwrap();
        let back = parse_export(ExportFormat::Jsonl, &mut io::Cursor::new(out)).unwrap();
        assert_eq!(back.len() as u64, n);
        assert!(back.iter().all(|r| r.submit_time_ms >= from));
    }

    #[test]
    fn csv_parser_rejects_garbage() {
        let mut bad_header = io::Cursor::new(b"a,b,c\r\n".to_vec());
        assert!(parse_export(ExportFormat::Csv, &mut bad_header).is_err());
        let mut unterminated =
            io::Cursor::new(format!("{}\r\n\"acme,1\r\n", EXPORT_FIELDS.join(",")).into_bytes());
        assert!(parse_export(ExportFormat::Csv, &mut unterminated).is_err());
        let mut bad_json = io::Cursor::new(b"{\"account\":1}\n".to_vec());
        assert!(parse_export(ExportFormat::Jsonl, &mut bad_json).is_err());
    }
}
