//! RFC 4475 "SIP Torture Test Messages", byte for byte, from
//! `../shared/data/sip/rfc4475` (the repository root's sibling; see its
//! README.txt). The files are read in place, never copied here.
//!
//! * §3.1.1: all 13 valid messages parse, validate, and encode → parse to
//!   the same message.
//! * §3.1.2: all 19 syntactically invalid messages are rejected, each for
//!   its own reason (by the parser, or by `Message::validate`).
//! * §3.2, §3.3, §3.4: the messages parse, and the fact the SIP layer
//!   answers from is asserted (the unknown scheme, Max-Forwards 0, the
//!   missing Content-Length, …).
//!
//! `index.tsv` lists every file with its RFC category; the tests check
//! that each file is covered by the right one. Skipped (with a message)
//! when `../shared` is absent.

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use telegate_sip::{
    parse_datagram, unescape, Contact, Error, HeaderName, Host, Message, Method, Scheme,
    StatusCode, StreamDecoder, Transport,
};

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sip/rfc4475");
    if dir.join("index.tsv").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: RFC 4475 test messages not found at {} (../shared is absent)",
            dir.display()
        );
        None
    }
}

/// `file -> (dir, section, category)` from index.tsv.
fn index(dir: &Path) -> BTreeMap<String, (String, String, String)> {
    let text = fs::read_to_string(dir.join("index.tsv")).expect("read index.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() >= 5, "index.tsv line {l:?}");
            (
                cols[0].to_string(),
                (
                    cols[1].to_string(),
                    cols[2].to_string(),
                    cols[4].to_string(),
                ),
            )
        })
        .collect()
}

fn read(dir: &Path, file: &str) -> Bytes {
    let idx = index(dir);
    let (sub, _, _) = idx
        .get(file)
        .unwrap_or_else(|| panic!("{file} not in index.tsv"));
    Bytes::from(fs::read(dir.join(sub).join(file)).expect("read message"))
}

fn files_of(dir: &Path, category: &str) -> Vec<String> {
    index(dir)
        .into_iter()
        .filter(|(_, (_, _, c))| c == category)
        .map(|(f, _)| f)
        .collect()
}

/// Parses a datagram and checks encode → parse gives the same message.
fn parse_and_round_trip(file: &str, data: Bytes) -> (Message, usize) {
    let (m, extra) = parse_datagram(data).unwrap_or_else(|e| panic!("{file}: {e}"));
    let encoded = m.to_bytes();
    let again = Message::parse(encoded.clone()).unwrap_or_else(|e| {
        panic!(
            "{file}: re-parse: {e}\n{}",
            String::from_utf8_lossy(&encoded)
        )
    });
    assert_eq!(again, m, "{file}: encode -> parse differs");
    (m, extra)
}

fn values(m: &Message, name: HeaderName) -> Vec<String> {
    m.headers()
        .values(&name)
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .collect()
}

#[test]
fn index_has_the_rfc_categories() {
    let Some(dir) = data_dir() else { return };
    let idx = index(&dir);
    let count = |c: &str| idx.values().filter(|(_, _, cat)| cat == c).count();
    assert_eq!(count("valid-syntax"), 13);
    assert_eq!(count("invalid-syntax"), 19);
    assert_eq!(count("transaction-layer"), 1);
    assert_eq!(count("application-layer"), 15);
    assert_eq!(count("backward-compat"), 1);
    assert_eq!(count("not-rfc4475"), 1);
    for (file, (sub, _, _)) in &idx {
        assert!(dir.join(sub).join(file).is_file(), "{sub}/{file} missing");
    }
}

// ---- §3.1.1 valid messages ----

#[test]
fn valid_messages_parse_validate_and_round_trip() {
    let Some(dir) = data_dir() else { return };
    let files = files_of(&dir, "valid-syntax");
    assert_eq!(files.len(), 13);
    for file in &files {
        let (m, extra) = parse_and_round_trip(file, read(&dir, file));
        if let Err(e) = m.validate() {
            panic!("{file}: valid message fails validation: {e}");
        }
        if file != "dblreq.dat" {
            assert_eq!(extra, 0, "{file}: octets after the body");
        }
    }
}

