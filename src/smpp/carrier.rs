//! The carrier side: N persistent binds per carrier (SMPP client), kept
//! alive with enquire_link, reconnected with exponential backoff and
//! jitter, each with a window and response timeout; a TPS cap across the
//! carrier's binds; and push-back when the carrier throttles.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use rand::Rng;
use telegate_smpp::pdu::{Bind, Body, Pdu};
use telegate_smpp::{CommandId, CommandStatus};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::io::{self, FrameReader, Out, OutTx, ReadEvent};
use super::seqmap::SeqMap;
use super::throttle::TokenBucket;
use crate::config::{BindType, CarrierConfig};
use crate::gateway::{deliver_sm_resp, Core, Inbound, LateReceipt};
use crate::metrics::{CarrierMetrics, Side};
use crate::name::Name;
use crate::routing::CarrierIdx;

/// A bind's state, as logged (and exported as a metric later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BindState {
    /// Not connected; waiting to reconnect.
    Down = 0,
    /// Connecting or binding.
    Connecting = 1,
    /// Bound and usable.
    Bound = 2,
}

impl BindState {
    fn from_u8(v: u8) -> BindState {
        match v {
            2 => BindState::Bound,
            1 => BindState::Connecting,
            _ => BindState::Down,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            BindState::Down => "down",
            BindState::Connecting => "connecting",
            BindState::Bound => "bound",
        }
    }
}

/// Why a send to a carrier failed before an answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendError {
    /// No bind of this carrier is up (or none can submit).
    Down,
    /// The carrier is paused after pushing back, until this instant.
    Paused(Instant),
    /// The TPS cap or window would not let it go before the deadline.
    Busy,
    /// No response within the response timeout.
    Timeout,
    /// The bind died while the request was outstanding.
    ConnectionLost,
}

/// What the bind's reader does when a response arrives: the DLR mapping
/// goes in before the response is handed on, so a receipt that follows on
/// any bind finds it.
#[derive(Debug, Clone)]
pub(crate) struct DlrMeta {
    pub(crate) account: Name,
    pub(crate) gateway_id: u64,
    pub(crate) registered_delivery: u8,
}

/// Who is waiting for a response.
pub(crate) enum Waiter {
    /// A task awaiting it (retries, cancel_sm, replace_sm).
    Task(oneshot::Sender<(Result<Pdu, SendError>, Duration)>),
    /// A submit on its first try: the bind's reader answers the ESME
    /// itself, with no task in between; only a failure spawns one.
    Direct(Box<crate::gateway::Direct>),
}

struct Pending {
    waiter: Waiter,
    meta: Option<DlrMeta>,
    sent: Instant,
    _permit: OwnedSemaphorePermit,
}

/// One live bind connection.
struct Conn {
    out: OutTx,
    seq: AtomicU32,
    pending: Mutex<SeqMap<Pending>>,
    window: Arc<Semaphore>,
    alive: AtomicBool,
    can_submit: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("alive", &self.alive.load(Ordering::Relaxed))
            .finish()
    }
}

