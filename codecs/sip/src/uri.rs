//! URIs: `sip:` and `sips:` (RFC 3261 §19.1), `tel:` (RFC 3966), and any
//! other scheme kept as opaque text (RFC 3261 §19.1.1 lets a Request-URI
//! or a header carry one; answering it — 416, or forwarding — is the SIP
//! layer's call, RFC 4475 §3.3.2–3.3.4).
//!
//! Every part is a [`Bytes`] slice of the URI as received, escapes kept;
//! [`Uri::user_unescaped`] and [`crate::unescape`] decode them.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use crate::error::Error;
use crate::params::{Params, Syntax};
use crate::scan::{self, HOST, PASSWORD, UNRESERVED, USER};

/// A URI scheme (compared ignoring ASCII case).
#[derive(Debug, Clone)]
pub enum Scheme {
    /// `sip:`
    Sip,
    /// `sips:`
    Sips,
    /// `tel:` (RFC 3966)
    Tel,
    /// Any other scheme, as written.
    Other(Bytes),
}

impl Scheme {
    /// The scheme's name, lower case for the known ones.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Scheme::Sip => b"sip",
            Scheme::Sips => b"sips",
            Scheme::Tel => b"tel",
            Scheme::Other(s) => s,
        }
    }

    fn from_bytes(s: Bytes) -> Scheme {
        if s.eq_ignore_ascii_case(b"sip") {
            Scheme::Sip
        } else if s.eq_ignore_ascii_case(b"sips") {
            Scheme::Sips
        } else if s.eq_ignore_ascii_case(b"tel") {
            Scheme::Tel
        } else {
            Scheme::Other(s)
        }
    }
}

impl PartialEq for Scheme {
    fn eq(&self, other: &Scheme) -> bool {
        self.as_bytes().eq_ignore_ascii_case(other.as_bytes())
    }
}

impl Eq for Scheme {}

impl std::hash::Hash for Scheme {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for c in self.as_bytes() {
            state.write_u8(c.to_ascii_lowercase());
        }
    }
}

/// A host: a domain name, an IPv4 address or an IPv6 reference
/// (`[…]` in the text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name, as written.
    Name(Bytes),
    /// A dotted-quad IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 reference (written in brackets).
    Ipv6(Ipv6Addr),
}

/// What a host's text is, before any [`Bytes`] is made of it.
enum HostKind {
    Name,
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

fn host_kind(s: &[u8]) -> Option<HostKind> {
    if let Some(inner) = s.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")) {
        return std::str::from_utf8(inner)
            .ok()?
            .parse()
            .ok()
            .map(HostKind::Ipv6);
    }
    if s.first().is_some_and(u8::is_ascii_digit) {
        if let Some(ip) = std::str::from_utf8(s).ok().and_then(|t| t.parse().ok()) {
            return Some(HostKind::Ipv4(ip));
        }
    }
    is_hostname(s).then_some(HostKind::Name)
}

impl Host {
    /// Parses `hostname / IPv4address / IPv6reference` (RFC 3261 §25.1).
    pub(crate) fn parse(src: &Bytes) -> Option<Host> {
        Some(match host_kind(src)? {
            HostKind::Name => Host::Name(src.clone()),
            HostKind::Ipv4(ip) => Host::Ipv4(ip),
            HostKind::Ipv6(ip) => Host::Ipv6(ip),
        })
    }

    /// Whether `s` is a host, without making one.
    pub(crate) fn is_valid(s: &[u8]) -> bool {
        host_kind(s).is_some()
    }
}

