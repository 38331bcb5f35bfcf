//! Decode and encode errors.
//!
//! A [`DecodeError`] is small and `Copy`; it says which field failed and
//! how, and maps to the answer the session should give: a `generic_nack`
//! for framing and unknown commands (SMPP 3.4 §4.3), or the request's own
//! `_resp` with a field-specific `command_status`.

use std::fmt;

use crate::command::CommandId;
use crate::status::CommandStatus;

/// The PDU field a decode or encode error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the variants are the spec's field names
pub enum Field {
    CommandLength,
    CommandId,
    CommandStatus,
    SequenceNumber,
    SystemId,
    Password,
    SystemType,
    InterfaceVersion,
    AddrTon,
    AddrNpi,
    AddressRange,
    ServiceType,
    SourceAddrTon,
    SourceAddrNpi,
    SourceAddr,
    DestAddrTon,
    DestAddrNpi,
    DestinationAddr,
    EsmeAddrTon,
    EsmeAddrNpi,
    EsmeAddr,
    EsmClass,
    ProtocolId,
    PriorityFlag,
    ScheduleDeliveryTime,
    ValidityPeriod,
    RegisteredDelivery,
    ReplaceIfPresentFlag,
    DataCoding,
    SmDefaultMsgId,
    SmLength,
    ShortMessage,
    MessageId,
    FinalDate,
    MessageState,
    ErrorCode,
    NumberOfDests,
    DestFlag,
    DlName,
    NoUnsuccess,
    ErrorStatusCode,
    /// A TLV's tag or length header.
    Tlv,
    /// A TLV's value (its tag is in [`DecodeError::tlv_tag`]).
    TlvValue,
    /// The PDU body as a whole (e.g. bytes after the last field).
    Body,
}

