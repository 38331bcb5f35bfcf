//! The gateway core: wiring of listeners, carrier pools, routing and the
//! DLR store, and the data path between them (submit forwarding with
//! failover, receipts and MO back to ESMEs).

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use bytes::Bytes;
use dashmap::DashMap;
use telegate_smpp::pdu::{
    peek_submit_destination, Body, DestAddress, Pdu, QuerySmResp, SubmitMultiResp, SubmitSm,
    UnsuccessSme,
};
use telegate_smpp::receipt::MessageState;
use telegate_smpp::tlv::TlvList;
use telegate_smpp::udh::Udh;
use telegate_smpp::{CommandId, CommandStatus};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::PasswordVerifier;
use crate::config::{AccountConfig, BindType, Config, ServerConfig};
use crate::dlr::late::{late_key, LateQueue};
use crate::dlr::rewrite as receipts;
use crate::dlr::{self, DlrStore, HeldQueues, LogStore};
use crate::ids::{format_id, parse_id, IdGenerator};
use crate::metrics::{
    self, AccountMetrics, Delivery, DlrResult, MessageResult, MoResult, Throttle,
};
use crate::routing::{AccountIdx, CarrierIdx, MoTable, RoutingTable};
use crate::smpp::carrier::{BindState, CarrierPool, DlrMeta, SendError};
use crate::smpp::io::{Out, OutTx};
use crate::smpp::server::{self, DeliverKind, InFlightDeliver, InflightGuard, SessionShared};
use crate::smpp::throttle::TokenBucket;

/// Counters of the data path (exported as metrics by the operations work).
#[derive(Debug, Default)]
pub struct Stats {
    /// Submits answered OK (a carrier accepted them).
    pub submitted: AtomicU64,
    /// Submits answered with an error after routing.
    pub submit_failed: AtomicU64,
    /// Requests refused by the session window.
    pub throttled_window: AtomicU64,
    /// Requests refused by the account throughput.
    pub throttled_account: AtomicU64,
    /// Receipts delivered to an ESME.
    pub dlr_delivered: AtomicU64,
    /// Receipts that matched no mapping.
    pub dlr_unmatched: AtomicU64,
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
            submitted: g(&self.submitted),
            submit_failed: g(&self.submit_failed),
            throttled_window: g(&self.throttled_window),
            throttled_account: g(&self.throttled_account),
            dlr_delivered: g(&self.dlr_delivered),
            dlr_unmatched: g(&self.dlr_unmatched),
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
    pub(crate) idx: AccountIdx,
    pub(crate) cfg: AccountConfig,
    pub(crate) sid: Arc<str>,
    pub(crate) system_id: Arc<str>,
    bucket: Option<TokenBucket>,
    binds: AtomicU32,
    receivers: Mutex<Vec<Arc<SessionShared>>>,
    rr: AtomicUsize,
    /// Signalled when a receiver bind frees room in its deliver window.
    room: tokio::sync::Notify,
    /// Items in this account's held queue (changed under the queues' lock).
    held: AtomicUsize,
    /// Its metric handles (room for `carriers` carriers).
    pub(crate) metrics: AccountMetrics,
}

impl AccountRt {
    fn new(idx: AccountIdx, cfg: AccountConfig, carriers: usize) -> AccountRt {
        AccountRt {
            idx,
            metrics: AccountMetrics::new(cfg.sid(), carriers),
            sid: Arc::from(cfg.sid()),
            system_id: Arc::from(cfg.system_id.as_str()),
            bucket: TokenBucket::new(cfg.throughput, cfg.throughput),
            binds: AtomicU32::new(0),
            receivers: Mutex::new(Vec::new()),
            rr: AtomicUsize::new(0),
            room: tokio::sync::Notify::new(),
            held: AtomicUsize::new(0),
            cfg,
        }
    }

