//! A carrier (SMSC) simulator.
//!
//! It accepts binds (any credentials, or a fixed list), answers
//! `submit_sm` with a message id, and after `dlr_delay` sends a delivery
//! receipt (SMPP 3.4 Appendix B text, `esm_class` 0x04, plus the
//! `receipted_message_id` and `message_state` TLVs) on a receiver-capable
//! bind of the same system_id. Receipts whose bind is gone, or that were
//! sent but not acknowledged when the bind died, are held (bounded) and
//! sent on the next bind. [`SmscHandle::set_mode`] makes it throttle,
//! reject, stall or drop connections.
//!
//! Built for load: a session decodes every frame of one read, encodes all
//! the answers into one buffer and hands that to the writer task in one
//! message; receipts are scheduled in one FIFO (the delay is constant, so
//! due times are in order) served by one task.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use telegate_smpp::pdu::{BindResp, MessageIdResp, SubmitSm, MAX_SEQUENCE};
use telegate_smpp::receipt::{Receipt, ReceiptDate, ReceiptErr, ReceiptStat};
use telegate_smpp::{Address, Body, CommandId, CommandStatus, Pdu, Tlv};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{spawn_writer, FrameReader};

/// How the simulator spells message ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdFormat {
    /// Lowercase hex, no padding.
    #[default]
    Hex,
    /// Uppercase hex, no padding.
    HexUpper,
    /// Decimal.
    Decimal,
}

impl IdFormat {
    /// Formats `id`.
    pub fn format(self, id: u64) -> String {
        match self {
            IdFormat::Hex => format!("{id:x}"),
            IdFormat::HexUpper => format!("{id:X}"),
            IdFormat::Decimal => id.to_string(),
        }
    }
}

impl FromStr for IdFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<IdFormat, String> {
        match s.to_ascii_lowercase().as_str() {
            "hex" => Ok(IdFormat::Hex),
            "hex-upper" | "hexupper" | "upper" => Ok(IdFormat::HexUpper),
            "dec" | "decimal" => Ok(IdFormat::Decimal),
            _ => Err(format!("unknown id format {s:?} (hex, hex-upper, decimal)")),
        }
    }
}

/// What the simulator does with requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Answer normally.
    #[default]
    Accept,
    /// Answer `submit_sm`/`data_sm` with ESME_RTHROTTLED.
    Throttle,
    /// Answer `submit_sm`/`data_sm` with this status.
    Reject(CommandStatus),
    /// Read but answer nothing, send no receipts (a hung SMSC).
    Stall,
    /// Close every connection, and any new one right after accepting it.
    Drop,
}

impl Mode {
    fn pack(self) -> u64 {
        match self {
            Mode::Accept => 0,
            Mode::Throttle => 1 << 32,
            Mode::Reject(s) => (2 << 32) | u64::from(s.0),
            Mode::Stall => 3 << 32,
            Mode::Drop => 4 << 32,
        }
    }

    fn unpack(v: u64) -> Mode {
        match v >> 32 {
            1 => Mode::Throttle,
            2 => Mode::Reject(CommandStatus(v as u32)),
            3 => Mode::Stall,
            4 => Mode::Drop,
            _ => Mode::Accept,
        }
    }
}

impl FromStr for Mode {
    type Err = String;

    /// `accept`, `throttle`, `stall`, `drop`, `reject` (ESME_RSYSERR) or
    /// `reject:<status>` with a decimal or `0x` hex status.
    fn from_str(s: &str) -> Result<Mode, String> {
        let l = s.to_ascii_lowercase();
        match l.as_str() {
            "accept" => return Ok(Mode::Accept),
            "throttle" => return Ok(Mode::Throttle),
            "stall" => return Ok(Mode::Stall),
            "drop" => return Ok(Mode::Drop),
            "reject" => return Ok(Mode::Reject(CommandStatus::ESME_RSYSERR)),
            _ => {}
        }
        let Some(code) = l.strip_prefix("reject:") else {
            return Err(format!(
                "unknown mode {s:?} (accept, throttle, reject[:status], stall, drop)"
            ));
        };
        let n = match code.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16),
            None => code.parse(),
        }
        .map_err(|_| format!("bad status in {s:?}"))?;
        Ok(Mode::Reject(CommandStatus(n)))
    }
}

/// When to send a delivery receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiptPolicy {
    /// As `registered_delivery` asks (§5.2.17: 1 always, 2 on failure,
    /// 3 on success).
    #[default]
    Requested,
    /// For every accepted submit.
    Always,
    /// Never.
    Never,
}

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SmscConfig {
    /// Where to listen; port 0 picks one (see [`SmscHandle::addr`]).
    pub listen: SocketAddr,
    /// system_id in bind responses.
    pub system_id: String,
    /// Accepted `(system_id, password)` pairs; empty accepts anyone.
    pub accounts: Vec<(String, String)>,
    /// Delay between accepting a submit and sending its receipt.
    pub dlr_delay: Duration,
    /// When receipts are sent.
    pub receipts: ReceiptPolicy,
    /// `message_state` reported in receipts (2 DELIVERED, 5 UNDELIVERABLE, …).
    pub receipt_state: u8,
    /// Spelling of ids in `submit_sm_resp`.
    pub id_format: IdFormat,
    /// Spelling of ids in receipts (text and TLV); a different radix than
    /// `id_format` exercises the gateway's id matching.
    pub receipt_id_format: IdFormat,
    /// Add `receipted_message_id` and `message_state` TLVs to receipts.
    pub receipt_tlvs: bool,
    /// Send each receipt at once, on the submit's own connection and
    /// ahead of its `submit_sm_resp` (`dlr_delay` is not applied): the
    /// receipt overtakes the response, as it can at a carrier with
    /// several binds.
    pub receipt_first: bool,
    /// With `receipt_first`: the receipt goes out at once and the
    /// `submit_sm_resp` this long after it, in a write of its own (zero:
    /// both in one write, as a carrier's single bind would send them).
    pub receipt_lead: Duration,
    /// Most receipts waiting for their delay; beyond, new ones are dropped
    /// (counted).
    pub max_pending_receipts: usize,
    /// Most receipts held for system_ids with no receiver bound; beyond,
    /// the oldest are dropped (counted).
    pub max_held_receipts: usize,
    /// Most unacknowledged `deliver_sm` per session.
    pub deliver_window: usize,
    /// Largest PDU accepted.
    pub max_pdu_len: u32,
    /// How many of the last accepted submits to keep for
    /// [`SmscHandle::submits`] (0: none, cheapest).
    pub record_submits: usize,
    /// Mode at start.
    pub mode: Mode,
}

