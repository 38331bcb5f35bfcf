//! A load run: N binds submit `count` messages within a window, then wait
//! for their receipts; the report gives throughput, submit latency
//! percentiles and receipt matching.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use telegate_smpp::pdu::SubmitSm;
use telegate_smpp::receipt::{message_id_candidates, normalize_message_id, Receipt};
use telegate_smpp::tlv::TlvList;
use telegate_smpp::{Body, CommandStatus, Pdu};

use super::client::{BindType, Client, ClientError, ClientOptions, PendingResponse};

/// Load run settings.
#[derive(Debug, Clone)]
pub struct EsmeConfig {
    /// `host:port` to connect to.
    pub addr: String,
    /// Bind system_id.
    pub system_id: String,
    /// Bind password.
    pub password: String,
    /// Bind type; receipts need a receiver-capable bind.
    pub bind_type: BindType,
    /// Number of connections.
    pub binds: usize,
    /// Messages in total, spread over the binds.
    pub count: u64,
    /// Unanswered submits allowed per bind.
    pub window: usize,
    /// Source address.
    pub from: String,
    /// Destination: digits; message `i` goes to this number plus `i`
    /// (same length, wrapping), so routes see varied numbers.
    pub to: String,
    /// Message text.
    pub text: String,
    /// Ask for receipts and wait for them.
    pub receipts: bool,
    /// How long to wait for receipts after the last response, without
    /// progress.
    pub receipt_timeout: Duration,
    /// How long to wait for each response.
    pub response_timeout: Duration,
    /// Messages per second across all binds, evenly paced; 0 sends as
    /// fast as the window allows.
    pub rate: u32,
}

impl Default for EsmeConfig {
    fn default() -> Self {
        EsmeConfig {
            addr: "127.0.0.1:2775".into(),
            system_id: "test".into(),
            password: "test".into(),
            bind_type: BindType::Transceiver,
            binds: 1,
            count: 1000,
            window: 64,
            from: "Telegate".into(),
            to: "4915100000000".into(),
            text: "Hello from telegate-sim".into(),
            receipts: true,
            receipt_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(10),
            rate: 0,
        }
    }
}

/// Submit latency percentiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Maximum.
    pub max: Duration,
}

/// What a load run did.
#[derive(Debug, Clone, Default)]
pub struct EsmeReport {
    /// Submits written.
    pub sent: u64,
    /// Answered with status 0.
    pub ok: u64,
    /// Other answers by `command_status`.
    pub errors_by_status: BTreeMap<u32, u64>,
    /// Submits left unanswered (timeout or connection loss).
    pub unanswered: u64,
    /// From the first submit to the last response.
    pub elapsed: Duration,
    /// Responses per second over `elapsed`.
    pub throughput: f64,
    /// Submit → response latency.
    pub latency: Latency,
    /// Receipts whose id matched an accepted submit.
    pub receipts_matched: u64,
    /// Accepted submits (with receipts asked) that got no receipt.
    pub receipts_missing: u64,
    /// Receipts with an unknown or repeated id.
    pub receipts_unknown: u64,
    /// Binds that failed (status or connection error).
    pub bind_failures: u64,
}

impl fmt::Display for EsmeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sent {}  ok {}  unanswered {}  bind failures {}",
            self.sent, self.ok, self.unanswered, self.bind_failures
        )?;
        for (s, n) in &self.errors_by_status {
            let name = CommandStatus(*s).name().unwrap_or("?");
            writeln!(f, "  status 0x{s:08X} {name}: {n}")?;
        }
        writeln!(
            f,
            "elapsed {:.3} s  throughput {:.0} msg/s",
            self.elapsed.as_secs_f64(),
            self.throughput
        )?;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(
            f,
            "latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
            ms(self.latency.p50),
            ms(self.latency.p90),
            ms(self.latency.p99),
            ms(self.latency.max)
        )?;
        write!(
            f,
            "receipts: matched {}  missing {}  unknown {}",
            self.receipts_matched, self.receipts_missing, self.receipts_unknown
        )
    }
}

