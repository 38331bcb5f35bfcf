//! SMPP simulators for tests, demos and load runs.
//!
//! * [`client::Client`]: an async SMPP client (ESME side) with automatic
//!   sequence numbers, request/response matching, pipelining and raw-byte
//!   sends, used by the integration tests and by the load tool.
//! * [`smsc`]: a carrier (SMSC) simulator that answers binds and submits,
//!   sends delivery receipts after a delay, and can be told to throttle,
//!   reject, stall or drop connections.
//! * [`esme`]: a load run over several binds that reports throughput,
//!   latency percentiles and receipt matching.
//!
//! All sockets set `TCP_NODELAY`; writes go through one task per
//! connection that drains a bounded channel into one buffer per wakeup, so
//! many PDUs leave in one `write` under load.

pub mod client;
pub mod esme;
pub mod smsc;

pub use client::{BindType, Client, ClientError, ClientOptions, Response};

pub use esme::{EsmeConfig, EsmeReport};
pub use smsc::{IdFormat, Mode, ReceiptPolicy, Smsc, SmscConfig, SmscHandle, SmscStats};

use bytes::{Bytes, BytesMut};
use telegate_smpp::frame::Framer;
use telegate_smpp::pdu::SubmitSm;
use telegate_smpp::{Address, DecodeError, Npi, Ton};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How many queued buffers the writer task takes per wakeup.
const WRITE_BATCH: usize = 512;

/// Read buffer growth step.
const READ_CHUNK: usize = 64 * 1024;

/// Spawns the write side of a connection: it drains `rx` into one buffer
/// per wakeup and writes it with one `write_all`, so a burst of PDUs
/// costs one syscall. Ends when every sender is gone (after shutting the
/// socket's write side down) or on a write error.
pub(crate) fn spawn_writer<W>(mut w: W, mut rx: mpsc::Receiver<Bytes>) -> JoinHandle<()>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut batch: Vec<Bytes> = Vec::with_capacity(WRITE_BATCH);
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
            let res = if batch.len() == 1 {
                w.write_all(&batch[0]).await
            } else {
                buf.clear();
                for b in &batch {
                    buf.extend_from_slice(b);
                }
                w.write_all(&buf).await
            };
            batch.clear();
            if res.is_err() {
                return;
            }
        }
        let _ = w.shutdown().await;
    })
}

/// The read side of a connection: a buffer and a [`Framer`].
#[derive(Debug)]
pub(crate) struct FrameReader<R> {
    r: R,
    buf: BytesMut,
    framer: Framer,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(crate) fn new(r: R, max_pdu_len: u32) -> FrameReader<R> {
        FrameReader {
            r,
            buf: BytesMut::with_capacity(READ_CHUNK),
            framer: Framer::new(max_pdu_len),
        }
    }

    /// Reads more bytes; `Ok(false)` at end of stream. Cancel-safe.
    pub(crate) async fn fill(&mut self) -> std::io::Result<bool> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(READ_CHUNK);
        }
        Ok(self.r.read_buf(&mut self.buf).await? > 0)
    }

    /// The next whole frame already buffered. An error means the stream
    /// position is lost (bad `command_length`).
    pub(crate) fn next_frame(&mut self) -> Result<Option<Bytes>, DecodeError> {
        self.framer.next_frame(&mut self.buf)
    }
}

/// An address with TON/NPI guessed from its text: digits (with an optional
/// leading `+`, which is dropped) are international/ISDN, anything else is
/// alphanumeric.
pub fn address(s: &str) -> Address {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        Address::new(
            Ton::INTERNATIONAL,
            Npi::ISDN,
            Bytes::copy_from_slice(digits.as_bytes()),
        )
    } else {
        Address::new(
            Ton::ALPHANUMERIC,
            Npi::UNKNOWN,
            Bytes::copy_from_slice(s.as_bytes()),
        )
    }
}

/// A submit_sm from `from` to `to` with `text` in the default alphabet
/// (data_coding 0), asking for a delivery receipt when `receipt` is set
/// (registered_delivery 1).
pub fn submit_sm(from: &str, to: &str, text: &[u8], receipt: bool) -> SubmitSm {
    SubmitSm {
        source: address(from),
        dest: address(to),
        registered_delivery: u8::from(receipt),
        short_message: Bytes::copy_from_slice(text),
        ..SubmitSm::default()
    }
}
