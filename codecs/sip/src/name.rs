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

        /// A known name in one octet: what a parsed header line keeps
        /// (a [`HeaderName`] is 40 octets).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub(crate) enum Known {
            $( $variant, )*
        }

        #[cfg(test)]
        const ALL_KNOWN: &[HeaderName] = &[$( HeaderName::$variant, )*];

        /// Every known name and its long form, for [`LONG_FORMS`].
        const KNOWN_LONG: &[(Known, &str)] = &[$( (Known::$variant, $long), )*];

        impl Known {
            /// The [`HeaderName`].
            pub(crate) fn name(self) -> HeaderName {
                match self {
                    $( Known::$variant => HeaderName::$variant, )*
                }
            }

            /// The long form.
            pub(crate) fn as_bytes(self) -> &'static [u8] {
                match self {
                    $( Known::$variant => $long.as_bytes(), )*
                }
            }

            /// The long form and `": "`, what a line starts with.
            pub(crate) fn prefix(self) -> &'static [u8] {
                match self {
                    $( Known::$variant => concat!($long, ": ").as_bytes(), )*
                }
            }

            /// The known name `name` spells, in long or compact form and
            /// any case.
            #[inline]
            pub(crate) fn parse(name: &[u8]) -> Option<Known> {
                if let [c] = name {
                    return match c.to_ascii_lowercase() {
                        $( $( $compact => Some(Known::$variant), )? )*
                        _ => None,
                    };
                }
                long_form(name)
            }
        }

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

            /// The name in one octet, if it is a known one.
            pub(crate) fn known(&self) -> Option<Known> {
                match self {
                    $( HeaderName::$variant => Some(Known::$variant), )*
                    HeaderName::Other(_) => None,
                }
            }

            #[cfg(test)]
            fn from_known(name: &[u8]) -> Option<HeaderName> {
                Known::parse(name).map(Known::name)
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

/// The slot of a long form (any case) in [`LONG_FORMS`]: its length,
/// first and last letter mixed so that no two known names share a slot
/// (building the table checks this). Setting bit 5 lower-cases letters
/// (and changes some other octets, which only picks a slot: the
/// comparison after the lookup is exact).
#[inline]
const fn slot(name: &[u8]) -> usize {
    let (first, last) = match name {
        [first, .., last] => (*first | 0x20, *last | 0x20),
        _ => return 0,
    };
    (6 * (name.len() + last as usize) + first as usize) & (LONG_FORMS.len() - 1)
}

/// Which known name may be in each [`slot`]: a table lookup and one
/// comparison. (A jump on the name's length and first letter took about
/// a seventh of the time parsing the benchmark's INVITE, most of it
/// mispredicted jumps.)
static LONG_FORMS: [Option<(Known, &str)>; 128] = long_forms();

const fn long_forms() -> [Option<(Known, &'static str)>; 128] {
    let mut table: [Option<(Known, &str)>; 128] = [None; 128];
    let mut i = 0;
    while i < KNOWN_LONG.len() {
        let (known, long) = KNOWN_LONG[i];
        let slot = slot(long.as_bytes());
        assert!(table[slot].is_none(), "two known names share a slot");
        table[slot] = Some((known, long));
        i += 1;
    }
    table
}

/// The known header `name` spells in long form (any case).
#[inline]
fn long_form(name: &[u8]) -> Option<Known> {
    let (known, long) = LONG_FORMS[slot(name)]?;
    let long = long.as_bytes();
    // Every octet is compared (no early exit): names are short, and the
    // loop's exit is then always predicted.
    let differ = name.len() != long.len()
        || name.iter().zip(long).fold(0, |acc, (a, b)| {
            acc | (a.to_ascii_lowercase() ^ b.to_ascii_lowercase())
        }) != 0;
    (!differ).then_some(known)
}

impl HeaderName {
    /// The name for wire text: a known name in any case or compact form,
    /// or [`HeaderName::Other`] holding `name` as written.
    pub fn from_bytes(name: Bytes) -> HeaderName {
        match Known::parse(&name) {
            Some(known) => known.name(),
            None => HeaderName::Other(name),
        }
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
        // Same length, first and last letter (so the same slot), or only
        // bit 5 apart: still other names.
        for other in [
            &b"Call-IdD"[..],
            b"Cxll-ID",
            b"Call\rID",
            b"Contacd",
            b"Vja",
            b"V\x01a",
            b"T\x0f",
        ] {
            assert_eq!(HeaderName::from_known(other), None, "{other:?}");
        }
        for name in ALL_KNOWN {
            let known = name.known().expect("known");
            assert_eq!(&known.name(), name);
            assert_eq!(known.as_bytes(), name.as_bytes());
            assert_eq!(known.prefix(), [name.as_bytes(), b": "].concat());
        }
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
