//! URLs in message text, and the domain policy the spam filter applies to
//! them.
//!
//! [`extract_urls`] finds links the way a phone would make them clickable,
//! plus the "defanged" spellings (`hxxp://`, `evil[.]com`) that people and
//! spammers use to dodge naive filters. [`DomainPolicy::check`] then says what
//! is suspicious about each one: a blocked domain, a public shortener, a bare
//! IP address, an internationalised (punycode) host, or a host that imitates a
//! protected brand.
//!
//! Host names are handled per UTS #46 (IDNA) via the `idna` crate, and
//! registrable domains (eTLD+1) come from the Public Suffix List embedded in
//! the `psl` crate: nothing is fetched at run time.
//!
//! Nothing here panics, whatever the input: indexing is by checked `get` or on
//! ASCII-only byte positions, and hosts longer than DNS allows are dropped
//! before they reach the IDNA code.

use std::net::Ipv4Addr;

/// At most this many URLs are returned for one message; the rest are ignored.
/// An SMS (even a long concatenated one) holds far fewer, so reaching the cap
/// is itself a sign of abuse the caller may count.
pub const MAX_URLS: usize = 256;

/// Longest host name DNS allows (RFC 1035 §2.3.4), in its ASCII form.
const MAX_HOST_LEN: usize = 253;
/// Longest label DNS allows (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Characters that end a URL when they are its last ones: sentence punctuation
/// and closing brackets and quotes.
const TRAILING_PUNCT: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '\'', '"'];
/// Characters stripped from the front of a bare (scheme-less) candidate.
const LEADING_PUNCT: &[char] = &['(', '[', '{', '<', '\'', '"'];

/// One URL found in message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Host, lower-case, with punycode labels decoded to Unicode
    /// (`xn--pypal-4ve.com` → `pаypal.com`); for an IP host, the address.
    pub host: String,
    /// Host in its ASCII (punycode) form, as DNS would see it.
    pub ascii_host: String,
    /// Registrable domain (public suffix plus one label, "eTLD+1"), in the
    /// same Unicode form as `host`; `None` for IP hosts and for hosts whose
    /// suffix is not on the Public Suffix List.
    pub registrable: Option<String>,
    /// The host is an IPv4 address.
    pub is_ip: bool,
    /// The URL was written defanged (`hxxp://`, `[.]`, `(dot)`, `[:]`, ...).
    pub defanged: bool,
    /// Something follows the host: a path other than `/`, a query or a
    /// fragment.
    pub has_path: bool,
}

/// Finds the URLs in `text`, in order of appearance (at most [`MAX_URLS`]).
///
/// Recognised forms:
/// - with a scheme: `http://`, `https://`, and the defanged `hxxp://`,
///   `hxxps://`, `http[:]//`;
/// - `www.` forms: `www.example.com/x`;
/// - bare `domain.tld[/path]` forms such as `bit.ly/x` or `paypa1-secure.com`,
///   accepted only when the suffix is on the Public Suffix List, so that
///   "e.g.", "3.50" or "Mr.Smith" are not taken for links;
/// - IPv4 hosts (`http://192.0.2.1/x`; bare only with a path, `192.0.2.1/x`,
///   so version numbers such as `1.2.3.4` are not links).
///
/// Defanged dots `[.]`, `(.)`, `[dot]`, `(dot)` read as dots. Trailing
/// `.,;:!?)]'"` is not part of a URL. E-mail addresses (`a@b.com`) are not
/// URLs; with a scheme, user info is dropped (`http://paypal.com@evil.com/`
/// has host `evil.com`). Hosts that are not valid IDNA are skipped, except
/// that an all-ASCII host after an explicit scheme or `www.` is kept as
/// written (lower-cased): `http://xn--zzzz.com` is still a link, and an odd
/// one.
pub fn extract_urls(text: &str) -> Vec<Url> {
    // Most messages hold no defanged spelling: skip the rewrite unless a
    // bracket or "hxxp" is there at all.
    let defanged = may_be_defanged(text);
    // Every form needs a dot in the host, or a scheme's colon, and only
    // the defanged spellings make either out of something else.
    if !defanged && !text.bytes().any(|b| b == b'.' || b == b':') {
        return Vec::new();
    }
    let (norm, marks) = if defanged {
        let (n, m) = undefang(text);
        (std::borrow::Cow::Owned(n), m)
    } else {
        (std::borrow::Cow::Borrowed(text), Vec::new())
    };
    let mut out = Vec::new();
    for (start, token) in tokens(&norm) {
        if out.len() >= MAX_URLS {
            break;
        }
        if !token.bytes().any(|b| b == b'.' || b == b':') {
            continue;
        }
        let defanged = marks
            .get(start..start + token.len())
            .is_some_and(|m| m.iter().any(|&b| b));
        if let Some(url) = parse_candidate(token, defanged) {
            out.push(url);
        }
    }
    out
}

