//! `telegate-sip`: a SIP (RFC 3261) message codec with no I/O.
//!
//! * [`Message`] parses a request or response from one frame and encodes it
//!   back. Any method, status codes 100–699 with any reason phrase, SIP/2.0
//!   (other versions parse, and [`Message::validate`] answers them with 505).
//! * The Request-URI and the body are [`bytes::Bytes`] slices of the
//!   received frame, and header values are read from it: [`Headers`] keeps
//!   each line as offsets into the frame and hands values out as `&[u8]`
//!   or as `Bytes` sharing it ([`HeaderRef::value_bytes`]). Parsing copies
//!   nothing, and allocates the header list once per message. Names are
//!   case-insensitive, compact forms map to long ones ([`HeaderName`]),
//!   folded lines are joined, and unknown headers are kept and written
//!   back verbatim.
//! * Typed headers are parsed on demand: [`Via`], [`NameAddr`] (From, To,
//!   Route, Record-Route), [`Contact`], [`CSeq`], [`MediaType`], [`Auth`]
//!   (digest credentials and challenges), Call-ID, Max-Forwards, Expires,
//!   Content-Length; list headers split at their commas
//!   ([`Headers::values`]).
//! * [`Uri`] covers `sip:`, `sips:` and `tel:` and keeps other schemes
//!   opaque; [`Uri::phone_number`] reads the number routing needs.
//! * [`StreamDecoder`] frames TCP/TLS streams and [`parse_datagram`] UDP,
//!   both within [`Limits`] checked before buffering.
//! * [`Request`] and [`Response`] build the messages the SIP layer sends
//!   (RFC 3261 §8.2.6 for responses).
//! * [`Error`] is a small `Copy` enum that says whether a message is
//!   malformed (drop it) or parsed but to be answered with a 4xx/5xx.
//!
//! ```
//! use bytes::Bytes;
//! use telegate_sip::{parse_datagram, Method, Response};
//!
//! let datagram = Bytes::from_static(
//!     b"MESSAGE sip:+44-7700-900123@sms.example.net;user=phone SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK776sgdkse\r\n\
//!       Max-Forwards: 70\r\n\
//!       From: <sip:alice@example.com>;tag=49583\r\n\
//!       t: <sip:+447700900123@sms.example.net>\r\n\
//!       Call-ID: asd88asd77a@192.0.2.7\r\n\
//!       CSeq: 1 MESSAGE\r\n\
//!       Content-Type: text/plain\r\n\
//!       Content-Length: 5\r\n\r\nHello",
//! );
//! let (request, _extra) = parse_datagram(datagram)?;
//! request.validate()?;
//! assert_eq!(request.method(), Some(&Method::Message));
//! let number = request.request_uri()?.phone_number().expect("a number");
//! assert_eq!(number.to_string(), "+447700900123");
//! assert_eq!(&request.body()[..], b"Hello");
//!
//! let answer = Response::for_request(&request, 202).to_tag("gw1").build()?;
//! assert_eq!(answer.to()?.tag().as_deref(), Some(&b"gw1"[..]));
//! # Ok::<(), telegate_sip::Error>(())
//! ```

pub mod builder;
pub mod error;
pub mod frame;
pub mod fuzzing;
pub mod header;
pub mod message;
pub mod name;
pub mod params;
mod scan;
pub mod uri;

pub use builder::{Request, Response};
pub use error::{Error, Limit};
pub use frame::{parse_datagram, parse_datagram_with, Limits, StreamDecoder};
pub use header::{split_list, Auth, CSeq, Contact, MediaType, NameAddr, Transport, Via};
pub use message::{Header, HeaderRef, Headers, Message, Method, StartLine, StatusCode, Version};
pub use name::HeaderName;
pub use params::Params;
pub use uri::{unescape, Host, PhoneNumber, Scheme, Uri};
