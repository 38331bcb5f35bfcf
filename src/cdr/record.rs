//! One CDR record and its binary encoding.
//!
//! A record is written per SMS segment ([`RecordKind::Submit`]) and again
//! when its final delivery receipt comes back ([`RecordKind::Receipt`]).
//! It holds no message text, no UDH, no passwords and no phone numbers:
//! numbers appear only as pseudonyms ([`super::pseudonym`]).
//!
//! # Encoding (schema version 2)
//!
//! In a partition file each record is a frame
//! `u32 LE payload length | u32 LE CRC-32C (Castagnoli) of the payload | payload`
//! (schema 1, still read, checksummed with CRC-32 (IEEE); its payloads are
//! the same). A payload is one of two layouts, all integers little-endian.
//!
//! **Full** (kind 1 submit, or kind 2 receipt):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 1 | kind (1 submit, 2 receipt) |
//! | 1 | 1 | account length `A` (≤ 255) |
//! | 2 | A | account SID, UTF-8 |
//! | 2+A | 8 | gateway_id |
//! | +8 | 8 | submit_time_ms |
//! | +16 | 8 | final_time_ms |
//! | +24 | 8 | receipt_by_s |
//! | +32 | 4 | submit_status |
//! | +36 | 4 | carrier_latency_us |
//! | +40 | 4 | key_id |
//! | +44 | 2 | country_code |
//! | +46 | 2 | error_code |
//! | +48 | 1 | segment |
//! | +49 | 1 | segments |
//! | +50 | 1 | data_coding class |
//! | +51 | 1 | verdict |
//! | +52 | 1 | receipt state |
//! | +53 | 1 | flags: bit 0 source, bit 1 dest, bit 2 carrier, bit 3 route prefix present |
//! | +54 | 16 | source pseudonym, if flagged |
//! | | 16 | dest pseudonym, if flagged |
//! | | 1+n | carrier: length, UTF-8, if flagged |
//! | | 1+n | route prefix: length, UTF-8, if flagged |
//! | | 1 | rule count `R` (≤ [`MAX_RULES`]) |
//! | | R×(1+n) | rule ids: length, UTF-8 |
//!
//! **Receipt** (kind 3, schema 2 only): what a final receipt adds to its
//! submit record, and nothing else. The gateway writes one per receipt.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 1 | kind (3) |
//! | 1 | 1 | account length `A` |
//! | 2 | A | account SID, UTF-8 |
//! | 2+A | 8 | gateway_id |
//! | +8 | 8 | time of the receipt, unix ms |
//! | +16 | 2 | error_code |
//! | +18 | 1 | receipt state |
//! | +19 | 1+n | carrier: length, UTF-8 |
//!
//! It reads as a [`RecordKind::Receipt`] whose other fields are the
//! defaults a full receipt record would carry (submit time = receipt time,
//! segment 1 of 1, data coding `other`, no verdict, no rules, zeros, no
//! pseudonyms or route prefix). An encoder writes this layout exactly when
//! a receipt record has those defaults, so every record decodes to what
//! was encoded. Framed, a receipt for account `bench` from carrier `smsc`
//! (the load bench's) takes 39 bytes in this layout and 75 in the full one.
//!
//! The account comes first so that a scan can skip other accounts' records
//! without decoding the rest ([`peek_account`]). Strings longer than 255
//! bytes are cut at a character boundary (account SIDs are SMPP
//! `system_id`s of at most 15 octets; carriers and rule ids are config names).

use std::fmt;
use std::sync::Arc;

/// The schema version written in every partition file header.
pub const SCHEMA_VERSION: u16 = 2;

/// The checksum of a frame's payload in a partition of schema `version`:
/// CRC-32 (IEEE) in schema 1, CRC-32C from schema 2 on.
#[inline]
pub fn frame_checksum(version: u16, payload: &[u8]) -> u32 {
    if version >= 2 {
        crc32c::crc32c(payload)
    } else {
        crc32fast::hash(payload)
    }
}

/// At most this many rule ids are stored per record; more are cut.
pub const MAX_RULES: usize = 32;

/// The largest payload an encoder can produce (all strings at their
/// maximum), used by readers to reject a corrupt length before buffering.
pub const MAX_PAYLOAD: usize = FIXED_START + FIXED_LEN + 32 + 2 * 256 + 1 + MAX_RULES * 256 + 255;

const FIXED_START: usize = 2;
const FIXED_LEN: usize = 54;
const MAX_STR: usize = 255;

/// The kind byte of the receipt layout (see the [module docs](self)).
const KIND_RECEIPT_SHORT: u8 = 3;
/// The receipt layout after the account: gateway id, time, error, state.
const SHORT_LEN: usize = 19;