/// Whether `text` may hold a defanged spelling ([`undefang`]'s patterns
/// all start with a bracket or with `hxxp`).
fn may_be_defanged(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter().enumerate().any(|(i, &c)| match c {
        b'[' | b'(' | b'{' => true,
        b'h' | b'H' => b
            .get(i + 1..i + 4)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"xxp")),
        _ => false,
    })
}

/// Rewrites the defanged spellings to plain ones. Returns the rewritten text
/// and, per byte of it, whether that byte came from a rewrite.
fn undefang(text: &str) -> (String, Vec<bool>) {
    // (pattern, replacement); matched ASCII case-insensitively.
    const RULES: &[(&str, &str)] = &[
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("{dot}", "."),
        ("[:]", ":"),
        ("hxxps:", "https:"),
        ("hxxps[:]", "https:"),
        ("hxxp:", "http:"),
        ("hxxp[:]", "http:"),
    ];
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut marks = Vec::with_capacity(text.len());
    let mut i = 0;
    'outer: while i < bytes.len() {
        for (pat, rep) in RULES {
            let matched = bytes
                .get(i..i + pat.len())
                .is_some_and(|b| b.eq_ignore_ascii_case(pat.as_bytes()));
            if matched {
                out.push_str(rep);
                marks.extend(std::iter::repeat_n(true, rep.len()));
                i += pat.len();
                continue 'outer;
            }
        }
        // `i` is on a char boundary: it only ever advances by whole chars or
        // by ASCII patterns, which cannot end inside a multi-byte char.
        let Some(c) = text.get(i..).and_then(|s| s.chars().next()) else {
            break;
        };
        out.push(c);
        marks.extend(std::iter::repeat_n(false, c.len_utf8()));
        i += c.len_utf8();
    }
    (out, marks)
}

/// Splits on white space and on characters that never occur in a URL as
/// typed in a message, yielding each token with its byte offset. ASCII is
/// classified byte by byte; other characters are decoded only to ask
/// whether they are white space.
fn tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    // The length of the separator starting at `i`, or 0 when none does.
    let sep_len = move |i: usize| -> usize {
        match bytes.get(i) {
            Some(&b) if b.is_ascii() => usize::from(
                matches!(b, b'<' | b'>' | b'"' | b'`' | b'|') || char::from(b).is_whitespace(),
            ),
            Some(_) => match text.get(i..).and_then(|s| s.chars().next()) {
                Some(c) if c.is_whitespace() => c.len_utf8(),
                _ => 0,
            },
            None => 0,
        }
    };
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let n = sep_len(at);
            if n == 0 {
                break;
            }
            at += n;
        }
        if at >= bytes.len() {
            return None;
        }
        let begin = at;
        // A multi-byte character that is not white space is part of the
        // token: step over it whole, so `at` stays on a char boundary.
        while at < bytes.len() && sep_len(at) == 0 {
            at += match bytes[at] {
                b if b < 0x80 => 1,
                b if b >= 0xF0 => 4,
                b if b >= 0xE0 => 3,
                _ => 2,
            };
        }
        Some((begin, text.get(begin..at)?))
    })
}