/// `hostname = *( domainlabel "." ) toplabel [ "." ]`: labels of
/// alphanumerics and inner hyphens, the last one starting with a letter.
fn is_hostname(s: &[u8]) -> bool {
    let s = s.strip_suffix(b".").unwrap_or(s);
    if s.is_empty() || !s.iter().all(|&c| scan::is(c, HOST)) {
        return false;
    }
    let mut last = &s[..0];
    for label in s.split(|&c| c == b'.') {
        if label.is_empty() || label[0] == b'-' || label[label.len() - 1] == b'-' {
            return false;
        }
        last = label;
    }
    last[0].is_ascii_alphabetic()
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(&String::from_utf8_lossy(n)),
            Host::Ipv4(ip) => write!(f, "{ip}"),
            Host::Ipv6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// Parses `host [ ":" port ]`.
pub(crate) fn parse_hostport(src: &Bytes) -> Option<(Host, Option<u16>)> {
    let s = &src[..];
    let host_end = if s.first() == Some(&b'[') {
        scan::find_byte(s, b']', 0)? + 1
    } else {
        s.iter().position(|&c| c == b':').unwrap_or(s.len())
    };
    let host = Host::parse(&src.slice(..host_end))?;
    let port = match &s[host_end..] {
        [] => None,
        [b':', digits @ ..] if digits.len() <= 5 => {
            Some(u16::try_from(scan::parse_u64(digits)?).ok()?)
        }
        _ => return None,
    };
    Some((host, port))
}

/// A parsed URI. Parse with [`Uri::parse`]; the text is kept
/// ([`Uri::as_bytes`]) and written back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uri {
    raw: Bytes,
    scheme: Scheme,
    user: Option<Bytes>,
    password: Option<Bytes>,
    host: Option<Host>,
    port: Option<u16>,
    params: Params,
    headers: Params,
}

impl Uri {
    /// Parses a URI. `sip:`/`sips:` and `tel:` are checked against their
    /// grammars; any other scheme needs only a valid scheme name and a
    /// non-empty rest without whitespace, quotes or angle brackets.
    pub fn parse(raw: Bytes) -> Result<Uri, Error> {
        parse(raw).ok_or(Error::BadUri)
    }

    /// Like [`Uri::parse`], copying the text first.
    pub fn parse_slice(raw: &[u8]) -> Result<Uri, Error> {
        Uri::parse(Bytes::copy_from_slice(raw))
    }

    /// The scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// `true` for `sip:` and `sips:`.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// The user part of a SIP URI (escapes kept), or the number of a
    /// `tel:` URI.
    pub fn user(&self) -> Option<&Bytes> {
        self.user.as_ref()
    }

    /// [`Uri::user`] with `%HH` escapes decoded.
    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user.as_ref().map(|u| unescape(u))
    }

    /// The password of a SIP URI (escapes kept; RFC 3261 §19.1.1 advises
    /// against its use).
    pub fn password(&self) -> Option<&Bytes> {
        self.password.as_ref()
    }

    /// The host of a SIP URI.
    pub fn host(&self) -> Option<&Host> {
        self.host.as_ref()
    }

    /// The port of a SIP URI, if written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The URI parameters (`;transport=tcp;lr`, or a `tel:` URI's
    /// `;phone-context=…`).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The headers of a SIP URI (`?Subject=…&…`), empty if none.
    pub fn headers(&self) -> &Params {
        &self.headers
    }

    /// For other schemes, the text after `scheme:`; for the known ones,
    /// everything after the scheme's colon too.
    pub fn opaque(&self) -> Bytes {
        self.raw.slice(self.scheme.as_bytes().len() + 1..)
    }

    /// The URI as received.
    pub fn as_bytes(&self) -> &Bytes {
        &self.raw
    }

    /// The phone number this URI addresses, for routing: the number of a
    /// `tel:` URI, or the user part of a SIP URI when it is a telephone
    /// number — an optional `+`, digits and visual separators (`-.()`),
    /// after unescaping; with `;user=phone` (RFC 3261 §19.1.6) or without
    /// it, as trunks often leave it out. The separators are dropped.
    pub fn phone_number(&self) -> Option<PhoneNumber> {
        match self.scheme {
            Scheme::Tel | Scheme::Sip | Scheme::Sips => {
                PhoneNumber::from_escaped(self.user.as_ref()?)
            }
            Scheme::Other(_) => None,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.raw))
    }
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
fn is_scheme(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_alphabetic)
        && s.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

