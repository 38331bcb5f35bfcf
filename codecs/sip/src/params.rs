//! Parameter lists: `;name=value` after a URI or a header value, `?h=v&…`
//! URI headers, and `name=value, …` authentication parameters.
//!
//! A [`Params`] holds the raw text (a [`Bytes`] slice of the message) that
//! was checked against its grammar once, when it was made; lookups scan it
//! again, so no parameter is ever copied or collected into a list.

use std::fmt;

use bytes::Bytes;

use crate::scan::{self, Cursor, HNV, PARAM, TOKEN, UNRESERVED};

/// Which grammar a [`Params`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Syntax {
    /// `uri-parameters` (RFC 3261 §25.1): `*( ";" pname [ "=" pvalue ] )`,
    /// escapes allowed, no whitespace.
    Uri,
    /// `headers` of a SIP URI: `hname "=" hvalue *( "&" hname "=" hvalue )`.
    UriHeaders,
    /// `generic-param` lists of header values: `*( SEMI token [ EQUAL
    /// gen-value ] )`, gen-value being a token, a host or a quoted string.
    Header,
    /// `auth-param` lists (§25.1 `digest-response`, `challenge`): `name
    /// EQUAL ( token / quoted-string )` separated by COMMA.
    Auth,
}

/// A checked parameter list.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Params {
    raw: Bytes,
    syntax: Syntax,
}

/// One element: name and value ranges into the raw text.
struct Item {
    name: (usize, usize),
    value: Option<(usize, usize)>,
}

impl Params {
    pub(crate) fn empty(syntax: Syntax) -> Params {
        Params {
            raw: Bytes::new(),
            syntax,
        }
    }

    /// Checks `raw` against `syntax`; `None` if it does not follow it.
    pub(crate) fn parse(raw: Bytes, syntax: Syntax) -> Option<Params> {
        let p = Params { raw, syntax };
        let mut pos = 0;
        let mut first = true;
        while let Some((_, next)) = p.next(pos, first)? {
            pos = next;
            first = false;
        }
        Some(p)
    }

    /// The element at `pos`: `Some(None)` at the end, `None` on a syntax
    /// error.
    fn next(&self, pos: usize, first: bool) -> Option<Option<(Item, usize)>> {
        let mut c = Cursor::new(&self.raw);
        c.pos = pos;
        let lws = matches!(self.syntax, Syntax::Header | Syntax::Auth);
        if lws {
            c.skip_ws();
        }
        if c.at_end() {
            return Some(None);
        }
        let sep = match self.syntax {
            Syntax::Uri | Syntax::Header => Some(b';'),
            Syntax::UriHeaders => (!first).then_some(b'&'),
            Syntax::Auth => (!first).then_some(b','),
        };
        if let Some(sep) = sep {
            if !c.eat(sep) {
                return None;
            }
            if lws {
                c.skip_ws();
            }
        }
        let item = match self.syntax {
            Syntax::Uri | Syntax::UriHeaders => {
                let class = if self.syntax == Syntax::Uri {
                    PARAM | UNRESERVED
                } else {
                    HNV | UNRESERVED
                };
                let name = c.take_until(|b| !(scan::is(b, class) || b == b'%'));
                if !scan::is_escaped(c.bytes(name), class) {
                    return None;
                }
                let value = if c.eat(b'=') {
                    let v = c.take_until(|b| !(scan::is(b, class) || b == b'%'));
                    // pvalue is 1*paramchar; an hvalue may be empty.
                    let ok = if self.syntax == Syntax::Uri || v.0 != v.1 {
                        scan::is_escaped(c.bytes(v), class)
                    } else {
                        true
                    };
                    if !ok {
                        return None;
                    }
                    Some(v)
                } else if self.syntax == Syntax::UriHeaders {
                    return None;
                } else {
                    None
                };
                Item { name, value }
            }
            Syntax::Header | Syntax::Auth => {
                let name = c.take_class(TOKEN);
                if name.0 == name.1 {
                    return None;
                }
                c.skip_ws();
                let value = if c.eat(b'=') {
                    c.skip_ws();
                    Some(gen_value(&mut c, self.syntax == Syntax::Header)?)
                } else if self.syntax == Syntax::Auth {
                    return None;
                } else {
                    None
                };
                Item { name, value }
            }
        };
        if lws {
            c.skip_ws();
        }
        Some(Some((item, c.pos)))
    }

