//! Header names: the ones this crate knows, with their compact forms
//! (RFC 3261 §7.3.3, RFC 3265, RFC 3515), and any other name kept as
//! written.

use std::fmt;
use std::hash::{Hash, Hasher};

use bytes::Bytes;

macro_rules! names {
    ($( $(#[$doc:meta])* $variant:ident = $long:literal $(, $compact:literal)? ;)*) => {
        /// A header field name. Names compare ignoring ASCII case; the known
        /// ones are recognised in long and compact form and written in long
        /// form. Make one from wire text with [`HeaderName::from_bytes`] (which
        /// never returns [`HeaderName::Other`] for a known name).
        #[derive(Clone)]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// Any other name, as written (kept and re-encoded verbatim).
            Other(Bytes),
        }

        #[cfg(test)]
        const ALL_KNOWN: &[HeaderName] = &[$( HeaderName::$variant, )*];

        impl HeaderName {
            /// The long form (canonical spelling), or the name as written.
            pub fn as_bytes(&self) -> &[u8] {
                match self {
                    $( HeaderName::$variant => $long.as_bytes(), )*
                    HeaderName::Other(b) => b,
                }
            }

            /// The long form as a `&'static str` for a known name.
            pub fn known_str(&self) -> Option<&'static str> {
                match self {
                    $( HeaderName::$variant => Some($long), )*
                    HeaderName::Other(_) => None,
                }
            }

            pub(crate) fn from_known(name: &[u8]) -> Option<HeaderName> {
                if let [c] = name {
                    return match c.to_ascii_lowercase() {
                        $( $( $compact => Some(HeaderName::$variant), )? )*
                        _ => None,
                    };
                }
                long_form(name)
            }
        }
    };
}

names! {
    /// `Accept`
    Accept = "Accept";
    /// `Allow`
    Allow = "Allow";
    /// `Allow-Events` (RFC 6665; compact `u`)
    AllowEvents = "Allow-Events", b'u';
    /// `Authorization`
    Authorization = "Authorization";
    /// `Call-ID` (compact `i`)
    CallId = "Call-ID", b'i';
    /// `Contact` (compact `m`)
    Contact = "Contact", b'm';
    /// `Content-Encoding` (compact `e`)
    ContentEncoding = "Content-Encoding", b'e';
    /// `Content-Length` (compact `l`)
    ContentLength = "Content-Length", b'l';
    /// `Content-Type` (compact `c`)
    ContentType = "Content-Type", b'c';
    /// `CSeq`
    CSeq = "CSeq";
    /// `Date`
    Date = "Date";
    /// `Event` (RFC 6665; compact `o`)
    Event = "Event", b'o';
    /// `Expires`
    Expires = "Expires";
    /// `From` (compact `f`)
    From = "From", b'f';
    /// `Max-Forwards`
    MaxForwards = "Max-Forwards";
    /// `Proxy-Authenticate`
    ProxyAuthenticate = "Proxy-Authenticate";
    /// `Proxy-Authorization`
    ProxyAuthorization = "Proxy-Authorization";
    /// `Proxy-Require`
    ProxyRequire = "Proxy-Require";
    /// `Record-Route`
    RecordRoute = "Record-Route";
    /// `Refer-To` (RFC 3515; compact `r`)
    ReferTo = "Refer-To", b'r';
    /// `Require`
    Require = "Require";
    /// `Route`
    Route = "Route";
    /// `Subject` (compact `s`)
    Subject = "Subject", b's';
    /// `Supported` (compact `k`)
    Supported = "Supported", b'k';
    /// `Timestamp`
    Timestamp = "Timestamp";
    /// `To` (compact `t`)
    To = "To", b't';
    /// `Unsupported`
    Unsupported = "Unsupported";
    /// `User-Agent`
    UserAgent = "User-Agent";
    /// `Via` (compact `v`)
    Via = "Via", b'v';
    /// `WWW-Authenticate`
    WwwAuthenticate = "WWW-Authenticate";
}

