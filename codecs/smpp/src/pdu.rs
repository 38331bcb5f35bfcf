//! PDUs (SMPP 3.4 §4, SMPP 5.0 §4.1–4.6).
//!
//! A [`Pdu`] is a header (`command_status`, `sequence_number`) and a
//! [`Body`]. The `command_id` is derived from the body and the
//! `command_length` from the encoded size: neither is stored.

use bytes::{Bytes, BytesMut};

use crate::command::CommandId;
use crate::error::{DecodeError, DecodeErrorKind as K, EncodeError, Field};
use crate::status::CommandStatus;
use crate::tlv::{read_tlvs, tlvs_len, Tlv};
use crate::wire::{c_octet_max, time_len, Reader, SliceWriter};

/// Size of the PDU header: command_length, command_id, command_status,
/// sequence_number (§3.2).
pub const HEADER_LEN: usize = 16;

/// Highest valid `sequence_number` (§5.1.4).
pub const MAX_SEQUENCE: u32 = 0x7FFF_FFFF;

/// The decoded 16-octet header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Total PDU length including the header.
    pub command_length: u32,
    /// The command.
    pub command_id: CommandId,
    /// The status (0 in requests).
    pub command_status: CommandStatus,
    /// The sequence number that pairs a request with its response.
    pub sequence_number: u32,
}

impl Header {
    /// Reads the header from the first 16 octets, if present.
    pub fn peek(buf: &[u8]) -> Option<Header> {
        let h: &[u8; 16] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        let w = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        Some(Header {
            command_length: w(0),
            command_id: CommandId(w(4)),
            command_status: CommandStatus(w(8)),
            sequence_number: w(12),
        })
    }
}

/// Type of Number (§5.2.5). Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ton(pub u8);

impl Ton {
    /// Unknown
    pub const UNKNOWN: Ton = Ton(0);
    /// International
    pub const INTERNATIONAL: Ton = Ton(1);
    /// National
    pub const NATIONAL: Ton = Ton(2);
    /// Network specific
    pub const NETWORK_SPECIFIC: Ton = Ton(3);
    /// Subscriber number
    pub const SUBSCRIBER: Ton = Ton(4);
    /// Alphanumeric
    pub const ALPHANUMERIC: Ton = Ton(5);
    /// Abbreviated
    pub const ABBREVIATED: Ton = Ton(6);
}

/// Numbering Plan Indicator (§5.2.6). Open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Npi(pub u8);

impl Npi {
    /// Unknown
    pub const UNKNOWN: Npi = Npi(0);
    /// ISDN (E.163/E.164)
    pub const ISDN: Npi = Npi(1);
    /// Data (X.121)
    pub const DATA: Npi = Npi(3);
    /// Telex (F.69)
    pub const TELEX: Npi = Npi(4);
    /// Land Mobile (E.212)
    pub const LAND_MOBILE: Npi = Npi(6);
    /// National
    pub const NATIONAL: Npi = Npi(8);
    /// Private
    pub const PRIVATE: Npi = Npi(9);
    /// ERMES
    pub const ERMES: Npi = Npi(10);
    /// Internet (IP)
    pub const INTERNET: Npi = Npi(14);
    /// WAP Client Id
    pub const WAP: Npi = Npi(18);
}

/// An address with its TON and NPI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Address {
    /// Type of number.
    pub ton: Ton,
    /// Numbering plan.
    pub npi: Npi,
    /// The address digits or alphanumeric text (no NUL).
    pub addr: Bytes,
}

impl Address {
    /// An address from its parts.
    pub fn new(ton: Ton, npi: Npi, addr: impl Into<Bytes>) -> Address {
        Address {
            ton,
            npi,
            addr: addr.into(),
        }
    }
}

/// A destination of `submit_multi` (§4.5.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DestAddress {
    /// dest_flag 1: an SME address.
    Sme(Address),
    /// dest_flag 2: a distribution list name.
    DistributionList(Bytes),
}

/// A failed destination in `submit_multi_resp` (§4.5.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UnsuccessSme {
    /// The destination that failed.
    pub address: Address,
    /// Why it failed.
    pub error_status_code: CommandStatus,
}

// ---- field kinds: one macro arm each for type, decode, length, encode ----

macro_rules! kind_ty {
    (cstr) => { Bytes };
    (time) => { Bytes };
    (u8) => { u8 };
    (addr) => { Address };
    (sm) => { Bytes };
    (tlvs) => { Vec<Tlv> };
    (dests) => { Vec<DestAddress> };
    (unsuccess) => { Vec<UnsuccessSme> };
}

macro_rules! kind_rd {
    ($r:ident, cstr($max:expr, $f:ident)) => {
        $r.c_octet(Field::$f, $max)?
    };
    ($r:ident, time($f:ident)) => {
        $r.time(Field::$f)?
    };
    ($r:ident, u8($f:ident)) => {
        $r.u8(Field::$f)?
    };
    ($r:ident, addr($max:expr, $t:ident, $n:ident, $a:ident)) => {
        Address {
            ton: Ton($r.u8(Field::$t)?),
            npi: Npi($r.u8(Field::$n)?),
            addr: $r.c_octet(Field::$a, $max)?,
        }
    };
    ($r:ident, sm) => {{
        let n = $r.u8(Field::SmLength)?;
        $r.octets(Field::ShortMessage, usize::from(n))?
    }};
    ($r:ident, tlvs) => {{
        let mut v = Vec::new();
        read_tlvs($r, &mut v)?;
        v
    }};
    ($r:ident, dests) => {
        read_dests($r)?
    };
    ($r:ident, unsuccess) => {
        read_unsuccess($r)?
    };
}

