//! Every Prometheus metric of the daemon, named once, and the `GET
//! /metrics` endpoint.
//!
//! Names follow the Prometheus conventions: prefix `telegate_`, counters
//! end in `_total`, durations are `_seconds` histograms (buckets from 50 µs
//! to 30 s, [`LATENCY_BUCKETS`]). Labels are low-cardinality only: account
//! SID, carrier name, SMPP command, SMPP status, result, reason, direction,
//! side. Never a phone number, a system_id an ESME typed, or message text.
//! [`METRICS`] is the table of every metric with its type, unit and help;
//! [`init`] describes them all and installs the global recorder (once per
//! process, however many gateways start in it).
//!
//! # Hot-path cost
//!
//! The gateway is measured against a bare relay at hundreds of thousands
//! of messages a second, so nothing on the per-message path resolves a
//! metric by name and labels (`counter!(name, labels…)` hashes the key and
//! takes the registry's lock). Handles (`Counter`, `Gauge`, `Histogram`:
//! an `Arc` to the recorder's atomics) are made once and kept:
//!
//! - [`AccountMetrics`], one per account (held by the gateway's account),
//!   with its throttle counters, ESME bind gauge, submit-latency histogram
//!   and a table of `telegate_messages_total` handles indexed by carrier
//!   index and result, each made on first use.
//! - [`CarrierMetrics`], one per carrier (held by its pool).
//! - The PDU counters (`telegate_smpp_pdus_total`) are counted by the
//!   connection plumbing for every frame read and every PDU queued, so
//!   they sit in one process-wide table: per direction × side × command (a
//!   fixed array indexed by a small command index, the busiest commands
//!   first) one `OnceLock<Counter>` for status `ESME_ROK`, made on first
//!   use, which is the only status of nearly every PDU. A PDU with another
//!   status finds its handle in a map under a read lock (a write lock only
//!   the first time a (command, status) pair is seen); such PDUs already
//!   cost an error response each. The map is capped at
//!   [`MAX_ERROR_SERIES`] series: statuses are chosen by peers, and a
//!   carrier sending random codes must not grow the exposition without
//!   bound, so past the cap they count as `status="other"`.
//!
//! What remains per message is a few relaxed atomic adds and two
//! histogram samples. The two latency histograms (submit, carrier) are
//! the daemon's own [`LatencyHistogram`]: a sample is two relaxed adds to
//! bucket counters of the recording thread's shard (no allocation, no
//! line shared between worker threads), and [`render`] writes them out in
//! the exposition format beside the exporter's text. (The exporter's
//! histogram queues every sample in a shared lock-free list, folded later,
//! and bumps a shared generation counter: about 2 % of the gateway's CPU
//! under load, for the same buckets.)
//!
//! # Tests
//!
//! The recorder is global. Tests that read values either run one gateway
//! in their own test binary, or compare before/after deltas.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use ::metrics::{Counter, Gauge, KeyName, SharedString, Unit};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use telegate_smpp::{CommandId, CommandStatus};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::smpp::server::DeliverKind;

// ---- Names -------------------------------------------------------------

/// Gauge, 1, labels `version`, `git_sha`.
pub const BUILD_INFO: &str = "telegate_build_info";
/// Counter, labels `direction` (in|out), `side` (esme|carrier), `command`, `status`.
pub const SMPP_PDUS: &str = "telegate_smpp_pdus_total";
/// Counter, labels `account`, `carrier` (or "none"), `result` ([`MessageResult`]).
pub const MESSAGES: &str = "telegate_messages_total";
/// Histogram, label `account`.
pub const SUBMIT_LATENCY: &str = "telegate_submit_latency_seconds";
/// Histogram, label `carrier`.
pub const CARRIER_LATENCY: &str = "telegate_carrier_latency_seconds";
/// Gauge, label `carrier`.
pub const CARRIER_BINDS_UP: &str = "telegate_carrier_binds_up";
/// Gauge, label `carrier`.
pub const CARRIER_WINDOW_IN_USE: &str = "telegate_carrier_window_in_use";
/// Counter, label `carrier`.
pub const CARRIER_RECONNECTS: &str = "telegate_carrier_reconnects_total";
/// Counter, label `carrier`.
pub const CARRIER_BIND_FAILURES: &str = "telegate_carrier_bind_failures_total";
/// Gauge, label `account`.
pub const ESME_BINDS: &str = "telegate_esme_binds";
/// Counter, label `reason` ([`AuthFailure`]).
pub const ESME_AUTH_FAILURES: &str = "telegate_esme_auth_failures_total";
/// Counter, labels `account`, `reason` ([`Throttle`]).
pub const THROTTLED: &str = "telegate_throttled_total";
/// Counter, label `result` ([`DlrResult`]).
pub const DLR_RECEIPTS: &str = "telegate_dlr_receipts_total";
/// Gauge.
pub const DLR_STORE_ENTRIES: &str = "telegate_dlr_store_entries";
/// Counter, label `result` ([`MoResult`]).
pub const MO: &str = "telegate_mo_total";
/// Gauge.
pub const HELD_DELIVERIES: &str = "telegate_held_deliveries";
/// Counter, label `result` (ok|error).
pub const CONFIG_RELOADS: &str = "telegate_config_reloads_total";
/// Gauge.
pub const CONFIG_VERSION: &str = "telegate_config_version";
/// Counter, labels `account`, `verdict` (allow|flag|block).
pub const FILTER_VERDICTS: &str = "telegate_filter_verdicts_total";
/// Counter, label `rule` (a rule id of the rules file or a built-in signal).
pub const FILTER_RULE_HITS: &str = "telegate_filter_rule_hits_total";
/// Gauge: concatenated sets held for reassembly.
pub const FILTER_HELD_SETS: &str = "telegate_filter_held_sets";
/// Counter, labels `account`, `by` (auto|manual).
pub const SUSPENSIONS: &str = "telegate_suspensions_total";
/// Counter, label `account`.
pub const REINSTATEMENTS: &str = "telegate_reinstatements_total";
/// Gauge.
pub const SUSPENDED_ACCOUNTS: &str = "telegate_suspended_accounts";
/// Counter.
pub const CDR_RECORDS_WRITTEN: &str = "telegate_cdr_records_written_total";
/// Counter.
pub const CDR_BYTES_WRITTEN: &str = "telegate_cdr_bytes_written_total";
/// Counter.
pub const CDR_WRITE_ERRORS: &str = "telegate_cdr_write_errors_total";
/// Gauge.
pub const CDR_WRITER_LAG: &str = "telegate_cdr_writer_lag_seconds";
/// Gauge.
pub const CDR_QUEUED: &str = "telegate_cdr_queued_records";
/// Gauge.
pub const CDR_STORED_RECORDS: &str = "telegate_cdr_stored_records";
/// Gauge.
pub const CDR_STORED_BYTES: &str = "telegate_cdr_stored_bytes";
/// Gauge.
pub const CDR_OLDEST_AGE: &str = "telegate_cdr_oldest_record_age_seconds";
/// Counter, label `result` (ok|error).
pub const CDR_SWEEPS: &str = "telegate_cdr_sweeps_total";
/// Counter.
pub const CDR_SWEPT_RECORDS: &str = "telegate_cdr_swept_records_total";
/// Counter.
pub const CDR_ERASED_RECORDS: &str = "telegate_cdr_erased_records_total";

