//! A tokio-util [`Decoder`]/[`Encoder`] over [`Framer`] and [`Pdu`]
//! (feature `tokio-codec`).

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{DecodeError, EncodeError};
use crate::frame::Framer;
use crate::pdu::Pdu;

/// An error from [`SmppCodec`].
#[derive(Debug)]
pub enum CodecError {
    /// The frame was bad: [`DecodeError::is_fatal`] tells whether the
    /// stream can go on, [`DecodeError::response`] what to answer.
    Decode(DecodeError),
    /// A PDU we tried to send breaks a spec limit.
    Encode(EncodeError),
    /// The socket failed.
    Io(std::io::Error),
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Decode(e) => e.fmt(f),
            CodecError::Encode(e) => e.fmt(f),
            CodecError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CodecError {}

impl From<std::io::Error> for CodecError {
    fn from(e: std::io::Error) -> Self {
        CodecError::Io(e)
    }
}

/// Frames and decodes SMPP PDUs. A PDU with a bad field is returned as
/// `Ok(Some(Err(e)))` so the session can answer it and carry on; only a
/// bad `command_length` (stream position lost) is a codec error.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmppCodec {
    framer: Framer,
}

impl SmppCodec {
    /// A codec that rejects frames longer than `max_pdu_len`.
    pub fn new(max_pdu_len: u32) -> SmppCodec {
        SmppCodec {
            framer: Framer::new(max_pdu_len),
        }
    }
}

impl Decoder for SmppCodec {
    type Item = Result<Pdu, DecodeError>;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        match self.framer.next_frame(src) {
            Ok(Some(frame)) => Ok(Some(Pdu::decode(&frame))),
            Ok(None) => Ok(None),
            Err(e) => Err(CodecError::Decode(e)),
        }
    }
}

impl Encoder<&Pdu> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, pdu: &Pdu, dst: &mut BytesMut) -> Result<(), CodecError> {
        pdu.encode(dst).map_err(CodecError::Encode)
    }
}

impl Encoder<Pdu> for SmppCodec {
    type Error = CodecError;

    fn encode(&mut self, pdu: Pdu, dst: &mut BytesMut) -> Result<(), CodecError> {
        pdu.encode(dst).map_err(CodecError::Encode)
    }
}