macro_rules! kind_len {
    ($v:expr, cstr($max:expr, $f:ident)) => {
        c_octet_max($v, $max, Field::$f)?
    };
    ($v:expr, time($f:ident)) => {
        time_len($v, Field::$f)?
    };
    ($v:expr, u8($f:ident)) => {
        1
    };
    ($v:expr, addr($max:expr, $t:ident, $n:ident, $a:ident)) => {
        2 + c_octet_max(&$v.addr, $max, Field::$a)?
    };
    ($v:expr, sm) => {{
        if $v.len() > MAX_SHORT_MESSAGE_OUT {
            return Err(EncodeError::new(K::TooLong, Field::ShortMessage));
        }
        1 + $v.len()
    }};
    ($v:expr, tlvs) => {
        tlvs_len($v)?
    };
    ($v:expr, dests) => {
        dests_len($v)?
    };
    ($v:expr, unsuccess) => {
        unsuccess_len($v)?
    };
}

macro_rules! kind_put {
    ($w:ident, $v:expr, cstr($max:expr, $f:ident)) => {
        $w.c_octet($v, Field::$f)
    };
    ($w:ident, $v:expr, time($f:ident)) => {
        $w.c_octet($v, Field::$f)
    };
    ($w:ident, $v:expr, u8($f:ident)) => {
        $w.u8(*$v)
    };
    ($w:ident, $v:expr, addr($max:expr, $t:ident, $n:ident, $a:ident)) => {{
        $w.array([$v.ton.0, $v.npi.0]);
        $w.c_octet(&$v.addr, Field::$a);
    }};
    ($w:ident, $v:expr, sm) => {{
        $w.u8($v.len() as u8);
        $w.bytes($v);
    }};
    ($w:ident, $v:expr, tlvs) => {
        for t in $v {
            t.write($w);
        }
    };
    ($w:ident, $v:expr, dests) => {
        put_dests($v, $w)
    };
    ($w:ident, $v:expr, unsuccess) => {
        put_unsuccess($v, $w)
    };
}

/// Declares a PDU body struct with its decoder, length and encoder, from
/// one list of `field: kind(args)` in wire order.
macro_rules! body {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $kind:ident $(($($arg:tt)*))?),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $($(#[$fm])* pub $f: kind_ty!($kind),)*
        }

        impl BodyCodec for $name {
            #[inline]
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($name { $($f: kind_rd!(r, $kind $(($($arg)*))?),)* })
            }

            #[inline(always)]
            fn body_len(&self) -> Result<usize, EncodeError> {
                Ok(0 $(+ kind_len!(&self.$f, $kind $(($($arg)*))?))*)
            }

            #[inline(always)]
            fn put(&self, w: &mut SliceWriter<'_>) {
                $(kind_put!(w, &self.$f, $kind $(($($arg)*))?);)*
            }
        }
    };
}

/// Decode, size and encode of one body layout.
trait BodyCodec: Sized {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    fn body_len(&self) -> Result<usize, EncodeError>;
    /// Writes the body. Always inlined into `encode_layout`, where the
    /// writer is a local, so its position stays in a register.
    fn put(&self, w: &mut SliceWriter<'_>);
}

impl<T: BodyCodec> BodyCodec for Box<T> {
    #[inline]
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        T::decode(r).map(Box::new)
    }
    #[inline(always)]
    fn body_len(&self) -> Result<usize, EncodeError> {
        (**self).body_len()
    }
    #[inline(always)]
    fn put(&self, w: &mut SliceWriter<'_>) {
        (**self).put(w)
    }
}

/// The longest `short_message` this codec writes (§5.2.22: 0–254).
/// On input 255 octets are accepted, as some SMSCs send them.
pub const MAX_SHORT_MESSAGE_OUT: usize = 254;

body! {
    /// bind_transmitter / bind_receiver / bind_transceiver (§4.1.1, 4.1.3, 4.1.5).
    Bind {
        /// Identifies the ESME (max 16 with NUL).
        system_id: cstr(16, SystemId),
        /// Password (max 9 with NUL).
        password: cstr(9, Password),
        /// ESME type (max 13 with NUL).
        system_type: cstr(13, SystemType),
        /// 0x34 for SMPP 3.4, 0x50 for 5.0; both accepted.
        interface_version: u8(InterfaceVersion),
        /// Address range served by a receiver (max 41 with NUL).
        address_range: addr(41, AddrTon, AddrNpi, AddressRange),
    }
}

body! {
    /// bind_*_resp (§4.1.2, 4.1.4, 4.1.6).
    BindResp {
        /// The SMSC's identifier.
        system_id: cstr(16, SystemId),
        /// Typically `sc_interface_version`.
        tlvs: tlvs,
    }
}

body! {
    /// outbind (§4.1.7).
    Outbind {
        /// SMSC identifier.
        system_id: cstr(16, SystemId),
        /// Password.
        password: cstr(9, Password),
    }
}