#[test]
fn valid_3_1_1_1_short_tortuous_invite() {
    let Some(dir) = data_dir() else { return };
    let (m, _) = parse_and_round_trip("wsinv.dat", read(&dir, "wsinv.dat"));
    assert_eq!(m.method(), Some(&Method::Invite));
    assert_eq!(
        m.to().expect("To").tag().as_deref(),
        Some(&b"1918181833n"[..])
    );
    let from = m.from().expect("From");
    assert_eq!(
        from.display_name().map(|d| &d[..]),
        Some(&br#"J Rosenberg \\\""#[..])
    );
    assert_eq!(from.tag().as_deref(), Some(&b"98asjd8"[..]));
    assert_eq!(m.max_forwards(), Ok(Some(68)));
    assert_eq!(m.cseq().map(|c| (c.seq, c.method)), Ok((9, Method::Invite)));
    let vias: Vec<_> = m.vias().collect::<Result<_, _>>().expect("Vias");
    assert_eq!(
        vias.len(),
        3,
        "one Via line and two values on a folded v: line"
    );
    assert_eq!(vias[0].transport(), &Transport::Udp);
    assert_eq!(vias[1].host().to_string(), "spindle.example.com");
    assert_eq!(vias[2].branch().as_deref(), Some(&b"z9hG4bK30239"[..]));
    assert_eq!(
        m.headers().get(&HeaderName::Subject).map(|v| v.len()),
        Some(0)
    );
    assert_eq!(
        m.headers()
            .get(&HeaderName::from_static("newfangledheader")),
        Some(&b"newfangled value\r\n continued newfangled value"[..])
    );
    assert_eq!(
        m.headers()
            .get(&HeaderName::from_static("UnknownHeaderWithUnusualValue")),
        Some(&b";;,,;;,;"[..])
    );
    let contact = match m.contacts().next() {
        Some(Ok(Contact::Address(a))) => a,
        other => panic!("contact {other:?}"),
    };
    assert_eq!(contact.params().get("newparam"), Some(&b"newvalue"[..]));
    assert_eq!(contact.params().get("q"), Some(&b"0.33"[..]));
    let route = m.routes().next().expect("Route").expect("parses");
    assert!(route.uri().params().contains("unknown-no-value"));
    assert_eq!(m.content_length(), Ok(Some(150)));
    assert_eq!(m.body().len(), 150);
}

#[test]
fn valid_3_1_1_2_wide_range_of_characters() {
    let Some(dir) = data_dir() else { return };
    let (m, _) = parse_and_round_trip("intmeth.dat", read(&dir, "intmeth.dat"));
    let method = Method::from_bytes(Bytes::from_static(
        b"!interesting-Method0123456789_*+`.%indeed'~",
    ));
    assert_eq!(m.method(), Some(&method));
    assert!(matches!(method, Method::Other(_)));
    assert_eq!(m.cseq().map(|c| c.method), Ok(method));
    let uri = m.request_uri().expect("Request-URI");
    assert_eq!(
        uri.password().map(|p| &p[..]),
        Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
    );
    assert_eq!(
        m.to().expect("To").display_name().map(|d| &d[..]),
        Some(&b"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F"[..])
    );
    let from = m.from().expect("From");
    assert_eq!(
        from.display_name().map(|d| &d[..]),
        Some(&b"token1~` token2'+_ token3*%!.-"[..])
    );
    assert_eq!(
        from.params()
            .get("fromParam''~+*_!.-%")
            .map(String::from_utf8_lossy)
            .as_deref(),
        Some("\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}")
    );
    assert_eq!(from.tag().as_deref(), Some(&b"_token~1'+`*%!-."[..]));
    assert_eq!(
        &m.call_id().expect("Call-ID")[..],
        b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    assert_eq!(m.max_forwards(), Ok(Some(255)));
    let ext = m
        .headers()
        .get(&HeaderName::from_static("extensionHeader-!.%*+_`'~"))
        .expect("extension header kept");
    assert_eq!(
        String::from_utf8_lossy(ext),
        "\u{feff}\u{5927}\u{505c}\u{96fb}"
    );
}

#[test]
fn valid_3_1_1_3_to_5_escapes() {
    let Some(dir) = data_dir() else { return };
    let (m, _) = parse_and_round_trip("esc01.dat", read(&dir, "esc01.dat"));
    let ruri = m.request_uri().expect("Request-URI");
    assert_eq!(
        ruri.user_unescaped().as_deref(),
        Some(&b"sips:user@example.com"[..])
    );
    assert_eq!(
        m.to().expect("To").uri().user_unescaped().as_deref(),
        Some(&b"user"[..])
    );
    assert_eq!(
        m.from().expect("From").uri().user_unescaped().as_deref(),
        Some(&b"I have spaces"[..])
    );
    let Some(Ok(Contact::Address(c))) = m.contacts().next() else {
        panic!("contact");
    };
    assert_eq!(c.uri().user_unescaped().as_deref(), Some(&b"caller"[..]));
    assert!(c.uri().params().contains("lr"), "%6C%72 is lr");
    assert_eq!(
        c.uri().params().get("name").map(unescape).as_deref(),
        Some(&b"value%41"[..])
    );

    let (m, _) = parse_and_round_trip("escnull.dat", read(&dir, "escnull.dat"));
    assert_eq!(m.method(), Some(&Method::Register));
    let users: Vec<Vec<u8>> = m
        .contacts()
        .map(|c| match c {
            Ok(Contact::Address(a)) => a.uri().user_unescaped().expect("user"),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(users, [b"\0".to_vec(), b"\0\0".to_vec()]);

    let (m, _) = parse_and_round_trip("esc02.dat", read(&dir, "esc02.dat"));
    let method = m.method().expect("request");
    assert!(
        matches!(method, Method::Other(_)),
        "RE%47IST%45R is not REGISTER"
    );
    assert_eq!(method.as_bytes(), b"RE%47IST%45R");
    assert_eq!(m.contacts().count(), 2, "C%6Fntact is not Contact");
    assert!(m.headers().contains(&HeaderName::from_static("C%6Fntact")));
    assert_eq!(
        m.to().expect("To").display_name().map(|d| &d[..]),
        Some(&b"%Z%45"[..])
    );
}

#[test]
fn valid_3_1_1_6_to_7_display_names_and_long_values() {
    let Some(dir) = data_dir() else { return };
    let (m, _) = parse_and_round_trip("lwsdisp.dat", read(&dir, "lwsdisp.dat"));
    assert_eq!(
        m.from().expect("From").display_name().map(|d| &d[..]),
        Some(&b"caller"[..])
    );

    let (m, _) = parse_and_round_trip("longreq.dat", read(&dir, "longreq.dat"));
    assert_eq!(m.vias().count(), 34);
    assert_eq!(
        m.via().expect("top Via").host().to_string(),
        "sip33.example.com"
    );
    let to = m.to().expect("To");
    assert_eq!(to.uri().port(), Some(6000));
    assert!(to
        .uri()
        .params()
        .get("unknownparam1")
        .is_some_and(|v| v.len() > 80));
    assert!(m.from().expect("From").tag().is_some_and(|t| t.len() > 100));
    assert_eq!(m.content_length(), Ok(Some(150)));
}

#[test]
fn valid_3_1_1_8_extra_octets_in_a_datagram() {
    let Some(dir) = data_dir() else { return };
    let data = read(&dir, "dblreq.dat");
    let (m, extra) = parse_and_round_trip("dblreq.dat", data.clone());
    assert_eq!(m.method(), Some(&Method::Register));
    assert_eq!(m.body().len(), 0);
    assert_eq!(
        &data[data.len() - extra..][..8],
        b"\r\nINVITE",
        "the rest is discarded"
    );
    assert_eq!(
        Message::parse(data),
        Err(Error::TrailingBytes),
        "not one whole frame"
    );
}

#[test]
fn valid_3_1_1_9_to_11_uri_user_transports_multipart() {
    let Some(dir) = data_dir() else { return };
    let (m, _) = parse_and_round_trip("semiuri.dat", read(&dir, "semiuri.dat"));
    let ruri = m.request_uri().expect("Request-URI");
    assert_eq!(
        ruri.user().map(|u| &u[..]),
        Some(&b"user;par=u%40example.net"[..])
    );
    assert!(ruri.params().is_empty());
    assert_eq!(
        ruri.host().map(ToString::to_string).as_deref(),
        Some("example.com")
    );
    assert_eq!(
        values(&m, HeaderName::Accept),
        [
            "application/sdp",
            "application/pkcs7-mime",
            "multipart/mixed",
            "multipart/signed",
            "message/sip",
            "message/sipfrag"
        ]
    );

    let (m, _) = parse_and_round_trip("transports.dat", read(&dir, "transports.dat"));
    let transports: Vec<String> = m
        .vias()
        .map(|v| v.expect("Via").transport().to_string())
        .collect();
    assert_eq!(transports, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);

    let (m, _) = parse_and_round_trip("mpart01.dat", read(&dir, "mpart01.dat"));
    assert_eq!(m.method(), Some(&Method::Message));
    let ct = m.content_type().expect("Content-Type").expect("present");
    assert!(ct.is("multipart", "mixed"));
    assert_eq!(ct.params().get("boundary"), Some(&b"7a9cbec02ceef655"[..]));
    assert_eq!(m.body().len(), 553);
    assert_eq!(m.via().expect("Via").rport(), Some(None));
}

#[test]
fn valid_3_1_1_12_to_13_reason_phrases() {
    let Some(dir) = data_dir() else { return };
    let (m, _) = parse_and_round_trip("unreason.dat", read(&dir, "unreason.dat"));
    assert_eq!(m.status(), Some(StatusCode::OK));
    let reason = String::from_utf8(m.reason().expect("response").to_vec()).expect("UTF-8");
    assert!(
        reason.starts_with("= 2**3 * 5**2 \u{43d}\u{43e}"),
        "{reason}"
    );
    let (m, _) = parse_and_round_trip("noreason.dat", read(&dir, "noreason.dat"));
    assert_eq!(m.status(), Some(StatusCode::TRYING));
    assert_eq!(m.reason().map(Bytes::len), Some(0));
}

// ---- §3.1.2 invalid messages ----

/// Each §3.1.2 message and why it is rejected.
fn invalid_expectations() -> Vec<(&'static str, Error)> {
    vec![
        ("badinv01.dat", Error::BadHeader("Via")), // ;;,;,, as Via parameters
        ("clerr.dat", Error::BodyTooShort),        // Content-Length 9999
        ("ncl.dat", Error::BadContentLength),      // -999
        ("scalar02.dat", Error::BadHeader("CSeq")), // 2**65, Max-Forwards 300, …
        ("scalarlg.dat", Error::BadHeader("CSeq")), // a response, dropped
        ("quotbal.dat", Error::BadHeader("To")),   // unterminated quote
        ("ltgtruri.dat", Error::StartLine),        // <> around the Request-URI
        ("lwsruri.dat", Error::StartLine),         // LWS inside it
        ("lwsstart.dat", Error::StartLine),        // two SPs between elements
        ("trws.dat", Error::StartLine),            // SPs after SIP/2.0
        ("escruri.dat", Error::BadRequestUri),     // ?Route= in the Request-URI
        ("baddate.dat", Error::BadHeader("Date")), // EST, not GMT
        ("regbadct.dat", Error::BadHeader("Contact")), // '?' outside <>
        ("badaspec.dat", Error::BadHeader("To")),  // < sip:… > with spaces
        ("baddn.dat", Error::Incomplete),          // (the file has no empty line)
        ("badvers.dat", Error::VersionNotSupported), // SIP/7.0
        ("mismatch01.dat", Error::CSeqMismatch),   // OPTIONS vs CSeq INVITE
        ("mismatch02.dat", Error::CSeqMismatch),   // NEWMETHOD vs CSeq INVITE
        ("bigcode.dat", Error::StartLine),         // status 4294967301
    ]
}

fn parse_and_validate(data: Bytes) -> Result<Message, Error> {
    let (m, _) = parse_datagram(data)?;
    m.validate()?;
    Ok(m)
}

#[test]
fn invalid_messages_are_rejected() {
    let Some(dir) = data_dir() else { return };
    let expected = invalid_expectations();
    let mut files: Vec<&str> = expected.iter().map(|(f, _)| *f).collect();
    files.sort_unstable();
    assert_eq!(
        files,
        files_of(&dir, "invalid-syntax"),
        "one expectation per §3.1.2 file"
    );
    for (file, want) in expected {
        let got = parse_and_validate(read(&dir, file));
        assert_eq!(got.as_ref().err(), Some(&want), "{file}");
        // What the layer above does with it.
        match want {
            Error::VersionNotSupported => assert_eq!(want.status(), 505),
            Error::BadHeader(_) | Error::BadRequestUri | Error::CSeqMismatch => {
                assert!(!want.is_malformed(), "{file}: parsed, answer 400");
                assert_eq!(want.status(), 400);
            }
            _ => assert!(want.is_malformed(), "{file}: drop"),
        }
    }
}

#[test]
fn invalid_3_1_2_15_display_name_is_rejected_on_its_own() {
    // baddn.dat lacks its final empty line, which is rejected first; with
    // it added, the display name with a comma is what fails.
    let Some(dir) = data_dir() else { return };
    let mut data = read(&dir, "baddn.dat").to_vec();
    data.extend_from_slice(b"\r\n");
    assert_eq!(
        parse_and_validate(Bytes::from(data)).err(),
        Some(Error::BadHeader("From"))
    );
}

#[test]
fn invalid_3_1_2_4_every_overlarge_scalar_is_caught() {
    let Some(dir) = data_dir() else { return };
    let (m, _) = parse_datagram(read(&dir, "scalar02.dat")).expect("parses");
    assert_eq!(m.cseq().err(), Some(Error::BadHeader("CSeq")));
    assert_eq!(
        m.max_forwards().err(),
        Some(Error::BadHeader("Max-Forwards"))
    );
    assert_eq!(m.expires().err(), Some(Error::BadHeader("Expires")));
    let Some(Ok(Contact::Address(c))) = m.contacts().next() else {
        panic!("contact");
    };
    let expires = c.params().get("expires").expect("expires param");
    assert!(std::str::from_utf8(expires)
        .expect("digits")
        .parse::<u32>()
        .is_err());
}

#[test]
fn invalid_framing_on_a_stream() {
    let Some(dir) = data_dir() else { return };
    // §3.1.2.2: on a stream, wait for the rest (the transport times out).
    let mut buf = BytesMut::from(&read(&dir, "clerr.dat")[..]);
    assert_eq!(StreamDecoder::default().decode(&mut buf), Ok(None));
    // §3.1.2.3: a negative length: the stream cannot be framed.
    let mut buf = BytesMut::from(&read(&dir, "ncl.dat")[..]);
    let e = StreamDecoder::default().decode(&mut buf).expect_err("ncl");
    assert!(e.is_framing(), "{e}");
}

#[test]
fn not_rfc4475_test_dat_is_rejected() {
    let Some(dir) = data_dir() else { return };
    assert_eq!(files_of(&dir, "not-rfc4475"), ["test.dat"]);
    assert_eq!(
        parse_datagram(read(&dir, "test.dat")).err(),
        Some(Error::StartLine),
        "no SIP-Version on the request line"
    );
}

// ---- §3.2, §3.3, §3.4: parse, and the layer above decides ----

#[test]
fn semantic_messages_all_parse_and_round_trip() {
    let Some(dir) = data_dir() else { return };
    let mut files = files_of(&dir, "application-layer");
    files.extend(files_of(&dir, "transaction-layer"));
    files.extend(files_of(&dir, "backward-compat"));
    assert_eq!(files.len(), 17);
    for file in &files {
        let (_, extra) = parse_and_round_trip(file, read(&dir, file));
        assert_eq!(extra, 0, "{file}");
    }
}

#[test]
fn semantic_3_3_1_to_4_missing_headers_and_schemes() {
    let Some(dir) = data_dir() else { return };
    // §3.3.1: 400, Call-ID, From, To (and Max-Forwards) missing.
    let (m, _) = parse_and_round_trip("insuf.dat", read(&dir, "insuf.dat"));
    assert_eq!(m.validate(), Err(Error::MissingHeader("From")));
    assert_eq!(m.to().err(), Some(Error::MissingHeader("To")));
    assert_eq!(m.call_id().err(), Some(Error::MissingHeader("Call-ID")));
    assert_eq!(m.max_forwards(), Ok(None));

    // §3.3.2 and §3.3.3: schemes the layer above answers with 416.
    for (file, scheme) in [
        ("unkscm.dat", "nobodyKnowsThisScheme"),
        ("novelsc.dat", "soap.beep"),
    ] {
        let (m, _) = parse_and_round_trip(file, read(&dir, file));
        assert_eq!(m.validate(), Ok(()), "{file}");
        let uri = m.request_uri().expect("Request-URI");
        assert_eq!(
            uri.scheme(),
            &Scheme::Other(Bytes::from_static(scheme.as_bytes())),
            "{file}"
        );
        assert!(!uri.is_sip() && uri.phone_number().is_none());
    }

    // §3.3.4: unknown schemes in To, From, Contact do not break parsing.
    let (m, _) = parse_and_round_trip("unksm2.dat", read(&dir, "unksm2.dat"));
    assert_eq!(m.validate(), Ok(()));
    assert_eq!(m.to().expect("To").uri().scheme().as_bytes(), b"isbn");
    assert_eq!(m.from().expect("From").uri().scheme().as_bytes(), b"http");
    assert_eq!(
        m.from().expect("From").tag().as_deref(),
        Some(&b"3234233"[..])
    );
    let Some(Ok(Contact::Address(c))) = m.contacts().next() else {
        panic!("contact");
    };
    assert_eq!(&c.uri().opaque()[..], b"John_Smith");
}

#[test]
fn semantic_3_3_5_to_9_extensions_types_auth_duplicates() {
    let Some(dir) = data_dir() else { return };
    // §3.3.5: 420 Bad Extension listing these.
    let (m, _) = parse_and_round_trip("bext01.dat", read(&dir, "bext01.dat"));
    assert_eq!(m.validate(), Ok(()));
    assert_eq!(
        values(&m, HeaderName::Require),
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    assert_eq!(
        values(&m, HeaderName::ProxyRequire),
        ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    );

    // §3.3.6: 415 for an unknown Content-Type.
    let (m, _) = parse_and_round_trip("invut.dat", read(&dir, "invut.dat"));
    assert_eq!(m.validate(), Ok(()));
    assert!(m
        .content_type()
        .expect("parses")
        .expect("present")
        .is("application", "unknownformat"));

    // §3.3.7: an unknown authorization scheme; the registrar challenges.
    let (m, _) = parse_and_round_trip("regaut01.dat", read(&dir, "regaut01.dat"));
    assert_eq!(m.validate(), Ok(()));
    let auth = m
        .authorization()
        .next()
        .expect("Authorization")
        .expect("parses");
    assert!(!auth.is_digest());
    assert_eq!(&auth.scheme()[..], b"NoOneKnowsThisScheme");

    // §3.3.8: several values in single-value headers: 400.
    let (m, _) = parse_and_round_trip("multi01.dat", read(&dir, "multi01.dat"));
    assert_eq!(m.cseq().err(), Some(Error::DuplicateHeader("CSeq")));
    assert_eq!(m.call_id().err(), Some(Error::DuplicateHeader("Call-ID")));
    assert_eq!(m.to().err(), Some(Error::DuplicateHeader("To")));
    assert_eq!(
        m.max_forwards().err(),
        Some(Error::DuplicateHeader("Max-Forwards"))
    );
    let e = m.validate().expect_err("duplicates");
    assert!(matches!(e, Error::DuplicateHeader(_)) && e.status() == 400);

    // §3.3.9: two Content-Lengths: 400 on UDP, the stream cannot be framed.
    let data = read(&dir, "mcl01.dat");
    let (m, _) = parse_and_round_trip("mcl01.dat", data.clone());
    assert_eq!(
        m.content_length().err(),
        Some(Error::DuplicateHeader("Content-Length"))
    );
    assert_eq!(m.validate().map_err(|e| e.status()), Err(400));
    let e = StreamDecoder::default()
        .decode(&mut BytesMut::from(&data[..]))
        .expect_err("stream");
    assert!(e.is_framing());
}

#[test]
fn semantic_3_3_10_to_15_and_3_2_3_4() {
    let Some(dir) = data_dir() else { return };
    // §3.3.10: do not send to the broadcast address in the second Via.
    let (m, _) = parse_and_round_trip("bcast.dat", read(&dir, "bcast.dat"));
    assert_eq!(m.validate(), Ok(()));
    let vias: Vec<_> = m.vias().collect::<Result<_, _>>().expect("Vias");
    assert_eq!(vias[1].host(), &Host::Ipv4(Ipv4Addr::BROADCAST));

    // §3.3.11: Max-Forwards 0: a proxy answers 483.
    let (m, _) = parse_and_round_trip("zeromf.dat", read(&dir, "zeromf.dat"));
    assert_eq!(m.validate(), Ok(()));
    assert_eq!(m.max_forwards(), Ok(Some(0)));

    // §3.3.12 / §3.3.13: header parameter vs URI parameter.
    let (m, _) = parse_and_round_trip("cparam01.dat", read(&dir, "cparam01.dat"));
    assert_eq!(m.validate(), Ok(()));
    let Some(Ok(Contact::Address(c))) = m.contacts().next() else {
        panic!("contact");
    };
    assert!(c.params().contains("unknownparam") && !c.uri().params().contains("unknownparam"));
    assert_eq!(
        c.uri().phone_number().map(|n| n.to_string()).as_deref(),
        Some("+19725552222")
    );
    let (m, _) = parse_and_round_trip("cparam02.dat", read(&dir, "cparam02.dat"));
    assert_eq!(m.validate(), Ok(()));
    let Some(Ok(Contact::Address(c))) = m.contacts().next() else {
        panic!("contact");
    };
    assert!(!c.params().contains("unknownparam") && c.uri().params().contains("unknownparam"));

    // §3.3.14: an escaped header in a Contact URI inside <>: valid.
    let (m, _) = parse_and_round_trip("regescrt.dat", read(&dir, "regescrt.dat"));
    assert_eq!(m.validate(), Ok(()));
    let Some(Ok(Contact::Address(c))) = m.contacts().next() else {
        panic!("contact");
    };
    assert_eq!(
        c.uri().headers().get("route").map(unescape).as_deref(),
        Some(&b"<sip:sip.example.com>"[..])
    );

    // §3.3.15: the offer is application/sdp but only text/nobodyKnowsThis
    // is accepted (the UAS answers 406/415).
    let (m, _) = parse_and_round_trip("sdp01.dat", read(&dir, "sdp01.dat"));
    assert_eq!(m.validate(), Ok(()));
    assert_eq!(values(&m, HeaderName::Accept), ["text/nobodyKnowsThis"]);
    assert!(m
        .content_type()
        .expect("parses")
        .expect("present")
        .is("application", "sdp"));

    // §3.2.1: a branch that is only the magic cookie identifies nothing.
    let (m, _) = parse_and_round_trip("badbranch.dat", read(&dir, "badbranch.dat"));
    assert_eq!(m.validate(), Ok(()));
    let via = m.via().expect("Via");
    assert_eq!(via.branch().as_deref(), Some(&b"z9hG4bK"[..]));
    assert!(!via.has_rfc3261_branch());

    // §3.4.1: RFC 2543 syntax: no branch, no From tag, no Max-Forwards, no
    // Content-Length (the body runs to the end of the datagram).
    let data = read(&dir, "inv2543.dat");
    let (m, _) = parse_and_round_trip("inv2543.dat", data.clone());
    assert_eq!(m.validate(), Ok(()));
    assert_eq!(m.content_length(), Ok(None));
    assert_eq!(m.via().expect("Via").branch(), None);
    assert_eq!(m.from().expect("From").tag(), None);
    assert_eq!(m.max_forwards(), Ok(None));
    assert!(m.body().starts_with(b"v=0\r\n") && m.body().ends_with(b"RTP/AVP 0\r\n"));
    assert_eq!(
        StreamDecoder::default().decode(&mut BytesMut::from(&data[..])),
        Err(Error::MissingContentLength),
        "mandatory on a stream"
    );
}