    fn receivers(&self) -> std::sync::MutexGuard<'_, Vec<Arc<SessionShared>>> {
        self.receivers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a bind against `max_binds`; false when the account is full.
    pub(crate) fn register(&self, s: &Arc<SessionShared>, kind: BindType) -> bool {
        let max = self.cfg.max_binds;
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
            self.receivers().push(s.clone());
        }
        true
    }

    pub(crate) fn unregister(&self, s: &Arc<SessionShared>, kind: BindType) {
        self.binds.fetch_sub(1, Ordering::AcqRel);
        if kind.can_receive() {
            self.receivers().retain(|r| r.id != s.id);
        }
    }

    /// Takes one message from the throughput bucket.
    pub(crate) fn take_token(&self) -> bool {
        self.bucket.as_ref().is_none_or(|b| b.take().is_ok())
    }

    /// A receiver bind with room in its deliver window, round robin.
    fn pick_receiver_with_room(&self) -> Option<Arc<SessionShared>> {
        let r = self.receivers();
        let n = r.len();
        if n == 0 {
            return None;
        }
        let start = self.rr.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &r[(start + i) % n])
            .find(|s| s.has_room())
            .cloned()
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

/// What the data path shares.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) server: Arc<ServerConfig>,
    config: Arc<Config>,
    routes: ArcSwap<RoutingTable>,
    mo: ArcSwap<MoTable>,
    accounts: Vec<Arc<AccountRt>>,
    by_system_id: HashMap<String, usize>,
    carriers: Vec<Arc<CarrierPool>>,
    carrier_by_name: HashMap<String, usize>,
    ids: IdGenerator,
    dlr: Arc<dyn DlrStore>,
    held: Mutex<HeldQueues<(Body, DeliverKind)>>,
    late: LateQueue<LateReceipt>,
    verifier: PasswordVerifier,
    auth_failures: DashMap<IpAddr, AuthFailures>,
    connections: AtomicU32,
    pub(crate) stats: Stats,
    held_full_log: LogLimiter,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
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
    pub(crate) fn try_open_connection(&self) -> bool {
        let max = self.server.max_connections;
        self.connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < max).then_some(c + 1)
            })
            .is_ok()
    }

    pub(crate) fn close_connection(&self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }

    fn account(&self, system_id: &str) -> Option<&Arc<AccountRt>> {
        self.by_system_id.get(system_id).map(|&i| &self.accounts[i])
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
        let window = self.server.auth_failure_window.get();
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
        if e.count >= self.server.auth_max_failures.max(1) {
            e.locked_until = Some(now + self.server.auth_lockout.get());
            tracing::warn!(peer = %ip, "too many failed binds; address locked out");
        }
    }

    fn sweep_auth_failures(&self) {
        let now = Instant::now();
        let window = self.server.auth_failure_window.get();
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
        let delay = self.server.auth_failure_delay.get();
        let Some(account) = self.account(system_id).cloned() else {
            self.record_auth_failure(ip);
            tracing::info!(peer = %ip, "bind with unknown system_id");
            tokio::time::sleep(delay).await;
            return Err(CommandStatus::ESME_RINVSYSID);
        };
        if !self
            .verifier
            .verify_async(&account.cfg.password_hash, password)
            .await
        {
            self.record_auth_failure(ip);
            tracing::info!(peer = %ip, account = %account.sid, "bind with wrong password");
            tokio::time::sleep(delay).await;
            return Err(CommandStatus::ESME_RINVPASWD);
        }
        if !account.cfg.allowed_ips.is_empty()
            && !account.cfg.allowed_ips.iter().any(|n| n.contains(&ip))
        {
            self.record_auth_failure(ip);
            tracing::info!(peer = %ip, account = %account.sid, "bind from an address not allowed");
            tokio::time::sleep(delay).await;
            return Err(CommandStatus::ESME_RBINDFAIL);
        }
        if !account.cfg.bind_types.contains(&kind) {
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
        // The store normalises the id (case, leading zeros) itself.
        self.dlr.insert(dlr::Mapping {
            carrier: pool.name.clone(),
            carrier_msg_id: carrier_id.into(),
            account: meta.account.clone(),
            gateway_id: meta.gateway_id,
            expires_at: dlr::store::unix_now() + self.config.dlr.ttl.get().as_secs(),
            state: 0,
            registered_delivery: meta.registered_delivery,
        });
        // Receipts of this message that came in ahead of it.
        let early = self.late.take(|| late_key(&pool.name, carrier_id));
        if !early.is_empty() {
            let m = self.dlr.lookup_exact(&pool.name, carrier_id);
            for r in early {
                self.answer_late(m.clone(), r);
            }
        }
    }

    /// Answers one request of a bound transmitter/transceiver other than
    /// submit_sm and data_sm (which go through [`Core::submit`]).
    pub(crate) async fn handle_request(&self, account: &AccountRt, seq: u32, body: Body) -> Pdu {
        let id = body.command_id();
        match body {
            Body::SubmitMulti(m) => self.submit_multi(account, seq, *m).await,
            Body::QuerySm(q) => self.query(account, seq, q),
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
                self.stats.submitted.fetch_add(1, Ordering::Relaxed);
                Out::IdResp {
                    command_id: id.response().0,
                    seq,
                    id: format_id(gw),
                }
            }
            Err(status) => {
                self.stats.submit_failed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(account = %account.sid, message = %String::from_utf8_lossy(&format_id(gw)), %status, "submit failed");
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
    ) -> Result<(), CommandStatus> {
        let mut cands = [0 as CarrierIdx; MAX_CANDIDATES];
        let n = {
            let table = self.routes.load();
            let Some(route) = table.lookup(account.idx, ton, npi, dest) else {
                tracing::info!(account = %account.sid, "no route for destination");
                account.metrics.message(None, MessageResult::NoRoute);
                return Err(CommandStatus::ESME_RINVDSTADR);
            };
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
                let pool = &self.carriers[c as usize];
                last = Some(c);
                match pool.send(frame, Some(meta.clone()), deadline).await {
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
        let carrier = last.map(|c| (c as usize, &*self.carriers[c as usize].name));
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
        // Each destination is routed and sent on its own, concurrently.
        let results = futures_join(sent.into_iter().map(|(addr, pdu)| {
            let meta = DlrMeta {
                account: account.system_id.clone(),
                gateway_id: gw,
                registered_delivery: m.registered_delivery,
            };
            async move {
                let r = match pdu.to_bytes() {
                    Ok(frame) => {
                        let dest = (addr.ton.0, addr.npi.0, &addr.addr[..]);
                        let deadline = Instant::now() + self.server.submit_deadline.get();
                        self.forward(
                            account,
                            &frame,
                            dest,
                            gw,
                            meta,
                            deadline,
                            None,
                            Outcome::default(),
                        )
                        .await
                    }
                    Err(_) => Err(CommandStatus::ESME_RINVMSGLEN),
                };
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
        self.stats.submitted.fetch_add(1, Ordering::Relaxed);
        Pdu::new(
            seq,
            Body::SubmitMultiResp(SubmitMultiResp {
                message_id: Bytes::copy_from_slice(&format_id(gw)),
                unsuccess,
                tlvs: Vec::new(),
            }),
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
            Body::QuerySmResp(QuerySmResp {
                message_id: q.message_id,
                final_date: Bytes::new(),
                message_state: state,
                error_code: 0,
            }),
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
        let Some(&c) = self.carrier_by_name.get(&*m.carrier) else {
            return Pdu::error_response(id, seq, fail);
        };
        let body = build(Bytes::copy_from_slice(&m.carrier_msg_id));
        let Ok(frame) = Pdu::new(1, body).to_bytes() else {
            return Pdu::error_response(id, seq, fail);
        };
        let deadline = Instant::now() + self.server.submit_deadline.get();
        match self.carriers[c].send(&frame, None, deadline).await {
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
    pub(crate) fn on_carrier_deliver(
        self: &Arc<Self>,
        carrier: &Arc<str>,
        sm: SubmitSm,
    ) -> Inbound {
        if !receipts::is_receipt(sm.esm_class) {
            return self.on_mo(carrier, sm);
        }
        let Some(cid) = receipts::receipt_message_id(&sm) else {
            self.stats.dlr_unmatched.fetch_add(1, Ordering::Relaxed);
            metrics::dlr(DlrResult::Unmatched);
            tracing::info!(carrier = %carrier, "receipt without a message id");
            return Inbound::Done(CommandStatus::ESME_ROK);
        };
        match self.dlr.lookup_exact(carrier, &cid) {
            Some(m) => self.receipt_matched(m, sm),
            None => Inbound::Late(sm),
        }
    }

    /// A receipt that found no mapping at once: it may have overtaken its
    /// submit_sm_resp on another bind. It is parked until that mapping is
    /// recorded ([`Core::record_mapping`] answers it then), or until the
    /// sweeper tries the hex/decimal readings of its id after a short grace
    /// ([`Core::late_sweeper`]); those are not tried at once, so they never
    /// land on another message's mapping while this one's is on its way.
    pub(crate) fn park_late_receipt(self: &Arc<Self>, r: LateReceipt) {
        let Some(cid) = receipts::receipt_message_id(&r.sm) else {
            return self.answer_late(None, r);
        };
        let key = late_key(&r.carrier, &cid);
        let carrier = r.carrier.clone();
        if let Err((r, m)) = self.late.park(key, Instant::now(), r, || {
            self.dlr.lookup_exact(&carrier, &cid)
        }) {
            self.answer_late(Some(m), r);
        }
    }

    /// Answers a parked receipt: delivers it by its mapping, or, with
    /// none, counts it unmatched and acknowledges it to the carrier.
    fn answer_late(self: &Arc<Self>, m: Option<dlr::Mapping>, r: LateReceipt) {
        let LateReceipt {
            carrier,
            sm,
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
            Some(m) => match self.receipt_matched(m, sm) {
                Inbound::Done(status) => status,
                Inbound::Late(_) => CommandStatus::ESME_ROK,
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
            },
        };
        let _ = reply.send(Out::Pdu(deliver_sm_resp(seq, status)));
    }

    /// Gives parked receipts their second chance: after [`RADIX_GRACE`],
    /// the hex/decimal readings of the id are tried too, every
    /// [`LATE_RECHECK`], until `[dlr].match_wait` has passed.
    async fn late_sweeper(self: Arc<Self>) {
        let wait = self.config.dlr.match_wait.get();
        let grace = RADIX_GRACE.min(wait);
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
        let m =
            receipts::receipt_message_id(&r.sm).and_then(|cid| self.dlr.lookup(&r.carrier, &cid));
        if m.is_some() || now >= since + wait {
            self.answer_late(m, r);
        } else {
            slow.push_back((now + LATE_RECHECK, since, r));
        }
    }

    fn receipt_matched(self: &Arc<Self>, m: dlr::Mapping, sm: SubmitSm) -> Inbound {
        metrics::dlr(DlrResult::Matched);
        let state = receipts::receipt_state(&sm);
        if let Some(s) = state {
            let is_final = !matches!(
                MessageState(s),
                MessageState::ENROUTE | MessageState::ACCEPTED | MessageState::SCHEDULED
            );
            self.dlr.set_state(
                m.gateway_id,
                s,
                is_final.then(|| self.config.dlr.final_ttl.get()),
            );
        }
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
        let Some(account) = self.account(&m.account).cloned() else {
            return Inbound::Done(CommandStatus::ESME_ROK);
        };
        let rewritten = receipts::rewrite_receipt(&sm, &format_id(m.gateway_id));
        self.try_dispatch(
            account,
            Body::DeliverSm(Box::new(rewritten)),
            DeliverKind::Receipt,
        )
    }

    fn on_mo(self: &Arc<Self>, carrier: &Arc<str>, sm: SubmitSm) -> Inbound {
        let owner = self.mo.load().lookup(
            &self.config.routing,
            sm.dest.ton.0,
            sm.dest.npi.0,
            &sm.dest.addr,
        );
        let Some(idx) = owner else {
            self.stats.mo_unknown.fetch_add(1, Ordering::Relaxed);
            metrics::mo(MoResult::NoOwner);
            tracing::info!(carrier = %carrier, "MO for a number no account owns");
            return Inbound::Done(CommandStatus::ESME_RINVDSTADR);
        };
        let account = self.accounts[idx as usize].clone();
        self.try_dispatch(account, Body::DeliverSm(Box::new(sm)), DeliverKind::Mo)
    }

    /// Takes custody of a deliver_sm without waiting when it can: sent to a
    /// receiver bind with room, or held while the account has no receiver
    /// bind (up to the held limit). While the account's binds are bound
    /// but busy and a backlog has built up, it asks the carrier's reader to
    /// wait ([`Core::dispatch_wait`]), which slows the carrier through TCP
    /// instead of refusing its receipts.
    fn try_dispatch(
        self: &Arc<Self>,
        account: Arc<AccountRt>,
        body: Body,
        kind: DeliverKind,
    ) -> Inbound {
        let backlog = self.held_len(&account);
        if backlog == 0 {
            if let Some(s) = account.pick_receiver_with_room() {
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
        account: Arc<AccountRt>,
        body: Body,
        kind: DeliverKind,
        backlog: usize,
    ) -> Inbound {
        let soft = (self.config.dlr.held_per_account as usize).clamp(1, HELD_SOFT_LIMIT);
        if account.has_receiver() && backlog >= soft {
            return Inbound::Wait(account, body, kind);
        }
        let status = self.hold(&account, body, kind);
        self.drain_held(&account);
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
            .server
            .response_timeout
            .get()
            .min(Duration::from_secs(5));
        let deadline = Instant::now() + wait;
        loop {
            let notified = account.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_dispatch(account.clone(), body, kind) {
                Inbound::Wait(_, b, _) => body = b,
                Inbound::Done(status) => return status,
                Inbound::Late(_) => return CommandStatus::ESME_ROK,
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
            match account.pick_receiver_with_room() {
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
            let Some(s) = account.pick_receiver_with_room() else {
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
        account.room.notify_waiters();
    }

    /// The ESME answered a deliver_sm.
    pub(crate) fn delivered(
        &self,
        account: &Arc<AccountRt>,
        d: InFlightDeliver,
        status: CommandStatus,
    ) {
        if status.is_ok() {
            let counter = match d.kind {
                DeliverKind::Receipt => &self.stats.dlr_delivered,
                DeliverKind::Mo => &self.stats.mo_delivered,
            };
            counter.fetch_add(1, Ordering::Relaxed);
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

    /// A submit_sm or data_sm from an ESME. Its first try goes out from
    /// here, without a task: the carrier bind's reader answers the ESME.
    /// Only when that try cannot go at once, or fails, does a task take
    /// over with failover and retries.
    pub(crate) fn submit(
        self: &Arc<Self>,
        account: Arc<AccountRt>,
        seq: u32,
        frame: Bytes,
        body: Body,
        guard: InflightGuard,
        out: OutTx,
    ) {
        let (command, ton, npi, dest, registered_delivery, seed) = match &body {
            Body::SubmitSm(sm) => {
                let (ton, npi, dest) = match peek_submit_destination(&frame) {
                    Some((t, n, d)) => (t.0, n.0, frame.slice_ref(d)),
                    None => (sm.dest.ton.0, sm.dest.npi.0, sm.dest.addr.clone()),
                };
                let seed = concat_seed(account.idx, sm);
                (
                    CommandId::SUBMIT_SM,
                    ton,
                    npi,
                    dest,
                    sm.registered_delivery,
                    seed,
                )
            }
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
        let received = Instant::now();
        let gw = self.ids.next();
        let seed = seed.unwrap_or(gw);
        let first = {
            let table = self.routes.load();
            table
                .lookup(account.idx, ton, npi, &dest)
                .and_then(|r| r.candidates(seed).next())
        };
        let d = Box::new(Direct {
            out,
            esme_seq: seq,
            command,
            frame,
            ton,
            npi,
            dest,
            seed,
            gw,
            registered_delivery,
            account,
            guard: Some(guard),
            received,
            deadline: received + self.server.submit_deadline.get(),
        });
        let Some(first) = first else {
            // No route: the task path answers it (and logs it).
            self.spawn_forward(d, None, Outcome::default());
            return;
        };
        let meta = d.meta();
        if let Err(d) = self.carriers[first as usize].try_send_direct(d, meta) {
            self.spawn_forward(d, None, Outcome::default());
        }
    }

    /// A direct submit's response, or why there is none.
    pub(crate) fn direct_result(
        self: &Arc<Self>,
        pool: &CarrierPool,
        mut d: Box<Direct>,
        r: Result<Pdu, SendError>,
    ) {
        let mut outcome = Outcome::default();
        let mut exclude = None;
        match r {
            Ok(p) if p.command_status.is_ok() => {
                let answer = self.answer(d.command, d.esme_seq, d.gw, Ok(()), &d.account);
                drop(d.guard.take());
                let _ = d.out.send(answer);
                let carrier = Some((pool.idx as usize, &*pool.name));
                d.account.metrics.message(carrier, MessageResult::Ok);
                d.account
                    .metrics
                    .submit_latency
                    .record(d.received.elapsed());
                return;
            }
            Ok(p) => {
                let st = p.command_status;
                if st == CommandStatus::ESME_RTHROTTLED || st == CommandStatus::ESME_RMSGQFUL {
                    pool.push_back();
                    d.account.metrics.throttled(Throttle::Carrier);
                    outcome.throttled = Some(st);
                } else {
                    tracing::info!(carrier = %pool.name, account = %d.account.sid, status = %st, "carrier rejected message");
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
            let r = core
                .forward(
                    &d.account,
                    &d.frame,
                    (d.ton, d.npi, &d.dest),
                    d.seed,
                    meta,
                    d.deadline,
                    exclude,
                    outcome,
                )
                .await;
            let answer = core.answer(d.command, d.esme_seq, d.gw, r, &d.account);
            drop(d.guard.take());
            let _ = d.out.send(answer);
            d.account
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
            {
                let mut q = self.held();
                q.sweep(Instant::now());
                for a in &self.accounts {
                    a.held.store(q.account_len(&a.system_id), Ordering::Release);
                }
                metrics::set_held_deliveries(q.len());
            }
            metrics::set_dlr_store_entries(self.dlr.len());
            for a in &self.accounts {
                if a.has_receiver() {
                    self.drain_held(a);
                }
            }
            self.sweep_auth_failures();
        }
    }
}

/// A submit on its way to a carrier, with everything needed to answer
/// the ESME or to try again elsewhere.
#[derive(Debug)]
pub(crate) struct Direct {
    out: OutTx,
    esme_seq: u32,
    command: CommandId,
    pub(crate) frame: Bytes,
    ton: u8,
    npi: u8,
    dest: Bytes,
    seed: u64,
    gw: u64,
    registered_delivery: u8,
    account: Arc<AccountRt>,
    /// The ESME session's window slot, freed just before the answer is
    /// queued (so the ESME's next request never meets a full window).
    guard: Option<InflightGuard>,
    /// When the ESME's request was taken in (submit latency).
    received: Instant,
    deadline: Instant,
}

impl Direct {
    fn meta(&self) -> DlrMeta {
        DlrMeta {
            account: self.account.system_id.clone(),
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
    Late(SubmitSm),
}

/// A receipt parked until its mapping is recorded, with what is needed to
/// answer the carrier.
#[derive(Debug)]
pub(crate) struct LateReceipt {
    /// The carrier that sent it.
    pub(crate) carrier: Arc<str>,
    /// The receipt.
    pub(crate) sm: SubmitSm,
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
struct LogLimiter {
    last_ms: AtomicU64,
}

impl LogLimiter {
    fn allow(&self) -> bool {
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
        let routes = RoutingTable::build(&config).map_err(StartError::Config)?;
        let mo = MoTable::build(&config).map_err(StartError::Config)?;
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
        let mut carriers = Vec::new();
        let mut carrier_by_name = HashMap::new();
        for (i, c) in config.carriers.iter().enumerate() {
            let password = c
                .password
                .resolve()
                .map_err(|e| StartError::Config(format!("carrier[{i}].password: {e}")))?;
            carrier_by_name.insert(c.name.clone(), i);
            carriers.push(Arc::new(CarrierPool::new(
                i as CarrierIdx,
                c.clone(),
                password,
            )));
        }
        let accounts: Vec<Arc<AccountRt>> = config
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let n = config.carriers.len();
                Arc::new(AccountRt::new(i as AccountIdx, a.clone(), n))
            })
            .collect();
        let by_system_id = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.cfg.system_id.clone(), i))
            .collect();
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
        let core = Arc::new(Core {
            server: Arc::new(config.server.clone()),
            routes: ArcSwap::from_pointee(routes),
            mo: ArcSwap::from_pointee(mo),
            accounts,
            by_system_id,
            carriers,
            carrier_by_name,
            ids,
            dlr: Arc::new(store),
            held: Mutex::new(held),
            late: LateQueue::default(),
            verifier: PasswordVerifier::new(),
            auth_failures: DashMap::new(),
            connections: AtomicU32::new(0),
            stats: Stats::default(),
            held_full_log: LogLimiter::default(),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            config,
        });
        for c in &core.carriers {
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
            core.tracker
                .spawn(server::accept_loop(core.clone(), l, tls));
        }
        core.tracker.spawn(core.clone().housekeeping());
        core.tracker.spawn(core.clone().late_sweeper());
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
        self.core
            .carrier_by_name
            .get(name)
            .map_or(0, |&i| self.core.carriers[i].bound())
    }

    /// The state of every bind of every carrier.
    pub fn carrier_bind_states(&self) -> Vec<(String, Vec<BindState>)> {
        self.core
            .carriers
            .iter()
            .map(|c| (c.name.to_string(), c.bind_states()))
            .collect()
    }

    /// Waits until every carrier has at least one bind up, or the timeout.
    pub async fn wait_carriers_bound(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if self.core.carriers.iter().all(|c| c.bound() > 0) {
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

    /// Stops: listeners close, sessions and carrier binds unbind, and the
    /// DLR store is flushed. Waits at most `grace` for tasks to end.
    pub async fn shutdown(self, grace: Duration) {
        self.core.shutdown.cancel();
        self.core.tracker.close();
        if tokio::time::timeout(grace, self.core.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace period over; closing the rest");
        }
        if let Err(e) = self.core.dlr.flush() {
            tracing::error!(error = %e, "DLR store flush failed");
        }
        tracing::info!("gateway stopped");
    }
}

/// Runs a gateway until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), StartError> {
    let gw = Gateway::start(config).await?;
    let inner = gw.shutdown_token();
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = inner.cancelled() => {}
    }
    gw.shutdown(Duration::from_secs(10)).await;
    Ok(())
}
