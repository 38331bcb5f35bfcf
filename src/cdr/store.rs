//! The CDR directory: hourly partition files, the lock that lets a writer,
//! readers and rewriters share it, and the [`FileBackend`] the writer
//! appends through.
//!
//! # Layout
//!
//! `<dir>/cdr-YYYYMMDDHH.tgc`, one file per UTC hour of the write time.
//! A file starts with an 8-byte header, `b"TGCDR\0"` and the schema version
//! as `u16` LE ([`SCHEMA_VERSION`]), followed by frames
//! `u32 LE length | u32 LE CRC-32C | payload` ([`super::record`]; schema 1
//! frames carry a CRC-32 instead). Files are only ever appended to by the
//! writer, or replaced whole by a rewrite (`<name>.tmp` written, fsynced,
//! renamed over, directory fsynced). Readers read both schemas; the writer
//! appends only to a current one, so it first rewrites an older partition
//! it is to append to (the hour a gateway was upgraded in), and a sweep or
//! erase that rewrites one writes the current schema.
//! The directory is created `0700` and every file `0600`.
//!
//! # Locking
//!
//! `<dir>/.lock` is `flock`ed: the writer takes it exclusively around each
//! batch append, a rewrite (erase, sweep) exclusively around one partition,
//! a reader shared around one partition. So a reader never sees half a
//! batch, and a rewrite never loses an append: after taking the lock the
//! writer checks that the path still names the file it holds open (device
//! and inode) and reopens it otherwise. Works across processes (the CLI
//! reads and erases while a gateway writes).
//!
//! # Torn tails
//!
//! A crash can leave a partial last frame. Readers stop at the first frame
//! that is incomplete or fails its checksum and report the bytes from there
//! on as torn; nothing after it is returned. The writer truncates a torn
//! tail when it opens a partition for append, so new records stay readable.
//! A scan for one account checksums only that account's frames and steps
//! over the others by their length ([`FrameReader::next_where`]).

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::civil;
use super::record::{frame_checksum, Record, MAX_PAYLOAD, SCHEMA_VERSION};

pub use super::audit::{AuditAction, AuditEntry, AuditLog};
pub use super::holds::{Hold, Holds};
pub use super::maint::{dir_stats, erase, sweep, DirStats, EraseReport, SweepReport};
pub use super::query::{
    export, parse_export, query, row_json, ExportFormat, Query, QueryResult, Retention, Row, Totals,
};
pub use super::writer::{CdrPermit, CdrWriter, WriterHandle, WriterOptions, WriterStats};

/// The first bytes of every partition file.
pub const MAGIC: &[u8; 6] = b"TGCDR\0";
/// Header length: magic and schema version.
pub const HEADER_LEN: u64 = 8;
/// Frame header length: payload length and CRC.
pub const FRAME_HEADER: usize = 8;

const LOCK_FILE: &str = ".lock";
const READ_CHUNK: usize = 1 << 20;

/// Where the writer's records go: the seam for a future shared store.
pub trait CdrBackend: Send + 'static {
    /// Appends a batch. On error nothing of the batch may be left visible
    /// half-written; the writer retries the whole batch.
    fn append(&mut self, batch: &[Record]) -> io::Result<()>;
    /// Appends a batch of whole frames back to back, as
    /// [`Record::encode_frame`] writes them (the writer's queue holds
    /// records encoded), with the same all-or-nothing rule as
    /// [`append`](Self::append). The default decodes them and calls
    /// `append`; a backend that stores frames as they are overrides it.
    fn append_frames(&mut self, frames: &[u8]) -> io::Result<()> {
        let mut batch = Vec::new();
        let mut rest = frames;
        while !rest.is_empty() {
            let (payload, next) = split_frame(rest)
                .ok_or_else(|| invalid("a queued CDR frame is cut short".to_owned()))?;
            let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
            if frame_checksum(SCHEMA_VERSION, payload) != crc {
                return Err(invalid("a queued CDR frame fails its checksum".to_owned()));
            }
            batch.push(Record::decode(payload).map_err(|e| invalid(e.to_string()))?);
            rest = next;
        }
        self.append(&batch)
    }
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Bytes appended since the backend was opened, for the writer's
    /// stats; 0 if the backend does not count.
    fn bytes_written(&self) -> u64 {
        0
    }
}

/// The payload of the first frame of `frames` and the frames after it;
/// `None` if the first frame is cut short.
pub(crate) fn split_frame(frames: &[u8]) -> Option<(&[u8], &[u8])> {
    let head = frames.get(..FRAME_HEADER)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let end = FRAME_HEADER.checked_add(len)?;
    let payload = frames.get(FRAME_HEADER..end)?;
    Some((payload, &frames[end..]))
}

