//! Builders for the requests and responses the SIP layer sends.
//!
//! Both end in `build()`, which encodes the message and parses the result
//! back, so a built [`Message`] is exactly what a peer will parse, its
//! values slices of one buffer, and `Content-Length` always right.

use bytes::{Bytes, BytesMut};

use crate::error::Error;
use crate::message::{Header, Headers, Message, Method, StartLine, StatusCode, Version};
use crate::name::HeaderName;
use crate::params::{Params, Syntax};
use crate::scan;

/// Builds a request: `Request::new(Method::Message, "sip:bob@example.com")`,
/// then `.header(…)` for each header and `.body(…)`, then
/// [`Request::build`].
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    uri: Bytes,
    headers: Headers,
    content: Option<(Bytes, Bytes)>,
    error: Option<Error>,
}

impl Request {
    /// A request for `method` to `uri`.
    pub fn new(method: Method, uri: impl Into<Bytes>) -> Request {
        Request {
            method,
            uri: uri.into(),
            headers: Headers::default(),
            content: None,
            error: None,
        }
    }

    /// Adds a header line (see [`Header::new`] for what a value may hold;
    /// a bad one makes [`Request::build`] fail).
    pub fn header(mut self, name: HeaderName, value: impl Into<Bytes>) -> Request {
        match Header::new(name, value) {
            Ok(h) => self.headers.push(h),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Sets the body and its `Content-Type`.
    pub fn body(mut self, content_type: impl Into<Bytes>, body: impl Into<Bytes>) -> Request {
        self.content = Some((content_type.into(), body.into()));
        self
    }

    /// The request, with `Content-Length` added, encoded, parsed back and
    /// [validated](Message::validate): it fails if a required header
    /// (Via, From, To, Call-ID, CSeq) is missing or bad.
    pub fn build(self) -> Result<Message, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if !scan::is_token(self.method.as_bytes()) {
            return Err(Error::InvalidInput("method is not a token"));
        }
        let start = StartLine::Request {
            method: self.method,
            uri: self.uri,
            version: Version::SIP_2_0,
        };
        let message = finish(start, self.headers, self.content)?;
        message.validate()?;
        Ok(message)
    }
}

/// Builds a response to a request (RFC 3261 §8.2.6): the Via lines, From,
/// To, Call-ID and CSeq are copied from it (and Timestamp, in a 100),
/// verbatim.
#[derive(Debug, Clone)]
pub struct Response {
    status: StatusCode,
    reason: Option<Bytes>,
    headers: Headers,
    to_tag: Option<Bytes>,
    content: Option<(Bytes, Bytes)>,
    error: Option<Error>,
}

impl Response {
    /// A response with `status` to `request`. It need not have passed
    /// [`Message::validate`]: a 400 or 505 copies what is there.
    pub fn for_request(request: &Message, status: u16) -> Response {
        let mut error = None;
        if !request.is_request() {
            error = Some(Error::InvalidInput("not a request"));
        }
        let status = StatusCode::new(status).unwrap_or_else(|| {
            error.get_or_insert(Error::InvalidInput("status code not in 100-699"));
            StatusCode::SERVER_INTERNAL_ERROR
        });
        let mut headers = Headers::default();
        let copied = [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
        ];
        for h in request.headers() {
            let copy = copied.iter().any(|name| h.is(name))
                || (status == StatusCode::TRYING && h.is(&HeaderName::Timestamp));
            if copy {
                headers.push(h.to_header());
            }
        }
        Response {
            status,
            reason: None,
            headers,
            to_tag: None,
            content: None,
            error,
        }
    }

    /// The reason phrase (default: [`StatusCode::canonical_reason`]).
    pub fn reason(mut self, reason: impl Into<Bytes>) -> Response {
        let reason: Bytes = reason.into();
        if reason.iter().any(|&c| c == b'\r' || c == b'\n') {
            self.error
                .get_or_insert(Error::InvalidInput("CR or LF in the reason phrase"));
        }
        self.reason = Some(reason);
        self
    }

    /// The tag to add to To if the request's To has none (§8.2.6.2: a UAS
    /// must, except in a 100).
    pub fn to_tag(mut self, tag: impl Into<Bytes>) -> Response {
        let tag: Bytes = tag.into();
        if !scan::is_token(&tag) {
            self.error
                .get_or_insert(Error::InvalidInput("tag is not a token"));
        }
        self.to_tag = Some(tag);
        self
    }

