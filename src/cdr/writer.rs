//! The CDR writer: a dedicated thread that appends queued records in
//! batches to a [`CdrBackend`], off the gateway's hot path.
//!
//! The queue is the back-pressure: the gateway reserves a slot
//! ([`CdrWriter::try_reserve`]) before it answers a submit, and answers
//! with a throttling status when there is none, so a record is never
//! dropped. A failing backend holds its batch and retries with backoff;
//! the queue fills and the ESMEs are throttled until the disk is back.
//!
//! # The queue
//!
//! A slot is a count in one atomic (at most [`WriterOptions::queue`]
//! taken, reserved or written and not yet picked up by the writer); its
//! top bit closes the queue at shutdown, so no reservation can slip in
//! after the writer decided to stop. A reserved slot's record is encoded
//! (framed and checksummed) on the producer's thread, straight into the
//! byte buffer of that thread's shard, under the shard's own lock. The
//! writer swaps each shard's buffer for an empty one of its own: no
//! per-record allocation, no record moved between threads, and the
//! writer's work per batch is a swap and one `write` per shard. The
//! writer thread is woken only when it is parked on an empty queue; after
//! a short batch it lingers instead of parking, so under load producers
//! never wake it.
//!
//! # Why shards, and why the queue is never freed
//!
//! Every submit writes two records. With one lock and one buffer for all
//! threads, each record moved the lock's and the buffer's cache lines
//! between cores, and a permit's reference count did the same twice more
//! (in a profile of the load bench, queueing a written record took about
//! 2 % of the gateway's time, nearly all of it on those atomic
//! instructions; with shards it is 0.3 %). So each
//! producer thread has its own shard (its lock and buffer stay in its
//! core's cache), and the shared state is leaked: it lives as long as the
//! process (a gateway starts one writer, for good), so a permit is a plain
//! reference and touches no count. The buffers themselves are freed at
//! shutdown; what stays is about 1.5 KiB per writer ever started.
//!
//! Records of one thread reach the backend in the order they were
//! written; records of different threads in one batch are appended shard
//! after shard (readers of CDRs never relied on an order across messages:
//! a receipt can meet its submit record in any order).

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::record::{Record, RecordRef};
use super::store::{split_frame, CdrBackend};

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
/// delays when records reach the disk, never an ESME's answer. Each batch
/// costs the writer four system calls (lock, stat, write, unlock) and
/// ext4 an inode update, so longer is cheaper, up to what the queue holds.
const LINGER: Duration = Duration::from_millis(5);
/// The top bit of [`Shared::slots`]: the queue is closed.
const CLOSED: usize = 1 << (usize::BITS - 1);
/// Producer shards. Threads are given shards in turn as they first write,
/// so up to this many producer threads (the gateway has one per core)
/// never share one.
const SHARDS: usize = 8;

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

/// One shard's records written and not yet taken by the writer.
#[derive(Default)]
struct Pending {
    /// Whole frames, back to back, in the order they were written.
    frames: Vec<u8>,
    /// The length of `frames` up to its last whole frame: a producer that
    /// panicked while encoding leaves no partial frame behind.
    whole: usize,
    /// How many.
    records: usize,
    /// When the first of them was written.
    first_at: Option<Instant>,
}

/// A shard on cache lines of its own.
#[repr(align(128))]
#[derive(Default)]
struct Shard {
    pending: Mutex<Pending>,
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let whole = p.whole;
        p.frames.truncate(whole);
        p
    }
}