/// The known header `name` spells in long form (any case): a jump on its
/// length and first letter, then one comparison. (A chain of comparisons,
/// or lower-casing it first, took a tenth of the parse time.) The test
/// `every_known_name_is_recognised_in_any_case` keeps this in step with
/// the list above.
fn long_form(name: &[u8]) -> Option<HeaderName> {
    let first = name.first()?.to_ascii_lowercase();
    Some(match (name.len(), first) {
        (2, b't') if name.eq_ignore_ascii_case(b"To") => HeaderName::To,
        (3, b'v') if name.eq_ignore_ascii_case(b"Via") => HeaderName::Via,
        (4, b'c') if name.eq_ignore_ascii_case(b"CSeq") => HeaderName::CSeq,
        (4, b'd') if name.eq_ignore_ascii_case(b"Date") => HeaderName::Date,
        (4, b'f') if name.eq_ignore_ascii_case(b"From") => HeaderName::From,
        (5, b'a') if name.eq_ignore_ascii_case(b"Allow") => HeaderName::Allow,
        (5, b'e') if name.eq_ignore_ascii_case(b"Event") => HeaderName::Event,
        (5, b'r') if name.eq_ignore_ascii_case(b"Route") => HeaderName::Route,
        (6, b'a') if name.eq_ignore_ascii_case(b"Accept") => HeaderName::Accept,
        (7, b'c') if name.eq_ignore_ascii_case(b"Call-ID") => HeaderName::CallId,
        (7, b'c') if name.eq_ignore_ascii_case(b"Contact") => HeaderName::Contact,
        (7, b'e') if name.eq_ignore_ascii_case(b"Expires") => HeaderName::Expires,
        (7, b'r') if name.eq_ignore_ascii_case(b"Require") => HeaderName::Require,
        (7, b's') if name.eq_ignore_ascii_case(b"Subject") => HeaderName::Subject,
        (8, b'r') if name.eq_ignore_ascii_case(b"Refer-To") => HeaderName::ReferTo,
        (9, b's') if name.eq_ignore_ascii_case(b"Supported") => HeaderName::Supported,
        (9, b't') if name.eq_ignore_ascii_case(b"Timestamp") => HeaderName::Timestamp,
        (10, b'u') if name.eq_ignore_ascii_case(b"User-Agent") => HeaderName::UserAgent,
        (11, b'u') if name.eq_ignore_ascii_case(b"Unsupported") => HeaderName::Unsupported,
        (12, b'a') if name.eq_ignore_ascii_case(b"Allow-Events") => HeaderName::AllowEvents,
        (12, b'c') if name.eq_ignore_ascii_case(b"Content-Type") => HeaderName::ContentType,
        (12, b'm') if name.eq_ignore_ascii_case(b"Max-Forwards") => HeaderName::MaxForwards,
        (12, b'r') if name.eq_ignore_ascii_case(b"Record-Route") => HeaderName::RecordRoute,
        (13, b'a') if name.eq_ignore_ascii_case(b"Authorization") => HeaderName::Authorization,
        (13, b'p') if name.eq_ignore_ascii_case(b"Proxy-Require") => HeaderName::ProxyRequire,
        (14, b'c') if name.eq_ignore_ascii_case(b"Content-Length") => HeaderName::ContentLength,
        (16, b'c') if name.eq_ignore_ascii_case(b"Content-Encoding") => HeaderName::ContentEncoding,
        (16, b'w') if name.eq_ignore_ascii_case(b"WWW-Authenticate") => HeaderName::WwwAuthenticate,
        (18, b'p') if name.eq_ignore_ascii_case(b"Proxy-Authenticate") => {
            HeaderName::ProxyAuthenticate
        }
        (19, b'p') if name.eq_ignore_ascii_case(b"Proxy-Authorization") => {
            HeaderName::ProxyAuthorization
        }
        _ => return None,
    })
}