impl Field {
    /// The spec's name of the field.
    pub fn name(self) -> &'static str {
        match self {
            Field::CommandLength => "command_length",
            Field::CommandId => "command_id",
            Field::CommandStatus => "command_status",
            Field::SequenceNumber => "sequence_number",
            Field::SystemId => "system_id",
            Field::Password => "password",
            Field::SystemType => "system_type",
            Field::InterfaceVersion => "interface_version",
            Field::AddrTon => "addr_ton",
            Field::AddrNpi => "addr_npi",
            Field::AddressRange => "address_range",
            Field::ServiceType => "service_type",
            Field::SourceAddrTon => "source_addr_ton",
            Field::SourceAddrNpi => "source_addr_npi",
            Field::SourceAddr => "source_addr",
            Field::DestAddrTon => "dest_addr_ton",
            Field::DestAddrNpi => "dest_addr_npi",
            Field::DestinationAddr => "destination_addr",
            Field::EsmeAddrTon => "esme_addr_ton",
            Field::EsmeAddrNpi => "esme_addr_npi",
            Field::EsmeAddr => "esme_addr",
            Field::EsmClass => "esm_class",
            Field::ProtocolId => "protocol_id",
            Field::PriorityFlag => "priority_flag",
            Field::ScheduleDeliveryTime => "schedule_delivery_time",
            Field::ValidityPeriod => "validity_period",
            Field::RegisteredDelivery => "registered_delivery",
            Field::ReplaceIfPresentFlag => "replace_if_present_flag",
            Field::DataCoding => "data_coding",
            Field::SmDefaultMsgId => "sm_default_msg_id",
            Field::SmLength => "sm_length",
            Field::ShortMessage => "short_message",
            Field::MessageId => "message_id",
            Field::FinalDate => "final_date",
            Field::MessageState => "message_state",
            Field::ErrorCode => "error_code",
            Field::NumberOfDests => "number_of_dests",
            Field::DestFlag => "dest_flag",
            Field::DlName => "dl_name",
            Field::NoUnsuccess => "no_unsuccess",
            Field::ErrorStatusCode => "error_status_code",
            Field::Tlv => "tlv",
            Field::TlvValue => "tlv value",
            Field::Body => "body",
        }
    }

    /// The `command_status` that answers a request whose field is bad
    /// (SMPP 3.4 §5.1.3).
    pub fn status(self) -> CommandStatus {
        match self {
            Field::CommandLength | Field::Body => CommandStatus::ESME_RINVCMDLEN,
            Field::CommandId => CommandStatus::ESME_RINVCMDID,
            Field::CommandStatus | Field::SequenceNumber => CommandStatus::ESME_RSYSERR,
            Field::SystemId => CommandStatus::ESME_RINVSYSID,
            Field::Password => CommandStatus::ESME_RINVPASWD,
            Field::SystemType => CommandStatus::ESME_RINVSYSTYP,
            Field::InterfaceVersion | Field::AddrTon | Field::AddrNpi | Field::AddressRange => {
                CommandStatus::ESME_RBINDFAIL
            }
            Field::ServiceType => CommandStatus::ESME_RINVSERTYP,
            Field::SourceAddrTon => CommandStatus::ESME_RINVSRCTON,
            Field::SourceAddrNpi => CommandStatus::ESME_RINVSRCNPI,
            Field::SourceAddr | Field::EsmeAddr | Field::EsmeAddrTon | Field::EsmeAddrNpi => {
                CommandStatus::ESME_RINVSRCADR
            }
            Field::DestAddrTon => CommandStatus::ESME_RINVDSTTON,
            Field::DestAddrNpi => CommandStatus::ESME_RINVDSTNPI,
            Field::DestinationAddr => CommandStatus::ESME_RINVDSTADR,
            Field::EsmClass => CommandStatus::ESME_RINVESMCLASS,
            Field::ProtocolId | Field::DataCoding => CommandStatus::ESME_RINVDCS,
            Field::PriorityFlag => CommandStatus::ESME_RINVPRTFLG,
            Field::ScheduleDeliveryTime => CommandStatus::ESME_RINVSCHED,
            Field::ValidityPeriod => CommandStatus::ESME_RINVEXPIRY,
            Field::RegisteredDelivery => CommandStatus::ESME_RINVREGDLVFLG,
            Field::ReplaceIfPresentFlag => CommandStatus::ESME_RINVREPFLAG,
            Field::SmDefaultMsgId => CommandStatus::ESME_RINVDFTMSGID,
            Field::SmLength | Field::ShortMessage => CommandStatus::ESME_RINVMSGLEN,
            Field::MessageId => CommandStatus::ESME_RINVMSGID,
            Field::FinalDate | Field::MessageState | Field::ErrorCode => {
                CommandStatus::ESME_RSYSERR
            }
            Field::NumberOfDests | Field::NoUnsuccess => CommandStatus::ESME_RINVNUMDESTS,
            Field::DestFlag => CommandStatus::ESME_RINVDESTFLAG,
            Field::DlName => CommandStatus::ESME_RINVDLNAME,
            Field::ErrorStatusCode => CommandStatus::ESME_RSYSERR,
            Field::Tlv => CommandStatus::ESME_RINVTLVSTREAM,
            Field::TlvValue => CommandStatus::ESME_RINVTLVLEN,
        }
    }
}

/// What went wrong while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeErrorKind {
    /// `command_length` is below 16 or above the configured maximum.
    BadCommandLength,
    /// The `command_id` is not one this codec knows.
    UnknownCommand,
    /// The body ended inside this field.
    Truncated,
    /// A C-Octet string had no NUL within its maximum length.
    Unterminated,
    /// The field is longer than the spec allows.
    TooLong,
    /// A length field disagrees with the data (`sm_length` vs body,
    /// TLV length vs its type).
    BadLength,
    /// A time field is neither empty nor 16 characters of valid time.
    BadTime,
    /// A value outside the spec's range (e.g. `dest_flag` 3).
    BadValue,
    /// Bytes after the last field of the PDU.
    TrailingBytes,
    /// `sequence_number` outside 1..=0x7FFFFFFF.
    BadSequence,
}

impl DecodeErrorKind {
    fn describe(self) -> &'static str {
        match self {
            DecodeErrorKind::BadCommandLength => "bad command_length",
            DecodeErrorKind::UnknownCommand => "unknown command_id",
            DecodeErrorKind::Truncated => "body ends inside",
            DecodeErrorKind::Unterminated => "no NUL terminator within maximum length in",
            DecodeErrorKind::TooLong => "too long",
            DecodeErrorKind::BadLength => "length mismatch in",
            DecodeErrorKind::BadTime => "invalid time in",
            DecodeErrorKind::BadValue => "invalid value in",
            DecodeErrorKind::TrailingBytes => "trailing bytes after",
            DecodeErrorKind::BadSequence => "out-of-range",
        }
    }
}