const FLAG_SOURCE: u8 = 1;
const FLAG_DEST: u8 = 2;
const FLAG_CARRIER: u8 = 4;
const FLAG_ROUTE: u8 = 8;

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $str:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )+
        }

        impl $name {
            /// Every value, in wire order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The snake_case name used in exports and reports.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $str, )+
                }
            }

            /// The value with this wire number, if any.
            pub fn from_u8(v: u8) -> Option<Self> {
                match v {
                    $( $value => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// The value with this [`as_str`](Self::as_str) name, if any.
            pub fn from_name(s: &str) -> Option<Self> {
                match s {
                    $( $str => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// What a record says.
    RecordKind {
        /// The carrier answered the submit, or it failed or was blocked.
        Submit = 1 => "submit",
        /// The final delivery receipt came back; refers to the Submit record
        /// with the same account and gateway id.
        Receipt = 2 => "receipt",
    }
}

wire_enum! {
    /// The alphabet class of a segment's `data_coding` (SMPP 3.4 §5.2.19,
    /// GSM 03.38 §4 coding groups).
    DataCodingClass {
        /// GSM 03.38 default alphabet.
        Gsm7 = 0 => "gsm7",
        /// IA5 / ASCII.
        Ascii = 1 => "ascii",
        /// ISO-8859-1.
        Latin1 = 2 => "latin1",
        /// UCS-2.
        Ucs2 = 3 => "ucs2",
        /// 8-bit binary.
        Binary = 4 => "binary",
        /// Anything else (national alphabets, compressed, reserved).
        Other = 5 => "other",
    }
}

wire_enum! {
    /// The content filter's decision about the segment.
    Verdict {
        /// The filter did not look at it.
        NotFiltered = 0 => "not_filtered",
        /// Allowed.
        Allow = 1 => "allow",
        /// Allowed and flagged for review.
        Flag = 2 => "flag",
        /// Blocked; never sent to a carrier.
        Block = 3 => "block",
    }
}

wire_enum! {
    /// A segment's delivery receipt state.
    ReceiptState {
        /// The ESME asked for no receipt.
        NotRequested = 0 => "not_requested",
        /// A receipt is expected but has not come back.
        Pending = 1 => "pending",
        /// `DELIVRD` (message_state 2).
        Delivered = 2 => "delivered",
        /// `EXPIRED` (3).
        Expired = 3 => "expired",
        /// `DELETED` (4).
        Deleted = 4 => "deleted",
        /// `UNDELIV` (5).
        Undeliverable = 5 => "undeliverable",
        /// `ACCEPTD` (6).
        Accepted = 6 => "accepted",
        /// `UNKNOWN` (7).
        Unknown = 7 => "unknown",
        /// `REJECTD` (8).
        Rejected = 8 => "rejected",
        /// A receipt was expected but none came back before its DLR mapping
        /// expired. Only produced by readers (see [`super::query::Row`]).
        NoReceipt = 9 => "no_receipt",
    }
}

impl DataCodingClass {
    /// Classifies an SMPP `data_coding` octet as the codec reads it
    /// ([`telegate_smpp::text::Alphabet::from_data_coding`]: SMPP 3.4
    /// §5.2.19, reserved values by the GSM 03.38 coding groups).
    pub fn from_data_coding(dc: u8) -> Self {
        use telegate_smpp::text::Alphabet;
        match Alphabet::from_data_coding(dc) {
            Alphabet::Gsm7 => DataCodingClass::Gsm7,
            Alphabet::Ascii => DataCodingClass::Ascii,
            Alphabet::Latin1 => DataCodingClass::Latin1,
            Alphabet::Ucs2 => DataCodingClass::Ucs2,
            Alphabet::Binary => DataCodingClass::Binary,
            Alphabet::Cyrillic | Alphabet::Hebrew | Alphabet::Other(_) => DataCodingClass::Other,
        }
    }
}

impl ReceiptState {
    /// The state for an SMPP `message_state` (§5.2.28): 2..=8 map to
    /// [`Delivered`](Self::Delivered)..[`Rejected`](Self::Rejected);
    /// anything else (enroute, unknown values) is [`Unknown`](Self::Unknown).
    pub fn from_message_state(state: u8) -> Self {
        match state {
            2 => ReceiptState::Delivered,
            3 => ReceiptState::Expired,
            4 => ReceiptState::Deleted,
            5 => ReceiptState::Undeliverable,
            6 => ReceiptState::Accepted,
            8 => ReceiptState::Rejected,
            _ => ReceiptState::Unknown,
        }
    }

    /// Whether the state is a final receipt outcome (not "no receipt
    /// asked", "pending" or "none came").
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            ReceiptState::NotRequested | ReceiptState::Pending | ReceiptState::NoReceipt
        )
    }
}

/// One CDR record, owned: what the gateway hands to the writer. See the
/// [module docs](self) for what each kind means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Submit or receipt.
    pub kind: RecordKind,
    /// Unix ms when the ESME's submit came in.
    pub submit_time_ms: u64,
    /// Unix ms: Submit → when the carrier answered (or the submit failed);
    /// Receipt → when the receipt came.
    pub final_time_ms: u64,
    /// The account SID.
    pub account: Arc<str>,
    /// The gateway's message id (as sent to the ESME).
    pub gateway_id: u64,
    /// The carrier it went to, if any.
    pub carrier: Option<Arc<str>>,
    /// The matched route prefix (digits, may be empty).
    pub route_prefix: Option<Arc<str>>,
    /// E.164 country calling code of the destination, 0 = unknown.
    pub country_code: u16,
    /// 1-based segment index; 1 for single messages.
    pub segment: u8,
    /// Segment count; 1 for single messages.
    pub segments: u8,
    /// Alphabet class of the segment.
    pub data_coding: DataCodingClass,
    /// Content filter verdict.
    pub verdict: Verdict,
    /// Filter rule ids that hit (usually none); at most [`MAX_RULES`] are kept.
    pub rules: Vec<Arc<str>>,
    /// SMPP command_status answered to the ESME (0 = OK).
    pub submit_status: u32,
    /// Submit: not requested, pending, or a state if known; Receipt: the
    /// final state.
    pub receipt: ReceiptState,
    /// Receipt `err:` code or network error code, 0 if none.
    pub error_code: u16,
    /// submit_sm → submit_sm_resp at the carrier in µs, 0 if none.
    pub carrier_latency_us: u32,
    /// Submit with a pending receipt: unix seconds after which no receipt
    /// is expected (the DLR mapping's expiry); otherwise 0.
    pub receipt_by_s: u64,
    /// The pseudonym key's id ([`super::pseudonym::Pseudonymizer::key_id`]).
    pub key_id: u32,
    /// Pseudonym of the source address.
    pub source: Option<[u8; 16]>,
    /// Pseudonym of the destination address.
    pub dest: Option<[u8; 16]>,
}

/// Why a payload could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad CDR record: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// `s` cut to at most `max` bytes at a character boundary.
fn clamp(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let s = clamp(s, MAX_STR);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

/// A record with its strings borrowed: the same fields as [`Record`], for
/// encoding without cloning anything. The gateway builds one on the stack
/// at a message's outcome and encodes it straight into the writer's queue
/// ([`super::store::CdrPermit::write_ref`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Submit or receipt.
    pub kind: RecordKind,
    /// Unix ms when the ESME's submit came in.
    pub submit_time_ms: u64,
    /// Unix ms of the carrier's answer (Submit) or the receipt (Receipt).
    pub final_time_ms: u64,
    /// The account SID.
    pub account: &'a str,
    /// The gateway's message id.
    pub gateway_id: u64,
    /// The carrier it went to, if any.
    pub carrier: Option<&'a str>,
    /// The matched route prefix.
    pub route_prefix: Option<&'a str>,
    /// E.164 country calling code of the destination, 0 = unknown.
    pub country_code: u16,
    /// 1-based segment index.
    pub segment: u8,
    /// Segment count.
    pub segments: u8,
    /// Alphabet class of the segment.
    pub data_coding: DataCodingClass,
    /// Content filter verdict.
    pub verdict: Verdict,
    /// Filter rule ids that hit; at most [`MAX_RULES`] are kept.
    pub rules: &'a [Arc<str>],
    /// SMPP command_status answered to the ESME.
    pub submit_status: u32,
    /// Receipt state.
    pub receipt: ReceiptState,
    /// Receipt or network error code, 0 if none.
    pub error_code: u16,
    /// Carrier latency in µs, 0 if none.
    pub carrier_latency_us: u32,
    /// Unix seconds after which no receipt is expected, 0 if none.
    pub receipt_by_s: u64,
    /// The pseudonym key's id.
    pub key_id: u32,
    /// Pseudonym of the source address.
    pub source: Option<[u8; 16]>,
    /// Pseudonym of the destination address.
    pub dest: Option<[u8; 16]>,
}

impl<'a> RecordRef<'a> {
    /// The record of a final receipt `at_ms` (unix ms): what the receipt
    /// adds to its message's submit record, every other field at its
    /// default. The short receipt layout holds exactly these.
    pub fn receipt(
        account: &'a str,
        carrier: &'a str,
        gateway_id: u64,
        at_ms: u64,
        receipt: ReceiptState,
        error_code: u16,
    ) -> RecordRef<'a> {
        RecordRef {
            kind: RecordKind::Receipt,
            submit_time_ms: at_ms,
            final_time_ms: at_ms,
            account,
            gateway_id,
            carrier: Some(carrier),
            route_prefix: None,
            country_code: 0,
            segment: 1,
            segments: 1,
            data_coding: DataCodingClass::Other,
            verdict: Verdict::NotFiltered,
            rules: &[],
            submit_status: 0,
            receipt,
            error_code,
            carrier_latency_us: 0,
            receipt_by_s: 0,
            key_id: 0,
            source: None,
            dest: None,
        }
    }

    /// The carrier, when the record is one [`receipt`](Self::receipt)
    /// makes, which the short receipt layout holds whole.
    fn short_receipt(&self) -> Option<&'a str> {
        if self.kind != RecordKind::Receipt {
            return None;
        }
        let carrier = self.carrier?;
        let plain = RecordRef::receipt(
            self.account,
            carrier,
            self.gateway_id,
            self.final_time_ms,
            self.receipt,
            self.error_code,
        );
        // A carrier cut to 255 bytes would not decode to the same record.
        (*self == plain && carrier.len() <= MAX_STR).then_some(carrier)
    }

    /// Appends the record's payload (see the [module docs](self)) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let account = clamp(self.account, MAX_STR);
        if let Some(carrier) = self.short_receipt() {
            out.reserve(FIXED_START + account.len() + SHORT_LEN + 1 + carrier.len());
            out.push(KIND_RECEIPT_SHORT);
            out.push(account.len() as u8);
            out.extend_from_slice(account.as_bytes());
            let mut f = [0u8; SHORT_LEN];
            f[0..8].copy_from_slice(&self.gateway_id.to_le_bytes());
            f[8..16].copy_from_slice(&self.final_time_ms.to_le_bytes());
            f[16..18].copy_from_slice(&self.error_code.to_le_bytes());
            f[18] = self.receipt as u8;
            out.extend_from_slice(&f);
            put_str(out, carrier);
            return;
        }
        out.reserve(FIXED_START + account.len() + FIXED_LEN + 40);
        out.push(self.kind as u8);
        out.push(account.len() as u8);
        out.extend_from_slice(account.as_bytes());

        let mut flags = 0u8;
        if self.source.is_some() {
            flags |= FLAG_SOURCE;
        }
        if self.dest.is_some() {
            flags |= FLAG_DEST;
        }
        if self.carrier.is_some() {
            flags |= FLAG_CARRIER;
        }
        if self.route_prefix.is_some() {
            flags |= FLAG_ROUTE;
        }
        let mut f = [0u8; FIXED_LEN];
        f[0..8].copy_from_slice(&self.gateway_id.to_le_bytes());
        f[8..16].copy_from_slice(&self.submit_time_ms.to_le_bytes());
        f[16..24].copy_from_slice(&self.final_time_ms.to_le_bytes());
        f[24..32].copy_from_slice(&self.receipt_by_s.to_le_bytes());
        f[32..36].copy_from_slice(&self.submit_status.to_le_bytes());
        f[36..40].copy_from_slice(&self.carrier_latency_us.to_le_bytes());
        f[40..44].copy_from_slice(&self.key_id.to_le_bytes());
        f[44..46].copy_from_slice(&self.country_code.to_le_bytes());
        f[46..48].copy_from_slice(&self.error_code.to_le_bytes());
        f[48] = self.segment;
        f[49] = self.segments;
        f[50] = self.data_coding as u8;
        f[51] = self.verdict as u8;
        f[52] = self.receipt as u8;
        f[53] = flags;
        out.extend_from_slice(&f);

        if let Some(s) = &self.source {
            out.extend_from_slice(s);
        }
        if let Some(d) = &self.dest {
            out.extend_from_slice(d);
        }
        if let Some(c) = self.carrier {
            put_str(out, c);
        }
        if let Some(r) = self.route_prefix {
            put_str(out, r);
        }
        let n = self.rules.len().min(MAX_RULES);
        out.push(n as u8);
        for rule in &self.rules[..n] {
            put_str(out, rule);
        }
    }

    /// Appends the record as a whole frame of the current schema: length,
    /// CRC-32C, payload.
    pub fn encode_frame(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0u8; 8]);
        self.encode(out);
        let payload = &out[start + 8..];
        let len = payload.len() as u32;
        let crc = frame_checksum(SCHEMA_VERSION, payload);
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }
}