/// A metric's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in buckets.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric: name, type, unit and help text.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    /// The full name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Its unit, if it has one.
    pub unit: Option<Unit>,
    /// The `# HELP` text.
    pub help: &'static str,
}

const fn def(name: &'static str, kind: Kind, unit: Option<Unit>, help: &'static str) -> Def {
    Def {
        name,
        kind,
        unit,
        help,
    }
}

use Kind::{Counter as C, Gauge as G, Histogram as H};

/// Every metric the daemon exports.
pub const METRICS: &[Def] = &[
    def(BUILD_INFO, G, None, "Always 1; the version and commit the daemon was built from."),
    def(SMPP_PDUS, C, Some(Unit::Count), "SMPP PDUs read (in) or queued for sending (out), by side (esme: ESME sessions; carrier: carrier binds), command and command_status."),
    def(MESSAGES, C, Some(Unit::Count), "Messages from ESMEs by how they ended: ok (a carrier accepted), rejected, throttled, unavailable, timeout, no_route; carrier is the one that accepted or was last tried (none: no carrier was tried)."),
    def(SUBMIT_LATENCY, H, Some(Unit::Seconds), "submit_sm/data_sm/submit_multi from ESME received to response queued, per account."),
    def(CARRIER_LATENCY, H, Some(Unit::Seconds), "submit_sm/data_sm sent to a carrier to its response read, per carrier."),
    def(CARRIER_BINDS_UP, G, Some(Unit::Count), "Carrier binds currently bound."),
    def(CARRIER_WINDOW_IN_USE, G, Some(Unit::Count), "Requests awaiting a response from a carrier, over its binds (sampled every 100 ms)."),
    def(CARRIER_RECONNECTS, C, Some(Unit::Count), "Carrier bind attempts after a bind was lost or failed."),
    def(CARRIER_BIND_FAILURES, C, Some(Unit::Count), "Carrier bind attempts that failed (connect, TLS or bind refused)."),
    def(ESME_BINDS, G, Some(Unit::Count), "ESME sessions currently bound, per account."),
    def(ESME_AUTH_FAILURES, C, Some(Unit::Count), "ESME binds refused: system_id (unknown), password, refused (address not allowed or locked out), bind_type, max_binds, suspended (pending review)."),
    def(THROTTLED, C, Some(Unit::Count), "Requests throttled: window (session window full), throughput (account rate), carrier (a carrier pushed back with ESME_RTHROTTLED/ESME_RMSGQFUL), cdr_writer (the CDR writer is behind)."),
    def(DLR_RECEIPTS, C, Some(Unit::Count), "Delivery receipts from carriers: matched (found its message), unmatched, delivered (ESME acknowledged), held (queued for a receiver bind), held_full (refused: queue full), expired (held past held_ttl)."),
    def(DLR_STORE_ENTRIES, G, Some(Unit::Count), "Mappings in the DLR store (expired ones may count until swept)."),
    def(MO, C, Some(Unit::Count), "Mobile-originated messages from carriers: delivered, no_owner (no account owns the number), held, held_full, expired."),
    def(HELD_DELIVERIES, G, Some(Unit::Count), "Receipts and MO held for accounts with no receiver bind free."),
    def(CONFIG_RELOADS, C, Some(Unit::Count), "Configuration reloads by result (ok, error)."),
    def(CONFIG_VERSION, G, None, "Version of the configuration in force: 1 at start, one more per successful reload."),
    def(FILTER_VERDICTS, C, Some(Unit::Count), "Content filter verdicts per account: allow, flag (forwarded, counted as evidence), block (rejected)."),
    def(FILTER_RULE_HITS, C, Some(Unit::Count), "Content filter signals that fired in flagged or blocked messages, by rule id (rules file ids, url.*, sender.*, velocity.*, classifier)."),
    def(FILTER_HELD_SETS, G, Some(Unit::Count), "Concatenated messages whose segments are held until the set is whole."),
    def(SUSPENSIONS, C, Some(Unit::Count), "Account suspensions, by auto (the filter's threshold) or manual (admin)."),
    def(REINSTATEMENTS, C, Some(Unit::Count), "Suspended accounts reinstated after review."),
    def(SUSPENDED_ACCOUNTS, G, Some(Unit::Count), "Accounts currently suspended."),
    def(CDR_RECORDS_WRITTEN, C, Some(Unit::Count), "Call detail records written (one per message segment, one more per final receipt)."),
    def(CDR_BYTES_WRITTEN, C, Some(Unit::Bytes), "Bytes of call detail records written."),
    def(CDR_WRITE_ERRORS, C, Some(Unit::Count), "Failed CDR writes (retried; records are held, never dropped)."),
    def(CDR_WRITER_LAG, G, Some(Unit::Seconds), "Age of the oldest CDR not yet written."),
    def(CDR_QUEUED, G, Some(Unit::Count), "CDRs queued for the writer (when the queue is full, ESMEs are throttled)."),
    def(CDR_STORED_RECORDS, G, Some(Unit::Count), "CDRs in the store."),
    def(CDR_STORED_BYTES, G, Some(Unit::Bytes), "Bytes of CDR partitions on disk."),
    def(CDR_OLDEST_AGE, G, Some(Unit::Seconds), "Age of the oldest CDR in the store."),
    def(CDR_SWEEPS, C, Some(Unit::Count), "Retention sweeps of the CDR store, by result (ok, error)."),
    def(CDR_SWEPT_RECORDS, C, Some(Unit::Count), "CDRs deleted by retention sweeps."),
    def(CDR_ERASED_RECORDS, C, Some(Unit::Count), "CDRs deleted on erasure requests."),
];

/// Histogram buckets (seconds) for every `_seconds` histogram: 50 µs
/// (a local hop) to 30 s (past any submit deadline).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0,
];

/// The commit the daemon was built from (see `build.rs`).
pub const GIT_SHA: &str = env!("TELEGATE_GIT_SHA");

/// Most (direction, side, command, non-OK status) series; see the module docs.
pub const MAX_ERROR_SERIES: usize = 512;

/// How often histogram samples are folded into their buckets when nobody
/// scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

