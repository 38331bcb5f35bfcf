//! `telegate-smpp`: an SMPP 3.4 / 5.0 codec with no I/O.
//!
//! * [`Pdu`] covers every SMPP 3.4 PDU and its response, plus SMPP 5.0's
//!   broadcast operations; an unknown `command_id` decodes to [`Pdu::Other`].
//! * [`Tlv`] types every standard optional parameter; unknown and vendor
//!   TLVs are kept as raw bytes and re-encoded byte for byte.
//! * [`frame`] finds PDU boundaries in a byte stream, checking
//!   `command_length` before anything is buffered.
//! * [`text`], [`udh`], [`receipt`] and [`time`] handle the message content
//!   around the PDU: GSM 03.38 / Latin-1 / UCS-2, concatenation, delivery
//!   receipts and SMPP time strings.
//!
//! Decoded fields are [`bytes::Bytes`] slices of the received frame: decoding
//! a `submit_sm` copies no field and allocates nothing per field.

pub mod command;
pub mod error;
pub mod frame;
pub mod fuzzing;
pub mod pdu;
pub mod receipt;
pub mod status;
pub mod text;
pub mod time;
pub mod tlv;
pub mod udh;
mod wire;

#[cfg(feature = "tokio-codec")]
pub mod codec;

pub use command::CommandId;
pub use error::{DecodeError, DecodeErrorKind, EncodeError, Field};
pub use pdu::{Address, Body, Header, Npi, Pdu, Ton};
pub use status::CommandStatus;
pub use tlv::{Tlv, TlvTag};