impl From<RecordRef<'_>> for Record {
    fn from(r: RecordRef<'_>) -> Record {
        Record {
            kind: r.kind,
            submit_time_ms: r.submit_time_ms,
            final_time_ms: r.final_time_ms,
            account: Arc::from(r.account),
            gateway_id: r.gateway_id,
            carrier: r.carrier.map(Arc::from),
            route_prefix: r.route_prefix.map(Arc::from),
            country_code: r.country_code,
            segment: r.segment,
            segments: r.segments,
            data_coding: r.data_coding,
            verdict: r.verdict,
            rules: r.rules.to_vec(),
            submit_status: r.submit_status,
            receipt: r.receipt,
            error_code: r.error_code,
            carrier_latency_us: r.carrier_latency_us,
            receipt_by_s: r.receipt_by_s,
            key_id: r.key_id,
            source: r.source,
            dest: r.dest,
        }
    }
}

impl Record {
    /// The record with its strings borrowed.
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            kind: self.kind,
            submit_time_ms: self.submit_time_ms,
            final_time_ms: self.final_time_ms,
            account: &self.account,
            gateway_id: self.gateway_id,
            carrier: self.carrier.as_deref(),
            route_prefix: self.route_prefix.as_deref(),
            country_code: self.country_code,
            segment: self.segment,
            segments: self.segments,
            data_coding: self.data_coding,
            verdict: self.verdict,
            rules: &self.rules,
            submit_status: self.submit_status,
            receipt: self.receipt,
            error_code: self.error_code,
            carrier_latency_us: self.carrier_latency_us,
            receipt_by_s: self.receipt_by_s,
            key_id: self.key_id,
            source: self.source,
            dest: self.dest,
        }
    }

    /// Appends the record's payload (see the [module docs](self)) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.as_ref().encode(out);
    }

    /// Appends the record as a whole frame of the current schema: length,
    /// CRC-32C, payload.
    pub fn encode_frame(&self, out: &mut Vec<u8>) {
        self.as_ref().encode_frame(out);
    }

    /// Decodes an owned record from a payload.
    pub fn decode(payload: &[u8]) -> Result<Record, DecodeError> {
        Ok(RecordView::parse(payload)?.to_record())
    }
}