struct Shared {
    /// Slots taken (reserved, or written and not yet taken by the writer),
    /// with [`CLOSED`] set once shutdown began.
    slots: AtomicUsize,
    capacity: usize,
    shards: [Shard; SHARDS],
    /// The writer is about to wait, or waits, on [`Shared::wake`]:
    /// producers then take [`Shared::park`] and wake it.
    parked: AtomicBool,
    park: Mutex<()>,
    /// Wakes the parked writer.
    wake: Condvar,
    /// Wakes [`CdrWriter::write`] callers waiting for room.
    room: Notify,
    base: Instant,
    records: AtomicU64,
    bytes: AtomicU64,
    batches: AtomicU64,
    errors: AtomicU64,
    inflight: AtomicUsize,
    /// µs since `base` + 1 of the oldest record in flight; 0 = none.
    inflight_since: AtomicU64,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots = self.slots.load(Ordering::Relaxed);
        f.debug_struct("Shared")
            .field("slots", &(slots & !CLOSED))
            .field("closed", &(slots & CLOSED != 0))
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// The shard of the calling thread.
fn my_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    // A thread being torn down has lost its number: any shard will do.
    SHARD.try_with(|s| *s).unwrap_or(0)
}

impl Shared {
    fn park(&self) -> MutexGuard<'_, ()> {
        self.park.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn try_reserve(&self) -> bool {
        self.slots
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok()
    }

    /// Frees a reserved slot that was not used.
    fn release(&self) {
        let before = self.slots.fetch_sub(1, Ordering::AcqRel);
        if before & CLOSED != 0 {
            // The writer may be waiting for the last slot at shutdown.
            self.wake_writer();
        }
        self.room.notify_waiters();
    }

    /// Encodes `record` as one whole frame at the end of this thread's
    /// shard.
    fn push(&self, record: &RecordRef<'_>) {
        let mut p = self.shards[my_shard()].lock();
        if p.records == 0 {
            p.first_at = Some(Instant::now());
        }
        record.encode_frame(&mut p.frames);
        p.whole = p.frames.len();
        p.records += 1;
        drop(p);
        // SeqCst with the writer's store before it looks at the shards:
        // either it sees this record or this sees it parking.
        if self.parked.load(Ordering::SeqCst) {
            self.wake_writer();
        }
    }

    fn wake_writer(&self) {
        let _park = self.park();
        self.parked.store(false, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Whether any shard holds records.
    fn any_pending(&self) -> bool {
        self.shards.iter().any(|s| s.lock().records > 0)
    }

    fn close(&self) {
        self.slots.fetch_or(CLOSED, Ordering::AcqRel);
        self.wake_writer();
        self.room.notify_waiters();
    }
}

/// The producer side of the writer; cheap to copy. See the
/// [module docs](self).
#[derive(Clone, Copy)]
pub struct CdrWriter {
    shared: &'static Shared,
}

impl fmt::Debug for CdrWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CdrWriter")
            .field("stats", &self.stats())
            .finish()
    }
}

/// A reserved queue slot: writing it ([`write`](Self::write),
/// [`write_ref`](Self::write_ref)) never blocks nor fails. Dropping it
/// unused frees the slot.
#[derive(Debug)]
pub struct CdrPermit {
    shared: &'static Shared,
    used: bool,
}

impl CdrPermit {
    /// Queues the record in the reserved slot.
    pub fn write(self, record: Record) {
        self.write_ref(&record.as_ref());
    }

    /// Queues the record in the reserved slot, encoding it from borrowed
    /// fields.
    pub fn write_ref(mut self, record: &RecordRef<'_>) {
        self.used = true;
        self.shared.push(record);
    }
}

impl Drop for CdrPermit {
    fn drop(&mut self) {
        if !self.used {
            self.shared.release();
        }
    }
}

/// Owns the writer thread; [`shutdown`](Self::shutdown) drains and joins it.
#[derive(Debug)]
pub struct WriterHandle {
    thread: JoinHandle<()>,
    shared: &'static Shared,
}

impl WriterHandle {
    /// Stops taking records, waits for the slots still reserved to be
    /// written or dropped, writes and fsyncs everything queued, and joins
    /// the thread. A batch that keeps failing after shutdown was asked for
    /// is retried a few times, then given up with an error log.
    pub fn shutdown(self) {
        self.shared.close();
        if self.thread.join().is_err() {
            tracing::error!("the CDR writer thread panicked");
        }
        // Nothing is queued any more and nothing can be: the buffers go.
        for shard in &self.shared.shards {
            *shard.lock() = Pending::default();
        }
    }
}

