//! Connection plumbing shared by ESME sessions and carrier binds: a framed
//! reader, and a writer task that batches whatever is queued into one
//! write (with TCP_NODELAY set, so nothing waits for Nagle).

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use telegate_smpp::frame::Framer;
use telegate_smpp::{DecodeError, Pdu};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::metrics::{self, Direction, Side};

/// The read half of a connection, TCP or TLS.
pub(crate) type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a connection, TCP or TLS.
pub(crate) type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// The next request sequence number from `counter`: 1..=0x7FFFFFFF,
/// wrapping (SMPP 3.4 §3.2, `sequence_number`).
pub(crate) fn next_sequence(counter: &AtomicU32) -> u32 {
    loop {
        let s = counter.fetch_add(1, Ordering::Relaxed) & 0x7FFF_FFFF;
        if s != 0 {
            return s;
        }
    }
}

/// Splits a stream into boxed halves.
pub(crate) fn split<S>(stream: S) -> (BoxRead, BoxWrite)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (r, w) = tokio::io::split(stream);
    (Box::new(r), Box::new(w))
}

/// Something for the writer task to send.
#[derive(Debug)]
pub(crate) enum Out {
    /// A PDU, encoded by the writer into its batch buffer.
    Pdu(Pdu),
    /// An encoded request frame sent under a new sequence number (a
    /// forwarded submit): copied straight into the batch.
    Reseq(Bytes, u32),
    /// A submit_sm_resp / data_sm_resp (status 0) carrying a gateway
    /// message id, written without building a PDU.
    IdResp {
        /// SUBMIT_SM_RESP or DATA_SM_RESP.
        command_id: u32,
        /// The request's sequence number.
        seq: u32,
        /// The id, 16 hex digits.
        id: [u8; 16],
    },
    /// Flush what is queued, then shut the write side down.
    Close,
}

/// The sending side of a connection: PDUs are encoded straight into a
/// shared buffer, and the writer task is woken only when the buffer goes
/// from empty to non-empty. Whatever is added while the writer is busy
/// goes out in its next single write, so batching is natural and no
/// per-PDU channel node or wake-up is needed.
#[derive(Clone)]
pub(crate) struct OutTx(Arc<Outbox>);

struct Outbox {
    /// See [`OutTx::id`].
    id: usize,
    state: Mutex<OutState>,
    notify: Notify,
    /// For the PDU counters.
    side: Side,
}

#[derive(Default)]
struct OutState {
    buf: BytesMut,
    /// `Out::Close` was sent: flush, then shut down.
    closing: bool,
    /// The writer is gone; nothing more is accepted.
    closed: bool,
}

impl std::fmt::Debug for OutTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutTx")
    }
}

impl OutTx {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutState> {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `m`; `Err` when the connection's writer is gone.
    pub(crate) fn send(&self, m: Out) -> Result<(), ()> {
        self.queue(|buf| push(buf, m))
    }

    /// Queues an encoding of `pdu` (the caller keeps it); `Err` when the
    /// connection's writer is gone.
    pub(crate) fn send_pdu(&self, pdu: &Pdu) -> Result<(), ()> {
        self.queue(|buf| {
            encode_pdu(buf, pdu);
            false
        })
    }

    /// Appends to the buffer with `add` (which says whether the connection
    /// closes after it) unless the writer is gone, and wakes the writer
    /// when the buffer was empty.
    fn queue(&self, add: impl FnOnce(&mut BytesMut) -> bool) -> Result<(), ()> {
        let mut s = self.lock();
        if s.closed || s.closing {
            return Err(());
        }
        let mut wake = s.buf.is_empty();
        if add(&mut s.buf) {
            s.closing = true;
            wake = true;
        }
        drop(s);
        if wake {
            self.0.notify.notify_one();
        }
        Ok(())
    }

