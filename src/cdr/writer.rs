//! The CDR writer: a dedicated thread that drains a bounded queue of
//! records in batches into a [`CdrBackend`], off the gateway's hot path.
//!
//! The queue is the back-pressure: the gateway reserves a slot
//! ([`CdrWriter::try_reserve`]) before it answers a submit, and answers
//! with a throttling status when there is none, so a record is never
//! dropped. A failing backend holds its batch and retries with backoff;
//! the queue fills and the ESMEs are throttled until the disk is back.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};

use super::record::Record;
use super::store::CdrBackend;

/// How often a failing append is retried: doubling from the first value up
/// to the second.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(5));
/// After shutdown was asked for, a batch that still fails this many times
/// is given up (and logged with its size) so that shutdown finishes.
const SHUTDOWN_RETRIES: u32 = 5;
/// After a batch short of a full [`WriterOptions::batch`], the writer
/// waits this long for more before its next append: under load that
/// makes batches of hundreds of records (one lock, one write, one stat per
/// batch) instead of a wake-up and five system calls per record. It only
/// delays when records reach the disk, never an ESME's answer.
const LINGER: Duration = Duration::from_millis(2);

/// Writer tuning.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Queue capacity in records (at least 1).
    pub queue: usize,
    /// Appended records are fsynced at most this often (and at hourly
    /// rotation and shutdown).
    pub fsync_interval: Duration,
    /// Most records per append (at least 1).
    pub batch: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            queue: 65_536,
            fsync_interval: Duration::from_secs(1),
            batch: 256,
        }
    }
}

/// Writer counters ([`CdrWriter::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Records appended.
    pub records: u64,
    /// Bytes appended (as reported by the backend).
    pub bytes: u64,
    /// Appends (batches).
    pub batches: u64,
    /// Failed append or sync attempts.
    pub errors: u64,
    /// Records queued or being written, reserved slots included.
    pub queued: usize,
    /// Age of the oldest record not yet written (approximately: the
    /// oldest record of the batch being written), zero when idle.
    pub lag: Duration,
}

#[derive(Debug)]
struct Queued {
    record: Record,
    at: Instant,
}

#[derive(Debug)]
struct Shared {
    base: Instant,
    records: AtomicU64,
    bytes: AtomicU64,
    batches: AtomicU64,
    errors: AtomicU64,
    inflight: AtomicUsize,
    /// µs since `base` + 1 of the oldest record in flight; 0 = none.
    inflight_since: AtomicU64,
    stopping: AtomicBool,
    stop: Notify,
}

/// The producer side of the writer; cheap to clone. See the
/// [module docs](self).
#[derive(Clone)]
pub struct CdrWriter {
    tx: mpsc::Sender<Queued>,
    shared: Arc<Shared>,
}

impl fmt::Debug for CdrWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CdrWriter")
            .field("stats", &self.stats())
            .finish()
    }
}

/// A reserved queue slot: [`write`](Self::write) never blocks nor fails.
/// Dropping it unused frees the slot.
#[derive(Debug)]
pub struct CdrPermit {
    permit: mpsc::OwnedPermit<Queued>,
}

impl CdrPermit {
    /// Queues the record in the reserved slot.
    pub fn write(self, record: Record) {
        self.permit.send(Queued {
            record,
            at: Instant::now(),
        });
    }
}