fn parse(raw: Bytes) -> Option<Uri> {
    let colon = raw.iter().position(|&c| c == b':')?;
    if !is_scheme(&raw[..colon]) {
        return None;
    }
    let scheme = Scheme::from_bytes(raw.slice(..colon));
    let rest = colon + 1;
    let mut uri = Uri {
        raw: raw.clone(),
        scheme,
        user: None,
        password: None,
        host: None,
        port: None,
        params: Params::empty(Syntax::Uri),
        headers: Params::empty(Syntax::UriHeaders),
    };
    match uri.scheme {
        Scheme::Sip | Scheme::Sips => parse_sip(&raw, rest, &mut uri)?,
        Scheme::Tel => parse_tel(&raw, rest, &mut uri)?,
        Scheme::Other(_) => {
            let opaque = &raw[rest..];
            let ok = !opaque.is_empty()
                && opaque
                    .iter()
                    .all(|&c| matches!(c, 0x21..=0x7E) && !matches!(c, b'"' | b'<' | b'>'));
            if !ok {
                return None;
            }
        }
    }
    Some(uri)
}

fn parse_sip(raw: &Bytes, rest: usize, uri: &mut Uri) -> Option<()> {
    let s = &raw[..];
    // '@' cannot appear unescaped after the userinfo (§25.1: not in host,
    // paramchar or hvalue), so the first one ends it.
    let host_start = match scan::find_byte(s, b'@', rest) {
        Some(at) => {
            let userinfo = &s[rest..at];
            let (user, password) = match userinfo.iter().position(|&c| c == b':') {
                Some(p) => (&userinfo[..p], Some(&userinfo[p + 1..])),
                None => (userinfo, None),
            };
            if !scan::is_escaped(user, UNRESERVED | USER) {
                return None;
            }
            uri.user = Some(raw.slice(rest..rest + user.len()));
            if let Some(pw) = password {
                if !pw.is_empty() && !scan::is_escaped(pw, UNRESERVED | PASSWORD) {
                    return None;
                }
                uri.password = Some(raw.slice(at - pw.len()..at));
            }
            at + 1
        }
        None => rest,
    };
    let bracket_end = if s.get(host_start) == Some(&b'[') {
        scan::find_byte(s, b']', host_start)?
    } else {
        host_start
    };
    let hostport_end = s[bracket_end..]
        .iter()
        .position(|&c| c == b';' || c == b'?')
        .map_or(s.len(), |p| bracket_end + p);
    let (host, port) = parse_hostport(&raw.slice(host_start..hostport_end))?;
    uri.host = Some(host);
    uri.port = port;
    let q = scan::find_byte(s, b'?', hostport_end).unwrap_or(s.len());
    uri.params = Params::parse(raw.slice(hostport_end..q), Syntax::Uri)?;
    if q < s.len() {
        uri.headers = Params::parse(raw.slice(q + 1..), Syntax::UriHeaders)?;
        if uri.headers.is_empty() {
            return None;
        }
    }
    Some(())
}

fn is_visual_separator(c: u8) -> bool {
    matches!(c, b'-' | b'.' | b'(' | b')')
}

/// RFC 3966 `telephone-subscriber`: a global number (`+` digits and
/// visual separators) or a local one (hex digits, `*`, `#`, separators),
/// then `;` parameters.
fn parse_tel(raw: &Bytes, rest: usize, uri: &mut Uri) -> Option<()> {
    let s = &raw[..];
    let end = s[rest..]
        .iter()
        .position(|&c| c == b';')
        .map_or(s.len(), |p| rest + p);
    let number = &s[rest..end];
    let ok = match number.split_first() {
        Some((b'+', digits)) => {
            digits.iter().any(u8::is_ascii_digit)
                && digits
                    .iter()
                    .all(|&c| c.is_ascii_digit() || is_visual_separator(c))
        }
        Some(_) => {
            number
                .iter()
                .any(|&c| c.is_ascii_hexdigit() || c == b'*' || c == b'#')
                && number.iter().all(|&c| {
                    c.is_ascii_hexdigit() || c == b'*' || c == b'#' || is_visual_separator(c)
                })
        }
        None => false,
    };
    if !ok {
        return None;
    }
    uri.user = Some(raw.slice(rest..end));
    uri.params = Params::parse(raw.slice(end..), Syntax::Uri)?;
    Some(())
}

/// Decodes `%HH` escapes (an incomplete escape is kept as it is).
pub fn unescape(s: &[u8]) -> Vec<u8> {
    scan::unescaped(s).collect()
}