impl Default for SmscConfig {
    fn default() -> Self {
        SmscConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            system_id: "SIMSMSC".into(),
            accounts: Vec::new(),
            dlr_delay: Duration::from_millis(10),
            receipts: ReceiptPolicy::Requested,
            receipt_state: 2,
            id_format: IdFormat::Hex,
            receipt_id_format: IdFormat::Hex,
            receipt_tlvs: true,
            receipt_first: false,
            receipt_lead: Duration::ZERO,
            max_pending_receipts: 1_000_000,
            max_held_receipts: 100_000,
            deliver_window: 1024,
            max_pdu_len: telegate_smpp::frame::DEFAULT_MAX_PDU_LEN,
            record_submits: 0,
            mode: Mode::Accept,
        }
    }
}

/// Counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmscStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections open now.
    pub open_connections: u64,
    /// Successful binds.
    pub binds: u64,
    /// Refused binds (credentials, already bound).
    pub bind_failures: u64,
    /// Binds open now.
    pub bound: u64,
    /// submit_sm and data_sm received while bound.
    pub submits: u64,
    /// Answered OK.
    pub accepted: u64,
    /// Answered ESME_RTHROTTLED (mode throttle).
    pub throttled: u64,
    /// Answered with the reject status (mode reject).
    pub rejected: u64,
    /// PDUs left unanswered (mode stall).
    pub stalled: u64,
    /// PDUs that did not decode.
    pub decode_errors: u64,
    /// Receipts scheduled.
    pub receipts_scheduled: u64,
    /// Receipt deliver_sm written (retries included).
    pub receipts_sent: u64,
    /// Receipts acknowledged with an OK deliver_sm_resp.
    pub receipts_acked: u64,
    /// Receipts answered with an error and queued again.
    pub receipts_retried: u64,
    /// Receipts waiting for their delay now.
    pub receipts_pending: u64,
    /// Receipts held for a bind now.
    pub receipts_held: u64,
    /// Receipts dropped (queues full, or refused 5 times).
    pub receipts_dropped: u64,
    /// MO deliver_sm written.
    pub mo_sent: u64,
    /// MO deliver_sm acknowledged OK.
    pub mo_acked: u64,
}

/// An accepted submit kept for tests (see [`SmscConfig::record_submits`]).
#[derive(Debug, Clone)]
pub struct RecordedSubmit {
    /// The binding system_id.
    pub system_id: Arc<str>,
    /// The connection it came on (numbered from 1 as accepted).
    pub connection: u64,
    /// The id answered.
    pub message_id: u64,
    /// The submit as received.
    pub submit: SubmitSm,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    open_connections: AtomicU64,
    binds: AtomicU64,
    bind_failures: AtomicU64,
    bound: AtomicU64,
    submits: AtomicU64,
    accepted: AtomicU64,
    throttled: AtomicU64,
    rejected: AtomicU64,
    stalled: AtomicU64,
    decode_errors: AtomicU64,
    receipts_scheduled: AtomicU64,
    receipts_sent: AtomicU64,
    receipts_acked: AtomicU64,
    receipts_retried: AtomicU64,
    receipts_dropped: AtomicU64,
    mo_sent: AtomicU64,
    mo_acked: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    if n > 0 {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// A receipt to send.
#[derive(Debug)]
struct PendingReceipt {
    due: Instant,
    system_id: Arc<str>,
    id: u64,
    /// The submit's source and destination (swapped in the receipt).
    source: Address,
    dest: Address,
    submitted: i64,
    text: Bytes,
    /// Attempts refused by the peer so far.
    refusals: u8,
}

/// Work for a session from outside.
#[derive(Debug)]
enum Ctl {
    Receipt(PendingReceipt),
    Mo(Box<SubmitSm>),
}

#[derive(Debug)]
enum Outstanding {
    Receipt(PendingReceipt),
    Mo,
}

#[derive(Debug, Default)]
struct Receivers {
    sessions: Vec<(u64, mpsc::Sender<Ctl>)>,
    next: usize,
}

#[derive(Debug, Default)]
struct Held {
    by_system: HashMap<Arc<str>, VecDeque<PendingReceipt>>,
    len: usize,
}

#[derive(Debug)]
struct Shared {
    cfg: SmscConfig,
    mode: AtomicU64,
    receipt_state: AtomicU8,
    next_id: AtomicU64,
    next_session: AtomicU64,
    counters: Counters,
    queue: Mutex<VecDeque<PendingReceipt>>,
    queue_len: AtomicUsize,
    held: Mutex<Held>,
    held_len: AtomicUsize,
    receivers: Mutex<HashMap<Arc<str>, Receivers>>,
    wake: Notify,
    kill: Mutex<CancellationToken>,
    shutdown: CancellationToken,
    recorded: Mutex<VecDeque<RecordedSubmit>>,
}

impl Shared {
    fn mode(&self) -> Mode {
        Mode::unpack(self.mode.load(Ordering::Relaxed))
    }

    fn hold(&self, items: impl IntoIterator<Item = PendingReceipt>) {
        let mut held = self.held.lock().expect("poisoned");
        let mut dropped = 0;
        for r in items {
            if held.len >= self.cfg.max_held_receipts {
                // Drop the oldest of this system_id, or else this one.
                let q = held.by_system.entry(r.system_id.clone()).or_default();
                dropped += 1;
                if q.pop_front().is_some() {
                    q.push_back(r);
                }
                continue;
            }
            held.by_system
                .entry(r.system_id.clone())
                .or_default()
                .push_back(r);
            held.len += 1;
        }
        self.held_len.store(held.len, Ordering::Relaxed);
        drop(held);
        add(&self.counters.receipts_dropped, dropped);
        self.wake.notify_one();
    }

    fn schedule(&self, batch: &mut Vec<PendingReceipt>) {
        if batch.is_empty() {
            return;
        }
        let mut q = self.queue.lock().expect("poisoned");
        let was_empty = q.is_empty();
        let room = self.cfg.max_pending_receipts.saturating_sub(q.len());
        let n = batch.len();
        let take = n.min(room);
        q.extend(batch.drain(..take));
        self.queue_len.store(q.len(), Ordering::Relaxed);
        drop(q);
        batch.clear();
        add(&self.counters.receipts_scheduled, take as u64);
        add(&self.counters.receipts_dropped, (n - take) as u64);
        if was_empty {
            self.wake.notify_one();
        }
    }

    fn next_message_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// Starts simulators.
#[derive(Debug)]
pub struct Smsc;

impl Smsc {
    /// Binds the listener and starts serving.
    pub async fn start(cfg: SmscConfig) -> io::Result<SmscHandle> {
        let listener = TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        // Ids start at a time-derived value so a restarted simulator does
        // not reuse the ids of the previous run.
        let base = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_millis() as u64)
            << 12;
        let shared = Arc::new(Shared {
            mode: AtomicU64::new(cfg.mode.pack()),
            receipt_state: AtomicU8::new(cfg.receipt_state),
            next_id: AtomicU64::new(base),
            next_session: AtomicU64::new(1),
            counters: Counters::default(),
            queue: Mutex::new(VecDeque::new()),
            queue_len: AtomicUsize::new(0),
            held: Mutex::new(Held::default()),
            held_len: AtomicUsize::new(0),
            receivers: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            kill: Mutex::new(CancellationToken::new()),
            shutdown: CancellationToken::new(),
            recorded: Mutex::new(VecDeque::new()),
            cfg,
        });
        let tracker = TaskTracker::new();
        tracker.spawn(accept_loop(listener, shared.clone(), tracker.clone()));
        tracker.spawn(receipt_scheduler(shared.clone()));
        Ok(SmscHandle {
            shared,
            addr,
            tracker,
        })
    }
}

/// A running simulator. Dropping it stops it.
#[derive(Debug)]
pub struct SmscHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tracker: TaskTracker,
}

impl Drop for SmscHandle {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl SmscHandle {
    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SmscStats {
        let c = &self.shared.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SmscStats {
            connections: g(&c.connections),
            open_connections: g(&c.open_connections),
            binds: g(&c.binds),
            bind_failures: g(&c.bind_failures),
            bound: g(&c.bound),
            submits: g(&c.submits),
            accepted: g(&c.accepted),
            throttled: g(&c.throttled),
            rejected: g(&c.rejected),
            stalled: g(&c.stalled),
            decode_errors: g(&c.decode_errors),
            receipts_scheduled: g(&c.receipts_scheduled),
            receipts_sent: g(&c.receipts_sent),
            receipts_acked: g(&c.receipts_acked),
            receipts_retried: g(&c.receipts_retried),
            receipts_pending: self.shared.queue_len.load(Ordering::Relaxed) as u64,
            receipts_held: self.shared.held_len.load(Ordering::Relaxed) as u64,
            receipts_dropped: g(&c.receipts_dropped),
            mo_sent: g(&c.mo_sent),
            mo_acked: g(&c.mo_acked),
        }
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.shared.mode()
    }