/// How the candidate announced itself; bare forms need more evidence.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Scheme,
    Www,
    Bare,
}

/// The first `http://` or `https://` in `token` (ASCII case-insensitive):
/// its offset and length.
fn find_scheme(token: &str) -> Option<(usize, usize)> {
    let b = token.as_bytes();
    let at = |p: usize, pat: &[u8]| {
        b.get(p..p + pat.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(pat))
    };
    (0..b.len()).filter(|&p| b[p] | 0x20 == b'h').find_map(|p| {
        if at(p, b"https://") {
            Some((p, 8))
        } else if at(p, b"http://") {
            Some((p, 7))
        } else {
            None
        }
    })
}

fn parse_candidate(token: &str, defanged: bool) -> Option<Url> {
    let (mut rest, mut form) = match find_scheme(token) {
        Some((p, scheme_len)) => (token.get(p + scheme_len..)?, Form::Scheme),
        _ if token.contains("://") => return None, // another scheme: ftp, ...
        _ => (token.trim_start_matches(LEADING_PUNCT), Form::Bare),
    };
    rest = rest.trim_end_matches(TRAILING_PUNCT);
    // Without a scheme the host needs a dot (an IPv4 address, `www.`, or a
    // name with a suffix), and the host is a part of `rest`: most tokens
    // with a dot or colon (`now.`, `10:30`) stop here.
    if form == Form::Bare && !rest.as_bytes().contains(&b'.') {
        return None;
    }
    if form == Form::Bare
        && rest
            .get(..4)
            .is_some_and(|w| w.eq_ignore_ascii_case("www."))
    {
        form = Form::Www;
    }

    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (mut authority, path) = rest.split_at(auth_end);
    let has_path = !path.is_empty() && path != "/";
    if let Some(at) = authority.rfind('@') {
        if form != Form::Scheme {
            return None; // an e-mail address, not a link
        }
        authority = authority.get(at + 1..)?;
    }
    let host = match authority.split_once(':') {
        Some((h, port)) => {
            let port_ok = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
            if !port_ok {
                return None;
            }
            h
        }
        None => authority,
    };
    let host = host.trim_end_matches('.');
    if host.is_empty() || host.len() > MAX_HOST_LEN * 4 {
        return None;
    }

    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        if form == Form::Bare && !has_path {
            return None;
        }
        let s = ip.to_string();
        return Some(Url {
            host: s.clone(),
            ascii_host: s,
            registrable: None,
            is_ip: true,
            defanged,
            has_path,
        });
    }

    if !plausible_host(host, form) {
        return None;
    }
    let ascii_host = match idna::domain_to_ascii(host) {
        Ok(a) if !a.is_empty() && a.len() <= MAX_HOST_LEN => a,
        Ok(_) => return None,
        Err(_) if form != Form::Bare && host.is_ascii() => host.to_ascii_lowercase(),
        Err(_) => return None,
    };
    if !ascii_host
        .split('.')
        .all(|l| !l.is_empty() && l.len() <= MAX_LABEL_LEN)
    {
        return None;
    }
    let known = psl::suffix(ascii_host.as_bytes()).is_some_and(|s| s.is_known());
    if form == Form::Bare && !(known && bare_tld_ok(host, has_path)) {
        return None;
    }
    let registrable = if known {
        psl::domain(ascii_host.as_bytes())
            .and_then(|d| std::str::from_utf8(d.as_bytes()).ok())
            .map(to_unicode)
    } else {
        None
    };
    if form == Form::Bare && registrable.is_none() {
        return None; // only a public suffix, such as "co.uk"
    }
    Some(Url {
        host: to_unicode(&ascii_host),
        ascii_host,
        registrable,
        is_ip: false,
        defanged,
        has_path,
    })
}

