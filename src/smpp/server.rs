//! The ESME side: SMPP listeners (TCP and TLS) and one session per
//! connection, with bind authentication, the session state machine,
//! windowing, throttling and keep-alive.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use telegate_smpp::pdu::{Bind, BindResp, Body, Pdu};
use telegate_smpp::tlv::Tlv;
use telegate_smpp::{CommandId, CommandStatus};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::io::{self, FrameReader, Out, OutTx, ReadEvent};
use super::seqmap::SeqMap;
use crate::config::BindType;
use crate::gateway::{AccountRt, Core};
use crate::metrics::{self, AuthFailure, Side, Throttle};

/// What a deliver_sm to the ESME carries: a receipt or an MO message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeliverKind {
    /// A delivery receipt.
    Receipt,
    /// A mobile-originated message.
    Mo,
}

/// A deliver_sm the ESME has not answered yet. The gateway keeps custody
/// of it: if the ESME refuses it, does not answer in time, or goes away,
/// it goes back to the account's held queue.
#[derive(Debug)]
pub(crate) struct InFlightDeliver {
    pub(crate) body: Body,
    pub(crate) kind: DeliverKind,
    /// When it was sent, in coarse monotonic milliseconds (only the
    /// timeout sweep reads it: a tick of resolution is nothing against a
    /// timeout of seconds).
    sent_ms: u64,
}

/// The gateway-facing half of a bound ESME session: how receipts and MO
/// reach it.
#[derive(Debug)]
pub(crate) struct SessionShared {
    pub(crate) id: u64,
    out: OutTx,
    seq: AtomicU32,
    pending: Mutex<SeqMap<InFlightDeliver>>,
    deliver_window: usize,
    alive: AtomicBool,
    /// The account, once bound (a session binds once).
    account: OnceLock<Arc<AccountRt>>,
    /// Requests taken in and not yet answered ([`InflightGuard`]): the
    /// session's window.
    inflight: AtomicU32,
}

/// A request's slot in its ESME session's window, with the session: what
/// a request in flight holds of it. One shared handle reaches the account
/// and the outbox the answer goes out through, where a handle on each
/// would write two more shared counts per request (on the session's
/// thread) and two more when the answer is sent (on the carrier bind's).
#[derive(Debug)]
pub(crate) struct InflightGuard {
    session: Arc<SessionShared>,
    held: bool,
}

impl InflightGuard {
    /// Takes a slot in a bound session's window (`None` before a bind).
    fn take(session: &Arc<SessionShared>) -> Option<InflightGuard> {
        session.account.get()?;
        session.inflight.fetch_add(1, Ordering::AcqRel);
        Some(InflightGuard {
            session: Arc::clone(session),
            held: true,
        })
    }

    /// The session's account.
    pub(crate) fn account(&self) -> &Arc<AccountRt> {
        // Set before any guard is taken (see `take`), and never unset.
        self.session
            .account
            .get()
            .expect("a request's session is bound")
    }

    /// The session's number ([`OutTx::id`]).
    pub(crate) fn id(&self) -> usize {
        self.session.out.id()
    }

    /// Frees the slot, then queues `m` for the ESME: the slot is free
    /// before the ESME can see the answer and send its next request.
    pub(crate) fn answer(&mut self, m: Out) {
        self.free();
        let _ = self.session.out.send(m);
    }

    fn free(&mut self) {
        if std::mem::take(&mut self.held) {
            self.session.inflight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.free();
    }
}

impl SessionShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, SeqMap<InFlightDeliver>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Whether the deliver window has room.
    pub(crate) fn has_room(&self) -> bool {
        self.is_alive() && self.lock().len() < self.deliver_window
    }

    fn next_seq(&self) -> u32 {
        io::next_sequence(&self.seq)
    }