/// A telephone number read from a URI for routing: its digits without
/// visual separators, and whether it was written in global (`+`) form.
/// Holds up to [`PhoneNumber::MAX_DIGITS`] digits inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    digits: [u8; PhoneNumber::MAX_DIGITS],
    len: u8,
    global: bool,
}

impl PhoneNumber {
    /// The most digits kept; a longer "number" is not read as one (E.164
    /// numbers have at most 15).
    pub const MAX_DIGITS: usize = 32;

    /// Reads a number from escaped user-part or `tel:` text: `;`
    /// parameters are cut off, escapes decoded, separators dropped.
    fn from_escaped(s: &[u8]) -> Option<PhoneNumber> {
        let s = &s[..s.iter().position(|&c| c == b';').unwrap_or(s.len())];
        let mut n = PhoneNumber {
            digits: [0; PhoneNumber::MAX_DIGITS],
            len: 0,
            global: false,
        };
        for (i, c) in scan::unescaped(s).enumerate() {
            match c {
                b'+' if i == 0 => n.global = true,
                b'0'..=b'9' => {
                    *n.digits.get_mut(usize::from(n.len))? = c;
                    n.len += 1;
                }
                c if is_visual_separator(c) => {}
                _ => return None,
            }
        }
        (n.len > 0).then_some(n)
    }

