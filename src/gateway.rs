//! The gateway core: wiring of listeners, carrier pools, routing and the
//! DLR store, and the data path between them (submit forwarding with
//! failover, receipts and MO back to ESMEs).

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::{ArcSwap, ArcSwapOption};
use bytes::Bytes;
use dashmap::DashMap;
use telegate_smpp::pdu::{
    Body, DestAddress, Pdu, QuerySmResp, SubmitMultiResp, SubmitSm, UnsuccessSme,
};
use telegate_smpp::receipt::MessageState;
use telegate_smpp::tlv::TlvList;
use telegate_smpp::udh::Udh;
use telegate_smpp::{CommandId, CommandStatus};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::admin::{CarrierHealth, Health, ReloadOutcome};
use crate::auth::PasswordVerifier;
use crate::config::{AccountConfig, BindType, Config, ServerConfig};
use crate::dlr::late::LateQueue;
use crate::dlr::rewrite as receipts;
use crate::dlr::{self, DlrStore, HeldQueues, LogStore};
use crate::ids::{format_id, parse_id, IdGenerator};
use crate::metrics::{
    self, AccountMetrics, Delivery, DlrResult, MessageResult, MoResult, Throttle,
};
use crate::name::Name;
use crate::routing::{AccountIdx, CarrierIdx, MoTable, RoutingTable};
use crate::smpp::carrier::{BindState, CarrierPool, DlrMeta, SendError};
use crate::smpp::io::{Out, OutTx};
use crate::smpp::server::{self, DeliverKind, InFlightDeliver, InflightGuard, SessionShared};
use crate::smpp::throttle::TokenBucket;

mod cdrs;
mod stage;

use crate::filter::engine::{AccountPolicy, Engine};
use crate::filter::velocity::AccountRate;
pub use cdrs::{cdr_export_offline, cdr_query_offline, CdrError};
pub(crate) use stage::FilterCore;

/// Counters of the data path (exported as metrics by the operations work).
#[derive(Debug, Default)]
pub struct Stats {
    /// Submits answered OK (a carrier accepted them).
    pub submitted: crate::metrics::Tally,
    /// Submits answered with an error after routing.
    pub submit_failed: AtomicU64,
    /// Requests refused by the session window.
    pub throttled_window: AtomicU64,
    /// Requests refused by the account throughput.
    pub throttled_account: AtomicU64,
    /// Receipts delivered to an ESME.
    pub dlr_delivered: crate::metrics::Tally,
    /// Receipts that matched no mapping.
    pub dlr_unmatched: AtomicU64,
    /// Receipts that came in before their message's mapping was in place
    /// (they overtook the carrier's submit_sm_resp) and waited for it.
    pub dlr_parked: AtomicU64,
    /// Receipts and MO put in a held queue.
    pub held: AtomicU64,
    /// Receipts and MO refused because the held queue was full.
    pub held_full: AtomicU64,
    /// MO delivered to an ESME.
    pub mo_delivered: AtomicU64,
    /// MO for a number no account owns.
    pub mo_unknown: AtomicU64,
    /// Failed bind attempts.
    pub auth_failures: AtomicU64,
}

/// A copy of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// See [`Stats::submitted`].
    pub submitted: u64,
    /// See [`Stats::submit_failed`].
    pub submit_failed: u64,
    /// See [`Stats::throttled_window`].
    pub throttled_window: u64,
    /// See [`Stats::throttled_account`].
    pub throttled_account: u64,
    /// See [`Stats::dlr_delivered`].
    pub dlr_delivered: u64,
    /// See [`Stats::dlr_unmatched`].
    pub dlr_unmatched: u64,
    /// See [`Stats::dlr_parked`].
    pub dlr_parked: u64,
    /// See [`Stats::held`].
    pub held: u64,
    /// See [`Stats::held_full`].
    pub held_full: u64,
    /// See [`Stats::mo_delivered`].
    pub mo_delivered: u64,
    /// See [`Stats::mo_unknown`].
    pub mo_unknown: u64,
    /// See [`Stats::auth_failures`].
    pub auth_failures: u64,
}

impl Stats {
    fn snapshot(&self) -> StatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            submitted: self.submitted.get(),
            submit_failed: g(&self.submit_failed),
            throttled_window: g(&self.throttled_window),
            throttled_account: g(&self.throttled_account),
            dlr_delivered: self.dlr_delivered.get(),
            dlr_unmatched: g(&self.dlr_unmatched),
            dlr_parked: g(&self.dlr_parked),
            held: g(&self.held),
            held_full: g(&self.held_full),
            mo_delivered: g(&self.mo_delivered),
            mo_unknown: g(&self.mo_unknown),
            auth_failures: g(&self.auth_failures),
        }
    }
}

/// An ESME account at run time.
#[derive(Debug)]
pub(crate) struct AccountRt {
    /// Stable for the account's life, across reloads.
    pub(crate) idx: AccountIdx,
    cfg: ArcSwap<AccountConfig>,
    pub(crate) sid: Arc<str>,
    /// Interned: what the DLR mappings of its messages name.
    pub(crate) system_id: Name,
    bucket: ArcSwapOption<TokenBucket>,
    /// Cancelled when a reload removes the account or changes its
    /// password: its sessions unbind.
    pub(crate) retired: CancellationToken,
    /// Throttling is logged at most once a second per account.
    pub(crate) throttle_log: LogLimiter,
    binds: AtomicU32,
    /// Its bound receiver sessions: read for every receipt and MO (a load
    /// that writes nothing shared), changed at binds and unbinds.
    receivers: ArcSwap<Vec<Arc<SessionShared>>>,
    rr: AtomicUsize,
    /// Signalled when a receiver bind frees room in its deliver window,
    /// while `room_waiters` says someone waits for it.
    room: tokio::sync::Notify,
    /// Tasks in [`Core::dispatch_wait`]: with none, a freed slot signals
    /// nothing (the Notify takes its own lock even with no waiter, and
    /// every deliver_sm_resp frees a slot).
    room_waiters: AtomicUsize,
    /// Items in this account's held queue (changed under the queues' lock).
    held: AtomicUsize,
    /// Its metric handles (room for `carriers` carriers).
    pub(crate) metrics: AccountMetrics,
    /// Its sending rates, for the filter's velocity signals.
    pub(crate) rate: AccountRate,
    /// Its filter exemptions and registered senders.
    pub(crate) filter_policy: ArcSwap<AccountPolicy>,
    /// Cancelled when the account is suspended: its sessions unbind. A
    /// fresh token replaces it, for the binds after reinstatement.
    kick: ArcSwap<CancellationToken>,
}

fn policy_of(cfg: &AccountConfig) -> AccountPolicy {
    AccountPolicy {
        exempt: cfg
            .filter_exempt
            .iter()
            .map(|s| Arc::from(s.as_str()))
            .collect(),
        senders: cfg.senders.clone(),
    }
}

impl AccountRt {
    fn new(idx: AccountIdx, cfg: AccountConfig, carriers: usize) -> AccountRt {
        AccountRt {
            idx,
            metrics: AccountMetrics::new(cfg.sid(), carriers),
            sid: Arc::from(cfg.sid()),
            system_id: Name::new(&cfg.system_id),
            bucket: ArcSwapOption::new(
                TokenBucket::new(cfg.throughput, cfg.throughput).map(Arc::new),
            ),
            retired: CancellationToken::new(),
            throttle_log: LogLimiter::default(),
            binds: AtomicU32::new(0),
            receivers: ArcSwap::from_pointee(Vec::new()),
            rr: AtomicUsize::new(0),
            room: tokio::sync::Notify::new(),
            room_waiters: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            rate: AccountRate::new(100_000, Instant::now()),
            filter_policy: ArcSwap::from_pointee(policy_of(&cfg)),
            kick: ArcSwap::from_pointee(CancellationToken::new()),
            cfg: ArcSwap::from_pointee(cfg),
        }
    }

    /// The token its sessions watch for suspension.
    pub(crate) fn kick_token(&self) -> CancellationToken {
        (**self.kick.load()).clone()
    }

    /// Unbinds every session of the account (it was suspended).
    pub(crate) fn suspend(&self) {
        let old = self.kick.swap(Arc::new(CancellationToken::new()));
        old.cancel();
    }

    /// The account's settings now.
    pub(crate) fn cfg(&self) -> arc_swap::Guard<Arc<AccountConfig>> {
        self.cfg.load()
    }

    /// Applies reloaded settings (same system_id, sid and password):
    /// limits take effect at once for every session.
    fn update(&self, cfg: AccountConfig) {
        self.filter_policy.store(Arc::new(policy_of(&cfg)));
        if cfg.throughput != self.cfg.load().throughput {
            self.bucket
                .store(TokenBucket::new(cfg.throughput, cfg.throughput).map(Arc::new));
        }
        self.cfg.store(Arc::new(cfg));
    }

    fn receivers(&self) -> arc_swap::Guard<Arc<Vec<Arc<SessionShared>>>> {
        self.receivers.load()
    }

    /// Counts a bind against `max_binds`; false when the account is full.
    pub(crate) fn register(&self, s: &Arc<SessionShared>, kind: BindType) -> bool {
        let max = self.cfg.load().max_binds;
        if self
            .binds
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                (b < max).then_some(b + 1)
            })
            .is_err()
        {
            return false;
        }
        if kind.can_receive() {
            self.receivers.rcu(|v| {
                let mut v = Vec::clone(v);
                v.push(Arc::clone(s));
                v
            });
        }
        true
    }

    pub(crate) fn unregister(&self, s: &Arc<SessionShared>, kind: BindType) {
        self.binds.fetch_sub(1, Ordering::AcqRel);
        if kind.can_receive() {
            self.receivers.rcu(|v| {
                let mut v = Vec::clone(v);
                v.retain(|r| r.id != s.id);
                v
            });
        }
    }

    /// Takes one message from the throughput bucket.
    pub(crate) fn take_token(&self) -> bool {
        self.bucket.load().as_ref().is_none_or(|b| b.take().is_ok())
    }

    /// A receiver bind with room in its deliver window: the one at `hint`
    /// (modulo their count) first, else round robin.
    /// `r`: [`AccountRt::receivers`], borrowed rather than each pick
    /// taking a count on a session.
    fn pick_receiver_with_room<'a>(
        &self,
        r: &'a [Arc<SessionShared>],
        hint: Option<usize>,
    ) -> Option<&'a Arc<SessionShared>> {
        let n = r.len();
        if n == 0 {
            return None;
        }
        let start = hint.unwrap_or_else(|| self.rr.fetch_add(1, Ordering::Relaxed));
        (0..n).map(|i| &r[(start + i) % n]).find(|s| s.has_room())
    }

    fn has_receiver(&self) -> bool {
        self.receivers().iter().any(|s| s.is_alive())
    }
}

#[derive(Debug)]
struct AuthFailures {
    count: u32,
    since: Instant,
    locked_until: Option<Instant>,
}

/// Most addresses tracked for bind failures; beyond this the oldest are
/// swept early.
const MAX_TRACKED_IPS: usize = 100_000;

/// Settings the data path reads for every message, copied out of each
/// runtime as it is put in place ([`Core::set_runtime`]), so reading one
/// is an atomic load rather than a load of the whole runtime.
#[derive(Debug, Default)]
struct HotSettings {
    /// `[dlr].ttl` in seconds.
    dlr_ttl_s: AtomicU64,
    /// `[dlr].final_ttl` in seconds.
    dlr_final_ttl_s: AtomicU64,
    /// `[server].window`.
    window: AtomicU32,
}

impl HotSettings {
    fn set(&self, rt: &Runtime) {
        let dlr = &rt.config.dlr;
        self.dlr_ttl_s
            .store(dlr.ttl.get().as_secs(), Ordering::Relaxed);
        self.dlr_final_ttl_s
            .store(dlr.final_ttl.get().as_secs(), Ordering::Relaxed);
        self.window.store(rt.server.window, Ordering::Relaxed);
    }
}