    /// Switches mode; [`Mode::Drop`] also closes every open connection.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.mode.store(mode.pack(), Ordering::Relaxed);
        if mode == Mode::Drop {
            self.kill_connections();
        }
        self.shared.wake.notify_one();
    }

    /// Sets the `message_state` of receipts sent from now on.
    pub fn set_receipt_state(&self, state: u8) {
        self.shared.receipt_state.store(state, Ordering::Relaxed);
    }

    /// Closes every open connection abruptly (no unbind). Unacknowledged
    /// receipts are held for the next bind.
    pub fn kill_connections(&self) {
        let mut k = self.shared.kill.lock().expect("poisoned");
        k.cancel();
        *k = CancellationToken::new();
    }

    /// Sends a mobile-originated `deliver_sm` on any receiver-capable bind.
    /// `false` if none is bound or its queue is full.
    pub fn send_mo(&self, from: &str, to: &str, text: &[u8]) -> bool {
        self.send_mo_inner(None, from, to, text)
    }

    /// As [`SmscHandle::send_mo`], on a bind of `system_id`.
    pub fn send_mo_to(&self, system_id: &str, from: &str, to: &str, text: &[u8]) -> bool {
        self.send_mo_inner(Some(system_id), from, to, text)
    }

    fn send_mo_inner(&self, system_id: Option<&str>, from: &str, to: &str, text: &[u8]) -> bool {
        let sm = Box::new(SubmitSm {
            source: super::address(from),
            dest: super::address(to),
            short_message: Bytes::copy_from_slice(text),
            ..SubmitSm::default()
        });
        let mut recv = self.shared.receivers.lock().expect("poisoned");
        let r = match system_id {
            Some(s) => recv.get_mut(s),
            None => recv.values_mut().find(|r| !r.sessions.is_empty()),
        };
        let Some(r) = r else { return false };
        let mut ctl = Ctl::Mo(sm);
        for _ in 0..r.sessions.len() {
            r.next = (r.next + 1) % r.sessions.len();
            match r.sessions[r.next].1.try_send(ctl) {
                Ok(()) => return true,
                Err(e) => ctl = e.into_inner(),
            }
        }
        false
    }

    /// The last accepted submits (see [`SmscConfig::record_submits`]),
    /// oldest first.
    pub fn submits(&self) -> Vec<RecordedSubmit> {
        self.shared
            .recorded
            .lock()
            .expect("poisoned")
            .iter()
            .cloned()
            .collect()
    }