    /// Sends a deliver_sm if the session is up and its window has room;
    /// otherwise gives the body back.
    // The body comes back by value so the caller can hold it elsewhere
    // without a clone; boxing it would cost an allocation per delivery.
    #[allow(clippy::result_large_err)]
    pub(crate) fn try_deliver(&self, body: Body, kind: DeliverKind) -> Result<(), Body> {
        if !self.is_alive() {
            return Err(body);
        }
        let seq = self.next_seq();
        let pdu = Pdu::new(seq, body);
        let mut p = self.lock();
        if p.len() >= self.deliver_window {
            return Err(pdu.body);
        }
        // Encoded into the outbox while the window's lock is held: its
        // response (settled under the same lock) cannot find it missing,
        // and close() (which takes the window under it) either ran first,
        // so the send fails, or hands this one back afterwards. Lock order:
        // window, then outbox; nothing takes them the other way round.
        if !self.is_alive() || self.out.send_pdu(&pdu).is_err() {
            return Err(pdu.body);
        }
        p.insert(
            seq,
            InFlightDeliver {
                body: pdu.body,
                kind,
                sent_ms: crate::clock::monotonic_ms(),
            },
        );
        Ok(())
    }

    /// The deliver_sm answered by this response, if it was one of ours.
    fn settle(&self, seq: u32) -> Option<InFlightDeliver> {
        self.lock().remove(seq)
    }

    /// Deliveries the ESME left unanswered for longer than `timeout`.
    fn expired(&self, timeout: Duration) -> Vec<InFlightDeliver> {
        let now = crate::clock::monotonic_ms();
        let timeout = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.lock()
            .take_if(|d| now.saturating_sub(d.sent_ms) >= timeout)
    }

    /// Marks the session gone and returns what it still had in flight.
    fn close(&self) -> Vec<InFlightDeliver> {
        self.alive.store(false, Ordering::Release);
        self.lock().drain()
    }
}

static SESSION_IDS: AtomicU64 = AtomicU64::new(1);

/// Accepts plain TCP connections until shutdown.
pub(crate) async fn accept_loop(core: Arc<Core>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    let shutdown = core.shutdown.clone();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        if !core.try_open_connection() {
            tracing::warn!(peer = %peer.ip(), "connection limit reached; refusing");
            drop(tcp);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let core2 = core.clone();
        let tls = tls.clone();
        core.sessions.spawn(async move {
            match tls {
                None => serve(core2.clone(), tcp, peer).await,
                Some(acc) => {
                    match tokio::time::timeout(core2.server().bind_timeout.get(), acc.accept(tcp))
                        .await
                    {
                        Ok(Ok(s)) => serve(core2.clone(), s, peer).await,
                        Ok(Err(e)) => {
                            tracing::info!(peer = %peer.ip(), error = %e, "TLS handshake failed")
                        }
                        Err(_) => tracing::info!(peer = %peer.ip(), "TLS handshake timed out"),
                    }
                }
            }
            core2.close_connection();
        });
    }
}

enum State {
    Open,
    /// Bound: the account is [`SessionShared`]'s.
    Bound {
        kind: BindType,
        /// Cancelled when the account is suspended (taken before the
        /// bind's suspension check, so no suspension slips between).
        kick: CancellationToken,
    },
}

