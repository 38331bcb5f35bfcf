//! Gateway message ids: the ids ESMEs see in `submit_sm_resp` and receipts.
//!
//! An id is a time-ordered 64-bit number: milliseconds since the Unix epoch
//! shifted left by 20 bits, plus a counter in the low 20 bits (a million ids
//! per millisecond before the counter borrows from the next millisecond).
//! 44 bits of milliseconds last until the year 2527. Ids are written as 16
//! lowercase hex digits ([`format_id`]), within the 65 octets of an SMPP
//! `message_id` (§5.2.23).
//!
//! Uniqueness across restarts, even when the clock steps back, comes from a
//! high-water mark kept in a state file: the generator reserves ids a few
//! seconds ahead and writes the end of the reservation (write, fsync,
//! rename) before it hands any of them out. A restart starts above the
//! last reservation. A background thread renews the reservation every
//! second, so [`IdGenerator::next`] does no I/O unless the clock jumps
//! forward by more than the reservation.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Bits of the per-millisecond counter.
pub(crate) const COUNTER_BITS: u32 = 20;
/// How far ahead of the last issued id the state file reserves.
const RESERVE_MS: u64 = 10_000;
/// Renew the reservation when less than this is left.
const RENEW_MS: u64 = 5_000;
/// How often the background thread checks the reservation.
const RENEW_EVERY: Duration = Duration::from_secs(1);

/// Issues gateway message ids; see the [module docs](self).
pub struct IdGenerator {
    inner: Arc<Inner>,
    /// Dropping it stops the renewal thread.
    _stop: Option<mpsc::Sender<()>>,
}

struct Inner {
    /// This generator's number ([`GENERATORS`]).
    gen: u64,
    /// The last id handed out or set aside in a thread's block.
    last: AtomicU64,
    /// Ids below this are covered by the state file (`u64::MAX` without one).
    reserved: AtomicU64,
    state_file: Option<PathBuf>,
    /// Serialises writes of the state file.
    persist: Mutex<()>,
}

impl fmt::Debug for IdGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdGenerator")
            .field("last", &self.inner.last.load(Ordering::Relaxed))
            .field("state_file", &self.inner.state_file)
            .finish()
    }
}

/// Milliseconds since the Unix epoch, from the coarse real-time clock
/// (one tick, a few milliseconds, behind at most): every submit takes an
/// id, and the coarse clock costs a fraction of the precise one. Ids stay
/// unique and ordered whatever the clock says ([`IdGenerator::next`] never
/// goes below the last id + 1).
fn now_ms() -> u64 {
    crate::clock::realtime_ms()
}

fn time_id(ms: u64) -> u64 {
    ms.saturating_mul(1 << COUNTER_BITS)
}

impl IdGenerator {
    /// A generator; with a `state_file`, ids stay unique across restarts
    /// (the file is read, then a first reservation written before this
    /// returns). Fails if the file cannot be read (other than missing),
    /// does not hold an id, or cannot be written.
    pub fn new(state_file: Option<PathBuf>) -> io::Result<IdGenerator> {
        let mut start = time_id(now_ms());
        if let Some(path) = &state_file {
            match fs::read(path) {
                Ok(text) => {
                    let text = text.trim_ascii();
                    let hwm = parse_id(text).ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{}: not a gateway id high-water mark", path.display()),
                        )
                    })?;
                    start = start.max(hwm);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let inner = Arc::new(Inner {
            gen: GENERATORS.fetch_add(1, Ordering::Relaxed),
            last: AtomicU64::new(start),
            reserved: AtomicU64::new(if state_file.is_some() { 0 } else { u64::MAX }),
            state_file,
            persist: Mutex::new(()),
        });
        if inner.state_file.is_none() {
            return Ok(IdGenerator { inner, _stop: None });
        }
        inner.renew(start)?;
        let (tx, rx) = mpsc::channel::<()>();
        let weak = Arc::downgrade(&inner);
        thread::Builder::new()
            .name("telegate-ids".into())
            .spawn(move || {
                // Ends when the generator is dropped (sender gone).
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(RENEW_EVERY) {
                    let Some(inner) = weak.upgrade() else { break };
                    let last = inner.last.load(Ordering::Relaxed).max(time_id(now_ms()));
                    if inner.reserved.load(Ordering::Acquire)
                        < last.saturating_add(time_id(RENEW_MS))
                    {
                        if let Err(e) = inner.renew(last) {
                            tracing::error!(error = %e, "cannot write the gateway id state file");
                        }
                    }
                }
            })?;
        Ok(IdGenerator {
            inner,
            _stop: Some(tx),
        })
    }