/// What the data path shares.
#[derive(Debug)]
pub(crate) struct Core {
    /// Everything a reload replaces, swapped as one.
    rt: ArcSwap<Runtime>,
    /// Copies of a few of `rt`'s settings.
    hot: HotSettings,
    /// One reload at a time.
    reload_lock: tokio::sync::Mutex<()>,
    /// Carriers being drained after a reload removed or changed them.
    retiring: Mutex<Vec<Arc<CarrierPool>>>,
    ids: IdGenerator,
    dlr: Arc<dyn DlrStore>,
    held: Mutex<HeldQueues<(Body, DeliverKind)>>,
    late: LateQueue<LateReceipt>,
    verifier: PasswordVerifier,
    auth_failures: DashMap<IpAddr, AuthFailures>,
    connections: AtomicU32,
    /// Numbers ESME sessions in the order they open (see `OutTx::id`).
    session_numbers: AtomicUsize,
    pub(crate) stats: Stats,
    held_full_log: LogLimiter,
    pub(crate) shutdown: CancellationToken,
    /// Carrier binds and background tasks.
    pub(crate) tracker: TaskTracker,
    /// Listeners and ESME sessions (they end before the carriers do).
    pub(crate) sessions: TaskTracker,
    /// Reassembly, velocity counters and suspensions.
    pub(crate) filter: FilterCore,
    /// The CDR writer and store, when `[cdr]` is there.
    cdr: Option<cdrs::CdrCore>,
}

/// The reloadable part of the gateway: the configuration and what is
/// built from it. Accounts and carriers keep their indexes across reloads
/// (see [`RoutingTable::build_indexed`]), so a route looked up in one
/// snapshot always names carriers of that snapshot.
#[derive(Debug)]
pub(crate) struct Runtime {
    /// 1 at start, +1 per successful reload.
    pub(crate) version: u64,
    pub(crate) config: Arc<Config>,
    pub(crate) server: Arc<ServerConfig>,
    /// By [`AccountIdx`]; `None` for an index not in use.
    accounts: Vec<Option<Arc<AccountRt>>>,
    by_system_id: HashMap<String, Arc<AccountRt>, crate::hash::Mix>,
    /// By [`CarrierIdx`]; `None` for an index not in use.
    carriers: Vec<Option<Arc<CarrierPool>>>,
    by_carrier: HashMap<String, Arc<CarrierPool>>,
    routes: RoutingTable,
    mo: MoTable,
    /// The content filter, when `[filter]` is there and enabled.
    filter: Option<Arc<Engine>>,
    /// The CDR pseudonym key, when `[cdr]` is there.
    cdr_key: Option<Arc<crate::cdr::pseudonym::Pseudonymizer>>,
}

impl Runtime {
    fn account_at(&self, idx: AccountIdx) -> Option<&Arc<AccountRt>> {
        self.accounts.get(usize::from(idx)).and_then(Option::as_ref)
    }

    fn carrier_at(&self, idx: CarrierIdx) -> Option<&Arc<CarrierPool>> {
        self.carriers.get(usize::from(idx)).and_then(Option::as_ref)
    }

    fn accounts(&self) -> impl Iterator<Item = &Arc<AccountRt>> {
        self.accounts.iter().flatten()
    }

