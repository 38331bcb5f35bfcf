//! Framing: where a message ends in a stream (TCP, TLS) or a datagram
//! (UDP), RFC 3261 §18.3.
//!
//! On a stream, [`StreamDecoder`] finds the end of the head, reads
//! `Content-Length` (mandatory there), checks the sizes against
//! [`Limits`] before it buffers anything more, and splits off exactly one
//! message. CRLFs between messages are keep-alives (RFC 5626 §3.5.1) and
//! are skipped. A datagram holds one message: [`parse_datagram`] parses it
//! whole and reports the octets after its body.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{Error, Limit};
use crate::message::{self, find_head_end, Framing, Message};
use crate::scan::{self, find_byte};

/// Size limits, checked before anything is buffered or allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most octets of start line and headers (with the empty line).
    pub max_head: usize,
    /// The largest body (`Content-Length`).
    pub max_body: usize,
    /// The most header lines (continuation lines count); at most
    /// [`message::MAX_HEADER_LINES`] whatever is set here.
    pub max_headers: usize,
}

impl Default for Limits {
    /// 16 KiB of head (RFC 4475's longest message has 3.5 KiB), 64 KiB of
    /// body (a UDP datagram's worth), 128 header lines.
    fn default() -> Limits {
        Limits {
            max_head: 16 * 1024,
            max_body: 64 * 1024,
            max_headers: 128,
        }
    }
}

/// Parses a datagram with the default [`Limits`]: one message, framed by
/// its `Content-Length` (or running to the end without one). Returns the
/// message and how many octets followed its body (RFC 3261 §18.3: they
/// are discarded; RFC 4475 §3.1.1.8). Leading CRLFs are skipped;
/// a datagram of nothing else is [`Error::Empty`].
pub fn parse_datagram(datagram: Bytes) -> Result<(Message, usize), Error> {
    parse_datagram_with(datagram, &Limits::default())
}

/// [`parse_datagram`] with the given limits.
pub fn parse_datagram_with(datagram: Bytes, limits: &Limits) -> Result<(Message, usize), Error> {
    let skip = leading_crlf(&datagram);
    if skip == datagram.len() {
        return Err(Error::Empty);
    }
    let frame = if skip == 0 {
        datagram
    } else {
        datagram.slice(skip..)
    };
    let len = frame.len();
    let (message, end) = message::parse(frame, limits, Framing::Datagram)?;
    Ok((message, len - end))
}

fn leading_crlf(s: &[u8]) -> usize {
    s.iter().take_while(|&&c| c == b'\r' || c == b'\n').count()
}

/// Splits messages off a stream's read buffer.
#[derive(Debug, Clone)]
pub struct StreamDecoder {
    limits: Limits,
    /// How much of the buffer was searched for the end of the head.
    scanned: usize,
    /// The whole message's length, once the head was read.
    pending: Option<usize>,
    /// CR/LF octets skipped since the last message.
    crlf_run: usize,
    keepalive: bool,
}

impl Default for StreamDecoder {
    fn default() -> StreamDecoder {
        StreamDecoder::new(Limits::default())
    }
}

impl StreamDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> StreamDecoder {
        StreamDecoder {
            limits,
            scanned: 0,
            pending: None,
            crlf_run: 0,
            keepalive: false,
        }
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether a CRLFCRLF keep-alive ping arrived since the last call (a
    /// server answers it with one CRLF, RFC 5626 §3.5.1).
    pub fn take_keepalive(&mut self) -> bool {
        std::mem::take(&mut self.keepalive)
    }

    /// The next whole message split off `buf`, or `Ok(None)` until it is
    /// all there (having reserved room for the rest, once its length is
    /// known and allowed).
    ///
    /// Errors for which [`Error::is_framing`] holds leave the stream
    /// position unknown: close the connection. Other errors are about one
    /// message, already removed from `buf`; the stream can go on.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Error> {
        let total = match self.pending {
            Some(total) => total,
            None => {
                let skip = leading_crlf(buf);
                if skip > 0 {
                    buf.advance(skip);
                    self.crlf_run += skip;
                    if self.crlf_run >= 4 {
                        self.keepalive = true;
                        self.crlf_run = 0;
                    }
                    self.scanned = 0;
                }
                if buf.is_empty() {
                    return Ok(None);
                }
                self.crlf_run = 0;
                let window = buf.len().min(self.limits.max_head);
                let Some(head_end) = find_head_end(&buf[..window], self.scanned.saturating_sub(3))
                else {
                    if buf.len() > self.limits.max_head {
                        return Err(Error::TooLarge(Limit::Head));
                    }
                    self.scanned = buf.len();
                    return Ok(None);
                };
                let body = head_content_length(&buf[..head_end])?;
                if body > self.limits.max_body as u64 {
                    return Err(Error::TooLarge(Limit::Body));
                }
                let total = head_end + body as usize;
                self.pending = Some(total);
                total
            }
        };
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        self.pending = None;
        self.scanned = 0;
        let frame = buf.split_to(total).freeze();
        message::parse(frame, &self.limits, Framing::Exact).map(|(m, _)| Some(m))
    }
}

