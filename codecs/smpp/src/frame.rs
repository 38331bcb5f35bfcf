//! Framing an SMPP byte stream (SMPP 3.4 §3.2: every PDU starts with its
//! 4-octet `command_length`).
//!
//! The length is checked against `16..=max` before a single byte of the
//! frame is buffered or reserved, so a hostile peer cannot make us
//! allocate what it claims.

use bytes::{Bytes, BytesMut};

use crate::command::CommandId;
use crate::error::{DecodeError, DecodeErrorKind, Field};
use crate::pdu::{Header, HEADER_LEN};

/// The default upper bound on `command_length`: a submit_sm with a full
/// 64 KiB `message_payload` and room for other TLVs.
pub const DEFAULT_MAX_PDU_LEN: u32 = 70_000;

/// Looks at the start of `buf` and returns the length of the first frame
/// once all of it is there, `Ok(None)` if more bytes are needed, or an
/// error for a `command_length` below 16 or above `max`.
pub fn frame_len(buf: &[u8], max: u32) -> Result<Option<usize>, DecodeError> {
    let Some(head) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    if len < HEADER_LEN as u32 || len > max {
        let mut e = DecodeError::new(DecodeErrorKind::BadCommandLength, Field::CommandLength);
        // Echo the sequence number if the rest of the header is here, so
        // the generic_nack can be matched by the peer.
        if let Some(h) = Header::peek(buf) {
            e.command_id = CommandId(h.command_id.0);
            e.sequence_number = h.sequence_number;
        }
        return Err(e);
    }
    let len = len as usize;
    Ok((buf.len() >= len).then_some(len))
}

/// Splits whole frames off a stream buffer.
#[derive(Debug, Clone, Copy)]
pub struct Framer {
    max: u32,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(DEFAULT_MAX_PDU_LEN)
    }
}

impl Framer {
    /// A framer that rejects frames longer than `max` octets.
    pub fn new(max: u32) -> Framer {
        Framer {
            max: max.max(HEADER_LEN as u32),
        }
    }

    /// The maximum frame length.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// The next whole frame, split off `buf`; `Ok(None)` until it is
    /// complete (reserving at most the checked length).
    pub fn next_frame(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
        match frame_len(buf, self.max)? {
            Some(n) => Ok(Some(buf.split_to(n).freeze())),
            None => {
                if let Some(h) = buf.get(..4) {
                    let want = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
                    buf.reserve(want.saturating_sub(buf.len()));
                }
                Ok(None)
            }
        }
    }
}