    fn carriers(&self) -> impl Iterator<Item = &Arc<CarrierPool>> {
        self.carriers.iter().flatten()
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// TLS certificate or key problem.
    #[error("TLS: {0}")]
    Tls(String),
    /// The DLR store could not be opened.
    #[error("DLR store {path}: {source}")]
    Store {
        /// Its directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The routing table or a secret is invalid.
    #[error("{0}")]
    Config(String),
}

impl Core {
    /// The current runtime snapshot.
    pub(crate) fn rt(&self) -> arc_swap::Guard<Arc<Runtime>> {
        self.rt.load()
    }

    /// Puts a (re)loaded runtime in place.
    fn set_runtime(&self, rt: Runtime) {
        self.hot.set(&rt);
        self.rt.store(Arc::new(rt));
    }

    /// `[server].window`, as reloaded.
    pub(crate) fn server_window(&self) -> u32 {
        self.hot.window.load(Ordering::Relaxed)
    }

    /// The current runtime snapshot, owned.
    pub(crate) fn rt_full(&self) -> Arc<Runtime> {
        self.rt.load_full()
    }

    /// The current `[server]` settings.
    pub(crate) fn server(&self) -> Arc<ServerConfig> {
        self.rt.load().server.clone()
    }

    pub(crate) fn try_open_connection(&self) -> bool {
        let max = self.rt().server.max_connections;
        self.connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < max).then_some(c + 1)
            })
            .is_ok()
    }

    /// The next ESME session's number: consecutive sessions spread over
    /// a carrier's binds.
    pub(crate) fn next_session_number(&self) -> usize {
        self.session_numbers.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn close_connection(&self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }

    fn account(&self, system_id: &str) -> Option<Arc<AccountRt>> {
        self.rt().by_system_id.get(system_id).cloned()
    }

    fn locked_out(&self, ip: IpAddr) -> bool {
        self.auth_failures
            .get(&ip)
            .and_then(|f| f.locked_until)
            .is_some_and(|t| t > Instant::now())
    }

    fn record_auth_failure(&self, ip: IpAddr) {
        self.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
        if self.auth_failures.len() >= MAX_TRACKED_IPS {
            self.sweep_auth_failures();
        }
        let now = Instant::now();
        let server = self.server();
        let window = server.auth_failure_window.get();
        let mut e = self.auth_failures.entry(ip).or_insert(AuthFailures {
            count: 0,
            since: now,
            locked_until: None,
        });
        if now.duration_since(e.since) > window {
            e.count = 0;
            e.since = now;
        }
        e.count += 1;
        if e.count >= server.auth_max_failures.max(1) {
            e.locked_until = Some(now + server.auth_lockout.get());
            tracing::warn!(peer = %ip, "too many failed binds; address locked out");
        }
    }

    fn sweep_auth_failures(&self) {
        let now = Instant::now();
        let window = self.rt().server.auth_failure_window.get();
        self.auth_failures.retain(|_, f| {
            f.locked_until.is_some_and(|t| t > now) || now.duration_since(f.since) <= window
        });
    }

    /// Checks a bind: lockout, system_id and password, source address,
    /// bind type. Wrong credentials are answered after a delay.
    pub(crate) async fn authenticate(
        &self,
        ip: IpAddr,
        system_id: &str,
        password: &[u8],
        kind: BindType,
    ) -> Result<Arc<AccountRt>, CommandStatus> {
        if self.locked_out(ip) {
            return Err(CommandStatus::ESME_RBINDFAIL);
        }
        let delay = self.rt().server.auth_failure_delay.get();
        let Some(account) = self.account(system_id) else {
            self.record_auth_failure(ip);
            tracing::info!(peer = %ip, "bind with unknown system_id");
            tokio::time::sleep(delay).await;
            return Err(CommandStatus::ESME_RINVSYSID);
        };
        let cfg = account.cfg().clone();
        if !self
            .verifier
            .verify_async(&cfg.password_hash, password)
            .await
        {
            self.record_auth_failure(ip);
            tracing::info!(peer = %ip, account = %account.sid, "bind with wrong password");
            tokio::time::sleep(delay).await;
            return Err(CommandStatus::ESME_RINVPASWD);
        }
        if !cfg.allowed_ips.is_empty() && !cfg.allowed_ips.iter().any(|n| n.contains(&ip)) {
            self.record_auth_failure(ip);
            tracing::info!(peer = %ip, account = %account.sid, "bind from an address not allowed");
            tokio::time::sleep(delay).await;
            return Err(CommandStatus::ESME_RBINDFAIL);
        }
        if !cfg.bind_types.contains(&kind) {
            tracing::info!(account = %account.sid, kind = kind.as_str(), "bind type not allowed");
            return Err(CommandStatus::ESME_RINVBNDSTS);
        }
        Ok(account)
    }

    /// Puts the DLR mapping for an accepted message in place; called by the
    /// carrier bind's reader before the response is handed on.
    pub(crate) fn record_mapping(
        self: &Arc<Self>,
        pool: &CarrierPool,
        meta: &DlrMeta,
        carrier_id: &[u8],
    ) {
        let expires_at = dlr::store::unix_now() + self.hot.dlr_ttl_s.load(Ordering::Relaxed);
        // Normalised once, for the mapping and the parked receipts' key.
        let id = dlr::store::MsgId::normalized(carrier_id);
        let mapping = || dlr::Mapping {
            carrier: pool.name,
            carrier_msg_id: id.clone(),
            account: meta.account,
            gateway_id: meta.gateway_id,
            expires_at,
            state: 0,
            registered_delivery: meta.registered_delivery,
        };
        self.dlr.insert(mapping());
        // Receipts of this message that came in ahead of it are answered
        // by what was just stored.
        let early = self.late.take(
            || (self.late.key_normalized(&pool.name, &id), &id),
            |r, id| {
                r.carrier == pool.name
                    && r.view
                        .id
                        .as_deref()
                        .is_some_and(|cid| dlr::store::MsgId::normalized(cid) == **id)
            },
        );
        if early.is_empty() {
            return;
        }
        let m = mapping();
        for r in early {
            self.answer_late(Some(m.clone()), r);
        }
    }

    /// Answers one request of a bound transmitter/transceiver other than
    /// submit_sm and data_sm (which go through [`Core::submit`]).
    pub(crate) async fn handle_request(&self, account: &AccountRt, seq: u32, body: Body) -> Pdu {
        let id = body.command_id();
        match body {
            Body::SubmitMulti(m) => self.submit_multi(account, seq, *m).await,
            Body::QuerySm(q) => self.query(account, seq, *q),
            Body::CancelSm(c) => {
                let message_id = c.message_id.clone();
                let fail = CommandStatus::ESME_RCANCELFAIL;
                self.forward_by_id(account, seq, id, &message_id, fail, |carrier_id| {
                    let mut c = c.clone();
                    c.message_id = carrier_id;
                    Body::CancelSm(c)
                })
                .await
            }
            Body::ReplaceSm(r) => {
                let message_id = r.message_id.clone();
                let fail = CommandStatus::ESME_RREPLACEFAIL;
                self.forward_by_id(account, seq, id, &message_id, fail, |carrier_id| {
                    let mut r = r.clone();
                    r.message_id = carrier_id;
                    Body::ReplaceSm(r)
                })
                .await
            }
            _ => Pdu::error_response(id, seq, CommandStatus::ESME_RINVCMDID),
        }
    }

    fn answer(
        &self,
        id: CommandId,
        seq: u32,
        gw: u64,
        r: Result<(), CommandStatus>,
        account: &AccountRt,
    ) -> Out {
        match r {
            Ok(()) => {
                self.stats.submitted.add(1);
                Out::IdResp {
                    command_id: id.response().0,
                    seq,
                    id: format_id(gw),
                }
            }
            Err(status) => {
                self.stats.submit_failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(account = %account.sid, id = %String::from_utf8_lossy(&format_id(gw)), %status, "submit failed");
                Out::Pdu(Pdu::error_response(id, seq, status))
            }
        }
    }

    /// Routes and sends one message frame, failing over along the route and
    /// retrying after push-back until the submit deadline.
    #[allow(clippy::too_many_arguments)]
    async fn forward(
        &self,
        account: &AccountRt,
        frame: &[u8],
        (ton, npi, dest): (u8, u8, &[u8]),
        seed: u64,
        meta: DlrMeta,
        deadline: Instant,
        exclude: Option<CarrierIdx>,
        mut outcome: Outcome,
        sent: &mut cdrs::Outcome,
    ) -> Result<(), CommandStatus> {
        let rt = self.rt.load_full();
        let mut cands = [0 as CarrierIdx; MAX_CANDIDATES];
        let n = {
            let Some(route) = rt.routes.lookup(account.idx, ton, npi, dest) else {
                tracing::info!(account = %account.sid, "no route for destination");
                account.metrics.message(None, MessageResult::NoRoute);
                return Err(CommandStatus::ESME_RINVDSTADR);
            };
            sent.route_prefix = Some(route.prefix_shared().clone());
            let mut n = 0;
            for c in route.candidates(seed).take(MAX_CANDIDATES) {
                cands[n] = c;
                n += 1;
            }
            n
        };
        let cands = &cands[..n];
        // Per candidate: still worth trying (a permanent reject is not).
        let mut open = [true; MAX_CANDIDATES];
        for (i, &c) in cands.iter().enumerate() {
            if Some(c) == exclude {
                open[i] = false;
            }
        }
        let mut round: u32 = 0;
        // The carrier the metrics name for a message that fails.
        let mut last = exclude;
        loop {
            let mut retry_at: Option<Instant> = None;
            for (i, &c) in cands.iter().enumerate() {
                if !open[i] {
                    continue;
                }
                let Some(pool) = rt.carrier_at(c) else {
                    open[i] = false;
                    continue;
                };
                last = Some(c);
                sent.carrier = Some(pool.name);
                let (r, latency) = pool.send_timed(frame, Some(meta.clone()), deadline).await;
                sent.latency = latency;
                match r {
                    Ok(resp) if resp.command_status.is_ok() => {
                        let carrier = Some((c as usize, &*pool.name));
                        account.metrics.message(carrier, MessageResult::Ok);
                        return Ok(());
                    }
                    Ok(resp) => {
                        let st = resp.command_status;
                        if st == CommandStatus::ESME_RTHROTTLED
                            || st == CommandStatus::ESME_RMSGQFUL
                        {
                            pool.push_back();
                            account.metrics.throttled(Throttle::Carrier);
                            outcome.throttled = Some(st);
                            retry_at = earliest(retry_at, pool.paused_until());
                        } else {
                            tracing::info!(carrier = %pool.name, account = %account.sid, status = %st, "carrier rejected message");
                            outcome.rejected = Some(st);
                            open[i] = false;
                        }
                    }
                    Err(SendError::Paused(until)) => {
                        outcome
                            .throttled
                            .get_or_insert(CommandStatus::ESME_RTHROTTLED);
                        retry_at = earliest(retry_at, Some(until));
                    }
                    Err(SendError::Down | SendError::Busy) => outcome.unavailable = true,
                    Err(SendError::Timeout | SendError::ConnectionLost) => outcome.unsure = true,
                }
                if Instant::now() >= deadline {
                    break;
                }
            }
            if !open[..n].iter().any(|&o| o) {
                break;
            }
            let backoff = Duration::from_millis(20u64 << round.min(6));
            let at = retry_at.unwrap_or_else(|| Instant::now() + backoff);
            if at >= deadline {
                break;
            }
            tokio::time::sleep_until(at.into()).await;
            round += 1;
        }
        let carrier = last
            .and_then(|c| rt.carrier_at(c))
            .map(|p| (usize::from(p.idx), &*p.name));
        account.metrics.message(carrier, outcome.result());
        Err(outcome.status())
    }

    async fn submit_multi(
        &self,
        account: &AccountRt,
        seq: u32,
        m: telegate_smpp::pdu::SubmitMulti,
    ) -> Pdu {
        let gw = self.ids.next();
        let mut unsuccess = Vec::new();
        let mut sent = Vec::new();
        for d in &m.dests {
            match d {
                DestAddress::DistributionList(_) => {
                    // Distribution lists live on SMSCs, not here.
                    unsuccess.push(UnsuccessSme {
                        address: Default::default(),
                        error_status_code: CommandStatus::ESME_RINVDLNAME,
                    });
                }
                DestAddress::Sme(addr) => {
                    let sm = SubmitSm {
                        service_type: m.service_type.clone(),
                        source: m.source.clone(),
                        dest: addr.clone(),
                        esm_class: m.esm_class,
                        protocol_id: m.protocol_id,
                        priority_flag: m.priority_flag,
                        schedule_delivery_time: m.schedule_delivery_time.clone(),
                        validity_period: m.validity_period.clone(),
                        registered_delivery: m.registered_delivery,
                        replace_if_present_flag: m.replace_if_present_flag,
                        data_coding: m.data_coding,
                        sm_default_msg_id: m.sm_default_msg_id,
                        short_message: m.short_message.clone(),
                        tlvs: m.tlvs.clone(),
                    };
                    sent.push((addr.clone(), Pdu::new(1, Body::SubmitSm(Box::new(sm)))));
                }
            }
        }
        // A CDR per destination; with the writer behind, none is sent.
        let mut drafts = Vec::with_capacity(sent.len());
        {
            let rt = self.rt_full();
            let received = Instant::now();
            let source = (m.source.ton.0, m.source.npi.0, &m.source.addr[..]);
            for (addr, pdu) in &sent {
                let concat = match &pdu.body {
                    Body::SubmitSm(sm) => crate::filter::reassembly::concat_info(sm),
                    _ => None,
                };
                let dest = (addr.ton.0, addr.npi.0, &addr.addr[..]);
                match self.cdr_draft(&rt, received, source, dest, m.data_coding, concat) {
                    Ok(d) => drafts.push(d),
                    Err(()) => {
                        account.metrics.throttled(Throttle::CdrWriter);
                        return Pdu::error_response(
                            CommandId::SUBMIT_MULTI,
                            seq,
                            CommandStatus::ESME_RTHROTTLED,
                        );
                    }
                }
            }
        }
        let addrs: Vec<&[u8]> = sent.iter().map(|(a, _)| &a.addr[..]).collect();
        if !addrs.is_empty() {
            if let Err(status) = self.filter_multi(account, &m, &addrs, gw) {
                self.stats.submit_failed.fetch_add(1, Ordering::Relaxed);
                for mut c in drafts.into_iter().flatten() {
                    c.verdict = crate::cdr::record::Verdict::Block;
                    self.finish_cdr(
                        c,
                        &account.sid,
                        gw,
                        m.registered_delivery,
                        status,
                        cdrs::SentTo::default(),
                        Instant::now(),
                    );
                }
                return Pdu::error_response(CommandId::SUBMIT_MULTI, seq, status);
            }
        }
        drop(addrs);
        // Each destination is routed and sent on its own, concurrently.
        let results = futures_join(sent.into_iter().zip(drafts).map(|((addr, pdu), cdr)| {
            let meta = DlrMeta {
                account: account.system_id,
                gateway_id: gw,
                registered_delivery: m.registered_delivery,
            };
            async move {
                let mut sent = cdrs::Outcome::default();
                let r = match pdu.to_bytes() {
                    Ok(frame) => {
                        let dest = (addr.ton.0, addr.npi.0, &addr.addr[..]);
                        let deadline = Instant::now() + self.rt().server.submit_deadline.get();
                        self.forward(
                            account,
                            &frame,
                            dest,
                            gw,
                            meta,
                            deadline,
                            None,
                            Outcome::default(),
                            &mut sent,
                        )
                        .await
                    }
                    Err(_) => Err(CommandStatus::ESME_RINVMSGLEN),
                };
                if let Some(c) = cdr {
                    let status = r.err().unwrap_or(CommandStatus::ESME_ROK);
                    self.finish_cdr(
                        c,
                        &account.sid,
                        gw,
                        m.registered_delivery,
                        status,
                        sent.sent(),
                        Instant::now(),
                    );
                }
                (addr, r)
            }
        }))
        .await;
        let mut ok = 0;
        for (addr, r) in results {
            match r {
                Ok(()) => ok += 1,
                Err(status) => unsuccess.push(UnsuccessSme {
                    address: addr,
                    error_status_code: status,
                }),
            }
        }
        if ok == 0 {
            self.stats.submit_failed.fetch_add(1, Ordering::Relaxed);
            return Pdu::error_response(
                CommandId::SUBMIT_MULTI,
                seq,
                CommandStatus::ESME_RSUBMITFAIL,
            );
        }
        self.stats.submitted.add(1);
        Pdu::new(
            seq,
            Body::SubmitMultiResp(Box::new(SubmitMultiResp {
                message_id: Bytes::copy_from_slice(&format_id(gw)),
                unsuccess,
                tlvs: Vec::new(),
            })),
        )
    }

    /// The mapping of a gateway message id, if this account owns it.
    fn own_message(&self, account: &AccountRt, message_id: &[u8]) -> Option<dlr::Mapping> {
        let gw = parse_id(message_id)?;
        let m = self.dlr.by_gateway_id(gw)?;
        (*m.account == *account.system_id).then_some(m)
    }

    fn query(&self, account: &AccountRt, seq: u32, q: telegate_smpp::pdu::QuerySm) -> Pdu {
        let Some(m) = self.own_message(account, &q.message_id) else {
            return Pdu::error_response(CommandId::QUERY_SM, seq, CommandStatus::ESME_RINVMSGID);
        };
        let state = if m.state == 0 {
            MessageState::ENROUTE.0
        } else {
            m.state
        };
        Pdu::new(
            seq,
            Body::QuerySmResp(Box::new(QuerySmResp {
                message_id: q.message_id,
                final_date: Bytes::new(),
                message_state: state,
                error_code: 0,
            })),
        )
    }

    /// cancel_sm / replace_sm: sent to the carrier that took the message,
    /// under the carrier's id; its answer comes back to the ESME.
    async fn forward_by_id(
        &self,
        account: &AccountRt,
        seq: u32,
        id: CommandId,
        message_id: &[u8],
        fail: CommandStatus,
        build: impl FnOnce(Bytes) -> Body,
    ) -> Pdu {
        let Some(m) = self.own_message(account, message_id) else {
            return Pdu::error_response(id, seq, CommandStatus::ESME_RINVMSGID);
        };
        let Some(pool) = self.rt().by_carrier.get(&*m.carrier).cloned() else {
            return Pdu::error_response(id, seq, fail);
        };
        let body = build(Bytes::copy_from_slice(&m.carrier_msg_id));
        let Ok(frame) = Pdu::new(1, body).to_bytes() else {
            return Pdu::error_response(id, seq, fail);
        };
        let deadline = Instant::now() + self.rt().server.submit_deadline.get();
        match pool.send(&frame, None, deadline).await {
            Ok(resp) if resp.command_status.is_ok() => Pdu::new(
                seq,
                if id == CommandId::CANCEL_SM {
                    Body::CancelSmResp
                } else {
                    Body::ReplaceSmResp
                },
            ),
            // The carrier's own refusal of a known message is passed on;
            // a carrier that does not support the operation is a failure
            // of it.
            Ok(resp)
                if resp.command_status == CommandStatus::ESME_RINVCMDID
                    || resp.command_status == CommandStatus::ESME_RSYSERR =>
            {
                Pdu::error_response(id, seq, fail)
            }
            Ok(resp) => Pdu::error_response(id, seq, resp.command_status),
            Err(_) => Pdu::error_response(id, seq, fail),
        }
    }

    /// A deliver_sm from a carrier: a receipt, or MO. Handled on the
    /// bind's reader when it can be (the usual case); the status is the
    /// carrier's deliver_sm_resp. A receipt whose mapping is not in place
    /// yet comes back as [`Inbound::Late`] for [`Core::park_late_receipt`].
    /// `bind`: the carrier bind's connection number (`OutTx::id`); what
    /// one carrier bind brings goes to one receiver bind while it has
    /// room, so receipts read together are written together.
    pub(crate) fn on_carrier_deliver(
        self: &Arc<Self>,
        carrier: Name,
        sm: Box<SubmitSm>,
        bind: usize,
    ) -> Inbound {
        if !receipts::is_receipt(sm.esm_class) {
            return self.on_mo(carrier, sm, bind);
        }
        let view = receipts::ReceiptView::of(&sm);
        if view.id.is_none() {
            self.stats.dlr_unmatched.fetch_add(1, Ordering::Relaxed);
            metrics::dlr(DlrResult::Unmatched);
            tracing::info!(carrier = %carrier, "receipt without a message id");
            return Inbound::Done(CommandStatus::ESME_ROK);
        }
        self.match_receipt(carrier, sm, view, bind)
    }

    /// A receipt with an id, looked up under its exact spelling: delivered
    /// by its mapping, or [`Inbound::Late`] without one. The bind's reader
    /// tries a late one again once it has handled the rest of its read and
    /// let the other binds' readers run: most that overtook their
    /// submit_sm_resp find their mapping then, without being parked.
    pub(crate) fn match_receipt(
        self: &Arc<Self>,
        carrier: Name,
        sm: Box<SubmitSm>,
        view: receipts::ReceiptView,
        bind: usize,
    ) -> Inbound {
        let found = view
            .id
            .as_deref()
            .and_then(|cid| self.dlr.lookup_exact(&carrier, cid));
        match found {
            Some(m) => self.receipt_matched(m, sm, &view, Some(bind)),
            None => Inbound::Late(sm, view),
        }
    }

    /// A receipt that found no mapping at once: it may have overtaken its
    /// submit_sm_resp on another bind. It is parked until that mapping is
    /// recorded ([`Core::record_mapping`] answers it then), or until the
    /// sweeper tries the hex/decimal readings of its id after a short grace
    /// ([`Core::late_sweeper`]); those are not tried at once, so they never
    /// land on another message's mapping while this one's is on its way.
    pub(crate) fn park_late_receipt(self: &Arc<Self>, r: LateReceipt) {
        let Some(cid) = r.view.id.clone() else {
            return self.answer_late(None, r);
        };
        let key = self.late.key(&r.carrier, &cid);
        let carrier = r.carrier;
        match self.late.park(key, Instant::now(), r, || {
            self.dlr.lookup_exact(&carrier, &cid)
        }) {
            Ok(()) => {
                self.stats.dlr_parked.fetch_add(1, Ordering::Relaxed);
            }
            Err((r, m)) => self.answer_late(Some(m), r),
        }
    }

    /// Answers a parked receipt: delivers it by its mapping, or, with
    /// none, counts it unmatched and acknowledges it to the carrier.
    fn answer_late(self: &Arc<Self>, m: Option<dlr::Mapping>, r: LateReceipt) {
        let LateReceipt {
            carrier,
            sm,
            view,
            reply,
            seq,
            permit,
        } = r;
        let status = match m {
            None => {
                self.stats.dlr_unmatched.fetch_add(1, Ordering::Relaxed);
                metrics::dlr(DlrResult::Unmatched);
                tracing::info!(carrier = %carrier, "receipt matches no submitted message");
                CommandStatus::ESME_ROK
            }
            Some(m) => {
                match self.receipt_matched(m, sm, &view, Some(reply.id())) {
                    Inbound::Done(status) => status,
                    Inbound::Late(..) => CommandStatus::ESME_ROK,
                    Inbound::Wait(account, body, kind) => {
                        // The ESME is behind: wait for room off this task.
                        let core = self.clone();
                        tokio::spawn(async move {
                            let status = core.dispatch_wait(&account, body, kind).await;
                            let _ = reply.send(Out::Pdu(deliver_sm_resp(seq, status)));
                            drop(permit);
                        });
                        return;
                    }
                }
            }
        };
        let _ = reply.send(Out::Pdu(deliver_sm_resp(seq, status)));
    }

    /// Gives parked receipts their second chance: after [`RADIX_GRACE`],
    /// the hex/decimal readings of the id are tried too, every
    /// [`LATE_RECHECK`], until `[dlr].match_wait` has passed.
    async fn late_sweeper(self: Arc<Self>) {
        // Past the grace, in order of their next check (always now + a
        // constant, so pushing at the back keeps the order).
        let mut slow: VecDeque<(Instant, Instant, LateReceipt)> = VecDeque::new();
        loop {
            if slow.is_empty() {
                tokio::select! {
                    _ = self.late.parked() => {}
                    _ = self.shutdown.cancelled() => break,
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(LATE_TICK) => {}
                _ = self.shutdown.cancelled() => break,
            }
            let wait = self.rt().config.dlr.match_wait.get();
            let grace = RADIX_GRACE.min(wait);
            let now = Instant::now();
            if let Some(cutoff) = now.checked_sub(grace) {
                for (_, since, r) in self.late.take_due(cutoff) {
                    self.retry_late(now, since, wait, r, &mut slow);
                }
            }
            while slow.front().is_some_and(|(next, _, _)| *next <= now) {
                if let Some((_, since, r)) = slow.pop_front() {
                    self.retry_late(now, since, wait, r, &mut slow);
                }
            }
        }
        // Unanswered receipts are sent again by their carriers.
        drop(self.late.drain());
    }

    fn retry_late(
        self: &Arc<Self>,
        now: Instant,
        since: Instant,
        wait: Duration,
        r: LateReceipt,
        slow: &mut VecDeque<(Instant, Instant, LateReceipt)>,
    ) {
        let m = r
            .view
            .id
            .as_ref()
            .and_then(|cid| self.dlr.lookup(&r.carrier, cid));
        if m.is_some() || now >= since + wait {
            self.answer_late(m, r);
        } else {
            slow.push_back((now + LATE_RECHECK, since, r));
        }
    }

    fn receipt_matched(
        self: &Arc<Self>,
        m: dlr::Mapping,
        mut sm: Box<SubmitSm>,
        view: &receipts::ReceiptView,
        bind: Option<usize>,
    ) -> Inbound {
        let (state, err) = (view.state, view.err);
        // Looked up once, for the CDR or the delivery, whichever needs it
        // first; borrowed from the runtime, so no shared count is written.
        let rt = self.rt();
        let mut account: Option<Option<&Arc<AccountRt>>> = None;
        if let Some(s) = state {
            let is_final = !matches!(
                MessageState(s),
                MessageState::ENROUTE | MessageState::ACCEPTED | MessageState::SCHEDULED
            );
            // A final state leaves a CDR (once: a repeated receipt does not
            // add another). With the writer behind, the carrier is asked to
            // send the receipt again later.
            if is_final && m.state != s {
                match self.cdr_receipt_slot() {
                    Err(()) => return Inbound::Done(CommandStatus::ESME_RTHROTTLED),
                    Ok(None) => {}
                    Ok(Some(permit)) => {
                        let account =
                            account.get_or_insert_with(|| rt.by_system_id.get(&*m.account));
                        let sid = account.as_ref().map_or(&*m.account, |a| &*a.sid);
                        self.write_receipt_cdr(permit, sid, &m.carrier, m.gateway_id, s, err);
                    }
                }
            }
            self.dlr.set_state(
                m.gateway_id,
                s,
                is_final
                    .then(|| Duration::from_secs(self.hot.dlr_final_ttl_s.load(Ordering::Relaxed))),
            );
        }
        metrics::dlr(DlrResult::Matched);
        let delivered = state == Some(MessageState::DELIVERED.0);
        let intermediate = sm.esm_class & 0x3C == 0x20;
        let wanted = if intermediate {
            m.registered_delivery & 0x10 != 0
        } else {
            match m.registered_delivery & 0x03 {
                0 => false,
                1 => true,
                2 => !delivered,
                _ => delivered,
            }
        };
        if !wanted {
            return Inbound::Done(CommandStatus::ESME_ROK);
        }
        let Some(account) = account.unwrap_or_else(|| rt.by_system_id.get(&*m.account)) else {
            return Inbound::Done(CommandStatus::ESME_ROK);
        };
        view.rewrite(&mut sm, &format_id(m.gateway_id));
        self.try_dispatch(account, Body::DeliverSm(sm), DeliverKind::Receipt, bind)
    }

    fn on_mo(self: &Arc<Self>, carrier: Name, sm: Box<SubmitSm>, bind: usize) -> Inbound {
        let rt = self.rt();
        let owner = rt.mo.lookup(
            &rt.config.routing,
            sm.dest.ton.0,
            sm.dest.npi.0,
            &sm.dest.addr,
        );
        let Some(account) = owner.and_then(|idx| rt.account_at(idx)).cloned() else {
            self.stats.mo_unknown.fetch_add(1, Ordering::Relaxed);
            metrics::mo(MoResult::NoOwner);
            tracing::info!(carrier = %carrier, "MO for a number no account owns");
            return Inbound::Done(CommandStatus::ESME_RINVDSTADR);
        };
        drop(rt);
        self.try_dispatch(&account, Body::DeliverSm(sm), DeliverKind::Mo, Some(bind))
    }

    /// Takes custody of a deliver_sm without waiting when it can: sent to a
    /// receiver bind with room, or held while the account has no receiver
    /// bind (up to the held limit). While the account's binds are bound
    /// but busy and a backlog has built up, it asks the carrier's reader to
    /// wait ([`Core::dispatch_wait`]), which slows the carrier through TCP
    /// instead of refusing its receipts.
    fn try_dispatch(
        self: &Arc<Self>,
        account: &Arc<AccountRt>,
        body: Body,
        kind: DeliverKind,
        bind: Option<usize>,
    ) -> Inbound {
        let backlog = self.held_len(account);
        if backlog == 0 {
            let r = account.receivers();
            if let Some(s) = account.pick_receiver_with_room(&r, bind) {
                match s.try_deliver(body, kind) {
                    Ok(()) => return Inbound::Done(CommandStatus::ESME_ROK),
                    Err(b) => return self.try_dispatch_held(account, b, kind, backlog),
                }
            }
        }
        self.try_dispatch_held(account, body, kind, backlog)
    }

    fn try_dispatch_held(
        self: &Arc<Self>,
        account: &Arc<AccountRt>,
        body: Body,
        kind: DeliverKind,
        backlog: usize,
    ) -> Inbound {
        let soft = (self.rt().config.dlr.held_per_account as usize).clamp(1, HELD_SOFT_LIMIT);
        if account.has_receiver() && backlog >= soft {
            return Inbound::Wait(Arc::clone(account), body, kind);
        }
        let status = self.hold(account, body, kind);
        self.drain_held(account);
        Inbound::Done(status)
    }

    /// Waits (up to the response timeout, at most 5 s) for the account's
    /// binds to make room, then takes custody; `ESME_RMSGQFUL` if it still
    /// cannot.
    pub(crate) async fn dispatch_wait(
        self: &Arc<Self>,
        account: &Arc<AccountRt>,
        mut body: Body,
        kind: DeliverKind,
    ) -> CommandStatus {
        // Bounded so the carrier's own keep-alives on this bind are not
        // left unanswered for long.
        let wait = self
            .rt()
            .server
            .response_timeout
            .get()
            .min(Duration::from_secs(5));
        let deadline = Instant::now() + wait;
        // Counted while waiting, however this returns. A slot freed by a
        // thread that read no waiter is seen by the check below (the count
        // came after that read); one freed by a thread that saw the count
        // notifies, and a notify before the `enable` is seen by the check
        // too (both take the Notify's lock).
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        account.room_waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&account.room_waiters);
        loop {
            let notified = account.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_dispatch(account, body, kind, None) {
                Inbound::Wait(_, b, _) => body = b,
                Inbound::Done(status) => return status,
                Inbound::Late(..) => return CommandStatus::ESME_ROK,
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                return self.dispatch(account, body, kind);
            }
        }
    }

    /// Takes custody of a deliver_sm for an account: sent to a receiver
    /// bind with room in its window, or held until one has room. The
    /// answer is the carrier's: `ESME_RMSGQFUL` when it can be neither
    /// sent nor held, so the carrier tries again later.
    pub(crate) fn dispatch(
        self: &Arc<Self>,
        account: &Arc<AccountRt>,
        body: Body,
        kind: DeliverKind,
    ) -> CommandStatus {
        // Behind what is already held, to keep the order.
        let body = if self.held_len(account) == 0 {
            match account.pick_receiver_with_room(&account.receivers(), None) {
                Some(s) => match s.try_deliver(body, kind) {
                    Ok(()) => return CommandStatus::ESME_ROK,
                    Err(b) => b,
                },
                None => body,
            }
        } else {
            body
        };
        let status = self.hold(account, body, kind);
        self.drain_held(account);
        status
    }

    /// The account's held backlog, read without the queues' lock. It may
    /// still count items that expired; the next drain corrects it.
    fn held_len(&self, account: &AccountRt) -> usize {
        account.held.load(Ordering::Acquire)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HeldQueues<(Body, DeliverKind)>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn hold(&self, account: &AccountRt, body: Body, kind: DeliverKind) -> CommandStatus {
        let pushed = {
            let mut q = self.held();
            let r = q.push(&account.system_id, (body, kind), Instant::now());
            if r.is_ok() {
                account.held.fetch_add(1, Ordering::AcqRel);
            }
            r
        };
        match pushed {
            Ok(()) => {
                self.stats.held.fetch_add(1, Ordering::Relaxed);
                metrics::delivery(kind, Delivery::Held);
                CommandStatus::ESME_ROK
            }
            Err(_) => {
                self.stats.held_full.fetch_add(1, Ordering::Relaxed);
                metrics::delivery(kind, Delivery::HeldFull);
                if self.held_full_log.allow() {
                    tracing::warn!(account = %account.sid, "held-delivery queue full; carrier told ESME_RMSGQFUL");
                }
                CommandStatus::ESME_RMSGQFUL
            }
        }
    }

    /// Sends held deliveries while a receiver bind has room.
    pub(crate) fn drain_held(&self, account: &Arc<AccountRt>) {
        // The common case, every deliver_sm_resp: nothing held, no locks.
        while self.held_len(account) > 0 {
            let r = account.receivers();
            let Some(s) = account.pick_receiver_with_room(&r, None) else {
                break;
            };
            let item = {
                let mut q = self.held();
                let item = q.pop_ready(&account.system_id, Instant::now());
                match item {
                    Some(_) => account.held.fetch_sub(1, Ordering::AcqRel),
                    // Only expired ones were left: count what is there.
                    None => account
                        .held
                        .swap(q.account_len(&account.system_id), Ordering::AcqRel),
                };
                item
            };
            let Some((body, kind)) = item else {
                break;
            };
            if let Err(body) = s.try_deliver(body, kind) {
                let _ = self.hold(account, body, kind);
                break;
            }
        }
        if account.room_waiters.load(Ordering::SeqCst) > 0 {
            account.room.notify_waiters();
        }
    }

    /// The ESME answered a deliver_sm.
    pub(crate) fn delivered(
        &self,
        account: &Arc<AccountRt>,
        d: InFlightDeliver,
        status: CommandStatus,
    ) {
        if status.is_ok() {
            match d.kind {
                DeliverKind::Receipt => self.stats.dlr_delivered.add(1),
                DeliverKind::Mo => _ = self.stats.mo_delivered.fetch_add(1, Ordering::Relaxed),
            }
            metrics::delivery(d.kind, Delivery::Delivered);
        } else if status == CommandStatus::ESME_RX_T_APPN
            || status == CommandStatus::ESME_RTHROTTLED
            || status == CommandStatus::ESME_RMSGQFUL
            || status == CommandStatus::ESME_RSYSERR
        {
            tracing::info!(account = %account.sid, %status, "ESME deferred a deliver_sm; holding it");
            let _ = self.hold(account, d.body, d.kind);
        } else {
            // A permanent refusal: retrying would only repeat it.
            tracing::warn!(account = %account.sid, %status, "ESME refused a deliver_sm; dropped");
        }
        self.drain_held(account);
    }

    /// Deliveries a session could not complete go back to the held queue.
    pub(crate) fn requeue(&self, account: &Arc<AccountRt>, left: Vec<InFlightDeliver>) {
        for d in left {
            if self.hold(account, d.body, d.kind) != CommandStatus::ESME_ROK {
                tracing::warn!(account = %account.sid, "held queue full; a delivery was lost");
            }
        }
        self.drain_held(account);
    }

    /// A submit_sm or data_sm from an ESME, read from its socket at
    /// `received`. Its first try goes out from here, without a task: the
    /// carrier bind's reader answers the ESME. Only when that try cannot go
    /// at once, or fails, does a task take over with failover and retries.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn submit(
        self: &Arc<Self>,
        mut guard: InflightGuard,
        seq: u32,
        frame: Bytes,
        body: Body,
        received: Instant,
    ) {
        let rt = self.rt();
        if rt.filter.is_some() && self.is_suspended(guard.account()) {
            guard.answer(Out::Pdu(stage::suspended_answer(body.command_id(), seq)));
            guard
                .account()
                .metrics
                .message(None, MessageResult::Blocked);
            return;
        }
        let extracted = rt.filter.as_ref().and_then(|_| stage::Extracted::of(&body));
        // The CDR's slot first: with the writer behind, the ESME is
        // throttled before anything is sent.
        let cdr = match &body {
            Body::SubmitSm(sm) => self.cdr_draft(
                &rt,
                received,
                (sm.source.ton.0, sm.source.npi.0, &sm.source.addr),
                (sm.dest.ton.0, sm.dest.npi.0, &sm.dest.addr),
                sm.data_coding,
                crate::filter::reassembly::concat_info(sm),
            ),
            Body::DataSm(sm) => self.cdr_draft(
                &rt,
                received,
                (sm.source.ton.0, sm.source.npi.0, &sm.source.addr),
                (sm.dest.ton.0, sm.dest.npi.0, &sm.dest.addr),
                sm.data_coding,
                sm.tlvs
                    .sar()
                    .filter(|&(_, total, seq)| total >= 2 && seq >= 1 && seq <= total),
            ),
            _ => Ok(None),
        };
        let Ok(cdr) = cdr else {
            guard.account().metrics.throttled(Throttle::CdrWriter);
            guard.answer(Out::Pdu(Pdu::error_response(
                body.command_id(),
                seq,
                CommandStatus::ESME_RTHROTTLED,
            )));
            return;
        };
        let (command, ton, npi, dest, registered_delivery, seed) = match &body {
            // The decoded address is a slice of the frame: no copy.
            Body::SubmitSm(sm) => (
                CommandId::SUBMIT_SM,
                sm.dest.ton.0,
                sm.dest.npi.0,
                sm.dest.addr.clone(),
                sm.registered_delivery,
                concat_seed(guard.account().idx, sm),
            ),
            Body::DataSm(sm) => (
                CommandId::DATA_SM,
                sm.dest.ton.0,
                sm.dest.npi.0,
                sm.dest.addr.clone(),
                sm.registered_delivery,
                None,
            ),
            _ => return,
        };
        drop(body);
        let gw = self.ids.next();
        let seed = seed.unwrap_or(gw);
        let d = Box::new(Direct {
            esme_seq: seq,
            command,
            frame,
            ton,
            npi,
            dest,
            seed,
            gw,
            registered_delivery,
            guard,
            received,
            deadline: received + rt.server.submit_deadline.get(),
            cdr,
        });
        let (d, now) = match (&rt.filter, extracted) {
            (Some(engine), Some(x)) => match self.filter_submit(&rt, engine, d, x) {
                // The filter takes microseconds: read the clock again.
                Some(d) => (d, Instant::now()),
                None => return,
            },
            _ => (d, received),
        };
        self.dispatch_direct_in(&rt, d, now);
    }

    /// Routes a submit and tries its first carrier at once; failover and
    /// retries go to a task. This one is for submits the filter stage held
    /// (segments waiting for the rest of their message): the deadline
    /// counts from their release.
    fn dispatch_direct(self: &Arc<Self>, mut d: Box<Direct>) {
        let rt = self.rt();
        let now = Instant::now();
        d.deadline = d.deadline.max(now + rt.server.submit_deadline.get() / 2);
        self.dispatch_direct_in(&rt, d, now);
    }

    /// [`Core::dispatch_direct`] for a submit taken in just now (at `now`),
    /// with the runtime already loaded.
    fn dispatch_direct_in(self: &Arc<Self>, rt: &Runtime, mut d: Box<Direct>, now: Instant) {
        let route = rt.routes.lookup(d.account().idx, d.ton, d.npi, &d.dest);
        if let (Some(c), Some(r)) = (d.cdr.as_mut(), route) {
            c.set_route_prefix(r.prefix_shared());
        }
        let first = route
            .and_then(|r| r.candidates(d.seed).next())
            .and_then(|c| rt.carrier_at(c));
        let Some(first) = first else {
            // No route: the task path answers it (and logs it).
            self.spawn_forward(d, None, Outcome::default());
            return;
        };
        let meta = d.meta();
        if let Err(d) = first.try_send_direct(d, meta, now) {
            self.spawn_forward(d, None, Outcome::default());
        }
    }

    /// A direct submit's response, or why there is none, read at `now`.
    pub(crate) fn direct_result(
        self: &Arc<Self>,
        pool: &CarrierPool,
        mut d: Box<Direct>,
        r: Result<Pdu, SendError>,
        latency: Duration,
        now: Instant,
    ) {
        let mut outcome = Outcome::default();
        let mut exclude = None;
        match r {
            Ok(p) if p.command_status.is_ok() => {
                if let Some(c) = d.cdr.take() {
                    let sent = cdrs::SentTo {
                        carrier: Some(&pool.name),
                        latency,
                        route_prefix: None,
                    };
                    self.finish_cdr(
                        c,
                        &d.account().sid,
                        d.gw,
                        d.registered_delivery,
                        CommandStatus::ESME_ROK,
                        sent,
                        now,
                    );
                }
                let answer = self.answer(d.command, d.esme_seq, d.gw, Ok(()), d.account());
                d.guard.answer(answer);
                let carrier = Some((pool.idx as usize, &*pool.name));
                d.account().metrics.message(carrier, MessageResult::Ok);
                d.account()
                    .metrics
                    .submit_latency
                    .record(now.duration_since(d.received));
                return;
            }
            Ok(p) => {
                let st = p.command_status;
                if st == CommandStatus::ESME_RTHROTTLED || st == CommandStatus::ESME_RMSGQFUL {
                    pool.push_back();
                    d.account().metrics.throttled(Throttle::Carrier);
                    outcome.throttled = Some(st);
                } else {
                    tracing::info!(carrier = %pool.name, account = %d.account().sid, status = %st, "carrier rejected message");
                    outcome.rejected = Some(st);
                    exclude = Some(pool.idx);
                }
            }
            Err(SendError::Timeout | SendError::ConnectionLost) => outcome.unsure = true,
            Err(_) => outcome.unavailable = true,
        }
        self.spawn_forward(d, exclude, outcome);
    }

    fn spawn_forward(
        self: &Arc<Self>,
        d: Box<Direct>,
        exclude: Option<CarrierIdx>,
        outcome: Outcome,
    ) {
        let core = self.clone();
        tokio::spawn(async move {
            let mut d = d;
            let meta = d.meta();
            let mut sent = cdrs::Outcome::default();
            let r = core
                .forward(
                    d.account(),
                    &d.frame,
                    (d.ton, d.npi, &d.dest),
                    d.seed,
                    meta,
                    d.deadline,
                    exclude,
                    outcome,
                    &mut sent,
                )
                .await;
            if let Some(c) = d.cdr.take() {
                let status = r.err().unwrap_or(CommandStatus::ESME_ROK);
                let sid = d.account().sid.clone();
                core.finish_cdr(
                    c,
                    &sid,
                    d.gw,
                    d.registered_delivery,
                    status,
                    sent.sent(),
                    Instant::now(),
                );
            }
            let answer = core.answer(d.command, d.esme_seq, d.gw, r, d.account());
            d.guard.answer(answer);
            d.account()
                .metrics
                .submit_latency
                .record(d.received.elapsed());
        });
    }

    /// Periodic upkeep: retry held deliveries, expire held items, forget
    /// old bind failures.
    async fn housekeeping(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.shutdown.cancelled() => break,
            }
            let rt = self.rt.load_full();
            {
                let mut q = self.held();
                q.sweep(Instant::now());
                for a in rt.accounts() {
                    a.held.store(q.account_len(&a.system_id), Ordering::Release);
                }
                metrics::set_held_deliveries(q.len());
            }
            metrics::set_dlr_store_entries(self.dlr.len());
            for a in rt.accounts() {
                if a.has_receiver() {
                    self.drain_held(a);
                }
            }
            self.sweep_auth_failures();
        }
    }
}