    /// Stops accepting, closes every connection and waits (at most 5 s)
    /// for the tasks to end.
    pub async fn shutdown(self) {
        self.shared.shutdown.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tracker: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::debug!(error = %e, "smsc sim: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        add(&shared.counters.connections, 1);
        if shared.mode() == Mode::Drop {
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let kill = shared.kill.lock().expect("poisoned").clone();
        tracker.spawn(Session::run(shared.clone(), stream, kill));
    }
}

/// The one task that sends receipts when they are due, and retries held
/// ones when a receiver is bound.
async fn receipt_scheduler(shared: Arc<Shared>) {
    let mut batch = Vec::with_capacity(512);
    loop {
        let front = shared
            .queue
            .lock()
            .expect("poisoned")
            .front()
            .map(|r| r.due);
        let now = Instant::now();
        let mut wake = front.unwrap_or(now + Duration::from_secs(3600));
        let stalled = shared.mode() == Mode::Stall;
        if shared.held_len.load(Ordering::Relaxed) > 0 || stalled {
            wake = wake.min(now + Duration::from_millis(20));
        }
        if wake > now || stalled {
            tokio::select! {
                _ = shared.shutdown.cancelled() => return,
                _ = shared.wake.notified() => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
        if shared.mode() == Mode::Stall {
            continue;
        }
        loop {
            let now = Instant::now();
            {
                let mut q = shared.queue.lock().expect("poisoned");
                while batch.len() < 512 && q.front().is_some_and(|r| r.due <= now) {
                    batch.extend(q.pop_front());
                }
                shared.queue_len.store(q.len(), Ordering::Relaxed);
            }
            if batch.is_empty() {
                break;
            }
            dispatch(&shared, &mut batch);
        }
        if shared.held_len.load(Ordering::Relaxed) > 0 {
            retry_held(&shared);
        }
    }
}

/// Hands receipts to sessions round robin; what no session takes is held.
fn dispatch(shared: &Shared, batch: &mut Vec<PendingReceipt>) {
    let mut left = Vec::new();
    {
        let mut recv = shared.receivers.lock().expect("poisoned");
        for r in batch.drain(..) {
            let Some(rs) = recv.get_mut(&r.system_id) else {
                left.push(r);
                continue;
            };
            if let Err(Ctl::Receipt(r)) = offer(rs, Ctl::Receipt(r)) {
                left.push(r);
            }
        }
    }
    if !left.is_empty() {
        shared.hold(left);
    }
}

// The item comes back by value on failure, as `try_send` gives it; boxing
// it would cost an allocation per receipt.
#[allow(clippy::result_large_err)]
fn offer(rs: &mut Receivers, mut ctl: Ctl) -> Result<(), Ctl> {
    for _ in 0..rs.sessions.len() {
        rs.next = (rs.next + 1) % rs.sessions.len();
        match rs.sessions[rs.next].1.try_send(ctl) {
            Ok(()) => return Ok(()),
            Err(e) => ctl = e.into_inner(),
        }
    }
    Err(ctl)
}

fn retry_held(shared: &Shared) {
    let mut recv = shared.receivers.lock().expect("poisoned");
    let mut held = shared.held.lock().expect("poisoned");
    let Held { by_system, len } = &mut *held;
    by_system.retain(|sys, q| {
        if let Some(rs) = recv.get_mut(sys) {
            while let Some(r) = q.pop_front() {
                match offer(rs, Ctl::Receipt(r)) {
                    Ok(()) => *len -= 1,
                    Err(Ctl::Receipt(r)) => {
                        q.push_front(r);
                        break;
                    }
                    Err(Ctl::Mo(_)) => break,
                }
            }
        }
        !q.is_empty()
    });
    shared.held_len.store(*len, Ordering::Relaxed);
}

/// What a session does after a PDU.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Go,
    /// Flush what is written, then close (after unbind).
    Close,
    /// Close now.
    Abort,
}

/// Per-chunk counters, added to the shared ones once per read.
#[derive(Debug, Default)]
struct Tally {
    submits: u64,
    accepted: u64,
    throttled: u64,
    rejected: u64,
    stalled: u64,
    decode_errors: u64,
    receipts_acked: u64,
    mo_acked: u64,
}

#[derive(Debug)]
struct Session {
    shared: Arc<Shared>,
    id: u64,
    bound: Option<(
        Arc<str>,
        bool, /* can receive */
        bool, /* can send */
    )>,
    ctl_tx: mpsc::Sender<Ctl>,
    /// The writer task's channel (for writes sent apart from `out`).
    tx: mpsc::Sender<Bytes>,
    seq: u32,
    outstanding: HashMap<u32, Outstanding>,
    out: BytesMut,
    receipts: Vec<PendingReceipt>,
    tally: Tally,
    dates: DateCache,
}

/// The last two receipt dates formatted: under load most receipts share
/// their submit and done second.
#[derive(Debug, Default)]
struct DateCache {
    slots: [(i64, ReceiptDate); 2],
}

impl DateCache {
    fn get(&mut self, secs: i64) -> ReceiptDate {
        if let Some((_, d)) = self.slots.iter().find(|(s, _)| *s == secs) {
            return *d;
        }
        let d = ReceiptDate::from_unix_seconds(secs, false);
        self.slots[1] = self.slots[0];
        self.slots[0] = (secs, d);
        d
    }
}

impl Session {
    async fn run(shared: Arc<Shared>, stream: TcpStream, kill: CancellationToken) {
        add(&shared.counters.open_connections, 1);
        let (r, w) = stream.into_split();
        let (tx, rx) = mpsc::channel::<Bytes>(1024);
        let writer = spawn_writer(w, rx);
        let mut reader = FrameReader::new(r, shared.cfg.max_pdu_len);
        let window = shared.cfg.deliver_window.max(1);
        let (ctl_tx, mut ctl_rx) = mpsc::channel::<Ctl>(window);
        let mut s = Session {
            id: shared.next_session.fetch_add(1, Ordering::Relaxed),
            shared,
            bound: None,
            ctl_tx,
            tx: tx.clone(),
            seq: 0,
            outstanding: HashMap::new(),
            out: BytesMut::with_capacity(16 * 1024),
            receipts: Vec::new(),
            tally: Tally::default(),
            dates: DateCache::default(),
        };
        let shutdown = s.shared.shutdown.clone();
        let flow = loop {
            let flow = tokio::select! {
                biased;
                _ = kill.cancelled() => Flow::Abort,
                _ = shutdown.cancelled() => Flow::Abort,
                ctl = ctl_rx.recv(), if s.outstanding.len() < window => {
                    if let Some(c) = ctl {
                        s.on_ctl(c);
                        while s.outstanding.len() < window {
                            match ctl_rx.try_recv() {
                                Ok(c) => s.on_ctl(c),
                                Err(_) => break,
                            }
                        }
                    }
                    Flow::Go
                }
                r = reader.fill() => match r {
                    Ok(true) => s.on_frames(&mut reader),
                    Ok(false) | Err(_) => Flow::Abort,
                },
            };
            s.flush_tally();
            if !s.out.is_empty() && tx.send(s.out.split().freeze()).await.is_err() {
                break Flow::Abort;
            }
            if flow != Flow::Go {
                break flow;
            }
        };
        s.unregister();
        // Whatever was queued for this session or sent without an answer
        // goes back to be sent on the next bind.
        ctl_rx.close();
        let mut back = Vec::new();
        while let Ok(c) = ctl_rx.try_recv() {
            if let Ctl::Receipt(r) = c {
                back.push(r);
            }
        }
        back.extend(s.outstanding.drain().filter_map(|(_, o)| match o {
            Outstanding::Receipt(r) => Some(r),
            Outstanding::Mo => None,
        }));
        if !back.is_empty() {
            s.shared.hold(back);
        }
        if flow == Flow::Close {
            drop(tx);
            let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
        } else {
            writer.abort();
        }
        s.shared
            .counters
            .open_connections
            .fetch_sub(1, Ordering::Relaxed);
    }

    fn unregister(&mut self) {
        if let Some((sys, recv, _)) = self.bound.take() {
            self.shared.counters.bound.fetch_sub(1, Ordering::Relaxed);
            if recv {
                let mut r = self.shared.receivers.lock().expect("poisoned");
                if let Some(rs) = r.get_mut(&sys) {
                    rs.sessions.retain(|(id, _)| *id != self.id);
                    if rs.sessions.is_empty() {
                        r.remove(&sys);
                    }
                }
            }
        }
    }

    fn flush_tally(&mut self) {
        let t = std::mem::take(&mut self.tally);
        let c = &self.shared.counters;
        add(&c.submits, t.submits);
        add(&c.accepted, t.accepted);
        add(&c.throttled, t.throttled);
        add(&c.rejected, t.rejected);
        add(&c.stalled, t.stalled);
        add(&c.decode_errors, t.decode_errors);
        add(&c.receipts_acked, t.receipts_acked);
        add(&c.mo_acked, t.mo_acked);
        let mut r = std::mem::take(&mut self.receipts);
        self.shared.schedule(&mut r);
        self.receipts = r;
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = if self.seq >= MAX_SEQUENCE {
            1
        } else {
            self.seq + 1
        };
        self.seq
    }

    fn write(&mut self, pdu: &Pdu) {
        if let Err(e) = pdu.encode(&mut self.out) {
            tracing::warn!(error = %e, "smsc sim: cannot encode a PDU");
        }
    }

    fn on_ctl(&mut self, c: Ctl) {
        let seq = self.next_seq();
        match c {
            Ctl::Receipt(r) => {
                let sm = self.receipt_pdu(&r);
                self.write(&Pdu::new(seq, Body::DeliverSm(Box::new(sm))));
                self.outstanding.insert(seq, Outstanding::Receipt(r));
                add(&self.shared.counters.receipts_sent, 1);
            }
            Ctl::Mo(sm) => {
                self.write(&Pdu::new(seq, Body::DeliverSm(sm)));
                self.outstanding.insert(seq, Outstanding::Mo);
                add(&self.shared.counters.mo_sent, 1);
            }
        }
    }

    fn receipt_pdu(&mut self, r: &PendingReceipt) -> SubmitSm {
        let state = self.shared.receipt_state.load(Ordering::Relaxed);
        let id = Bytes::from(self.shared.cfg.receipt_id_format.format(r.id));
        let delivered = state == 2;
        let text = Receipt {
            id: id.clone(),
            sub: Some(1),
            dlvrd: Some(u32::from(delivered)),
            submit_date: Some(self.dates.get(r.submitted)),
            done_date: Some(self.dates.get(unix_now())),
            stat: ReceiptStat::from_message_state(state),
            err: Some(ReceiptErr::from_code(if delivered { 0 } else { 1 })),
            text: Some(r.text.clone()),
        }
        .format();
        let tlvs = if self.shared.cfg.receipt_tlvs {
            vec![Tlv::ReceiptedMessageId(id), Tlv::MessageState(state)]
        } else {
            Vec::new()
        };
        SubmitSm {
            source: r.dest.clone(),
            dest: r.source.clone(),
            esm_class: 0x04,
            short_message: Bytes::from(text),
            tlvs,
            ..SubmitSm::default()
        }
    }

    fn on_frames<R: tokio::io::AsyncRead + Unpin>(&mut self, reader: &mut FrameReader<R>) -> Flow {
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    let f = self.on_frame(&frame);
                    if f != Flow::Go {
                        return f;
                    }
                }
                Ok(None) => return Flow::Go,
                Err(e) => {
                    self.tally.decode_errors += 1;
                    if let Some(resp) = e.response() {
                        self.write(&resp);
                    }
                    return Flow::Close;
                }
            }
        }
    }

