//! Byte-level helpers: the character classes of RFC 3261 §25.1, a fast
//! line-feed search, and a cursor over a header value that slices
//! [`Bytes`] out of it without copying.

use bytes::Bytes;

/// `token` (§25.1): alphanum / `-.!%*_+` and backquote, quote, tilde.
pub(crate) const TOKEN: u16 = 1;
/// `unreserved`: alphanum / mark (`-_.!~*'()`).
pub(crate) const UNRESERVED: u16 = 2;
/// `user-unreserved`: `&=+$,;?/`.
pub(crate) const USER: u16 = 4;
/// The extra characters of `password`: `&=+$,`.
pub(crate) const PASSWORD: u16 = 8;
/// `param-unreserved`: `[]/:&+$`.
pub(crate) const PARAM: u16 = 16;
/// `hnv-unreserved`: `[]/?:+$`.
pub(crate) const HNV: u16 = 32;
/// `word` (Call-ID): token plus `()<>:\"/[]?{}`.
pub(crate) const WORD: u16 = 64;
/// Host name characters: alphanum / `-` / `.`.
pub(crate) const HOST: u16 = 128;
/// Graphic ASCII but `"`, `<` and `>`: what a URI in a start line may hold.
pub(crate) const URIC: u16 = 256;

static CLASS: [u16; 256] = classes();

const fn classes() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            t[c] = TOKEN | UNRESERVED | WORD | HOST;
        }
        if b > 0x20 && b < 0x7F && b != b'"' && b != b'<' && b != b'>' {
            t[c] |= URIC;
        }
        c += 1;
    }
    t = mark(t, b"-.!%*_+`'~", TOKEN | WORD);
    t = mark(t, b"-_.!~*'()", UNRESERVED);
    t = mark(t, b"&=+$,;?/", USER);
    t = mark(t, b"&=+$,", PASSWORD);
    t = mark(t, b"[]/:&+$", PARAM);
    t = mark(t, b"[]/?:+$", HNV);
    t = mark(t, b"()<>:\\\"/[]?{}", WORD);
    t = mark(t, b"-.", HOST);
    t
}

const fn mark(mut t: [u16; 256], chars: &[u8], class: u16) -> [u16; 256] {
    let mut i = 0;
    while i < chars.len() {
        t[chars[i] as usize] |= class;
        i += 1;
    }
    t
}

/// Whether `c` is in any of the `class` bits.
#[inline]
pub(crate) fn is(c: u8, class: u16) -> bool {
    CLASS[c as usize] & class != 0
}

/// Whether `s` is a non-empty `token`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&c| is(c, TOKEN))
}

/// Whether `s` is non-empty and every octet is in `class` or part of a
/// `%HH` escape.
pub(crate) fn is_escaped(s: &[u8], class: u16) -> bool {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            match (s.get(i + 1), s.get(i + 2)) {
                (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else if is(s[i], class) {
            i += 1;
        } else {
            return false;
        }
    }
    !s.is_empty()
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// The octets of `s` with `%HH` escapes decoded (an incomplete escape is
/// kept as it is), one at a time, without allocating.
pub(crate) fn unescaped(s: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let c = *s.get(i)?;
        if c == b'%' {
            if let (Some(&a), Some(&b)) = (s.get(i + 1), s.get(i + 2)) {
                if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() {
                    i += 3;
                    return Some(hex(a) << 4 | hex(b));
                }
            }
        }
        i += 1;
        Some(c)
    })
}

/// Compares `raw` (which may hold escapes) after unescaping with `name`,
/// ignoring ASCII case.
pub(crate) fn eq_unescaped_ignore_case(raw: &[u8], name: &[u8]) -> bool {
    let mut it = unescaped(raw);
    for &n in name {
        match it.next() {
            Some(c) if c.eq_ignore_ascii_case(&n) => {}
            _ => return false,
        }
    }
    it.next().is_none()
}