/// Owns the writer thread; [`shutdown`](Self::shutdown) drains and joins it.
#[derive(Debug)]
pub struct WriterHandle {
    thread: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl WriterHandle {
    /// Stops taking records, writes and fsyncs everything queued, and
    /// joins the thread. A batch that keeps failing after shutdown was
    /// asked for is retried a few times, then given up with an error log.
    pub fn shutdown(self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.stop.notify_one();
        if self.thread.join().is_err() {
            tracing::error!("the CDR writer thread panicked");
        }
    }
}

impl CdrWriter {
    /// Starts the writer thread (named `cdr-writer`) over `backend`.
    /// Fails only if the thread or its timer cannot be created.
    pub fn start(
        backend: Box<dyn CdrBackend>,
        opts: WriterOptions,
    ) -> io::Result<(CdrWriter, WriterHandle)> {
        let (tx, rx) = mpsc::channel(opts.queue.max(1));
        let shared = Arc::new(Shared {
            base: Instant::now(),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            inflight: AtomicUsize::new(0),
            inflight_since: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let worker = Worker {
            backend,
            rx,
            opts: WriterOptions {
                queue: opts.queue.max(1),
                batch: opts.batch.max(1),
                fsync_interval: opts.fsync_interval,
            },
            shared: shared.clone(),
        };
        let thread = thread::Builder::new()
            .name("cdr-writer".into())
            .spawn(move || worker.run(rt))?;
        Ok((
            CdrWriter {
                tx,
                shared: shared.clone(),
            },
            WriterHandle { thread, shared },
        ))
    }

    /// A slot in the queue, or `None` when it is full (the writer is
    /// behind: throttle the ESME) or the writer has shut down.
    pub fn try_reserve(&self) -> Option<CdrPermit> {
        self.tx
            .clone()
            .try_reserve_owned()
            .ok()
            .map(|permit| CdrPermit { permit })
    }

    /// Queues a record, waiting for room: for background producers. After
    /// shutdown the record is counted as an error and logged (without its
    /// contents).
    pub async fn write(&self, record: Record) {
        let q = Queued {
            record,
            at: Instant::now(),
        };
        if self.tx.send(q).await.is_err() {
            self.shared.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!("CDR record written after the writer shut down; not stored");
        }
    }

    /// Counters from shared atomics.
    pub fn stats(&self) -> WriterStats {
        let s = &self.shared;
        let since = s.inflight_since.load(Ordering::Acquire);
        let lag = if since == 0 {
            Duration::ZERO
        } else {
            let now = s.base.elapsed().as_micros() as u64 + 1;
            Duration::from_micros(now.saturating_sub(since))
        };
        WriterStats {
            records: s.records.load(Ordering::Relaxed),
            bytes: s.bytes.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            queued: self.tx.max_capacity() - self.tx.capacity()
                + s.inflight.load(Ordering::Relaxed),
            lag,
        }
    }
}

struct Worker {
    backend: Box<dyn CdrBackend>,
    rx: mpsc::Receiver<Queued>,
    opts: WriterOptions,
    shared: Arc<Shared>,
}

enum Event {
    Got(usize),
    Stop,
    Tick,
}

impl Worker {
    fn run(mut self, rt: tokio::runtime::Runtime) {
        let mut queued: Vec<Queued> = Vec::with_capacity(self.opts.batch);
        let mut batch: Vec<Record> = Vec::with_capacity(self.opts.batch);
        let mut last_sync = Instant::now();
        let mut dirty = false;
        let mut closing = false;
        loop {
            let wait = dirty.then(|| self.opts.fsync_interval.saturating_sub(last_sync.elapsed()));
            let event = rt.block_on(async {
                tokio::select! {
                    biased;
                    _ = self.shared.stop.notified(), if !closing => Event::Stop,
                    n = self.rx.recv_many(&mut queued, self.opts.batch) => Event::Got(n),
                    _ = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => Event::Tick,
                }
            });
            match event {
                Event::Stop => {
                    // Refuse new records; recv_many drains what is queued,
                    // then returns 0.
                    self.rx.close();
                    closing = true;
                }
                Event::Got(0) => break,
                Event::Got(n) => {
                    let oldest = queued
                        .iter()
                        .map(|q| q.at)
                        .min()
                        .unwrap_or_else(Instant::now);
                    let since = oldest.saturating_duration_since(self.shared.base);
                    self.shared
                        .inflight_since
                        .store(since.as_micros() as u64 + 1, Ordering::Release);
                    self.shared.inflight.store(n, Ordering::Relaxed);
                    batch.extend(queued.drain(..).map(|q| q.record));
                    self.append(&batch);
                    batch.clear();
                    self.shared.inflight.store(0, Ordering::Relaxed);
                    self.shared.inflight_since.store(0, Ordering::Release);
                    dirty = true;
                    // A batch short of full emptied the queue: let the
                    // next records gather for a moment instead of parking
                    // on the channel, where every send would have to wake
                    // this thread (a futex call on the data path). Full
                    // batches go back to back, so this caps no throughput.
                    if n < self.opts.batch && !closing {
                        thread::sleep(LINGER);
                    }
                }
                Event::Tick => {}
            }
            if dirty && last_sync.elapsed() >= self.opts.fsync_interval {
                self.sync();
                dirty = false;
                last_sync = Instant::now();
            }
        }
        if dirty {
            self.sync();
        }
    }

    /// Appends with retries; gives up only after shutdown was asked for.
    fn append(&mut self, batch: &[Record]) {
        let mut backoff = BACKOFF.0;
        let mut failures_stopping = 0;
        loop {
            match self.backend.append(batch) {
                Ok(()) => {
                    let s = &self.shared;
                    s.records.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    s.batches.fetch_add(1, Ordering::Relaxed);
                    s.bytes
                        .store(self.backend.bytes_written(), Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    self.shared.errors.fetch_add(1, Ordering::Relaxed);
                    if self.shared.stopping.load(Ordering::Acquire) {
                        failures_stopping += 1;
                        if failures_stopping >= SHUTDOWN_RETRIES {
                            tracing::error!(
                                error = %e,
                                records = batch.len(),
                                "CDR append failed during shutdown; giving up these records"
                            );
                            return;
                        }
                    }
                    tracing::error!(
                        error = %e,
                        records = batch.len(),
                        retry_in_ms = backoff.as_millis() as u64,
                        "CDR append failed; holding the batch and retrying"
                    );
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF.1);
                }
            }
        }
    }

    fn sync(&mut self) {
        let mut backoff = BACKOFF.0;
        for _ in 0..SHUTDOWN_RETRIES {
            match self.backend.sync() {
                Ok(()) => return,
                Err(e) => {
                    self.shared.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "CDR fsync failed");
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF.1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::record::tests::random_record;
    use crate::cdr::store::FileBackend;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::sync::{Condvar, Mutex};

    #[test]
    fn records_through_the_writer_are_all_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let backend = FileBackend::open(tmp.path()).unwrap();
        let (w, h) = CdrWriter::start(
            Box::new(backend),
            WriterOptions {
                queue: 64,
                fsync_interval: Duration::from_millis(5),
                batch: 16,
            },
        )
        .unwrap();
        let mut rng = StdRng::seed_from_u64(10);
        let recs: Vec<Record> = (0..2000).map(|_| random_record(&mut rng)).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            for (i, r) in recs.iter().enumerate() {
                if i % 2 == 0 {
                    w.write(r.clone()).await;
                } else {
                    // Half through permits, waiting for room like the
                    // gateway's caller would retry later.
                    loop {
                        if let Some(p) = w.try_reserve() {
                            p.write(r.clone());
                            break;
                        }
                        tokio::task::yield_now().await;
                    }
                }
            }
        });
        h.shutdown();
        let st = w.stats();
        assert_eq!(st.records, 2000);
        assert_eq!(st.queued, 0);
        assert_eq!(st.errors, 0);
        assert!(st.bytes > 0);
        assert_eq!(crate::cdr::store::tests::read_dir(tmp.path()), recs);
        assert!(w.try_reserve().is_none(), "closed after shutdown");
    }

    /// A backend that blocks until released, then fails once, then works.
    #[derive(Clone, Default)]
    struct Gate {
        inner: Arc<(Mutex<GateState>, Condvar)>,
    }

    #[derive(Default)]
    struct GateState {
        open: bool,
        fail_next: bool,
        stored: Vec<Record>,
        entered: usize,
    }

    impl CdrBackend for Gate {
        fn append(&mut self, batch: &[Record]) -> io::Result<()> {
            let (m, cv) = &*self.inner;
            let mut g = m.lock().unwrap();
            g.entered += 1;
            cv.notify_all();
            while !g.open {
                g = cv.wait(g).unwrap();
            }
            if g.fail_next {
                g.fail_next = false;
                return Err(io::Error::other("disk full"));
            }
            g.stored.extend_from_slice(batch);
            Ok(())
        }
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn full_queue_refuses_and_nothing_is_dropped_after_release() {
        let gate = Gate::default();
        gate.inner.0.lock().unwrap().fail_next = true;
        let (w, h) = CdrWriter::start(
            Box::new(gate.clone()),
            WriterOptions {
                queue: 8,
                fsync_interval: Duration::from_millis(1),
                batch: 4,
            },
        )
        .unwrap();
        let mut rng = StdRng::seed_from_u64(11);
        let recs: Vec<Record> = (0..40).map(|_| random_record(&mut rng)).collect();
        let mut sent = 0;
        // The first record is taken by the writer, which then blocks in the
        // backend; wait for that so the queue count is exact.
        w.try_reserve().unwrap().write(recs[0].clone());
        sent += 1;
        {
            let (m, cv) = &*gate.inner;
            let mut g = m.lock().unwrap();
            while g.entered == 0 {
                g = cv.wait(g).unwrap();
            }
        }
        while let Some(p) = w.try_reserve() {
            p.write(recs[sent].clone());
            sent += 1;
        }
        assert_eq!(sent, 1 + 8, "one in flight and a full queue");
        assert!(w.try_reserve().is_none());
        assert_eq!(w.stats().queued, 9);
        {
            let (m, cv) = &*gate.inner;
            m.lock().unwrap().open = true;
            cv.notify_all();
        }
        // After the release, the rest goes through as room appears.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            for r in &recs[sent..] {
                w.write(r.clone()).await;
            }
        });
        h.shutdown();
        let st = w.stats();
        assert_eq!(st.errors, 1, "the one failure was retried");
        assert_eq!(st.records, 40);
        assert_eq!(gate.inner.0.lock().unwrap().stored, recs);
    }
}