    /// Copies the request's Record-Route lines (§12.1.1: a UAS does, in a
    /// response that creates a dialog).
    pub fn copy_record_route(mut self, request: &Message) -> Response {
        for rr in request.headers().find_all(&HeaderName::RecordRoute) {
            self.headers.push(rr.to_header());
        }
        self
    }

    /// Adds a header line.
    pub fn header(mut self, name: HeaderName, value: impl Into<Bytes>) -> Response {
        match Header::new(name, value) {
            Ok(h) => self.headers.push(h),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Sets the body and its `Content-Type`.
    pub fn body(mut self, content_type: impl Into<Bytes>, body: impl Into<Bytes>) -> Response {
        self.content = Some((content_type.into(), body.into()));
        self
    }

    /// The response, with `Content-Length`, encoded and parsed back.
    pub fn build(mut self) -> Result<Message, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(tag) = &self.to_tag {
            add_to_tag(&mut self.headers, tag)?;
        }
        let reason = self
            .reason
            .unwrap_or_else(|| Bytes::from_static(self.status.canonical_reason().as_bytes()));
        let start = StartLine::Response {
            version: Version::SIP_2_0,
            status: self.status,
            reason,
        };
        finish(start, self.headers, self.content)
    }
}

/// Appends `;tag=…` to the To value when it has no tag.
fn add_to_tag(headers: &mut Headers, tag: &Bytes) -> Result<(), Error> {
    let Some(to) = headers.find_all(&HeaderName::To).next() else {
        return Ok(());
    };
    let to = to.value_bytes();
    let has_tag = crate::header::NameAddr::parse(&to, "To")
        .map(|n| n.tag().is_some())
        .unwrap_or_else(|_| {
            // A To we cannot parse: look for a tag parameter after the last '>'.
            let tail = to.slice(to.iter().rposition(|&c| c == b'>').map_or(0, |p| p + 1)..);
            Params::parse(tail, Syntax::Header).is_some_and(|p| p.contains("tag"))
        });
    if has_tag {
        return Ok(());
    }
    let mut value = BytesMut::with_capacity(to.len() + 5 + tag.len());
    value.extend_from_slice(&to);
    value.extend_from_slice(b";tag=");
    value.extend_from_slice(tag);
    headers.set(Header::new(HeaderName::To, value.freeze())?);
    Ok(())
}

fn finish(
    start: StartLine,
    mut headers: Headers,
    content: Option<(Bytes, Bytes)>,
) -> Result<Message, Error> {
    let body = match content {
        Some((content_type, body)) => {
            headers.set(Header::new(HeaderName::ContentType, content_type)?);
            body
        }
        None => Bytes::new(),
    };
    let mut message = Message::from_parts(start, headers, body);
    message.set_body(message.body().clone());
    Message::parse(message.to_bytes()).map_err(|e| match e {
        Error::StartLine => Error::InvalidInput("start line (method, Request-URI or reason)"),
        e => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message_request() -> Message {
        Request::new(
            Method::Message,
            "sip:+447700900123@sms.example.net;user=phone",
        )
        .header(
            HeaderName::Via,
            "SIP/2.0/UDP gw.example.com:5060;branch=z9hG4bK74bf9",
        )
        .header(HeaderName::MaxForwards, "70")
        .header(HeaderName::From, "<sip:alice@example.com>;tag=49583")
        .header(
            HeaderName::To,
            "<sip:+447700900123@sms.example.net;user=phone>",
        )
        .header(HeaderName::CallId, "asd88asd77a@203.0.113.7")
        .header(HeaderName::CSeq, "1 MESSAGE")
        .body("text/plain", "Watson, come here.")
        .build()
        .expect("builds")
    }

    #[test]
    fn builds_a_message_request() {
        let m = message_request();
        assert_eq!(m.content_length(), Ok(Some(18)));
        assert!(m
            .content_type()
            .expect("ct")
            .expect("set")
            .is("text", "plain"));
        assert_eq!(
            m.request_uri()
                .expect("uri")
                .phone_number()
                .map(|p| p.to_string())
                .as_deref(),
            Some("+447700900123")
        );
        assert_eq!(Message::parse(m.to_bytes()), Ok(m));
    }

    #[test]
    fn request_errors() {
        let no_cseq = Request::new(Method::Options, "sip:a@example.com")
            .header(HeaderName::Via, "SIP/2.0/UDP h;branch=z9hG4bK1")
            .header(HeaderName::From, "<sip:b@example.com>;tag=1")
            .header(HeaderName::To, "<sip:a@example.com>")
            .header(HeaderName::CallId, "x")
            .build();
        assert_eq!(no_cseq, Err(Error::MissingHeader("CSeq")));
        let injected = Request::new(Method::Options, "sip:a@example.com")
            .header(HeaderName::Subject, "hi\r\nVia: evil")
            .build();
        assert_eq!(
            injected,
            Err(Error::InvalidInput("CR or LF in a header value"))
        );
        let bad_uri = Request::new(Method::Options, "sip:a b@example.com").build();
        assert!(matches!(bad_uri, Err(Error::InvalidInput(_))));
        let bad_method =
            Request::new(Method::Other(Bytes::from_static(b"BAD METHOD")), "sip:a@b").build();
        assert_eq!(
            bad_method,
            Err(Error::InvalidInput("method is not a token"))
        );
    }

    #[test]
    fn response_copies_per_rfc3261_8_2_6() {
        let req = message_request();
        let resp = Response::for_request(&req, 202)
            .to_tag("gw1")
            .build()
            .expect("builds");
        assert_eq!(resp.status(), Some(StatusCode::ACCEPTED));
        assert_eq!(resp.reason().map(|r| &r[..]), Some(&b"Accepted"[..]));
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::CallId,
            HeaderName::CSeq,
        ] {
            assert_eq!(
                resp.headers().get(&name),
                req.headers().get(&name),
                "{name}"
            );
        }
        assert_eq!(resp.to().expect("to").tag().as_deref(), Some(&b"gw1"[..]));
        assert_eq!(resp.to().expect("to").uri(), req.to().expect("to").uri());
        assert!(!resp.headers().contains(&HeaderName::MaxForwards));
        assert_eq!(resp.content_length(), Ok(Some(0)));
        assert_eq!(resp.validate(), Ok(()));

        // An existing tag is kept.
        let again = Response::for_request(&resp_request_with_tag(), 200)
            .to_tag("other")
            .build()
            .expect("builds");
        assert_eq!(again.to().expect("to").tag().as_deref(), Some(&b"abc"[..]));
    }

    fn resp_request_with_tag() -> Message {
        Request::new(Method::Bye, "sip:a@example.com")
            .header(HeaderName::Via, "SIP/2.0/UDP h;branch=z9hG4bK2")
            .header(HeaderName::From, "<sip:b@example.com>;tag=1")
            .header(HeaderName::To, "<sip:a@example.com>;tag=abc")
            .header(HeaderName::CallId, "y")
            .header(HeaderName::CSeq, "2 BYE")
            .build()
            .expect("builds")
    }

    #[test]
    fn response_options() {
        let req = resp_request_with_tag();
        let trying = Response::for_request(&req, 100).build().expect("100");
        assert_eq!(trying.reason().map(|r| &r[..]), Some(&b"Trying"[..]));
        let custom = Response::for_request(&req, 480)
            .reason("Subscriber Absent")
            .header(HeaderName::from_static("Retry-After"), "60")
            .body("text/plain", "later")
            .build()
            .expect("480");
        assert_eq!(
            custom.reason().map(|r| &r[..]),
            Some(&b"Subscriber Absent"[..])
        );
        assert_eq!(&custom.body()[..], b"later");
        assert_eq!(
            Response::for_request(&req, 700).build(),
            Err(Error::InvalidInput("status code not in 100-699"))
        );
        assert_eq!(
            Response::for_request(&trying, 200).build(),
            Err(Error::InvalidInput("not a request"))
        );
        assert!(Response::for_request(&req, 200)
            .reason("a\r\nb")
            .build()
            .is_err());
        assert!(Response::for_request(&req, 200)
            .to_tag("a b")
            .build()
            .is_err());
    }
}