/// The account bytes of a payload without decoding anything else; `None`
/// if the payload is too short. For scans that skip other accounts.
#[inline]
pub fn peek_account(payload: &[u8]) -> Option<&[u8]> {
    let len = usize::from(*payload.get(1)?);
    payload.get(FIXED_START..FIXED_START + len)
}

/// Whether a payload's account is `account`, without decoding anything
/// else: what a scan for one account asks of every record, so the last
/// eight bytes (where sequential SIDs differ) are compared first.
#[inline]
pub fn is_account(payload: &[u8], account: &[u8]) -> bool {
    let Some(got) = peek_account(payload) else {
        return false;
    };
    if got.len() != account.len() {
        return false;
    }
    if let (Some(a), Some(b)) = (got.last_chunk::<8>(), account.last_chunk::<8>()) {
        if a != b {
            return false;
        }
    }
    got == account
}

/// The kind byte of a payload without decoding anything else.
#[inline]
pub fn peek_kind(payload: &[u8]) -> Option<RecordKind> {
    match *payload.first()? {
        KIND_RECEIPT_SHORT => Some(RecordKind::Receipt),
        b => RecordKind::from_u8(b),
    }
}

/// A record decoded in place from a payload: scalars copied out, strings
/// borrowed. [`to_record`](Self::to_record) makes an owned [`Record`].
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    kind: RecordKind,
    account: &'a str,
    /// The full layout's fixed fields (for a short receipt, the values it
    /// stands for).
    fixed: [u8; FIXED_LEN],
    data_coding: DataCodingClass,
    verdict: Verdict,
    receipt: ReceiptState,
    source: Option<&'a [u8; 16]>,
    dest: Option<&'a [u8; 16]>,
    carrier: Option<&'a str>,
    route_prefix: Option<&'a str>,
    rule_count: u8,
    rules: &'a [u8],
}