/// Cheap shape checks before IDNA: DNS-ish characters, no empty labels, and a
/// dot unless an explicit scheme says it is a link.
fn plausible_host(host: &str, form: Form) -> bool {
    let chars_ok = host
        .chars()
        .all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let labels_ok = host
        .split('.')
        .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    chars_ok && labels_ok && (form == Form::Scheme || host.contains('.'))
}

/// A bare candidate's last label must look like a TLD as typed: letters
/// only, and (without a path) not a capitalised word such as the "Smith" of
/// "Mr.Smith" or the "Click" of "now.Click", which are sentences missing a
/// space rather than links.
fn bare_tld_ok(host: &str, has_path: bool) -> bool {
    let tld = host.rsplit('.').next().unwrap_or("");
    if !tld.chars().all(char::is_alphabetic) {
        return false;
    }
    let has_upper = tld.chars().any(char::is_uppercase);
    let has_lower = tld.chars().any(char::is_lowercase);
    has_path || !(has_upper && has_lower)
}

/// Punycode to Unicode, falling back to the ASCII form when a label does
/// not decode (so a bad label stays visible as written).
fn to_unicode(ascii: &str) -> String {
    match idna::domain_to_unicode(ascii) {
        (u, Ok(())) => u,
        (_, Err(_)) => ascii.to_owned(),
    }
}

/// Public link shorteners, flagged by [`DomainPolicy`] unless allowed: they
/// hide where a link goes.
pub const DEFAULT_SHORTENERS: &[&str] = &[
    "bit.ly",
    "bitly.com",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "rb.gy",
    "t.ly",
    "tiny.cc",
    "s.id",
    "v.gd",
    "bl.ink",
    "lnkd.in",
    "short.io",
    "shorte.st",
    "adf.ly",
    "tiny.one",
    "qrco.de",
    "urlz.fr",
    "2no.co",
    "x.co",
    "trib.al",
    "soo.gd",
    "clck.ru",
    "t.me",
];

/// What [`DomainPolicy::check`] found suspicious about one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlHit {
    /// The host is, or is under, this blocked domain.
    Blocked(String),
    /// The host is, or is under, this link shortener.
    Shortener(String),
    /// The host is an IP address rather than a name.
    IpHost,
    /// The registrable domain imitates a protected brand.
    Lookalike {
        /// The protected brand imitated, as configured.
        brand: String,
        /// The URL's host (Unicode form).
        host: String,
    },
    /// A label of the host is punycode (`xn--`): an internationalised name,
    /// common in homograph phishing.
    Punycode,
}

/// Domain lists the spam filter checks URLs against. Built once (e.g. on
/// config reload) with [`DomainPolicy::new`]; entries are normalised to
/// lower-case ASCII (punycode) there, so checks do no IDNA work on the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainPolicy {
    block: Vec<String>,
    allow: Vec<String>,
    shorteners: Vec<String>,
    /// Brand names, lower-case, separators removed.
    brands: Vec<String>,
}

impl Default for DomainPolicy {
    /// No blocks, allows or brands; the [`DEFAULT_SHORTENERS`].
    fn default() -> Self {
        Self::new(Vec::new(), Vec::new(), default_shorteners(), Vec::new())
    }
}

/// [`DEFAULT_SHORTENERS`] as owned strings, to extend or pass to
/// [`DomainPolicy::new`].
pub fn default_shorteners() -> Vec<String> {
    DEFAULT_SHORTENERS.iter().map(|s| (*s).to_owned()).collect()
}