/// Runs one ESME session to its end.
pub(crate) async fn serve<S>(core: Arc<Core>, stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (r, w) = io::split(stream);
    let server = core.server();
    let max_pdu = server.max_pdu_len.0.min(u64::from(u32::MAX)) as u32;
    let mut reader = FrameReader::new(r, max_pdu, Side::Esme);
    let (out, rx) = io::outbox(Side::Esme, core.next_session_number());
    let writer = tokio::spawn(io::write_loop(w, rx));
    let deliver_window = server.deliver_window.max(1) as usize;
    let shared = Arc::new(SessionShared {
        id: SESSION_IDS.fetch_add(1, Ordering::Relaxed),
        out: out.clone(),
        seq: AtomicU32::new(1),
        pending: Mutex::new(SeqMap::with_window(deliver_window)),
        deliver_window,
        alive: AtomicBool::new(true),
        account: OnceLock::new(),
        inflight: AtomicU32::new(0),
    });
    let mut session = Session {
        core: core.clone(),
        peer: peer.ip(),
        out,
        shared,
        state: State::Open,
        closing: false,
    };
    session.run(&mut reader).await;
    session.finish();
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

struct Session {
    core: Arc<Core>,
    peer: IpAddr,
    out: OutTx,
    shared: Arc<SessionShared>,
    state: State,
    /// Shutting down or unbinding on a reload: new requests are refused
    /// with ESME_RTHROTTLED while those in flight finish.
    closing: bool,
}

/// What to do after a PDU.
#[derive(PartialEq, Eq)]
enum Next {
    Continue,
    Close,
}

impl Session {
    fn send(&self, p: Pdu) {
        let _ = self.out.send(Out::Pdu(p));
    }

    async fn run(&mut self, reader: &mut FrameReader) {
        let mut server = self.core.server();
        let bind_deadline = Instant::now() + server.bind_timeout.get();
        let mut last_rx = Instant::now();
        let mut enquire_sent: Option<Instant> = None;
        let shutdown = self.core.shutdown.clone();
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Timeouts as reloaded.
            server = self.core.server();
            let (retired, kicked) = match (&self.state, self.shared.account.get()) {
                (State::Bound { kick, .. }, Some(account)) => {
                    (Some(account.retired.clone()), Some(kick.clone()))
                }
                _ => (None, None),
            };
            let tick = match (&self.state, enquire_sent) {
                (State::Open, _) => bind_deadline,
                (State::Bound { .. }, Some(at)) => at + server.response_timeout.get(),
                (State::Bound { .. }, None) => (last_rx + server.enquire_link_interval.get())
                    .min(last_rx + server.inactivity_timeout.get()),
            };
            tokio::select! {
                ev = reader.next() => {
                    // When this read came in: the received time of every
                    // frame it brought (one clock read, not one a frame).
                    let read_at = Instant::now();
                    // This frame, then every other whole one the same read
                    // brought in.
                    let mut ev = Some(ev);
                    while let Some(e) = ev.take() {
                        let frame = match e {
                            Ok(ReadEvent::Frame(f)) => f,
                            Ok(ReadEvent::Bad(e)) => {
                                // A bad command_length leaves no way to find
                                // the next PDU: answer, then close.
                                if let Some(r) = e.response() { self.send(r); }
                                tracing::info!(peer = %self.peer, error = %e, "unframeable input; closing session");
                                return;
                            }
                            Ok(ReadEvent::Eof) => return,
                            Err(e) => {
                                tracing::debug!(peer = %self.peer, error = %e, "read error");
                                return;
                            }
                        };
                        enquire_sent = None;
                        if self.on_frame(frame, read_at).await == Next::Close {
                            return;
                        }
                        ev = reader.buffered().map(Ok);
                    }
                    // Measured after the batch is handled: a bind's
                    // password check is not idle time.
                    last_rx = Instant::now();
                }
                _ = tokio::time::sleep_until(tick.into()) => {
                    match (&self.state, enquire_sent) {
                        (State::Open, _) => {
                            tracing::info!(peer = %self.peer, "no bind within bind_timeout; closing");
                            return;
                        }
                        (State::Bound { .. }, _) if last_rx.elapsed() >= server.inactivity_timeout.get() => {
                            tracing::info!(peer = %self.peer, "inactivity timeout; unbinding");
                            self.unbind_and_wait(reader).await;
                            return;
                        }
                        (State::Bound { .. }, Some(_)) => {
                            tracing::info!(peer = %self.peer, "enquire_link unanswered; closing");
                            return;
                        }
                        (State::Bound { .. }, None) => {
                            let seq = self.shared.next_seq();
                            self.send(Pdu::new(seq, Body::EnquireLink));
                            enquire_sent = Some(Instant::now());
                        }
                    }
                }
                _ = sweep.tick() => {
                    if let Some(account) = self.shared.account.get() {
                        let late = self.shared.expired(server.response_timeout.get());
                        if !late.is_empty() {
                            tracing::info!(account = %account.sid, count = late.len(), "ESME did not answer deliver_sm in time; holding");
                            self.core.requeue(account, late);
                        }
                    }
                }
                _ = shutdown.cancelled() => {
                    if matches!(self.state, State::Bound { .. }) {
                        self.drain_and_unbind(reader).await;
                    }
                    return;
                }
                _ = async { match &retired { Some(t) => t.cancelled().await, None => std::future::pending().await } } => {
                    if let Some(account) = self.shared.account.get() {
                        tracing::info!(account = %account.sid, session = self.shared.id, "account removed or its password changed by a reload; unbinding");
                    }
                    self.drain_and_unbind(reader).await;
                    return;
                }
                _ = async { match &kicked { Some(t) => t.cancelled().await, None => std::future::pending().await } } => {
                    if let Some(account) = self.shared.account.get() {
                        tracing::info!(account = %account.sid, session = self.shared.id, "account suspended pending review; unbinding");
                    }
                    self.drain_and_unbind(reader).await;
                    return;
                }
            }
        }
    }

    /// Gateway-initiated unbind of a bound session, gracefully: requests
    /// that arrive from now on get ESME_RTHROTTLED (try again later,
    /// elsewhere); those in flight are answered as they finish; then
    /// unbind is sent and its answer awaited. Bounded by the submit
    /// deadline plus a short wait for unbind_resp.
    async fn drain_and_unbind(&mut self, reader: &mut FrameReader) {
        self.closing = true;
        let drain_until = Instant::now() + self.core.server().submit_deadline.get();
        let mut unbind_until: Option<Instant> = None;
        loop {
            if unbind_until.is_none()
                && (self.shared.inflight.load(Ordering::Acquire) == 0
                    || Instant::now() >= drain_until)
            {
                let seq = self.shared.next_seq();
                self.send(Pdu::new(seq, Body::Unbind));
                unbind_until = Some(Instant::now() + Duration::from_secs(2));
            }
            tokio::select! {
                ev = reader.next() => {
                    let read_at = Instant::now();
                    let mut ev = Some(ev);
                    while let Some(e) = ev.take() {
                        let Ok(ReadEvent::Frame(frame)) = e else { return };
                        if self.on_frame(frame, read_at).await == Next::Close {
                            return;
                        }
                        ev = reader.buffered().map(Ok);
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(5)) => {
                    if unbind_until.is_some_and(|t| Instant::now() >= t) {
                        return;
                    }
                }
            }
        }
    }

    /// Gateway-initiated unbind: send it and wait briefly for the answer.
    async fn unbind_and_wait(&mut self, reader: &mut FrameReader) {
        let seq = self.shared.next_seq();
        self.send(Pdu::new(seq, Body::Unbind));
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(ReadEvent::Frame(f)) = reader.next().await {
                if telegate_smpp::pdu::Header::peek(&f)
                    .is_some_and(|h| h.command_id == CommandId::UNBIND_RESP)
                {
                    break;
                }
            }
        })
        .await;
    }

    fn finish(&mut self) {
        let left = self.shared.close();
        if let (State::Bound { kind, .. }, Some(account)) = (&self.state, self.shared.account.get())
        {
            account.unregister(&self.shared, *kind);
            account.metrics.binds.decrement(1.0);
            self.core.requeue(account, left);
            tracing::info!(account = %account.sid, session = self.shared.id, "session closed");
        }
        let _ = self.out.send(Out::Close);
    }

    /// The ESME answered one of our deliver_sm.
    fn settle(&self, seq: u32, status: CommandStatus) {
        if let (Some(d), Some(account)) = (self.shared.settle(seq), self.shared.account.get()) {
            self.core.delivered(account, d, status);
        }
    }

    /// Handles one frame, read from the socket at `read_at`.
    async fn on_frame(&mut self, frame: Bytes, read_at: Instant) -> Next {
        let pdu = match Pdu::decode(&frame) {
            Ok(p) => p,
            Err(e) => {
                tracing::info!(peer = %self.peer, error = %e, "malformed PDU");
                if let Some(r) = e.response() {
                    self.send(r);
                } else if e.command_id.is_response() {
                    // A broken response still settles its request.
                    self.settle(e.sequence_number, CommandStatus::ESME_RSYSERR);
                }
                return if e.is_fatal() {
                    Next::Close
                } else {
                    Next::Continue
                };
            }
        };
        let id = pdu.command_id();
        let seq = pdu.sequence_number;
        if id.is_response() {
            match id {
                CommandId::UNBIND_RESP => return Next::Close,
                CommandId::ENQUIRE_LINK_RESP => {}
                _ => self.settle(seq, pdu.command_status),
            }
            return Next::Continue;
        }
        match (&self.state, pdu.body) {
            (_, Body::EnquireLink) => self.send(Pdu::new(seq, Body::EnquireLinkResp)),
            (State::Open, Body::BindTransmitter(b)) => {
                return self.bind(seq, BindType::Tx, *b).await
            }
            (State::Open, Body::BindReceiver(b)) => return self.bind(seq, BindType::Rx, *b).await,
            (State::Open, Body::BindTransceiver(b)) => {
                return self.bind(seq, BindType::Trx, *b).await
            }
            (
                State::Bound { .. },
                Body::BindTransmitter(_) | Body::BindReceiver(_) | Body::BindTransceiver(_),
            ) => {
                self.send(Pdu::error_response(id, seq, CommandStatus::ESME_RALYBND));
            }
            (State::Bound { .. }, Body::Unbind) => {
                // Let what is in flight be answered first (bounded wait).
                let until = Instant::now() + self.core.server().submit_deadline.get();
                while self.shared.inflight.load(Ordering::Acquire) > 0 && Instant::now() < until {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                self.send(Pdu::new(seq, Body::UnbindResp));
                return Next::Close;
            }
            (_, Body::Other { .. }) => {
                self.send(Pdu::generic_nack(seq, CommandStatus::ESME_RINVCMDID));
            }
            (State::Open, _)
            | (
                State::Bound {
                    kind: BindType::Rx, ..
                },
                _,
            ) => {
                self.send(Pdu::error_response(id, seq, CommandStatus::ESME_RINVBNDSTS));
            }
            (State::Bound { .. }, body) => {
                self.request(seq, frame, body, read_at);
            }
        }
        Next::Continue
    }

    /// A request from a transmitter or transceiver.
    fn request(&mut self, seq: u32, frame: Bytes, body: Body, read_at: Instant) {
        // Borrowed through a handle of this thread's own (so `self` stays
        // free to answer), and no account count is written per request.
        let shared = Arc::clone(&self.shared);
        let id = body.command_id();
        let Some(account) = shared.account.get() else {
            // Set at the bind, before the state says bound.
            self.send(Pdu::error_response(id, seq, CommandStatus::ESME_RINVBNDSTS));
            return;
        };
        let is_submit = matches!(
            body,
            Body::SubmitSm(_) | Body::DataSm(_) | Body::SubmitMulti(_)
        );
        let supported = is_submit
            || matches!(
                body,
                Body::QuerySm(_) | Body::CancelSm(_) | Body::ReplaceSm(_)
            );
        if !supported {
            // deliver_sm, broadcast_sm and the like: not for an ESME to send us.
            let status = if matches!(
                body,
                Body::DeliverSm(_) | Body::Outbind(_) | Body::AlertNotification(_)
            ) {
                CommandStatus::ESME_RINVBNDSTS
            } else {
                CommandStatus::ESME_RINVCMDID
            };
            if matches!(body, Body::Outbind(_) | Body::AlertNotification(_)) {
                // No response PDU exists for these.
                self.send(Pdu::generic_nack(seq, status));
            } else {
                self.send(Pdu::error_response(id, seq, status));
            }
            return;
        }
        if self.closing {
            self.send(Pdu::error_response(id, seq, CommandStatus::ESME_RTHROTTLED));
            return;
        }
        let window = account
            .cfg()
            .window
            .unwrap_or_else(|| self.core.server_window())
            .max(1);
        if self.shared.inflight.load(Ordering::Acquire) >= window {
            self.send(Pdu::error_response(id, seq, CommandStatus::ESME_RTHROTTLED));
            self.core
                .stats
                .throttled_window
                .fetch_add(1, Ordering::Relaxed);
            account.metrics.throttled(Throttle::Window);
            if account.throttle_log.allow() {
                tracing::info!(account = %account.sid, session = self.shared.id, reason = "window", window, "ESME throttled (logged at most once a second per account)");
            }
            return;
        }
        if is_submit && !account.take_token() {
            self.send(Pdu::error_response(id, seq, CommandStatus::ESME_RTHROTTLED));
            self.core
                .stats
                .throttled_account
                .fetch_add(1, Ordering::Relaxed);
            account.metrics.throttled(Throttle::Throughput);
            if account.throttle_log.allow() {
                tracing::info!(account = %account.sid, session = self.shared.id, reason = "throughput", throughput = account.cfg().throughput, "ESME throttled (logged at most once a second per account)");
            }
            return;
        }
        // Holds the window slot, and the session for its account and
        // outbox.
        let Some(mut guard) = InflightGuard::take(&shared) else {
            self.send(Pdu::error_response(id, seq, CommandStatus::ESME_RINVBNDSTS));
            return;
        };
        if matches!(body, Body::SubmitSm(_) | Body::DataSm(_)) {
            self.core.submit(guard, seq, frame, body, read_at);
            return;
        }
        let received = matches!(body, Body::SubmitMulti(_)).then_some(read_at);
        let core = self.core.clone();
        tokio::spawn(async move {
            let resp = core.handle_request(guard.account(), seq, body).await;
            // The window slot is free before the ESME can see the answer
            // and send its next request.
            guard.answer(Out::Pdu(resp));
            if let Some(t) = received {
                guard.account().metrics.submit_latency.record(t.elapsed());
            }
        });
    }

    async fn bind(&mut self, seq: u32, kind: BindType, b: Bind) -> Next {
        let resp_id = match kind {
            BindType::Tx => CommandId::BIND_TRANSMITTER,
            BindType::Rx => CommandId::BIND_RECEIVER,
            BindType::Trx => CommandId::BIND_TRANSCEIVER,
        };
        let system_id = String::from_utf8_lossy(&b.system_id).into_owned();
        match self
            .core
            .authenticate(self.peer, &system_id, &b.password, kind)
            .await
        {
            Ok(account) => {
                // Taken before the check, so a suspension that lands
                // after the check still reaches this session.
                let kick = account.kick_token();
                if self.core.is_suspended(&account) {
                    metrics::auth_failure(AuthFailure::Suspended);
                    tracing::info!(account = %account.sid, "bind refused: the account is suspended pending review");
                    self.send(Pdu::error_response(
                        resp_id,
                        seq,
                        CommandStatus::ESME_RBINDFAIL,
                    ));
                    return Next::Close;
                }
                if !account.register(&self.shared, kind) {
                    metrics::auth_failure(AuthFailure::MaxBinds);
                    tracing::info!(account = %account.sid, "bind refused: max_binds reached");
                    self.send(Pdu::error_response(
                        resp_id,
                        seq,
                        CommandStatus::ESME_RBINDFAIL,
                    ));
                    return Next::Close;
                }
                account.metrics.binds.increment(1.0);
                tracing::info!(account = %account.sid, kind = kind.as_str(), session = self.shared.id, "ESME bound");
                let body = BindResp {
                    system_id: Bytes::from(self.core.server().system_id.clone()),
                    tlvs: vec![Tlv::ScInterfaceVersion(0x34)],
                };
                let body = match kind {
                    BindType::Tx => Body::BindTransmitterResp(body),
                    BindType::Rx => Body::BindReceiverResp(body),
                    BindType::Trx => Body::BindTransceiverResp(body),
                };
                self.send(Pdu::new(seq, body));
                if kind.can_receive() {
                    self.core.drain_held(&account);
                }
                let _ = self.shared.account.set(account);
                self.state = State::Bound { kind, kick };
                Next::Continue
            }
            Err(status) => {
                metrics::auth_failure(match status {
                    CommandStatus::ESME_RINVSYSID => AuthFailure::SystemId,
                    CommandStatus::ESME_RINVPASWD => AuthFailure::Password,
                    CommandStatus::ESME_RINVBNDSTS => AuthFailure::BindType,
                    _ => AuthFailure::Refused,
                });
                self.send(Pdu::error_response(resp_id, seq, status));
                // A refused bind leaves the session open for another try,
                // except when the address is locked out.
                if status == CommandStatus::ESME_RBINDFAIL {
                    Next::Close
                } else {
                    Next::Continue
                }
            }
        }
    }
}
