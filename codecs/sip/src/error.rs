//! The codec's one error type.
//!
//! [`Error`] is small and `Copy` and falls in two classes:
//!
//! * **malformed** ([`Error::is_malformed`]): the bytes are not a SIP
//!   message we can work with — a bad start line or header line, broken
//!   framing, a size limit. There is no parsed message to answer from: a
//!   datagram is dropped, a stream connection is closed when
//!   [`Error::is_framing`] says its position is lost.
//! * **parsed, answer it**: the message parsed, but a header the SIP layer
//!   needs is missing or bad, or the version is not 2.0. The layer above
//!   answers a request with [`Error::status`] (400, 505, …) built from the
//!   message it has (RFC 3261 §8.2, §16.3), and drops a response.

use std::fmt;

/// Which size limit a message broke (see [`crate::Limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// The start line and headers.
    Head,
    /// The body (`Content-Length`).
    Body,
    /// The number of header lines.
    Headers,
}

/// What is wrong with a message, a header or a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// Nothing but keep-alive CRLFs (or nothing at all).
    Empty,
    /// The start line is neither a Request-Line nor a Status-Line
    /// (RFC 3261 §7.1, §7.2).
    StartLine,
    /// A header line has no colon, a name that is not a token, a line end
    /// other than CRLF, or a continuation line with nothing to continue.
    HeaderLine,
    /// The head has no end (no empty line) in a datagram or frame.
    Incomplete,
    /// `Content-Length` is not a number, so the body cannot be framed.
    BadContentLength,
    /// A message on a stream transport has no `Content-Length`
    /// (RFC 3261 §18.3: it is mandatory there).
    MissingContentLength,
    /// The body is shorter than `Content-Length` (RFC 3261 §18.3).
    BodyTooShort,
    /// The frame holds more octets than `Content-Length` says.
    TrailingBytes,
    /// A size limit was exceeded.
    TooLarge(Limit),
    /// The SIP-Version is not `SIP/2.0`: answer 505 (RFC 3261 §21.5.7).
    VersionNotSupported,
    /// A header the request or response must have is missing
    /// (RFC 3261 §8.1.1).
    MissingHeader(&'static str),
    /// A header's value does not parse.
    BadHeader(&'static str),
    /// A header that may appear once appears more than once.
    DuplicateHeader(&'static str),
    /// The Request-URI does not parse, or carries headers (RFC 3261 §19.1.1).
    BadRequestUri,
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    CSeqMismatch,
    /// A URI does not parse (from [`crate::Uri::parse`]).
    BadUri,
    /// A builder was given something that cannot go on the wire (the
    /// context says what).
    InvalidInput(&'static str),
}

impl Error {
    /// `true` when there is no usable message: drop it (or close a stream,
    /// see [`Error::is_framing`]). `false` when the message parsed and the
    /// layer above must answer a request with [`Error::status`].
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            Error::Empty
                | Error::StartLine
                | Error::HeaderLine
                | Error::Incomplete
                | Error::BadContentLength
                | Error::MissingContentLength
                | Error::BodyTooShort
                | Error::TrailingBytes
                | Error::TooLarge(_)
        )
    }

    /// `true` for errors after which a stream's message boundaries are
    /// unknown: the connection must be closed (RFC 3261 §18.3).
    pub fn is_framing(&self) -> bool {
        matches!(
            self,
            Error::BadContentLength
                | Error::MissingContentLength
                | Error::TooLarge(Limit::Head | Limit::Body)
        )
    }

    /// The status code to answer a request with: 505 for the version,
    /// 513 for a message over a size limit, 400 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            Error::VersionNotSupported => 505,
            Error::TooLarge(_) => 513,
            _ => 400,
        }
    }

    /// A reason phrase for the answer that says what is wrong, e.g.
    /// `"Bad CSeq"` (RFC 3261 §21.4.1 allows a phrase that names the
    /// header).
    pub fn reason(&self) -> &'static str {
        match self {
            Error::VersionNotSupported => "Version Not Supported",
            Error::TooLarge(_) => "Message Too Large",
            Error::MissingHeader(_) => "Missing Header",
            Error::BadHeader(h) | Error::DuplicateHeader(h) => bad_header_reason(h),
            Error::BadRequestUri => "Bad Request-URI",
            Error::CSeqMismatch => "CSeq Method Mismatch",
            _ => "Bad Request",
        }
    }
}

fn bad_header_reason(name: &str) -> &'static str {
    match name {
        "Via" => "Bad Via",
        "From" => "Bad From",
        "To" => "Bad To",
        "Call-ID" => "Bad Call-ID",
        "CSeq" => "Bad CSeq",
        "Max-Forwards" => "Bad Max-Forwards",
        "Contact" => "Bad Contact",
        "Content-Length" => "Bad Content-Length",
        _ => "Bad Header",
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty => f.write_str("empty message (keep-alive only)"),
            Error::StartLine => f.write_str("malformed start line"),
            Error::HeaderLine => f.write_str("malformed header line"),
            Error::Incomplete => f.write_str("head has no end"),
            Error::BadContentLength => f.write_str("Content-Length is not a number"),
            Error::MissingContentLength => f.write_str("no Content-Length on a stream"),
            Error::BodyTooShort => f.write_str("body shorter than Content-Length"),
            Error::TrailingBytes => f.write_str("octets after the body"),
            Error::TooLarge(Limit::Head) => f.write_str("head too large"),
            Error::TooLarge(Limit::Body) => f.write_str("body too large"),
            Error::TooLarge(Limit::Headers) => f.write_str("too many header lines"),
            Error::VersionNotSupported => f.write_str("SIP version not supported"),
            Error::MissingHeader(h) => write!(f, "missing {h} header"),
            Error::BadHeader(h) => write!(f, "malformed {h} header"),
            Error::DuplicateHeader(h) => write!(f, "more than one {h} header"),
            Error::BadRequestUri => f.write_str("malformed Request-URI"),
            Error::CSeqMismatch => f.write_str("CSeq method differs from the request method"),
            Error::BadUri => f.write_str("malformed URI"),
            Error::InvalidInput(what) => write!(f, "invalid input: {what}"),
        }?;
        write!(f, " -> {} {}", self.status(), self.reason())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(Error::StartLine.is_malformed());
        assert!(Error::TooLarge(Limit::Body).is_malformed());
        assert!(!Error::VersionNotSupported.is_malformed());
        assert!(!Error::BadHeader("CSeq").is_malformed());
        assert!(Error::MissingContentLength.is_framing());
        assert!(!Error::TooLarge(Limit::Headers).is_framing());
        assert!(!Error::HeaderLine.is_framing());
    }

    #[test]
    fn statuses_and_text() {
        assert_eq!(Error::VersionNotSupported.status(), 505);
        assert_eq!(Error::TooLarge(Limit::Head).status(), 513);
        assert_eq!(Error::CSeqMismatch.status(), 400);
        assert_eq!(Error::BadHeader("CSeq").reason(), "Bad CSeq");
        assert_eq!(
            Error::DuplicateHeader("To").to_string(),
            "more than one To header -> 400 Bad To"
        );
        assert_eq!(std::mem::size_of::<Error>(), 24);
    }
}
