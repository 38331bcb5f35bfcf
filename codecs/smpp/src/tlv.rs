//! Tagged parameters (SMPP 3.4 §5.3 "optional parameters", SMPP 5.0 §4.8 TLVs).
//!
//! Every standard TLV of the 3.4 and 5.0 tables is typed. Unknown and
//! vendor-specific tags (0x1400–0x3FFF and anything else) are kept as
//! [`Tlv::Other`] and re-encoded byte for byte.

use bytes::{BufMut, Bytes};

use crate::wire::SliceWriter;

use crate::error::{DecodeError, DecodeErrorKind as K, EncodeError, Field};
use crate::wire::Reader;

/// A TLV tag. Open: any `u16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TlvTag(pub u16);

macro_rules! tlvs {
    (
        u8 { $($u8v:ident = $u8t:expr, $u8c:ident;)* }
        u16 { $($u16v:ident = $u16t:expr, $u16c:ident;)* }
        u32 { $($u32v:ident = $u32t:expr, $u32c:ident;)* }
        cstr { $($csv:ident = $cst:expr, $csc:ident, $csmax:expr;)* }
        octets { $($ov:ident = $ot:expr, $oc:ident, $omin:expr, $omax:expr;)* }
    ) => {
        impl TlvTag {
            $(#[doc = concat!("`", stringify!($u8c), "`")] pub const $u8c: TlvTag = TlvTag($u8t);)*
            $(#[doc = concat!("`", stringify!($u16c), "`")] pub const $u16c: TlvTag = TlvTag($u16t);)*
            $(#[doc = concat!("`", stringify!($u32c), "`")] pub const $u32c: TlvTag = TlvTag($u32t);)*
            $(#[doc = concat!("`", stringify!($csc), "`")] pub const $csc: TlvTag = TlvTag($cst);)*
            $(#[doc = concat!("`", stringify!($oc), "`")] pub const $oc: TlvTag = TlvTag($ot);)*
            /// `network_error_code`
            pub const NETWORK_ERROR_CODE: TlvTag = TlvTag(0x0423);
            /// `broadcast_content_type` (5.0)
            pub const BROADCAST_CONTENT_TYPE: TlvTag = TlvTag(0x0601);
            /// `broadcast_frequency_interval` (5.0)
            pub const BROADCAST_FREQUENCY_INTERVAL: TlvTag = TlvTag(0x0605);
            /// `alert_on_message_delivery`
            pub const ALERT_ON_MESSAGE_DELIVERY: TlvTag = TlvTag(0x130C);

            /// The spec's name of a standard tag.
            pub fn name(self) -> Option<&'static str> {
                let n = match self.0 {
                    $($u8t => stringify!($u8c),)*
                    $($u16t => stringify!($u16c),)*
                    $($u32t => stringify!($u32c),)*
                    $($cst => stringify!($csc),)*
                    $($ot => stringify!($oc),)*
                    0x0423 => "NETWORK_ERROR_CODE",
                    0x0601 => "BROADCAST_CONTENT_TYPE",
                    0x0605 => "BROADCAST_FREQUENCY_INTERVAL",
                    0x130C => "ALERT_ON_MESSAGE_DELIVERY",
                    _ => return None,
                };
                Some(n)
            }
        }

        /// One TLV, typed by its tag.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Tlv {
            $(#[doc = concat!("`", stringify!($u8c), "` (1 octet)")] $u8v(u8),)*
            $(#[doc = concat!("`", stringify!($u16c), "` (2 octets)")] $u16v(u16),)*
            $(#[doc = concat!("`", stringify!($u32c), "` (4 octets)")] $u32v(u32),)*
            $(#[doc = concat!("`", stringify!($csc), "`: C-Octet String, max ", stringify!($csmax), " with NUL; held without the NUL")] $csv(Bytes),)*
            $(#[doc = concat!("`", stringify!($oc), "`: octets, ", stringify!($omin), "..=", stringify!($omax))] $ov(Bytes),)*
            /// `network_error_code` (§5.3.2.31): network type and error code.
            NetworkErrorCode {
                /// 1 ANSI-136, 2 IS-95, 3 GSM, 4 reserved, 5 ANSI-41, …
                network_type: u8,
                /// The network-specific error code.
                error_code: u16,
            },
            /// `broadcast_content_type` (5.0 §4.8.4.13).
            BroadcastContentType {
                /// Network type (0 generic, 1 GSM, 2 TDMA, 3 CDMA).
                network_type: u8,
                /// Content type.
                content_type: u16,
            },
            /// `broadcast_frequency_interval` (5.0 §4.8.4.16).
            BroadcastFrequencyInterval {
                /// Time unit.
                unit: u8,
                /// Number of units.
                value: u16,
            },
            /// `alert_on_message_delivery`: empty in 3.4 (§5.3.2.41); 5.0
            /// allows one octet.
            AlertOnMessageDelivery(Option<u8>),
            /// Any other tag, kept byte for byte.
            Other {
                /// The tag.
                tag: u16,
                /// The raw value.
                value: Bytes,
            },
        }

        impl Tlv {
            /// This TLV's tag.
            pub fn tag(&self) -> TlvTag {
                TlvTag(match self {
                    $(Tlv::$u8v(_) => $u8t,)*
                    $(Tlv::$u16v(_) => $u16t,)*
                    $(Tlv::$u32v(_) => $u32t,)*
                    $(Tlv::$csv(_) => $cst,)*
                    $(Tlv::$ov(_) => $ot,)*
                    Tlv::NetworkErrorCode { .. } => 0x0423,
                    Tlv::BroadcastContentType { .. } => 0x0601,
                    Tlv::BroadcastFrequencyInterval { .. } => 0x0605,
                    Tlv::AlertOnMessageDelivery(_) => 0x130C,
                    Tlv::Other { tag, .. } => *tag,
                })
            }

            /// Length of the value on the wire, checked against the type's
            /// limits.
            #[inline]
            fn value_len(&self) -> Result<usize, EncodeError> {
                let bad = || EncodeError::new(K::BadLength, Field::TlvValue);
                Ok(match self {
                    $(Tlv::$u8v(_) => 1,)*
                    $(Tlv::$u16v(_) => 2,)*
                    $(Tlv::$u32v(_) => 4,)*
                    $(Tlv::$csv(v) => crate::wire::c_octet_max(v, $csmax, Field::TlvValue)?,)*
                    $(Tlv::$ov(v) => {
                        if !($omin..=$omax).contains(&v.len()) || !octets_len_ok($ot, v.len()) {
                            return Err(bad());
                        }
                        v.len()
                    })*
                    Tlv::NetworkErrorCode { .. }
                    | Tlv::BroadcastContentType { .. }
                    | Tlv::BroadcastFrequencyInterval { .. } => 3,
                    Tlv::AlertOnMessageDelivery(v) => usize::from(v.is_some()),
                    Tlv::Other { value, .. } => {
                        if value.len() > usize::from(u16::MAX) { return Err(bad()); }
                        value.len()
                    }
                })
            }

            /// Writes tag, length and value into a slice sized by the
            /// length pass ([`Tlv::encoded_len`], which checked the limits).
            #[inline(always)]
            pub(crate) fn write(&self, w: &mut SliceWriter<'_>) {
                match self {
                    $(Tlv::$u8v(v) => {
                        let [t0, t1] = u16::to_be_bytes($u8t);
                        w.array([t0, t1, 0, 1, *v])
                    })*
                    $(Tlv::$u16v(v) => {
                        let [t0, t1] = u16::to_be_bytes($u16t);
                        let [v0, v1] = v.to_be_bytes();
                        w.array([t0, t1, 0, 2, v0, v1])
                    })*
                    $(Tlv::$u32v(v) => {
                        let [t0, t1] = u16::to_be_bytes($u32t);
                        let [v0, v1, v2, v3] = v.to_be_bytes();
                        w.array([t0, t1, 0, 4, v0, v1, v2, v3])
                    })*
                    $(Tlv::$csv(v) => {
                        w.u32(head($cst, v.len() + 1));
                        w.c_octet(v, Field::TlvValue)
                    })*
                    $(Tlv::$ov(v) => { w.u32(head($ot, v.len())); w.bytes(v) })*
                    Tlv::NetworkErrorCode { network_type: a, error_code: b }
                    | Tlv::BroadcastContentType { network_type: a, content_type: b }
                    | Tlv::BroadcastFrequencyInterval { unit: a, value: b } => {
                        let [t0, t1] = self.tag().0.to_be_bytes();
                        let [b0, b1] = b.to_be_bytes();
                        w.array([t0, t1, 0, 3, *a, b0, b1])
                    }
                    Tlv::AlertOnMessageDelivery(v) => match v {
                        Some(v) => w.array([0x13, 0x0C, 0, 1, *v]),
                        None => w.array([0x13, 0x0C, 0, 0]),
                    },
                    Tlv::Other { tag, value } => {
                        w.u32(head(*tag, value.len()));
                        w.bytes(value)
                    }
                }
            }

            /// Decodes one value for `tag`. Standard tags must have the
            /// length their type requires (else `ESME_RINVTLVLEN`).
            fn decode_value(tag: u16, v: Bytes) -> Result<Tlv, DecodeErrorKindOnly> {
                let n = v.len();
                Ok(match tag {
                    $($u8t => { if n != 1 { return Err(K::BadLength) } Tlv::$u8v(v[0]) })*
                    // SMPP 3.4 peers (and Wireshark) read source_telematics_id
                    // as 1 octet, SMPP 5.0 as 2: accept both, write 2.
                    0x0010 if n == 1 => Tlv::SourceTelematicsId(u16::from(v[0])),
                    // broadcast_rep_num is 2 octets in SMPP 5.0 (and oserl,
                    // node-smpp); Wireshark and rusmpp read and write 1.
                    0x0604 if n == 1 => Tlv::BroadcastRepNum(u16::from(v[0])),
                    $($u16t => { if n != 2 { return Err(K::BadLength) } Tlv::$u16v(u16::from_be_bytes([v[0], v[1]])) })*
                    $($u32t => { if n != 4 { return Err(K::BadLength) } Tlv::$u32v(u32::from_be_bytes([v[0], v[1], v[2], v[3]])) })*
                    $($cst => Tlv::$csv(tlv_c_octet(v, $csmax)?),)*
                    $($ot => {
                        if !($omin..=$omax).contains(&n) || !octets_len_ok($ot, n) { return Err(K::BadLength) }
                        Tlv::$ov(v)
                    })*
                    0x0423 | 0x0601 | 0x0605 => {
                        if n != 3 { return Err(K::BadLength) }
                        let (a, b) = (v[0], u16::from_be_bytes([v[1], v[2]]));
                        match tag {
                            0x0423 => Tlv::NetworkErrorCode { network_type: a, error_code: b },
                            0x0601 => Tlv::BroadcastContentType { network_type: a, content_type: b },
                            _ => Tlv::BroadcastFrequencyInterval { unit: a, value: b },
                        }
                    }
                    0x130C => match n {
                        0 => Tlv::AlertOnMessageDelivery(None),
                        1 => Tlv::AlertOnMessageDelivery(Some(v[0])),
                        _ => return Err(K::BadLength),
                    },
                    _ => Tlv::Other { tag, value: v },
                })
            }

            /// One instance of every typed TLV, for tests and fuzz seeds.
            pub fn examples() -> Vec<Tlv> {
                vec![
                    $(Tlv::$u8v(0x01),)*
                    $(Tlv::$u16v(0x0102),)*
                    $(Tlv::$u32v(0x0102_0304),)*
                    $(Tlv::$csv(Bytes::from_static(b"abc123")),)*
                    $(Tlv::$ov(Bytes::from(vec![0x00u8; $omin.max(1)])),)*
                    Tlv::NetworkErrorCode { network_type: 3, error_code: 0x0101 },
                    Tlv::BroadcastContentType { network_type: 1, content_type: 0x0010 },
                    Tlv::BroadcastFrequencyInterval { unit: 9, value: 5 },
                    Tlv::AlertOnMessageDelivery(None),
                    Tlv::AlertOnMessageDelivery(Some(2)),
                    Tlv::Other { tag: 0x1401, value: Bytes::from_static(b"\x00vendor\xff") },
                    Tlv::Other { tag: 0x3FFF, value: Bytes::new() },
                ]
            }
        }
    };
}

type DecodeErrorKindOnly = crate::error::DecodeErrorKind;

/// Tag and length as one word. `len` was checked to fit 16 bits.
#[inline(always)]
fn head(tag: u16, len: usize) -> u32 {
    (u32::from(tag) << 16) | (len as u32 & 0xFFFF)
}

/// Length rules that a plain range cannot say: `ms_validity` is 1 octet,
/// or 4 with the relative-time form (SMPP 5.0 §4.8.4.40).
fn octets_len_ok(tag: u16, n: usize) -> bool {
    match tag {
        0x1204 => n == 1 || n == 4,
        _ => true,
    }
}

/// A C-Octet String inside a TLV. The NUL is required by the spec, but
/// many SMSCs omit it (notably in `receipted_message_id`): accept both.
fn tlv_c_octet(v: Bytes, max: usize) -> Result<Bytes, DecodeErrorKindOnly> {
    if v.len() > max {
        return Err(K::BadLength);
    }
    let body = match v.last() {
        Some(0) => v.slice(..v.len() - 1),
        // Without its NUL the text must still fit when we add one back.
        _ if v.len() >= max => return Err(K::BadLength),
        _ => v,
    };
    if body.contains(&0) {
        return Err(K::BadValue);
    }
    Ok(body)
}

tlvs! {
    u8 {
        DestAddrSubunit = 0x0005, DEST_ADDR_SUBUNIT;
        DestNetworkType = 0x0006, DEST_NETWORK_TYPE;
        DestBearerType = 0x0007, DEST_BEARER_TYPE;
        SourceAddrSubunit = 0x000D, SOURCE_ADDR_SUBUNIT;
        SourceNetworkType = 0x000E, SOURCE_NETWORK_TYPE;
        SourceBearerType = 0x000F, SOURCE_BEARER_TYPE;
        PayloadType = 0x0019, PAYLOAD_TYPE;
        MsMsgWaitFacilities = 0x0030, MS_MSG_WAIT_FACILITIES;
        PrivacyIndicator = 0x0201, PRIVACY_INDICATOR;
        UserResponseCode = 0x0205, USER_RESPONSE_CODE;
        LanguageIndicator = 0x020D, LANGUAGE_INDICATOR;
        SarTotalSegments = 0x020E, SAR_TOTAL_SEGMENTS;
        SarSegmentSeqnum = 0x020F, SAR_SEGMENT_SEQNUM;
        ScInterfaceVersion = 0x0210, SC_INTERFACE_VERSION;
        CallbackNumPresInd = 0x0302, CALLBACK_NUM_PRES_IND;
        NumberOfMessages = 0x0304, NUMBER_OF_MESSAGES;
        DpfResult = 0x0420, DPF_RESULT;
        SetDpf = 0x0421, SET_DPF;
        MsAvailabilityStatus = 0x0422, MS_AVAILABILITY_STATUS;
        DeliveryFailureReason = 0x0425, DELIVERY_FAILURE_REASON;
        MoreMessagesToSend = 0x0426, MORE_MESSAGES_TO_SEND;
        MessageState = 0x0427, MESSAGE_STATE;
        CongestionState = 0x0428, CONGESTION_STATE;
        UssdServiceOp = 0x0501, USSD_SERVICE_OP;
        BroadcastChannelIndicator = 0x0600, BROADCAST_CHANNEL_INDICATOR;
        BroadcastMessageClass = 0x0603, BROADCAST_MESSAGE_CLASS;
        BroadcastAreaSuccess = 0x0608, BROADCAST_AREA_SUCCESS;
        DestAddrNpResolution = 0x0611, DEST_ADDR_NP_RESOLUTION;
        DisplayTime = 0x1201, DISPLAY_TIME;
        ItsReplyType = 0x1380, ITS_REPLY_TYPE;
    }
    u16 {
        DestTelematicsId = 0x0008, DEST_TELEMATICS_ID;
        SourceTelematicsId = 0x0010, SOURCE_TELEMATICS_ID;
        UserMessageReference = 0x0204, USER_MESSAGE_REFERENCE;
        SourcePort = 0x020A, SOURCE_PORT;
        DestinationPort = 0x020B, DESTINATION_PORT;
        SarMsgRefNum = 0x020C, SAR_MSG_REF_NUM;
        BroadcastRepNum = 0x0604, BROADCAST_REP_NUM;
        SmsSignal = 0x1203, SMS_SIGNAL;
        ItsSessionInfo = 0x1383, ITS_SESSION_INFO;
    }
    u32 {
        QosTimeToLive = 0x0017, QOS_TIME_TO_LIVE;
        BroadcastErrorStatus = 0x0607, BROADCAST_ERROR_STATUS;
    }
    cstr {
        AdditionalStatusInfoText = 0x001D, ADDITIONAL_STATUS_INFO_TEXT, 256;
        ReceiptedMessageId = 0x001E, RECEIPTED_MESSAGE_ID, 65;
        BroadcastEndTime = 0x0609, BROADCAST_END_TIME, 17;
        SourceNetworkId = 0x060D, SOURCE_NETWORK_ID, 65;
        DestNetworkId = 0x060E, DEST_NETWORK_ID, 65;
    }
    octets {
        SourceSubaddress = 0x0202, SOURCE_SUBADDRESS, 2, 23;
        DestSubaddress = 0x0203, DEST_SUBADDRESS, 2, 23;
        CallbackNumAtag = 0x0303, CALLBACK_NUM_ATAG, 0, 65;
        CallbackNum = 0x0381, CALLBACK_NUM, 4, 19;
        MessagePayload = 0x0424, MESSAGE_PAYLOAD, 0, 65535;
        BroadcastContentTypeInfo = 0x0602, BROADCAST_CONTENT_TYPE_INFO, 0, 255;
        BroadcastAreaIdentifier = 0x0606, BROADCAST_AREA_IDENTIFIER, 1, 100;
        BroadcastServiceGroup = 0x060A, BROADCAST_SERVICE_GROUP, 0, 255;
        BillingIdentification = 0x060B, BILLING_IDENTIFICATION, 0, 1024;
        SourceNodeId = 0x060F, SOURCE_NODE_ID, 6, 6;
        DestNodeId = 0x0610, DEST_NODE_ID, 6, 6;
        DestAddrNpInformation = 0x0612, DEST_ADDR_NP_INFORMATION, 10, 10;
        DestAddrNpCountry = 0x0613, DEST_ADDR_NP_COUNTRY, 1, 5;
        MsValidity = 0x1204, MS_VALIDITY, 1, 4;
    }
}

impl Tlv {
    /// Encoded size including the 4-octet tag and length.
    #[inline]
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(4 + self.value_len()?)
    }

    /// Encodes this TLV (checked); nothing is written on error.
    pub fn encode(&self, dst: &mut impl BufMut) -> Result<(), EncodeError> {
        let mut buf = vec![0u8; self.encoded_len()?];
        let mut w = SliceWriter::new(&mut buf);
        self.write(&mut w);
        w.finish()?;
        dst.put_slice(&buf);
        Ok(())
    }
}

/// Reads TLVs until the body ends (SMPP 3.4 §3.2.4: TLVs are last).
pub(crate) fn read_tlvs(r: &mut Reader<'_>, out: &mut Vec<Tlv>) -> Result<(), DecodeError> {
    // Count first (headers only) so the list is allocated once, at its
    // final size.
    out.reserve_exact(count_tlvs(r.rest()));
    while !r.is_empty() {
        if r.remaining() < 4 {
            return Err(DecodeError::new(K::Truncated, Field::Tlv));
        }
        let tag = r.u16(Field::Tlv)?;
        let len = usize::from(r.u16(Field::Tlv)?);
        let with_tag = |mut e: DecodeError| {
            e.tlv_tag = Some(tag);
            e
        };
        if r.remaining() < len {
            return Err(with_tag(DecodeError::new(K::Truncated, Field::Tlv)));
        }
        let value = r.octets(Field::TlvValue, len)?;
        match Tlv::decode_value(tag, value) {
            Ok(t) => out.push(t),
            Err(kind) => return Err(with_tag(DecodeError::new(kind, Field::TlvValue))),
        }
    }
    Ok(())
}

/// How many TLV headers fit in `buf`, walking lengths only. A malformed
/// stream stops the count; `read_tlvs` then reports the error.
fn count_tlvs(mut buf: &[u8]) -> usize {
    let mut n = 0;
    while let Some(h) = buf.get(..4) {
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        n += 1;
        buf = buf.get(4 + len..).unwrap_or_default();
    }
    n
}

/// Total encoded size of a TLV list, checking each.
#[inline(always)]
pub(crate) fn tlvs_len(tlvs: &[Tlv]) -> Result<usize, EncodeError> {
    let mut n = 0;
    for t in tlvs {
        n += t.encoded_len()?;
    }
    Ok(n)
}

/// Convenience lookups over a TLV list.
pub trait TlvList {
    /// The first TLV with this tag.
    fn find(&self, tag: TlvTag) -> Option<&Tlv>;
    /// `message_payload`, if present.
    fn message_payload(&self) -> Option<&Bytes>;
    /// `receipted_message_id`, if present.
    fn receipted_message_id(&self) -> Option<&Bytes>;
    /// `message_state`, if present.
    fn message_state(&self) -> Option<u8>;
    /// `(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum)`, if all present.
    fn sar(&self) -> Option<(u16, u8, u8)>;
}

impl TlvList for [Tlv] {
    fn find(&self, tag: TlvTag) -> Option<&Tlv> {
        self.iter().find(|t| t.tag() == tag)
    }
    fn message_payload(&self) -> Option<&Bytes> {
        self.iter().find_map(|t| match t {
            Tlv::MessagePayload(b) => Some(b),
            _ => None,
        })
    }
    fn receipted_message_id(&self) -> Option<&Bytes> {
        self.iter().find_map(|t| match t {
            Tlv::ReceiptedMessageId(b) => Some(b),
            _ => None,
        })
    }
    fn message_state(&self) -> Option<u8> {
        self.iter().find_map(|t| match t {
            Tlv::MessageState(b) => Some(*b),
            _ => None,
        })
    }
    fn sar(&self) -> Option<(u16, u8, u8)> {
        let mut r = None;
        let mut tot = None;
        let mut seq = None;
        for t in self {
            match t {
                Tlv::SarMsgRefNum(v) => r = Some(*v),
                Tlv::SarTotalSegments(v) => tot = Some(*v),
                Tlv::SarSegmentSeqnum(v) => seq = Some(*v),
                _ => {}
            }
        }
        Some((r?, tot?, seq?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn roundtrip(t: &Tlv) -> Tlv {
        let mut b = BytesMut::new();
        t.encode(&mut b).unwrap();
        let body = b.freeze();
        let mut r = Reader::new(&body);
        let mut v = Vec::new();
        read_tlvs(&mut r, &mut v).unwrap();
        assert_eq!(v.len(), 1);
        v.pop().unwrap()
    }

    #[test]
    fn every_tlv_round_trips() {
        let all = Tlv::examples();
        assert!(all.len() > 60, "{}", all.len());
        for t in &all {
            assert_eq!(&roundtrip(t), t, "{t:?}");
            if !matches!(t, Tlv::Other { .. }) {
                assert!(t.tag().name().is_some(), "{t:?}");
            }
        }
    }

    #[test]
    fn vendor_tlv_bytes_kept_exactly() {
        let raw: &[u8] = b"\x14\x01\x00\x03\x00\xff\x00";
        let body = Bytes::from_static(raw);
        let mut v = Vec::new();
        read_tlvs(&mut Reader::new(&body), &mut v).unwrap();
        let mut out = BytesMut::new();
        for t in &v {
            t.encode(&mut out).unwrap();
        }
        assert_eq!(&out[..], raw);
    }

    #[test]
    fn wrong_length_is_rinvtlvlen() {
        let body = Bytes::from_static(b"\x04\x27\x00\x02\x00\x02");
        let e = read_tlvs(&mut Reader::new(&body), &mut Vec::new()).unwrap_err();
        assert_eq!(e.status(), crate::CommandStatus::ESME_RINVTLVLEN);
        assert_eq!(e.tlv_tag, Some(0x0427));
        let body = Bytes::from_static(b"\x04\x27\x00\x05\x00");
        let e = read_tlvs(&mut Reader::new(&body), &mut Vec::new()).unwrap_err();
        assert_eq!(e.status(), crate::CommandStatus::ESME_RINVTLVSTREAM);
        let body = Bytes::from_static(b"\x04\x27\x00");
        let e = read_tlvs(&mut Reader::new(&body), &mut Vec::new()).unwrap_err();
        assert_eq!(e.status(), crate::CommandStatus::ESME_RINVTLVSTREAM);
    }

    #[test]
    fn one_or_two_octet_readings() {
        for raw in [&b"\x00\x10\x00\x01\x07"[..], b"\x00\x10\x00\x02\x00\x07"] {
            let body = Bytes::copy_from_slice(raw);
            let mut v = Vec::new();
            read_tlvs(&mut Reader::new(&body), &mut v).unwrap();
            assert_eq!(v, [Tlv::SourceTelematicsId(7)]);
        }
        for raw in [&b"\x06\x04\x00\x01\x03"[..], b"\x06\x04\x00\x02\x00\x03"] {
            let body = Bytes::copy_from_slice(raw);
            let mut v = Vec::new();
            read_tlvs(&mut Reader::new(&body), &mut v).unwrap();
            assert_eq!(v, [Tlv::BroadcastRepNum(3)]);
        }
    }

    #[test]
    fn receipted_id_without_nul_is_accepted() {
        let body = Bytes::from_static(b"\x00\x1e\x00\x04ab12");
        let mut v = Vec::new();
        read_tlvs(&mut Reader::new(&body), &mut v).unwrap();
        assert_eq!(v[0], Tlv::ReceiptedMessageId(Bytes::from_static(b"ab12")));
    }
}
