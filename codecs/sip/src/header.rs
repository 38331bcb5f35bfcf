//! Typed header values, parsed on demand from a header's [`Bytes`] (RFC
//! 3261 §20, grammar in §25.1). Every part is a slice of the value; none
//! of these allocate.

use std::borrow::Borrow;
use std::fmt;
use std::net::IpAddr;

use bytes::Bytes;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while_m_n};
use nom::character::complete::char as ch;
use nom::combinator::{all_consuming, map_res, verify};
use nom::sequence::tuple;
use nom::IResult;

use crate::error::Error;
use crate::message::Method;
use crate::params::{Params, Syntax};
use crate::scan::{self, Cursor, HOST, TOKEN, WORD};
use crate::uri::{parse_hostport, Host, Uri};

/// Splits a list header's value at the commas that separate elements
/// (RFC 3261 §7.3.1) — never inside a quoted string or `<…>` — and trims
/// each element. An empty value has no elements; an empty element between
/// two commas is yielded (empty) so the element's parser rejects it.
pub fn split_list(value: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    split(value)
}

/// [`split_list`] of a value it keeps.
pub(crate) fn split_list_owned(value: Bytes) -> impl Iterator<Item = Bytes> {
    split(value)
}

fn split<V: Borrow<Bytes>>(value: V) -> impl Iterator<Item = Bytes> {
    let mut pos = 0;
    let mut done = value.borrow().iter().all(|&c| scan::is_ws(c));
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let value: &Bytes = value.borrow();
        let start = pos;
        let (mut quoted, mut angle, mut escape) = (false, false, false);
        let mut end = value.len();
        for (i, &c) in value.iter().enumerate().skip(start) {
            if escape {
                escape = false;
            } else if quoted {
                match c {
                    b'\\' => escape = true,
                    b'"' => quoted = false,
                    _ => {}
                }
            } else if angle {
                angle = c != b'>';
            } else {
                match c {
                    b'"' => quoted = true,
                    b'<' => angle = true,
                    b',' => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
        }
        if end == value.len() {
            done = true;
        } else {
            pos = end + 1;
        }
        let (a, b) = scan::trim_range(value, start, end);
        Some(value.slice(a..b))
    })
}

/// The position of the first `needle` outside quoted strings.
fn find_unquoted(s: &[u8], needle: u8) -> Option<usize> {
    let (mut quoted, mut escape) = (false, false);
    for (i, &c) in s.iter().enumerate() {
        if escape {
            escape = false;
        } else if quoted {
            match c {
                b'\\' => escape = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if c == b'"' {
            quoted = true;
        } else if c == needle {
            return Some(i);
        }
    }
    None
}

/// A transport in a Via's sent-protocol (compared ignoring ASCII case).
#[derive(Debug, Clone)]
pub enum Transport {
    /// `UDP`
    Udp,
    /// `TCP`
    Tcp,
    /// `TLS`
    Tls,
    /// `SCTP`
    Sctp,
    /// `WS` (RFC 7118)
    Ws,
    /// `WSS` (RFC 7118)
    Wss,
    /// Any other transport token, as written.
    Other(Bytes),
}

impl Transport {
    fn from_bytes(b: Bytes) -> Transport {
        const KNOWN: [(&[u8], Transport); 6] = [
            (b"UDP", Transport::Udp),
            (b"TCP", Transport::Tcp),
            (b"TLS", Transport::Tls),
            (b"SCTP", Transport::Sctp),
            (b"WS", Transport::Ws),
            (b"WSS", Transport::Wss),
        ];
        KNOWN
            .into_iter()
            .find(|(name, _)| b.eq_ignore_ascii_case(name))
            .map_or(Transport::Other(b), |(_, t)| t)
    }

    /// The token, upper case for the known transports.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Transport::Udp => b"UDP",
            Transport::Tcp => b"TCP",
            Transport::Tls => b"TLS",
            Transport::Sctp => b"SCTP",
            Transport::Ws => b"WS",
            Transport::Wss => b"WSS",
            Transport::Other(b) => b,
        }
    }
}

