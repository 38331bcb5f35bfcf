//! Writes the committed seed corpus of the SIP targets,
//! `corpus/sip_{message,stream,uri}/seed-*`, from the RFC 4475 torture
//! messages in `../shared/data/sip/rfc4475` (the repository's sibling; the
//! messages themselves are not kept in this repository) and a few built
//! messages.
//!
//! Run from anywhere: `cargo run --manifest-path fuzz/Cargo.toml --example
//! gen_sip_seeds`. Existing `seed-*` files are replaced; inputs the fuzzer
//! added (other names) are left alone.

mod seed_out;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bytes::Bytes;
use telegate_sip::{parse_datagram, Contact, HeaderName, Message, Method, Request, Response};

use seed_out::Out;

/// The torture messages, `(file name, bytes)`, in a stable order.
fn torture(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for sub in ["valid", "invalid"] {
        let mut names: Vec<PathBuf> = fs::read_dir(root.join(sub))
            .expect("read RFC 4475 dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "dat"))
            .collect();
        names.sort();
        for path in names {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("file name")
                .to_string();
            files.push((name, fs::read(&path).expect("read message")));
        }
    }
    files
}

/// A MESSAGE and its 202, as the gateway sends them.
fn built() -> Vec<(&'static str, Message)> {
    let message = Request::new(Method::Message, "tel:+44-7700-900123")
        .header(HeaderName::Via, "SIP/2.0/TCP [2001:db8::7]:5061;branch=z9hG4bKm1;received=192.0.2.1;rport=5062")
        .header(HeaderName::MaxForwards, "70")
        .header(HeaderName::From, "\"Tele \\\"gate\\\"\" <sips:+15551234567@gw.example.com;user=phone>;tag=f1")
        .header(HeaderName::To, "<tel:+44-7700-900123>")
        .header(HeaderName::CallId, "m1@gw.example.com")
        .header(HeaderName::CSeq, "1 MESSAGE")
        .header(HeaderName::Route, "<sip:p1.example.net;lr>, <sip:p2.example.net;lr>")
        .header(
            HeaderName::ProxyAuthorization,
            "Digest username=\"gw\", realm=\"example.net\", nonce=\"n\", uri=\"tel:+44-7700-900123\", response=\"0123456789abcdef0123456789abcdef\"",
        )
        .body("text/plain;charset=UTF-8", "Привет, 7700 900123")
        .build()
        .expect("MESSAGE");
    let accepted = Response::for_request(&message, 202)
        .to_tag("t1")
        .header(HeaderName::Expires, "0")
        .build()
        .expect("202");
    vec![("message", message), ("accepted", accepted)]
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/sip/rfc4475");
    if !root.join("index.tsv").is_file() {
        eprintln!(
            "RFC 4475 messages not found at {} (../shared is absent); no SIP seeds written",
            root.display()
        );
        return ExitCode::FAILURE;
    }
    let files = torture(&root);
    let built = built();

    // sip_message: every torture message (valid or not) and the built ones.
    let mut message = Out::new("sip_message");
    for (name, data) in &files {
        message.put(name, data);
    }
    for (name, m) in &built {
        message.put(name, &m.to_bytes());
    }

    // sip_stream: first octet picks the chunk size. Each message that
    // frames on a stream alone, then all of them in one stream with
    // keep-alives between.
    let mut stream = Out::new("sip_stream");
    let mut all = vec![0x05];
    for (i, (name, data)) in files.iter().enumerate() {
        let mut seed = vec![i as u8];
        seed.extend_from_slice(data);
        stream.put(name, &seed);
        if name.as_str() != "dblreq" && parse_datagram(Bytes::from(data.clone())).is_ok() {
            all.extend_from_slice(b"\r\n\r\n");
            all.extend_from_slice(data);
        }
    }
    for (name, m) in &built {
        all.extend_from_slice(b"\r\n");
        all.extend_from_slice(&m.to_bytes());
        let mut seed = vec![0x3F];
        seed.extend_from_slice(&m.to_bytes());
        stream.put(name, &seed);
    }
    stream.put("all", &all);

    // sip_uri: every URI in the messages' start lines and address headers.
    let mut uris: Vec<Bytes> = Vec::new();
    let messages = files
        .iter()
        .filter_map(|(_, d)| parse_datagram(Bytes::from(d.clone())).ok())
        .map(|(m, _)| m)
        .chain(built.into_iter().map(|(_, m)| m));
    for m in messages {
        uris.extend(m.request_uri_raw().cloned());
        for na in [m.from(), m.to()].into_iter().flatten() {
            uris.push(na.uri().as_bytes().clone());
        }
        for c in m.contacts().flatten() {
            if let Contact::Address(a) = c {
                uris.push(a.uri().as_bytes().clone());
            }
        }
        for r in m.routes().chain(m.record_routes()).flatten() {
            uris.push(r.uri().as_bytes().clone());
        }
    }
    for extra in [
        &b"tel:+1-201-555-0123;ext=42;phone-context=example.com"[..],
        b"tel:*67#;phone-context=+44",
        b"sips:alice:pw@[2001:db8::1]:5061;transport=tls;maddr=239.255.255.1?Subject=hi&Priority=urgent",
        b"sip:%2B44(0)7700-900.123@gw.example.net;user=phone",
        b"sip:127.0.0.1:5060;lr",
    ] {
        uris.push(Bytes::copy_from_slice(extra));
    }
    uris.sort();
    uris.dedup();
    let mut uri = Out::new("sip_uri");
    for u in &uris {
        uri.put("uri", u);
    }

    for o in [&message, &stream, &uri] {
        o.report();
    }
    ExitCode::SUCCESS
}