    /// The digits, `0`–`9` only.
    pub fn digits(&self) -> &str {
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Whether the number was written with a leading `+` (E.164).
    pub fn is_global(&self) -> bool {
        self.global
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.global {
            f.write_str("+")?;
        }
        f.write_str(self.digits())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &'static str) -> Uri {
        Uri::parse(Bytes::from_static(s.as_bytes())).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn bad(s: &'static str) {
        assert_eq!(
            Uri::parse(Bytes::from_static(s.as_bytes())),
            Err(Error::BadUri),
            "{s}"
        );
    }

    #[test]
    fn sip_uri_parts() {
        let x = u("sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi&X=");
        assert_eq!(x.scheme(), &Scheme::Sips);
        assert_eq!(x.user().map(|b| &b[..]), Some(&b"alice"[..]));
        assert_eq!(x.password().map(|b| &b[..]), Some(&b"secret"[..]));
        assert_eq!(x.host(), Some(&Host::Ipv6("2001:db8::1".parse().unwrap())));
        assert_eq!(x.port(), Some(5061));
        assert_eq!(x.params().get("transport"), Some(&b"tcp"[..]));
        assert!(x.params().contains("lr"));
        assert_eq!(x.headers().get("subject"), Some(&b"hi"[..]));
        assert_eq!(
            x.to_string(),
            "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi&X="
        );

        let y = u("SIP:example.com");
        assert_eq!(y.scheme(), &Scheme::Sip);
        assert_eq!(y.user(), None);
        assert_eq!(
            y.host(),
            Some(&Host::Name(Bytes::from_static(b"example.com")))
        );
        assert_eq!(y.port(), None);
        assert!(y.params().is_empty() && y.headers().is_empty());

        let z = u("sip:192.0.2.4:5060");
        assert_eq!(z.host(), Some(&Host::Ipv4(Ipv4Addr::new(192, 0, 2, 4))));
        assert_eq!(z.port(), Some(5060));
    }

    #[test]
    fn rfc4475_user_parts() {
        // §3.1.1.2: a user part with nearly every allowed character, and a password.
        let x = u("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
        assert_eq!(
            x.user().map(|b| &b[..]),
            Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
        );
        assert_eq!(
            x.password().map(|b| &b[..]),
            Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
        );
        // §3.1.1.3 and §3.1.1.9: escapes and ';' in the user part.
        let e = u("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(
            e.user_unescaped().as_deref(),
            Some(&b"sips:user@example.com"[..])
        );
        let s = u("sip:user;par=u%40example.net@example.com");
        assert_eq!(
            s.user().map(|b| &b[..]),
            Some(&b"user;par=u%40example.net"[..])
        );
        assert!(s.params().is_empty());
        let n = u("sip:null-%00-null@example.com");
        assert_eq!(n.user_unescaped().as_deref(), Some(&b"null-\0-null"[..]));
    }

    #[test]
    fn tel_and_other_schemes() {
        let t = u("tel:+1-201-555-0123;ext=42");
        assert_eq!(t.scheme(), &Scheme::Tel);
        assert_eq!(t.user().map(|b| &b[..]), Some(&b"+1-201-555-0123"[..]));
        assert_eq!(t.params().get("ext"), Some(&b"42"[..]));
        let local = u("tel:7042;phone-context=example.com");
        assert_eq!(
            local.phone_number().map(|p| p.to_string()).as_deref(),
            Some("7042")
        );

        let o = u("nobodyKnowsThisScheme:totallyopaquecontent");
        assert_eq!(
            o.scheme(),
            &Scheme::Other(Bytes::from_static(b"nobodyKnowsThisScheme"))
        );
        assert_eq!(&o.opaque()[..], b"totallyopaquecontent");
        assert!(!o.is_sip() && o.host().is_none());
        assert_eq!(
            u("soap.beep://192.0.2.103:3002").scheme().as_bytes(),
            b"soap.beep"
        );
    }

    #[test]
    fn malformed_uris() {
        for s in [
            "",
            "sip",
            "<sip:user@example.com>",
            "1sip:x",
            "sip:",
            "sip:user@",
            "sip:@example.com",
            "sip:us er@example.com",
            "sip:user@exa mple.com",
            "sip:user@example.com:",
            "sip:user@example.com:65536",
            "sip:user@example.com:5060x",
            "sip:user@-bad.com",
            "sip:user@999.1.1.1",
            "sip:user@[2001:db8::1",
            "sip:user@[nothex]",
            "sip:user@example.com;",
            "sip:user@example.com?",
            "sip:user@example.com?a",
            "sip:us%2xer@example.com",
            "sip:a@b@c",
            "tel:",
            "tel:+",
            "tel:+1-abc",
            "tel:12?x=y",
            "x:",
            "x:a b",
            "x:<a>",
        ] {
            bad(s);
        }
    }

    #[test]
    fn phone_numbers() {
        let p = |s: &'static str| u(s).phone_number().map(|p| p.to_string());
        assert_eq!(
            p("sip:%2B44-(0)7700-900.123@gw.example.net;user=phone").as_deref(),
            Some("+4407700900123")
        );
        assert_eq!(
            p("sip:+19725552222;phone-context=x@gw1.example.net").as_deref(),
            Some("+19725552222")
        );
        assert_eq!(
            p("sip:00447700900123@trunk.example").as_deref(),
            Some("00447700900123")
        );
        assert_eq!(p("sip:alice@example.com"), None);
        assert_eq!(p("sip:example.com"), None);
        assert_eq!(p("sip:1+2@example.com"), None, "+ only in front");
        assert_eq!(p("tel:+1-201-555-0123").as_deref(), Some("+12015550123"));
        assert_eq!(p("tel:*67"), None, "not digits only");
        assert_eq!(p("mailto:1234"), None);
        let n = u("tel:+1-201-555-0123").phone_number().expect("number");
        assert!(n.is_global());
        assert_eq!(n.digits(), "12015550123");
        let long = "sip:123456789012345678901234567890123@x.example";
        assert_eq!(
            Uri::parse(Bytes::from(long))
                .expect("parses")
                .phone_number(),
            None
        );
    }

    #[test]
    fn hosts() {
        let h = |s: &'static str| Host::parse(&Bytes::from_static(s.as_bytes()));
        assert_eq!(
            h("example.com."),
            Some(Host::Name(Bytes::from_static(b"example.com.")))
        );
        assert_eq!(h("255.255.255.255"), Some(Host::Ipv4(Ipv4Addr::BROADCAST)));
        assert_eq!(h("a-b.1c"), None, "toplabel starts with a letter");
        assert!(h("a-b.c1").is_some());
        assert_eq!(h("a..b"), None);
        assert_eq!(h("[::1]").map(|h| h.to_string()).as_deref(), Some("[::1]"));
        assert_eq!(
            parse_hostport(&Bytes::from_static(b"[::1]:5060")),
            Some((Host::Ipv6(Ipv6Addr::LOCALHOST), Some(5060)))
        );
        assert_eq!(parse_hostport(&Bytes::from_static(b"[::1]x")), None);
    }
}