/// SP, HTAB, CR or LF. Inside a parsed header value CR and LF only occur
/// in folds (CRLF followed by SP or HTAB), so all four are LWS there.
#[inline]
pub(crate) fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// `s` without leading and trailing [`is_ws`] octets, as a range.
pub(crate) fn trim_range(s: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && is_ws(s[start]) {
        start += 1;
    }
    while end > start && is_ws(s[end - 1]) {
        end -= 1;
    }
    (start, end)
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The index of the first `needle` at or after `from`, eight octets at a
/// time (the classic "has zero byte" trick on `word ^ needle`; the lowest
/// flagged byte is always a real match).
#[inline]
pub(crate) fn find_byte(s: &[u8], needle: u8, from: usize) -> Option<usize> {
    let pattern = LO.wrapping_mul(u64::from(needle));
    let mut i = from;
    while let Some(chunk) = s.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let x = u64::from_le_bytes(w) ^ pattern;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s.get(i..)?.iter().position(|&c| c == needle).map(|p| i + p)
}

/// Parses ASCII decimal digits (at least one, any number of leading
/// zeros) into a `u64`, `None` on any other octet or overflow.
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// A position in a header value ([`Bytes`]), handing out slices of it.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    pub(crate) src: &'a Bytes,
    pub(crate) pos: usize,
    pub(crate) end: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(src: &'a Bytes) -> Cursor<'a> {
        Cursor {
            src,
            pos: 0,
            end: src.len(),
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        if self.pos < self.end {
            Some(self.src[self.pos])
        } else {
            None
        }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// Consumes `c` (after optional LWS when `lws`), reporting whether it
    /// was there.
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes octets in `class`; returns their range (maybe empty).
    pub(crate) fn take_class(&mut self, class: u16) -> (usize, usize) {
        let start = self.pos;
        while self.peek().is_some_and(|c| is(c, class)) {
            self.pos += 1;
        }
        (start, self.pos)
    }

    /// Consumes octets until one satisfies `stop` (or the end).
    pub(crate) fn take_until(&mut self, stop: impl Fn(u8) -> bool) -> (usize, usize) {
        let start = self.pos;
        while self.peek().is_some_and(|c| !stop(c)) {
            self.pos += 1;
        }
        (start, self.pos)
    }

    pub(crate) fn bytes(&self, (start, end): (usize, usize)) -> &'a [u8] {
        &self.src[start..end]
    }

    pub(crate) fn slice(&self, (start, end): (usize, usize)) -> Bytes {
        self.src.slice(start..end)
    }

    /// A `quoted-string` starting at the cursor (which must be on the
    /// opening `"`): returns the range between the quotes, escapes kept.
    /// `qdtext` is LWS, `%x21 / %x23-5B / %x5D-7E` or any non-ASCII octet;
    /// `quoted-pair` is `\` and any octet but CR and LF.
    pub(crate) fn quoted(&mut self) -> Option<(usize, usize)> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        loop {
            let c = self.peek()?;
            match c {
                b'"' => {
                    let end = self.pos;
                    self.pos += 1;
                    return Some((start, end));
                }
                b'\\' => {
                    self.pos += 1;
                    match self.peek()? {
                        b'\r' | b'\n' => return None,
                        _ => self.pos += 1,
                    }
                }
                b' ' | b'\t' | b'\r' | b'\n' | 0x21..=0x7E | 0x80..=0xFF => self.pos += 1,
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_grammar() {
        assert!(is_token(b"z9hG4bK-.!%*_+`'~"));
        assert!(!is_token(b"a,b"));
        assert!(!is_token(b""));
        assert!(is(b'(', UNRESERVED) && !is(b'(', TOKEN));
        assert!(is(b'?', USER) && !is(b'?', PASSWORD));
        assert!(is(b'{', WORD) && !is(b'{', TOKEN));
        assert!(is(b'-', HOST) && !is(b'_', HOST));
        assert!(is(b'~', URIC) && !is(b'<', URIC) && !is(b' ', URIC) && !is(0x80, URIC));
    }

    #[test]
    fn escapes() {
        assert!(is_escaped(b"a%20b", UNRESERVED));
        assert!(!is_escaped(b"a%2", UNRESERVED));
        assert!(!is_escaped(b"a%zz", UNRESERVED));
        assert!(!is_escaped(b"", UNRESERVED));
        assert_eq!(unescaped(b"%75se%72%2").collect::<Vec<_>>(), b"user%2");
        assert!(eq_unescaped_ignore_case(b"%6C%72", b"LR"));
        assert!(!eq_unescaped_ignore_case(b"%6C%72x", b"lr"));
        assert!(!eq_unescaped_ignore_case(b"l", b"lr"));
    }

    #[test]
    fn find_byte_agrees_with_a_plain_search() {
        let hay: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(37) ^ 0x55).collect();
        for needle in [0u8, b'\n', 0x80, 0xFF, 0x01, 0x55] {
            for from in [0, 1, 7, 8, 9, 100, 199, 200, 250] {
                let plain = hay
                    .get(from..)
                    .and_then(|s| s.iter().position(|&c| c == needle))
                    .map(|p| p + from);
                assert_eq!(find_byte(&hay, needle, from), plain, "{needle} {from}");
            }
        }
        assert_eq!(find_byte(b"\x0a\x0b", 0x0b, 0), Some(1));
        // 0x0A after 0x0B, where the carry of a borrow could mislead.
        assert_eq!(
            find_byte(b"\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0a", 0x0a, 0),
            Some(7)
        );
    }

    #[test]
    fn numbers_and_trim() {
        assert_eq!(parse_u64(b"0009"), Some(9));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(trim_range(b" \r\n a b \t", 0, 9), (4, 7));
        assert_eq!(trim_range(b"   ", 0, 3), (3, 3));
    }

    #[test]
    fn quoted_strings() {
        let b = Bytes::from_static(b"\"a \\\" b\"rest");
        let mut c = Cursor::new(&b);
        assert_eq!(c.quoted().map(|r| c.bytes(r)), Some(&b"a \\\" b"[..]));
        assert_eq!(c.peek(), Some(b'r'));
        let b = Bytes::from_static(b"\"open");
        assert_eq!(Cursor::new(&b).quoted(), None);
        let b = Bytes::from_static(b"\"a\x01\"");
        assert_eq!(Cursor::new(&b).quoted(), None);
    }
}