/// A bounded reader over a payload.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError(what))?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError(what))?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let n = usize::from(self.u8(what)?);
        std::str::from_utf8(self.take(n, what)?).map_err(|_| DecodeError(what))
    }

    fn arr16(&mut self, what: &'static str) -> Result<&'a [u8; 16], DecodeError> {
        self.take(16, what)?
            .try_into()
            .map_err(|_| DecodeError(what))
    }
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

impl<'a> RecordView<'a> {
    /// Decodes and validates a payload (every enum known, every length in
    /// bounds, strings UTF-8, no trailing bytes).
    pub fn parse(payload: &'a [u8]) -> Result<RecordView<'a>, DecodeError> {
        let mut r = Reader {
            buf: payload,
            pos: 0,
        };
        let kind_byte = r.u8("kind")?;
        if kind_byte == KIND_RECEIPT_SHORT {
            return RecordView::parse_short_receipt(r);
        }
        let kind = RecordKind::from_u8(kind_byte).ok_or(DecodeError("unknown kind"))?;
        let account = r.str("account")?;
        let fixed = <[u8; FIXED_LEN]>::try_from(r.take(FIXED_LEN, "fixed fields")?)
            .map_err(|_| DecodeError("fixed fields"))?;
        let data_coding =
            DataCodingClass::from_u8(fixed[50]).ok_or(DecodeError("unknown data coding"))?;
        let verdict = Verdict::from_u8(fixed[51]).ok_or(DecodeError("unknown verdict"))?;
        let receipt = ReceiptState::from_u8(fixed[52]).ok_or(DecodeError("unknown receipt"))?;
        let flags = fixed[53];
        if flags & !(FLAG_SOURCE | FLAG_DEST | FLAG_CARRIER | FLAG_ROUTE) != 0 {
            return Err(DecodeError("unknown flags"));
        }
        let source = if flags & FLAG_SOURCE != 0 {
            Some(r.arr16("source")?)
        } else {
            None
        };
        let dest = if flags & FLAG_DEST != 0 {
            Some(r.arr16("dest")?)
        } else {
            None
        };
        let carrier = if flags & FLAG_CARRIER != 0 {
            Some(r.str("carrier")?)
        } else {
            None
        };
        let route_prefix = if flags & FLAG_ROUTE != 0 {
            Some(r.str("route prefix")?)
        } else {
            None
        };
        let rule_count = r.u8("rule count")?;
        if usize::from(rule_count) > MAX_RULES {
            return Err(DecodeError("too many rules"));
        }
        let rules_start = r.pos;
        for _ in 0..rule_count {
            r.str("rule")?;
        }
        let rules = &payload[rules_start..r.pos];
        if r.pos != payload.len() {
            return Err(DecodeError("trailing bytes"));
        }
        Ok(RecordView {
            kind,
            account,
            fixed,
            data_coding,
            verdict,
            receipt,
            source,
            dest,
            carrier,
            route_prefix,
            rule_count,
            rules,
        })
    }

    /// The rest of a short receipt (see the [module docs](self)), its kind
    /// byte read.
    fn parse_short_receipt(mut r: Reader<'a>) -> Result<RecordView<'a>, DecodeError> {
        let account = r.str("account")?;
        let f = r.take(SHORT_LEN, "receipt fields")?;
        let receipt = ReceiptState::from_u8(f[18]).ok_or(DecodeError("unknown receipt"))?;
        let carrier = r.str("carrier")?;
        if r.pos != r.buf.len() {
            return Err(DecodeError("trailing bytes"));
        }
        let mut fixed = [0u8; FIXED_LEN];
        fixed[0..8].copy_from_slice(&f[0..8]);
        // Submit time and final time: both the receipt's.
        fixed[8..16].copy_from_slice(&f[8..16]);
        fixed[16..24].copy_from_slice(&f[8..16]);
        fixed[46..48].copy_from_slice(&f[16..18]);
        fixed[48] = 1;
        fixed[49] = 1;
        fixed[50] = DataCodingClass::Other as u8;
        fixed[51] = Verdict::NotFiltered as u8;
        fixed[52] = receipt as u8;
        fixed[53] = FLAG_CARRIER;
        Ok(RecordView {
            kind: RecordKind::Receipt,
            account,
            fixed,
            data_coding: DataCodingClass::Other,
            verdict: Verdict::NotFiltered,
            receipt,
            source: None,
            dest: None,
            carrier: Some(carrier),
            route_prefix: None,
            rule_count: 0,
            rules: &[],
        })
    }

    /// Submit or receipt.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }
    /// The account SID.
    pub fn account(&self) -> &'a str {
        self.account
    }
    /// The gateway's message id.
    pub fn gateway_id(&self) -> u64 {
        le_u64(&self.fixed[0..8])
    }
    /// Unix ms when the ESME's submit came in.
    pub fn submit_time_ms(&self) -> u64 {
        le_u64(&self.fixed[8..16])
    }
    /// Unix ms of the carrier's answer (Submit) or the receipt (Receipt).
    pub fn final_time_ms(&self) -> u64 {
        le_u64(&self.fixed[16..24])
    }
    /// Unix seconds after which no receipt is expected, 0 if none.
    pub fn receipt_by_s(&self) -> u64 {
        le_u64(&self.fixed[24..32])
    }
    /// command_status answered to the ESME.
    pub fn submit_status(&self) -> u32 {
        le_u32(&self.fixed[32..36])
    }
    /// Carrier latency in µs.
    pub fn carrier_latency_us(&self) -> u32 {
        le_u32(&self.fixed[36..40])
    }
    /// Pseudonym key id.
    pub fn key_id(&self) -> u32 {
        le_u32(&self.fixed[40..44])
    }
    /// Destination country calling code, 0 = unknown.
    pub fn country_code(&self) -> u16 {
        le_u16(&self.fixed[44..46])
    }
    /// Receipt / network error code.
    pub fn error_code(&self) -> u16 {
        le_u16(&self.fixed[46..48])
    }
    /// 1-based segment index.
    pub fn segment(&self) -> u8 {
        self.fixed[48]
    }
    /// Segment count.
    pub fn segments(&self) -> u8 {
        self.fixed[49]
    }
    /// Alphabet class.
    pub fn data_coding(&self) -> DataCodingClass {
        self.data_coding
    }
    /// Filter verdict.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }
    /// Receipt state as recorded.
    pub fn receipt(&self) -> ReceiptState {
        self.receipt
    }
    /// Source pseudonym.
    pub fn source(&self) -> Option<&'a [u8; 16]> {
        self.source
    }
    /// Destination pseudonym.
    pub fn dest(&self) -> Option<&'a [u8; 16]> {
        self.dest
    }
    /// Carrier name.
    pub fn carrier(&self) -> Option<&'a str> {
        self.carrier
    }
    /// Matched route prefix.
    pub fn route_prefix(&self) -> Option<&'a str> {
        self.route_prefix
    }
    /// The filter rule ids that hit.
    pub fn rules(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut rest = self.rules;
        (0..self.rule_count).map(move |_| {
            let n = usize::from(rest[0]);
            let s = &rest[1..1 + n];
            rest = &rest[1 + n..];
            // Validated by `parse`.
            std::str::from_utf8(s).unwrap_or_default()
        })
    }

    /// An owned copy.
    pub fn to_record(&self) -> Record {
        Record {
            kind: self.kind,
            submit_time_ms: self.submit_time_ms(),
            final_time_ms: self.final_time_ms(),
            account: Arc::from(self.account),
            gateway_id: self.gateway_id(),
            carrier: self.carrier.map(Arc::from),
            route_prefix: self.route_prefix.map(Arc::from),
            country_code: self.country_code(),
            segment: self.segment(),
            segments: self.segments(),
            data_coding: self.data_coding,
            verdict: self.verdict,
            rules: self.rules().map(Arc::from).collect(),
            submit_status: self.submit_status(),
            receipt: self.receipt,
            error_code: self.error_code(),
            carrier_latency_us: self.carrier_latency_us(),
            receipt_by_s: self.receipt_by_s(),
            key_id: self.key_id(),
            source: self.source.copied(),
            dest: self.dest.copied(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn rand_str(rng: &mut StdRng, max: usize) -> String {
        let n = rng.gen_range(0..=max);
        (0..n)
            .map(|_| match rng.gen_range(0..4) {
                0 => 'é',
                1 => '€',
                _ => rng.gen_range(b'a'..=b'z') as char,
            })
            .collect()
    }

    /// A receipt record as the gateway writes it: the short layout's.
    fn gateway_receipt(account: &str, carrier: &str, gid: u64, at_ms: u64) -> Record {
        RecordRef::receipt(account, carrier, gid, at_ms, ReceiptState::Delivered, 0).into()
    }

    /// A random record; strings within the encodable limits. One in four
    /// is a receipt as the gateway writes it (the short layout).
    pub(crate) fn random_record(rng: &mut StdRng) -> Record {
        let pick = |rng: &mut StdRng, all: &[u8]| all[rng.gen_range(0..all.len())];
        if rng.gen_bool(0.25) {
            let mut r =
                gateway_receipt(&rand_str(rng, 20), &rand_str(rng, 30), rng.gen(), rng.gen());
            r.receipt = ReceiptState::from_u8(rng.gen_range(0..10)).unwrap();
            r.error_code = rng.gen();
            return r;
        }
        Record {
            kind: RecordKind::from_u8(rng.gen_range(1..=2)).unwrap(),
            submit_time_ms: rng.gen(),
            final_time_ms: rng.gen(),
            account: Arc::from(rand_str(rng, 20)),
            gateway_id: rng.gen(),
            carrier: rng.gen_bool(0.7).then(|| Arc::from(rand_str(rng, 30))),
            route_prefix: rng.gen_bool(0.7).then(|| Arc::from(rand_str(rng, 8))),
            country_code: rng.gen(),
            segment: rng.gen(),
            segments: rng.gen(),
            data_coding: DataCodingClass::from_u8(pick(rng, &[0, 1, 2, 3, 4, 5])).unwrap(),
            verdict: Verdict::from_u8(rng.gen_range(0..4)).unwrap(),
            rules: (0..rng.gen_range(0..4))
                .map(|_| Arc::from(rand_str(rng, 12)))
                .collect(),
            submit_status: rng.gen(),
            receipt: ReceiptState::from_u8(rng.gen_range(0..10)).unwrap(),
            error_code: rng.gen(),
            carrier_latency_us: rng.gen(),
            receipt_by_s: rng.gen(),
            key_id: rng.gen(),
            source: rng.gen_bool(0.8).then(|| rng.gen()),
            dest: rng.gen_bool(0.8).then(|| rng.gen()),
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let mut rng = StdRng::seed_from_u64(0x7e1e_6a7e);
        let mut buf = Vec::new();
        for _ in 0..5000 {
            let r = random_record(&mut rng);
            buf.clear();
            r.encode(&mut buf);
            assert!(buf.len() <= MAX_PAYLOAD);
            let view = RecordView::parse(&buf).unwrap();
            assert_eq!(view.to_record(), r);
            assert_eq!(peek_account(&buf), Some(r.account.as_bytes()));
            assert_eq!(peek_kind(&buf), Some(r.kind));
            let account = r.account.as_bytes();
            assert!(is_account(&buf, account));
            let mut other = account.to_vec();
            if let Some(b) = other.first_mut() {
                *b ^= 1;
                assert!(!is_account(&buf, &other));
                other.copy_from_slice(account);
                *other.last_mut().unwrap() ^= 1;
                assert!(!is_account(&buf, &other));
            }
            assert!(!is_account(&buf, &[account, b"x"].concat()));
        }
    }

    #[test]
    fn frame_has_length_and_crc() {
        let mut rng = StdRng::seed_from_u64(1);
        let r = random_record(&mut rng);
        let mut frame = Vec::new();
        r.encode_frame(&mut frame);
        let len = u32::from_le_bytes(frame[0..4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(frame[4..8].try_into().unwrap());
        assert_eq!(len, frame.len() - 8);
        assert_eq!(crc, crc32c::crc32c(&frame[8..]));
        assert_eq!(Record::decode(&frame[8..]).unwrap(), r);
    }

    /// The check values of both CRCs (the CRC catalogue's, for the ASCII
    /// digits 1 to 9): CRC-32 (IEEE) 0xCBF43926, CRC-32C 0xE3069283.
    #[test]
    fn frame_checksums_are_the_catalogued_crcs() {
        assert_eq!(frame_checksum(1, b"123456789"), 0xCBF4_3926);
        assert_eq!(frame_checksum(2, b"123456789"), 0xE306_9283);
        assert_eq!(frame_checksum(SCHEMA_VERSION, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn a_gateway_receipt_takes_the_short_layout() {
        let mut r = gateway_receipt("acme", "smsc1", 0x0102_0304_0506_0708, 1_700_000_000_123);
        r.receipt = ReceiptState::Undeliverable;
        r.error_code = 0x0a0b;
        let mut buf = Vec::new();
        r.encode(&mut buf);
        let mut want = vec![3, 4];
        want.extend_from_slice(b"acme");
        want.extend_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
        want.extend_from_slice(&1_700_000_000_123u64.to_le_bytes());
        want.extend_from_slice(&0x0a0bu16.to_le_bytes());
        want.push(ReceiptState::Undeliverable as u8);
        want.push(5);
        want.extend_from_slice(b"smsc1");
        assert_eq!(buf, want);
        assert_eq!(Record::decode(&buf).unwrap(), r);
        assert_eq!(peek_kind(&buf), Some(RecordKind::Receipt));
        assert!(is_account(&buf, b"acme"));
        // Whole frame: 8 + 31 bytes, against 75 in the full layout.
        let mut frame = Vec::new();
        r.encode_frame(&mut frame);
        assert_eq!(frame.len(), 39);

        assert_cut_and_trailing_rejected(&buf);
        let mut bad_state = buf.clone();
        bad_state[2 + 4 + 18] = 77;
        assert_eq!(
            RecordView::parse(&bad_state).unwrap_err(),
            DecodeError("unknown receipt")
        );
    }

    /// A receipt record with any field the short layout leaves out set to
    /// something else keeps the full layout, and decodes to itself.
    #[test]
    fn a_receipt_with_more_keeps_the_full_layout() {
        let base = gateway_receipt("acme", "smsc1", 9, 1_700_000_000_000);
        let changes: &[fn(&mut Record)] = &[
            |r| r.submit_time_ms -= 1,
            |r| r.carrier = None,
            |r| r.route_prefix = Some(Arc::from("44")),
            |r| r.country_code = 44,
            |r| r.segment = 2,
            |r| r.segments = 3,
            |r| r.data_coding = DataCodingClass::Gsm7,
            |r| r.verdict = Verdict::Flag,
            |r| r.rules = vec![Arc::from("kw")],
            |r| r.submit_status = 0x45,
            |r| r.carrier_latency_us = 1,
            |r| r.receipt_by_s = 1,
            |r| r.key_id = 1,
            |r| r.source = Some([1; 16]),
            |r| r.dest = Some([2; 16]),
            |r| r.carrier = Some(Arc::from("c".repeat(300))),
            |r| r.kind = RecordKind::Submit,
        ];
        let mut buf = Vec::new();
        base.encode(&mut buf);
        assert_eq!(buf[0], 3);
        for (i, change) in changes.iter().enumerate() {
            let mut r = base.clone();
            change(&mut r);
            buf.clear();
            r.encode(&mut buf);
            assert_ne!(buf[0], 3, "change {i}");
            let back = Record::decode(&buf).unwrap();
            if r.carrier.as_ref().is_some_and(|c| c.len() > 255) {
                assert_eq!(back.carrier.as_deref().map(str::len), Some(255));
            } else {
                assert_eq!(back, r, "change {i}");
            }
        }
    }

    #[test]
    fn long_strings_are_cut_at_char_boundaries() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut r = random_record(&mut rng);
        r.account = Arc::from("é".repeat(200)); // 400 bytes
        r.rules = (0..40).map(|i| Arc::from(format!("rule{i}"))).collect();
        let mut buf = Vec::new();
        r.encode(&mut buf);
        let back = Record::decode(&buf).unwrap();
        assert_eq!(back.account.len(), 254);
        assert_eq!(&*back.account, "é".repeat(127));
        assert_eq!(back.rules.len(), MAX_RULES);
        assert_eq!(&*back.rules[31], "rule31");
    }

    /// Every cut of a good payload, and the payload with a byte more, are
    /// rejected.
    fn assert_cut_and_trailing_rejected(buf: &[u8]) {
        for cut in 0..buf.len() {
            assert!(RecordView::parse(&buf[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = buf.to_vec();
        trailing.push(0);
        assert!(RecordView::parse(&trailing).is_err());
    }

    #[test]
    fn bad_payloads_are_rejected() {
        let mut rng = StdRng::seed_from_u64(3);
        let r = random_record(&mut rng);
        let mut buf = Vec::new();
        r.encode(&mut buf);
        assert_cut_and_trailing_rejected(&buf);
        let mut bad_kind = buf.clone();
        bad_kind[0] = 9;
        assert_eq!(
            RecordView::parse(&bad_kind).unwrap_err(),
            DecodeError("unknown kind")
        );
    }

    #[test]
    fn data_coding_classes() {
        use DataCodingClass::*;
        let cases = [
            (0x00, Gsm7),
            (0x01, Ascii),
            (0x02, Binary),
            (0x03, Latin1),
            (0x04, Binary),
            (0x05, Other),
            (0x08, Ucs2),
            (0x0E, Other),
            (0x11, Gsm7),
            (0x15, Binary),
            (0x18, Ucs2),
            (0x1C, Other),
            (0x20, Other),
            (0x48, Ucs2),
            (0x90, Other),
            (0xC0, Gsm7),
            (0xD3, Gsm7),
            (0xE1, Ucs2),
            (0xF0, Gsm7),
            (0xF3, Gsm7),
            (0xF4, Binary),
            (0xF7, Binary),
        ];
        for (dc, class) in cases {
            assert_eq!(DataCodingClass::from_data_coding(dc), class, "{dc:#04x}");
        }
    }

    #[test]
    fn names_round_trip() {
        for s in ReceiptState::ALL {
            assert_eq!(ReceiptState::from_name(s.as_str()), Some(*s));
            assert_eq!(ReceiptState::from_u8(*s as u8), Some(*s));
        }
        for v in Verdict::ALL {
            assert_eq!(Verdict::from_name(v.as_str()), Some(*v));
        }
        for d in DataCodingClass::ALL {
            assert_eq!(DataCodingClass::from_name(d.as_str()), Some(*d));
        }
        assert_eq!(ReceiptState::from_message_state(2), ReceiptState::Delivered);
        assert_eq!(ReceiptState::from_message_state(8), ReceiptState::Rejected);
        assert_eq!(ReceiptState::from_message_state(1), ReceiptState::Unknown);
        assert_eq!(ReceiptState::NoReceipt.as_str(), "no_receipt");
    }
}