pub(crate) fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Creates the CDR directory (`0700`) if missing.
pub(crate) fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// fsyncs a directory so renames and new entries in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Opens (creating `0600`) a file for writing.
pub(crate) fn open_private(path: &Path, append: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).create(true).mode(0o600);
    if append {
        o.append(true);
    } else {
        o.write(true).truncate(true);
    }
    o.open(path)
}

/// The directory's lock file; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct DirLock {
    file: File,
}

/// Holds a [`DirLock`] until dropped.
#[derive(Debug)]
pub(crate) struct LockGuard<'a>(&'a File);

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // Closing the descriptor would release it too; an error here leaves
        // the lock to the next unlock or close.
        let _ = self.0.unlock();
    }
}

impl DirLock {
    /// Opens (creating `0600`) `<dir>/.lock`. The directory must exist.
    pub(crate) fn open(dir: &Path) -> io::Result<DirLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(dir.join(LOCK_FILE))?;
        Ok(DirLock { file })
    }

    pub(crate) fn exclusive(&self) -> io::Result<LockGuard<'_>> {
        self.file.lock()?;
        Ok(LockGuard(&self.file))
    }

    pub(crate) fn shared(&self) -> io::Result<LockGuard<'_>> {
        self.file.lock_shared()?;
        Ok(LockGuard(&self.file))
    }
}

/// One partition file.
#[derive(Debug, Clone)]
pub(crate) struct Partition {
    pub(crate) path: PathBuf,
    /// Unix seconds at the start of its hour.
    pub(crate) hour_s: u64,
}

/// The directory's partitions, oldest first. A missing directory has none.
pub(crate) fn partitions(dir: &Path) -> io::Result<Vec<Partition>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(hour_s) = civil::parse_partition_name(name) {
            out.push(Partition {
                path: entry.path(),
                hour_s,
            });
        }
    }
    out.sort_by_key(|p| p.hour_s);
    Ok(out)
}

/// Removes `*.tmp` files left by a rewrite that crashed. Call with the lock
/// held exclusively (a live rewrite holds it while its tmp exists).
pub(crate) fn remove_stale_tmp(dir: &Path) -> io::Result<u64> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut n = 0;
    for entry in rd {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_str().is_some_and(|s| s.ends_with(".tgc.tmp")) {
            fs::remove_file(entry.path())?;
            n += 1;
        }
    }
    Ok(n)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Checks a file header and gives its schema version. `Ok(None)` if the
/// file is shorter than a header (a torn creation); an error for a foreign
/// file or a newer schema.
fn check_header(head: &[u8], path: &Path) -> io::Result<Option<u16>> {
    if head.len() < HEADER_LEN as usize {
        return Ok(None);
    }
    if &head[..6] != MAGIC {
        return Err(invalid(format!("{}: not a CDR partition", path.display())));
    }
    let version = u16::from_le_bytes([head[6], head[7]]);
    if version > SCHEMA_VERSION {
        return Err(invalid(format!(
            "{}: CDR schema version {version} is newer than this telegate's {SCHEMA_VERSION}; \
             upgrade to read it",
            path.display()
        )));
    }
    Ok(Some(version))
}

/// Writes one frame of the current schema around `payload`.
fn put_frame(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let mut head = [0u8; FRAME_HEADER];
    head[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    head[4..].copy_from_slice(&frame_checksum(SCHEMA_VERSION, payload).to_le_bytes());
    w.write_all(&head)?;
    w.write_all(payload)
}

/// A partition file's header of the current schema.
fn current_header() -> [u8; HEADER_LEN as usize] {
    let mut head = [0u8; HEADER_LEN as usize];
    head[..6].copy_from_slice(MAGIC);
    head[6..].copy_from_slice(&SCHEMA_VERSION.to_le_bytes());
    head
}

/// One frame read from a partition.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    /// The whole frame, header included (for copying in rewrites).
    pub(crate) raw: &'a [u8],
    /// The checksummed payload.
    pub(crate) payload: &'a [u8],
}

/// Reads a partition's frames in large chunks; see the [module docs](self)
/// for what happens at a torn tail.
#[derive(Debug)]
pub(crate) struct FrameReader<'l> {
    /// Taken shared around each read, when the caller does not hold the
    /// lock itself: the tail grows by whole batches under the exclusive
    /// lock, and a rewrite replaces the path while this descriptor keeps
    /// the old file, which nothing changes any more. So the reader blocks
    /// the writer only for a read syscall, not for the caller's processing.
    lock: Option<&'l DirLock>,
    file: File,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    pos: u64,
    eof: bool,
    /// Set once a torn tail is found: bytes from the bad frame to the end.
    torn: Option<u64>,
    len: u64,
    /// The file's schema version: which checksum its frames carry.
    version: u16,
}

