//! SIP messages (RFC 3261 §7): the start line, the header list and the
//! body, parsed from one frame without copying, and encoded back.
//!
//! Parsing checks the message's structure — start line, header lines,
//! framing by `Content-Length` — and nothing inside the header values:
//! those are parsed when asked for ([`Message::via`], [`Message::cseq`],
//! …), and [`Message::validate`] checks every one the SIP layer relies on.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Limit};
use crate::frame::Limits;
use crate::header::{self, split_list_owned, Auth, CSeq, Contact, MediaType, NameAddr, Via};
use crate::name::{HeaderName, Known};
use crate::scan::{self, find_byte, TOKEN};
use crate::uri::{Scheme, Uri};

macro_rules! methods {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal; )*) => {
        /// A request method (RFC 3261 §7.1; case-sensitive). Extension
        /// methods are [`Method::Other`]; make methods from wire text with
        /// [`Method::from_bytes`], which never returns `Other` for a known
        /// one.
        #[derive(Clone)]
        pub enum Method {
            $( $(#[$doc])* $variant, )*
            /// Any other method token, as written.
            Other(Bytes),
        }

        impl Method {
            /// The method token.
            pub fn as_bytes(&self) -> &[u8] {
                match self {
                    $( Method::$variant => $text, )*
                    Method::Other(b) => b,
                }
            }

            /// The method for wire text (a token).
            pub fn from_bytes(b: Bytes) -> Method {
                Method::known(&b).unwrap_or(Method::Other(b))
            }

            /// The known method `b` spells.
            fn known(b: &[u8]) -> Option<Method> {
                match b {
                    $( $text => Some(Method::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

methods! {
    /// `INVITE`
    Invite = b"INVITE";
    /// `ACK`
    Ack = b"ACK";
    /// `BYE`
    Bye = b"BYE";
    /// `CANCEL`
    Cancel = b"CANCEL";
    /// `OPTIONS`
    Options = b"OPTIONS";
    /// `REGISTER`
    Register = b"REGISTER";
    /// `PRACK` (RFC 3262)
    Prack = b"PRACK";
    /// `SUBSCRIBE` (RFC 6665)
    Subscribe = b"SUBSCRIBE";
    /// `NOTIFY` (RFC 6665)
    Notify = b"NOTIFY";
    /// `PUBLISH` (RFC 3903)
    Publish = b"PUBLISH";
    /// `INFO` (RFC 6086)
    Info = b"INFO";
    /// `REFER` (RFC 3515)
    Refer = b"REFER";
    /// `MESSAGE` (RFC 3428)
    Message = b"MESSAGE";
    /// `UPDATE` (RFC 3311)
    Update = b"UPDATE";
}

impl PartialEq for Method {
    fn eq(&self, other: &Method) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Method {}

impl Hash for Method {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// A response status code, 100–699 (RFC 3261 §7.2, §21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

#[allow(missing_docs)] // the names are the reason phrases of RFC 3261 §21
impl StatusCode {
    pub const TRYING: StatusCode = StatusCode(100);
    pub const RINGING: StatusCode = StatusCode(180);
    pub const SESSION_PROGRESS: StatusCode = StatusCode(183);
    pub const OK: StatusCode = StatusCode(200);
    pub const ACCEPTED: StatusCode = StatusCode(202);
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    pub const UNAUTHORIZED: StatusCode = StatusCode(401);
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405);
    pub const PROXY_AUTHENTICATION_REQUIRED: StatusCode = StatusCode(407);
    pub const REQUEST_TIMEOUT: StatusCode = StatusCode(408);
    pub const UNSUPPORTED_MEDIA_TYPE: StatusCode = StatusCode(415);
    pub const UNSUPPORTED_URI_SCHEME: StatusCode = StatusCode(416);
    pub const BAD_EXTENSION: StatusCode = StatusCode(420);
    pub const TEMPORARILY_UNAVAILABLE: StatusCode = StatusCode(480);
    pub const CALL_DOES_NOT_EXIST: StatusCode = StatusCode(481);
    pub const TOO_MANY_HOPS: StatusCode = StatusCode(483);
    pub const BUSY_HERE: StatusCode = StatusCode(486);
    pub const REQUEST_TERMINATED: StatusCode = StatusCode(487);
    pub const SERVER_INTERNAL_ERROR: StatusCode = StatusCode(500);
    pub const NOT_IMPLEMENTED: StatusCode = StatusCode(501);
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503);
    pub const VERSION_NOT_SUPPORTED: StatusCode = StatusCode(505);
    pub const MESSAGE_TOO_LARGE: StatusCode = StatusCode(513);
    pub const DECLINE: StatusCode = StatusCode(603);
}

impl StatusCode {
    /// The code, if it is in 100–699.
    pub fn new(code: u16) -> Option<StatusCode> {
        (100..=699).contains(&code).then_some(StatusCode(code))
    }

    /// The number.
    pub fn as_u16(self) -> u16 {
        self.0
    }

    /// 1xx.
    pub fn is_provisional(self) -> bool {
        self.0 < 200
    }

    /// 2xx.
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }

    /// 2xx–6xx.
    pub fn is_final(self) -> bool {
        self.0 >= 200
    }

    /// The reason phrase RFC 3261 §21 (and RFC 3262, 3265, 3428, 4412
    /// extensions commonly seen) gives the code, or one for its class.
    pub fn canonical_reason(self) -> &'static str {
        match self.0 {
            100 => "Trying",
            180 => "Ringing",
            181 => "Call Is Being Forwarded",
            182 => "Queued",
            183 => "Session Progress",
            200 => "OK",
            202 => "Accepted",
            300 => "Multiple Choices",
            301 => "Moved Permanently",
            302 => "Moved Temporarily",
            305 => "Use Proxy",
            380 => "Alternative Service",
            400 => "Bad Request",
            401 => "Unauthorized",
            402 => "Payment Required",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            406 => "Not Acceptable",
            407 => "Proxy Authentication Required",
            408 => "Request Timeout",
            410 => "Gone",
            413 => "Request Entity Too Large",
            414 => "Request-URI Too Long",
            415 => "Unsupported Media Type",
            416 => "Unsupported URI Scheme",
            420 => "Bad Extension",
            421 => "Extension Required",
            423 => "Interval Too Brief",
            480 => "Temporarily Unavailable",
            481 => "Call/Transaction Does Not Exist",
            482 => "Loop Detected",
            483 => "Too Many Hops",
            484 => "Address Incomplete",
            485 => "Ambiguous",
            486 => "Busy Here",
            487 => "Request Terminated",
            488 => "Not Acceptable Here",
            491 => "Request Pending",
            493 => "Undecipherable",
            500 => "Server Internal Error",
            501 => "Not Implemented",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Server Time-out",
            505 => "Version Not Supported",
            513 => "Message Too Large",
            600 => "Busy Everywhere",
            603 => "Decline",
            604 => "Does Not Exist Anywhere",
            606 => "Not Acceptable",
            code => match code / 100 {
                1 => "Provisional",
                2 => "Success",
                3 => "Redirection",
                4 => "Client Error",
                5 => "Server Error",
                _ => "Global Failure",
            },
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A SIP-Version, `SIP/major.minor`. Any version parses; only 2.0 passes
/// [`Message::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    /// The major number.
    pub major: u8,
    /// The minor number.
    pub minor: u8,
}

impl Version {
    /// `SIP/2.0`.
    pub const SIP_2_0: Version = Version { major: 2, minor: 0 };

    /// `"SIP" "/" 1*DIGIT "." 1*DIGIT` ("SIP" in any case; each number at
    /// most 255 here).
    fn parse(s: &[u8]) -> Option<Version> {
        let (sip, rest) = s.split_at_checked(4)?;
        if !sip.eq_ignore_ascii_case(b"SIP/") {
            return None;
        }
        let dot = rest.iter().position(|&c| c == b'.')?;
        let num = |d: &[u8]| {
            if d.len() > 3 {
                return None;
            }
            scan::parse_u64(d).and_then(|n| u8::try_from(n).ok())
        };
        Some(Version {
            major: num(&rest[..dot])?,
            minor: num(&rest[dot + 1..])?,
        })
    }

    fn encoded_len(self) -> usize {
        4 + digits(u16::from(self.major)) + 1 + digits(u16::from(self.minor))
    }

    fn encode(self, dst: &mut BytesMut) {
        dst.put_slice(b"SIP/");
        put_decimal(dst, u16::from(self.major));
        dst.put_u8(b'.');
        put_decimal(dst, u16::from(self.minor));
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/{}.{}", self.major, self.minor)
    }
}

fn digits(n: u16) -> usize {
    match n {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    }
}

fn put_decimal(dst: &mut BytesMut, n: u16) {
    let mut buf = [0u8; 5];
    let len = digits(n);
    let mut v = n;
    for slot in buf[..len].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    dst.put_slice(&buf[..len]);
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `Method SP Request-URI SP SIP-Version` (RFC 3261 §7.1).
    Request {
        /// The method.
        method: Method,
        /// The Request-URI as received (parse it with
        /// [`Message::request_uri`]).
        uri: Bytes,
        /// The version.
        version: Version,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase` (RFC 3261 §7.2).
    Response {
        /// The version.
        version: Version,
        /// The status code.
        status: StatusCode,
        /// The reason phrase (any octets but CR and LF; may be empty).
        reason: Bytes,
    },
}

impl StartLine {
    fn parse(frame: &Bytes, end: usize) -> Result<StartLine, Error> {
        let line = &frame[..end];
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
            // Status-Line. A missing SP after the code (no reason at all)
            // is taken as an empty reason.
            let sp = find_byte(line, b' ', 0).ok_or(Error::StartLine)?;
            let version = Version::parse(&line[..sp]).ok_or(Error::StartLine)?;
            let code = line.get(sp + 1..sp + 4).ok_or(Error::StartLine)?;
            let status = scan::parse_u64(code)
                .and_then(|c| StatusCode::new(c as u16))
                .ok_or(Error::StartLine)?;
            let reason = match line.get(sp + 4) {
                None => Bytes::new(),
                Some(b' ') => frame.slice(sp + 5..end),
                Some(_) => return Err(Error::StartLine),
            };
            return Ok(StartLine::Response {
                version,
                status,
                reason,
            });
        }
        // Request-Line: exactly two single spaces (RFC 4475 §3.1.2.8–10).
        let sp1 = find_byte(line, b' ', 0).ok_or(Error::StartLine)?;
        let sp2 = find_byte(line, b' ', sp1 + 1).ok_or(Error::StartLine)?;
        let (method, uri, version) = (&line[..sp1], &line[sp1 + 1..sp2], &line[sp2 + 1..]);
        let version = Version::parse(version).ok_or(Error::StartLine)?;
        if !scan::is_token(method) || !is_request_uri(uri) {
            return Err(Error::StartLine);
        }
        Ok(StartLine::Request {
            method: Method::known(method).unwrap_or_else(|| Method::Other(frame.slice(..sp1))),
            uri: frame.slice(sp1 + 1..sp2),
            version,
        })
    }

    fn encoded_len(&self) -> usize {
        match self {
            StartLine::Request {
                method,
                uri,
                version,
            } => method.as_bytes().len() + 1 + uri.len() + 1 + version.encoded_len() + 2,
            StartLine::Response {
                version, reason, ..
            } => version.encoded_len() + 5 + reason.len() + 2,
        }
    }

    fn encode(&self, dst: &mut BytesMut) {
        match self {
            StartLine::Request {
                method,
                uri,
                version,
            } => {
                dst.put_slice(method.as_bytes());
                dst.put_u8(b' ');
                dst.put_slice(uri);
                dst.put_u8(b' ');
                version.encode(dst);
            }
            StartLine::Response {
                version,
                status,
                reason,
            } => {
                version.encode(dst);
                dst.put_u8(b' ');
                put_decimal(dst, status.0);
                dst.put_u8(b' ');
                dst.put_slice(reason);
            }
        }
        dst.put_slice(b"\r\n");
    }
}

/// A Request-URI in the start line: a scheme, a colon, and graphic ASCII
/// without quotes or angle brackets. The URI itself is parsed on demand.
fn is_request_uri(uri: &[u8]) -> bool {
    let Some(colon) = uri.iter().position(|&c| c == b':') else {
        return false;
    };
    let scheme = &uri[..colon];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        && colon + 1 < uri.len()
        && uri.iter().fold(true, |ok, &c| ok & scan::is(c, scan::URIC))
}

/// A header line to add to a message (or one taken out of it): a name and
/// its value, with surrounding whitespace trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    name: HeaderName,
    value: Bytes,
    /// An extension header's whole line as received (without its final
    /// CRLF), when writing it as `name: value` would change it (other
    /// spacing around the colon, trailing whitespace); encoded as is.
    /// Only a line taken out of a parsed message has one.
    raw: Option<Box<Bytes>>,
}

impl Header {
    /// A header to add to a message. The value is trimmed; it may not
    /// contain CR or LF (no folding on output, no header injection), and an
    /// extension name must be a token.
    pub fn new(name: HeaderName, value: impl Into<Bytes>) -> Result<Header, Error> {
        let value: Bytes = value.into();
        if value.iter().any(|&c| c == b'\r' || c == b'\n') {
            return Err(Error::InvalidInput("CR or LF in a header value"));
        }
        if let HeaderName::Other(n) = &name {
            if !scan::is_token(n) {
                return Err(Error::InvalidInput("header name is not a token"));
            }
        }
        let (a, b) = scan::trim_range(&value, 0, value.len());
        Ok(Header {
            name,
            value: value.slice(a..b),
            raw: None,
        })
    }

    /// The name.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    /// The value.
    pub fn value(&self) -> &Bytes {
        &self.value
    }
}

/// A header line of a parsed message, as offsets into its frame (every
/// offset fits a `u32`: the head is at most `u32::MAX` octets). Twelve
/// octets: a message keeps one per line, and parsing writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// A known name, written back as `Long-Name: value`.
    Known {
        /// The name.
        name: Known,
        /// Where the trimmed value starts.
        value: u32,
        /// Where it ends (continuation lines included).
        value_end: u32,
    },
    /// An extension header, written back exactly as received: the whole
    /// line (without its final CRLF). Its name and value are found in it
    /// again when asked for ([`split_line`]).
    Other {
        /// Where the line starts.
        start: u32,
        /// Where it ends (continuation lines included).
        end: u32,
    },
}

/// One entry of [`Headers`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// A line of the frame the message was parsed from.
    Line(Line),
    /// A line added since (rare: boxed, so that parsed lines stay small).
    Added(Box<Header>),
}

/// A header line `token *(SP / HTAB) ":" value` (continuation lines
/// included, without the final CRLF): the name's length and the colon's
/// position, or `None` if it is not one. Every octet of the name is
/// checked (no early exit at the first that is not a token octet: the
/// colon is found first, so the loop's exit is always predicted).
#[inline]
fn split_name(line: &[u8]) -> Option<(usize, usize)> {
    let colon = find_byte(line, b':', 0)?;
    let mut name_len = colon;
    while name_len > 0 && matches!(line[name_len - 1], b' ' | b'\t') {
        name_len -= 1;
    }
    let name = &line[..name_len];
    let token = name.iter().fold(true, |ok, &c| ok & scan::is(c, TOKEN));
    (token && !name.is_empty()).then_some((name_len, colon))
}

/// The name and the trimmed value of a header line that was parsed
/// (so [`split_name`] holds), as ranges of `line`.
fn split_line(line: &[u8]) -> (Range<usize>, Range<usize>) {
    let (name_len, colon) = split_name(line).unwrap_or((line.len(), line.len()));
    let (a, b) = scan::trim_range(line, (colon + 1).min(line.len()), line.len());
    (0..name_len, a..b)
}

/// One header line of [`Headers`], borrowed: its name and its value, a
/// slice of the received frame (or of the value it was added with).
#[derive(Clone, Copy)]
pub struct HeaderRef<'a> {
    frame: &'a Bytes,
    entry: &'a Entry,
}

impl<'a> HeaderRef<'a> {
    /// A parsed line's value, as a range of the frame.
    fn line_value(&self, line: &Line) -> Range<usize> {
        match *line {
            Line::Known {
                value, value_end, ..
            } => range(value, value_end),
            Line::Other { start, end } => self.split_other(start, end).1,
        }
    }

    /// An extension line's name and value, as ranges of the frame.
    fn split_other(&self, start: u32, end: u32) -> (Range<usize>, Range<usize>) {
        let start = start as usize;
        let (name, value) = split_line(&self.frame[start..end as usize]);
        (
            start + name.start..start + name.end,
            start + value.start..start + value.end,
        )
    }

    /// The name (for an extension name, a slice of the frame).
    pub fn name(&self) -> HeaderName {
        match self.entry {
            Entry::Line(Line::Known { name, .. }) => name.name(),
            Entry::Line(Line::Other { start, end }) => {
                HeaderName::Other(self.frame.slice(self.split_other(*start, *end).0))
            }
            Entry::Added(h) => h.name.clone(),
        }
    }

    /// The name's long form, or an extension name as written.
    pub fn name_bytes(&self) -> &'a [u8] {
        match self.entry {
            Entry::Line(Line::Known { name, .. }) => name.as_bytes(),
            Entry::Line(Line::Other { start, end }) => {
                &self.frame[self.split_other(*start, *end).0]
            }
            Entry::Added(h) => h.name.as_bytes(),
        }
    }

    /// Whether the line is called `name` (names compare as
    /// [`HeaderName`]s do).
    #[inline]
    pub fn is(&self, name: &HeaderName) -> bool {
        match (self.entry, name) {
            (Entry::Line(Line::Known { name: known, .. }), _) => Some(*known) == name.known(),
            (Entry::Line(Line::Other { start, end }), HeaderName::Other(n)) => {
                self.other_is(*start, *end, n)
            }
            (Entry::Line(Line::Other { .. }), _) => false,
            (Entry::Added(h), _) => &h.name == name,
        }
    }

    /// Whether an extension line is called `name` (kept out of
    /// [`HeaderRef::is`], so that the lookups of known names inline it).
    #[inline(never)]
    fn other_is(&self, start: u32, end: u32, name: &[u8]) -> bool {
        self.frame[self.split_other(start, end).0].eq_ignore_ascii_case(name)
    }

    /// The value (trimmed, any folding kept as received).
    #[inline]
    pub fn value(&self) -> &'a [u8] {
        match self.entry {
            Entry::Line(line) => &self.frame[self.line_value(line)],
            Entry::Added(h) => &h.value,
        }
    }

    /// The value as [`Bytes`]: a slice of the frame, not a copy.
    pub fn value_bytes(&self) -> Bytes {
        match self.entry {
            Entry::Line(line) => self.frame.slice(self.line_value(line)),
            Entry::Added(h) => h.value.clone(),
        }
    }

    /// The line as a [`Header`] of its own (slices of the frame), to add
    /// to another message; an extension line is still written as
    /// received.
    pub fn to_header(&self) -> Header {
        match self.entry {
            Entry::Line(line) => Header {
                name: self.name(),
                value: self.value_bytes(),
                raw: match *line {
                    Line::Other { start, end } if self.raw().is_some() => {
                        Some(Box::new(self.frame.slice(range(start, end))))
                    }
                    _ => None,
                },
            },
            Entry::Added(h) => Header::clone(h),
        }
    }

    /// An extension line as received, when writing it as `name: value`
    /// would change it.
    fn raw(&self) -> Option<&'a [u8]> {
        match self.entry {
            Entry::Line(Line::Known { .. }) => None,
            Entry::Line(Line::Other { start, end }) => {
                let (name, value) = self.split_other(*start, *end);
                let exact = value.start == name.end + 2
                    && value.end == *end as usize
                    && self.frame[name.end..value.start] == *b": ";
                (!exact).then(|| &self.frame[range(*start, *end)])
            }
            Entry::Added(h) => h.raw.as_deref().map(|raw| &raw[..]),
        }
    }

    /// How the line is written back: a parsed extension line as received
    /// (which is `name: value` if it was received so), an added one with
    /// its line as that line, any other as `name: value`.
    #[inline(always)] // in the encoding loops (it was not inlined there)
    fn written(&self) -> Written<'a> {
        match self.entry {
            Entry::Line(Line::Known {
                name,
                value,
                value_end,
            }) => Written::Prefixed(name.prefix(), &self.frame[range(*value, *value_end)]),
            Entry::Line(Line::Other { start, end }) => {
                Written::Verbatim(&self.frame[range(*start, *end)])
            }
            Entry::Added(h) => match &h.raw {
                Some(raw) => Written::Verbatim(raw),
                None => Written::NameValue(h.name.as_bytes(), &h.value),
            },
        }
    }

    fn encoded_len(&self) -> usize {
        match self.written() {
            Written::Verbatim(line) => line.len() + 2,
            Written::Prefixed(prefix, value) => prefix.len() + value.len() + 2,
            Written::NameValue(name, value) => name.len() + 2 + value.len() + 2,
        }
    }

    fn encode(&self, dst: &mut BytesMut) {
        match self.written() {
            Written::Verbatim(line) => dst.put_slice(line),
            Written::Prefixed(prefix, value) => {
                dst.put_slice(prefix);
                dst.put_slice(value);
            }
            Written::NameValue(name, value) => {
                dst.put_slice(name);
                dst.put_slice(b": ");
                dst.put_slice(value);
            }
        }
        dst.put_slice(b"\r\n");
    }
}

/// How [`HeaderRef::encode`] writes a line.
enum Written<'a> {
    /// The whole line, as it is.
    Verbatim(&'a [u8]),
    /// `Long-Name: ` (one static string) and the value.
    Prefixed(&'static [u8], &'a [u8]),
    /// `name: value`.
    NameValue(&'a [u8], &'a [u8]),
}

impl PartialEq for HeaderRef<'_> {
    /// Same name, same value, and written back the same way.
    fn eq(&self, other: &HeaderRef<'_>) -> bool {
        self.value() == other.value() && self.name() == other.name() && self.raw() == other.raw()
    }
}

impl Eq for HeaderRef<'_> {}

impl fmt::Debug for HeaderRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("name", &self.name())
            .field("value", &String::from_utf8_lossy(self.value()))
            .finish()
    }
}

/// `start..end` as a `usize` range.
#[inline]
fn range(start: u32, end: u32) -> Range<usize> {
    start as usize..end as usize
}

/// The header lines of a message, in order. A parsed message's lines are
/// offsets into its frame, which this holds: values are handed out as
/// slices of it ([`HeaderRef::value`]) or [`Bytes`] sharing it
/// ([`HeaderRef::value_bytes`], [`Headers::values`]), never copied.
#[derive(Clone, Default)]
pub struct Headers {
    /// The frame the lines were parsed from (empty when built).
    frame: Bytes,
    list: Vec<Entry>,
}

impl Headers {
    /// Every header line in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            frame: &self.frame,
            entries: self.list.iter(),
        }
    }

    /// The number of header lines.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every line called `name`, in order.
    pub fn find_all<'a, 'n>(
        &'a self,
        name: &'n HeaderName,
    ) -> impl Iterator<Item = HeaderRef<'a>> + use<'a, 'n> {
        self.iter().filter(move |h| h.is(name))
    }

    /// The value of the first line called `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&[u8]> {
        self.get_all(name).next()
    }

    /// The values of every line called `name`, in order.
    pub fn get_all<'a, 'n>(
        &'a self,
        name: &'n HeaderName,
    ) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.find_all(name).map(|h| h.value())
    }

    /// Whether a line called `name` is present.
    pub fn contains(&self, name: &HeaderName) -> bool {
        self.find_all(name).next().is_some()
    }

    /// The elements of every line called `name`: for a list header
    /// ([`HeaderName::is_list`]) each line split at its separating commas,
    /// otherwise each line's whole value.
    pub fn values<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = Bytes> + 'a {
        let list = name.is_list();
        self.find_all(name).flat_map(move |h| {
            let v = h.value_bytes();
            let (split, whole) = if list {
                (Some(split_list_owned(v)), None)
            } else {
                (None, Some(v))
            };
            split.into_iter().flatten().chain(whole)
        })
    }

    /// The one line called `name`: `Ok(None)` if absent,
    /// [`Error::DuplicateHeader`] if there are several.
    pub fn single(&self, name: &HeaderName) -> Result<Option<HeaderRef<'_>>, Error> {
        let mut all = self.find_all(name);
        let first = all.next();
        if all.next().is_some() {
            return Err(Error::DuplicateHeader(name.label()));
        }
        Ok(first)
    }

    /// Appends a line.
    pub fn push(&mut self, header: Header) {
        self.list.push(Entry::Added(Box::new(header)));
    }

    /// Inserts a line at `index` (0 is the top; a proxy puts its Via
    /// there), or at the end if `index` is past it.
    pub fn insert(&mut self, index: usize, header: Header) {
        let index = index.min(self.list.len());
        self.list.insert(index, Entry::Added(Box::new(header)));
    }

    /// The index of the first line called `name`.
    fn position(&self, name: &HeaderName) -> Option<usize> {
        self.iter().position(|h| h.is(name))
    }

    /// Removes and returns the first line called `name`.
    pub fn remove_first(&mut self, name: &HeaderName) -> Option<Header> {
        let i = self.position(name)?;
        let header = match self.list.remove(i) {
            Entry::Added(h) => *h,
            line => HeaderRef {
                frame: &self.frame,
                entry: &line,
            }
            .to_header(),
        };
        Some(header)
    }

    /// Removes every line called `name`; returns how many there were.
    pub fn remove_all(&mut self, name: &HeaderName) -> usize {
        let before = self.list.len();
        let frame = &self.frame;
        self.list
            .retain(|entry| !HeaderRef { frame, entry }.is(name));
        before - self.list.len()
    }

    /// Replaces every line called by `header`'s name with `header`, at the
    /// position of the first one (or at the end).
    pub fn set(&mut self, header: Header) {
        match self.position(&header.name) {
            Some(i) => {
                let name = header.name.clone();
                self.list[i] = Entry::Added(Box::new(header));
                let frame = &self.frame;
                let mut seen = 0;
                self.list.retain(|entry| {
                    if (HeaderRef { frame, entry }).is(&name) {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => self.push(header),
        }
    }
}

impl PartialEq for Headers {
    /// The same lines (names, values, and how extension lines are
    /// written), whatever frames they are in.
    fn eq(&self, other: &Headers) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The lines of [`Headers`], in order ([`Headers::iter`]).
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    frame: &'a Bytes,
    entries: std::slice::Iter<'a, Entry>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = HeaderRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<HeaderRef<'a>> {
        let entry = self.entries.next()?;
        Some(HeaderRef {
            frame: self.frame,
            entry,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let entry = self.entries.next_back()?;
        Some(HeaderRef {
            frame: self.frame,
            entry,
        })
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Headers {
    type Item = HeaderRef<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The most header lines (continuations included) a message may have,
/// whatever [`Limits::max_headers`] says.
pub const MAX_HEADER_LINES: usize = 256;

/// How many header lines [`parse`] keeps in an array before it sizes the
/// header list: one with more counts the lines left to size it once.
const INLINE_LINES: usize = 32;

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// The frame is exactly one message: the body is the rest, and must
    /// match Content-Length when there is one.
    Exact,
    /// A datagram: the body is Content-Length octets (the rest if there is
    /// none); octets after it are reported, not parsed.
    Datagram,
}

/// A parsed (or built) SIP request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    start: StartLine,
    headers: Headers,
    body: Bytes,
}

impl Message {
    /// Parses one whole message with the default [`Limits`]. Its body is
    /// everything after the head; with a `Content-Length` the two must
    /// agree. Use [`crate::parse_datagram`] for UDP, which allows octets
    /// after the body, and [`crate::StreamDecoder`] for TCP/TLS.
    pub fn parse(frame: Bytes) -> Result<Message, Error> {
        Message::parse_with(frame, &Limits::default())
    }

    /// [`Message::parse`] with the given limits.
    pub fn parse_with(frame: Bytes, limits: &Limits) -> Result<Message, Error> {
        parse(frame, limits, Framing::Exact).map(|(m, _)| m)
    }

    /// A message from its parts (used by the builders). Content-Length is
    /// not touched: see [`Message::set_body`].
    pub fn from_parts(start: StartLine, headers: Headers, body: Bytes) -> Message {
        Message {
            start,
            headers,
            body,
        }
    }

    /// The start line.
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI of a request, as received.
    pub fn request_uri_raw(&self) -> Option<&Bytes> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI, parsed. [`Error::BadRequestUri`] for a response or
    /// a URI that does not parse; a URI of an unknown scheme parses (the
    /// layer above answers 416 if it cannot route it).
    pub fn request_uri(&self) -> Result<Uri, Error> {
        let raw = self.request_uri_raw().ok_or(Error::BadRequestUri)?;
        Uri::parse(raw.clone()).map_err(|_| Error::BadRequestUri)
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.start {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&Bytes> {
        match &self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// The SIP-Version.
    pub fn version(&self) -> Version {
        match &self.start {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => *version,
        }
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The headers, to change (a proxy adds its Via, removes a Route, …).
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The body (a slice of the frame).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Replaces the body and sets one `Content-Length` to match.
    pub fn set_body(&mut self, body: Bytes) {
        let mut len = BytesMut::with_capacity(20);
        put_decimal_u64(&mut len, body.len() as u64);
        self.headers.set(Header {
            name: HeaderName::ContentLength,
            value: len.freeze(),
            raw: None,
        });
        self.body = body;
    }

    /// The value of the one line called `name`.
    fn required(&self, name: HeaderName) -> Result<Bytes, Error> {
        self.headers
            .single(&name)?
            .map(|h| h.value_bytes())
            .ok_or(Error::MissingHeader(name.label()))
    }

    /// The value of the line called `name`, if there is one.
    fn optional(&self, name: HeaderName) -> Result<Option<&[u8]>, Error> {
        Ok(self.headers.single(&name)?.map(|h| h.value()))
    }

    /// The topmost Via value (the first element of the first Via line).
    pub fn via(&self) -> Result<Via, Error> {
        let first = self
            .headers
            .values(&HeaderName::Via)
            .next()
            .ok_or(Error::MissingHeader("Via"))?;
        Via::parse(&first)
    }

    /// Every Via value, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via, Error>> + '_ {
        self.headers
            .values(&HeaderName::Via)
            .map(|v| Via::parse(&v))
    }

    /// The From header.
    pub fn from(&self) -> Result<NameAddr, Error> {
        NameAddr::parse(&self.required(HeaderName::From)?, "From")
    }

    /// The To header.
    pub fn to(&self) -> Result<NameAddr, Error> {
        NameAddr::parse(&self.required(HeaderName::To)?, "To")
    }

    /// The Call-ID (`word [ "@" word ]`, checked).
    pub fn call_id(&self) -> Result<Bytes, Error> {
        let v = self.required(HeaderName::CallId)?;
        if header::is_call_id(&v) {
            Ok(v)
        } else {
            Err(Error::BadHeader("Call-ID"))
        }
    }

    /// The CSeq header.
    pub fn cseq(&self) -> Result<CSeq, Error> {
        CSeq::parse(&self.required(HeaderName::CSeq)?)
    }

    /// Max-Forwards (0–255), if present.
    pub fn max_forwards(&self) -> Result<Option<u8>, Error> {
        self.optional(HeaderName::MaxForwards)?
            .map(|v| header::parse_number(v, 255, "Max-Forwards").map(|n| n as u8))
            .transpose()
    }

    /// Every Contact value (`*` is [`Contact::Wildcard`]).
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact, Error>> + '_ {
        self.headers
            .values(&HeaderName::Contact)
            .map(|v| Contact::parse(&v))
    }

    /// Every Route value, in order.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr, Error>> + '_ {
        self.headers
            .values(&HeaderName::Route)
            .map(|v| NameAddr::parse(&v, "Route"))
    }

    /// Every Record-Route value, in order.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr, Error>> + '_ {
        self.headers
            .values(&HeaderName::RecordRoute)
            .map(|v| NameAddr::parse(&v, "Record-Route"))
    }

    /// Content-Length, if present.
    pub fn content_length(&self) -> Result<Option<u64>, Error> {
        self.optional(HeaderName::ContentLength)?
            .map(|v| header::parse_number(v, u64::MAX, "Content-Length"))
            .transpose()
    }

    /// Content-Type, if present.
    pub fn content_type(&self) -> Result<Option<MediaType>, Error> {
        self.headers
            .single(&HeaderName::ContentType)?
            .map(|h| MediaType::parse(&h.value_bytes()))
            .transpose()
    }

    /// Expires (delta-seconds, at most 2**32-1), if present.
    pub fn expires(&self) -> Result<Option<u32>, Error> {
        self.optional(HeaderName::Expires)?
            .map(|v| header::parse_number(v, u64::from(u32::MAX), "Expires").map(|n| n as u32))
            .transpose()
    }

    fn auth<'a>(
        &'a self,
        name: &'a HeaderName,
        label: &'static str,
    ) -> impl Iterator<Item = Result<Auth, Error>> + 'a {
        self.headers
            .find_all(name)
            .map(move |h| Auth::parse(&h.value_bytes(), label))
    }

    /// Every Authorization header.
    pub fn authorization(&self) -> impl Iterator<Item = Result<Auth, Error>> + '_ {
        self.auth(&HeaderName::Authorization, "Authorization")
    }

    /// Every Proxy-Authorization header.
    pub fn proxy_authorization(&self) -> impl Iterator<Item = Result<Auth, Error>> + '_ {
        self.auth(&HeaderName::ProxyAuthorization, "Proxy-Authorization")
    }

    /// Every WWW-Authenticate challenge.
    pub fn www_authenticate(&self) -> impl Iterator<Item = Result<Auth, Error>> + '_ {
        self.auth(&HeaderName::WwwAuthenticate, "WWW-Authenticate")
    }

    /// Every Proxy-Authenticate challenge.
    pub fn proxy_authenticate(&self) -> impl Iterator<Item = Result<Auth, Error>> + '_ {
        self.auth(&HeaderName::ProxyAuthenticate, "Proxy-Authenticate")
    }

    /// Checks what a UAS or proxy must check before acting on a message
    /// (RFC 3261 §8.2, §16.3) and this crate can: the version is 2.0; a
    /// request's Request-URI parses and, for `sip:`/`sips:`, has no
    /// headers (§19.1.1, RFC 4475 §3.1.2.11); Via, From, To, Call-ID and
    /// CSeq are present, once each where they must be, and parse; the CSeq
    /// method is the request's; Max-Forwards, Content-Length, Content-Type,
    /// Expires, Contact, Route, Record-Route, Date and the authentication
    /// headers parse where present. A request that fails is answered with
    /// [`Error::status`]; a response that fails is dropped.
    ///
    /// It does not check what only the layer above knows: supported URI
    /// schemes (416), extensions (420), media types (415), Max-Forwards of
    /// 0 (483), or loops.
    pub fn validate(&self) -> Result<(), Error> {
        if self.version() != Version::SIP_2_0 {
            return Err(Error::VersionNotSupported);
        }
        if self.is_request() {
            let uri = self.request_uri()?;
            if matches!(uri.scheme(), Scheme::Sip | Scheme::Sips) && !uri.headers().is_empty() {
                return Err(Error::BadRequestUri);
            }
        }
        // List headers that may not be empty (an empty Supported is fine).
        for name in [
            HeaderName::Via,
            HeaderName::Contact,
            HeaderName::Route,
            HeaderName::RecordRoute,
        ] {
            if self.headers.get_all(&name).any(<[u8]>::is_empty) {
                return Err(Error::BadHeader(name.label()));
            }
        }
        let mut vias = 0;
        for via in self.vias() {
            via?;
            vias += 1;
        }
        if vias == 0 {
            return Err(Error::MissingHeader("Via"));
        }
        self.from()?;
        self.to()?;
        self.call_id()?;
        let cseq = self.cseq()?;
        if let Some(method) = self.method() {
            if &cseq.method != method {
                return Err(Error::CSeqMismatch);
            }
        }
        self.max_forwards()?;
        self.content_length()?;
        self.content_type()?;
        self.expires()?;
        for c in self.contacts() {
            c?;
        }
        for r in self.routes().chain(self.record_routes()) {
            r?;
        }
        if let Some(date) = self.optional(HeaderName::Date)? {
            if !header::is_sip_date(date) {
                return Err(Error::BadHeader("Date"));
            }
        }
        for a in self
            .authorization()
            .chain(self.proxy_authorization())
            .chain(self.www_authenticate())
            .chain(self.proxy_authenticate())
        {
            a?;
        }
        Ok(())
    }

    /// The length of [`Message::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        self.start.encoded_len()
            + self.headers.iter().map(|h| h.encoded_len()).sum::<usize>()
            + 2
            + self.body.len()
    }

    /// Writes the message: the start line, every header as `Name: value`
    /// (known names in their long form, others and every value exactly as
    /// received), an empty line and the body. Reserves the whole length
    /// first.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        self.start.encode(dst);
        for h in &self.headers {
            h.encode(dst);
        }
        dst.put_slice(b"\r\n");
        dst.put_slice(&self.body);
    }

    /// [`Message::encode`] into a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut b);
        b.freeze()
    }
}

pub(crate) fn put_decimal_u64(dst: &mut BytesMut, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    dst.put_slice(&buf[i..]);
}

/// Finds the end of the head in `s` (which starts at a start line):
/// returns the offset just past the empty line, or `None` if it is not
/// there yet. Only CRLF counts as a line end.
pub(crate) fn find_head_end(s: &[u8], from: usize) -> Option<usize> {
    let mut pos = from;
    loop {
        let lf = find_byte(s, b'\n', pos)?;
        // "\r\n\r\n": this LF ends an empty line.
        if lf >= 3 && &s[lf - 3..lf] == b"\r\n\r" {
            return Some(lf + 1);
        }
        pos = lf + 1;
    }
}

/// Parses the message at the start of `frame`. Returns it and the offset
/// where it ends.
pub(crate) fn parse(
    frame: Bytes,
    limits: &Limits,
    framing: Framing,
) -> Result<(Message, usize), Error> {
    let s = &frame[..];
    // Offsets into the head fit a u32.
    let head = &s[..limits.max_head.min(s.len()).min(u32::MAX as usize)];
    let max_lines = limits.max_headers.min(MAX_HEADER_LINES);
    // No empty line in the head.
    let no_end = if s.len() > limits.max_head {
        Error::TooLarge(Limit::Head)
    } else {
        Error::Incomplete
    };

    let first_lf = find_byte(head, b'\n', 0).ok_or(no_end)?;
    if first_lf == 0 || s[first_lf - 1] != b'\r' {
        return Err(Error::StartLine);
    }
    let start = StartLine::parse(&frame, first_lf - 1)?;

    // The header lines, in one pass. The first INLINE_LINES are kept in
    // an array, so that the list is allocated once, at its size.
    let mut inline = [Line::Other { start: 0, end: 0 }; INLINE_LINES];
    let mut list: Vec<Entry> = Vec::new();
    let mut count = 0;
    // Lines read (continuation lines count).
    let mut lines = 0;
    let mut content_length: Option<(usize, usize)> = None;
    let mut content_lengths = 0;
    // The header being read: its name, where its line starts, where its
    // value starts (untrimmed) and where it ends so far.
    let mut current: Option<(Option<Known>, usize, usize, usize)> = None;
    let mut pos = first_lf + 1;
    let head_end = loop {
        let lf = find_byte(head, b'\n', pos).ok_or(no_end)?;
        if lf == pos || s[lf - 1] != b'\r' {
            return Err(Error::HeaderLine);
        }
        let end = lf - 1;
        let continuation = end > pos && matches!(s[pos], b' ' | b'\t');
        if !continuation {
            if let Some((name, start, value, end)) = current.take() {
                let line = match name {
                    Some(name) => {
                        let (a, b) = scan::trim_range(s, value, end);
                        if name == Known::ContentLength {
                            content_lengths += 1;
                            content_length = Some((a, b));
                        }
                        Line::Known {
                            name,
                            value: a as u32,
                            value_end: b as u32,
                        }
                    }
                    None => Line::Other {
                        start: start as u32,
                        end: end as u32,
                    },
                };
                if count < INLINE_LINES {
                    inline[count] = line;
                } else {
                    if count == INLINE_LINES {
                        // Every line left is at most one more header.
                        let left = count_lines(head, pos).min(max_lines);
                        list = Vec::with_capacity(INLINE_LINES + 1 + left);
                        list.extend(inline.iter().map(|&line| Entry::Line(line)));
                    }
                    list.push(Entry::Line(line));
                }
                count += 1;
            }
        }
        if end == pos {
            break lf + 1; // the empty line
        }
        if lines == max_lines {
            return Err(Error::TooLarge(Limit::Headers));
        }
        lines += 1;
        if continuation {
            // It extends the value before it.
            match &mut current {
                Some((_, _, _, value_end)) => *value_end = end,
                None => return Err(header_line_error(head, lf + 1, lines, max_lines, no_end)),
            }
        } else {
            let Some((name_len, colon)) = split_name(&s[pos..end]) else {
                return Err(header_line_error(head, lf + 1, lines, max_lines, no_end));
            };
            let name = Known::parse(&s[pos..pos + name_len]);
            current = Some((name, pos, pos + colon + 1, end));
        }
        pos = lf + 1;
    };
    if count <= INLINE_LINES {
        list = Vec::with_capacity(count);
        list.extend(inline[..count].iter().map(|&line| Entry::Line(line)));
    }

    // The body.
    let rest = s.len() - head_end;
    let body_len = match (content_lengths, content_length) {
        (1, Some((a, b))) => {
            let n = scan::parse_u64(&s[a..b]).ok_or(Error::BadContentLength)?;
            if n > limits.max_body as u64 {
                return Err(Error::TooLarge(Limit::Body));
            }
            let n = n as usize;
            if rest < n {
                return Err(Error::BodyTooShort);
            }
            if framing == Framing::Exact && rest > n {
                return Err(Error::TrailingBytes);
            }
            n
        }
        // No Content-Length (allowed on datagrams, RFC 3261 §18.3), or
        // several: the body is the rest, and the duplicate is the layer
        // above's to answer (RFC 4475 §3.3.9).
        _ => {
            if rest > limits.max_body {
                return Err(Error::TooLarge(Limit::Body));
            }
            rest
        }
    };
    let end = head_end + body_len;
    let body = frame.slice(head_end..end);
    let message = Message {
        start,
        headers: Headers { frame, list },
        body,
    };
    Ok((message, end))
}

/// How many lines there are from `pos` to the empty line (or the end).
fn count_lines(head: &[u8], mut pos: usize) -> usize {
    let mut n = 0;
    while let Some(lf) = find_byte(head, b'\n', pos) {
        if lf <= pos + 1 {
            break; // the empty line (or a bare LF)
        }
        n += 1;
        pos = lf + 1;
    }
    n
}

/// The error for a header line that does not parse, `lines` lines into
/// the head, the next one at `pos`: an error of the head as a whole (no
/// end, a bare LF, too many lines) further on is reported first, as if
/// every line had been checked before any was split.
#[cold]
fn header_line_error(
    head: &[u8],
    mut pos: usize,
    mut lines: usize,
    max_lines: usize,
    no_end: Error,
) -> Error {
    loop {
        let Some(lf) = find_byte(head, b'\n', pos) else {
            return no_end;
        };
        if lf == pos || head[lf - 1] != b'\r' || lf == pos + 1 {
            return Error::HeaderLine; // a bare LF, or the empty line
        }
        if lines == max_lines {
            return Error::TooLarge(Limit::Headers);
        }
        lines += 1;
        pos = lf + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Message, Error> {
        Message::parse(Bytes::copy_from_slice(s.as_bytes()))
    }

    const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds, SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
X-Custom:   kept  as is \r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    #[test]
    fn parses_a_request() {
        let m = parse_str(INVITE).expect("parses");
        assert_eq!(m.method(), Some(&Method::Invite));
        assert_eq!(
            &m.request_uri_raw().expect("request")[..],
            b"sip:bob@biloxi.example.com"
        );
        assert_eq!(m.version(), Version::SIP_2_0);
        assert_eq!(m.headers().len(), 10);
        assert_eq!(&m.body()[..], b"v=0\n");
        assert_eq!(
            m.headers().get(&HeaderName::from_static("x-custom")),
            Some(&b"kept  as is"[..])
        );
        let vias: Vec<Via> = m.vias().collect::<Result<_, _>>().expect("vias");
        assert_eq!(vias.len(), 2);
        assert_eq!(
            m.via().expect("via").branch().as_deref(),
            Some(&b"z9hG4bK776asdhds"[..])
        );
        assert_eq!(m.cseq().expect("cseq").seq, 314159);
        assert_eq!(m.max_forwards(), Ok(Some(70)));
        assert_eq!(m.content_length(), Ok(Some(4)));
        assert!(m
            .content_type()
            .expect("ct")
            .expect("present")
            .is("application", "sdp"));
        assert_eq!(
            m.from().expect("from").tag().as_deref(),
            Some(&b"1928301774"[..])
        );
        assert_eq!(m.to().expect("to").tag(), None);
        assert_eq!(
            &m.call_id().expect("call-id")[..],
            b"a84b4c76e66710@pc33.atlanta.example.com"
        );
        assert_eq!(m.expires(), Ok(None));
        assert_eq!(m.validate(), Ok(()));
    }

    #[test]
    fn values_are_slices_of_the_frame() {
        let frame = Bytes::copy_from_slice(INVITE.as_bytes());
        let m = Message::parse(frame.clone()).expect("parses");
        let range = frame.as_ptr_range();
        for h in m.headers() {
            assert!(range.contains(&h.value().as_ptr()), "{:?} copied", h.name());
        }
        assert!(range.contains(&m.body().as_ptr()));
    }

    #[test]
    fn encode_round_trips_and_normalises_names() {
        let m = parse_str(INVITE).expect("parses");
        let out = m.to_bytes();
        assert_eq!(out.len(), m.encoded_len());
        assert_eq!(Message::parse(out.clone()), Ok(m));
        assert!(out.starts_with(b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP"));
        let compact =
            parse_str("OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\nl: 0\r\nX-Y: z\r\n\r\n")
                .expect("parses");
        assert_eq!(
            &compact.to_bytes()[..],
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 0\r\nX-Y: z\r\n\r\n"
        );
    }

    #[test]
    fn extension_headers_are_written_back_byte_for_byte() {
        let lines = [
            "X-Plain: one",
            "x-lower:two",
            "X-Spaced \t:   three  ",
            "X-Folded:\r\n four\r\n\tfive",
            "X-Empty:",
            "P-Asserted-Identity : <sip:+15551234567@example.com>",
        ];
        let text = format!(
            "OPTIONS sip:a@b SIP/2.0\r\n{}\r\nl: 0\r\n\r\n",
            lines.join("\r\n")
        );
        let m = parse_str(&text).expect("parses");
        let out = m.to_bytes();
        assert_eq!(out.len(), m.encoded_len());
        let out = std::str::from_utf8(&out).expect("ascii");
        for line in lines {
            assert!(
                out.contains(&format!("\r\n{line}\r\n")),
                "{line:?} in {out:?}"
            );
        }
        let values: Vec<&[u8]> = m.headers().iter().map(|h| h.value()).collect();
        assert_eq!(values[2], b"three");
        assert_eq!(values[3], b"four\r\n\tfive");
        assert_eq!(values[4], b"");
        assert_eq!(Message::parse(Bytes::from(out.to_owned())), Ok(m));
    }

    #[test]
    fn folded_lines_are_joined() {
        let m = parse_str("OPTIONS sip:a@b SIP/2.0\r\nSubject: one\r\n two\r\n\tthree\r\nTO :\r\n sip:x@y\r\n\r\n")
            .expect("parses");
        assert_eq!(
            m.headers().get(&HeaderName::Subject).expect("subject"),
            b"one\r\n two\r\n\tthree"
        );
        assert_eq!(m.headers().get(&HeaderName::To).expect("to"), b"sip:x@y");
        assert_eq!(Message::parse(m.to_bytes()), Ok(m));
    }

    #[test]
    fn many_lines_and_late_folds() {
        // More lines than parsing keeps in its array.
        let mut text = String::from("OPTIONS sip:a@b SIP/2.0\r\n");
        for i in 0..INLINE_LINES + 8 {
            text.push_str(&format!("X-{i}: v{i}\r\n"));
        }
        text.push_str("Subject: a\r\n b\r\n\r\n");
        let m = parse_str(&text).expect("parses");
        assert_eq!(m.headers().len(), INLINE_LINES + 9);
        let last = m.headers().iter().last().expect("last");
        assert_eq!(
            (last.name(), last.value()),
            (HeaderName::Subject, &b"a\r\n b"[..])
        );
        let x = HeaderName::from_static("X-39");
        assert_eq!(m.headers().get(&x), Some(&b"v39"[..]));
    }

    #[test]
    fn responses() {
        let m = parse_str("SIP/2.0 180 Ringing\r\nContent-Length: 0\r\n\r\n").expect("parses");
        assert_eq!(m.status(), Some(StatusCode::RINGING));
        assert_eq!(m.reason().map(|r| &r[..]), Some(&b"Ringing"[..]));
        let m = parse_str("SIP/2.0 100 \r\n\r\n").expect("empty reason");
        assert_eq!(m.reason().map(|r| r.len()), Some(0));
        assert_eq!(&m.to_bytes()[..], b"SIP/2.0 100 \r\n\r\n");
        let m = parse_str("sip/2.0 699 x\r\n\r\n").expect("any case");
        assert_eq!(m.status().map(StatusCode::as_u16), Some(699));
        for bad in [
            "SIP/2.0 099 x",
            "SIP/2.0 700 x",
            "SIP/2.0 20 x",
            "SIP/2.0 2000 x",
            "SIP/2.0 4294967301 x",
            "SIP/2.0200 OK",
            "SIP/2.0 2x0 OK",
        ] {
            assert_eq!(
                parse_str(&format!("{bad}\r\n\r\n")),
                Err(Error::StartLine),
                "{bad}"
            );
        }
    }

    #[test]
    fn request_line_errors() {
        for bad in [
            "INVITE  sip:a@b  SIP/2.0",
            "INVITE sip:a@b SIP/2.0 ",
            "INVITE sip:a@b; lr SIP/2.0",
            "INVITE <sip:a@b> SIP/2.0",
            "INVITE sip:a@b",
            "INVITE sip:a@b HTTP/1.1",
            "INVITE sip:a@b SIP/2",
            "INVITE sip:a@b SIP/1000.0",
            "INV,TE sip:a@b SIP/2.0",
            "INVITE sip: SIP/2.0",
            " INVITE sip:a@b SIP/2.0",
            "",
        ] {
            assert_eq!(
                parse_str(&format!("{bad}\r\n\r\n")),
                Err(Error::StartLine),
                "{bad:?}"
            );
        }
        let m = parse_str("NEWMETHOD sip:a@b SIP/7.0\r\n\r\n").expect("any version parses");
        assert_eq!(
            m.method(),
            Some(&Method::Other(Bytes::from_static(b"NEWMETHOD")))
        );
        assert_eq!(m.version(), Version { major: 7, minor: 0 });
        assert_eq!(m.validate(), Err(Error::VersionNotSupported));
    }

    #[test]
    fn header_refs() {
        let m = parse_str(
            "OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\nX-Odd \t:  y \r\nx-odd: z\r\n\r\n",
        )
        .expect("parses");
        let hs: Vec<HeaderRef<'_>> = m.headers().iter().collect();
        assert_eq!(hs[0].name(), HeaderName::Via);
        assert_eq!(hs[0].name_bytes(), b"Via");
        assert_eq!(hs[0].value(), b"SIP/2.0/UDP h");
        let x = HeaderName::from_static("X-ODD");
        assert!(hs[1].is(&x) && hs[2].is(&x) && !hs[0].is(&x) && !hs[1].is(&HeaderName::Via));
        assert_eq!(hs[1].name_bytes(), b"X-Odd");
        assert_eq!(hs[1].value(), b"y");
        assert_eq!(&hs[1].value_bytes()[..], b"y");
        assert_eq!(m.headers().get_all(&x).collect::<Vec<_>>(), [b"y", b"z"]);
        assert_eq!(
            m.headers().single(&x).map(|h| h.is_some()),
            Err(Error::DuplicateHeader("extension"))
        );
        // Taken out and added to another message, an extension line is
        // still written as received.
        let mut other = Headers::default();
        other.push(hs[1].to_header());
        other.push(hs[2].to_header());
        let mut rest = m.headers().clone();
        assert!(rest.remove_first(&HeaderName::Via).is_some());
        assert_eq!(other, rest);
        let mut out = BytesMut::new();
        for h in &other {
            h.encode(&mut out);
        }
        assert_eq!(&out[..], b"X-Odd \t:  y \r\nx-odd: z\r\n");
        assert!(
            std::mem::size_of::<Entry>() <= 16,
            "a parsed line stays small"
        );
    }

    #[test]
    fn head_errors_come_before_header_line_errors() {
        // As if every line were found before any is split: a head with no
        // end, or with too many lines, is reported as such whatever line
        // is bad.
        assert_eq!(
            parse_str("OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\nA: b\r\n"),
            Err(Error::Incomplete)
        );
        assert_eq!(
            parse_str("OPTIONS sip:a@b SIP/2.0\r\n folded: x\r\nA: b\r\n"),
            Err(Error::Incomplete)
        );
        let tight = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        assert_eq!(
            Message::parse_with(
                Bytes::from_static(
                    b"OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\nA: b\r\nC: d\r\n\r\n"
                ),
                &tight
            ),
            Err(Error::TooLarge(Limit::Headers))
        );
        assert_eq!(
            parse_str("OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\nA: b\nC: d\r\n\r\n"),
            Err(Error::HeaderLine)
        );
    }

    #[test]
    fn header_line_errors() {
        for bad in [
            "OPTIONS sip:a@b SIP/2.0\r\nFoobar roobar\r\n\r\n",
            "OPTIONS sip:a@b SIP/2.0\r\n folded: first\r\n\r\n",
            "OPTIONS sip:a@b SIP/2.0\r\n: novalue\r\n\r\n",
            "OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n",
            "OPTIONS sip:a@b SIP/2.0\r\nA: x\nB: y\r\n\r\n",
            "OPTIONS sip:a@b SIP/2.0\r\nA: x\r\n\n",
        ] {
            assert_eq!(parse_str(bad), Err(Error::HeaderLine), "{bad:?}");
        }
        assert_eq!(
            parse_str("OPTIONS sip:a@b SIP/2.0\nA: b\r\n\r\n"),
            Err(Error::StartLine)
        );
        assert_eq!(
            parse_str("OPTIONS sip:a@b SIP/2.0\r\nA: b\r\n"),
            Err(Error::Incomplete)
        );
        assert_eq!(parse_str("OPTIONS sip:a@b SIP/2.0"), Err(Error::Incomplete));
        // An empty value is allowed.
        assert!(parse_str("OPTIONS sip:a@b SIP/2.0\r\ns :\r\n\r\n").is_ok());
    }

    #[test]
    fn body_framing() {
        let head = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 5\r\n\r\n";
        assert!(parse_str(&format!("{head}hello")).is_ok());
        assert_eq!(parse_str(&format!("{head}hell")), Err(Error::BodyTooShort));
        assert_eq!(
            parse_str(&format!("{head}hello!")),
            Err(Error::TrailingBytes)
        );
        assert_eq!(
            parse_str("MESSAGE sip:a@b SIP/2.0\r\nl: -5\r\n\r\nhello"),
            Err(Error::BadContentLength)
        );
        let m = parse_str("MESSAGE sip:a@b SIP/2.0\r\n\r\nno length").expect("no Content-Length");
        assert_eq!(&m.body()[..], b"no length");
        let m = parse_str("MESSAGE sip:a@b SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nabc").expect("two");
        assert_eq!(
            m.content_length(),
            Err(Error::DuplicateHeader("Content-Length"))
        );
        assert_eq!(&m.body()[..], b"abc");
    }

    #[test]
    fn limits() {
        let tight = Limits {
            max_head: 64,
            max_body: 4,
            max_headers: 2,
        };
        let p = |s: &str| Message::parse_with(Bytes::copy_from_slice(s.as_bytes()), &tight);
        assert!(p("OPTIONS sip:a@b SIP/2.0\r\nA: 1\r\nB: 2\r\n\r\n").is_ok());
        assert_eq!(
            p("OPTIONS sip:a@b SIP/2.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
            Err(Error::TooLarge(Limit::Headers))
        );
        assert_eq!(
            p("OPTIONS sip:a@b SIP/2.0\r\nA: 0123456789012345678901234567890123456789\r\n\r\n"),
            Err(Error::TooLarge(Limit::Head))
        );
        assert_eq!(
            p("OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\n\r\nhello"),
            Err(Error::TooLarge(Limit::Body))
        );
        assert_eq!(
            p("OPTIONS sip:a@b SIP/2.0\r\n\r\nhello"),
            Err(Error::TooLarge(Limit::Body))
        );
        let many: String = (0..300).map(|i| format!("X{i}: v\r\n")).collect();
        let big = Limits {
            max_headers: 10_000,
            ..Limits::default()
        };
        assert_eq!(
            Message::parse_with(
                Bytes::from(format!("OPTIONS sip:a@b SIP/2.0\r\n{many}\r\n")),
                &big
            ),
            Err(Error::TooLarge(Limit::Headers)),
            "MAX_HEADER_LINES holds whatever the limits say"
        );
    }

    #[test]
    fn validation_errors() {
        let base = |extra: &str, cseq: &str| {
            format!(
                "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c1\r\nCSeq: {cseq}\r\n{extra}\r\n"
            )
        };
        let v = |s: String| parse_str(&s).expect("parses").validate();
        assert_eq!(v(base("", "1 OPTIONS")), Ok(()));
        assert_eq!(v(base("", "1 INVITE")), Err(Error::CSeqMismatch));
        assert_eq!(
            v(base("Max-Forwards: 256\r\n", "1 OPTIONS")),
            Err(Error::BadHeader("Max-Forwards"))
        );
        assert_eq!(
            v(base("Max-Forwards: 1\r\nMax-Forwards: 2\r\n", "1 OPTIONS")),
            Err(Error::DuplicateHeader("Max-Forwards"))
        );
        assert_eq!(
            v(base("Call-ID: c2\r\n", "1 OPTIONS")),
            Err(Error::DuplicateHeader("Call-ID"))
        );
        assert_eq!(
            v(base("Date: Fri, 01 Jan 2010 16:00:00 EST\r\n", "1 OPTIONS")),
            Err(Error::BadHeader("Date"))
        );
        assert_eq!(
            v(base("Contact: <sip:x@y>;;\r\n", "1 OPTIONS")),
            Err(Error::BadHeader("Contact"))
        );
        assert_eq!(
            v(base("Expires: 4294967296\r\n", "1 OPTIONS")),
            Err(Error::BadHeader("Expires"))
        );
        assert_eq!(
            v(base("Authorization: Digest\r\n", "1 OPTIONS")),
            Err(Error::BadHeader("Authorization"))
        );
        assert_eq!(
            v(base("Via:\r\n", "1 OPTIONS")),
            Err(Error::BadHeader("Via"))
        );
        assert_eq!(
            v(base("Route: \r\n", "1 OPTIONS")),
            Err(Error::BadHeader("Route"))
        );
        assert_eq!(v(base("Supported:\r\n", "1 OPTIONS")), Ok(()));
        assert_eq!(
            v("OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n".to_string()),
            Err(Error::MissingHeader("Via"))
        );
        let escaped = base("", "1 OPTIONS").replace(
            "sip:a@example.com SIP",
            "sip:a@example.com?Route=%3Csip:x%3E SIP",
        );
        assert_eq!(v(escaped), Err(Error::BadRequestUri));
        let tel = base("", "1 OPTIONS").replace("sip:a@example.com SIP", "tel:+1-555 SIP");
        assert_eq!(v(tel), Ok(()));
    }

    #[test]
    fn header_list_editing() {
        let mut m = parse_str(INVITE).expect("parses");
        let via = Header::new(
            HeaderName::Via,
            "SIP/2.0/TCP gw.example.net;branch=z9hG4bKgw",
        )
        .expect("header");
        m.headers_mut().insert(0, via);
        assert_eq!(m.via().expect("via").host().to_string(), "gw.example.net");
        assert_eq!(m.vias().count(), 3);
        assert!(m.headers_mut().remove_first(&HeaderName::Via).is_some());
        assert_eq!(m.headers_mut().remove_all(&HeaderName::Via), 1);
        assert_eq!(m.via(), Err(Error::MissingHeader("Via")));
        m.set_body(Bytes::from_static(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"));
        assert_eq!(m.content_length(), Ok(Some(31)));
        assert_eq!(
            Header::new(HeaderName::Subject, "a\r\nInjected: 1").err(),
            Some(Error::InvalidInput("CR or LF in a header value"))
        );
        assert!(Header::new(HeaderName::from_static("Bad Name"), "x").is_err());
        assert_eq!(
            &Header::new(HeaderName::Subject, "  hi  ")
                .expect("trimmed")
                .value()[..],
            b"hi"
        );
        let mut hs = Headers::default();
        hs.push(Header::new(HeaderName::Expires, "1").expect("h"));
        hs.push(Header::new(HeaderName::Subject, "s").expect("h"));
        hs.push(Header::new(HeaderName::Expires, "2").expect("h"));
        hs.set(Header::new(HeaderName::Expires, "3").expect("h"));
        let names: Vec<String> = hs
            .iter()
            .map(|h| format!("{}={:?}", h.name(), h.value_bytes()))
            .collect();
        assert_eq!(names, ["Expires=b\"3\"", "Subject=b\"s\""]);
    }

    #[test]
    fn status_codes() {
        assert_eq!(StatusCode::new(99), None);
        assert_eq!(StatusCode::new(700), None);
        assert!(StatusCode::TRYING.is_provisional() && !StatusCode::TRYING.is_final());
        assert!(StatusCode::OK.is_success() && StatusCode::OK.is_final());
        assert_eq!(
            StatusCode::TOO_MANY_HOPS.canonical_reason(),
            "Too Many Hops"
        );
        assert_eq!(StatusCode(499).canonical_reason(), "Client Error");
        assert_eq!(
            Method::from_bytes(Bytes::from_static(b"MESSAGE")),
            Method::Message
        );
        assert_ne!(
            Method::from_bytes(Bytes::from_static(b"message")),
            Method::Message,
            "case-sensitive"
        );
    }
}