impl PartialEq for Transport {
    fn eq(&self, other: &Transport) -> bool {
        self.as_bytes().eq_ignore_ascii_case(other.as_bytes())
    }
}

impl Eq for Transport {}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// One Via value (RFC 3261 §20.42): `SIP/2.0/UDP host:port;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    protocol: Bytes,
    version: Bytes,
    transport: Transport,
    host: Host,
    port: Option<u16>,
    params: Params,
}

/// The magic cookie that starts an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &[u8] = b"z9hG4bK";

impl Via {
    /// Parses one Via element (one of a line's comma-separated values).
    /// The `branch`, `received`, `rport`, `maddr` and `ttl` parameters are
    /// checked here, so their accessors cannot fail.
    pub fn parse(value: &Bytes) -> Result<Via, Error> {
        parse_via(value).ok_or(Error::BadHeader("Via"))
    }

    /// The protocol name, `SIP`.
    pub fn protocol(&self) -> &Bytes {
        &self.protocol
    }

    /// The protocol version, `2.0`.
    pub fn version(&self) -> &Bytes {
        &self.version
    }

    /// The transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The sent-by host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The sent-by port, if written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// All parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<Bytes> {
        self.params.value("branch")
    }

    /// Whether the branch starts with the RFC 3261 magic cookie and has
    /// something after it (RFC 4475 §3.2.1: a bare cookie identifies no
    /// transaction; fall back to RFC 2543 matching, or answer 400).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.params
            .get("branch")
            .is_some_and(|b| b.len() > BRANCH_COOKIE.len() && b.starts_with(BRANCH_COOKIE))
    }

    /// The `received` parameter (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<IpAddr> {
        self.params.get("received").and_then(parse_ip)
    }

    /// The `rport` parameter (RFC 3581): `Some(None)` when present without
    /// a value (a request for it), `Some(Some(port))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        let v = self.params.get("rport")?;
        Some(scan::parse_u64(v).and_then(|p| u16::try_from(p).ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<Host> {
        self.params.value("maddr").and_then(|m| Host::parse(&m))
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.params
            .get("ttl")
            .and_then(scan::parse_u64)
            .and_then(|t| u8::try_from(t).ok())
    }
}

fn small_number(v: &[u8], max: u64) -> bool {
    scan::parse_u64(v).is_some_and(|n| n <= max)
}

fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(s).ok()?;
    let s = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    s.parse().ok()
}

fn parse_via(v: &Bytes) -> Option<Via> {
    let mut c = Cursor::new(v);
    let token = |c: &mut Cursor<'_>, slash: bool| -> Option<Bytes> {
        c.skip_ws();
        let t = c.take_class(TOKEN);
        if t.0 == t.1 {
            return None;
        }
        c.skip_ws();
        if slash && !c.eat(b'/') {
            return None;
        }
        Some(c.slice(t))
    };
    let protocol = token(&mut c, true)?;
    let version = token(&mut c, true)?;
    c.skip_ws();
    let t = c.take_class(TOKEN);
    if t.0 == t.1 {
        return None;
    }
    let transport = Transport::from_bytes(c.slice(t));
    let before = c.pos;
    c.skip_ws();
    if c.pos == before {
        return None; // LWS between sent-protocol and sent-by
    }
    let host_start = c.pos;
    if c.peek() == Some(b'[') {
        c.take_until(|b| b == b']');
        if !c.eat(b']') {
            return None;
        }
    } else {
        c.take_class(HOST);
    }
    let host_end = c.pos;
    c.skip_ws();
    let port_range = if c.eat(b':') {
        c.skip_ws();
        let p = c.take_until(|b| !b.is_ascii_digit());
        if p.0 == p.1 || p.1 - p.0 > 5 {
            return None;
        }
        Some(p)
    } else {
        None
    };
    let (host, _) = parse_hostport(&v.slice(host_start..host_end))?;
    let port = match port_range {
        Some(r) => Some(u16::try_from(scan::parse_u64(c.bytes(r))?).ok()?),
        None => None,
    };
    let params = Params::parse(v.slice(c.pos..), Syntax::Header)?;
    let via = Via {
        protocol,
        version,
        transport,
        host,
        port,
        params,
    };
    // One pass over the parameters: every branch, received, rport, maddr
    // and ttl must hold what its accessor reads.
    let ok = via.params.iter().all(|(name, value)| {
        let v = value.unwrap_or_default();
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("branch") {
            !v.is_empty()
        } else if is("received") {
            parse_ip(v).is_some()
        } else if is("rport") {
            v.is_empty() || small_number(v, u64::from(u16::MAX))
        } else if is("maddr") {
            Host::is_valid(v)
        } else if is("ttl") {
            small_number(v, 255)
        } else {
            true
        }
    });
    ok.then_some(via)
}