body! {
    /// submit_sm (§4.4.1) and deliver_sm (§4.6.1), which share one layout.
    SubmitSm {
        /// Service type (max 6 with NUL).
        service_type: cstr(6, ServiceType),
        /// Originator.
        source: addr(21, SourceAddrTon, SourceAddrNpi, SourceAddr),
        /// Recipient.
        dest: addr(21, DestAddrTon, DestAddrNpi, DestinationAddr),
        /// Message mode and type; 0x40 = UDH present, 0x04 = receipt.
        esm_class: u8(EsmClass),
        /// GSM protocol id.
        protocol_id: u8(ProtocolId),
        /// Priority.
        priority_flag: u8(PriorityFlag),
        /// Empty or 16-character SMPP time.
        schedule_delivery_time: time(ScheduleDeliveryTime),
        /// Empty or 16-character SMPP time.
        validity_period: time(ValidityPeriod),
        /// Receipt request flags.
        registered_delivery: u8(RegisteredDelivery),
        /// Replace-if-present flag.
        replace_if_present_flag: u8(ReplaceIfPresentFlag),
        /// Data coding scheme.
        data_coding: u8(DataCoding),
        /// Canned message id.
        sm_default_msg_id: u8(SmDefaultMsgId),
        /// User data, 0–254 octets out, up to 255 in.
        short_message: sm,
        /// TLVs.
        tlvs: tlvs,
    }
}

/// deliver_sm has the layout of submit_sm (§4.6.1).
pub type DeliverSm = SubmitSm;

body! {
    /// data_sm (§4.7.1).
    DataSm {
        /// Service type.
        service_type: cstr(6, ServiceType),
        /// Originator (max 65 with NUL).
        source: addr(65, SourceAddrTon, SourceAddrNpi, SourceAddr),
        /// Recipient (max 65 with NUL).
        dest: addr(65, DestAddrTon, DestAddrNpi, DestinationAddr),
        /// Message mode and type.
        esm_class: u8(EsmClass),
        /// Receipt request flags.
        registered_delivery: u8(RegisteredDelivery),
        /// Data coding scheme.
        data_coding: u8(DataCoding),
        /// TLVs; the text is in `message_payload`.
        tlvs: tlvs,
    }
}

body! {
    /// submit_sm_resp, deliver_sm_resp (3.4 §4.4.2, §4.6.2), data_sm_resp
    /// (§4.7.2), broadcast_sm_resp and query_broadcast_sm_resp (5.0
    /// §4.4.1.2, §4.6.1.2). SMPP 5.0 allows TLVs in all of them
    /// (e.g. `additional_status_info_text`, `network_error_code`).
    MessageIdResp {
        /// The message id (max 65 with NUL); empty in deliver_sm_resp.
        message_id: cstr(65, MessageId),
        /// TLVs.
        tlvs: tlvs,
    }
}

body! {
    /// submit_multi (§4.5.1).
    SubmitMulti {
        /// Service type.
        service_type: cstr(6, ServiceType),
        /// Originator.
        source: addr(21, SourceAddrTon, SourceAddrNpi, SourceAddr),
        /// Destinations: SME addresses and distribution lists.
        dests: dests,
        /// Message mode and type.
        esm_class: u8(EsmClass),
        /// GSM protocol id.
        protocol_id: u8(ProtocolId),
        /// Priority.
        priority_flag: u8(PriorityFlag),
        /// Empty or SMPP time.
        schedule_delivery_time: time(ScheduleDeliveryTime),
        /// Empty or SMPP time.
        validity_period: time(ValidityPeriod),
        /// Receipt request flags.
        registered_delivery: u8(RegisteredDelivery),
        /// Replace-if-present flag.
        replace_if_present_flag: u8(ReplaceIfPresentFlag),
        /// Data coding scheme.
        data_coding: u8(DataCoding),
        /// Canned message id.
        sm_default_msg_id: u8(SmDefaultMsgId),
        /// User data.
        short_message: sm,
        /// TLVs.
        tlvs: tlvs,
    }
}

body! {
    /// submit_multi_resp (§4.5.2).
    SubmitMultiResp {
        /// Message id.
        message_id: cstr(65, MessageId),
        /// Destinations that failed.
        unsuccess: unsuccess,
        /// TLVs (5.0).
        tlvs: tlvs,
    }
}

body! {
    /// query_sm (§4.8.1).
    QuerySm {
        /// The message to query.
        message_id: cstr(65, MessageId),
        /// Its originator.
        source: addr(21, SourceAddrTon, SourceAddrNpi, SourceAddr),
    }
}

body! {
    /// query_sm_resp (§4.8.2).
    QuerySmResp {
        /// The message.
        message_id: cstr(65, MessageId),
        /// Empty or SMPP time.
        final_date: time(FinalDate),
        /// `message_state` (§5.2.28).
        message_state: u8(MessageState),
        /// Network error code.
        error_code: u8(ErrorCode),
    }
}

body! {
    /// cancel_sm (§4.9.1).
    CancelSm {
        /// Service type.
        service_type: cstr(6, ServiceType),
        /// Message to cancel (or empty, with the addresses).
        message_id: cstr(65, MessageId),
        /// Originator.
        source: addr(21, SourceAddrTon, SourceAddrNpi, SourceAddr),
        /// Recipient.
        dest: addr(21, DestAddrTon, DestAddrNpi, DestinationAddr),
    }
}