// ---- Label values ------------------------------------------------------

/// Which way a PDU went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Read from the peer.
    In = 0,
    /// Queued for the peer.
    Out = 1,
}

/// Which kind of connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// An ESME session (we are the SMSC).
    Esme = 0,
    /// A carrier bind (we are the ESME).
    Carrier = 1,
}

macro_rules! label_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vm])* $v,)* }
        impl $name {
            /// Every value, in index order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }
        }
    };
}

label_enum! {
    /// How a message from an ESME ended (`telegate_messages_total{result}`).
    MessageResult {
        /// A carrier accepted it.
        Ok = "ok",
        /// Carriers refused it.
        Rejected = "rejected",
        /// Carriers pushed back until the deadline.
        Throttled = "throttled",
        /// No bind could take it before the deadline.
        Unavailable = "unavailable",
        /// Sent, but no answer came (or the bind died).
        Timeout = "timeout",
        /// No route for the destination.
        NoRoute = "no_route",
        /// Blocked by the content filter (or the account is suspended).
        Blocked = "blocked",
    }
}

label_enum! {
    /// Why a request was throttled (`telegate_throttled_total{reason}`).
    Throttle {
        /// The session's window was full.
        Window = "window",
        /// The account's throughput was used up.
        Throughput = "throughput",
        /// A carrier pushed back.
        Carrier = "carrier",
        /// The CDR writer's queue was full.
        CdrWriter = "cdr_writer",
    }
}

label_enum! {
    /// Why an ESME bind was refused (`telegate_esme_auth_failures_total{reason}`).
    AuthFailure {
        /// Unknown system_id.
        SystemId = "system_id",
        /// Wrong password.
        Password = "password",
        /// Address not allowed, or locked out after failures.
        Refused = "refused",
        /// Bind type not allowed for the account.
        BindType = "bind_type",
        /// The account has max_binds bound already.
        MaxBinds = "max_binds",
        /// The account is suspended pending review.
        Suspended = "suspended",
    }
}

label_enum! {
    /// What became of a receipt (`telegate_dlr_receipts_total{result}`).
    DlrResult {
        /// Found its message's mapping.
        Matched = "matched",
        /// Matched nothing (after waiting for a late mapping).
        Unmatched = "unmatched",
        /// The ESME acknowledged it.
        Delivered = "delivered",
        /// Queued until a receiver bind has room.
        Held = "held",
        /// Refused: the account's held queue was full.
        HeldFull = "held_full",
        /// Dropped from the held queue after held_ttl.
        Expired = "expired",
    }
}

label_enum! {
    /// What became of an MO message (`telegate_mo_total{result}`).
    MoResult {
        /// The ESME acknowledged it.
        Delivered = "delivered",
        /// No account owns the destination number.
        NoOwner = "no_owner",
        /// Queued until a receiver bind has room.
        Held = "held",
        /// Refused: the account's held queue was full.
        HeldFull = "held_full",
        /// Dropped from the held queue after held_ttl.
        Expired = "expired",
    }
}

/// What became of a deliver_sm to an ESME, receipt or MO alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Acknowledged by the ESME.
    Delivered,
    /// Held.
    Held,
    /// Refused: held queue full.
    HeldFull,
    /// Expired while held.
    Expired,
}

// ---- The recorder ------------------------------------------------------

struct State {
    handle: PrometheusHandle,
    pdus: PduTable,
    dlr: Vec<TallyCounter>,
    mo: Vec<TallyCounter>,
    auth: Vec<Counter>,
    reloads: [Counter; 2],
    config_version: Gauge,
    dlr_store_entries: Gauge,
    held: Gauge,
}

fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(State::install)
}

impl State {
    fn install() -> State {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .expect("buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if ::metrics::set_global_recorder(recorder).is_err() {
            // Someone else's recorder (an embedding program): ours then
            // sees nothing, and /metrics serves only the descriptions.
            tracing::warn!("a metrics recorder was installed already; /metrics will be empty");
        }
        for d in METRICS {
            describe(d);
        }
        ::metrics::gauge!(BUILD_INFO, "version" => crate::VERSION, "git_sha" => GIT_SHA).set(1.0);
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP);
                upkeep.run_upkeep();
            });
        State {
            handle,
            pdus: PduTable::new(),
            dlr: DlrResult::ALL
                .iter()
                .map(|r| {
                    TallyCounter::new(::metrics::counter!(DLR_RECEIPTS, "result" => r.as_str()))
                })
                .collect(),
            mo: MoResult::ALL
                .iter()
                .map(|r| TallyCounter::new(::metrics::counter!(MO, "result" => r.as_str())))
                .collect(),
            auth: AuthFailure::ALL
                .iter()
                .map(|r| ::metrics::counter!(ESME_AUTH_FAILURES, "reason" => r.as_str()))
                .collect(),
            reloads: [
                ::metrics::counter!(CONFIG_RELOADS, "result" => "error"),
                ::metrics::counter!(CONFIG_RELOADS, "result" => "ok"),
            ],
            config_version: ::metrics::gauge!(CONFIG_VERSION),
            dlr_store_entries: ::metrics::gauge!(DLR_STORE_ENTRIES),
            held: ::metrics::gauge!(HELD_DELIVERIES),
        }
    }
}

fn describe(d: &Def) {
    let name = KeyName::from_const_str(d.name);
    let help = SharedString::const_str(d.help);
    ::metrics::with_recorder(|r| match d.kind {
        Kind::Counter => r.describe_counter(name, d.unit, help),
        Kind::Gauge => r.describe_gauge(name, d.unit, help),
        Kind::Histogram => r.describe_histogram(name, d.unit, help),
    });
}

/// Installs the process-wide recorder and describes every metric, once;
/// later calls return the same handle. Called by `Gateway::start` before
/// any handle is made (a handle made before would record nothing).
pub fn init() -> PrometheusHandle {
    state().handle.clone()
}

/// The exposition text: what the recorder has, plus `# HELP`/`# TYPE`
/// for every declared metric that has no series yet, so a dashboard can
/// see every name from the start.
pub fn render() -> String {
    publish_tallies();
    let mut out = state().handle.render();
    render_latency_histograms(&mut out);
    for d in METRICS {
        if !has_family(&out, d.name) {
            out.push_str(&format!(
                "# HELP {} {}\n# TYPE {} {}\n\n",
                d.name,
                d.help,
                d.name,
                d.kind.as_str()
            ));
        }
    }
    out
}

fn has_family(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix("# TYPE ")
            .and_then(|r| r.strip_prefix(name))
            .is_some_and(|r| r.starts_with(' '))
    })
}

// ---- Process-wide metrics ----------------------------------------------