impl Conn {
    fn next_seq(&self) -> u32 {
        io::next_sequence(&self.seq)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SeqMap<Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails everything outstanding (the connection is gone).
    fn fail_all(&self, pool: &CarrierPool, core: &Arc<Core>) {
        self.alive.store(false, Ordering::Release);
        let drained: Vec<Pending> = self.lock().drain();
        for p in drained {
            settle(
                pool,
                core,
                p.waiter,
                Err(SendError::ConnectionLost),
                Duration::ZERO,
                Instant::now(),
            );
        }
    }

    /// Fails what has waited longer than `timeout` for its response.
    fn expire(&self, pool: &CarrierPool, core: &Arc<Core>, timeout: Duration) {
        let now = Instant::now();
        let late = self
            .lock()
            .take_if(|x| now.duration_since(x.sent) >= timeout);
        if !late.is_empty() {
            tracing::warn!(carrier = %pool.name, count = late.len(), "no response from carrier within timeout");
        }
        for p in late {
            settle(
                pool,
                core,
                p.waiter,
                Err(SendError::Timeout),
                Duration::ZERO,
                now,
            );
        }
    }
}

/// One configured bind slot of a carrier.
#[derive(Debug)]
struct Slot {
    state: AtomicU8,
    conn: ArcSwapOption<Conn>,
}

/// A carrier: its binds, TPS cap and push-back state.
#[derive(Debug)]
pub(crate) struct CarrierPool {
    pub(crate) idx: CarrierIdx,
    pub(crate) name: Name,
    pub(crate) cfg: CarrierConfig,
    password: String,
    slots: Vec<Slot>,
    rr: AtomicUsize,
    tps: Option<TokenBucket>,
    /// Push-back: paused until this many ms after `epoch`, and the level
    /// of the current backoff.
    paused_until_ms: AtomicU64,
    pushback_level: AtomicU32,
    epoch: Instant,
    /// Messages accepted by this carrier (for tests and logs).
    pub(crate) accepted: crate::metrics::Tally,
    /// Set when the pool is being retired: no new sends.
    closing: AtomicBool,
    /// Stops the binds (they unbind first).
    stop: CancellationToken,
    /// Its metric handles.
    pub(crate) metrics: CarrierMetrics,
}

impl CarrierPool {
    pub(crate) fn new(idx: CarrierIdx, cfg: CarrierConfig, password: String) -> CarrierPool {
        let n = cfg.binds.max(1) as usize;
        let tps = TokenBucket::new(cfg.throughput, (cfg.throughput / 10).max(1));
        CarrierPool {
            idx,
            name: Name::new(&cfg.name),
            password,
            slots: (0..n)
                .map(|_| Slot {
                    state: AtomicU8::new(BindState::Down as u8),
                    conn: ArcSwapOption::empty(),
                })
                .collect(),
            rr: AtomicUsize::new(0),
            tps,
            paused_until_ms: AtomicU64::new(0),
            pushback_level: AtomicU32::new(0),
            epoch: Instant::now(),
            accepted: crate::metrics::Tally::default(),
            closing: AtomicBool::new(false),
            stop: CancellationToken::new(),
            metrics: CarrierMetrics::new(&cfg.name),
            cfg,
        }
    }

    /// The state of each bind.
    pub(crate) fn bind_states(&self) -> Vec<BindState> {
        self.slots
            .iter()
            .map(|s| BindState::from_u8(s.state.load(Ordering::Relaxed)))
            .collect()
    }

    /// Binds currently up.
    pub(crate) fn bound(&self) -> usize {
        self.bind_states()
            .iter()
            .filter(|s| **s == BindState::Bound)
            .count()
    }

    /// Sets bind `i`'s state and the binds-up gauge.
    fn set_state(&self, i: usize, state: BindState) {
        self.slots[i].state.store(state as u8, Ordering::Relaxed);
        self.metrics.binds_up.set(self.bound() as f64);
    }

    /// Samples the requests awaiting a response over the live binds.
    fn sample_window(&self) {
        let size = self.cfg.window.max(1) as usize;
        let used: usize = self
            .slots
            .iter()
            .filter_map(|s| s.conn.load_full())
            .map(|c| size.saturating_sub(c.window.available_permits()))
            .sum();
        self.metrics.window_in_use.set(used as f64);
    }

    /// Slows the carrier down after ESME_RTHROTTLED / RMSGQFUL: pauses new
    /// submits for a backoff that doubles with each push-back (50 ms up
    /// to 5 s) and relaxes on success.
    pub(crate) fn push_back(&self) {
        let level = self.pushback_level.fetch_add(1, Ordering::Relaxed).min(7);
        let pause = Duration::from_millis(50u64 << level).min(Duration::from_secs(5));
        let until = (self.epoch.elapsed() + pause).as_millis() as u64;
        self.paused_until_ms.fetch_max(until, Ordering::Relaxed);
        if level == 0 {
            tracing::info!(carrier = %self.name, pause_ms = pause.as_millis() as u64, "carrier pushed back; slowing down");
        }
    }

    fn relax(&self) {
        if self.pushback_level.load(Ordering::Relaxed) > 0 {
            self.pushback_level.store(0, Ordering::Relaxed);
        }
    }

    /// When the carrier is paused, until when.
    pub(crate) fn paused_until(&self) -> Option<Instant> {
        self.paused_at(Instant::now())
    }