    /// The next id: unique, greater than every id any earlier run (with a
    /// state file) handed out, and greater than every id handed out before
    /// on the calling thread. Lock-free; does I/O only when the clock
    /// jumped past the reservation (then it writes the state file, and if
    /// that fails, hands out the id anyway after logging: refusing every
    /// message would be worse than a small risk of reuse after a clock step
    /// back).
    ///
    /// Each thread takes [`BLOCK`] consecutive ids at a time and hands them
    /// out within the same millisecond: the shared high-water mark is
    /// written once per block, not once per message, so the worker threads
    /// do not pass its cache line between them on every submit. Ids of
    /// different threads interleave by block.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&self) -> u64 {
        let ms = now_ms();
        let gen = self.inner.gen;
        let cached = BLOCKS.with(|b| {
            let mut blk = b.get();
            (blk.gen == gen && blk.ms == ms && blk.next < blk.end).then(|| {
                let id = blk.next;
                blk.next += 1;
                b.set(blk);
                id
            })
        });
        if let Some(id) = cached {
            return id;
        }
        let (id, end) = self.inner.take_block(ms);
        BLOCKS.with(|b| {
            b.set(Block {
                gen,
                ms,
                next: id + 1,
                end,
            })
        });
        id
    }

    /// The highest id handed out or set aside for a thread (or the
    /// starting point).
    pub fn last(&self) -> u64 {
        self.inner.last.load(Ordering::Relaxed)
    }
}

/// Ids a thread takes at once (see [`IdGenerator::next`]).
const BLOCK: u64 = 32;

/// A thread's current block of ids: `next..end` of generator `gen`, taken
/// in millisecond `ms`.
#[derive(Clone, Copy)]
struct Block {
    gen: u64,
    ms: u64,
    next: u64,
    end: u64,
}

thread_local! {
    static BLOCKS: std::cell::Cell<Block> = const {
        std::cell::Cell::new(Block { gen: 0, ms: 0, next: 0, end: 0 })
    };
}

/// Numbers generators, so a thread's block is used only with its own.
static GENERATORS: AtomicU64 = AtomicU64::new(1);

impl Inner {
    /// Takes the next [`BLOCK`] ids at millisecond `ms`: (first, end).
    fn take_block(&self, ms: u64) -> (u64, u64) {
        let mut prev = self.last.load(Ordering::Relaxed);
        let first = loop {
            let cand = time_id(ms).max(prev.saturating_add(1));
            let last = cand.saturating_add(BLOCK - 1);
            match self
                .last
                .compare_exchange_weak(prev, last, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break cand,
                Err(p) => prev = p,
            }
        };
        let end = first.saturating_add(BLOCK);
        if end > self.reserved.load(Ordering::Acquire) {
            if let Err(e) = self.renew(end - 1) {
                tracing::error!(error = %e, "cannot write the gateway id state file");
            }
        }
        (first, end)
    }

    /// Reserves ids up to `from + RESERVE_MS` in the state file.
    fn renew(&self, from: u64) -> io::Result<()> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let _guard = self.persist.lock().unwrap_or_else(|e| e.into_inner());
        let hwm = from.saturating_add(time_id(RESERVE_MS));
        if self.reserved.load(Ordering::Acquire) >= hwm {
            return Ok(());
        }
        write_atomic(path, &format_id(hwm))?;
        self.reserved.fetch_max(hwm, Ordering::AcqRel);
        Ok(())
    }
}