/// Counts a configuration reload (for the reload controller).
pub fn config_reload(ok: bool) {
    state().reloads[usize::from(ok)].increment(1);
}

/// Sets `telegate_config_version` (1 at start; the reload controller sets
/// the new version after each successful reload).
pub fn set_config_version(v: u64) {
    state().config_version.set(v as f64);
}

/// Sets `telegate_dlr_store_entries`.
pub fn set_dlr_store_entries(n: usize) {
    state().dlr_store_entries.set(n as f64);
}

/// Sets `telegate_held_deliveries`.
pub fn set_held_deliveries(n: usize) {
    state().held.set(n as f64);
}

/// Counts a receipt.
pub fn dlr(r: DlrResult) {
    state().dlr[r as usize].add(1);
}

/// Counts an MO message.
pub fn mo(r: MoResult) {
    state().mo[r as usize].add(1);
}

/// Counts a filter rule hit. Rule ids come from the configuration (rules
/// file and built-in signals), so the series are bounded by it; the
/// handles are cached by id.
pub fn rule_hit(rule: &std::sync::Arc<str>) {
    type Hits = HashMap<std::sync::Arc<str>, Arc<TallyCounter>>;
    static HITS: OnceLock<RwLock<Hits>> = OnceLock::new();
    thread_local! {
        /// This thread's handles of the shared map's counters: counting a
        /// hit writes nothing another thread writes (no lock taken).
        static LOCAL: std::cell::RefCell<Hits> = std::cell::RefCell::default();
    }
    let local = LOCAL.with(|l| l.borrow().get(rule).cloned());
    if let Some(c) = local {
        c.add(1);
        return;
    }
    let map = HITS.get_or_init(|| RwLock::new(HashMap::new()));
    let found = map
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(rule)
        .cloned();
    let c = match found {
        Some(c) => c,
        None => {
            let _ = state();
            let mut w = map.write().unwrap_or_else(|e| e.into_inner());
            if w.len() >= 100_000 {
                return;
            }
            w.entry(rule.clone())
                .or_insert_with(|| {
                    tally(::metrics::counter!(FILTER_RULE_HITS, "rule" => rule.to_string()))
                })
                .clone()
        }
    };
    c.add(1);
    LOCAL.with(|l| {
        if let Ok(mut l) = l.try_borrow_mut() {
            l.insert(rule.clone(), c);
        }
    });
}

/// Sets `telegate_filter_held_sets` (on every segment held or released:
/// the handle is made once).
pub fn set_filter_held_sets(n: usize) {
    static HELD: OnceLock<Gauge> = OnceLock::new();
    HELD.get_or_init(|| {
        let _ = state();
        ::metrics::gauge!(FILTER_HELD_SETS)
    })
    .set(n as f64);
}

/// The CDR writer's and store's figures, sampled by the gateway.
#[derive(Debug, Clone, Copy, Default)]
pub struct CdrSample {
    /// Records written since start.
    pub records: u64,
    /// Bytes written since start.
    pub bytes: u64,
    /// Failed writes since start.
    pub errors: u64,
    /// Records queued.
    pub queued: usize,
    /// Age of the oldest record not yet written.
    pub lag: Duration,
}

/// Publishes the CDR writer's counters (absolute values since start).
pub fn set_cdr_writer(s: CdrSample) {
    struct Handles {
        records: ::metrics::Counter,
        bytes: ::metrics::Counter,
        errors: ::metrics::Counter,
        queued: Gauge,
        lag: Gauge,
    }
    static H: OnceLock<Handles> = OnceLock::new();
    let h = H.get_or_init(|| {
        let _ = state();
        Handles {
            records: ::metrics::counter!(CDR_RECORDS_WRITTEN),
            bytes: ::metrics::counter!(CDR_BYTES_WRITTEN),
            errors: ::metrics::counter!(CDR_WRITE_ERRORS),
            queued: ::metrics::gauge!(CDR_QUEUED),
            lag: ::metrics::gauge!(CDR_WRITER_LAG),
        }
    });
    h.records.absolute(s.records);
    h.bytes.absolute(s.bytes);
    h.errors.absolute(s.errors);
    h.queued.set(s.queued as f64);
    h.lag.set(s.lag.as_secs_f64());
}

/// Publishes what the CDR store holds.
pub fn set_cdr_store(records: u64, bytes: u64, oldest_age: Option<Duration>) {
    let _ = state();
    ::metrics::gauge!(CDR_STORED_RECORDS).set(records as f64);
    ::metrics::gauge!(CDR_STORED_BYTES).set(bytes as f64);
    ::metrics::gauge!(CDR_OLDEST_AGE).set(oldest_age.map_or(0.0, |d| d.as_secs_f64()));
}

/// Counts a retention sweep and what it removed.
pub fn cdr_sweep(ok: bool, removed: u64) {
    let _ = state();
    ::metrics::counter!(CDR_SWEEPS, "result" => if ok { "ok" } else { "error" }).increment(1);
    ::metrics::counter!(CDR_SWEPT_RECORDS).increment(removed);
}

/// Counts records erased on request.
pub fn cdr_erased(removed: u64) {
    let _ = state();
    ::metrics::counter!(CDR_ERASED_RECORDS).increment(removed);
}

/// Counts a suspension (`by`: auto or manual) and sets the gauge of
/// accounts suspended.
pub fn suspension(account: &str, by: &'static str, suspended_now: usize) {
    let _ = state();
    ::metrics::counter!(SUSPENSIONS, "account" => account.to_owned(), "by" => by).increment(1);
    ::metrics::gauge!(SUSPENDED_ACCOUNTS).set(suspended_now as f64);
}

/// Sets the gauge of accounts suspended (at start).
pub fn set_suspended_accounts(n: usize) {
    let _ = state();
    ::metrics::gauge!(SUSPENDED_ACCOUNTS).set(n as f64);
}

/// Counts a reinstatement and sets the gauge of accounts suspended.
pub fn reinstatement(account: &str, suspended_now: usize) {
    let _ = state();
    ::metrics::counter!(REINSTATEMENTS, "account" => account.to_owned()).increment(1);
    ::metrics::gauge!(SUSPENDED_ACCOUNTS).set(suspended_now as f64);
}

/// Counts a refused ESME bind.
pub fn auth_failure(r: AuthFailure) {
    state().auth[r as usize].increment(1);
}