/// A `name-addr` or `addr-spec` with header parameters: the value of
/// From, To, Contact, Route, Record-Route (RFC 3261 §20.10, §20.20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    display_name: Option<Bytes>,
    uri: Uri,
    params: Params,
}

impl NameAddr {
    /// Parses one element. Without `<…>` the URI ends at the first `;` or
    /// whitespace and may not contain `?` or `,` (§20.10: such a URI
    /// must be enclosed), so what follows is the header's parameters.
    pub fn parse(value: &Bytes, header: &'static str) -> Result<NameAddr, Error> {
        parse_name_addr(value).ok_or(Error::BadHeader(header))
    }

    /// The display name: the text between the quotes (escapes kept), or
    /// the unquoted token sequence; `None` if there is none.
    pub fn display_name(&self) -> Option<&Bytes> {
        self.display_name.as_ref()
    }

    /// The URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The header parameters (after the URI).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<Bytes> {
        self.params.value("tag")
    }
}

fn parse_name_addr(v: &Bytes) -> Option<NameAddr> {
    let mut c = Cursor::new(v);
    c.skip_ws();
    let mut display_name = None;
    let angle = if c.peek() == Some(b'"') {
        let q = c.quoted()?;
        display_name = Some(c.slice(q));
        c.skip_ws();
        if !c.eat(b'<') {
            return None;
        }
        true
    } else if let Some(lt) = find_unquoted(&v[c.pos..], b'<').map(|p| p + c.pos) {
        let (a, b) = scan::trim_range(v, c.pos, lt);
        if a < b {
            // *(token LWS): tokens separated by whitespace.
            if !v[a..b]
                .iter()
                .all(|&x| scan::is(x, TOKEN) || scan::is_ws(x))
            {
                return None;
            }
            display_name = Some(v.slice(a..b));
        }
        c.pos = lt + 1;
        true
    } else {
        false
    };
    let uri_end = if angle {
        scan::find_byte(v, b'>', c.pos)?
    } else {
        c.pos
            + v[c.pos..]
                .iter()
                .position(|&x| x == b';' || scan::is_ws(x))
                .unwrap_or(v.len() - c.pos)
    };
    let uri_text = v.slice(c.pos..uri_end);
    if !angle && uri_text.iter().any(|&x| x == b'?' || x == b',') {
        return None;
    }
    let uri = Uri::parse(uri_text).ok()?;
    let params_start = if angle { uri_end + 1 } else { uri_end };
    let params = Params::parse(v.slice(params_start..), Syntax::Header)?;
    Some(NameAddr {
        display_name,
        uri,
        params,
    })
}

/// One Contact value (RFC 3261 §20.10).
// Made on demand and dropped soon: boxing the address would cost an
// allocation per value to save stack space nobody keeps.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// `*`, in a REGISTER that removes all bindings (§10.2.2).
    Wildcard,
    /// An address with its parameters (`expires`, `q`, …).
    Address(NameAddr),
}

impl Contact {
    /// Parses one Contact element.
    pub fn parse(value: &Bytes) -> Result<Contact, Error> {
        if &value[..] == b"*" {
            return Ok(Contact::Wildcard);
        }
        NameAddr::parse(value, "Contact").map(Contact::Address)
    }
}