    /// The connection's number, given by whoever opened it: an ESME
    /// session's place in the order sessions opened, a carrier bind's
    /// index among its carrier's binds.
    pub(crate) fn id(&self) -> usize {
        self.0.id
    }
}

/// A connection's outbox and the receiving end for its writer task;
/// `side` labels its PDU counts, `id` is [`OutTx::id`].
pub(crate) fn outbox(side: Side, id: usize) -> (OutTx, OutRx) {
    let o = Arc::new(Outbox {
        id,
        state: Mutex::new(OutState::default()),
        notify: Notify::new(),
        side,
    });
    (OutTx(o.clone()), OutRx(o))
}

/// The writer task's end of an outbox.
pub(crate) struct OutRx(Arc<Outbox>);

impl Drop for OutRx {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        s.closed = true;
        s.buf = BytesMut::new();
    }
}

/// Largest buffer kept between writes; a bigger one (after a burst) is
/// dropped so idle connections stay small.
const KEEP: usize = 256 * 1024;

/// Runs the writer: one `write_all` per wake-up with everything queued.
/// Returns after `Out::Close` is flushed, or on a write error.
pub(crate) async fn write_loop(mut w: BoxWrite, rx: OutRx) {
    let mut spare = BytesMut::new();
    loop {
        rx.0.notify.notified().await;
        // Let the tasks running right now add theirs first: one write
        // then carries many PDUs instead of one syscall each.
        tokio::task::yield_now().await;
        let (mut data, closing) = {
            let mut s = rx.0.state.lock().unwrap_or_else(|e| e.into_inner());
            spare.clear();
            (std::mem::replace(&mut s.buf, spare), s.closing)
        };
        if !data.is_empty() {
            // Counted per write, not per PDU: one tally of the batch, so
            // the shared counters are touched a few times per write.
            // "out" means handed to the socket.
            let mut tally = PduTally::default();
            let mut at = 0;
            while let Some(h) = data.get(at..).and_then(telegate_smpp::pdu::Header::peek) {
                tally.add(h.command_id.0, h.command_status.0);
                at += (h.command_length as usize).max(16);
            }
            tally.flush(Direction::Out, rx.0.side);
            if let Err(e) = w.write_all(&data).await {
                tracing::debug!(error = %e, "write failed");
                break;
            }
        }
        if closing {
            break;
        }
        data.clear();
        spare = if data.capacity() > KEEP {
            BytesMut::new()
        } else {
            data
        };
    }
    drop(rx);
    let _ = w.flush().await;
    let _ = w.shutdown().await;
}

fn push(buf: &mut BytesMut, m: Out) -> bool {
    match m {
        Out::Pdu(p) => {
            encode_pdu(buf, &p);
            false
        }
        Out::Reseq(b, seq) => {
            let at = buf.len();
            buf.extend_from_slice(&b);
            if b.len() >= 16 {
                buf[at + 12..at + 16].copy_from_slice(&seq.to_be_bytes());
            }
            false
        }
        Out::IdResp {
            command_id,
            seq,
            id,
        } => {
            // Header, then message_id as a C-Octet String (§4.4.2).
            let len = 16 + id.len() as u32 + 1;
            for word in [len, command_id, 0, seq] {
                buf.extend_from_slice(&word.to_be_bytes());
            }
            buf.extend_from_slice(&id);
            buf.extend_from_slice(&[0]);
            false
        }
        Out::Close => true,
    }
}

fn encode_pdu(buf: &mut BytesMut, p: &Pdu) {
    if let Err(e) = p.encode(buf) {
        // Only a PDU built with an over-long field fails here; the peer
        // gets nothing rather than a corrupt frame.
        tracing::warn!(command = ?p.command_id(), error = %e, "PDU not encodable, dropped");
    }
}

/// PDU counts of one batch, by command and status, added to the shared
/// counters in one go.
#[derive(Default)]
struct PduTally(Vec<(u32, u32, u64)>);

impl PduTally {
    fn add(&mut self, command: u32, status: u32) {
        match self
            .0
            .iter_mut()
            .find(|(c, s, _)| *c == command && *s == status)
        {
            Some(e) => e.2 += 1,
            None => self.0.push((command, status, 1)),
        }
    }

    fn flush(&mut self, dir: Direction, side: Side) {
        for (c, s, n) in self.0.drain(..) {
            metrics::pdu_n(dir, side, c, s, n);
        }
    }
}