body! {
    /// replace_sm (§4.10.1).
    ReplaceSm {
        /// Message to replace.
        message_id: cstr(65, MessageId),
        /// Its originator.
        source: addr(21, SourceAddrTon, SourceAddrNpi, SourceAddr),
        /// Empty or SMPP time.
        schedule_delivery_time: time(ScheduleDeliveryTime),
        /// Empty or SMPP time.
        validity_period: time(ValidityPeriod),
        /// Receipt request flags.
        registered_delivery: u8(RegisteredDelivery),
        /// Canned message id.
        sm_default_msg_id: u8(SmDefaultMsgId),
        /// New user data.
        short_message: sm,
        /// TLVs (5.0 allows `message_payload`).
        tlvs: tlvs,
    }
}

body! {
    /// alert_notification (§4.12.1).
    AlertNotification {
        /// The MS that became available (max 65 with NUL).
        source: addr(65, SourceAddrTon, SourceAddrNpi, SourceAddr),
        /// The ESME to alert (max 65 with NUL).
        esme: addr(65, EsmeAddrTon, EsmeAddrNpi, EsmeAddr),
        /// TLVs (`ms_availability_status`).
        tlvs: tlvs,
    }
}

body! {
    /// broadcast_sm (SMPP 5.0 §4.4.1.1).
    BroadcastSm {
        /// Service type.
        service_type: cstr(6, ServiceType),
        /// Originator.
        source: addr(21, SourceAddrTon, SourceAddrNpi, SourceAddr),
        /// Message id, for replacement.
        message_id: cstr(65, MessageId),
        /// Priority.
        priority_flag: u8(PriorityFlag),
        /// Empty or SMPP time.
        schedule_delivery_time: time(ScheduleDeliveryTime),
        /// Empty or SMPP time.
        validity_period: time(ValidityPeriod),
        /// Replace-if-present flag.
        replace_if_present_flag: u8(ReplaceIfPresentFlag),
        /// Data coding scheme.
        data_coding: u8(DataCoding),
        /// Canned message id.
        sm_default_msg_id: u8(SmDefaultMsgId),
        /// TLVs: broadcast area, content type, repetitions, frequency, payload.
        tlvs: tlvs,
    }
}

body! {
    /// query_broadcast_sm (5.0 §4.6.1.1) and cancel_broadcast_sm
    /// without its service_type — see [`CancelBroadcastSm`].
    QueryBroadcastSm {
        /// The broadcast to query.
        message_id: cstr(65, MessageId),
        /// Its originator.
        source: addr(21, SourceAddrTon, SourceAddrNpi, SourceAddr),
        /// TLVs (`user_message_reference`).
        tlvs: tlvs,
    }
}

body! {
    /// cancel_broadcast_sm (5.0 §4.6.2.1).
    CancelBroadcastSm {
        /// Service type.
        service_type: cstr(6, ServiceType),
        /// The broadcast to cancel.
        message_id: cstr(65, MessageId),
        /// Its originator.
        source: addr(21, SourceAddrTon, SourceAddrNpi, SourceAddr),
        /// TLVs.
        tlvs: tlvs,
    }
}

fn read_dests(r: &mut Reader<'_>) -> Result<Vec<DestAddress>, DecodeError> {
    let n = r.u8(Field::NumberOfDests)?;
    // Each destination is at least 3 octets: never reserve more than the
    // body could hold.
    let mut v = Vec::with_capacity(usize::from(n).min(r.remaining() / 3));
    for _ in 0..n {
        match r.u8(Field::DestFlag)? {
            1 => v.push(DestAddress::Sme(kind_rd!(
                r,
                addr(21, DestAddrTon, DestAddrNpi, DestinationAddr)
            ))),
            2 => v.push(DestAddress::DistributionList(r.c_octet(Field::DlName, 21)?)),
            _ => return Err(DecodeError::new(K::BadValue, Field::DestFlag)),
        }
    }
    Ok(v)
}

fn dests_len(v: &[DestAddress]) -> Result<usize, EncodeError> {
    if v.len() > 255 {
        return Err(EncodeError::new(K::TooLong, Field::NumberOfDests));
    }
    let mut n = 1;
    for d in v {
        n += 1 + match d {
            DestAddress::Sme(a) => 2 + c_octet_max(&a.addr, 21, Field::DestinationAddr)?,
            DestAddress::DistributionList(l) => c_octet_max(l, 21, Field::DlName)?,
        };
    }
    Ok(n)
}

fn put_dests(v: &[DestAddress], w: &mut SliceWriter<'_>) {
    w.u8(v.len() as u8);
    for d in v {
        match d {
            DestAddress::Sme(a) => {
                w.u8(1);
                kind_put!(w, a, addr(21, DestAddrTon, DestAddrNpi, DestinationAddr));
            }
            DestAddress::DistributionList(l) => {
                w.u8(2);
                w.c_octet(l, Field::DlName);
            }
        }
    }
}

fn read_unsuccess(r: &mut Reader<'_>) -> Result<Vec<UnsuccessSme>, DecodeError> {
    let n = r.u8(Field::NoUnsuccess)?;
    let mut v = Vec::with_capacity(usize::from(n).min(r.remaining() / 7));
    for _ in 0..n {
        let address = kind_rd!(r, addr(21, DestAddrTon, DestAddrNpi, DestinationAddr));
        let error_status_code = CommandStatus(r.u32(Field::ErrorStatusCode)?);
        v.push(UnsuccessSme {
            address,
            error_status_code,
        });
    }
    Ok(v)
}

fn unsuccess_len(v: &[UnsuccessSme]) -> Result<usize, EncodeError> {
    if v.len() > 255 {
        return Err(EncodeError::new(K::TooLong, Field::NoUnsuccess));
    }
    let mut n = 1;
    for u in v {
        n += 2 + c_octet_max(&u.address.addr, 21, Field::DestinationAddr)? + 4;
    }
    Ok(n)
}