impl Core {
    fn retiring(&self) -> std::sync::MutexGuard<'_, Vec<Arc<CarrierPool>>> {
        self.retiring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces everything reloadable, atomically: accounts, passwords,
    /// limits, routes, carriers, MO numbers, receipt settings and server
    /// timeouts. The new runtime is built off to the side; on any error
    /// nothing changes.
    ///
    /// * Accounts that stay keep their sessions, with the new limits at
    ///   once; a removed account, or one whose password or sid changed, has
    ///   its sessions unbound.
    /// * Carriers whose settings are unchanged keep their binds and what is
    ///   in flight on them; a changed carrier is bound anew and the old
    ///   binds retire; a removed one stops taking messages and unbinds once
    ///   its window has drained.
    /// * Listener addresses, store paths and sizes, the exporter and admin
    ///   addresses and the log format are not reloadable: a change is
    ///   reported and the running value kept.
    pub(crate) async fn reload(self: &Arc<Self>, new: Config) -> Result<ReloadOutcome, String> {
        let _one_at_a_time = self.reload_lock.lock().await;
        if self.shutdown.is_cancelled() {
            return Err("shutting down".to_owned());
        }
        let prev = self.rt.load_full();
        let (new, ignored) = keep_unreloadable(&prev.config, new);
        let (rt, plan) = match build_runtime(Arc::new(new), Some(&prev)) {
            Ok(x) => x,
            Err(e) => {
                metrics::config_reload(false);
                tracing::error!(error = %e, "reload failed; the running configuration is unchanged");
                return Err(e);
            }
        };
        let version = rt.version;
        self.filter
            .suspensions
            .set_policy(stage::suspension_policy(&rt.config.suspension));
        for p in &plan.new_pools {
            p.start(self);
        }
        self.set_runtime(rt);
        for (a, cfg) in plan.updates {
            a.update(cfg);
        }
        for a in &plan.retired_accounts {
            a.retired.cancel();
        }
        for p in plan.retired_pools {
            self.retiring().push(p.clone());
            let core = self.clone();
            self.tracker.spawn(async move {
                let drain = p.cfg.response_timeout.get().max(Duration::from_secs(1));
                p.retire(drain).await;
                core.retiring().retain(|x| !Arc::ptr_eq(x, &p));
            });
        }
        for c in &plan.changes {
            tracing::info!(version, change = %c, "reload");
        }
        for k in &ignored {
            tracing::warn!(version, key = %k, "changed, but not reloadable; restart to apply");
        }
        metrics::config_reload(true);
        metrics::set_config_version(version);
        tracing::info!(
            version,
            changes = plan.changes.len(),
            ignored = ignored.len(),
            "configuration reloaded"
        );
        Ok(ReloadOutcome {
            version,
            changes: plan.changes,
            ignored,
        })
    }
}