/// Ids of accepted submits waiting for receipts, and receipts that came
/// before their submit's response was read.
#[derive(Debug, Default)]
struct Ids {
    waiting: HashSet<Vec<u8>>,
    early: HashSet<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Run {
    ids: Mutex<Ids>,
    matched: AtomicU64,
    unknown: AtomicU64,
    /// Accepted submits whose receipt is still expected.
    expected: AtomicU64,
    /// Binds still submitting.
    submitting: AtomicU64,
    last_progress: Mutex<Option<Instant>>,
}

impl Run {
    fn accepted(&self, id: &[u8]) {
        let key = normalize_message_id(id).as_bytes().to_vec();
        let mut ids = self.ids.lock().expect("poisoned");
        if ids.early.remove(&key) {
            self.matched.fetch_add(1, Ordering::Relaxed);
        } else {
            ids.waiting.insert(key);
            self.expected.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn receipt(&self, id: &[u8]) {
        let mut ids = self.ids.lock().expect("poisoned");
        for c in message_id_candidates(id) {
            if ids.waiting.remove(c.as_bytes()) {
                self.matched.fetch_add(1, Ordering::Relaxed);
                self.expected.fetch_sub(1, Ordering::Relaxed);
                *self.last_progress.lock().expect("poisoned") = Some(Instant::now());
                return;
            }
        }
        // Bounded: at most one early id per message sent.
        if ids.early.len() < 10_000_000 {
            ids.early
                .insert(normalize_message_id(id).as_bytes().to_vec());
        }
    }

    fn done_waiting(&self, timeout: Duration) -> bool {
        if self.submitting.load(Ordering::Relaxed) > 0 {
            return false;
        }
        if self.expected.load(Ordering::Relaxed) == 0 {
            return true;
        }
        let mut lp = self.last_progress.lock().expect("poisoned");
        let t = *lp.get_or_insert_with(Instant::now);
        t.elapsed() >= timeout
    }
}

#[derive(Debug)]
struct BindResult {
    sent: u64,
    ok: u64,
    errors: BTreeMap<u32, u64>,
    unanswered: u64,
    hist: Histogram<u64>,
    first: Option<Instant>,
    last: Option<Instant>,
    bind_failed: bool,
}

/// Runs the load and reports.
pub async fn run(cfg: EsmeConfig) -> EsmeReport {
    let cfg = Arc::new(cfg);
    let binds = cfg.binds.max(1);
    let run = Arc::new(Run::default());
    run.submitting.store(binds as u64, Ordering::Relaxed);
    let mut tasks = Vec::with_capacity(binds);
    for i in 0..binds {
        let n = cfg.count / binds as u64 + u64::from((i as u64) < cfg.count % binds as u64);
        let start =
            (cfg.count / binds as u64) * i as u64 + (i as u64).min(cfg.count % binds as u64);
        tasks.push(tokio::spawn(one_bind(cfg.clone(), run.clone(), start, n)));
    }
    let mut report = EsmeReport::default();
    let mut hist = new_hist();
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    for t in tasks {
        let Ok(r) = t.await else {
            report.bind_failures += 1;
            continue;
        };
        report.sent += r.sent;
        report.ok += r.ok;
        report.unanswered += r.unanswered;
        report.bind_failures += u64::from(r.bind_failed);
        for (s, n) in r.errors {
            *report.errors_by_status.entry(s).or_default() += n;
        }
        let _ = hist.add(&r.hist);
        first = match (first, r.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        last = last.max(r.last);
    }
    if let (Some(a), Some(b)) = (first, last) {
        report.elapsed = b.saturating_duration_since(a);
    }
    let answered = report.ok + report.errors_by_status.values().sum::<u64>();
    if report.elapsed > Duration::ZERO {
        report.throughput = answered as f64 / report.elapsed.as_secs_f64();
    }
    let us = |v: u64| Duration::from_micros(v);
    if !hist.is_empty() {
        report.latency = Latency {
            p50: us(hist.value_at_quantile(0.50)),
            p90: us(hist.value_at_quantile(0.90)),
            p99: us(hist.value_at_quantile(0.99)),
            max: us(hist.max()),
        };
    }
    report.receipts_matched = run.matched.load(Ordering::Relaxed);
    report.receipts_unknown =
        run.unknown.load(Ordering::Relaxed) + run.ids.lock().expect("poisoned").early.len() as u64;
    report.receipts_missing = if cfg.receipts {
        run.expected.load(Ordering::Relaxed)
    } else {
        0
    };
    report
}

fn new_hist() -> Histogram<u64> {
    // 1 µs .. 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

fn dest_for(base: &str, i: u64) -> String {
    let digits: String = base.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() || digits.len() > 20 {
        return base.to_owned();
    }
    let width = digits.len();
    let modulus = 10u128.pow(width as u32);
    let v = (digits.parse::<u128>().unwrap_or(0) + u128::from(i)) % modulus;
    format!("{v:0width$}")
}

async fn one_bind(cfg: Arc<EsmeConfig>, run: Arc<Run>, start: u64, n: u64) -> BindResult {
    let mut res = BindResult {
        sent: 0,
        ok: 0,
        errors: BTreeMap::new(),
        unanswered: 0,
        hist: new_hist(),
        first: None,
        last: None,
        bind_failed: false,
    };
    let opts = ClientOptions {
        auto_deliver_sm_resp: true,
        response_timeout: cfg.response_timeout,
        ..ClientOptions::default()
    };
    let client = match Client::connect_with(cfg.addr.as_str(), opts).await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "esme: connect failed");
            None
        }
    };
    let mut client = match client {
        Some(c) => match c.bind(cfg.bind_type, &cfg.system_id, &cfg.password).await {
            Ok(s) if s.is_ok() => Some(c),
            Ok(s) => {
                tracing::warn!(status = ?s, "esme: bind refused");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "esme: bind failed");
                None
            }
        },
        None => None,
    };
    let Some(c) = client.as_mut() else {
        res.bind_failed = true;
        res.unanswered = n;
        run.submitting.fetch_sub(1, Ordering::Relaxed);
        return res;
    };
    let sending = cfg.bind_type.can_send();
    if let Err(e) = submit_loop(c, &cfg, &run, start, if sending { n } else { 0 }, &mut res).await {
        tracing::warn!(error = %e, "esme: connection failed while submitting");
    }
    run.submitting.fetch_sub(1, Ordering::Relaxed);
    if cfg.receipts && cfg.bind_type.can_receive() {
        while !run.done_waiting(cfg.receipt_timeout) {
            match c.next_pdu(Duration::from_millis(50)).await {
                Ok(p) => on_incoming(&run, &p),
                Err(ClientError::Timeout) | Err(ClientError::Decode(_)) => {}
                Err(_) => break,
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), c.unbind()).await;
    res
}

fn on_incoming(run: &Run, p: &Pdu) {
    let Body::DeliverSm(sm) = &p.body else { return };
    if sm.esm_class & 0x3C == 0 {
        return;
    }
    let id = match sm.tlvs.receipted_message_id() {
        Some(id) => id.clone(),
        None => match Receipt::parse_bytes(&sm.short_message) {
            Ok(r) => r.id,
            Err(_) => {
                run.unknown.fetch_add(1, Ordering::Relaxed);
                return;
            }
        },
    };
    run.receipt(&id);
}

async fn submit_loop(
    c: &mut Client,
    cfg: &EsmeConfig,
    run: &Run,
    start: u64,
    n: u64,
    res: &mut BindResult,
) -> Result<(), ClientError> {
    let window = cfg.window.max(1);
    let mut inflight: std::collections::VecDeque<PendingResponse> =
        std::collections::VecDeque::with_capacity(window);
    let mut i = 0;
    let timeout = cfg.response_timeout;
    // With a rate, each bind sends its share evenly: message i of this
    // bind is due at begin + i * interval.
    let interval = (cfg.rate > 0)
        .then(|| Duration::from_secs_f64(cfg.binds.max(1) as f64 / f64::from(cfg.rate)));
    let begin = tokio::time::Instant::now();
    loop {
        let due = |i: u64| interval.map(|d| begin + d.mul_f64(i as f64));
        while i < n
            && inflight.len() < window
            && due(i).is_none_or(|t| t <= tokio::time::Instant::now())
        {
            let sm = SubmitSm {
                registered_delivery: u8::from(cfg.receipts),
                ..super::submit_sm(
                    &cfg.from,
                    &dest_for(&cfg.to, start + i),
                    cfg.text.as_bytes(),
                    cfg.receipts,
                )
            };
            let p = match c.send_request(Body::SubmitSm(Box::new(sm))).await {
                Ok(p) => p,
                Err(e) => {
                    res.unanswered += n - i + inflight.len() as u64;
                    return Err(e);
                }
            };
            res.first.get_or_insert(p.sent_at);
            res.sent += 1;
            inflight.push_back(p);
            i += 1;
        }
        // Paced: the next message is not due yet.
        let next_due = if i < n && inflight.len() < window {
            due(i)
        } else {
            None
        };
        let Some(front) = inflight.front_mut() else {
            match next_due {
                Some(t) => {
                    tokio::time::sleep_until(t).await;
                    continue;
                }
                None => return Ok(()),
            }
        };
        let sent_at = front.sent_at;
        tokio::select! {
            biased;
            _ = tokio::time::sleep_until(next_due.unwrap_or_else(tokio::time::Instant::now)), if next_due.is_some() => {}
            ev = c.recv() => match ev {
                Some(Ok(p)) => on_incoming(run, &p),
                Some(Err(_)) => {}
                None => {
                    res.unanswered += n - i + inflight.len() as u64;
                    return Err(ClientError::Closed);
                }
            },
            r = tokio::time::timeout_at(tokio::time::Instant::from_std(sent_at + timeout), front) => {
                inflight.pop_front();
                match r {
                    Ok(Ok(r)) => {
                        let lat = r.received_at.saturating_duration_since(sent_at);
                        let _ = res.hist.record((lat.as_micros() as u64).max(1));
                        res.last = Some(res.last.map_or(r.received_at, |l| l.max(r.received_at)));
                        if r.pdu.command_status.is_ok() {
                            res.ok += 1;
                            if cfg.receipts {
                                if let Body::SubmitSmResp(b) = &r.pdu.body {
                                    run.accepted(&b.message_id);
                                }
                            }
                        } else {
                            *res.errors.entry(r.pdu.command_status.0).or_default() += 1;
                        }
                    }
                    Ok(Err(e)) => {
                        res.unanswered += 1 + n - i + inflight.len() as u64;
                        return Err(e);
                    }
                    Err(_) => res.unanswered += 1,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_vary_and_keep_length() {
        assert_eq!(dest_for("4915100000000", 0), "4915100000000");
        assert_eq!(dest_for("4915100000000", 42), "4915100000042");
        assert_eq!(dest_for("999", 1), "000");
        assert_eq!(dest_for("short", 3), "short");
    }

    #[test]
    fn early_receipts_match_later_responses() {
        let run = Run::default();
        run.receipt(b"00ab");
        run.accepted(b"AB");
        assert_eq!(run.matched.load(Ordering::Relaxed), 1);
        run.accepted(b"10");
        run.receipt(b"10");
        assert_eq!(run.matched.load(Ordering::Relaxed), 2);
        assert_eq!(run.expected.load(Ordering::Relaxed), 0);
    }
}