    fn on_frame(&mut self, frame: &Bytes) -> Flow {
        let mode = self.shared.mode();
        if mode == Mode::Drop {
            return Flow::Abort;
        }
        let pdu = match Pdu::decode(frame) {
            Ok(p) => p,
            Err(e) => {
                self.tally.decode_errors += 1;
                if let Some(resp) = e.response() {
                    self.write(&resp);
                }
                return if e.is_fatal() { Flow::Close } else { Flow::Go };
            }
        };
        let seq = pdu.sequence_number;
        let id = pdu.command_id();
        if id.is_response() {
            self.on_response(pdu);
            return Flow::Go;
        }
        if mode == Mode::Stall {
            self.tally.stalled += 1;
            return Flow::Go;
        }
        match pdu.body {
            Body::BindTransmitter(b) => self.on_bind(seq, id, *b, false, true),
            Body::BindReceiver(b) => self.on_bind(seq, id, *b, true, false),
            Body::BindTransceiver(b) => self.on_bind(seq, id, *b, true, true),
            Body::EnquireLink => self.write(&Pdu::new(seq, Body::EnquireLinkResp)),
            Body::Unbind => {
                self.write(&Pdu::new(seq, Body::UnbindResp));
                return Flow::Close;
            }
            Body::SubmitSm(sm) => self.on_submit(seq, id, Some(sm), mode),
            Body::DataSm(_) => self.on_submit(seq, id, None, mode),
            Body::Other { .. } => {
                self.write(&Pdu::generic_nack(seq, CommandStatus::ESME_RINVCMDID));
            }
            _ if self.bound.is_none() => {
                self.write(&Pdu::error_response(
                    id,
                    seq,
                    CommandStatus::ESME_RINVBNDSTS,
                ));
            }
            _ => {
                self.write(&Pdu::error_response(id, seq, CommandStatus::ESME_RINVCMDID));
            }
        }
        Flow::Go
    }

    fn on_response(&mut self, pdu: Pdu) {
        if !matches!(pdu.body, Body::DeliverSmResp(_) | Body::GenericNack) {
            return;
        }
        let Some(o) = self.outstanding.remove(&pdu.sequence_number) else {
            return;
        };
        match o {
            Outstanding::Mo => {
                if pdu.command_status.is_ok() {
                    self.tally.mo_acked += 1;
                }
            }
            Outstanding::Receipt(mut r) => {
                if pdu.command_status.is_ok() {
                    self.tally.receipts_acked += 1;
                } else if r.refusals < 4 {
                    r.refusals += 1;
                    add(&self.shared.counters.receipts_retried, 1);
                    self.shared.hold([r]);
                } else {
                    add(&self.shared.counters.receipts_dropped, 1);
                }
            }
        }
    }

    fn on_bind(
        &mut self,
        seq: u32,
        id: CommandId,
        b: telegate_smpp::pdu::Bind,
        recv: bool,
        send: bool,
    ) {
        let c = &self.shared.counters;
        let status = if self.bound.is_some() {
            CommandStatus::ESME_RALYBND
        } else if self.shared.cfg.accounts.is_empty() {
            CommandStatus::ESME_ROK
        } else {
            match self
                .shared
                .cfg
                .accounts
                .iter()
                .find(|(s, _)| s.as_bytes() == &b.system_id[..])
            {
                None => CommandStatus::ESME_RINVSYSID,
                Some((_, p)) if p.as_bytes() != &b.password[..] => CommandStatus::ESME_RINVPASWD,
                Some(_) => CommandStatus::ESME_ROK,
            }
        };
        if !status.is_ok() {
            add(&c.bind_failures, 1);
            self.write(&Pdu::error_response(id, seq, status));
            return;
        }
        add(&c.binds, 1);
        add(&c.bound, 1);
        let sys: Arc<str> = String::from_utf8_lossy(&b.system_id).into();
        let body = BindResp {
            system_id: Bytes::copy_from_slice(self.shared.cfg.system_id.as_bytes()),
            tlvs: vec![Tlv::ScInterfaceVersion(0x34)],
        };
        let body = match id {
            CommandId::BIND_RECEIVER => Body::BindReceiverResp(body),
            CommandId::BIND_TRANSMITTER => Body::BindTransmitterResp(body),
            _ => Body::BindTransceiverResp(body),
        };
        self.write(&Pdu::new(seq, body));
        if recv {
            let mut r = self.shared.receivers.lock().expect("poisoned");
            r.entry(sys.clone())
                .or_default()
                .sessions
                .push((self.id, self.ctl_tx.clone()));
            drop(r);
            // Held receipts for this system_id can go now.
            self.shared.wake.notify_one();
        }
        self.bound = Some((sys, recv, send));
    }