/// [`Gateway::status`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// 1 at start, +1 per successful reload.
    pub config_version: u64,
    /// A graceful shutdown is under way.
    pub stopping: bool,
    /// ESME connections open.
    pub esme_connections: u32,
    /// Every account.
    pub accounts: Vec<AccountStatus>,
    /// Every carrier, including those draining after a reload.
    pub carriers: Vec<CarrierStatus>,
    /// Receipt mappings held.
    pub dlr_entries: usize,
    /// Receipts waiting for their submit_sm_resp.
    pub late_receipts: usize,
    /// Counters since start.
    pub stats: StatsSnapshot,
}

/// One account in [`Status`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountStatus {
    /// Stable account id.
    pub sid: String,
    /// Bind system_id.
    pub system_id: String,
    /// Binds open.
    pub binds: u32,
    /// Most binds allowed.
    pub max_binds: u32,
    /// Receiver-capable binds.
    pub receivers: usize,
    /// Receipts and MO held for it.
    pub held: usize,
    /// msg/s; 0 unlimited.
    pub throughput: u32,
    /// Session window.
    pub window: u32,
}

/// One carrier in [`Status`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct CarrierStatus {
    /// `[[carrier]] name`.
    pub name: String,
    /// State of each bind (`bound`, `connecting`, `down`).
    pub binds: Vec<&'static str>,
    /// Window per bind.
    pub window: u32,
    /// Requests awaiting a response, over all binds.
    pub in_flight: usize,
    /// TPS cap; 0 unlimited.
    pub throughput: u32,
    /// Paused after push-back.
    pub paused: bool,
    /// Draining after a reload removed or changed it.
    pub retiring: bool,
    /// Messages it accepted since start.
    pub accepted: u64,
}