impl CdrWriter {
    /// Starts the writer thread (named `cdr-writer`) over `backend`.
    /// Fails only if the thread cannot be created.
    pub fn start(
        backend: Box<dyn CdrBackend>,
        opts: WriterOptions,
    ) -> io::Result<(CdrWriter, WriterHandle)> {
        let opts = WriterOptions {
            queue: opts.queue.clamp(1, CLOSED - 1),
            batch: opts.batch.max(1),
            fsync_interval: opts.fsync_interval,
        };
        // Leaked on purpose: see the module docs.
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            slots: AtomicUsize::new(0),
            capacity: opts.queue,
            shards: Default::default(),
            parked: AtomicBool::new(false),
            park: Mutex::new(()),
            wake: Condvar::new(),
            room: Notify::new(),
            base: Instant::now(),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            inflight: AtomicUsize::new(0),
            inflight_since: AtomicU64::new(0),
        }));
        let worker = Worker {
            backend,
            opts,
            shared,
        };
        let thread = thread::Builder::new()
            .name("cdr-writer".into())
            .spawn(move || worker.run())?;
        Ok((CdrWriter { shared }, WriterHandle { thread, shared }))
    }

    /// A slot in the queue, or `None` when it is full (the writer is
    /// behind: throttle the ESME) or the writer has shut down.
    pub fn try_reserve(&self) -> Option<CdrPermit> {
        // A permit is made only with its slot: one dropped on refusal would
        // free a slot it never had.
        if self.shared.try_reserve() {
            Some(CdrPermit {
                shared: self.shared,
                used: false,
            })
        } else {
            None
        }
    }

    /// Queues a record, waiting for room: for background producers. After
    /// shutdown the record is counted as an error and logged (without its
    /// contents).
    pub async fn write(&self, record: Record) {
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            // Registered before the check, so room made after it wakes us.
            room.as_mut().enable();
            if let Some(permit) = self.try_reserve() {
                permit.write(record);
                return;
            }
            if self.shared.slots.load(Ordering::Acquire) & CLOSED != 0 {
                self.shared.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!("CDR record written after the writer shut down; not stored");
                return;
            }
            room.await;
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
            queued: (s.slots.load(Ordering::Relaxed) & !CLOSED)
                + s.inflight.load(Ordering::Relaxed),
            lag,
        }
    }
}

struct Worker {
    backend: Box<dyn CdrBackend>,
    opts: WriterOptions,
    shared: &'static Shared,
}

/// What the writer does next.
enum Step {
    /// Append these many records (each shard's count is beside its
    /// buffer), the first written at that time.
    Batch(usize, Instant),
    /// Time to fsync.
    Sync,
    /// Closed and nothing left.
    Exit,
}