    fn on_submit(&mut self, seq: u32, id: CommandId, sm: Option<Box<SubmitSm>>, mode: Mode) {
        let Some((sys, _, true)) = &self.bound else {
            self.write(&Pdu::error_response(
                id,
                seq,
                CommandStatus::ESME_RINVBNDSTS,
            ));
            return;
        };
        let sys = sys.clone();
        self.tally.submits += 1;
        let status = match mode {
            Mode::Throttle => {
                self.tally.throttled += 1;
                CommandStatus::ESME_RTHROTTLED
            }
            Mode::Reject(s) => {
                self.tally.rejected += 1;
                s
            }
            _ => CommandStatus::ESME_ROK,
        };
        if !status.is_ok() {
            self.write(&Pdu::error_response(id, seq, status));
            return;
        }
        self.tally.accepted += 1;
        let msg_id = self.shared.next_message_id();
        let body = MessageIdResp {
            message_id: Bytes::from(self.shared.cfg.id_format.format(msg_id)),
            tlvs: Vec::new(),
        };
        let body = if id == CommandId::DATA_SM {
            Body::DataSmResp(body)
        } else {
            Body::SubmitSmResp(body)
        };
        let resp = Pdu::new(seq, body);
        let Some(sm) = sm else {
            self.write(&resp);
            return;
        };
        let mut sent_later = false;
        if self.wants_receipt(sm.registered_delivery) {
            let text = &sm.short_message[..sm.short_message.len().min(20)];
            let r = PendingReceipt {
                due: Instant::now() + self.shared.cfg.dlr_delay,
                system_id: sys.clone(),
                id: msg_id,
                source: copy_addr(&sm.source),
                dest: copy_addr(&sm.dest),
                submitted: unix_now(),
                text: Bytes::copy_from_slice(text),
                refusals: 0,
            };
            if self.shared.cfg.receipt_first {
                add(&self.shared.counters.receipts_scheduled, 1);
                self.on_ctl(Ctl::Receipt(r));
                let lead = self.shared.cfg.receipt_lead;
                if !lead.is_zero() {
                    // The receipt (and what was written before it) now,
                    // the response after `lead`.
                    let first = self.out.split().freeze();
                    let mut later = BytesMut::new();
                    if let Err(e) = resp.encode(&mut later) {
                        tracing::warn!(error = %e, "smsc sim: cannot encode a PDU");
                    }
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        if tx.send(first).await.is_ok() {
                            tokio::time::sleep(lead).await;
                            let _ = tx.send(later.freeze()).await;
                        }
                    });
                    sent_later = true;
                }
            } else {
                self.receipts.push(r);
            }
        }
        if !sent_later {
            self.write(&resp);
        }
        let keep = self.shared.cfg.record_submits;
        if keep > 0 {
            let mut rec = self.shared.recorded.lock().expect("poisoned");
            if rec.len() >= keep {
                rec.pop_front();
            }
            rec.push_back(RecordedSubmit {
                system_id: sys,
                connection: self.id,
                message_id: msg_id,
                submit: *sm,
            });
        }
    }

    fn wants_receipt(&self, registered_delivery: u8) -> bool {
        match self.shared.cfg.receipts {
            ReceiptPolicy::Never => false,
            ReceiptPolicy::Always => true,
            ReceiptPolicy::Requested => {
                let ok = self.shared.receipt_state.load(Ordering::Relaxed) == 2;
                match registered_delivery & 0x03 {
                    1 => true,
                    2 => !ok,
                    3 => ok,
                    _ => false,
                }
            }
        }
    }
}