    fn items(&self) -> impl Iterator<Item = Item> + '_ {
        let mut pos = 0;
        let mut first = true;
        std::iter::from_fn(move || {
            // Checked when made: an error here cannot happen, and ends the
            // iteration if it did.
            let (item, next) = self.next(pos, first)??;
            pos = next;
            first = false;
            Some(item)
        })
    }

    fn find(&self, name: &str) -> Option<Item> {
        let escapes = matches!(self.syntax, Syntax::Uri | Syntax::UriHeaders);
        self.items().find(|it| {
            let n = &self.raw[it.name.0..it.name.1];
            if escapes {
                scan::eq_unescaped_ignore_case(n, name.as_bytes())
            } else {
                n.eq_ignore_ascii_case(name.as_bytes())
            }
        })
    }

    /// Whether a parameter called `name` is present (names compare
    /// ignoring ASCII case, and after unescaping in URIs).
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The value of the first parameter called `name`: the raw text after
    /// `=` (without the quotes of a quoted string, escapes kept), or an
    /// empty slice for a parameter without a value; `None` if absent.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.find(name).map(|it| match it.value {
            Some((a, b)) => &self.raw[a..b],
            None => &[][..],
        })
    }

    /// Like [`Params::get`], as a [`Bytes`] slice of the message.
    pub fn value(&self, name: &str) -> Option<Bytes> {
        self.find(name).map(|it| match it.value {
            Some((a, b)) => self.raw.slice(a..b),
            None => Bytes::new(),
        })
    }

    /// Every parameter in order: its name and value (as in
    /// [`Params::get`], `None` when there is no `=`).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> + '_ {
        self.items().map(|it| {
            (
                &self.raw[it.name.0..it.name.1],
                it.value.map(|(a, b)| &self.raw[a..b]),
            )
        })
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.items().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.iter().all(|&c| scan::is_ws(c))
    }

    /// The raw text as received (with its leading `;` for URI and header
    /// parameters).
    pub fn as_bytes(&self) -> &Bytes {
        &self.raw
    }
}

/// `gen-value` (token / host / quoted-string) or, for auth-params, token /
/// quoted-string. Returns the value's range, inside the quotes if quoted.
fn gen_value(c: &mut Cursor<'_>, host: bool) -> Option<(usize, usize)> {
    match c.peek()? {
        b'"' => c.quoted(),
        b'[' if host => {
            let start = c.pos;
            c.pos += 1;
            let inner = c.take_until(|b| b == b']');
            if !c.eat(b']') || inner.0 == inner.1 {
                return None;
            }
            let ok = c
                .bytes(inner)
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            ok.then_some((start, c.pos))
        }
        _ => {
            let v = c.take_class(TOKEN);
            (v.0 != v.1).then_some(v)
        }
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Params({:?})", String::from_utf8_lossy(&self.raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &'static str, syntax: Syntax) -> Option<Params> {
        Params::parse(Bytes::from_static(s.as_bytes()), syntax)
    }

    #[test]
    fn header_params_with_lws() {
        let ps = p(
            " ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33",
            Syntax::Header,
        )
        .expect("parses");
        assert_eq!(ps.get("NEWPARAM"), Some(&b"newvalue"[..]));
        assert_eq!(ps.get("secondparam"), Some(&b""[..]));
        assert_eq!(ps.get("q"), Some(&b"0.33"[..]));
        assert_eq!(ps.get("tag"), None);
        assert_eq!(ps.len(), 3);
        let names: Vec<&[u8]> = ps.iter().map(|(n, _)| n).collect();
        assert_eq!(names, [&b"newparam"[..], b"secondparam", b"q"]);
    }

    #[test]
    fn header_params_quoted_and_host_values() {
        let ps = p(
            ";x=\"a;b\\\"c\";maddr=[2001:db8::1];tag=_token~1",
            Syntax::Header,
        )
        .expect("parses");
        assert_eq!(ps.get("x"), Some(&b"a;b\\\"c"[..]));
        assert_eq!(ps.get("maddr"), Some(&b"[2001:db8::1]"[..]));
        assert_eq!(ps.value("tag").as_deref(), Some(&b"_token~1"[..]));
    }

    #[test]
    fn header_params_reject_empty_elements() {
        assert!(p(";;", Syntax::Header).is_none());
        assert!(p(";a=", Syntax::Header).is_none());
        assert!(p(";a=b c", Syntax::Header).is_none());
        assert!(p("a=b", Syntax::Header).is_none(), "must start with ;");
        assert!(p(";a=\"open", Syntax::Header).is_none());
        assert!(p("", Syntax::Header).is_some_and(|p| p.is_empty()));
    }

    #[test]
    fn uri_params_unescape_names() {
        let ps = p(";%6C%72;n%61me=v%61lue%25%34%31;lr2", Syntax::Uri).expect("parses");
        assert!(ps.contains("lr"));
        assert_eq!(ps.get("name"), Some(&b"v%61lue%25%34%31"[..]));
        assert!(p("; lr", Syntax::Uri).is_none());
        assert!(p(";a=", Syntax::Uri).is_none());
        assert!(p(";a%2", Syntax::Uri).is_none());
    }

    #[test]
    fn uri_headers() {
        let ps = p("Route=%3Csip:example.com%3E&Subject=", Syntax::UriHeaders).expect("parses");
        assert_eq!(ps.get("route"), Some(&b"%3Csip:example.com%3E"[..]));
        assert_eq!(ps.get("subject"), Some(&b""[..]));
        assert!(p("Route", Syntax::UriHeaders).is_none());
        assert!(p("a=b&", Syntax::UriHeaders).is_none());
    }

    #[test]
    fn auth_params() {
        let ps = p(
            "username=\"bob\", realm=\"example.com\",\r\n nonce=\"abc\", qop=auth, nc=00000001",
            Syntax::Auth,
        )
        .expect("parses");
        assert_eq!(ps.get("Realm"), Some(&b"example.com"[..]));
        assert_eq!(ps.get("qop"), Some(&b"auth"[..]));
        assert_eq!(ps.len(), 5);
        assert!(p("a=b,,c=d", Syntax::Auth).is_none());
        assert!(p("flag", Syntax::Auth).is_none());
        assert!(p("opaque-data=here", Syntax::Auth).is_some());
    }
}