/// Counts what became of a deliver_sm to an ESME, as a receipt or an MO.
pub(crate) fn delivery(kind: DeliverKind, d: Delivery) {
    match (kind, d) {
        (DeliverKind::Receipt, Delivery::Delivered) => dlr(DlrResult::Delivered),
        (DeliverKind::Receipt, Delivery::Held) => dlr(DlrResult::Held),
        (DeliverKind::Receipt, Delivery::HeldFull) => dlr(DlrResult::HeldFull),
        (DeliverKind::Receipt, Delivery::Expired) => dlr(DlrResult::Expired),
        (DeliverKind::Mo, Delivery::Delivered) => mo(MoResult::Delivered),
        (DeliverKind::Mo, Delivery::Held) => mo(MoResult::Held),
        (DeliverKind::Mo, Delivery::HeldFull) => mo(MoResult::HeldFull),
        (DeliverKind::Mo, Delivery::Expired) => mo(MoResult::Expired),
    }
}

// ---- PDU counters ------------------------------------------------------

/// Commands with their own slot, busiest first (the index is found by a
/// linear scan, so the data path's commands are found in a few compares).
const COMMANDS: &[CommandId] = &[
    CommandId::SUBMIT_SM,
    CommandId::SUBMIT_SM_RESP,
    CommandId::DELIVER_SM,
    CommandId::DELIVER_SM_RESP,
    CommandId::ENQUIRE_LINK,
    CommandId::ENQUIRE_LINK_RESP,
    CommandId::DATA_SM,
    CommandId::DATA_SM_RESP,
    CommandId::GENERIC_NACK,
    CommandId::SUBMIT_MULTI,
    CommandId::SUBMIT_MULTI_RESP,
    CommandId::QUERY_SM,
    CommandId::QUERY_SM_RESP,
    CommandId::CANCEL_SM,
    CommandId::CANCEL_SM_RESP,
    CommandId::REPLACE_SM,
    CommandId::REPLACE_SM_RESP,
    CommandId::BIND_TRANSMITTER,
    CommandId::BIND_TRANSMITTER_RESP,
    CommandId::BIND_RECEIVER,
    CommandId::BIND_RECEIVER_RESP,
    CommandId::BIND_TRANSCEIVER,
    CommandId::BIND_TRANSCEIVER_RESP,
    CommandId::UNBIND,
    CommandId::UNBIND_RESP,
    CommandId::OUTBIND,
    CommandId::ALERT_NOTIFICATION,
    CommandId::BROADCAST_SM,
    CommandId::BROADCAST_SM_RESP,
    CommandId::QUERY_BROADCAST_SM,
    CommandId::QUERY_BROADCAST_SM_RESP,
    CommandId::CANCEL_BROADCAST_SM,
    CommandId::CANCEL_BROADCAST_SM_RESP,
];

/// Slots: the commands above, then "other".
const NCMD: usize = COMMANDS.len() + 1;

fn command_index(id: u32) -> usize {
    COMMANDS
        .iter()
        .position(|c| c.0 == id)
        .unwrap_or(COMMANDS.len())
}

fn command_label(i: usize) -> &'static str {
    COMMANDS.get(i).and_then(|c| c.name()).unwrap_or("other")
}

/// Key of a non-OK series: slot, command index, status (`None`: "other").
type ErrKey = (u8, u8, Option<u32>);

struct PduTable {
    /// `[side * 2 + direction][command]`, status ESME_ROK.
    ok: Vec<[OnceLock<Counter>; NCMD]>,
    errors: RwLock<HashMap<ErrKey, Counter>>,
}

impl PduTable {
    fn new() -> PduTable {
        PduTable {
            ok: (0..4)
                .map(|_| std::array::from_fn(|_| OnceLock::new()))
                .collect(),
            errors: RwLock::new(HashMap::new()),
        }
    }

    fn count(&self, dir: Direction, side: Side, command_id: u32, status: u32, n: u64) {
        let slot = side as usize * 2 + dir as usize;
        let cmd = command_index(command_id);
        if status == 0 {
            self.ok[slot][cmd]
                .get_or_init(|| pdu_counter(slot, cmd, "ESME_ROK".into()))
                .increment(n);
            return;
        }
        let key = (slot as u8, cmd as u8, Some(status));
        if let Some(c) = self
            .errors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            c.increment(n);
            return;
        }
        let mut w = self.errors.write().unwrap_or_else(|e| e.into_inner());
        let key = if w.len() < MAX_ERROR_SERIES || w.contains_key(&key) {
            key
        } else {
            (slot as u8, cmd as u8, None)
        };
        w.entry(key)
            .or_insert_with(|| {
                let label = match key.2 {
                    Some(s) => status_label(CommandStatus(s)),
                    None => "other".into(),
                };
                pdu_counter(slot, cmd, label)
            })
            .increment(n);
    }
}

/// A status as a label: its spec name, or hex when it has none.
pub fn status_label(s: CommandStatus) -> SharedString {
    match s.name() {
        Some(n) => n.into(),
        None => format!("0x{:08X}", s.0).into(),
    }
}

fn pdu_counter(slot: usize, cmd: usize, status: SharedString) -> Counter {
    let side = if slot / 2 == Side::Esme as usize {
        "esme"
    } else {
        "carrier"
    };
    let dir = if slot % 2 == Direction::In as usize {
        "in"
    } else {
        "out"
    };
    ::metrics::counter!(
        SMPP_PDUS,
        "direction" => dir,
        "side" => side,
        "command" => command_label(cmd),
        "status" => status,
    )
}

/// Counts `n` PDUs of one command and status (`telegate_smpp_pdus_total`).
pub(crate) fn pdu_n(dir: Direction, side: Side, command_id: u32, status: u32, n: u64) {
    state().pdus.count(dir, side, command_id, status, n);
}

// ---- Per account, per carrier ------------------------------------------

/// The handles of one account (label `account` = its SID).
#[derive(Debug)]
pub struct AccountMetrics {
    sid: SharedString,
    /// `telegate_esme_binds`.
    pub binds: Gauge,
    /// `telegate_submit_latency_seconds`.
    pub submit_latency: LatencyHistogram,
    throttled: Vec<Counter>,
    /// `telegate_messages_total` per carrier index (the last slot:
    /// "none") and result, made on first use.
    messages: Box<[[OnceLock<Counter>; 7]]>,
    /// The same for result `ok`, counted once per message: tallied per
    /// thread (about a KiB each, made on first use).
    ok: Box<[OnceLock<Arc<TallyCounter>>]>,
    /// `telegate_filter_verdicts_total` by [`crate::filter::engine::Action`]
    /// (the series exist from the start)...
    verdicts: [Counter; 3],
    /// ...counted once per message judged: tallied per thread, made on
    /// first use.
    verdict_tallies: [OnceLock<Arc<TallyCounter>>; 3],
}