/// A PDU that could not be decoded, with enough context to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Where.
    pub field: Field,
    /// The PDU's `command_id`, if the header could be read.
    pub command_id: CommandId,
    /// The PDU's `sequence_number` (0 if the header could not be read).
    pub sequence_number: u32,
    /// The TLV tag, for errors inside a TLV.
    pub tlv_tag: Option<u16>,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, field: Field) -> DecodeError {
        DecodeError {
            kind,
            field,
            command_id: CommandId(0),
            sequence_number: 0,
            tlv_tag: None,
        }
    }

    /// The `command_status` to answer with.
    pub fn status(&self) -> CommandStatus {
        match self.kind {
            DecodeErrorKind::BadCommandLength => CommandStatus::ESME_RINVCMDLEN,
            DecodeErrorKind::UnknownCommand => CommandStatus::ESME_RINVCMDID,
            DecodeErrorKind::TrailingBytes => CommandStatus::ESME_RINVCMDLEN,
            DecodeErrorKind::Truncated if self.field == Field::Tlv => {
                CommandStatus::ESME_RINVTLVSTREAM
            }
            DecodeErrorKind::Truncated if !self.field.is_string() => CommandStatus::ESME_RINVCMDLEN,
            _ => self.field.status(),
        }
    }

    /// `true` when the answer is a `generic_nack` rather than the
    /// request's own `_resp`: the frame or `command_id` itself is bad, the
    /// PDU is a response (responses are never answered), or the command
    /// has no `_resp` of its own.
    pub fn needs_generic_nack(&self) -> bool {
        matches!(
            self.kind,
            DecodeErrorKind::BadCommandLength | DecodeErrorKind::UnknownCommand
        ) || self.command_id.response() == CommandId::GENERIC_NACK
    }

    /// The `command_id` of the answer: `generic_nack` or the `_resp`.
    pub fn response_command_id(&self) -> CommandId {
        if self.needs_generic_nack() {
            CommandId::GENERIC_NACK
        } else {
            self.command_id.response()
        }
    }

    /// Whether the session can go on after this error. Framing errors
    /// leave the stream position unknown: the session must answer and
    /// close. Field errors inside a well-framed PDU do not.
    pub fn is_fatal(&self) -> bool {
        self.kind == DecodeErrorKind::BadCommandLength
    }
}

impl Field {
    fn is_string(self) -> bool {
        !matches!(
            self,
            Field::CommandLength
                | Field::CommandId
                | Field::CommandStatus
                | Field::SequenceNumber
                | Field::InterfaceVersion
                | Field::AddrTon
                | Field::AddrNpi
                | Field::SourceAddrTon
                | Field::SourceAddrNpi
                | Field::DestAddrTon
                | Field::DestAddrNpi
                | Field::EsmeAddrTon
                | Field::EsmeAddrNpi
                | Field::EsmClass
                | Field::ProtocolId
                | Field::PriorityFlag
                | Field::RegisteredDelivery
                | Field::ReplaceIfPresentFlag
                | Field::DataCoding
                | Field::SmDefaultMsgId
                | Field::SmLength
                | Field::MessageState
                | Field::ErrorCode
                | Field::NumberOfDests
                | Field::DestFlag
                | Field::NoUnsuccess
                | Field::ErrorStatusCode
                | Field::Body
        )
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.describe(), self.field.name())?;
        if let Some(tag) = self.tlv_tag {
            write!(f, " (tag 0x{tag:04X})")?;
        }
        if self.command_id.0 != 0 {
            write!(f, " of {} seq {}", self.command_id, self.sequence_number)?;
        }
        write!(f, " -> {}", self.status())
    }
}

impl std::error::Error for DecodeError {}

/// A PDU that cannot be encoded because a field breaks a spec limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodeError {
    /// The offending field.
    pub field: Field,
    /// What is wrong with it.
    pub kind: DecodeErrorKind,
}

impl EncodeError {
    pub(crate) fn new(kind: DecodeErrorKind, field: Field) -> EncodeError {
        EncodeError { field, kind }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot encode: {} {}",
            self.kind.describe(),
            self.field.name()
        )
    }
}

impl std::error::Error for EncodeError {}