impl DomainPolicy {
    /// Builds a policy from its lists.
    ///
    /// - `block`: domains whose hosts, and their subdomains, are
    ///   [`UrlHit::Blocked`] (a block on `evil.com` matches `x.evil.com`).
    /// - `allow`: domains (and subdomains) that are never flagged. An allow
    ///   wins over a block of the same domain or of a parent; a block of a
    ///   more specific domain (block `bad.example.com`, allow `example.com`)
    ///   wins over the allow.
    /// - `shorteners`: link shorteners, flagged [`UrlHit::Shortener`]; pass
    ///   [`default_shorteners`] for the built-in list.
    /// - `protected_brands`: registrable labels such as `"paypal"`, `"hsbc"`,
    ///   `"royalmail"`. A brand's own domains must be in `allow`, or they are
    ///   flagged as look-alikes of themselves.
    ///
    /// Entries are trimmed, lower-cased and converted to punycode; a leading
    /// `*.` or `.` is ignored; entries that are not valid domain names are
    /// dropped.
    pub fn new(
        block: Vec<String>,
        allow: Vec<String>,
        shorteners: Vec<String>,
        protected_brands: Vec<String>,
    ) -> Self {
        let domains = |v: Vec<String>| -> Vec<String> {
            v.iter().filter_map(|d| normalise_domain(d)).collect()
        };
        let brands = protected_brands
            .iter()
            .map(|b| squash(&b.to_lowercase()))
            .filter(|b| !b.is_empty())
            .collect();
        Self {
            block: domains(block),
            allow: domains(allow),
            shorteners: domains(shorteners),
            brands,
        }
    }

    /// Says what is suspicious about `url`; empty when nothing is.
    ///
    /// `fold` maps confusable and "leet" characters to the Latin letters they
    /// imitate (`а`→`a`, `0`→`o`, `1`→`l`, ...); it is applied to the
    /// registrable label before the look-alike test, which then removes `-`
    /// and `.` and flags any protected brand the result contains. Hits come in
    /// the order: blocked, shortener, IP host, punycode, look-alike.
    pub fn check(&self, url: &Url, fold: &dyn Fn(&str) -> String) -> Vec<UrlHit> {
        let host = url.ascii_host.as_str();
        let matches = |entry: &String| {
            host == entry
                || (!url.is_ip
                    && host.len() > entry.len()
                    && host.ends_with(entry.as_str())
                    && host.as_bytes().get(host.len() - entry.len() - 1) == Some(&b'.'))
        };
        let longest = |list: &[String]| {
            list.iter()
                .filter(|e| matches(e))
                .max_by_key(|e| e.len())
                .cloned()
        };
        let allowed = longest(&self.allow);
        let blocked = longest(&self.block);
        match (&allowed, &blocked) {
            (Some(a), Some(b)) if b.len() > a.len() => return vec![UrlHit::Blocked(b.clone())],
            (Some(_), _) => return Vec::new(),
            _ => {}
        }

        let mut hits = Vec::new();
        if let Some(b) = blocked {
            hits.push(UrlHit::Blocked(b));
        }
        if let Some(s) = longest(&self.shorteners) {
            hits.push(UrlHit::Shortener(s));
        }
        if url.is_ip {
            hits.push(UrlHit::IpHost);
            return hits;
        }
        if host.split('.').any(|l| l.starts_with("xn--")) {
            hits.push(UrlHit::Punycode);
        }
        if let Some(brand) = self.lookalike(host, fold) {
            hits.push(UrlHit::Lookalike {
                brand,
                host: url.host.clone(),
            });
        }
        hits
    }

    /// The first protected brand contained in the folded registrable label of
    /// `ascii_host`, if any.
    fn lookalike(&self, ascii_host: &str, fold: &dyn Fn(&str) -> String) -> Option<String> {
        if self.brands.is_empty() {
            return None;
        }
        let domain = psl::domain(ascii_host.as_bytes())?;
        let reg = std::str::from_utf8(domain.as_bytes()).ok()?;
        let suffix_len = domain.suffix().as_bytes().len();
        let label = reg.get(..reg.len().checked_sub(suffix_len + 1)?)?;
        let label = to_unicode(label);
        let folded = squash(&fold(&label).to_lowercase());
        self.brands
            .iter()
            .find(|b| folded.contains(b.as_str()))
            .cloned()
    }
}