/// An address copied out of the frame, so a held receipt does not keep
/// the whole read buffer alive.
fn copy_addr(a: &Address) -> Address {
    Address::new(a.ton, a.npi, Bytes::copy_from_slice(&a.addr))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::client::{BindType, Client, ClientError};
    use crate::sim::submit_sm;
    use telegate_smpp::receipt::ids_match;
    use telegate_smpp::tlv::TlvList;

    const WAIT: Duration = Duration::from_secs(10);

    async fn smsc(cfg: SmscConfig) -> SmscHandle {
        Smsc::start(cfg).await.expect("smsc starts")
    }

    async fn bound(h: &SmscHandle, kind: BindType, sys: &str) -> Client {
        let c = Client::connect(h.addr()).await.expect("connects");
        let st = c.bind(kind, sys, "pw").await.expect("bind answered");
        assert_eq!(st, CommandStatus::ESME_ROK);
        c
    }

    async fn submit(c: &Client, receipt: bool) -> Pdu {
        let sm = submit_sm("Acme", "+491511234567", b"hello world", receipt);
        c.request(Body::SubmitSm(Box::new(sm)))
            .await
            .expect("submit answered")
    }

    fn message_id(p: &Pdu) -> Bytes {
        match &p.body {
            Body::SubmitSmResp(r) => r.message_id.clone(),
            b => panic!("not a submit_sm_resp: {b:?}"),
        }
    }

    /// Reads PDUs until a receipt deliver_sm arrives.
    async fn next_receipt(c: &mut Client) -> (Pdu, Box<SubmitSm>) {
        loop {
            let p = c.next_pdu(WAIT).await.expect("a PDU");
            if let Body::DeliverSm(sm) = &p.body {
                let sm = sm.clone();
                return (p, sm);
            }
        }
    }

    async fn eventually(h: &SmscHandle, f: impl Fn(&SmscStats) -> bool) -> SmscStats {
        let deadline = Instant::now() + WAIT;
        loop {
            let s = h.stats();
            if f(&s) || Instant::now() > deadline {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn submit_gets_id_and_receipt() {
        let h = smsc(SmscConfig {
            record_submits: 10,
            ..SmscConfig::default()
        })
        .await;
        let mut c = bound(&h, BindType::Transceiver, "acme").await;
        let resp = submit(&c, true).await;
        assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
        let id = message_id(&resp);
        assert!(!id.is_empty());

        let (p, sm) = next_receipt(&mut c).await;
        assert_eq!(sm.esm_class, 0x04);
        assert_eq!(sm.tlvs.receipted_message_id(), Some(&id));
        assert_eq!(sm.tlvs.message_state(), Some(2));
        let r = Receipt::parse(&sm.short_message).expect("receipt text");
        assert_eq!(r.id, id);
        assert_eq!(r.stat, Some(ReceiptStat::Delivered));
        assert_eq!(r.text.as_deref(), Some(&b"hello world"[..]));
        // Addresses are swapped.
        assert_eq!(&sm.source.addr[..], b"491511234567");
        assert_eq!(&sm.dest.addr[..], b"Acme");
        c.respond(&p, CommandStatus::ESME_ROK)
            .await
            .expect("resp sent");

        let s = eventually(&h, |s| s.receipts_acked == 1).await;
        assert_eq!(s.receipts_acked, 1);
        assert_eq!(s.accepted, 1);
        let rec = h.submits();
        assert_eq!(rec.len(), 1);
        assert_eq!(&rec[0].submit.short_message[..], b"hello world");
        assert_eq!(&*rec[0].system_id, "acme");

        let un = c.unbind().await.expect("unbind answered");
        assert_eq!(un.command_id(), CommandId::UNBIND_RESP);
        c.wait_closed(WAIT).await.expect("closed after unbind");
    }

    #[tokio::test]
    async fn no_receipt_unless_requested() {
        let h = smsc(SmscConfig {
            dlr_delay: Duration::ZERO,
            ..SmscConfig::default()
        })
        .await;
        let mut c = bound(&h, BindType::Transceiver, "acme").await;
        submit(&c, false).await;
        // An enquire_link round trip after the submit; the receipt, had one
        // been scheduled, would be queued by then or soon after.
        c.enquire_link().await.expect("enquire_link answered");
        assert!(matches!(
            c.next_pdu(Duration::from_millis(200)).await,
            Err(ClientError::Timeout)
        ));
        assert_eq!(h.stats().receipts_scheduled, 0);
    }

    #[tokio::test]
    async fn credentials_and_bind_state() {
        let h = smsc(SmscConfig {
            accounts: vec![("acme".into(), "pw".into())],
            ..SmscConfig::default()
        })
        .await;
        let c = Client::connect(h.addr()).await.expect("connects");
        // Before bind: submit refused.
        assert_eq!(
            submit(&c, false).await.command_status,
            CommandStatus::ESME_RINVBNDSTS
        );
        let st = c
            .bind(BindType::Transmitter, "acme", "bad")
            .await
            .expect("answered");
        assert_eq!(st, CommandStatus::ESME_RINVPASWD);
        let st = c
            .bind(BindType::Transmitter, "nobody", "pw")
            .await
            .expect("answered");
        assert_eq!(st, CommandStatus::ESME_RINVSYSID);
        let st = c
            .bind(BindType::Transmitter, "acme", "pw")
            .await
            .expect("answered");
        assert_eq!(st, CommandStatus::ESME_ROK);
        let st = c
            .bind(BindType::Transmitter, "acme", "pw")
            .await
            .expect("answered");
        assert_eq!(st, CommandStatus::ESME_RALYBND);
        assert_eq!(h.stats().bind_failures, 3);

        // A receiver may not submit.
        let r = bound(&h, BindType::Receiver, "acme").await;
        assert_eq!(
            submit(&r, false).await.command_status,
            CommandStatus::ESME_RINVBNDSTS
        );
    }

    #[tokio::test]
    async fn modes() {
        let h = smsc(SmscConfig::default()).await;
        let mut c = bound(&h, BindType::Transmitter, "acme").await;

        h.set_mode(Mode::Throttle);
        assert_eq!(
            submit(&c, true).await.command_status,
            CommandStatus::ESME_RTHROTTLED
        );
        h.set_mode(Mode::Reject(CommandStatus(0x45)));
        assert_eq!(submit(&c, true).await.command_status, CommandStatus(0x45));
        h.set_mode(Mode::Stall);
        let sm = submit_sm("a", "1234", b"x", false);
        let r = c
            .request_timeout(Body::SubmitSm(Box::new(sm)), Duration::from_millis(200))
            .await;
        assert!(matches!(r, Err(ClientError::Timeout)), "{r:?}");
        h.set_mode(Mode::Accept);
        assert_eq!(
            submit(&c, true).await.command_status,
            CommandStatus::ESME_ROK
        );

        h.set_mode(Mode::Drop);
        c.wait_closed(WAIT).await.expect("dropped");
        // New connections are closed at once.
        let mut c2 = Client::connect(h.addr()).await.expect("connects");
        c2.wait_closed(WAIT).await.expect("dropped");

        let s = h.stats();
        assert_eq!(
            (s.throttled, s.rejected, s.stalled, s.accepted),
            (1, 1, 1, 1)
        );
        assert_eq!(h.mode(), Mode::Drop);
    }

    #[tokio::test]
    async fn receipts_held_until_a_receiver_binds() {
        let h = smsc(SmscConfig {
            dlr_delay: Duration::ZERO,
            ..SmscConfig::default()
        })
        .await;
        let tx = bound(&h, BindType::Transmitter, "acme").await;
        let id = message_id(&submit(&tx, true).await);
        let s = eventually(&h, |s| s.receipts_held == 1).await;
        assert_eq!(s.receipts_held, 1);

        // A receiver of another system_id gets nothing.
        let mut other = bound(&h, BindType::Receiver, "other").await;
        let mut rx = bound(&h, BindType::Receiver, "acme").await;
        let (p, sm) = next_receipt(&mut rx).await;
        assert_eq!(sm.tlvs.receipted_message_id(), Some(&id));

        // Not acknowledged, then the connection dies: sent again on the
        // next bind.
        drop(p);
        h.kill_connections();
        rx.wait_closed(WAIT).await.expect("killed");
        let mut rx2 = bound(&h, BindType::Receiver, "acme").await;
        let (p, sm) = next_receipt(&mut rx2).await;
        assert_eq!(sm.tlvs.receipted_message_id(), Some(&id));
        rx2.respond(&p, CommandStatus::ESME_ROK)
            .await
            .expect("sent");
        let s = eventually(&h, |s| s.receipts_acked == 1).await;
        assert_eq!(s.receipts_acked, 1);
        assert_eq!(s.receipts_held, 0);
        // The other system_id's receiver got no receipt before it was killed.
        loop {
            match other.next_pdu(WAIT).await {
                Err(ClientError::Closed) => break,
                Ok(p) => assert!(!matches!(p.body, Body::DeliverSm(_)), "{p:?}"),
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[tokio::test]
    async fn refused_receipt_is_retried() {
        let h = smsc(SmscConfig {
            dlr_delay: Duration::ZERO,
            ..SmscConfig::default()
        })
        .await;
        let mut c = bound(&h, BindType::Transceiver, "acme").await;
        let id = message_id(&submit(&c, true).await);
        let (p, _) = next_receipt(&mut c).await;
        c.respond(&p, CommandStatus::ESME_RTHROTTLED)
            .await
            .expect("sent");
        let (p, sm) = next_receipt(&mut c).await;
        assert_eq!(sm.tlvs.receipted_message_id(), Some(&id));
        c.respond(&p, CommandStatus::ESME_ROK).await.expect("sent");
        let s = eventually(&h, |s| s.receipts_acked == 1).await;
        assert_eq!((s.receipts_retried, s.receipts_acked), (1, 1));
    }

    #[tokio::test]
    async fn decimal_receipt_ids_match_hex_response_ids() {
        let h = smsc(SmscConfig {
            dlr_delay: Duration::ZERO,
            id_format: IdFormat::HexUpper,
            receipt_id_format: IdFormat::Decimal,
            receipt_tlvs: false,
            ..SmscConfig::default()
        })
        .await;
        let mut c = bound(&h, BindType::Transceiver, "acme").await;
        let id = message_id(&submit(&c, true).await);
        assert!(id
            .iter()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)));
        let (_, sm) = next_receipt(&mut c).await;
        assert!(sm.tlvs.is_empty());
        let r = Receipt::parse(&sm.short_message).expect("receipt");
        assert!(r.id.iter().all(u8::is_ascii_digit));
        let hex = u64::from_str_radix(std::str::from_utf8(&id).expect("ascii"), 16).expect("hex");
        assert_eq!(r.id, hex.to_string().as_bytes());
        assert!(ids_match(&r.id, &id));
    }

    #[tokio::test]
    async fn failed_receipt_state() {
        let h = smsc(SmscConfig {
            dlr_delay: Duration::ZERO,
            ..SmscConfig::default()
        })
        .await;
        h.set_receipt_state(5);
        let mut c = bound(&h, BindType::Transceiver, "acme").await;
        submit(&c, true).await;
        let (_, sm) = next_receipt(&mut c).await;
        assert_eq!(sm.tlvs.message_state(), Some(5));
        let r = Receipt::parse(&sm.short_message).expect("receipt");
        assert_eq!(r.stat, Some(ReceiptStat::Undeliverable));
    }

    #[tokio::test]
    async fn mobile_originated() {
        let h = smsc(SmscConfig::default()).await;
        assert!(!h.send_mo("4915100001", "12345", b"STOP"));
        let mut c = bound(&h, BindType::Receiver, "acme").await;
        assert!(h.send_mo_to("acme", "4915100001", "12345", b"STOP"));
        let (p, sm) = next_receipt(&mut c).await;
        assert_eq!(sm.esm_class, 0);
        assert_eq!(&sm.short_message[..], b"STOP");
        assert_eq!(&sm.source.addr[..], b"4915100001");
        c.respond(&p, CommandStatus::ESME_ROK).await.expect("sent");
        let s = eventually(&h, |s| s.mo_acked == 1).await;
        assert_eq!((s.mo_sent, s.mo_acked), (1, 1));
        assert!(!h.send_mo_to("nobody", "1", "2", b"x"));
    }

    #[tokio::test]
    async fn malformed_input() {
        let h = smsc(SmscConfig::default()).await;
        let mut c = bound(&h, BindType::Transceiver, "acme").await;
        // Unknown command id: generic_nack ESME_RINVCMDID, session goes on.
        let mut raw = Vec::new();
        raw.extend_from_slice(&16u32.to_be_bytes());
        raw.extend_from_slice(&0x0000_0077u32.to_be_bytes());
        raw.extend_from_slice(&0u32.to_be_bytes());
        raw.extend_from_slice(&77u32.to_be_bytes());
        c.send_raw(raw).await.expect("sent");
        let p = c.next_pdu(WAIT).await.expect("nack");
        assert_eq!(p.command_id(), CommandId::GENERIC_NACK);
        assert_eq!(p.command_status, CommandStatus::ESME_RINVCMDID);
        assert_eq!(p.sequence_number, 77);
        c.enquire_link().await.expect("still alive");

        // command_length below 16: generic_nack, then the connection closes.
        let mut raw = Vec::new();
        raw.extend_from_slice(&8u32.to_be_bytes());
        raw.extend_from_slice(&0x0000_0015u32.to_be_bytes());
        raw.extend_from_slice(&0u32.to_be_bytes());
        raw.extend_from_slice(&78u32.to_be_bytes());
        c.send_raw(raw).await.expect("sent");
        let p = c.next_pdu(WAIT).await.expect("nack");
        assert_eq!(p.command_id(), CommandId::GENERIC_NACK);
        assert_eq!(p.sequence_number, 78);
        c.wait_closed(WAIT).await.expect("closed");
        assert!(c.is_closed());
        // The unknown command decodes (as `Body::Other`); only the bad length is a decode error.
        assert_eq!(h.stats().decode_errors, 1);
    }

    #[tokio::test]
    async fn pipelined_submits() {
        let h = smsc(SmscConfig {
            receipts: ReceiptPolicy::Never,
            ..SmscConfig::default()
        })
        .await;
        let c = bound(&h, BindType::Transmitter, "acme").await;
        let msgs = (0..2000).map(|i| submit_sm("a", &format!("49151{i:07}"), b"x", false));
        let rs = c.submit_many(msgs, 100).await.expect("all answered");
        assert_eq!(rs.len(), 2000);
        let mut ids = std::collections::HashSet::new();
        for r in &rs {
            assert_eq!(r.pdu.command_status, CommandStatus::ESME_ROK);
            assert!(ids.insert(message_id(&r.pdu)));
        }
        assert_eq!(h.stats().accepted, 2000);
    }

    #[tokio::test]
    async fn esme_load_run_matches_receipts() {
        let h = smsc(SmscConfig {
            dlr_delay: Duration::from_millis(1),
            ..SmscConfig::default()
        })
        .await;
        let report = crate::sim::esme::run(crate::sim::EsmeConfig {
            addr: h.addr().to_string(),
            binds: 3,
            count: 1000,
            window: 32,
            ..crate::sim::EsmeConfig::default()
        })
        .await;
        assert_eq!(report.sent, 1000, "{report}");
        assert_eq!(report.ok, 1000, "{report}");
        assert_eq!(report.receipts_matched, 1000, "{report}");
        assert_eq!(report.receipts_missing, 0, "{report}");
        assert_eq!(report.receipts_unknown, 0, "{report}");
        assert!(report.to_string().contains("throughput"));
    }

    #[test]
    fn parse_flags() {
        assert_eq!("accept".parse::<Mode>(), Ok(Mode::Accept));
        assert_eq!("Throttle".parse::<Mode>(), Ok(Mode::Throttle));
        assert_eq!(
            "reject:0x45".parse::<Mode>(),
            Ok(Mode::Reject(CommandStatus(0x45)))
        );
        assert_eq!(
            "reject:8".parse::<Mode>(),
            Ok(Mode::Reject(CommandStatus(8)))
        );
        assert!("reject:zz".parse::<Mode>().is_err());
        assert!("nope".parse::<Mode>().is_err());
        for m in [
            Mode::Accept,
            Mode::Throttle,
            Mode::Reject(CommandStatus(0xFFFF_FFFF)),
            Mode::Stall,
            Mode::Drop,
        ] {
            assert_eq!(Mode::unpack(m.pack()), m);
        }
        assert_eq!("decimal".parse::<IdFormat>(), Ok(IdFormat::Decimal));
        assert_eq!(IdFormat::HexUpper.format(255), "FF");
        assert_eq!(IdFormat::Hex.format(255), "ff");
        assert_eq!(IdFormat::Decimal.format(255), "255");
        assert_eq!("trx".parse::<BindType>(), Ok(BindType::Transceiver));
        assert!("x".parse::<BindType>().is_err());
    }
}