fn put_unsuccess(v: &[UnsuccessSme], w: &mut SliceWriter<'_>) {
    w.u8(v.len() as u8);
    for u in v {
        kind_put!(
            w,
            &u.address,
            addr(21, DestAddrTon, DestAddrNpi, DestinationAddr)
        );
        w.u32(u.error_status_code.0);
    }
}

/// Writes a PDU of one body layout in two passes: sizing (which checks
/// every limit but NULs inside strings), then one write into a slice of
/// `dst` (which checks those). Monomorphised per layout and inlined, so the
/// writer's position lives in a register. `command_length` is filled in
/// last; on error nothing stays in `dst`.
#[inline(always)]
fn encode_layout<B: BodyCodec>(
    b: &B,
    head: [u32; 3],
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let len = HEADER_LEN + b.body_len()?;
    let start = dst.len();
    grow(dst, len);
    let mut w = SliceWriter::new(&mut dst[start..]);
    write_head(&mut w, head);
    b.put(&mut w);
    let r = w.finish();
    close_frame(dst, start, r)
}

/// Writes a header and a body of raw octets.
fn encode_raw(head: [u32; 3], body: &[u8], dst: &mut BytesMut) -> Result<(), EncodeError> {
    let start = dst.len();
    grow(dst, HEADER_LEN + body.len());
    let mut w = SliceWriter::new(&mut dst[start..]);
    write_head(&mut w, head);
    w.bytes(body);
    let r = w.finish();
    close_frame(dst, start, r)
}

/// Extends `dst` by `n` zero octets to be overwritten. Copying from a
/// static block inlines better than `BytesMut::resize` for PDU-sized `n`.
#[inline(always)]
fn grow(dst: &mut BytesMut, n: usize) {
    static ZEROS: [u8; 512] = [0; 512];
    match ZEROS.get(..n) {
        Some(z) => dst.extend_from_slice(z),
        None => dst.resize(dst.len() + n, 0),
    }
}

#[inline(always)]
fn write_head(w: &mut SliceWriter<'_>, [id, status, seq]: [u32; 3]) {
    w.u32(0); // command_length: filled in by close_frame
    w.u32(id);
    w.u32(status);
    w.u32(seq);
}

/// Fills in `command_length`, or takes the partial PDU back off `dst`.
#[inline(always)]
fn close_frame(
    dst: &mut BytesMut,
    start: usize,
    r: Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let len = dst.len() - start;
    match (r, u32::try_from(len)) {
        (Ok(()), Ok(len32)) => {
            dst[start..start + 4].copy_from_slice(&len32.to_be_bytes());
            Ok(())
        }
        (r, _) => {
            dst.truncate(start);
            r.and(Err(EncodeError::new(K::TooLong, Field::CommandLength)))
        }
    }
}