/// The CSeq header (RFC 3261 §20.16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number (a 32-bit unsigned integer; §8.1.1.5 has
    /// requests start below 2**31).
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(value: &Bytes) -> Result<CSeq, Error> {
        let bad = Error::BadHeader("CSeq");
        let mut c = Cursor::new(value);
        let digits = c.take_until(|b| !b.is_ascii_digit());
        let seq = scan::parse_u64(c.bytes(digits))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(bad)?;
        let before = c.pos;
        c.skip_ws();
        let had_lws = c.pos > before;
        let m = c.take_class(TOKEN);
        c.skip_ws();
        if !had_lws || m.0 == m.1 || !c.at_end() {
            return Err(bad);
        }
        Ok(CSeq {
            seq,
            method: Method::from_bytes(c.slice(m)),
        })
    }
}

/// A media type (Content-Type, RFC 3261 §20.15): `type/subtype;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    mtype: Bytes,
    subtype: Bytes,
    params: Params,
}

impl MediaType {
    /// Parses `m-type SLASH m-subtype *(SEMI m-parameter)`.
    pub fn parse(value: &Bytes) -> Result<MediaType, Error> {
        let bad = Error::BadHeader("Content-Type");
        let mut c = Cursor::new(value);
        let t = c.take_class(TOKEN);
        c.skip_ws();
        if t.0 == t.1 || !c.eat(b'/') {
            return Err(bad);
        }
        c.skip_ws();
        let s = c.take_class(TOKEN);
        if s.0 == s.1 {
            return Err(bad);
        }
        let params = Params::parse(value.slice(c.pos..), Syntax::Header).ok_or(bad)?;
        Ok(MediaType {
            mtype: c.slice(t),
            subtype: c.slice(s),
            params,
        })
    }

    /// The type, e.g. `application`.
    pub fn mtype(&self) -> &Bytes {
        &self.mtype
    }

    /// The subtype, e.g. `sdp`.
    pub fn subtype(&self) -> &Bytes {
        &self.subtype
    }

    /// The parameters (`charset`, `boundary`, …).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Whether this is `mtype/subtype`, ignoring ASCII case.
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype.as_bytes())
            && self.subtype.eq_ignore_ascii_case(subtype.as_bytes())
    }
}

/// Credentials (Authorization, Proxy-Authorization) or a challenge
/// (WWW-Authenticate, Proxy-Authenticate): a scheme and its
/// comma-separated parameters (RFC 3261 §20.7, §20.27, §20.44, §22.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    scheme: Bytes,
    params: Params,
}