impl<'l> FrameReader<'l> {
    /// Opens a partition and checks its header, for a caller that holds
    /// the lock. `Ok(None)` if the file is gone (a rewrite deleted it).
    pub(crate) fn open(path: &Path) -> io::Result<Option<FrameReader<'static>>> {
        FrameReader::open_with(path, None)
    }

    /// Opens a partition taking `lock` shared around each read.
    pub(crate) fn open_locked(
        path: &Path,
        lock: &'l DirLock,
    ) -> io::Result<Option<FrameReader<'l>>> {
        FrameReader::open_with(path, Some(lock))
    }

    fn open_with(path: &Path, lock: Option<&'l DirLock>) -> io::Result<Option<FrameReader<'l>>> {
        let _guard = lock.map(DirLock::shared).transpose()?;
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        FrameReader::from_file(file, path, lock).map(Some)
    }

    fn from_file(
        mut file: File,
        path: &Path,
        lock: Option<&'l DirLock>,
    ) -> io::Result<FrameReader<'l>> {
        let len = file.metadata()?.len();
        let mut head = [0u8; HEADER_LEN as usize];
        let n = read_full(&mut file, &mut head)?;
        let version = check_header(&head[..n], path)?;
        let whole = version.is_some();
        Ok(FrameReader {
            lock,
            file,
            buf: vec![
                0;
                READ_CHUNK
                    .min(len as usize + 1)
                    .max(FRAME_HEADER + MAX_PAYLOAD)
            ],
            start: 0,
            end: 0,
            pos: HEADER_LEN,
            eof: !whole,
            torn: (!whole).then_some(len),
            len,
            version: version.unwrap_or(SCHEMA_VERSION),
        })
    }

    /// The partition's schema version.
    pub(crate) fn version(&self) -> u16 {
        self.version
    }

    /// Whether frames can be copied to a partition of the current schema
    /// as they are ([`Frame::raw`]); otherwise their payloads need a new
    /// frame ([`put_frame`]).
    fn frames_current(&self) -> bool {
        self.version == SCHEMA_VERSION
    }

    /// Bytes of a torn tail (a partial or corrupt frame and everything after
    /// it), once [`next`](Self::next) has returned `None`.
    pub(crate) fn torn_bytes(&self) -> u64 {
        self.torn.unwrap_or(0)
    }

    /// File offset just past the last good frame returned.
    pub(crate) fn good_len(&self) -> u64 {
        if self.torn == Some(self.len) && self.len < HEADER_LEN {
            0
        } else {
            self.pos
        }
    }

    /// The next good frame, or `None` at the end or a torn tail.
    pub(crate) fn next(&mut self) -> io::Result<Option<Frame<'_>>> {
        self.next_where(|_| true)
    }

    /// The next good frame whose payload `wanted` accepts, or `None` at the
    /// end or a torn tail. Frames `wanted` turns down are stepped over by
    /// their length without checking their checksum: a scan that uses a
    /// fraction of the records (one account's) does not pay for hashing
    /// the rest. `wanted` sees unchecked bytes, so it must only select,
    /// never interpret; a damaged frame it turns down is passed over
    /// rather than ending the partition, which can only let the caller
    /// see more of its own (checksummed) records.
    pub(crate) fn next_where(
        &mut self,
        mut wanted: impl FnMut(&[u8]) -> bool,
    ) -> io::Result<Option<Frame<'_>>> {
        if self.torn.is_some() {
            return Ok(None);
        }
        let (len, total) = loop {
            let avail = self.end - self.start;
            if avail >= FRAME_HEADER {
                let b = &self.buf[self.start..];
                let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
                if len == 0 || len > MAX_PAYLOAD {
                    self.mark_torn();
                    return Ok(None);
                }
                if avail >= FRAME_HEADER + len {
                    if wanted(&b[FRAME_HEADER..FRAME_HEADER + len]) {
                        break (len, FRAME_HEADER + len);
                    }
                    self.start += FRAME_HEADER + len;
                    self.pos += (FRAME_HEADER + len) as u64;
                    continue;
                }
            }
            if self.eof || !self.fill()? {
                if self.end > self.start {
                    self.mark_torn();
                }
                return Ok(None);
            }
        };
        let s = self.start;
        let crc = u32::from_le_bytes([
            self.buf[s + 4],
            self.buf[s + 5],
            self.buf[s + 6],
            self.buf[s + 7],
        ]);
        let payload = &self.buf[s + FRAME_HEADER..s + total];
        if frame_checksum(self.version, payload) != crc {
            self.mark_torn();
            return Ok(None);
        }
        debug_assert_eq!(total, FRAME_HEADER + len);
        self.start += total;
        self.pos += total as u64;
        Ok(Some(Frame {
            raw: &self.buf[s..s + total],
            payload: &self.buf[s + FRAME_HEADER..s + total],
        }))
    }

    fn mark_torn(&mut self) {
        let buffered = (self.end - self.start) as u64;
        self.torn = Some(self.len.saturating_sub(self.pos).max(buffered).max(1));
    }

    /// Reads more into the buffer; `false` at end of file.
    fn fill(&mut self) -> io::Result<bool> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let _guard = self.lock.map(DirLock::shared).transpose()?;
        loop {
            match self.file.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    // What the file holds now, for the torn-tail count.
                    self.len = self.pos + (self.end - self.start) as u64;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What reading one partition found.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ReadOutcome {
    pub(crate) records: u64,
    pub(crate) torn_bytes: u64,
}

/// Calls `f` with each good frame's payload of one partition, taking the
/// lock shared around each read ([`FrameReader`]). Stops at `f`'s first
/// error.
pub(crate) fn read_partition(
    lock: &DirLock,
    path: &Path,
    f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<ReadOutcome> {
    read_partition_where(lock, path, |_| true, f)
}

/// [`read_partition`] for the frames `wanted` accepts, checksumming only
/// those ([`FrameReader::next_where`]); `records` counts them.
pub(crate) fn read_partition_where(
    lock: &DirLock,
    path: &Path,
    mut wanted: impl FnMut(&[u8]) -> bool,
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<ReadOutcome> {
    let Some(mut r) = FrameReader::open_locked(path, lock)? else {
        return Ok(ReadOutcome::default());
    };
    let mut out = ReadOutcome::default();
    while let Some(frame) = r.next_where(&mut wanted)? {
        f(frame.payload)?;
        out.records += 1;
    }
    out.torn_bytes = r.torn_bytes();
    Ok(out)
}

/// Opens a partition for append: creates it with a header, or checks an
/// existing one and truncates a torn tail. Call with the lock held.
fn open_for_append(dir: &Path, path: &Path) -> io::Result<File> {
    let created = !path.exists();
    let mut file = open_private(path, true)?;
    let len = file.metadata()?.len();
    if len < HEADER_LEN {
        // New, or torn before its header was whole.
        file.set_len(0)?;
        file.write_all(&current_header())?;
        if created {
            file.sync_all()?;
            sync_dir(dir)?;
        }
        return Ok(file);
    }
    let check = file.try_clone()?;
    let mut r = FrameReader::from_file(check, path, None)?;
    if !r.frames_current() {
        drop(file);
        upgrade_partition(dir, path, r)?;
        return open_for_append(dir, path);
    }
    while r.next()?.is_some() {}
    if r.torn_bytes() > 0 {
        let good = r.good_len();
        tracing::warn!(
            partition = %path.display(),
            torn_bytes = r.torn_bytes(),
            "truncating a torn CDR partition tail"
        );
        file.set_len(good)?;
        file.sync_all()?;
    }
    Ok(file)
}

/// Rewrites a partition of an older schema in the current one, so that
/// the writer can append to it: every good record is kept, a torn tail is
/// dropped. Call with the lock held.
fn upgrade_partition(dir: &Path, path: &Path, mut r: FrameReader<'_>) -> io::Result<()> {
    let from = r.version();
    let tmp_path = tmp_path_of(path)?;
    let tmp = open_private(&tmp_path, false)?;
    let mut w = io::BufWriter::with_capacity(READ_CHUNK, tmp);
    let mut records = 0u64;
    let written = (|| -> io::Result<()> {
        w.write_all(&current_header())?;
        while let Some(frame) = r.next()? {
            put_frame(&mut w, frame.payload)?;
            records += 1;
        }
        Ok(())
    })();
    if let Err(e) = written {
        drop(w);
        let _ = fs::remove_file(&tmp_path);
        return Err(e);
    }
    install_rewrite(dir, w, &tmp_path, path)?;
    tracing::info!(
        partition = %path.display(),
        from_version = from,
        to_version = SCHEMA_VERSION,
        records,
        torn_bytes = r.torn_bytes(),
        "rewrote a CDR partition in the current schema to append to it"
    );
    Ok(())
}

/// Puts a rewrite written to `tmp_path` in the place of `path`: fsynced,
/// renamed over, the directory fsynced. On an error the `.tmp` is removed.
fn install_rewrite(
    dir: &Path,
    w: io::BufWriter<File>,
    tmp_path: &Path,
    path: &Path,
) -> io::Result<()> {
    let result = (|| -> io::Result<()> {
        let tmp = w.into_inner().map_err(|e| e.into_error())?;
        tmp.sync_all()?;
        fs::rename(tmp_path, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(tmp_path);
    }
    result
}

/// `<name>.tmp` beside a partition: where its rewrite is written.
fn tmp_path_of(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| invalid(format!("{}: bad partition name", path.display())))?;
    Ok(path.with_file_name(format!("{name}.tmp")))
}

#[derive(Debug)]
struct OpenPartition {
    file: File,
    path: PathBuf,
    hour_s: u64,
    dev: u64,
    ino: u64,
    /// File length after the last whole batch (only this writer appends).
    len: u64,
}

/// Appends to hourly partition files in one directory; see the
/// [module docs](self).
#[derive(Debug)]
pub struct FileBackend {
    dir: PathBuf,
    lock: DirLock,
    cur: Option<OpenPartition>,
    buf: Vec<u8>,
    dirty: bool,
    written: u64,
}

impl FileBackend {
    /// Opens (creating `0700`) the CDR directory. Partition files are
    /// opened on the first append.
    pub fn open(dir: &Path) -> io::Result<FileBackend> {
        create_dir(dir)?;
        let lock = DirLock::open(dir)?;
        Ok(FileBackend {
            dir: dir.to_path_buf(),
            lock,
            cur: None,
            buf: Vec::with_capacity(64 * 1024),
            dirty: false,
            written: 0,
        })
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// [`CdrBackend::append`] with the write time given (tests, benches).
    pub fn append_at(&mut self, batch: &[Record], now_ms: u64) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        for r in batch {
            r.encode_frame(&mut buf);
        }
        let r = self.append_frames_at(&buf, now_ms);
        self.buf = buf;
        r
    }

    /// [`CdrBackend::append_frames`] with the write time given.
    pub fn append_frames_at(&mut self, frames: &[u8], now_ms: u64) -> io::Result<()> {
        let hour_s = now_ms / 1000 / 3600 * 3600;
        let _guard = self.lock.exclusive()?;
        if let Some(cur) = &self.cur {
            if cur.hour_s != hour_s {
                // Rotation: the old hour's file is complete; make it durable.
                let old = self.cur.take().expect("checked above");
                if self.dirty {
                    old.file.sync_data()?;
                    self.dirty = false;
                }
            } else {
                match fs::metadata(&cur.path) {
                    Ok(m) if m.dev() == cur.dev && m.ino() == cur.ino => {}
                    Ok(_) => self.cur = None,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => self.cur = None,
                    Err(e) => return Err(e),
                }
            }
        }
        if self.cur.is_none() {
            let path = self.dir.join(civil::partition_name(now_ms));
            let file = open_for_append(&self.dir, &path)?;
            let m = file.metadata()?;
            self.cur = Some(OpenPartition {
                file,
                path,
                hour_s,
                dev: m.dev(),
                ino: m.ino(),
                len: m.len(),
            });
        }
        let cur = self.cur.as_mut().expect("opened above");
        if let Err(e) = cur.file.write_all(frames) {
            // Leave no partial batch behind: the writer retries it whole.
            if cur.file.set_len(cur.len).is_err() {
                // Reopening validates and truncates whatever is torn.
                self.cur = None;
            }
            return Err(e);
        }
        cur.len += frames.len() as u64;
        self.dirty = true;
        self.written += frames.len() as u64;
        Ok(())
    }
}

impl CdrBackend for FileBackend {
    fn append(&mut self, batch: &[Record]) -> io::Result<()> {
        self.append_at(batch, unix_ms_now())
    }

    fn append_frames(&mut self, frames: &[u8]) -> io::Result<()> {
        self.append_frames_at(frames, unix_ms_now())
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.dirty {
            if let Some(cur) = &self.cur {
                cur.file.sync_data()?;
            }
            self.dirty = false;
        }
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        self.written
    }
}

/// How a rewrite treats one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Keep,
    /// Kept although it would have been removed (a hold).
    KeepHeld,
    Remove,
}

/// What rewriting one partition did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RewriteOutcome {
    pub(crate) removed: u64,
    pub(crate) held_kept: u64,
    pub(crate) rewritten: bool,
    pub(crate) deleted: bool,
    pub(crate) bytes_freed: u64,
}

/// Removes the records `decide` says to from one partition, with the
/// rewrite protocol of the [module docs](self). A first pass under the
/// shared lock finds whether anything changes, so the writer is held up
/// only for partitions that are rewritten. With `drop_torn`, a torn tail
/// alone is reason to rewrite (erase: a torn tail may hold the account).
pub(crate) fn rewrite_partition(
    dir: &Path,
    lock: &DirLock,
    part: &Partition,
    drop_torn: bool,
    decide: &mut dyn FnMut(&[u8]) -> Decision,
) -> io::Result<RewriteOutcome> {
    let mut out = RewriteOutcome::default();
    let mut needed = false;
    {
        let Some(mut r) = FrameReader::open_locked(&part.path, lock)? else {
            return Ok(out);
        };
        while let Some(frame) = r.next()? {
            match decide(frame.payload) {
                Decision::Remove => {
                    needed = true;
                    break;
                }
                Decision::KeepHeld => out.held_kept += 1,
                Decision::Keep => {}
            }
        }
        if drop_torn && r.torn_bytes() > 0 {
            needed = true;
        }
    }
    if !needed {
        return Ok(out);
    }

    out = RewriteOutcome::default();
    let _guard = lock.exclusive()?;
    let Some(mut r) = FrameReader::open(&part.path)? else {
        return Ok(out);
    };
    let old_len = r.len;
    let tmp_path = tmp_path_of(&part.path)?;
    let tmp = open_private(&tmp_path, false)?;
    let mut w = io::BufWriter::with_capacity(READ_CHUNK, tmp);
    // An older schema's records are written in the current one.
    let copy_raw = r.frames_current();
    let result = (|| -> io::Result<(u64, u64)> {
        w.write_all(&current_header())?;
        let mut kept = 0u64;
        let mut new_len = HEADER_LEN;
        while let Some(frame) = r.next()? {
            match decide(frame.payload) {
                Decision::Remove => out.removed += 1,
                d => {
                    if d == Decision::KeepHeld {
                        out.held_kept += 1;
                    }
                    kept += 1;
                    new_len += frame.raw.len() as u64;
                    if copy_raw {
                        w.write_all(frame.raw)?;
                    } else {
                        put_frame(&mut w, frame.payload)?;
                    }
                }
            }
        }
        Ok((kept, new_len))
    })();
    let (kept, new_len) = match result {
        Ok(v) => v,
        Err(e) => {
            drop(w);
            let _ = fs::remove_file(&tmp_path);
            return Err(e);
        }
    };
    if kept == 0 {
        drop(w);
        fs::remove_file(&tmp_path)?;
        fs::remove_file(&part.path)?;
        sync_dir(dir)?;
        out.deleted = true;
        out.bytes_freed = old_len;
        return Ok(out);
    }
    install_rewrite(dir, w, &tmp_path, &part.path)?;
    out.rewritten = true;
    out.bytes_freed = old_len.saturating_sub(new_len);
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every record of every partition of `dir`, in file order.
    pub(crate) fn read_dir(dir: &Path) -> Vec<Record> {
        let mut out = Vec::new();
        for p in partitions(dir).unwrap() {
            let mut r = FrameReader::open(&p.path).unwrap().unwrap();
            while let Some(f) = r.next().unwrap() {
                out.push(Record::decode(f.payload).unwrap());
            }
        }
        out
    }
    use crate::cdr::record::tests::random_record;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::os::unix::fs::PermissionsExt;

    const T0: u64 = 1_700_000_000_000;

    fn read_all(path: &Path) -> (Vec<Record>, u64) {
        let mut r = FrameReader::open(path).unwrap().unwrap();
        let mut out = Vec::new();
        while let Some(f) = r.next().unwrap() {
            out.push(Record::decode(f.payload).unwrap());
        }
        (out, r.torn_bytes())
    }

    fn records(seed: u64, n: usize) -> Vec<Record> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n).map(|_| random_record(&mut rng)).collect()
    }

    fn only_partition(dir: &Path) -> PathBuf {
        let p = partitions(dir).unwrap();
        assert_eq!(p.len(), 1);
        p[0].path.clone()
    }

    #[test]
    fn append_and_read_back_with_permissions() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cdr");
        let mut b = FileBackend::open(&dir).unwrap();
        let recs = records(1, 300);
        b.append_at(&recs[..100], T0).unwrap();
        b.append_at(&recs[100..], T0 + 1000).unwrap();
        b.sync().unwrap();
        let path = only_partition(&dir);
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            civil::partition_name(T0)
        );
        let (back, torn) = read_all(&path);
        assert_eq!(back, recs);
        assert_eq!(torn, 0);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.join(LOCK_FILE)), 0o600);
    }

    #[test]
    fn rotates_hourly() {
        let tmp = tempfile::tempdir().unwrap();
        let mut b = FileBackend::open(tmp.path()).unwrap();
        let recs = records(2, 30);
        b.append_at(&recs[..10], T0).unwrap();
        b.append_at(&recs[10..20], T0 + 3_600_000).unwrap();
        b.append_at(&recs[20..], T0 + 7_200_000).unwrap();
        let parts = partitions(tmp.path()).unwrap();
        assert_eq!(parts.len(), 3);
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(read_all(&p.path).0, recs[i * 10..i * 10 + 10]);
        }
    }

    #[test]
    fn torn_last_record_at_every_offset() {
        let tmp = tempfile::tempdir().unwrap();
        let recs = records(3, 5);
        let mut b = FileBackend::open(tmp.path()).unwrap();
        b.append_at(&recs[..4], T0).unwrap();
        let path = only_partition(tmp.path());
        let before = fs::metadata(&path).unwrap().len();
        b.append_at(&recs[4..], T0).unwrap();
        drop(b);
        let full = fs::read(&path).unwrap();
        for cut in before..full.len() as u64 {
            fs::write(&path, &full[..cut as usize]).unwrap();
            let (back, torn) = read_all(&path);
            assert_eq!(back, recs[..4], "cut at {cut}");
            assert_eq!(torn, cut - before, "cut at {cut}");
        }
        // Every byte of the last frame flipped in turn.
        for i in before as usize..full.len() {
            let mut bad = full.clone();
            bad[i] ^= 0x40;
            fs::write(&path, &bad).unwrap();
            let (back, torn) = read_all(&path);
            assert_eq!(back, recs[..4], "flip at {i}");
            assert!(torn > 0, "flip at {i}");
        }
        fs::write(&path, &full).unwrap();
        assert_eq!(read_all(&path), (recs, 0));
    }

    #[test]
    fn a_file_cut_inside_the_header_reads_as_torn() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(civil::partition_name(T0));
        fs::write(&path, b"TGC").unwrap();
        assert_eq!(read_all(&path), (vec![], 3));
        let mut b = FileBackend::open(tmp.path()).unwrap();
        let recs = records(4, 3);
        b.append_at(&recs, T0).unwrap();
        assert_eq!(read_all(&path), (recs, 0));
    }

    #[test]
    fn appending_after_a_torn_tail_stays_readable() {
        let tmp = tempfile::tempdir().unwrap();
        let recs = records(5, 20);
        let mut b = FileBackend::open(tmp.path()).unwrap();
        b.append_at(&recs[..10], T0).unwrap();
        drop(b);
        let path = only_partition(tmp.path());
        let full = fs::read(&path).unwrap();
        // A crash half-way through the 10th record.
        fs::write(&path, &full[..full.len() - 7]).unwrap();
        let mut b = FileBackend::open(tmp.path()).unwrap();
        b.append_at(&recs[10..], T0).unwrap();
        let (back, torn) = read_all(&path);
        assert_eq!(torn, 0);
        assert_eq!(back[..9], recs[..9]);
        assert_eq!(back[9..], recs[10..]);
    }

    #[test]
    fn newer_schema_and_foreign_files_are_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(civil::partition_name(T0));
        let mut head = MAGIC.to_vec();
        head.extend_from_slice(&(SCHEMA_VERSION + 1).to_le_bytes());
        fs::write(&path, &head).unwrap();
        let err = FrameReader::open(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("newer"), "{err}");
        let mut b = FileBackend::open(tmp.path()).unwrap();
        assert!(b.append_at(&records(6, 1), T0).is_err());
        fs::write(&path, b"NOTACDRFILE").unwrap();
        let err = FrameReader::open(&path).unwrap_err();
        assert!(err.to_string().contains("not a CDR partition"), "{err}");
    }

    /// Records whose payloads a schema-1 writer could have written: the
    /// short receipt layout came with schema 2.
    fn schema_1_records(seed: u64, n: usize) -> Vec<Record> {
        let mut buf = Vec::new();
        records(seed, n * 2)
            .into_iter()
            .filter(|r| {
                buf.clear();
                r.encode(&mut buf);
                buf[0] != 3
            })
            .take(n)
            .collect()
    }

    /// A partition as a schema-1 gateway wrote it: version 1 in the header,
    /// CRC-32 (IEEE) frames.
    fn write_schema_1(path: &Path, recs: &[Record]) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&1u16.to_le_bytes());
        let mut payload = Vec::new();
        for r in recs {
            payload.clear();
            r.encode(&mut payload);
            bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            bytes.extend_from_slice(&payload);
        }
        fs::write(path, &bytes).unwrap();
        bytes
    }

    fn header_version(path: &Path) -> u16 {
        let b = fs::read(path).unwrap();
        u16::from_le_bytes([b[6], b[7]])
    }

    #[test]
    fn schema_1_partitions_are_read_with_their_checksum() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(civil::partition_name(T0));
        let recs = schema_1_records(8, 40);
        let bytes = write_schema_1(&path, &recs);
        assert_eq!(read_all(&path), (recs.clone(), 0));
        assert_eq!(FrameReader::open(&path).unwrap().unwrap().version(), 1);
        // The CRC-32 is checked: a flipped payload byte of the last record
        // ends the partition there.
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() ^= 0x20;
        fs::write(&path, &bad).unwrap();
        let (back, torn) = read_all(&path);
        assert_eq!(back, recs[..39]);
        assert!(torn > 0);
        // The same payloads framed with schema 2's checksum under a schema-1
        // header do not pass.
        let mut crossed = MAGIC.to_vec();
        crossed.extend_from_slice(&1u16.to_le_bytes());
        let mut payload = Vec::new();
        for r in &recs {
            payload.clear();
            r.encode(&mut payload);
            put_frame(&mut crossed, &payload).unwrap();
        }
        fs::write(&path, &crossed).unwrap();
        assert_eq!(read_all(&path).0, vec![]);
    }

    #[test]
    fn appending_to_a_schema_1_partition_rewrites_it_first() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(civil::partition_name(T0));
        let old = schema_1_records(9, 30);
        let bytes = write_schema_1(&path, &old);
        // A crash had torn its last record.
        fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let new = records(10, 20);
        let mut b = FileBackend::open(tmp.path()).unwrap();
        b.append_at(&new, T0).unwrap();
        b.sync().unwrap();
        assert_eq!(header_version(&path), SCHEMA_VERSION);
        let (back, torn) = read_all(&path);
        assert_eq!(torn, 0);
        assert_eq!(back[..29], old[..29]);
        assert_eq!(back[29..], new[..]);
        assert!(!tmp_path_of(&path).unwrap().exists());
    }

    /// Removes the records equal to `record` from `part` by rewriting it.
    fn remove_by_rewrite(
        dir: &Path,
        lock: &DirLock,
        part: &Partition,
        record: &Record,
    ) -> RewriteOutcome {
        rewrite_partition(dir, lock, part, false, &mut |p| {
            if Record::decode(p).unwrap() == *record {
                Decision::Remove
            } else {
                Decision::Keep
            }
        })
        .unwrap()
    }

    #[test]
    fn a_rewrite_of_a_schema_1_partition_writes_the_current_schema() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = DirLock::open(tmp.path()).unwrap();
        let path = tmp.path().join(civil::partition_name(T0));
        let old = schema_1_records(11, 25);
        write_schema_1(&path, &old);
        let part = partitions(tmp.path()).unwrap().remove(0);
        let out = remove_by_rewrite(tmp.path(), &lock, &part, &old[0]);
        assert!(out.rewritten);
        assert_eq!(header_version(&path), SCHEMA_VERSION);
        assert_eq!(read_all(&path), (old[1..].to_vec(), 0));
    }

    #[test]
    fn writer_reopens_a_replaced_partition() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = DirLock::open(tmp.path()).unwrap();
        let recs = records(7, 20);
        let mut b = FileBackend::open(tmp.path()).unwrap();
        b.append_at(&recs[..10], T0).unwrap();
        let part = partitions(tmp.path()).unwrap().remove(0);
        let out = remove_by_rewrite(tmp.path(), &lock, &part, &recs[0]);
        assert!(out.rewritten);
        assert_eq!(out.removed, 1);
        b.append_at(&recs[10..], T0).unwrap();
        assert_eq!(read_all(&part.path).0, recs[1..]);
        // Deleted whole: the writer creates it again.
        let out =
            rewrite_partition(tmp.path(), &lock, &part, false, &mut |_| Decision::Remove).unwrap();
        assert!(out.deleted);
        assert!(!part.path.exists());
        b.append_at(&recs[..1], T0).unwrap();
        assert_eq!(read_all(&part.path).0, recs[..1]);
    }
}