impl AccountMetrics {
    /// Handles for account `sid`, with room for `carriers` carriers.
    pub fn new(sid: &str, carriers: usize) -> AccountMetrics {
        let _ = state();
        let sid: SharedString = sid.to_owned().into();
        AccountMetrics {
            binds: ::metrics::gauge!(ESME_BINDS, "account" => sid.clone()),
            submit_latency: LatencyHistogram::get(SUBMIT_LATENCY, "account", &sid),
            throttled: Throttle::ALL
                .iter()
                .map(|r| {
                    ::metrics::counter!(THROTTLED, "account" => sid.clone(), "reason" => r.as_str())
                })
                .collect(),
            verdicts: ["allow", "flag", "block"].map(|v| {
                ::metrics::counter!(FILTER_VERDICTS, "account" => sid.clone(), "verdict" => v)
            }),
            messages: (0..=carriers)
                .map(|_| std::array::from_fn(|_| OnceLock::new()))
                .collect(),
            ok: (0..=carriers).map(|_| OnceLock::new()).collect(),
            verdict_tallies: Default::default(),
            sid,
        }
    }

    /// Counts a filter verdict.
    pub fn verdict(&self, action: crate::filter::engine::Action) {
        let i = action as usize;
        self.verdict_tallies[i]
            .get_or_init(|| tally(self.verdicts[i].clone()))
            .add(1);
    }

    /// Counts a throttled request.
    pub fn throttled(&self, reason: Throttle) {
        self.throttled[reason as usize].increment(1);
    }

    /// Counts a message's end; `carrier` is (index, name) of the carrier
    /// that accepted it or was tried last.
    pub fn message(&self, carrier: Option<(usize, &str)>, result: MessageResult) {
        let none = self.messages.len() - 1;
        let (i, name) = carrier.map_or((none, "none"), |(i, n)| (i.min(none), n));
        if i == none && carrier.is_some() {
            // A carrier added after this account was built: slow path.
            self.make_message(name, result).increment(1);
            return;
        }
        if result == MessageResult::Ok {
            self.ok[i]
                .get_or_init(|| tally(self.make_message(name, result)))
                .add(1);
            return;
        }
        self.messages[i][result as usize]
            .get_or_init(|| self.make_message(name, result))
            .increment(1);
    }

    fn make_message(&self, carrier: &str, result: MessageResult) -> Counter {
        ::metrics::counter!(
            MESSAGES,
            "account" => self.sid.clone(),
            "carrier" => carrier.to_owned(),
            "result" => result.as_str(),
        )
    }
}

/// The handles of one carrier (label `carrier` = its name).
#[derive(Debug)]
pub struct CarrierMetrics {
    /// `telegate_carrier_binds_up`.
    pub binds_up: Gauge,
    /// `telegate_carrier_window_in_use`.
    pub window_in_use: Gauge,
    /// `telegate_carrier_reconnects_total`.
    pub reconnects: Counter,
    /// `telegate_carrier_bind_failures_total`.
    pub bind_failures: Counter,
    /// `telegate_carrier_latency_seconds`.
    pub latency: LatencyHistogram,
}

impl CarrierMetrics {
    /// Handles for carrier `name`.
    pub fn new(name: &str) -> CarrierMetrics {
        let _ = state();
        let name: SharedString = name.to_owned().into();
        CarrierMetrics {
            binds_up: ::metrics::gauge!(CARRIER_BINDS_UP, "carrier" => name.clone()),
            window_in_use: ::metrics::gauge!(CARRIER_WINDOW_IN_USE, "carrier" => name.clone()),
            reconnects: ::metrics::counter!(CARRIER_RECONNECTS, "carrier" => name.clone()),
            bind_failures: ::metrics::counter!(CARRIER_BIND_FAILURES, "carrier" => name.clone()),
            latency: LatencyHistogram::get(CARRIER_LATENCY, "carrier", &name),
        }
    }
}

// ---- Latency histograms -------------------------------------------------

/// [`LATENCY_BUCKETS`] in nanoseconds (a sample of `ns` counts in the first
/// bucket with `ns <= bound`; the last slot is `+Inf`).
fn latency_bounds_ns() -> &'static [u64] {
    static BOUNDS: OnceLock<Vec<u64>> = OnceLock::new();
    BOUNDS.get_or_init(|| {
        LATENCY_BUCKETS
            .iter()
            .map(|&b| (b * 1e9).round() as u64)
            .collect()
    })
}

/// Shards of a histogram or a [`Tally`]: threads spread over them, so
/// worker threads do not bounce one cache line between them.
const THREAD_SHARDS: usize = 8;
/// Bucket counters of one shard: one per bound, then `+Inf`.
const HIST_SLOTS: usize = LATENCY_BUCKETS.len() + 1;

/// One shard's counters, on lines of its own.
#[repr(align(128))]
#[derive(Default)]
struct HistShard {
    buckets: [AtomicU64; HIST_SLOTS],
    sum_ns: AtomicU64,
}

#[derive(Default)]
struct HistInner {
    name: &'static str,
    label: &'static str,
    value: String,
    shards: [HistShard; THREAD_SHARDS],
}

impl HistInner {
    /// (per-bucket counts, not cumulative; total count; sum in seconds).
    fn snapshot(&self) -> ([u64; HIST_SLOTS], u64, f64) {
        let mut counts = [0u64; HIST_SLOTS];
        let mut sum_ns = 0u128;
        for s in &self.shards {
            for (c, b) in counts.iter_mut().zip(&s.buckets) {
                *c += b.load(Ordering::Relaxed);
            }
            sum_ns += u128::from(s.sum_ns.load(Ordering::Relaxed));
        }
        (counts, counts.iter().sum(), sum_ns as f64 / 1e9)
    }
}

/// Every latency histogram made, in order (never removed, as the
/// exporter keeps its series).
fn latency_histograms() -> &'static Mutex<Vec<Arc<HistInner>>> {
    static ALL: OnceLock<Mutex<Vec<Arc<HistInner>>>> = OnceLock::new();
    ALL.get_or_init(|| {
        // The bounds are made before any sample is taken.
        let _ = latency_bounds_ns();
        Mutex::new(Vec::new())
    })
}

/// This thread's shard.
fn thread_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % THREAD_SHARDS;
    }
    SHARD.with(|s| *s)
}

/// A count kept in [`THREAD_SHARDS`] shards on lines of their own, each thread
/// adding to its own: for counts added once or more per message, which a
/// single atomic would bounce between the worker threads' caches. Reading
/// sums the shards.
#[derive(Default)]
pub struct Tally([TallyShard; THREAD_SHARDS]);

#[repr(align(128))]
#[derive(Default)]
struct TallyShard(AtomicU64);

impl Tally {
    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0[thread_shard()].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |t, s| t.wrapping_add(s.0.load(Ordering::Relaxed)))
    }
}