    /// [`CarrierPool::paused_until`], read at `now` (a time the caller
    /// has already read, so the hot path reads the clock once).
    fn paused_at(&self, now: Instant) -> Option<Instant> {
        let until = self.paused_until_ms.load(Ordering::Relaxed);
        if until == 0 {
            // Never pushed back.
            return None;
        }
        let at = now.saturating_duration_since(self.epoch).as_millis() as u64;
        (until > at).then(|| now + Duration::from_millis(until - at))
    }

    /// Whether `cfg` and `password` are what this pool runs with.
    pub(crate) fn same_settings(&self, cfg: &CarrierConfig, password: &str) -> bool {
        self.cfg == *cfg && self.password == password
    }

    /// Requests sent and not answered yet, over all binds.
    pub(crate) fn in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|s| s.conn.load_full())
            .map(|c| c.lock().len())
            .sum()
    }

    /// Whether the pool is being retired.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Takes the carrier out of service gracefully: no new sends (they
    /// fail over as if the carrier were down), then, once what is in
    /// flight has been answered or `drain` has passed, every bind sends
    /// unbind and closes.
    pub(crate) async fn retire(&self, drain: Duration) {
        self.closing.store(true, Ordering::Release);
        let until = Instant::now() + drain;
        while self.in_flight() > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = self.in_flight();
        if left > 0 {
            tracing::warn!(carrier = %self.name, in_flight = left, "carrier retired with requests still in flight");
        }
        self.stop.cancel();
    }

    fn pick(&self) -> Option<(Arc<Conn>, Option<OwnedSemaphorePermit>)> {
        self.pick_from(self.rr.fetch_add(1, Ordering::Relaxed))
    }

    /// Like [`pick`](Self::pick), trying the bind at `start` (modulo the
    /// bind count) first.
    fn pick_from(&self, start: usize) -> Option<(Arc<Conn>, Option<OwnedSemaphorePermit>)> {
        if self.is_closing() {
            return None;
        }
        let n = self.slots.len();
        let mut fallback = None;
        for i in 0..n {
            let slot = &self.slots[(start + i) % n];
            let Some(c) = slot.conn.load_full() else {
                continue;
            };
            if !c.alive.load(Ordering::Acquire) || !c.can_submit {
                continue;
            }
            if let Ok(p) = c.window.clone().try_acquire_owned() {
                return Some((c, Some(p)));
            }
            fallback.get_or_insert(c);
        }
        fallback.map(|c| (c, None))
    }

    /// Sends one request frame (its sequence number is replaced) and waits
    /// for the response, within `deadline` for the window and TPS cap and
    /// then the carrier's response timeout.
    pub(crate) async fn send(
        &self,
        frame: &[u8],
        meta: Option<DlrMeta>,
        deadline: Instant,
    ) -> Result<Pdu, SendError> {
        self.send_timed(frame, meta, deadline).await.0
    }

    /// [`CarrierPool::send`], with the time from the request's send to its
    /// response (zero when there is no response).
    pub(crate) async fn send_timed(
        &self,
        frame: &[u8],
        meta: Option<DlrMeta>,
        deadline: Instant,
    ) -> (Result<Pdu, SendError>, Duration) {
        let none = |e| (Err(e), Duration::ZERO);
        if let Some(until) = self.paused_until() {
            return none(SendError::Paused(until));
        }
        let Some((conn, permit)) = self.pick() else {
            return none(SendError::Down);
        };
        let permit = match permit {
            Some(p) => p,
            None => {
                let acquire = conn.window.clone().acquire_owned();
                match tokio::time::timeout_at(deadline.into(), acquire).await {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => return none(SendError::ConnectionLost),
                    Err(_) => return none(SendError::Busy),
                }
            }
        };
        if let Some(tps) = &self.tps {
            loop {
                match tps.take() {
                    Ok(()) => break,
                    Err(wait) if Instant::now() + wait < deadline => {
                        tokio::time::sleep(wait).await;
                    }
                    Err(_) => return none(SendError::Busy),
                }
            }
        }
        let (tx, rx) = oneshot::channel();
        let frame = Bytes::copy_from_slice(frame);
        if self
            .enqueue(&conn, frame, meta, Waiter::Task(tx), permit, Instant::now())
            .is_err()
        {
            return none(SendError::ConnectionLost);
        }
        // The bind's sweeper answers Timeout; the connection's end answers
        // ConnectionLost.
        rx.await
            .unwrap_or((Err(SendError::ConnectionLost), Duration::ZERO))
    }

    /// Registers `waiter` under a new sequence number and queues the frame
    /// with it, as sent at `sent` (now, give or take the microseconds since
    /// the caller read the clock). The waiter comes back when the bind is
    /// gone and nobody else will answer it.
    fn enqueue(
        &self,
        conn: &Conn,
        frame: Bytes,
        meta: Option<DlrMeta>,
        waiter: Waiter,
        permit: OwnedSemaphorePermit,
        sent: Instant,
    ) -> Result<(), Waiter> {
        let seq = conn.next_seq();
        conn.lock().insert(
            seq,
            Pending {
                waiter,
                meta,
                sent,
                _permit: permit,
            },
        );
        // The bind may have ended (and settled everything outstanding)
        // between the caller's `pick` and the insert: then nobody else
        // would answer this one.
        if !conn.alive.load(Ordering::Acquire) || conn.out.send(Out::Reseq(frame, seq)).is_err() {
            // `None`: the bind's end took it and settled it already.
            return conn.lock().remove(seq).map_or(Ok(()), |p| Err(p.waiter));
        }
        Ok(())
    }

    /// First try of a submit, without waiting: a bind with room in its
    /// window, a TPS token, and the carrier not paused; otherwise the
    /// submit comes back for the task path. `now`: the time the caller
    /// took the submit in, just before.
    pub(crate) fn try_send_direct(
        &self,
        d: Box<crate::gateway::Direct>,
        meta: DlrMeta,
        now: Instant,
    ) -> Result<(), Box<crate::gateway::Direct>> {
        if self.paused_at(now).is_some() {
            return Err(d);
        }
        // One ESME session's submits go to one bind while it has room:
        // what one read brought in leaves in one write, as the ESME sent it.
        let Some((conn, Some(permit))) = self.pick_from(d.affinity()) else {
            return Err(d);
        };
        if let Some(tps) = &self.tps {
            if tps.take().is_err() {
                return Err(d);
            }
        }
        let frame = d.frame.clone();
        match self.enqueue(&conn, frame, Some(meta), Waiter::Direct(d), permit, now) {
            Err(Waiter::Direct(d)) => Err(d),
            _ => Ok(()),
        }
    }

    /// Starts the bind tasks.
    pub(crate) fn start(self: &Arc<Self>, core: &Arc<Core>) {
        for i in 0..self.slots.len() {
            let pool = self.clone();
            let core2 = core.clone();
            core.tracker
                .spawn(async move { pool.run_slot(i, core2).await });
        }
    }

    async fn run_slot(self: Arc<Self>, i: usize, core: Arc<Core>) {
        let shutdown = self.stop.clone();
        let min = self.cfg.reconnect.min.get().max(Duration::from_millis(10));
        let max = self.cfg.reconnect.max.get().max(min);
        let mut backoff = min;
        let mut first = true;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            if !std::mem::take(&mut first) {
                self.metrics.reconnects.increment(1);
            }
            self.set_state(i, BindState::Connecting);
            let started = Instant::now();
            match self.connect_and_bind(i).await {
                Ok((reader, out, writer)) => {
                    tracing::info!(carrier = %self.name, bind = i, kind = self.cfg.bind.as_str(), "carrier bind up");
                    self.session(i, reader, out, writer, &core, &shutdown).await;
                    if shutdown.is_cancelled() {
                        tracing::info!(carrier = %self.name, bind = i, "carrier bind closed");
                    } else {
                        tracing::warn!(carrier = %self.name, bind = i, "carrier bind down");
                    }
                    // A bind that stayed up a while starts over at min.
                    if started.elapsed() > max {
                        backoff = min;
                    }
                }
                Err(e) => {
                    self.metrics.bind_failures.increment(1);
                    tracing::warn!(carrier = %self.name, bind = i, error = %e, retry_ms = backoff.as_millis() as u64, "carrier bind failed");
                }
            }
            self.set_state(i, BindState::Down);
            if shutdown.is_cancelled() {
                break;
            }
            // Full jitter on the upper half: never a tight loop, and binds
            // of one carrier do not reconnect in lockstep.
            let jitter = rand::thread_rng().gen_range(0.5..=1.0);
            let wait = backoff.mul_f64(jitter);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => break,
            }
            backoff = (backoff * 2).min(max);
        }
    }

    /// Connects and binds bind number `i`.
    async fn connect_and_bind(
        &self,
        i: usize,
    ) -> Result<(FrameReader, OutTx, tokio::task::JoinHandle<()>), String> {
        let connect = TcpStream::connect(self.cfg.address.as_str());
        let tcp = match tokio::time::timeout(Duration::from_secs(10), connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(format!("connect to {}: {e}", self.cfg.address)),
            Err(_) => return Err(format!("connect to {}: timed out", self.cfg.address)),
        };
        let _ = tcp.set_nodelay(true);
        let (r, w) = if self.cfg.tls {
            let tls = super::tls::connect(&self.cfg, tcp).await?;
            io::split(tls)
        } else {
            io::split(tcp)
        };
        let mut reader =
            FrameReader::new(r, telegate_smpp::frame::DEFAULT_MAX_PDU_LEN, Side::Carrier);
        let (tx, rx) = io::outbox(Side::Carrier, i);
        let writer = tokio::spawn(io::write_loop(w, rx));
        let bind = Bind {
            system_id: Bytes::from(self.cfg.system_id.clone()),
            password: Bytes::from(self.password.clone()),
            system_type: Bytes::from(self.cfg.system_type.clone()),
            interface_version: 0x34,
            ..Bind::default()
        };
        let body = match self.cfg.bind {
            BindType::Tx => Body::BindTransmitter(Box::new(bind)),
            BindType::Rx => Body::BindReceiver(Box::new(bind)),
            BindType::Trx => Body::BindTransceiver(Box::new(bind)),
        };
        let _ = tx.send(Out::Pdu(Pdu::new(1, body)));
        let wait = self.cfg.response_timeout.get();
        let resp = loop {
            match tokio::time::timeout(wait, reader.next()).await {
                Err(_) => return Err("no bind response".into()),
                Ok(Err(e)) => return Err(format!("read: {e}")),
                Ok(Ok(ReadEvent::Eof)) => return Err("closed during bind".into()),
                Ok(Ok(ReadEvent::Bad(e))) => return Err(format!("bad frame during bind: {e}")),
                Ok(Ok(ReadEvent::Frame(f))) => match Pdu::decode(&f) {
                    Ok(p) if p.command_id().is_response() && p.sequence_number == 1 => break p,
                    Ok(p) if p.command_id() == CommandId::ENQUIRE_LINK => {
                        let _ =
                            tx.send(Out::Pdu(Pdu::new(p.sequence_number, Body::EnquireLinkResp)));
                    }
                    Ok(_) => {}
                    Err(e) => return Err(format!("bad PDU during bind: {e}")),
                },
            }
        };
        if !resp.command_status.is_ok() {
            let _ = tx.send(Out::Close);
            return Err(format!("bind refused: {}", resp.command_status));
        }
        Ok((reader, tx, writer))
    }

    async fn session(
        &self,
        i: usize,
        mut reader: FrameReader,
        out: OutTx,
        writer: tokio::task::JoinHandle<()>,
        core: &Arc<Core>,
        shutdown: &CancellationToken,
    ) {
        let window = self.cfg.window.max(1) as usize;
        let conn = Arc::new(Conn {
            out: out.clone(),
            seq: AtomicU32::new(2),
            pending: Mutex::new(SeqMap::with_window(window)),
            window: Arc::new(Semaphore::new(window)),
            alive: AtomicBool::new(true),
            can_submit: self.cfg.bind.can_submit(),
        });
        self.slots[i].conn.store(Some(conn.clone()));
        self.set_state(i, BindState::Bound);
        // Receipts and MO are handled concurrently, but bounded: when this
        // many are in progress the bind stops reading, which pushes back on
        // the carrier through TCP.
        let inbound = Arc::new(Semaphore::new(1024));
        let interval = self
            .cfg
            .enquire_link_interval
            .get()
            .max(Duration::from_millis(100));
        let timeout = self.cfg.response_timeout.get();
        let mut last_rx = Instant::now();
        let mut enquire_sent: Option<Instant> = None;
        // Receipts of this read that came in ahead of their mapping.
        let mut early: Vec<EarlyReceipt> = Vec::new();
        let mut sweep = tokio::time::interval(Duration::from_millis(100).min(timeout));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let tick = match enquire_sent {
                Some(at) => at + timeout,
                None => last_rx + interval,
            };
            tokio::select! {
                ev = reader.next() => {
                    last_rx = Instant::now();
                    enquire_sent = None;
                    // This frame, then every other whole one the same read
                    // brought in.
                    let mut ev = Some(ev);
                    let mut keep = true;
                    while let Some(e) = ev.take() {
                        let frame = match e {
                            Ok(ReadEvent::Frame(f)) => f,
                            Ok(ReadEvent::Bad(e)) => {
                                if let Some(r) = e.response() { let _ = out.send(Out::Pdu(r)); }
                                tracing::warn!(carrier = %self.name, error = %e, "carrier sent a broken frame; closing bind");
                                keep = false;
                                break;
                            }
                            Ok(ReadEvent::Eof) => {
                                keep = false;
                                break;
                            }
                            Err(e) => {
                                tracing::debug!(carrier = %self.name, error = %e, "carrier read error");
                                keep = false;
                                break;
                            }
                        };
                        if !self.on_frame(frame, last_rx, &conn, core, &inbound, &mut early).await {
                            keep = false;
                            break;
                        }
                        ev = reader.buffered().map(Ok);
                    }
                    if keep && !early.is_empty() {
                        // Their submit_sm_resp is most likely in another
                        // bind's read, on this thread or the other one:
                        // let those readers run, then look again; only
                        // those still without a mapping are parked.
                        tokio::task::yield_now().await;
                        for r in std::mem::take(&mut early) {
                            let got = core.match_receipt(self.name, r.sm, r.view, conn.out.id());
                            if !self.answer_receipt(got, r.seq, &conn, core, &inbound).await {
                                keep = false;
                                break;
                            }
                        }
                    }
                    // A session that ends here leaves its early receipts
                    // unanswered: the carrier sends them again.
                    early.clear();
                    if !keep {
                        break;
                    }
                }
                _ = tokio::time::sleep_until(tick.into()) => {
                    if enquire_sent.is_some() {
                        tracing::warn!(carrier = %self.name, bind = i, "enquire_link unanswered; closing bind");
                        break;
                    }
                    let seq = conn.next_seq();
                    let _ = out.send(Out::Pdu(Pdu::new(seq, Body::EnquireLink)));
                    enquire_sent = Some(Instant::now());
                }
                _ = sweep.tick() => {
                    conn.expire(self, core, timeout);
                    self.sample_window();
                }
                _ = shutdown.cancelled() => {
                    let seq = conn.next_seq();
                    let _ = out.send(Out::Pdu(Pdu::new(seq, Body::Unbind)));
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while let Ok(ReadEvent::Frame(f)) = reader.next().await {
                            if Pdu::decode(&f).is_ok_and(|p| p.command_id() == CommandId::UNBIND_RESP) {
                                break;
                            }
                        }
                    }).await;
                    break;
                }
            }
        }
        self.slots[i].conn.store(None);
        self.set_state(i, BindState::Down);
        conn.fail_all(self, core);
        self.sample_window();
        let _ = out.send(Out::Close);
        let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
    }

    /// Handles one frame from the carrier, read from the socket at
    /// `read_at`; false ends the session.
    async fn on_frame(
        &self,
        frame: Bytes,
        read_at: Instant,
        conn: &Arc<Conn>,
        core: &Arc<Core>,
        inbound: &Arc<Semaphore>,
        early: &mut Vec<EarlyReceipt>,
    ) -> bool {
        let pdu = match Pdu::decode(&frame) {
            Ok(p) => p,
            Err(e) => {
                // A response we cannot read still settles its request.
                if e.command_id.is_response() {
                    if let Some(p) = conn.lock().remove(e.sequence_number) {
                        let nack =
                            Pdu::generic_nack(e.sequence_number, CommandStatus::ESME_RSYSERR);
                        let latency = read_at.saturating_duration_since(p.sent);
                        settle(self, core, p.waiter, Ok(nack), latency, read_at);
                    }
                }
                tracing::warn!(carrier = %self.name, error = %e, "undecodable PDU from carrier");
                if let Some(r) = e.response() {
                    let _ = conn.out.send(Out::Pdu(r));
                }
                return !e.is_fatal();
            }
        };
        let id = pdu.command_id();
        if id.is_response() {
            if id == CommandId::ENQUIRE_LINK_RESP {
                return true;
            }
            if id == CommandId::UNBIND_RESP {
                return false;
            }
            let pending = conn.lock().remove(pdu.sequence_number);
            if let Some(p) = pending {
                // The response came in with the read, not when its turn
                // in the read's batch came.
                let latency = read_at.saturating_duration_since(p.sent);
                if id == CommandId::SUBMIT_SM_RESP || id == CommandId::DATA_SM_RESP {
                    self.metrics.latency.record(latency);
                }
                if pdu.command_status.is_ok() {
                    self.relax();
                    self.accepted.add(1);
                    if let (Some(meta), Some(mid)) = (&p.meta, response_message_id(&pdu)) {
                        core.record_mapping(self, meta, mid);
                    }
                }
                settle(self, core, p.waiter, Ok(pdu), latency, read_at);
            }
            return true;
        }
        match pdu.body {
            Body::EnquireLink => {
                let _ = conn.out.send(Out::Pdu(Pdu::new(
                    pdu.sequence_number,
                    Body::EnquireLinkResp,
                )));
            }
            Body::Unbind => {
                let _ = conn
                    .out
                    .send(Out::Pdu(Pdu::new(pdu.sequence_number, Body::UnbindResp)));
                return false;
            }
            Body::DeliverSm(sm) => {
                let seq = pdu.sequence_number;
                match core.on_carrier_deliver(self.name, sm, conn.out.id()) {
                    // Looked up again at the end of this read (see
                    // `session`), before it is parked.
                    Inbound::Late(sm, view) => early.push(EarlyReceipt { seq, sm, view }),
                    got => return self.answer_receipt(got, seq, conn, core, inbound).await,
                }
            }
            Body::AlertNotification(_) | Body::Outbind(_) => {}
            _ => {
                // data_sm and anything else a carrier may send us is not
                // supported on client binds.
                let _ = conn.out.send(Out::Pdu(Pdu::error_response(
                    id,
                    pdu.sequence_number,
                    CommandStatus::ESME_RINVCMDID,
                )));
            }
        }
        true
    }
}