/// Declares [`Body`] and its dispatch from one table of
/// `Variant(Type) = COMMAND_ID, empty-body-allowed-on-error`.
macro_rules! bodies {
    (
        empty { $($ev:ident = $ec:ident;)* }
        data { $($dv:ident($dt:ty) = $dc:ident, $lenient:expr;)* }
    ) => {
        /// A PDU body, one variant per command.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Body {
            $(#[doc = concat!("`", stringify!($ec), "` (no body)")] $ev,)*
            $(#[doc = concat!("`", stringify!($dc), "`")] $dv($dt),)*
            /// A command this codec does not know: kept so the session can
            /// answer `generic_nack` ESME_RINVCMDID, and re-encoded as is.
            Other {
                /// Its command_id.
                command_id: CommandId,
                /// The raw body.
                body: Bytes,
            },
        }

        impl Body {
            /// The command_id of this body.
            pub fn command_id(&self) -> CommandId {
                match self {
                    $(Body::$ev => CommandId::$ec,)*
                    $(Body::$dv(_) => CommandId::$dc,)*
                    Body::Other { command_id, .. } => *command_id,
                }
            }

            /// Decodes the body of `frame` (the octets past its header).
            fn decode(id: CommandId, frame: &Bytes) -> Result<Body, DecodeError> {
                let r = &mut Reader::at(frame, HEADER_LEN);
                let b = match id {
                    $(CommandId::$ec => Body::$ev,)*
                    $(CommandId::$dc => {
                        // §4.1.2 etc.: "the body is not returned if the
                        // command_status is non-zero".
                        if $lenient && r.is_empty() {
                            Body::$dv(Default::default())
                        } else {
                            Body::$dv(<$dt as BodyCodec>::decode(r)?)
                        }
                    })*
                    _ => return Ok(Body::Other { command_id: id, body: frame.slice(HEADER_LEN..) }),
                };
                r.finish()?;
                Ok(b)
            }

            #[inline(always)]
            fn body_len(&self, status: CommandStatus) -> Result<usize, EncodeError> {
                match self {
                    $(Body::$ev => Ok(0),)*
                    $(Body::$dv(b) => {
                        if $lenient && !status.is_ok() && *b == Default::default() {
                            Ok(0)
                        } else {
                            b.body_len()
                        }
                    })*
                    Body::Other { body, .. } => Ok(body.len()),
                }
            }

            /// Appends the whole PDU with this body: one dispatch on the
            /// body, then code specialised for its layout.
            #[inline]
            fn encode_into(&self, head: [u32; 3], dst: &mut BytesMut) -> Result<(), EncodeError> {
                match self {
                    $(Body::$ev => encode_raw(head, &[], dst),)*
                    $(Body::$dv(b) => {
                        // §4.1.2 etc.: no body in an error response.
                        if $lenient && head[1] != 0 && *b == Default::default() {
                            encode_raw(head, &[], dst)
                        } else {
                            encode_layout(b, head, dst)
                        }
                    })*
                    Body::Other { body, .. } => encode_raw(head, body, dst),
                }
            }

            /// An empty response body for `id` (a `_resp` command), used to
            /// answer errors.
            fn empty_response(id: CommandId) -> Body {
                match id {
                    $(CommandId::$ec => Body::$ev,)*
                    $(CommandId::$dc => Body::$dv(Default::default()),)*
                    _ => Body::GenericNack,
                }
            }
        }
    };
}

bodies! {
    empty {
        GenericNack = GENERIC_NACK;
        Unbind = UNBIND;
        UnbindResp = UNBIND_RESP;
        EnquireLink = ENQUIRE_LINK;
        EnquireLinkResp = ENQUIRE_LINK_RESP;
        CancelSmResp = CANCEL_SM_RESP;
        ReplaceSmResp = REPLACE_SM_RESP;
        CancelBroadcastSmResp = CANCEL_BROADCAST_SM_RESP;
    }
    data {
        BindTransmitter(Box<Bind>) = BIND_TRANSMITTER, false;
        BindReceiver(Box<Bind>) = BIND_RECEIVER, false;
        BindTransceiver(Box<Bind>) = BIND_TRANSCEIVER, false;
        BindTransmitterResp(BindResp) = BIND_TRANSMITTER_RESP, true;
        BindReceiverResp(BindResp) = BIND_RECEIVER_RESP, true;
        BindTransceiverResp(BindResp) = BIND_TRANSCEIVER_RESP, true;
        Outbind(Box<Outbind>) = OUTBIND, false;
        SubmitSm(Box<SubmitSm>) = SUBMIT_SM, false;
        SubmitSmResp(MessageIdResp) = SUBMIT_SM_RESP, true;
        DeliverSm(Box<DeliverSm>) = DELIVER_SM, false;
        DeliverSmResp(MessageIdResp) = DELIVER_SM_RESP, true;
        DataSm(Box<DataSm>) = DATA_SM, false;
        DataSmResp(MessageIdResp) = DATA_SM_RESP, true;
        SubmitMulti(Box<SubmitMulti>) = SUBMIT_MULTI, false;
        SubmitMultiResp(Box<SubmitMultiResp>) = SUBMIT_MULTI_RESP, true;
        QuerySm(Box<QuerySm>) = QUERY_SM, false;
        QuerySmResp(Box<QuerySmResp>) = QUERY_SM_RESP, true;
        CancelSm(Box<CancelSm>) = CANCEL_SM, false;
        ReplaceSm(Box<ReplaceSm>) = REPLACE_SM, false;
        AlertNotification(Box<AlertNotification>) = ALERT_NOTIFICATION, false;
        BroadcastSm(Box<BroadcastSm>) = BROADCAST_SM, false;
        BroadcastSmResp(MessageIdResp) = BROADCAST_SM_RESP, true;
        QueryBroadcastSm(Box<QueryBroadcastSm>) = QUERY_BROADCAST_SM, false;
        QueryBroadcastSmResp(MessageIdResp) = QUERY_BROADCAST_SM_RESP, true;
        CancelBroadcastSm(Box<CancelBroadcastSm>) = CANCEL_BROADCAST_SM, false;
    }
}

/// One SMPP PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// `command_status`; zero in requests.
    pub command_status: CommandStatus,
    /// `sequence_number`.
    pub sequence_number: u32,
    /// The command and its fields.
    pub body: Body,
}

impl Pdu {
    /// A request (or response) with status OK.
    pub fn new(sequence_number: u32, body: Body) -> Pdu {
        Pdu {
            command_status: CommandStatus::ESME_ROK,
            sequence_number,
            body,
        }
    }

    /// The command_id, derived from the body.
    pub fn command_id(&self) -> CommandId {
        self.body.command_id()
    }

    /// An error response to a request: its own `_resp` with an empty body,
    /// or `generic_nack` for commands that have no `_resp`.
    pub fn error_response(request: CommandId, sequence_number: u32, status: CommandStatus) -> Pdu {
        Pdu {
            command_status: status,
            sequence_number,
            body: Body::empty_response(request.response()),
        }
    }

    /// A `generic_nack` (§4.3.1).
    pub fn generic_nack(sequence_number: u32, status: CommandStatus) -> Pdu {
        Pdu {
            command_status: status,
            sequence_number,
            body: Body::GenericNack,
        }
    }

    /// Decodes one whole frame (as returned by [`crate::frame`]). The
    /// `command_length` must equal the frame's length; fields become
    /// slices of `frame`.
    pub fn decode(frame: &Bytes) -> Result<Pdu, DecodeError> {
        let Some(h) = Header::peek(frame) else {
            return Err(DecodeError::new(K::BadCommandLength, Field::CommandLength));
        };
        let at = |mut e: DecodeError| {
            e.command_id = h.command_id;
            e.sequence_number = h.sequence_number;
            e
        };
        if h.command_length as usize != frame.len() {
            return Err(at(DecodeError::new(
                K::BadCommandLength,
                Field::CommandLength,
            )));
        }
        if !h.command_id.is_response()
            && (h.sequence_number == 0 || h.sequence_number > MAX_SEQUENCE)
        {
            return Err(at(DecodeError::new(K::BadSequence, Field::SequenceNumber)));
        }
        let body = Body::decode(h.command_id, frame).map_err(at)?;
        Ok(Pdu {
            command_status: h.command_status,
            sequence_number: h.sequence_number,
            body,
        })
    }