/// Lower-case punycode form of a configured domain, or `None` if invalid.
fn normalise_domain(entry: &str) -> Option<String> {
    let d = entry.trim();
    let d = d.strip_prefix("*.").unwrap_or(d);
    let d = d.trim_start_matches('.').trim_end_matches('.');
    if d.is_empty() || d.len() > MAX_HOST_LEN * 4 {
        return None;
    }
    let ascii = idna::domain_to_ascii(d).ok()?;
    let ok = !ascii.is_empty()
        && ascii.len() <= MAX_HOST_LEN
        && ascii
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= MAX_LABEL_LEN);
    ok.then_some(ascii)
}

/// Removes the separators a look-alike may put between brand letters.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, '-' | '.')).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(text: &str) -> Vec<String> {
        extract_urls(text).into_iter().map(|u| u.host).collect()
    }

    fn one(text: &str) -> Url {
        let mut v = extract_urls(text);
        assert_eq!(v.len(), 1, "{text:?} gave {v:?}");
        v.remove(0)
    }

    /// A tiny stand-in for the confusables module.
    fn fold(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                'а' => 'a',
                'е' => 'e',
                'о' | '0' => 'o',
                'р' => 'p',
                '1' => 'l',
                c => c,
            })
            .collect()
    }

    fn policy() -> DomainPolicy {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        DomainPolicy::new(
            s(&["evil.com", "bad.example.org"]),
            s(&["paypal.com", "paypal.co.uk", "example.org", "royalmail.com"]),
            default_shorteners(),
            s(&["paypal", "hsbc", "dhl", "royalmail", "Royal-Mail"]),
        )
    }

    #[test]
    fn scheme_forms() {
        let u = one("Go to https://Example.COM/login now");
        assert_eq!(u.host, "example.com");
        assert_eq!(u.registrable.as_deref(), Some("example.com"));
        assert!(u.has_path && !u.defanged && !u.is_ip);
        let u = one("http://example.com");
        assert!(!u.has_path);
        let u = one("http://example.com/");
        assert!(!u.has_path);
        let u = one("see:http://sub.example.co.uk:8080/?q=1");
        assert_eq!(u.host, "sub.example.co.uk");
        assert_eq!(u.registrable.as_deref(), Some("example.co.uk"));
        assert!(u.has_path);
        // User info is not the host.
        assert_eq!(hosts("http://paypal.com@evil.com/x"), ["evil.com"]);
        // Other schemes are not links here.
        assert!(extract_urls("ftp://example.com/x").is_empty());
    }

    #[test]
    fn defanged_forms() {
        for text in [
            "hxxp://evil[.]com/x",
            "hXXps://evil.com/x",
            "http[:]//evil.com/x",
            "hxxps[:]//evil(.)com/x",
            "evil[dot]com/x",
            "evil(dot)com/x",
            "evil(DOT)com/x",
        ] {
            let u = one(text);
            assert_eq!(u.host, "evil.com", "{text}");
            assert!(u.defanged, "{text}");
            assert!(u.has_path, "{text}");
        }
        assert!(!one("http://evil.com/x").defanged);
    }

    #[test]
    fn www_and_bare_forms() {
        let u = one("visit www.shop.example/x today");
        assert_eq!(u.host, "www.shop.example");
        let u = one("Claim at bit.ly/x");
        assert_eq!(u.host, "bit.ly");
        assert!(u.has_path);
        let u = one("Your account: paypa1-secure.com");
        assert_eq!(u.host, "paypa1-secure.com");
        assert_eq!(u.registrable.as_deref(), Some("paypa1-secure.com"));
        assert!(!u.has_path);
        assert_eq!(
            hosts("a royalmail-redelivery.info b WWW.Example.com c"),
            ["royalmail-redelivery.info", "www.example.com"]
        );
    }

    #[test]
    fn trailing_punctuation_trimmed() {
        for text in [
            "(see bit.ly/abc).",
            "bit.ly/abc!",
            "bit.ly/abc?",
            "\"bit.ly/abc\"",
            "'bit.ly/abc',",
            "[bit.ly/abc];",
            "bit.ly/abc:",
        ] {
            let u = one(text);
            assert_eq!(u.host, "bit.ly", "{text}");
            assert!(u.has_path, "{text}");
        }
        let u = one("Go to https://example.com.");
        assert_eq!(u.host, "example.com");
        assert!(!u.has_path);
        let u = one("example.com, thanks");
        assert_eq!(u.host, "example.com");
    }

    #[test]
    fn not_urls() {
        for text in [
            "e.g. this",
            "i.e.",
            "It costs 3.50 today",
            "£3.50",
            "Dear Mr.Smith,",
            "Call now.Click",
            "version 1.2.3.4",
            "a..b",
            "...",
            "co.uk",
            "Hello world.",
            "",
        ] {
            assert!(
                extract_urls(text).is_empty(),
                "{text:?} gave {:?}",
                extract_urls(text)
            );
        }
    }

    #[test]
    fn email_addresses_are_not_urls() {
        assert!(extract_urls("mail a@b.com or x.y@paypal.co.uk").is_empty());
    }

    #[test]
    fn ip_hosts() {
        let u = one("http://192.0.2.1/x");
        assert!(u.is_ip);
        assert_eq!(u.host, "192.0.2.1");
        assert_eq!(u.registrable, None);
        assert!(one("192.0.2.1/login").is_ip);
        assert!(one("hxxp://192[.]0[.]2[.]1:8080").defanged);
        assert!(extract_urls("192.0.2.1").is_empty());
    }

    #[test]
    fn punycode_decoded() {
        let u = one("https://xn--pypal-4ve.com/login");
        assert_eq!(u.ascii_host, "xn--pypal-4ve.com");
        assert_eq!(u.host, "p\u{430}ypal.com");
        assert_eq!(u.registrable.as_deref(), Some("p\u{430}ypal.com"));
        // Unicode input gets its punycode form.
        let u = one("p\u{430}ypal.com/x");
        assert_eq!(u.ascii_host, "xn--pypal-4ve.com");
    }

    #[test]
    fn invalid_punycode_does_not_panic() {
        for text in [
            "xn--zzzz",
            "http://xn--zzzz/",
            "http://xn--zzzz.com/x",
            "xn--zzzz.com",
        ] {
            let urls = extract_urls(text);
            for u in &urls {
                let _ = policy().check(u, &fold);
            }
        }
        // After an explicit scheme it stays a link, as written.
        let u = one("http://xn--zzzz.com/x");
        assert_eq!(u.ascii_host, "xn--zzzz.com");
        assert!(policy().check(&u, &fold).contains(&UrlHit::Punycode));
    }

    #[test]
    fn arbitrary_input_does_not_panic() {
        let dots = ".".repeat(100 * 1024);
        assert!(extract_urls(&dots).is_empty());
        let mixed = "[.](dot)hxxp[:]//".repeat(5000);
        let _ = extract_urls(&mixed);
        let long_label = format!("http://{}.com/", "a".repeat(100_000));
        assert!(extract_urls(&long_label).is_empty());
        let many = "a.com ".repeat(10_000);
        assert_eq!(extract_urls(&many).len(), MAX_URLS);
        for text in [
            "http://",
            "https://:80",
            "http://@",
            "http://.",
            "http://a:99999999/",
            "http://[::1]/",
            "\u{0}\u{ffff}http://\u{10ffff}.com",
            "ééé.ééé",
            "hxxp",
            "[.",
            "http://-a-.com",
            "www.",
        ] {
            for u in extract_urls(text) {
                let _ = policy().check(&u, &fold);
            }
        }
        // Every byte prefix of a multi-byte string stays on char boundaries.
        let s = "Пример: hxxps://пример[.]рф/путь и bit.ly/ж";
        for (i, _) in s.char_indices() {
            let _ = extract_urls(&s[i..]);
        }
    }

    #[test]
    fn block_and_allow() {
        let p = policy();
        let check = |t: &str| p.check(&one(t), &fold);
        assert_eq!(
            check("http://evil.com/"),
            [UrlHit::Blocked("evil.com".into())]
        );
        assert_eq!(check("x.evil.com/a"), [UrlHit::Blocked("evil.com".into())]);
        assert!(check("notevil.com/a").is_empty());
        // Allow of a parent wins over nothing; block of a child wins over it.
        assert!(check("www.example.org/x").is_empty());
        assert_eq!(
            check("a.bad.example.org/x"),
            [UrlHit::Blocked("bad.example.org".into())]
        );
        // Allow wins over a block of a parent.
        let p2 = DomainPolicy::new(
            vec!["example.com".into()],
            vec!["good.example.com".into()],
            vec![],
            vec![],
        );
        assert!(p2.check(&one("http://good.example.com/"), &fold).is_empty());
        assert_eq!(
            p2.check(&one("http://other.example.com/"), &fold),
            [UrlHit::Blocked("example.com".into())]
        );
        // Entries are normalised.
        let p3 = DomainPolicy::new(
            vec![" *.EVIL.com. ".into(), "".into()],
            vec![],
            vec![],
            vec![],
        );
        assert_eq!(
            p3.check(&one("http://a.evil.com/"), &fold),
            [UrlHit::Blocked("evil.com".into())]
        );
    }

    #[test]
    fn shorteners() {
        let p = policy();
        for (t, s) in [
            ("bit.ly/x", "bit.ly"),
            ("https://www.tinyurl.com/y", "tinyurl.com"),
        ] {
            assert_eq!(
                p.check(&one(t), &fold),
                [UrlHit::Shortener(s.into())],
                "{t}"
            );
        }
        assert!(
            DomainPolicy::default().check(&one("t.co/x"), &fold)
                == [UrlHit::Shortener("t.co".into())]
        );
        // Allow wins over the shortener policy.
        let p2 = DomainPolicy::new(vec![], vec!["bit.ly".into()], default_shorteners(), vec![]);
        assert!(p2.check(&one("bit.ly/x"), &fold).is_empty());
    }

    #[test]
    fn ip_and_punycode_hits() {
        let p = policy();
        assert_eq!(p.check(&one("http://192.0.2.1/x"), &fold), [UrlHit::IpHost]);
        let hits = p.check(&one("http://xn--e1afmkfd.xn--p1ai/"), &fold);
        assert_eq!(hits, [UrlHit::Punycode]);
    }

    #[test]
    fn lookalikes() {
        let p = policy();
        let look = |t: &str, brand: &str| {
            let u = one(t);
            let hits = p.check(&u, &fold);
            assert!(
                hits.contains(&UrlHit::Lookalike {
                    brand: brand.into(),
                    host: u.host.clone()
                }),
                "{t}: {hits:?}"
            );
        };
        look("paypa1-secure.com", "paypal");
        look("https://xn--pypal-4ve.com/", "paypal");
        look("royalmail-redelivery.info", "royalmail");
        look("http://www.royal-mail-parcel.help/x", "royalmail");
        look("pay-pal.co/x", "paypal");
        look("secure-hsbc.uk.com/x", "hsbc");
        look("dhl-track.xyz/1", "dhl");
        // The Cyrillic host carries the punycode hit too.
        assert_eq!(
            p.check(&one("https://xn--pypal-4ve.com/"), &fold)[0],
            UrlHit::Punycode
        );
        // The brands' own (allowed) domains are clean.
        for t in [
            "paypal.com",
            "www.paypal.co.uk/x",
            "https://royalmail.com/track",
        ] {
            assert!(p.check(&one(t), &fold).is_empty(), "{t}");
        }
        // Not in the registrable label: no look-alike.
        assert!(p.check(&one("paypal.example.net/x"), &fold).is_empty());
        assert!(p.check(&one("example.com/paypal"), &fold).is_empty());
        // Without brands there is nothing to imitate.
        assert!(DomainPolicy::default()
            .check(&one("paypa1.com"), &fold)
            .is_empty());
    }
}