/// A receipt read ahead of its mapping, held to the end of its read.
struct EarlyReceipt {
    seq: u32,
    sm: Box<telegate_smpp::pdu::SubmitSm>,
    view: crate::dlr::rewrite::ReceiptView,
}

impl CarrierPool {
    /// Answers the carrier's deliver_sm `seq` as the gateway took it in;
    /// false ends the session.
    async fn answer_receipt(
        &self,
        got: Inbound,
        seq: u32,
        conn: &Arc<Conn>,
        core: &Arc<Core>,
        inbound: &Arc<Semaphore>,
    ) -> bool {
        let resp = move |status| deliver_sm_resp(seq, status);
        match got {
            Inbound::Done(status) => {
                let _ = conn.out.send(Out::Pdu(resp(status)));
            }
            Inbound::Wait(account, body, kind) => {
                // The ESME is behind: stop reading this bind until it
                // catches up, which slows the carrier via TCP.
                let status = core.dispatch_wait(&account, body, kind).await;
                let _ = conn.out.send(Out::Pdu(resp(status)));
            }
            Inbound::Late(sm, view) => {
                // A receipt whose mapping is not there yet: parked until it
                // is, bounded per bind.
                let Ok(permit) = inbound.clone().acquire_owned().await else {
                    return false;
                };
                core.park_late_receipt(LateReceipt {
                    carrier: self.name,
                    sm,
                    view,
                    reply: conn.out.clone(),
                    seq,
                    permit,
                });
            }
        }
        true
    }
}

/// Hands a response, or the reason there is none, to whoever waits.
/// `latency`: from the request's send to its response (zero without one).
fn settle(
    pool: &CarrierPool,
    core: &Arc<Core>,
    waiter: Waiter,
    r: Result<Pdu, SendError>,
    latency: Duration,
    at: Instant,
) {
    match waiter {
        Waiter::Task(tx) => {
            let _ = tx.send((r, latency));
        }
        Waiter::Direct(d) => core.direct_result(pool, d, r, latency, at),
    }
}

/// The message_id of a submit_sm_resp / data_sm_resp.
fn response_message_id(p: &Pdu) -> Option<&Bytes> {
    match &p.body {
        Body::SubmitSmResp(r) | Body::DataSmResp(r) => Some(&r.message_id),
        _ => None,
    }
}