/// A counter counted in a [`Tally`] (once or more per message, from every
/// worker thread) and handed to the recorder, whose counters write a
/// shared value and generation on every increment, only when the metrics
/// are rendered ([`render`]) or the counter is dropped.
#[derive(Debug)]
struct TallyCounter {
    tally: Tally,
    /// What the recorder has been given so far.
    published: AtomicU64,
    handle: Counter,
}

impl TallyCounter {
    fn new(handle: Counter) -> TallyCounter {
        TallyCounter {
            tally: Tally::default(),
            published: AtomicU64::new(0),
            handle,
        }
    }

    #[inline]
    fn add(&self, n: u64) {
        self.tally.add(n);
    }

    /// Hands the recorder what was counted since the last time (by
    /// increment, so another handle of the same series, say of an account
    /// made again by a reload, adds to it rather than racing it).
    fn publish(&self) {
        let now = self.tally.get();
        let before = self.published.swap(now, Ordering::AcqRel);
        if now > before {
            self.handle.increment(now - before);
        }
    }
}

impl Drop for TallyCounter {
    fn drop(&mut self) {
        self.publish();
    }
}

/// A [`TallyCounter`] of `handle`, published by [`render`] from now on.
fn tally(handle: Counter) -> Arc<TallyCounter> {
    let c = Arc::new(TallyCounter::new(handle));
    tallied()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::downgrade(&c));
    c
}

/// The [`TallyCounter`]s made per account, published by [`render`].
fn tallied() -> &'static Mutex<Vec<Weak<TallyCounter>>> {
    static ALL: OnceLock<Mutex<Vec<Weak<TallyCounter>>>> = OnceLock::new();
    ALL.get_or_init(Default::default)
}

fn publish_tallies() {
    let st = state();
    for c in st.dlr.iter().chain(&st.mo) {
        c.publish();
    }
    tallied()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|w| w.upgrade().map(|c| c.publish()).is_some());
}

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tally({})", self.get())
    }
}

/// A `_seconds` histogram with [`LATENCY_BUCKETS`] and one label, kept by
/// the daemon (see the module docs) and written by [`render`]. Handles for
/// the same name and label value share their counters.
#[derive(Clone)]
pub struct LatencyHistogram(Arc<HistInner>);

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LatencyHistogram({}{{{}=...}})",
            self.0.name, self.0.label
        )
    }
}

impl LatencyHistogram {
    /// The histogram `name{label="value"}`, made on first use.
    pub fn get(name: &'static str, label: &'static str, value: &str) -> LatencyHistogram {
        let mut all = latency_histograms()
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(h) = all
            .iter()
            .find(|h| h.name == name && h.label == label && h.value == value)
        {
            return LatencyHistogram(h.clone());
        }
        let h = Arc::new(HistInner {
            name,
            label,
            value: value.to_owned(),
            ..HistInner::default()
        });
        all.push(h.clone());
        LatencyHistogram(h)
    }

    /// Counts one sample.
    #[inline]
    pub fn record(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let slot = latency_bounds_ns()
            .iter()
            .position(|&b| ns <= b)
            .unwrap_or(HIST_SLOTS - 1);
        let shard = &self.0.shards[thread_shard()];
        shard.buckets[slot].fetch_add(1, Ordering::Relaxed);
        shard.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// A label value in the exposition format: `\`, `"` and newlines escaped.
fn escape_label(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.contains(['\\', '"', '\n']) {
        return v.into();
    }
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .into()
}

/// Appends every latency histogram, a family at a time, each with its
/// `# HELP` and `# TYPE`.
fn render_latency_histograms(out: &mut String) {
    use std::fmt::Write;
    let all: Vec<Arc<HistInner>> = latency_histograms()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for d in METRICS.iter().filter(|d| d.kind == Kind::Histogram) {
        let series: Vec<_> = all.iter().filter(|h| h.name == d.name).collect();
        if series.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "# HELP {} {}\n# TYPE {} histogram\n",
            d.name, d.help, d.name
        );
        for h in series {
            let (counts, count, sum) = h.snapshot();
            let labels = format!("{}=\"{}\"", h.label, escape_label(&h.value));
            let mut cumulative = 0;
            for (i, c) in counts.iter().enumerate() {
                cumulative += c;
                let le = match LATENCY_BUCKETS.get(i) {
                    Some(b) => b.to_string(),
                    None => "+Inf".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "{}_bucket{{{labels},le=\"{le}\"}} {cumulative}",
                    d.name
                );
            }
            let _ = writeln!(out, "{}_sum{{{labels}}} {sum}", d.name);
            let _ = writeln!(out, "{}_count{{{labels}}} {count}", d.name);
        }
        out.push('\n');
    }
}

// ---- GET /metrics ------------------------------------------------------

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Longest wait for a request's head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest life of one connection (a scraper reconnects).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);

/// Largest request head buffered (hyper's minimum is 8 KiB).
const MAX_REQUEST_BUF: usize = 16 * 1024;

/// Serves `GET /metrics` (and HEAD) on `listener` until `shutdown`;
/// anything else is 404 (405 for other methods on /metrics). HTTP/1.1
/// only; request bodies are never read.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken, tracker: TaskTracker) {
    let _ = init();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let _ = tcp.set_nodelay(true);
            let svc =
                hyper::service::service_fn(|req| async move { Ok::<_, Infallible>(respond(&req)) });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_REQUEST_BUF)
                .serve_connection(TokioIo::new(tcp), svc);
            tokio::pin!(conn);
            tokio::select! {
                r = tokio::time::timeout(CONNECTION_LIFETIME, conn.as_mut()) => {
                    if let Ok(Err(e)) = r {
                        tracing::debug!(%peer, error = %e, "metrics connection error");
                    }
                }
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
                }
            }
        });
    }
}

/// Binds `addr` and serves metrics there; the bound address comes back
/// (port 0 picks a free one).
pub async fn listen(
    addr: SocketAddr,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) -> std::io::Result<SocketAddr> {
    let l = TcpListener::bind(addr).await?;
    let local = l.local_addr()?;
    tracing::info!(addr = %local, "serving metrics");
    tracker.spawn(serve(l, shutdown, tracker.clone()));
    Ok(local)
}