    /// The encoded size, after checking every field against its limit.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(HEADER_LEN + self.body.body_len(self.command_status)?)
    }

    /// Appends the encoded PDU to `dst`. Nothing is written on error.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let id = self.command_id();
        if !id.is_response() && (self.sequence_number == 0 || self.sequence_number > MAX_SEQUENCE) {
            return Err(EncodeError::new(K::BadSequence, Field::SequenceNumber));
        }
        self.body
            .encode_into([id.0, self.command_status.0, self.sequence_number], dst)
    }

    /// Encodes into a new buffer.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut b = BytesMut::new();
        self.encode(&mut b)?;
        Ok(b.freeze())
    }
}

impl DecodeError {
    /// The PDU to send back for this error: `generic_nack` for a bad
    /// frame or unknown command, otherwise the request's own `_resp` with
    /// the field's status. `None` when the bad PDU was itself a response
    /// (responses are never answered, §2.7).
    pub fn response(&self) -> Option<Pdu> {
        if self.command_id.is_response() && self.kind != K::BadCommandLength {
            return None;
        }
        Some(
            if self.needs_generic_nack() || self.kind == K::BadSequence {
                Pdu::generic_nack(self.sequence_number, self.status())
            } else {
                Pdu::error_response(self.command_id, self.sequence_number, self.status())
            },
        )
    }
}

/// Reads a `submit_sm`'s destination address straight from a frame,
/// without decoding the rest or allocating: for routing on the hot path.
/// Returns `(ton, npi, digits)`; `None` if the frame is not a well-formed
/// submit_sm head.
pub fn peek_submit_destination(frame: &[u8]) -> Option<(Ton, Npi, &[u8])> {
    let h = Header::peek(frame)?;
    if h.command_id != CommandId::SUBMIT_SM {
        return None;
    }
    let mut p = HEADER_LEN;
    let skip_c = |p: &mut usize, max: usize| -> Option<()> {
        let rest = frame.get(*p..)?;
        let n = rest.iter().take(max).position(|&b| b == 0)?;
        *p += n + 1;
        Some(())
    };
    skip_c(&mut p, 6)?; // service_type
    p += 2; // source ton/npi
    skip_c(&mut p, 21)?; // source_addr
    let ton = *frame.get(p)?;
    let npi = *frame.get(p + 1)?;
    p += 2;
    let rest = frame.get(p..)?;
    let n = rest.iter().take(21).position(|&b| b == 0)?;
    Some((Ton(ton), Npi(npi), &rest[..n]))
}