/// Writes `data` to `path` durably: temp file, fsync, rename, fsync dir.
fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.write_all(b"\n")?;
        f.sync_data()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The id as 16 lowercase hex digits, zero-padded.
pub fn format_id(id: u64) -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'0'; 16];
    for (i, slot) in out.iter_mut().enumerate() {
        let nibble = (id >> ((15 - i) * 4)) & 0xf;
        *slot = HEX[nibble as usize];
    }
    out
}

/// Reads an id written by [`format_id`], leniently: hex digits in any
/// case, any number of leading zeros. `None` for an empty string, any
/// other character (no `0x`, no whitespace), or a value above `u64::MAX`.
pub fn parse_id(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        let d = char::from(b).to_digit(16)?;
        acc.checked_mul(16)?.checked_add(u64::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse() {
        assert_eq!(&format_id(0), b"0000000000000000");
        assert_eq!(&format_id(0xabc), b"0000000000000abc");
        assert_eq!(&format_id(u64::MAX), b"ffffffffffffffff");
        for id in [0, 1, 0xabc, 0x0123_4567_89ab_cdef, u64::MAX] {
            assert_eq!(parse_id(&format_id(id)), Some(id));
        }
        assert_eq!(parse_id(b"ABC"), Some(0xabc));
        assert_eq!(parse_id(b"000000000000000000000aBc"), Some(0xabc));
        assert_eq!(parse_id(b""), None);
        assert_eq!(parse_id(b"0x1"), None);
        assert_eq!(parse_id(b" 1"), None);
        assert_eq!(parse_id(b"g"), None);
        assert_eq!(parse_id(b"1ffffffffffffffff"), None);
    }

    #[test]
    fn strictly_increasing_and_time_ordered() {
        let g = IdGenerator::new(None).unwrap();
        let before = time_id(now_ms());
        let mut prev = 0;
        for _ in 0..100_000 {
            let id = g.next();
            assert!(id > prev);
            prev = id;
        }
        assert!(prev >= before);
        // The rest of this thread's block is set aside too.
        assert!((prev..prev + BLOCK).contains(&g.last()));
    }

    #[test]
    fn generators_on_one_thread_keep_to_their_own_blocks() {
        let (a, b) = (
            IdGenerator::new(None).unwrap(),
            IdGenerator::new(None).unwrap(),
        );
        let (mut last_a, mut last_b) = (0, 0);
        for _ in 0..1000 {
            let (x, y) = (a.next(), b.next());
            assert!(x > last_a && y > last_b);
            assert!(x <= a.last() && y <= b.last());
            (last_a, last_b) = (x, y);
        }
    }

    #[test]
    fn unique_across_threads() {
        let g = Arc::new(IdGenerator::new(None).unwrap());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let g = Arc::clone(&g);
                thread::spawn(move || (0..20_000).map(|_| g.next()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn restart_never_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.state");
        let g = IdGenerator::new(Some(path.clone())).unwrap();
        let last = (0..1000).map(|_| g.next()).max().unwrap();
        drop(g);
        let hwm = parse_id(fs::read(&path).unwrap().trim_ascii()).unwrap();
        assert!(hwm > last);

        // A clock far behind: the state file still wins.
        let future = time_id(now_ms() + 3_600_000);
        write_atomic(&path, &format_id(future)).unwrap();
        let g = IdGenerator::new(Some(path.clone())).unwrap();
        let id = g.next();
        assert!(id > future);
        let hwm = parse_id(fs::read(&path).unwrap().trim_ascii()).unwrap();
        assert!(hwm > id);
    }

    #[test]
    fn bad_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.state");
        fs::write(&path, b"not an id").unwrap();
        let e = IdGenerator::new(Some(path)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