/// The one `Content-Length` (or `l`) of a head: missing or repeated is an
/// error on a stream, where it is the only way to find the next message.
fn head_content_length(head: &[u8]) -> Result<u64, Error> {
    let mut value: Option<(usize, usize)> = None;
    let mut in_cl = false;
    let mut pos = find_byte(head, b'\n', 0).map_or(head.len(), |p| p + 1);
    while let Some(lf) = find_byte(head, b'\n', pos) {
        let line = &head[pos..lf.saturating_sub(1).max(pos)];
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if in_cl {
                if let Some(v) = &mut value {
                    v.1 = pos + line.len();
                }
            }
        } else {
            in_cl = false;
            if let Some(colon) = line.iter().position(|&c| c == b':') {
                let name = line[..colon].trim_ascii_end();
                if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                    if value.is_some() {
                        return Err(Error::BadContentLength);
                    }
                    value = Some((pos + colon + 1, pos + line.len()));
                    in_cl = true;
                }
            }
        }
        pos = lf + 1;
    }
    let (a, b) = value.ok_or(Error::MissingContentLength)?;
    let (a, b) = scan::trim_range(head, a, b);
    scan::parse_u64(&head[a..b]).ok_or(Error::BadContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 5\r\n\r\nhello";

    #[test]
    fn whole_message_in_one_read() {
        let mut d = StreamDecoder::default();
        let mut buf = BytesMut::from(MSG);
        let m = d.decode(&mut buf).expect("ok").expect("message");
        assert_eq!(&m.body()[..], b"hello");
        assert!(buf.is_empty());
        assert_eq!(d.decode(&mut buf), Ok(None));
    }

    #[test]
    fn byte_by_byte_with_keepalives() {
        let mut d = StreamDecoder::default();
        let mut stream = b"\r\n\r\n".to_vec();
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(MSG);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut pings = 0;
        for &b in &stream {
            buf.extend_from_slice(&[b]);
            while let Some(m) = d.decode(&mut buf).expect("ok") {
                got.push(m);
            }
            pings += usize::from(d.take_keepalive());
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], got[1]);
        assert_eq!(pings, 1, "one CRLFCRLF ping; the lone CRLF is not one");
        assert!(buf.is_empty());
    }

    #[test]
    fn two_messages_in_one_read() {
        let mut d = StreamDecoder::default();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(MSG);
        buf.extend_from_slice(MSG);
        assert!(d.decode(&mut buf).expect("ok").is_some());
        assert!(d.decode(&mut buf).expect("ok").is_some());
        assert_eq!(d.decode(&mut buf), Ok(None));
    }

    #[test]
    fn stream_framing_errors() {
        let mut d = StreamDecoder::default();
        let mut buf = BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"[..]);
        assert_eq!(d.decode(&mut buf), Err(Error::MissingContentLength));
        let mut buf = BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nl: -999\r\n\r\n"[..]);
        assert_eq!(
            StreamDecoder::default().decode(&mut buf),
            Err(Error::BadContentLength)
        );
        let mut buf =
            BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 13\r\nl: 5\r\n\r\n"[..]);
        assert_eq!(
            StreamDecoder::default().decode(&mut buf),
            Err(Error::BadContentLength)
        );
        let mut buf =
            BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1\r\n 0\r\n\r\n"[..]);
        assert_eq!(
            StreamDecoder::default().decode(&mut buf),
            Err(Error::BadContentLength),
            "folded digits"
        );
        let mut buf =
            BytesMut::from(&b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n 2\r\n\r\nok"[..]);
        assert!(StreamDecoder::default()
            .decode(&mut buf)
            .expect("folded value")
            .is_some());
    }

    #[test]
    fn limits_are_checked_before_buffering() {
        let limits = Limits {
            max_head: 100,
            max_body: 10,
            max_headers: 8,
        };
        let mut d = StreamDecoder::new(limits);
        let mut buf =
            BytesMut::from(&b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 4000000000\r\n\r\n"[..]);
        assert_eq!(d.decode(&mut buf), Err(Error::TooLarge(Limit::Body)));
        assert!(
            buf.capacity() < 1000,
            "nothing reserved for the claimed body"
        );
        let mut d = StreamDecoder::new(limits);
        let mut buf = BytesMut::from(&[b'A'; 101][..]);
        assert_eq!(d.decode(&mut buf), Err(Error::TooLarge(Limit::Head)));
        let mut d = StreamDecoder::new(limits);
        let mut buf = BytesMut::from(&[b'A'; 100][..]);
        assert_eq!(d.decode(&mut buf), Ok(None), "at the limit: wait");
        assert!(Error::TooLarge(Limit::Head).is_framing());
    }

    #[test]
    fn a_bad_message_does_not_end_the_stream() {
        let mut d = StreamDecoder::default();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"BAD LINE\r\nContent-Length: 2\r\n\r\nxx");
        buf.extend_from_slice(MSG);
        let e = d.decode(&mut buf).expect_err("bad start line");
        assert_eq!(e, Error::StartLine);
        assert!(!e.is_framing());
        assert!(d.decode(&mut buf).expect("next").is_some());
    }

    #[test]
    fn datagrams() {
        let mut dg = MSG.to_vec();
        dg.extend_from_slice(b"trailing");
        let (m, extra) = parse_datagram(Bytes::from(dg)).expect("parses");
        assert_eq!((&m.body()[..], extra), (&b"hello"[..], 8));
        let short = &MSG[..MSG.len() - 1];
        assert_eq!(
            parse_datagram(Bytes::copy_from_slice(short)),
            Err(Error::BodyTooShort)
        );
        assert_eq!(
            parse_datagram(Bytes::from_static(b"\r\n\r\n")),
            Err(Error::Empty)
        );
        let mut crlf_first = b"\r\n".to_vec();
        crlf_first.extend_from_slice(MSG);
        assert_eq!(
            parse_datagram(Bytes::from(crlf_first)).map(|(_, e)| e),
            Ok(0)
        );
        let (m, extra) = parse_datagram(Bytes::from_static(
            b"MESSAGE sip:a@b SIP/2.0\r\n\r\nall of it",
        ))
        .expect("no length");
        assert_eq!((&m.body()[..], extra), (&b"all of it"[..], 0));
    }
}