impl Pdu {
    /// One instance of every PDU, with every field set, for round-trip
    /// tests and fuzz seeds.
    pub fn examples() -> Vec<Pdu> {
        let b = Bytes::from_static;
        let addr = |a: &'static [u8]| Address::new(Ton::INTERNATIONAL, Npi::ISDN, b(a));
        let bind = Bind {
            system_id: b(b"acme"),
            password: b(b"secret12"),
            system_type: b(b"VMS"),
            interface_version: 0x34,
            address_range: Address::new(Ton(1), Npi(1), b(b"^4477")),
        };
        let sm = SubmitSm {
            service_type: b(b"CMT"),
            source: Address::new(Ton::ALPHANUMERIC, Npi::UNKNOWN, b(b"Telegate")),
            dest: addr(b"447700900123"),
            esm_class: 0x40,
            protocol_id: 0,
            priority_flag: 1,
            schedule_delivery_time: b(b"261129101500000+"),
            validity_period: b(b"000001000000000R"),
            registered_delivery: 1,
            replace_if_present_flag: 0,
            data_coding: 0,
            sm_default_msg_id: 0,
            short_message: b(b"\x05\x00\x03\x2a\x02\x01Hello world"),
            tlvs: vec![Tlv::UserMessageReference(7), Tlv::SourcePort(9200)],
        };
        let tlvs = Tlv::examples();
        let bodies = vec![
            Body::GenericNack,
            Body::Unbind,
            Body::UnbindResp,
            Body::EnquireLink,
            Body::EnquireLinkResp,
            Body::CancelSmResp,
            Body::ReplaceSmResp,
            Body::CancelBroadcastSmResp,
            Body::BindTransmitter(Box::new(bind.clone())),
            Body::BindReceiver(Box::new(Bind {
                interface_version: 0x50,
                ..bind.clone()
            })),
            Body::BindTransceiver(Box::new(bind)),
            Body::BindTransmitterResp(BindResp {
                system_id: b(b"SMSC"),
                tlvs: vec![Tlv::ScInterfaceVersion(0x34)],
            }),
            Body::BindReceiverResp(BindResp {
                system_id: b(b"SMSC"),
                tlvs: vec![],
            }),
            Body::BindTransceiverResp(BindResp {
                system_id: b(b"SMSC"),
                tlvs: vec![Tlv::ScInterfaceVersion(0x50)],
            }),
            Body::Outbind(Box::new(Outbind {
                system_id: b(b"SMSC"),
                password: b(b"pw"),
            })),
            Body::SubmitSm(Box::new(sm.clone())),
            Body::SubmitSm(Box::new(SubmitSm {
                tlvs: tlvs.clone(),
                esm_class: 0,
                short_message: Bytes::new(),
                ..sm.clone()
            })),
            Body::SubmitSmResp(MessageIdResp {
                message_id: b(b"0192f3a4b5c6d7e8"),
                tlvs: vec![],
            }),
            Body::DeliverSm(Box::new(DeliverSm {
                esm_class: 0x04,
                short_message: b(b"id:0123456789 sub:001 dlvrd:001 submit date:0610191018 done date:0610191018 stat:DELIVRD err:000 text:Hello"),
                tlvs: vec![
                    Tlv::ReceiptedMessageId(b(b"0123456789")),
                    Tlv::MessageState(2),
                    Tlv::NetworkErrorCode { network_type: 3, error_code: 0 },
                ],
                ..sm.clone()
            })),
            Body::DeliverSmResp(MessageIdResp::default()),
            Body::DataSm(Box::new(DataSm {
                service_type: b(b""),
                source: addr(b"12345"),
                dest: addr(b"4915199999999"),
                esm_class: 0,
                registered_delivery: 1,
                data_coding: 8,
                tlvs: vec![Tlv::MessagePayload(b(b"\x00H\x00i"))],
            })),
            Body::DataSmResp(MessageIdResp {
                message_id: b(b"abc"),
                tlvs: vec![Tlv::AdditionalStatusInfoText(b(b"ok"))],
            }),
            Body::SubmitMulti(Box::new(SubmitMulti {
                service_type: b(b""),
                source: addr(b"12345"),
                dests: vec![
                    DestAddress::Sme(addr(b"447700900001")),
                    DestAddress::DistributionList(b(b"staff")),
                    DestAddress::Sme(addr(b"447700900002")),
                ],
                esm_class: 0,
                protocol_id: 0,
                priority_flag: 0,
                schedule_delivery_time: Bytes::new(),
                validity_period: Bytes::new(),
                registered_delivery: 0,
                replace_if_present_flag: 0,
                data_coding: 0,
                sm_default_msg_id: 0,
                short_message: b(b"hi all"),
                tlvs: vec![],
            })),
            Body::SubmitMultiResp(Box::new(SubmitMultiResp {
                message_id: b(b"m1"),
                unsuccess: vec![UnsuccessSme {
                    address: addr(b"447700900002"),
                    error_status_code: CommandStatus::ESME_RINVDSTADR,
                }],
                tlvs: vec![],
            })),
            Body::QuerySm(Box::new(QuerySm {
                message_id: b(b"m1"),
                source: addr(b"12345"),
            })),
            Body::QuerySmResp(Box::new(QuerySmResp {
                message_id: b(b"m1"),
                final_date: b(b"261129101500004+"),
                message_state: 2,
                error_code: 0,
            })),
            Body::CancelSm(Box::new(CancelSm {
                service_type: b(b""),
                message_id: b(b"m1"),
                source: addr(b"12345"),
                dest: addr(b"447700900001"),
            })),
            Body::ReplaceSm(Box::new(ReplaceSm {
                message_id: b(b"m1"),
                source: addr(b"12345"),
                schedule_delivery_time: Bytes::new(),
                validity_period: b(b"000002000000000R"),
                registered_delivery: 1,
                sm_default_msg_id: 0,
                short_message: b(b"new text"),
                tlvs: vec![],
            })),
            Body::AlertNotification(Box::new(AlertNotification {
                source: addr(b"447700900001"),
                esme: addr(b"12345"),
                tlvs: vec![Tlv::MsAvailabilityStatus(0)],
            })),
            Body::BroadcastSm(Box::new(BroadcastSm {
                service_type: b(b""),
                source: addr(b"12345"),
                message_id: b(b""),
                priority_flag: 0,
                schedule_delivery_time: Bytes::new(),
                validity_period: Bytes::new(),
                replace_if_present_flag: 0,
                data_coding: 0,
                sm_default_msg_id: 0,
                tlvs: vec![
                    Tlv::BroadcastAreaIdentifier(b(b"\x00area")),
                    Tlv::BroadcastContentType {
                        network_type: 1,
                        content_type: 0x0010,
                    },
                    Tlv::BroadcastRepNum(1),
                    Tlv::BroadcastFrequencyInterval { unit: 9, value: 5 },
                    Tlv::MessagePayload(b(b"alert")),
                ],
            })),
            Body::BroadcastSmResp(MessageIdResp {
                message_id: b(b"b1"),
                tlvs: vec![],
            }),
            Body::QueryBroadcastSm(Box::new(QueryBroadcastSm {
                message_id: b(b"b1"),
                source: addr(b"12345"),
                tlvs: vec![Tlv::UserMessageReference(1)],
            })),
            Body::QueryBroadcastSmResp(MessageIdResp {
                message_id: b(b"b1"),
                tlvs: vec![Tlv::MessageState(1), Tlv::BroadcastAreaSuccess(100)],
            }),
            Body::CancelBroadcastSm(Box::new(CancelBroadcastSm {
                service_type: b(b""),
                message_id: b(b"b1"),
                source: addr(b"12345"),
                tlvs: vec![],
            })),
            Body::Other {
                command_id: CommandId(0x0000_0222),
                body: b(b"\x01\x02\x03"),
            },
        ];
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| Pdu::new(i as u32 + 1, body))
            .collect()
    }
}
