//! Entry points for the fuzz targets in `fuzz/`. Each one asserts the
//! properties the codec promises: no panic on any input, and
//! parse → encode → parse gives the same value.
//!
//! | target         | function             |
//! |----------------|----------------------|
//! | `sip_message`  | [`message`]          |
//! | `sip_stream`   | [`stream`]           |
//! | `sip_uri`      | [`uri()`]            |

use bytes::{Bytes, BytesMut};

use crate::frame::{parse_datagram, Limits, StreamDecoder};
use crate::header::split_list;
use crate::message::Message;
use crate::uri::{Scheme, Uri};

/// Parses `data` as a datagram. When it parses:
///
/// * it encodes to exactly [`Message::encoded_len`] octets, which parse
///   (as one whole message) to an equal message;
/// * every typed accessor and [`Message::validate`] return without
///   panicking, and validation gives the same answer on the re-parsed
///   message;
/// * every list header's elements are non-empty-trimmed slices.
pub fn message(data: &[u8]) {
    let Ok((msg, extra)) = parse_datagram(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert!(extra <= data.len());
    let encoded = msg.to_bytes();
    assert_eq!(encoded.len(), msg.encoded_len(), "encoded_len");
    let again = Message::parse(encoded.clone()).unwrap_or_else(|e| {
        panic!(
            "re-parse failed: {e}\n{:?}",
            String::from_utf8_lossy(&encoded)
        )
    });
    assert_eq!(msg, again, "parse -> encode -> parse differs");
    assert_eq!(again.to_bytes(), encoded, "encoding is stable");
    exercise(&msg);
    assert_eq!(msg.validate(), again.validate());
}

/// Calls every typed accessor (results ignored: they may fail, but not
/// panic).
fn exercise(msg: &Message) {
    if let Ok(uri) = msg.request_uri() {
        check_uri(&uri);
    }
    let _ = msg.via();
    for v in msg.vias().flatten() {
        let _ = (v.branch(), v.received(), v.rport(), v.maddr(), v.ttl());
        let _ = v.has_rfc3261_branch();
    }
    for na in [msg.from(), msg.to()].into_iter().flatten() {
        let _ = na.tag();
        check_uri(na.uri());
    }
    let _ = (
        msg.call_id(),
        msg.cseq(),
        msg.max_forwards(),
        msg.content_length(),
    );
    let _ = (msg.content_type(), msg.expires());
    for c in msg.contacts().chain(msg.contacts()).flatten() {
        let _ = c;
    }
    for r in msg.routes().chain(msg.record_routes()).flatten() {
        check_uri(r.uri());
    }
    for a in msg
        .authorization()
        .chain(msg.proxy_authorization())
        .chain(msg.www_authenticate())
        .chain(msg.proxy_authenticate())
        .flatten()
    {
        let _ = (
            a.realm(),
            a.nonce(),
            a.username(),
            a.response(),
            a.is_digest(),
        );
    }
    for h in msg.headers() {
        for element in split_list(&h.value_bytes()) {
            assert!(element.len() <= h.value().len());
            let lws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
            assert!(!element.first().is_some_and(lws) && !element.last().is_some_and(lws));
        }
    }
}

/// Feeds `data` to a [`StreamDecoder`] in chunks whose sizes come from the
/// first octet, and again all at once: both must yield the same messages
/// and errors (up to a framing error, where decoding stops) and leave the
/// same octets unread, and every message must round-trip.
pub fn stream(data: &[u8]) {
    let Some((&seed, data)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_head: 2048,
        max_body: 2048,
        max_headers: 32,
    };
    let whole = decode_all(data, data.len().max(1), limits);
    let chunk = usize::from(seed % 64) + 1;
    let chunked = decode_all(data, chunk, limits);
    assert_eq!(
        whole, chunked,
        "chunking changed the result (chunk {chunk})"
    );
    for m in whole.0.iter().flatten() {
        let again = Message::parse(m.to_bytes()).expect("a decoded message re-parses");
        assert_eq!(&again, m);
    }
}

/// What came out of a stream, and how many octets were left unread (`None`
/// after a framing error, when that depends on how much had arrived).
type Decoded = (Vec<Result<Message, crate::Error>>, Option<usize>);

/// Decodes the stream `chunk` octets at a time until a framing error.
fn decode_all(data: &[u8], chunk: usize, limits: Limits) -> Decoded {
    let mut decoder = StreamDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(m)) => out.push(Ok(m)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    if e.is_framing() {
                        return (out, None);
                    }
                }
            }
        }
    }
    (out, Some(buf.len()))
}

/// Parses `data` as a URI. When it parses, its text parses again to an
/// equal URI, the parts are consistent with the scheme, parameters iterate
/// and are found by name, and a phone number holds only digits.
pub fn uri(data: &[u8]) {
    let Ok(u) = Uri::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert_eq!(&u.as_bytes()[..], data);
    let again = Uri::parse(u.as_bytes().clone()).expect("re-parse");
    assert_eq!(u, again);
    check_uri(&u);
}

fn check_uri(u: &Uri) {
    match u.scheme() {
        Scheme::Sip | Scheme::Sips => assert!(u.host().is_some()),
        Scheme::Tel => assert!(u.user().is_some() && u.host().is_none()),
        Scheme::Other(_) => assert!(u.host().is_none() && u.user().is_none()),
    }
    for (name, value) in u.params().iter().chain(u.headers().iter()) {
        assert!(!name.is_empty());
        if let Ok(n) = std::str::from_utf8(name) {
            if !n.contains('%') {
                assert!(
                    u.params().contains(n) || u.headers().contains(n),
                    "{n} not found"
                );
            }
        }
        let _ = value;
    }
    if let Some(n) = u.phone_number() {
        assert!(!n.digits().is_empty());
        assert!(n.digits().bytes().all(|c| c.is_ascii_digit()));
    }
    let _ = u.user_unescaped();
    let _ = u.to_string();
}