/// What a reload does besides swapping the runtime.
#[derive(Debug, Default)]
struct ReloadPlan {
    new_pools: Vec<Arc<CarrierPool>>,
    retired_pools: Vec<Arc<CarrierPool>>,
    retired_accounts: Vec<Arc<AccountRt>>,
    updates: Vec<(Arc<AccountRt>, AccountConfig)>,
    changes: Vec<String>,
}

/// Copies the keys that cannot change without a restart from `old` into
/// `new`, and names those that differed.
fn keep_unreloadable(old: &Config, mut new: Config) -> (Config, Vec<String>) {
    let mut ignored = Vec::new();
    macro_rules! keep {
        ($($field:ident).+, $name:expr) => {
            if new.$($field).+ != old.$($field).+ {
                ignored.push($name.to_owned());
                new.$($field).+ = old.$($field).+.clone();
            }
        };
    }
    keep!(server.listen, "server.listen");
    keep!(server.tls_listen, "server.tls_listen");
    keep!(server.tls_cert, "server.tls_cert");
    keep!(server.tls_key, "server.tls_key");
    keep!(server.workers, "server.workers");
    keep!(dlr.store, "dlr.store");
    keep!(dlr.max_entries, "dlr.max_entries");
    keep!(dlr.commit_interval, "dlr.commit_interval");
    keep!(dlr.held_per_account, "dlr.held_per_account");
    keep!(dlr.held_ttl, "dlr.held_ttl");
    keep!(metrics.listen, "metrics.listen");
    keep!(admin.listen, "admin.listen");
    keep!(admin.token, "admin.token");
    keep!(log.format, "log.format");
    keep!(suspension.state_dir, "suspension.state_dir");
    keep!(suspension.audit_log, "suspension.audit_log");
    keep!(suspension.webhook, "suspension.webhook");
    // The reassembly buffer and campaign counters are made at start.
    let was = old.filter.clone().unwrap_or_default();
    if let Some(f) = new.filter.as_mut() {
        macro_rules! keep_filter {
            ($($field:ident),+) => {$(
                if f.$field != was.$field {
                    ignored.push(concat!("filter.", stringify!($field)).to_owned());
                    f.$field = was.$field.clone();
                }
            )+};
        }
        keep_filter!(
            campaign_window,
            reassembly_timeout,
            reassembly_max_sets,
            reassembly_max_bytes
        );
    }
    // The CDR writer is made at start: whether there is one, and where and
    // how it writes, stay; retention, sweeping and the key reload.
    match (&old.cdr, new.cdr.as_mut()) {
        (Some(was), Some(c)) => {
            macro_rules! keep_cdr {
                ($($field:ident),+) => {$(
                    if c.$field != was.$field {
                        ignored.push(concat!("cdr.", stringify!($field)).to_owned());
                        c.$field = was.$field.clone();
                    }
                )+};
            }
            keep_cdr!(dir, queue, fsync_interval, audit_log);
        }
        (None, None) => {}
        (was, _) => {
            ignored.push("cdr".to_owned());
            new.cdr = was.clone();
        }
    }
    (new, ignored)
}

/// The lowest index not in `used`.
fn free_index(used: &std::collections::HashSet<u16>) -> Option<u16> {
    (0..u16::MAX).find(|i| !used.contains(i))
}

/// Builds a runtime from `config`, reusing what `prev` has that did not
/// change (see [`Core::reload`]). Errors name the key.
fn build_runtime(
    config: Arc<Config>,
    prev: Option<&Runtime>,
) -> Result<(Runtime, ReloadPlan), String> {
    use std::collections::HashSet;
    let mut plan = ReloadPlan::default();

    // Accounts: an account that stays keeps its index (and, unless its
    // password or sid changed, its run-time state and sessions).
    let mut used: HashSet<u16> = prev
        .map(|p| p.accounts().map(|a| a.idx).collect())
        .unwrap_or_default();
    let mut accounts: Vec<Arc<AccountRt>> = Vec::with_capacity(config.accounts.len());
    // Carrier indexes stay below this (new ones take the lowest free).
    let carrier_cap = prev
        .map_or(0, |p| p.carriers.len())
        .max(config.carriers.len())
        + 1;
    for a in &config.accounts {
        let old = prev.and_then(|p| p.by_system_id.get(&a.system_id));
        let rt = match old {
            Some(old) if old.cfg().password_hash == a.password_hash && *old.sid == *a.sid() => {
                if **old.cfg() != *a {
                    plan.changes
                        .push(format!("account {}: settings updated", a.sid()));
                    plan.updates.push((old.clone(), a.clone()));
                }
                old.clone()
            }
            Some(old) => {
                plan.changes.push(format!(
                    "account {}: password or sid changed; its sessions are unbound",
                    old.sid
                ));
                plan.retired_accounts.push(old.clone());
                Arc::new(AccountRt::new(old.idx, a.clone(), carrier_cap))
            }
            None => {
                let idx = free_index(&used).ok_or("too many accounts")?;
                used.insert(idx);
                plan.changes.push(format!("account {}: added", a.sid()));
                Arc::new(AccountRt::new(idx, a.clone(), carrier_cap))
            }
        };
        accounts.push(rt);
    }
    if let Some(p) = prev {
        for old in p.accounts() {
            if !config
                .accounts
                .iter()
                .any(|a| a.system_id == *old.system_id)
            {
                plan.changes.push(format!(
                    "account {}: removed; its sessions are unbound",
                    old.sid
                ));
                plan.retired_accounts.push(old.clone());
            }
        }
    }

    // Carriers: unchanged ones keep their binds; a changed one is bound
    // anew under the same index.
    let mut used: HashSet<u16> = prev
        .map(|p| p.carriers().map(|c| c.idx).collect())
        .unwrap_or_default();
    let mut carriers: Vec<Arc<CarrierPool>> = Vec::with_capacity(config.carriers.len());
    for (i, c) in config.carriers.iter().enumerate() {
        let password = c
            .password
            .resolve()
            .map_err(|e| format!("carrier[{i}].password: {e}"))?;
        let old = prev.and_then(|p| p.by_carrier.get(&c.name));
        let pool = match old {
            Some(old) if old.same_settings(c, &password) => old.clone(),
            Some(old) => {
                plan.changes.push(format!(
                    "carrier {}: settings changed; binding anew",
                    c.name
                ));
                plan.retired_pools.push(old.clone());
                let p = Arc::new(CarrierPool::new(old.idx, c.clone(), password));
                plan.new_pools.push(p.clone());
                p
            }
            None => {
                let idx = free_index(&used).ok_or("too many carriers")?;
                used.insert(idx);
                if prev.is_some() {
                    plan.changes.push(format!("carrier {}: added", c.name));
                }
                let p = Arc::new(CarrierPool::new(idx, c.clone(), password));
                plan.new_pools.push(p.clone());
                p
            }
        };
        carriers.push(pool);
    }
    if let Some(p) = prev {
        for old in p.carriers() {
            if !config.carriers.iter().any(|c| c.name == *old.name) {
                plan.changes.push(format!(
                    "carrier {}: removed; unbinding once its window drains",
                    old.name
                ));
                plan.retired_pools.push(old.clone());
            }
        }
    }

    let carrier_idx: HashMap<&str, CarrierIdx> =
        carriers.iter().map(|c| (&*c.name, c.idx)).collect();
    let account_idx: HashMap<&str, AccountIdx> =
        accounts.iter().map(|a| (&*a.system_id, a.idx)).collect();
    let routes = RoutingTable::build_indexed(&config, &carrier_idx, &account_idx)?;
    let idx: Vec<AccountIdx> = accounts.iter().map(|a| a.idx).collect();
    let mo = MoTable::build_indexed(&config, &idx)?;
    if let Some(p) = prev {
        if p.config.routes != config.routes || p.config.routing != config.routing {
            plan.changes.push(format!(
                "routes: {} (was {})",
                config.routes.len(),
                p.config.routes.len()
            ));
        }
        if p.config.server != config.server {
            plan.changes.push("server settings updated".to_owned());
        }
        if p.config.dlr != config.dlr {
            plan.changes.push("receipt settings updated".to_owned());
        }
        if p.config.log.level != config.log.level {
            plan.changes
                .push(format!("log level: {}", config.log.level));
        }
    }

    let filter = match config.filter.as_ref().filter(|f| f.enabled) {
        Some(f) => Some(Arc::new(
            crate::filter::build_engine(f).map_err(|(k, e)| format!("{k}: {e}"))?,
        )),
        None => None,
    };
    if let Some(p) = prev {
        if p.config.filter != config.filter {
            plan.changes.push(match &config.filter {
                Some(f) if f.enabled => "filter settings updated".to_owned(),
                _ => "filter off".to_owned(),
            });
        }
        if p.config.suspension != config.suspension {
            plan.changes.push("suspension settings updated".to_owned());
        }
    }

    let mut account_slots: Vec<Option<Arc<AccountRt>>> = Vec::new();
    for a in &accounts {
        let i = usize::from(a.idx);
        if account_slots.len() <= i {
            account_slots.resize(i + 1, None);
        }
        account_slots[i] = Some(a.clone());
    }
    let mut carrier_slots: Vec<Option<Arc<CarrierPool>>> = Vec::new();
    for c in &carriers {
        let i = usize::from(c.idx);
        if carrier_slots.len() <= i {
            carrier_slots.resize(i + 1, None);
        }
        carrier_slots[i] = Some(c.clone());
    }
    let rt = Runtime {
        version: prev.map_or(1, |p| p.version + 1),
        server: Arc::new(config.server.clone()),
        by_system_id: accounts
            .iter()
            .map(|a| (a.system_id.to_string(), a.clone()))
            .collect(),
        by_carrier: carriers
            .iter()
            .map(|c| (c.name.to_string(), c.clone()))
            .collect(),
        accounts: account_slots,
        carriers: carrier_slots,
        routes,
        mo,
        filter,
        cdr_key: cdrs::pseudonymizer(&config)?,
        config,
    };
    Ok((rt, plan))
}

