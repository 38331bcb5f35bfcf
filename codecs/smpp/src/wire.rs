//! Bounded reading and checked writing of SMPP primitive types
//! (SMPP 3.4 §3.1: Integer, C-Octet String, Octet String).

use bytes::Bytes;
use nom::bytes::complete::{tag, take, take_till};
use nom::number::complete::{be_u16, be_u32, be_u8};
use nom::sequence::terminated;
use nom::IResult;

use crate::error::{DecodeError, DecodeErrorKind as K, EncodeError, Field};

/// Reads fields from one PDU body with `nom` parsers over the unread
/// bytes. Every read is bounded by the body; strings are returned as
/// slices of the frame, never copied.
pub(crate) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    #[cfg(test)]
    pub(crate) fn new(buf: &'a Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    /// A reader of `buf` from offset `pos` on (a frame's body, read in
    /// place: fields become slices of the frame, with no slice of the
    /// body taken first).
    pub(crate) fn at(buf: &'a Bytes, pos: usize) -> Self {
        Reader {
            buf,
            pos: pos.min(buf.len()),
        }
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The unread part of the body.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        let buf: &'a [u8] = self.buf;
        &buf[self.pos..]
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Runs a `nom` parser on the unread bytes and moves past what it
    /// consumed. A parser that runs out of input means the body ended
    /// inside `field`.
    #[inline(always)]
    fn parse<O>(
        &mut self,
        field: Field,
        mut parser: impl FnMut(&'a [u8]) -> IResult<&'a [u8], O>,
    ) -> Result<O, DecodeError> {
        let rest = self.rest();
        match parser(rest) {
            Ok((left, out)) => {
                self.pos += rest.len() - left.len();
                Ok(out)
            }
            Err(_) => Err(DecodeError::new(K::Truncated, field)),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: Field) -> Result<u8, DecodeError> {
        self.parse(field, be_u8)
    }

    #[inline]
    pub(crate) fn u16(&mut self, field: Field) -> Result<u16, DecodeError> {
        self.parse(field, be_u16)
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: Field) -> Result<u32, DecodeError> {
        self.parse(field, be_u32)
    }

    /// A C-Octet String of at most `max` octets *including* the NUL
    /// (the "Var. max N" of the spec tables). Returns the text without
    /// its NUL. The NUL is looked for only within `max` octets, so an
    /// unterminated string costs no more than its limit.
    #[inline(always)]
    pub(crate) fn c_octet(&mut self, field: Field, max: usize) -> Result<Bytes, DecodeError> {
        let rest = self.rest();
        // Most optional strings (service_type, the two times) are empty.
        if max > 0 && rest.first() == Some(&0) {
            self.pos += 1;
            return Ok(Bytes::new());
        }
        let window = &rest[..rest.len().min(max)];
        let parsed: IResult<&[u8], &[u8]> =
            terminated(take_till(|b| b == 0), tag(&[0u8][..]))(window);
        match parsed {
            Ok((_, text)) => {
                let s = self.buf.slice(self.pos..self.pos + text.len());
                self.pos += text.len() + 1;
                Ok(s)
            }
            Err(_) if rest.len() < max => Err(DecodeError::new(K::Truncated, field)),
            Err(_) => Err(DecodeError::new(K::Unterminated, field)),
        }
    }

    /// A time field: a C-Octet String that is empty or exactly 16
    /// characters of valid SMPP time (§7.1.1).
    pub(crate) fn time(&mut self, field: Field) -> Result<Bytes, DecodeError> {
        let s = self.c_octet(field, 17)?;
        if s.is_empty() || crate::time::validate_time_field(&s).is_ok() {
            Ok(s)
        } else {
            Err(DecodeError::new(K::BadTime, field))
        }
    }

    /// `n` octets as a slice of the frame.
    #[inline]
    pub(crate) fn octets(&mut self, field: Field, n: usize) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.parse(field, take(n))?;
        Ok(self.buf.slice(start..self.pos))
    }

    /// A body that must be finished: anything left is an error.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::new(K::TrailingBytes, Field::Body))
        }
    }
}

/// Checks a time field for encoding: empty or 16 characters.
#[inline]
pub(crate) fn time_len(s: &[u8], field: Field) -> Result<usize, EncodeError> {
    if s.is_empty() {
        Ok(1)
    } else if s.len() == 16 && crate::time::validate_time_field(s).is_ok() {
        Ok(17)
    } else {
        Err(EncodeError::new(K::BadTime, field))
    }
}

/// Writes a PDU into a slice sized by the length pass. Never panics: a
/// write past the end (which the length pass rules out) is skipped and
/// shows as a length mismatch, and a NUL inside a C-Octet String is
/// recorded; [`SliceWriter::finish`] reports either.
pub(crate) struct SliceWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    bad: Option<Field>,
}