macro_rules! auth_params {
    ($( $(#[$doc:meta])* $fn:ident = $name:literal; )*) => {
        $(
            $(#[$doc])*
            pub fn $fn(&self) -> Option<Bytes> {
                self.params.value($name)
            }
        )*
    };
}

impl Auth {
    /// Parses `auth-scheme LWS auth-param *(COMMA auth-param)`; any
    /// scheme (RFC 4475 §3.3.7: an unknown one is answered with a new
    /// challenge, so it must parse).
    pub fn parse(value: &Bytes, header: &'static str) -> Result<Auth, Error> {
        let bad = Error::BadHeader(header);
        let mut c = Cursor::new(value);
        let s = c.take_class(TOKEN);
        let before = c.pos;
        c.skip_ws();
        if s.0 == s.1 || c.pos == before {
            return Err(bad);
        }
        let params = Params::parse(value.slice(c.pos..), Syntax::Auth).ok_or(bad)?;
        if params.is_empty() {
            return Err(bad);
        }
        Ok(Auth {
            scheme: c.slice(s),
            params,
        })
    }

    /// The scheme, e.g. `Digest`.
    pub fn scheme(&self) -> &Bytes {
        &self.scheme
    }

    /// Whether the scheme is `Digest` (any case).
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }

    /// All parameters; values of quoted strings without their quotes.
    pub fn params(&self) -> &Params {
        &self.params
    }

    auth_params! {
        /// `username` (credentials).
        username = "username";
        /// `realm`.
        realm = "realm";
        /// `nonce`.
        nonce = "nonce";
        /// `uri` (credentials: the digest-uri).
        uri = "uri";
        /// `response` (credentials: the request digest).
        response = "response";
        /// `algorithm`, e.g. `MD5`.
        algorithm = "algorithm";
        /// `cnonce` (credentials).
        cnonce = "cnonce";
        /// `opaque`.
        opaque = "opaque";
        /// `qop` (a list of options in a challenge, one in credentials).
        qop = "qop";
        /// `nc`, the nonce count (credentials).
        nc = "nc";
        /// `stale` (challenge).
        stale = "stale";
        /// `domain` (challenge).
        domain = "domain";
    }
}

/// `Call-ID = word [ "@" word ]` (RFC 3261 §20.8).
pub(crate) fn is_call_id(v: &[u8]) -> bool {
    let mut parts = v.splitn(2, |&c| c == b'@');
    let word = |w: &[u8]| !w.is_empty() && w.iter().all(|&c| scan::is(c, WORD));
    parts.next().is_some_and(word) && parts.next().is_none_or(word)
}

/// A decimal header value (`1*DIGIT`) no larger than `max`.
pub(crate) fn parse_number(v: &[u8], max: u64, header: &'static str) -> Result<u64, Error> {
    scan::parse_u64(v)
        .filter(|&n| n <= max)
        .ok_or(Error::BadHeader(header))
}

fn digits<const N: usize>(i: &[u8]) -> IResult<&[u8], u32> {
    map_res(
        take_while_m_n(N, N, |c: u8| c.is_ascii_digit()),
        |d: &[u8]| {
            std::str::from_utf8(d)
                .map_err(|_| ())
                .and_then(|s| s.parse::<u32>().map_err(|_| ()))
        },
    )(i)
}

/// `rfc1123-date = wkday "," SP date1 SP time SP "GMT"` (RFC 3261
/// §20.17 via RFC 2616 §3.3.1), e.g. `Sat, 13 Nov 2010 23:29:00 GMT`.
/// Only GMT is allowed (RFC 4475 §3.1.2.12 has one in EST).
pub(crate) fn is_sip_date(v: &[u8]) -> bool {
    let wkday = alt((
        tag("Mon"),
        tag("Tue"),
        tag("Wed"),
        tag("Thu"),
        tag("Fri"),
        tag("Sat"),
        tag("Sun"),
    ));
    let month = alt((
        alt((
            tag("Jan"),
            tag("Feb"),
            tag("Mar"),
            tag("Apr"),
            tag("May"),
            tag("Jun"),
        )),
        alt((
            tag("Jul"),
            tag("Aug"),
            tag("Sep"),
            tag("Oct"),
            tag("Nov"),
            tag("Dec"),
        )),
    ));
    let date: IResult<&[u8], _> = all_consuming(tuple((
        wkday,
        tag(", "),
        verify(digits::<2>, |d| (1..=31).contains(d)),
        ch(' '),
        month,
        ch(' '),
        digits::<4>,
        ch(' '),
        verify(digits::<2>, |h| *h < 24),
        ch(':'),
        verify(digits::<2>, |m| *m < 60),
        ch(':'),
        verify(digits::<2>, |s| *s <= 60),
        tag(" GMT"),
    )))(v);
    date.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Scheme;
    use std::net::Ipv4Addr;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn list_splitting_respects_quotes_and_angles() {
        let v = b("\"a, b\" <sip:x@y;p=1,2>;q=1 , <sip:z@w> ,sip:v@u");
        let parts: Vec<Bytes> = split_list(&v).collect();
        assert_eq!(
            parts,
            [
                b("\"a, b\" <sip:x@y;p=1,2>;q=1"),
                b("<sip:z@w>"),
                b("sip:v@u")
            ]
        );
        assert_eq!(split_list(&b("  ")).count(), 0);
        let empties: Vec<Bytes> = split_list(&b("a,,b,")).collect();
        assert_eq!(empties, [b("a"), b(""), b("b"), b("")]);
        let escaped: Vec<Bytes> = split_list(&b("\"x\\\",y\" <sip:a@b>, c")).collect();
        assert_eq!(escaped.len(), 2);
    }

    #[test]
    fn via_with_lws_everywhere() {
        let v = Via::parse(&b(
            "SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw",
        ))
        .expect("via");
        assert_eq!(&v.protocol()[..], b"SIP");
        assert_eq!(&v.version()[..], b"2.0");
        assert_eq!(v.transport(), &Transport::Udp);
        assert_eq!(v.host(), &Host::Ipv4(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(v.branch().as_deref(), Some(&b"390skdjuw"[..]));
        assert!(!v.has_rfc3261_branch());

        let v = Via::parse(&b(
            "SIP/2.0/tcp [2001:db8::9] : 5070 ;branch=z9hG4bK77;received=192.0.2.1;rport=5071;maddr=224.2.0.1;ttl=16",
        ))
        .expect("via");
        assert_eq!(v.transport(), &Transport::Tcp);
        assert_eq!(v.port(), Some(5070));
        assert!(v.has_rfc3261_branch());
        assert_eq!(v.received(), Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
        assert_eq!(v.rport(), Some(Some(5071)));
        assert_eq!(v.maddr(), Some(Host::Ipv4(Ipv4Addr::new(224, 2, 0, 1))));
        assert_eq!(v.ttl(), Some(16));

        let v = Via::parse(&b("SIP/2.0/UNKNOWN t4.example.com;rport;branch=z9hG4bK")).expect("via");
        assert_eq!(v.transport(), &Transport::Other(b("UNKNOWN")));
        assert_eq!(v.rport(), Some(None));
        assert!(!v.has_rfc3261_branch(), "cookie alone");
    }

    #[test]
    fn bad_vias() {
        for s in [
            "",
            "SIP/2.0 host",
            "SIP/2.0/UDPhost",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/2.0/UDP host;branch=",
            "SIP/2.0/UDP host;branch",
            "SIP/2.0/UDP host;received=example.com",
            "SIP/2.0/UDP host;rport=70000",
            "SIP/2.0/UDP host;ttl=256",
            "SIP/2.0/UDP host:",
            "SIP/2.0/UDP host:123456",
            "SIP/2.0/UDP host junk",
        ] {
            assert_eq!(Via::parse(&b(s)), Err(Error::BadHeader("Via")), "{s:?}");
        }
    }

    #[test]
    fn name_addrs() {
        let n = NameAddr::parse(&b("\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8"), "From")
            .expect("from");
        assert_eq!(
            n.display_name().map(|d| &d[..]),
            Some(&b"J Rosenberg \\\\\\\""[..])
        );
        assert_eq!(n.tag().as_deref(), Some(&b"98asjd8"[..]));

        let n =
            NameAddr::parse(&b("caller<sip:caller@example.com>;tag=323"), "From").expect("from");
        assert_eq!(n.display_name().map(|d| &d[..]), Some(&b"caller"[..]));
        assert_eq!(&n.uri().as_bytes()[..], b"sip:caller@example.com");

        let n = NameAddr::parse(
            &b("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n"),
            "To",
        )
        .expect("to");
        assert_eq!(n.display_name(), None);
        assert_eq!(n.tag().as_deref(), Some(&b"1918181833n"[..]));

        // In addr-spec form ';' starts header parameters (RFC 4475 §3.3.12).
        let n = NameAddr::parse(
            &b("sip:+19725552222@gw1.example.net;unknownparam"),
            "Contact",
        )
        .expect("contact");
        assert!(n.params().contains("unknownparam"));
        assert!(n.uri().params().is_empty());
        let n = NameAddr::parse(
            &b("<sip:+19725552222@gw1.example.net;unknownparam>"),
            "Contact",
        )
        .expect("contact");
        assert!(!n.params().contains("unknownparam"));
        assert!(n.uri().params().contains("unknownparam"));

        let n = NameAddr::parse(&b("<http://www.example.com>;tag=3234233"), "From").expect("from");
        assert_eq!(n.uri().scheme(), &Scheme::Other(b("http")));
        let n = NameAddr::parse(&b("isbn:2983792873"), "To").expect("to");
        assert_eq!(n.uri().scheme(), &Scheme::Other(b("isbn")));
    }

    #[test]
    fn bad_name_addrs() {
        for s in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "Watson, Thomas <sip:t.watson@example.org>",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "<sip:joe@example.org",
            "<sip:joe@example.org> junk",
            "",
        ] {
            assert!(NameAddr::parse(&b(s), "To").is_err(), "{s:?}");
        }
        assert_eq!(Contact::parse(&b("*")), Ok(Contact::Wildcard));
    }

    #[test]
    fn cseq_and_numbers() {
        let c = CSeq::parse(&b("0009\r\n  INVITE")).expect("cseq");
        assert_eq!((c.seq, c.method.clone()), (9, Method::Invite));
        assert_eq!(
            CSeq::parse(&b("4294967295 FOO")).map(|c| c.seq),
            Ok(u32::MAX)
        );
        for s in [
            "36893488147419103232 REGISTER",
            "1INVITE",
            "1",
            "INVITE",
            "1 INVITE x",
            "-1 INVITE",
        ] {
            assert!(CSeq::parse(&b(s)).is_err(), "{s}");
        }
        assert_eq!(parse_number(b"0068", 255, "Max-Forwards"), Ok(68));
        assert!(parse_number(b"300", 255, "Max-Forwards").is_err());
        assert!(is_call_id(b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"));
        assert!(!is_call_id(b"a b") && !is_call_id(b"a@") && !is_call_id(b"a@b@c"));
    }

    #[test]
    fn media_types() {
        let m = MediaType::parse(&b("multipart/mixed;boundary=7a9cbec02ceef655")).expect("type");
        assert!(m.is("Multipart", "MIXED"));
        assert_eq!(m.params().get("boundary"), Some(&b"7a9cbec02ceef655"[..]));
        assert!(MediaType::parse(&b("application")).is_err());
        assert!(MediaType::parse(&b("application/")).is_err());
    }

    #[test]
    fn auth_headers() {
        let a = Auth::parse(
            &b("Digest username=\"bob\", realm=\"atlanta.example.com\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", opaque=\"\", uri=\"sips:ss2.biloxi.example.com\", response=\"dfe56131d1958046689d83306477ecc\""),
            "Authorization",
        )
        .expect("auth");
        assert!(a.is_digest());
        assert_eq!(a.username().as_deref(), Some(&b"bob"[..]));
        assert_eq!(a.realm().as_deref(), Some(&b"atlanta.example.com"[..]));
        assert_eq!(a.opaque().as_deref(), Some(&b""[..]));
        assert_eq!(
            a.response().as_deref(),
            Some(&b"dfe56131d1958046689d83306477ecc"[..])
        );
        assert_eq!(a.cnonce(), None);
        let other = Auth::parse(&b("NoOneKnowsThisScheme opaque-data=here"), "Authorization")
            .expect("auth");
        assert!(!other.is_digest());
        assert_eq!(other.params().get("opaque-data"), Some(&b"here"[..]));
        assert!(Auth::parse(&b("Digest"), "Authorization").is_err());
        assert!(Auth::parse(&b("Digest realm"), "Authorization").is_err());
    }

    #[test]
    fn dates() {
        assert!(is_sip_date(b"Sat, 15 Oct 2005 04:44:56 GMT"));
        assert!(!is_sip_date(b"Fri, 01 Jan 2010 16:00:00 EST"));
        assert!(!is_sip_date(b"Fri, 32 Jan 2010 16:00:00 GMT"));
        assert!(!is_sip_date(b"Fri, 01 Jan 2010 16:00:00 GMT "));
    }
}