/// A submit on its way to a carrier, with everything needed to answer
/// the ESME or to try again elsewhere.
#[derive(Debug)]
pub(crate) struct Direct {
    esme_seq: u32,
    command: CommandId,
    pub(crate) frame: Bytes,
    ton: u8,
    npi: u8,
    dest: Bytes,
    seed: u64,
    gw: u64,
    registered_delivery: u8,
    /// The ESME session's window slot, and the session (its account, and
    /// the outbox the answer goes out through): the slot is freed just
    /// before the answer is queued (so the ESME's next request never meets
    /// a full window).
    guard: InflightGuard,
    /// When the ESME's request was taken in (submit latency).
    received: Instant,
    deadline: Instant,
    /// The message's CDR, written at its outcome.
    cdr: Option<cdrs::Draft>,
}

impl Direct {
    /// The same for every submit of one ESME session.
    pub(crate) fn affinity(&self) -> usize {
        self.guard.id()
    }

    /// The submitting account.
    pub(crate) fn account(&self) -> &Arc<AccountRt> {
        self.guard.account()
    }

    fn meta(&self) -> DlrMeta {
        DlrMeta {
            account: self.account().system_id,
            gateway_id: self.gw,
            registered_delivery: self.registered_delivery,
        }
    }
}

/// What the carrier's reader does with a deliver_sm.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// Answer the carrier with this status now.
    Done(CommandStatus),
    /// The account's binds are busy: wait for room ([`Core::dispatch_wait`]).
    Wait(Arc<AccountRt>, Body, DeliverKind),
    /// A receipt whose mapping is not there yet ([`Core::park_late_receipt`]).
    Late(Box<SubmitSm>, receipts::ReceiptView),
}

/// A receipt parked until its mapping is recorded, with what is needed to
/// answer the carrier.
#[derive(Debug)]
pub(crate) struct LateReceipt {
    /// The carrier that sent it.
    pub(crate) carrier: Name,
    /// The receipt.
    pub(crate) sm: Box<SubmitSm>,
    /// What was read of it.
    pub(crate) view: receipts::ReceiptView,
    /// The carrier bind's outbox, for the deliver_sm_resp.
    pub(crate) reply: OutTx,
    /// The deliver_sm's sequence number.
    pub(crate) seq: u32,
    /// Bounds the receipts parked per bind.
    pub(crate) permit: tokio::sync::OwnedSemaphorePermit,
}

/// A deliver_sm_resp.
pub(crate) fn deliver_sm_resp(seq: u32, status: CommandStatus) -> Pdu {
    Pdu {
        command_status: status,
        sequence_number: seq,
        body: Body::DeliverSmResp(Default::default()),
    }
}

/// The backlog of held deliveries beyond which, while the account has
/// receiver binds, carriers are slowed down rather than queued for.
const HELD_SOFT_LIMIT: usize = 1024;

/// Lets a repeated warning through at most once a second.
#[derive(Debug, Default)]
pub(crate) struct LogLimiter {
    last_ms: AtomicU64,
}

impl LogLimiter {
    pub(crate) fn allow(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let last = self.last_ms.load(Ordering::Relaxed);
        now >= last + 1000
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// How long a receipt waits for its exact id before the hex/decimal
/// readings of it are tried as well.
const RADIX_GRACE: Duration = Duration::from_millis(250);

/// How often parked receipts are looked at by the sweeper.
const LATE_TICK: Duration = Duration::from_millis(5);

/// How often a receipt past [`RADIX_GRACE`] is looked up again.
const LATE_RECHECK: Duration = Duration::from_millis(50);

/// Most carriers tried for one message.
const MAX_CANDIDATES: usize = 16;

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// How a forward ended without an accept, and what the ESME hears.
#[derive(Debug, Default)]
struct Outcome {
    throttled: Option<CommandStatus>,
    rejected: Option<CommandStatus>,
    unavailable: bool,
    unsure: bool,
}

impl Outcome {
    /// The `telegate_messages_total` result, in the order of [`Outcome::status`].
    fn result(&self) -> MessageResult {
        if self.throttled.is_some() {
            MessageResult::Throttled
        } else if self.rejected.is_some() {
            MessageResult::Rejected
        } else if self.unsure {
            MessageResult::Timeout
        } else {
            MessageResult::Unavailable
        }
    }

    fn status(&self) -> CommandStatus {
        if let Some(st) = self.throttled {
            // Trying later may work.
            return st;
        }
        if self.unavailable && !self.unsure && self.rejected.is_none() {
            // Nothing was sent anywhere: safe and sensible to retry later.
            return CommandStatus::ESME_RMSGQFUL;
        }
        match self.rejected {
            // Errors about the message itself are passed on as they are.
            Some(st)
                if [
                    CommandStatus::ESME_RINVDSTADR,
                    CommandStatus::ESME_RINVSRCADR,
                    CommandStatus::ESME_RINVMSGLEN,
                    CommandStatus::ESME_RINVESMCLASS,
                    CommandStatus::ESME_RINVDCS,
                ]
                .contains(&st) =>
            {
                st
            }
            _ => CommandStatus::ESME_RSUBMITFAIL,
        }
    }
}

/// The routing seed of a message segment: segments of one concatenated
/// message share it, so weighted routing sends them all to one carrier.
fn concat_seed(account: AccountIdx, sm: &SubmitSm) -> Option<u64> {
    let reference = if sm.esm_class & 0x40 != 0 {
        Udh::parse(&sm.short_message)
            .ok()
            .and_then(|(u, _)| u.concat())
            .map(|(r, _, _)| r)
    } else {
        sm.tlvs.sar().map(|(r, _, _)| r)
    }?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (account, &sm.source.addr[..], &sm.dest.addr[..], reference).hash(&mut h);
    Some(h.finish())
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut futs: Vec<_> = futs.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = (0..futs.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    core: Arc<Core>,
    esme_addrs: Vec<SocketAddr>,
    tls_addrs: Vec<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
}

impl Gateway {
    /// Starts a gateway: opens the DLR store, binds the listeners, starts
    /// the carrier binds. Listen on port 0 to get a free port (see
    /// [`Gateway::esme_addrs`]).
    pub async fn start(config: Config) -> Result<Gateway, StartError> {
        // Before any metric handle is made (pools and accounts make theirs).
        metrics::init();
        metrics::set_config_version(1);
        let config = Arc::new(config);
        let store_dir = config.dlr.store.clone();
        let store =
            LogStore::open(&store_dir, &config.dlr).map_err(|source| StartError::Store {
                path: store_dir.display().to_string(),
                source,
            })?;
        let ids = IdGenerator::new(Some(store_dir.join("ids.state"))).map_err(|source| {
            StartError::Store {
                path: store_dir.display().to_string(),
                source,
            }
        })?;
        let (rt, _) = build_runtime(config.clone(), None).map_err(StartError::Config)?;
        let review_dir = config.suspension.state_dir(&config.dlr.store);
        let audit_log = config.suspension.audit_log(&config.dlr.store);
        for dir in [Some(review_dir.as_path()), audit_log.parent()]
            .into_iter()
            .flatten()
        {
            std::fs::create_dir_all(dir).map_err(|source| StartError::Store {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let suspensions = crate::filter::suspension::Suspensions::open(
            Some(&review_dir),
            Some(&audit_log),
            stage::suspension_policy(&config.suspension),
        )
        .map_err(|e| StartError::Config(format!("suspension.state_dir: {e}")))?;
        let filter = FilterCore::new(&config, suspensions).map_err(StartError::Config)?;
        let cdr = match &config.cdr {
            Some(c) => Some(cdrs::CdrCore::start(c).map_err(|source| StartError::Store {
                path: c.dir.display().to_string(),
                source,
            })?),
            None => None,
        };
        let tls = match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(c), Some(k)) if !config.server.tls_listen.is_empty() => {
                Some(crate::smpp::tls::acceptor(c, k).map_err(StartError::Tls)?)
            }
            _ => None,
        };
        let mut listeners = Vec::new();
        for &addr in &config.server.listen {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen { addr, source })?;
            listeners.push((l, None));
        }
        for &addr in &config.server.tls_listen {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen { addr, source })?;
            listeners.push((l, tls.clone()));
        }
        let metrics_listener = match config.metrics.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Listen { addr, source })?,
            ),
            None => None,
        };
        let held = HeldQueues::new(
            config.dlr.held_per_account as usize,
            config.dlr.held_ttl.get(),
        )
        .on_expire(|(_, kind): &(Body, DeliverKind)| metrics::delivery(*kind, Delivery::Expired));
        let hot = HotSettings::default();
        hot.set(&rt);
        let core = Arc::new(Core {
            rt: ArcSwap::from_pointee(rt),
            hot,
            reload_lock: tokio::sync::Mutex::new(()),
            retiring: Mutex::new(Vec::new()),
            ids,
            dlr: Arc::new(store),
            held: Mutex::new(held),
            late: LateQueue::default(),
            verifier: PasswordVerifier::new(),
            auth_failures: DashMap::new(),
            connections: AtomicU32::new(0),
            session_numbers: AtomicUsize::new(0),
            stats: Stats::default(),
            held_full_log: LogLimiter::default(),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            sessions: TaskTracker::new(),
            filter,
            cdr,
        });
        metrics::set_suspended_accounts(core.filter.suspensions.list().len());
        for c in core.rt().carriers() {
            c.start(&core);
        }
        let mut esme_addrs = Vec::new();
        let mut tls_addrs = Vec::new();
        for (l, tls) in listeners {
            let addr = l.local_addr().map_err(|source| StartError::Listen {
                addr: SocketAddr::from(([0, 0, 0, 0], 0)),
                source,
            })?;
            if tls.is_some() {
                tls_addrs.push(addr);
            } else {
                esme_addrs.push(addr);
            }
            tracing::info!(%addr, tls = tls.is_some(), "listening for ESMEs");
            core.sessions
                .spawn(server::accept_loop(core.clone(), l, tls));
        }
        core.tracker.spawn(core.clone().housekeeping());
        core.tracker.spawn(core.clone().late_sweeper());
        core.tracker.spawn(core.clone().reassembly_sweeper());
        core.tracker.spawn(core.clone().cdr_upkeep());
        let mut metrics_addr = None;
        if let Some(l) = metrics_listener {
            metrics_addr = l.local_addr().ok();
            tracing::info!(addr = ?metrics_addr, "serving metrics");
            let (shutdown, tracker) = (core.shutdown.clone(), core.tracker.clone());
            core.tracker.spawn(metrics::serve(l, shutdown, tracker));
        }
        Ok(Gateway {
            core,
            esme_addrs,
            tls_addrs,
            metrics_addr,
        })
    }

    /// Every suspended account (as `GET /suspensions` answers).
    pub fn suspensions(&self) -> serde_json::Value {
        self.core.review_list()
    }

    /// One suspension and its evidence, as reviewer `by` sees it (the
    /// view is audited).
    pub fn suspension(
        &self,
        sid: &str,
        by: &str,
    ) -> Result<serde_json::Value, crate::admin::ReviewError> {
        self.core.review_show(sid, by)
    }

    /// Suspends account `sid` by hand; `by` names who, for the audit log.
    pub fn suspend(
        &self,
        sid: &str,
        by: &str,
        note: &str,
    ) -> Result<serde_json::Value, crate::admin::ReviewError> {
        self.core.review_suspend(sid, by, note)
    }

    /// Reinstates account `sid` after review.
    pub fn reinstate(
        &self,
        sid: &str,
        by: &str,
        note: &str,
    ) -> Result<serde_json::Value, crate::admin::ReviewError> {
        self.core.review_reinstate(sid, by, note)
    }

    /// Where `GET /metrics` is served (`[metrics] listen`), if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The plain-TCP listener addresses.
    pub fn esme_addrs(&self) -> &[SocketAddr] {
        &self.esme_addrs
    }

    /// The TLS listener addresses.
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    /// The counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.core.stats.snapshot()
    }

    /// Binds of a carrier currently up.
    pub fn carrier_binds_up(&self, name: &str) -> usize {
        self.core.rt().by_carrier.get(name).map_or(0, |c| c.bound())
    }

    /// The state of every bind of every carrier.
    pub fn carrier_bind_states(&self) -> Vec<(String, Vec<BindState>)> {
        self.core
            .rt()
            .carriers()
            .map(|c| (c.name.to_string(), c.bind_states()))
            .collect()
    }

    /// Waits until every carrier has at least one bind up, or the timeout.
    pub async fn wait_carriers_bound(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if self.core.rt().carriers().all(|c| c.bound() > 0) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// A token that stops the gateway when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.core.shutdown.clone()
    }

    /// Whether the gateway is ready for traffic (not stopping, and every
    /// carrier has a bind up), with each carrier's binds.
    pub fn health(&self) -> Health {
        let rt = self.core.rt();
        let carriers: Vec<CarrierHealth> = rt
            .carriers()
            .map(|c| CarrierHealth {
                name: c.name.to_string(),
                binds_up: c.bound() as u32,
                binds_configured: c.bind_states().len() as u32,
            })
            .collect();
        Health {
            ready: !self.core.shutdown.is_cancelled() && carriers.iter().all(|c| c.binds_up > 0),
            carriers,
        }
    }

    /// What runs now: config version, accounts with their binds and
    /// queues, carriers with their binds, windows and push-back, the DLR
    /// store and the counters. Names and counts only: no numbers, no text.
    pub fn status(&self) -> Status {
        let rt = self.core.rt_full();
        let accounts = rt
            .accounts()
            .map(|a| {
                let cfg = a.cfg();
                AccountStatus {
                    sid: a.sid.to_string(),
                    system_id: a.system_id.to_string(),
                    binds: a.binds.load(Ordering::Relaxed),
                    max_binds: cfg.max_binds,
                    receivers: a.receivers().len(),
                    held: self.core.held_len(a),
                    throughput: cfg.throughput,
                    window: cfg.window.unwrap_or(rt.server.window),
                }
            })
            .collect();
        let carriers = rt
            .carriers()
            .chain(self.core.retiring().iter())
            .map(|c| CarrierStatus {
                name: c.name.to_string(),
                binds: c.bind_states().iter().map(|b| b.as_str()).collect(),
                window: c.cfg.window,
                in_flight: c.in_flight(),
                throughput: c.cfg.throughput,
                paused: c.paused_until().is_some(),
                retiring: c.is_closing(),
                accepted: c.accepted.get(),
            })
            .collect();
        Status {
            config_version: rt.version,
            stopping: self.core.shutdown.is_cancelled(),
            esme_connections: self.core.connections.load(Ordering::Relaxed),
            accounts,
            carriers,
            dlr_entries: self.core.dlr.len(),
            late_receipts: self.core.late.len(),
            stats: self.stats(),
        }
    }

    /// The configuration running now.
    pub fn config(&self) -> Arc<Config> {
        self.core.rt().config.clone()
    }

    /// 1 at start, +1 per successful reload.
    pub fn config_version(&self) -> u64 {
        self.core.rt().version
    }

    /// Replaces the reloadable configuration (see [`Core::reload`]).
    pub async fn reload(&self, config: Config) -> Result<ReloadOutcome, String> {
        self.core.reload(config).await
    }

    /// Reads, validates and applies the config file at `path`. On any
    /// error the running configuration stays as it was; the error names
    /// the file, line and key.
    pub async fn reload_file(&self, path: &std::path::Path) -> Result<ReloadOutcome, String> {
        let loaded = {
            let path = path.to_owned();
            tokio::task::spawn_blocking(move || Config::load(&path))
                .await
                .map_err(|e| format!("reload task failed: {e}"))?
        };
        match loaded {
            Ok(c) => self.reload(c).await,
            Err(e) => {
                let msg = e.to_string();
                metrics::config_reload(false);
                tracing::error!(error = %msg, "reload failed; the running configuration is unchanged");
                Err(msg)
            }
        }
    }

    /// Stops gracefully, within `grace`:
    /// 1. the listeners close;
    /// 2. every ESME session answers new requests with ESME_RTHROTTLED,
    ///    lets its in-flight submits finish, sends unbind and waits for
    ///    unbind_resp;
    /// 3. the carriers, once what they have in flight is answered, unbind;
    /// 4. the DLR store is flushed.
    ///
    /// What is still running when `grace` is over is closed.
    pub async fn shutdown(self, grace: Duration) {
        self.shutdown_ref(grace).await;
    }

    /// [`shutdown`](Self::shutdown) for a gateway shared with others
    /// (e.g. the admin API).
    pub async fn shutdown_ref(&self, grace: Duration) {
        let until = tokio::time::Instant::now() + grace;
        self.core.shutdown.cancel();
        self.core.sessions.close();
        if tokio::time::timeout_at(until, self.core.sessions.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "shutdown grace period over with ESME sessions still open; closing them"
            );
        }
        let mut pools: Vec<Arc<CarrierPool>> = self.core.rt().carriers().cloned().collect();
        pools.extend(self.core.retiring().iter().cloned());
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        futures_join(pools.iter().map(|p| p.retire(left))).await;
        self.core.tracker.close();
        if tokio::time::timeout_at(
            until.max(tokio::time::Instant::now()) + Duration::from_secs(3),
            self.core.tracker.wait(),
        )
        .await
        .is_err()
        {
            tracing::warn!("carrier binds did not close in time");
        }
        if let Err(e) = self.core.dlr.flush() {
            tracing::error!(error = %e, "DLR store flush failed");
        }
        // Every record queued is written and synced.
        let core = self.core.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(c) = &core.cdr {
                c.shutdown();
            }
        })
        .await;
        tracing::info!("gateway stopped");
    }
}