impl HeaderName {
    /// The name for wire text: a known name in any case or compact form,
    /// or [`HeaderName::Other`] holding `name` as written.
    pub fn from_bytes(name: Bytes) -> HeaderName {
        HeaderName::from_known(&name).unwrap_or(HeaderName::Other(name))
    }

    /// Like [`HeaderName::from_bytes`] for a name the program spells out.
    pub fn from_static(name: &'static str) -> HeaderName {
        HeaderName::from_bytes(Bytes::from_static(name.as_bytes()))
    }

    /// A short, static name for error messages: the long form, or
    /// `"extension"` for other names.
    pub(crate) fn label(&self) -> &'static str {
        self.known_str().unwrap_or("extension")
    }

    /// Whether the header's grammar is a comma-separated list
    /// (`#element`), so that several values on one line mean the same as
    /// several lines (RFC 3261 §7.3.1). The authentication headers and
    /// the single-valued ones are not.
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            HeaderName::Accept
                | HeaderName::Allow
                | HeaderName::AllowEvents
                | HeaderName::Contact
                | HeaderName::ContentEncoding
                | HeaderName::ProxyRequire
                | HeaderName::RecordRoute
                | HeaderName::Require
                | HeaderName::Route
                | HeaderName::Supported
                | HeaderName::Unsupported
                | HeaderName::Via
        )
    }
}

impl PartialEq for HeaderName {
    #[inline]
    fn eq(&self, other: &HeaderName) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for HeaderName {}

impl Hash for HeaderName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for c in self.as_bytes() {
            state.write_u8(c.to_ascii_lowercase());
        }
    }
}

impl fmt::Debug for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_forms_and_case() {
        for (compact, long) in [
            ("v", HeaderName::Via),
            ("F", HeaderName::From),
            ("t", HeaderName::To),
            ("I", HeaderName::CallId),
            ("m", HeaderName::Contact),
            ("L", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("k", HeaderName::Supported),
            ("s", HeaderName::Subject),
            ("e", HeaderName::ContentEncoding),
            ("o", HeaderName::Event),
            ("u", HeaderName::AllowEvents),
            ("r", HeaderName::ReferTo),
        ] {
            assert_eq!(HeaderName::from_static(compact), long, "{compact}");
        }
        assert_eq!(
            HeaderName::from_static("MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(
            HeaderName::from_static("www-authenticate").as_bytes(),
            b"WWW-Authenticate"
        );
        assert!(matches!(HeaderName::from_static("x"), HeaderName::Other(_)));
        assert!(matches!(
            HeaderName::from_static("C%6Fntact"),
            HeaderName::Other(_)
        ));
    }

    #[test]
    fn every_known_name_is_recognised_in_any_case() {
        for name in ALL_KNOWN {
            let long = name.as_bytes();
            assert_eq!(HeaderName::from_known(long).as_ref(), Some(name));
            let upper = long.to_ascii_uppercase();
            assert_eq!(HeaderName::from_known(&upper).as_ref(), Some(name));
        }
        assert_eq!(HeaderName::from_known(b"Proxy-Authorization-X"), None);
        assert_eq!(HeaderName::from_known(b""), None);
    }

    #[test]
    fn other_names_compare_ignoring_case() {
        let a = HeaderName::from_static("X-Foo");
        let b = HeaderName::from_static("x-FOO");
        assert_eq!(a, b);
        assert_eq!(a.as_bytes(), b"X-Foo", "kept as written");
        assert_ne!(a, HeaderName::Via);
        let hash = |n: &HeaderName| {
            use std::collections::hash_map::DefaultHasher;
            let mut h = DefaultHasher::new();
            n.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&a), hash(&b));
        assert!(HeaderName::Via.is_list() && !HeaderName::WwwAuthenticate.is_list());
        assert!(!HeaderName::from_static("Date").is_list());
    }
}