/// Reads whole frames off a connection.
pub(crate) struct FrameReader {
    r: BoxRead,
    buf: BytesMut,
    framer: Framer,
    side: Side,
    /// Frames read since the counters were last updated: flushed when the
    /// buffered frames run out (before reading more) and on drop.
    tally: PduTally,
}

impl Drop for FrameReader {
    fn drop(&mut self) {
        self.tally.flush(Direction::In, self.side);
    }
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.buf.len())
            .finish()
    }
}

/// What the reader produced.
#[derive(Debug)]
pub(crate) enum ReadEvent {
    /// A whole frame.
    Frame(Bytes),
    /// The framing is broken (bad command_length); the answer is in the
    /// error, and the stream cannot continue.
    Bad(DecodeError),
    /// The peer closed the connection.
    Eof,
}

impl FrameReader {
    /// A reader of frames of at most `max_pdu` octets; `side` labels its
    /// PDU counts.
    pub(crate) fn new(r: BoxRead, max_pdu: u32, side: Side) -> FrameReader {
        FrameReader {
            r,
            buf: BytesMut::new(),
            framer: Framer::new(max_pdu),
            side,
            tally: PduTally::default(),
        }
    }

    fn counted(&mut self, f: Bytes) -> ReadEvent {
        if let Some(h) = telegate_smpp::pdu::Header::peek(&f) {
            self.tally.add(h.command_id.0, h.command_status.0);
        }
        ReadEvent::Frame(f)
    }

    /// The next whole frame already in the buffer, without reading: lets
    /// a session handle a batch of PDUs from one read without going back
    /// through its `select!` (and its timers) for each.
    pub(crate) fn buffered(&mut self) -> Option<ReadEvent> {
        match self.framer.next_frame(&mut self.buf) {
            Ok(Some(f)) => Some(self.counted(f)),
            Ok(None) => {
                self.tally.flush(Direction::In, self.side);
                None
            }
            Err(e) => Some(ReadEvent::Bad(e)),
        }
    }

    /// The next frame. Cancel-safe: a partial frame stays buffered.
    pub(crate) async fn next(&mut self) -> io::Result<ReadEvent> {
        self.tally.flush(Direction::In, self.side);
        loop {
            match self.framer.next_frame(&mut self.buf) {
                Ok(Some(f)) => return Ok(self.counted(f)),
                Ok(None) => {}
                Err(e) => return Ok(ReadEvent::Bad(e)),
            }
            if self.buf.capacity() - self.buf.len() < 512 {
                self.buf.reserve(4096);
            }
            if self.r.read_buf(&mut self.buf).await? == 0 {
                return Ok(ReadEvent::Eof);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telegate_smpp::pdu::{Body, MessageIdResp};
    use telegate_smpp::CommandId;

    #[test]
    fn id_resp_is_the_encoded_pdu() {
        for (cid, body) in [
            (
                CommandId::SUBMIT_SM_RESP,
                Body::SubmitSmResp as fn(MessageIdResp) -> Body,
            ),
            (CommandId::DATA_SM_RESP, Body::DataSmResp),
        ] {
            let id = *b"1a2277e061700000";
            let mut fast = BytesMut::new();
            push(
                &mut fast,
                Out::IdResp {
                    command_id: cid.0,
                    seq: 77,
                    id,
                },
            );
            let pdu = Pdu::new(
                77,
                body(MessageIdResp {
                    message_id: Bytes::copy_from_slice(&id),
                    tlvs: Vec::new(),
                }),
            );
            assert_eq!(fast.freeze(), pdu.to_bytes().unwrap());
        }
    }

    #[test]
    fn reseq_patches_only_the_sequence() {
        let frame = Pdu::new(5, Body::EnquireLink).to_bytes().unwrap();
        let mut buf = BytesMut::from(&b"xx"[..]);
        push(&mut buf, Out::Reseq(frame, 0x0102_0304));
        let want = Pdu::new(0x0102_0304, Body::EnquireLink).to_bytes().unwrap();
        assert_eq!(&buf[2..], &want[..]);
    }
}