impl Worker {
    /// Swaps every shard's records into `bufs` (which must be empty),
    /// their counts into `counts`, and frees their slots: how many in all,
    /// and when the first was written.
    fn take(
        &self,
        bufs: &mut [Vec<u8>; SHARDS],
        counts: &mut [usize; SHARDS],
    ) -> (usize, Option<Instant>) {
        let s = self.shared;
        let mut n = 0;
        let mut first: Option<Instant> = None;
        for ((shard, buf), count) in s.shards.iter().zip(bufs.iter_mut()).zip(counts.iter_mut()) {
            let mut p = shard.lock();
            *count = std::mem::take(&mut p.records);
            if *count == 0 {
                continue;
            }
            std::mem::swap(&mut p.frames, buf);
            p.whole = 0;
            let at = p.first_at.take();
            drop(p);
            n += *count;
            first = match (first, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        if n > 0 {
            s.slots.fetch_sub(n, Ordering::AcqRel);
            s.room.notify_waiters();
        }
        (n, first)
    }

    /// Waits for records, the fsync time or the end; with records, takes
    /// them ([`take`](Self::take)).
    fn next(
        &self,
        bufs: &mut [Vec<u8>; SHARDS],
        counts: &mut [usize; SHARDS],
        sync_at: Option<Instant>,
    ) -> Step {
        let s = self.shared;
        loop {
            let (n, first) = self.take(bufs, counts);
            if n > 0 {
                return Step::Batch(n, first.unwrap_or_else(Instant::now));
            }
            if s.slots.load(Ordering::Acquire) == CLOSED {
                return Step::Exit;
            }
            let now = Instant::now();
            if sync_at.is_some_and(|at| now >= at) {
                return Step::Sync;
            }
            let park = s.park();
            // SeqCst with the producers' load after they push: either they
            // see this, or the check below sees their records.
            s.parked.store(true, Ordering::SeqCst);
            if s.any_pending() || s.slots.load(Ordering::Acquire) == CLOSED {
                s.parked.store(false, Ordering::SeqCst);
                continue;
            }
            let park = match sync_at {
                Some(at) => {
                    s.wake
                        .wait_timeout(park, at.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => s.wake.wait(park).unwrap_or_else(PoisonError::into_inner),
            };
            s.parked.store(false, Ordering::SeqCst);
            drop(park);
        }
    }

    fn run(mut self) {
        let mut bufs: [Vec<u8>; SHARDS] = Default::default();
        let mut counts = [0usize; SHARDS];
        let mut last_sync = Instant::now();
        let mut dirty = false;
        loop {
            let sync_at = dirty.then(|| last_sync + self.opts.fsync_interval);
            match self.next(&mut bufs, &mut counts, sync_at) {
                Step::Exit => break,
                Step::Sync => {}
                Step::Batch(n, first) => {
                    let since = first.saturating_duration_since(self.shared.base);
                    self.shared
                        .inflight_since
                        .store(since.as_micros() as u64 + 1, Ordering::Release);
                    self.shared.inflight.store(n, Ordering::Relaxed);
                    for (buf, &count) in bufs.iter_mut().zip(&counts) {
                        if count > 0 {
                            self.append_all(buf, count);
                            buf.clear();
                        }
                    }
                    self.shared.inflight.store(0, Ordering::Relaxed);
                    self.shared.inflight_since.store(0, Ordering::Release);
                    dirty = true;
                    // A batch short of full emptied the queue: let the
                    // next records gather for a moment instead of parking,
                    // where every write would have to wake this thread (a
                    // futex call on the data path). Full batches go back
                    // to back, so this caps no throughput.
                    let closing = self.shared.slots.load(Ordering::Relaxed) & CLOSED != 0;
                    if n < self.opts.batch && !closing {
                        thread::sleep(LINGER);
                    }
                }
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

    /// Appends `n` whole frames in batches of at most
    /// [`WriterOptions::batch`] records.
    fn append_all(&mut self, frames: &[u8], n: usize) {
        if n <= self.opts.batch {
            self.append(frames, n);
            return;
        }
        let mut rest = frames;
        while !rest.is_empty() {
            let mut cut = 0;
            let mut count = 0;
            let mut tail = rest;
            while count < self.opts.batch {
                let Some((payload, next)) = split_frame(tail) else {
                    break;
                };
                cut += super::store::FRAME_HEADER + payload.len();
                count += 1;
                tail = next;
            }
            if count == 0 {
                // Never happens: the queue holds whole frames only.
                self.shared.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    bytes = rest.len(),
                    "a queued CDR batch ends in a partial frame; dropped"
                );
                return;
            }
            self.append(&rest[..cut], count);
            rest = &rest[cut..];
        }
    }

    /// Appends with retries; gives up only after shutdown was asked for.
    fn append(&mut self, frames: &[u8], n: usize) {
        let mut backoff = BACKOFF.0;
        let mut failures_stopping = 0;
        loop {
            match self.backend.append_frames(frames) {
                Ok(()) => {
                    let s = &self.shared;
                    s.records.fetch_add(n as u64, Ordering::Relaxed);
                    s.batches.fetch_add(1, Ordering::Relaxed);
                    s.bytes
                        .store(self.backend.bytes_written(), Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    self.shared.errors.fetch_add(1, Ordering::Relaxed);
                    if self.shared.slots.load(Ordering::Acquire) & CLOSED != 0 {
                        failures_stopping += 1;
                        if failures_stopping >= SHUTDOWN_RETRIES {
                            tracing::error!(
                                error = %e,
                                records = n,
                                "CDR append failed during shutdown; giving up these records"
                            );
                            return;
                        }
                    }
                    tracing::error!(
                        error = %e,
                        records = n,
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
    use std::sync::{Arc, Condvar, Mutex};

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

    /// Keeps every batch as appended.
    #[derive(Clone, Default)]
    struct Recorder {
        batches: Arc<Mutex<Vec<Vec<Record>>>>,
    }

    impl CdrBackend for Recorder {
        fn append(&mut self, batch: &[Record]) -> io::Result<()> {
            self.batches.lock().unwrap().push(batch.to_vec());
            Ok(())
        }
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A writer over a [`Recorder`].
    fn recorded(opts: WriterOptions) -> (Recorder, CdrWriter, WriterHandle) {
        let rec = Recorder::default();
        let (w, h) = CdrWriter::start(Box::new(rec.clone()), opts).unwrap();
        (rec, w, h)
    }

    fn numbered(producer: u64, i: u64) -> Record {
        let mut rng = StdRng::seed_from_u64(producer << 32 | i);
        let mut r = random_record(&mut rng);
        r.gateway_id = producer << 32 | i;
        r
    }

    #[test]
    fn reservations_are_bounded_and_an_unused_one_frees_its_slot() {
        let (rec, w, h) = recorded(WriterOptions {
            queue: 4,
            fsync_interval: Duration::from_millis(5),
            batch: 4,
        });
        let mut permits: Vec<CdrPermit> = (0..4).map(|_| w.try_reserve().unwrap()).collect();
        assert!(w.try_reserve().is_none(), "bounded");
        assert_eq!(w.stats().queued, 4);
        drop(permits.pop());
        assert_eq!(w.stats().queued, 3);
        permits.push(w.try_reserve().expect("the dropped slot is free again"));
        assert!(w.try_reserve().is_none());
        let recs: Vec<Record> = (0..4).map(|i| numbered(0, i)).collect();
        for (p, r) in permits.into_iter().zip(&recs) {
            p.write(r.clone());
        }
        h.shutdown();
        let got: Vec<Record> = rec.batches.lock().unwrap().concat();
        assert_eq!(got, recs);
        assert_eq!(w.stats().queued, 0);
        assert!(w.try_reserve().is_none(), "closed after shutdown");
    }

    #[test]
    fn shutdown_waits_for_reserved_slots_and_drains_everything() {
        let (rec, w, h) = recorded(WriterOptions {
            queue: 1000,
            fsync_interval: Duration::from_secs(60),
            batch: 64,
        });
        let recs: Vec<Record> = (0..301).map(|i| numbered(1, i)).collect();
        for r in &recs[..300] {
            w.try_reserve().unwrap().write(r.clone());
        }
        let late = w.try_reserve().unwrap();
        let unused = w.try_reserve().unwrap();
        let stopper = thread::spawn(move || h.shutdown());
        // New reservations are refused as soon as shutdown begins...
        while w.try_reserve().is_some_and(|p| {
            drop(p);
            true
        }) {
            thread::yield_now();
        }
        // ...but the writer waits for the slots already reserved.
        thread::sleep(Duration::from_millis(50));
        assert!(!stopper.is_finished(), "a reserved slot is outstanding");
        late.write(recs[300].clone());
        thread::sleep(Duration::from_millis(20));
        assert!(!stopper.is_finished(), "an unused slot is outstanding");
        drop(unused);
        stopper.join().unwrap();
        let batches = rec.batches.lock().unwrap();
        assert!(batches.iter().all(|b| b.len() <= 64), "batches are cut");
        assert_eq!(batches.concat(), recs);
        let st = w.stats();
        assert_eq!((st.records, st.queued, st.errors), (301, 0, 0));
    }

    #[test]
    fn each_producers_order_is_kept_under_back_pressure() {
        const PRODUCERS: u64 = 4;
        const EACH: u64 = 3000;
        let (rec, w, h) = recorded(WriterOptions {
            queue: 32,
            fsync_interval: Duration::from_millis(2),
            batch: 8,
        });
        let refused = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..PRODUCERS)
            .map(|t| {
                let refused = refused.clone();
                thread::spawn(move || {
                    for i in 0..EACH {
                        let r = numbered(t, i);
                        loop {
                            match w.try_reserve() {
                                Some(p) => {
                                    // Both ways of writing a slot.
                                    if i % 2 == 0 {
                                        p.write_ref(&r.as_ref());
                                    } else {
                                        p.write(r);
                                    }
                                    break;
                                }
                                None => {
                                    refused.fetch_add(1, Ordering::Relaxed);
                                    thread::yield_now();
                                }
                            }
                        }
                        let taken = w.shared.slots.load(Ordering::Relaxed);
                        assert!(taken <= 32, "bounded: {taken}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        h.shutdown();
        let got: Vec<Record> = rec.batches.lock().unwrap().concat();
        assert_eq!(got.len() as u64, PRODUCERS * EACH);
        let mut next = [0u64; PRODUCERS as usize];
        for r in &got {
            let (t, i) = ((r.gateway_id >> 32) as usize, r.gateway_id & 0xffff_ffff);
            assert_eq!(i, next[t], "producer {t} out of order");
            assert_eq!(*r, numbered(t as u64, i));
            next[t] += 1;
        }
        assert!(refused.load(Ordering::Relaxed) > 0, "the queue filled up");
        assert_eq!(w.stats().records, PRODUCERS * EACH);
    }

    /// Bytes past a shard's last whole frame (what a producer that
    /// panicked mid-encoding would leave) are cut before the next record.
    #[test]
    fn a_partial_frame_is_never_written() {
        let (rec, w, h) = recorded(WriterOptions {
            queue: 4,
            fsync_interval: Duration::from_millis(5),
            batch: 4,
        });
        let p = w.try_reserve().unwrap();
        w.shared.shards[my_shard()]
            .pending
            .lock()
            .unwrap()
            .frames
            .extend_from_slice(b"\x30\0\0\0half a frame");
        let r = numbered(3, 0);
        p.write_ref(&r.as_ref());
        h.shutdown();
        assert_eq!(rec.batches.lock().unwrap().concat(), vec![r]);
        assert_eq!(w.stats().errors, 0);
    }

    #[test]
    fn a_permit_is_written_to_its_own_writer() {
        let opts = WriterOptions {
            queue: 2,
            fsync_interval: Duration::from_millis(5),
            batch: 4,
        };
        let (ra, wa, ha) = recorded(opts);
        let (rb, wb, hb) = recorded(opts);
        let (x, y) = (numbered(2, 0), numbered(2, 1));
        // Each permit lands in the writer that gave it, in its slot.
        let pa = wa.try_reserve().unwrap();
        let pb = wb.try_reserve().unwrap();
        pa.write_ref(&x.as_ref());
        pb.write_ref(&y.as_ref());
        ha.shutdown();
        hb.shutdown();
        assert_eq!(ra.batches.lock().unwrap().concat(), vec![x]);
        assert_eq!(rb.batches.lock().unwrap().concat(), vec![y]);
        assert_eq!((wa.stats().queued, wb.stats().queued), (0, 0));
    }
}