/// Runs a gateway until `shutdown` is cancelled. With `config_path`,
/// SIGHUP reloads the configuration from that file (a bad file changes
/// nothing). Stops gracefully within `[server].shutdown_grace`.
///
/// Under systemd (`NOTIFY_SOCKET`), it reports READY once listening,
/// RELOADING / READY around each reload, STOPPING at shutdown, and pings
/// the watchdog while the runtime is responsive.
pub async fn run(
    config: Config,
    config_path: Option<std::path::PathBuf>,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    run_with(config, config_path, shutdown, RunHooks::default()).await
}

/// Applies a `[log].level` filter.
pub type LogLevelSetter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Extra behaviour of [`run_with`].
#[derive(Default)]
pub struct RunHooks {
    /// systemd notifications (disabled when not under systemd).
    pub notifier: Option<crate::notify::Notifier>,
    /// Applies a reloaded `[log].level`.
    pub set_log_level: Option<LogLevelSetter>,
}

/// Reloads from the config file, as SIGHUP and the admin API ask: one at
/// a time, with systemd told RELOADING then READY, and the log level
/// applied.
pub struct Controller {
    gw: Arc<Gateway>,
    path: Option<std::path::PathBuf>,
    notifier: crate::notify::Notifier,
    set_log_level: Option<LogLevelSetter>,
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl crate::admin::AdminBackend for Controller {
    fn health(&self) -> Health {
        self.gw.health()
    }

    fn status(&self) -> serde_json::Value {
        serde_json::to_value(self.gw.status()).unwrap_or_else(
            |e| serde_json::json!({ "error": format!("status not serialisable: {e}") }),
        )
    }

    fn reload(
        &self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<ReloadOutcome, String>> + Send + '_>,
    > {
        Box::pin(Controller::reload(self))
    }

    fn suspensions(&self) -> serde_json::Value {
        self.gw.core.review_list()
    }

    fn suspension(
        &self,
        sid: &str,
        by: &str,
    ) -> Result<serde_json::Value, crate::admin::ReviewError> {
        self.gw.core.review_show(sid, by)
    }

    fn suspend(
        &self,
        sid: &str,
        by: &str,
        note: &str,
    ) -> Result<serde_json::Value, crate::admin::ReviewError> {
        self.gw.core.review_suspend(sid, by, note)
    }

    fn cdr(
        &self,
        req: crate::admin::CdrRequest,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<crate::admin::CdrAnswer, crate::admin::CdrApiError>,
                > + Send
                + '_,
        >,
    > {
        Box::pin(self.gw.cdr(req))
    }

    fn reinstate(
        &self,
        sid: &str,
        by: &str,
        note: &str,
    ) -> Result<serde_json::Value, crate::admin::ReviewError> {
        self.gw.core.review_reinstate(sid, by, note)
    }
}

impl Gateway {
    /// Serves a CDR request (what the admin API's `/cdr…` routes do).
    pub async fn cdr(
        &self,
        req: crate::admin::CdrRequest,
    ) -> Result<crate::admin::CdrAnswer, crate::admin::CdrApiError> {
        self.core.clone().cdr_request(req).await
    }
}

impl Controller {
    /// The gateway it reloads.
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gw
    }

    /// Reloads the config file. On error the running configuration is
    /// unchanged and the error names the file, line and key.
    pub async fn reload(&self) -> Result<ReloadOutcome, String> {
        let _one = self.lock.lock().await;
        let Some(path) = &self.path else {
            return Err("no config file to reload from".to_owned());
        };
        tracing::info!(file = %path.display(), "reloading");
        let _ = self.notifier.reloading();
        let r = self.gw.reload_file(path).await;
        if r.is_ok() {
            if let Some(set) = &self.set_log_level {
                if let Err(e) = set(&self.gw.config().log.level) {
                    tracing::warn!(error = %e, "log level not changed");
                }
            }
        }
        let _ = self.notifier.ready();
        r
    }
}

impl std::fmt::Debug for RunHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHooks")
            .field("notifier", &self.notifier)
            .finish_non_exhaustive()
    }
}

/// [`run`] with hooks.
pub async fn run_with(
    config: Config,
    config_path: Option<std::path::PathBuf>,
    shutdown: CancellationToken,
    hooks: RunHooks,
) -> Result<(), StartError> {
    let notifier = hooks
        .notifier
        .unwrap_or_else(crate::notify::Notifier::from_env);
    let gw = Arc::new(Gateway::start(config).await?);
    let inner = gw.shutdown_token();
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; reload disabled");
            None
        }
    };
    let controller = Arc::new(Controller {
        gw: gw.clone(),
        path: config_path,
        notifier: notifier.clone(),
        set_log_level: hooks.set_log_level,
        lock: tokio::sync::Mutex::new(()),
    });
    let admin_cfg = gw.config().admin.clone();
    if let Some(addr) = admin_cfg.listen {
        let token = match admin_cfg.token.as_ref().map(|t| t.resolve()).transpose() {
            Ok(t) => t,
            Err(e) => {
                gw.shutdown_ref(Duration::from_secs(1)).await;
                return Err(StartError::Config(format!("admin.token: {e}")));
            }
        };
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(source) => {
                gw.shutdown_ref(Duration::from_secs(1)).await;
                return Err(StartError::Listen { addr, source });
            }
        };
        if let Ok(a) = listener.local_addr() {
            tracing::info!(addr = %a, "admin API listening");
        }
        let backend: Arc<dyn crate::admin::AdminBackend> = controller.clone();
        tokio::spawn(crate::admin::serve(listener, backend, token, inner.clone()));
    }
    let _ = notifier.ready();
    tokio::spawn(notifier.clone().run_watchdog(|| true, inner.clone()));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = inner.cancelled() => break,
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                tracing::info!("SIGHUP: reloading");
                let _ = controller.reload().await;
            }
        }
    }
    let _ = notifier.stopping();
    let grace = gw.config().server.shutdown_grace.get();
    tracing::info!(grace_ms = grace.as_millis() as u64, "shutting down");
    match Arc::try_unwrap(gw) {
        Ok(gw) => gw.shutdown(grace).await,
        Err(gw) => gw.shutdown_ref(grace).await,
    }
    Ok(())
}