fn respond(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, text: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *r.status_mut() = status;
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    };
    if req.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    }
    let body = match *req.method() {
        Method::GET => Bytes::from(render()),
        // hyper sends no body for HEAD; the length is the GET's.
        Method::HEAD => Bytes::from(render()),
        _ => {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut().insert(
                hyper::header::ALLOW,
                hyper::header::HeaderValue::from_static("GET, HEAD"),
            );
            return r;
        }
    };
    let mut r = Response::new(Full::new(body));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(CONTENT_TYPE),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn tally_sums_the_threads_shards() {
        let t = Arc::new(Tally::default());
        let hs: Vec<_> = (0..6)
            .map(|_| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        t.add(1);
                    }
                    t.add(5);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(t.get(), 6 * 1005);
        assert_eq!(format!("{t:?}"), "Tally(6030)");
    }

    async fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
            .await
            .expect("answered")
            .unwrap();
        out
    }

    #[tokio::test]
    async fn serves_metrics_and_nothing_else() {
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let addr = listen("127.0.0.1:0".parse().unwrap(), shutdown.clone(), &tracker)
            .await
            .unwrap();

        let r = get(
            addr,
            "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 404"), "{r}");

        let r = get(
            addr,
            "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 405"), "{r}");

        let r = get(
            addr,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        let lower = r.to_ascii_lowercase();
        assert!(
            lower.contains("\r\ncontent-type: text/plain; version=0.0.4"),
            "{r}"
        );
        assert!(r.contains("# TYPE telegate_build_info gauge"), "{r}");
        assert!(r.contains(&format!("git_sha=\"{GIT_SHA}\"")), "{r}");

        let r = get(
            addr,
            "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(!r.contains("# TYPE"), "HEAD has no body: {r}");

        // A request head past the limit is refused, not buffered.
        let huge = format!(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(64 * 1024)
        );
        let r = get(addr, &huge).await;
        assert!(!r.starts_with("HTTP/1.1 200"), "{r}");

        shutdown.cancel();
        tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .expect("server stops");
    }

    #[test]
    fn every_declared_metric_renders() {
        let text = render();
        for d in METRICS {
            assert!(
                text.contains(&format!("# HELP {} ", d.name)),
                "no HELP for {}",
                d.name
            );
            assert!(
                text.contains(&format!("# TYPE {} {}", d.name, d.kind.as_str())),
                "no TYPE for {}",
                d.name
            );
        }
    }

    #[test]
    fn tallied_counters_render_what_every_thread_counted() {
        let series = format!("{MO}{{result=\"expired\"}} ");
        let value = || {
            render()
                .lines()
                .find_map(|l| l.strip_prefix(&series))
                .map_or(0.0, |v| v.parse::<f64>().expect("a number"))
        };
        let before = value();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..250).for_each(|_| mo(MoResult::Expired)));
            }
        });
        // Other tests may count too, never down.
        assert!(value() >= before + 1000.0, "{before} -> {}", value());
    }

    #[test]
    fn an_accounts_ok_count_renders_across_threads_and_remakes() {
        let series = format!(
            "{MESSAGES}{{account=\"tally-acct\",carrier=\"tally-carrier\",result=\"ok\"}} "
        );
        let value = || {
            let text = render();
            text.lines()
                .find_map(|l| l.strip_prefix(&series))
                .unwrap_or_else(|| panic!("no {series} in\n{text}"))
                .parse::<f64>()
                .expect("a number")
        };
        let m = AccountMetrics::new("tally-acct", 1);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    (0..100).for_each(|_| m.message(Some((0, "tally-carrier")), MessageResult::Ok))
                });
            }
        });
        assert_eq!(value(), 400.0);
        // Counted, then dropped before a render: published on drop. An
        // account made again (a reload) adds to the same series.
        m.message(Some((0, "tally-carrier")), MessageResult::Ok);
        drop(m);
        let again = AccountMetrics::new("tally-acct", 1);
        again.message(Some((0, "tally-carrier")), MessageResult::Ok);
        assert_eq!(value(), 402.0);
        assert_eq!(value(), 402.0);
    }

    #[test]
    fn latency_histograms_render_cumulative_buckets_from_every_thread() {
        let h = LatencyHistogram::get(CARRIER_LATENCY, "carrier", "hist\"test\\");
        // Another handle for the same series shares its counters.
        let same = LatencyHistogram::get(CARRIER_LATENCY, "carrier", "hist\"test\\");
        h.record(Duration::from_micros(50)); // on the 50 µs bound: first bucket
        h.record(Duration::from_micros(51)); // the 100 µs bucket
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| same.record(Duration::from_millis(2))); // 2.5 ms bucket
            }
        });
        h.record(Duration::from_secs(60)); // past 30 s: +Inf only
        let text = render();
        let series = r#"carrier="hist\"test\\""#;
        let line = |suffix: &str, le: Option<&str>| {
            let labels = match le {
                Some(le) => format!("{{{series},le=\"{le}\"}}"),
                None => format!("{{{series}}}"),
            };
            let head = format!("{CARRIER_LATENCY}{suffix}{labels} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&head))
                .unwrap_or_else(|| panic!("no {head} in\n{text}"))
                .parse::<f64>()
                .expect("a number")
        };
        assert_eq!(line("_bucket", Some("0.00005")), 1.0);
        assert_eq!(line("_bucket", Some("0.0001")), 2.0);
        assert_eq!(line("_bucket", Some("0.001")), 2.0);
        assert_eq!(line("_bucket", Some("0.0025")), 6.0);
        assert_eq!(line("_bucket", Some("30")), 6.0);
        assert_eq!(line("_bucket", Some("+Inf")), 7.0);
        assert_eq!(line("_count", None), 7.0);
        let sum = line("_sum", None);
        assert!((sum - (60.0 + 0.008 + 0.000101)).abs() < 1e-9, "{sum}");
        assert_eq!(
            text.matches(&format!("# TYPE {CARRIER_LATENCY} histogram"))
                .count(),
            1
        );
    }

    #[test]
    fn names_follow_the_conventions() {
        let mut seen = std::collections::HashSet::new();
        for d in METRICS {
            assert!(seen.insert(d.name), "{} declared twice", d.name);
            assert!(d.name.starts_with("telegate_"), "{}", d.name);
            assert_eq!(
                d.kind == Kind::Counter,
                d.name.ends_with("_total"),
                "{}",
                d.name
            );
            if d.name.ends_with("_seconds") {
                assert_eq!(d.unit, Some(Unit::Seconds), "{}", d.name);
            }
        }
    }

    #[test]
    fn pdu_statuses_are_bounded() {
        // Unknown statuses from a peer stop making series at the cap.
        for s in 0x1000..0x1000 + MAX_ERROR_SERIES as u32 + 50 {
            pdu_n(Direction::In, Side::Carrier, 0x0999_0000, s, 1);
        }
        let errors = state().pdus.errors.read().unwrap();
        assert!(errors.len() <= MAX_ERROR_SERIES + 4 * NCMD);
        drop(errors);
        assert_eq!(
            status_label(CommandStatus(0x45)),
            SharedString::from("ESME_RSUBMITFAIL")
        );
        assert_eq!(
            status_label(CommandStatus(0x0400_0001)),
            SharedString::from("0x04000001")
        );
        assert_eq!(command_label(command_index(0x0999_0000)), "other");
        assert_eq!(command_label(command_index(4)), "submit_sm");
    }
}