impl<'a> SliceWriter<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        SliceWriter {
            buf,
            pos: 0,
            bad: None,
        }
    }

    /// The next `n` octets, or `None` past the end. The position moves
    /// on either way: an overrun (which the sizing pass rules out) then
    /// shows as a length mismatch in [`SliceWriter::finish`], and the
    /// common path has no extra branch.
    #[inline(always)]
    fn take(&mut self, n: usize) -> Option<&mut [u8]> {
        let at = self.pos;
        self.pos += n;
        self.buf.get_mut(at..at + n)
    }

    #[inline(always)]
    pub(crate) fn u8(&mut self, v: u8) {
        if let Some(d) = self.buf.get_mut(self.pos) {
            *d = v;
        }
        self.pos += 1;
    }

    /// A fixed-size run of octets: one bounds check, an inlined copy.
    #[inline(always)]
    pub(crate) fn array<const N: usize>(&mut self, a: [u8; N]) {
        if let Some(d) = self.take(N) {
            d.copy_from_slice(&a);
        }
    }

    #[inline(always)]
    pub(crate) fn u32(&mut self, v: u32) {
        if let Some(d) = self.take(4) {
            d.copy_from_slice(&v.to_be_bytes());
        }
    }

    #[inline]
    pub(crate) fn bytes(&mut self, s: &[u8]) {
        if let Some(d) = self.take(s.len()) {
            copy_small(d, s);
        }
    }

    /// A C-Octet String: the text, then its NUL. A NUL inside the text
    /// would end the string early on the wire, so it is an error.
    #[inline(always)]
    pub(crate) fn c_octet(&mut self, s: &[u8], field: Field) {
        // Most optional strings (service_type, times) are empty.
        if s.is_empty() {
            return self.u8(0);
        }
        if let Some(d) = self.take(s.len() + 1) {
            let (text, nul) = d.split_at_mut(s.len());
            copy_small(text, s);
            nul[0] = 0;
            if has_zero(s) {
                self.bad = Some(field);
            }
        }
    }

    /// Checks that exactly the whole slice was written without error.
    #[inline]
    pub(crate) fn finish(self) -> Result<(), EncodeError> {
        match self.bad {
            Some(f) => Err(EncodeError::new(K::BadValue, f)),
            None if self.pos != self.buf.len() => {
                Err(EncodeError::new(K::BadLength, Field::CommandLength))
            }
            None => Ok(()),
        }
    }
}

/// Copies `src` into `dst` (same length). Short copies, which is what
/// SMPP fields are, use fixed-size overlapping moves instead of a call to
/// `memcpy`.
#[inline(always)]
fn copy_small(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n != dst.len() {
        return;
    }
    if n >= 16 {
        dst.copy_from_slice(src);
    } else if n >= 8 {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..].copy_from_slice(&src[n - 4..]);
    } else if n >= 2 {
        dst[..2].copy_from_slice(&src[..2]);
        dst[n - 2..].copy_from_slice(&src[n - 2..]);
    } else if n == 1 {
        dst[0] = src[0];
    }
}

/// Whether `s` holds a zero octet, a word at a time. Short strings, which
/// SMPP fields are, take two overlapping word loads and no loop.
#[inline(always)]
fn has_zero(s: &[u8]) -> bool {
    #[inline(always)]
    fn w64(c: &[u8]) -> bool {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080 != 0
    }
    #[inline(always)]
    fn w32(c: &[u8]) -> bool {
        let mut w = [0u8; 4];
        w.copy_from_slice(c);
        let x = u32::from_le_bytes(w);
        x.wrapping_sub(0x0101_0101) & !x & 0x8080_8080 != 0
    }
    let n = s.len();
    match n {
        0..=3 => s.contains(&0),
        4..=7 => w32(&s[..4]) || w32(&s[n - 4..]),
        8..=16 => w64(&s[..8]) || w64(&s[n - 8..]),
        _ => {
            let mut i = 0;
            while i + 8 <= n {
                if w64(&s[i..i + 8]) {
                    return true;
                }
                i += 8;
            }
            w64(&s[n - 8..])
        }
    }
}

/// Checks a C-Octet String's length for encoding (the NUL check happens
/// while writing). Returns its encoded length, with NUL.
#[inline]
pub(crate) fn c_octet_max(s: &[u8], max: usize, field: Field) -> Result<usize, EncodeError> {
    if s.len() >= max {
        return Err(EncodeError::new(K::TooLong, field));
    }
    Ok(s.len() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_and_zero_scan_at_every_length() {
        for n in 0..40usize {
            let src: Vec<u8> = (1..=n as u8).collect();
            let mut dst = vec![0u8; n];
            copy_small(&mut dst, &src);
            assert_eq!(dst, src);
            assert!(!has_zero(&src));
            for z in 0..n {
                let mut s = src.clone();
                s[z] = 0;
                assert!(has_zero(&s), "n {n} z {z}");
            }
        }
        let mut buf = [0u8; 6];
        let mut w = SliceWriter::new(&mut buf);
        w.c_octet(b"ab\0", Field::SystemId);
        assert!(w.finish().is_err());
        let mut w = SliceWriter::new(&mut buf);
        w.u32(7);
        w.u8(1);
        w.u8(2);
        w.u8(3);
        assert!(w.finish().is_err());
    }
}
