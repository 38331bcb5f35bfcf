//! PDU round trips, known answers and error mapping.

use bytes::{Bytes, BytesMut};
use telegate_smpp::frame::{frame_len, Framer};
use telegate_smpp::pdu::{peek_submit_destination, Body, MessageIdResp, SubmitSm};
use telegate_smpp::{CommandId, CommandStatus, Npi, Pdu, Ton};

fn hex(s: &str) -> Bytes {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

#[test]
fn every_pdu_round_trips() {
    let all = Pdu::examples();
    let mut ids: Vec<u32> = all.iter().map(|p| p.command_id().0).collect();
    ids.sort();
    ids.dedup();
    // 17 requests and 16 responses (3.4 + 5.0 broadcast), plus one unknown.
    let known = ids
        .iter()
        .filter(|&&i| CommandId(i).name().is_some())
        .count();
    assert_eq!(known, 33, "{ids:x?}");
    assert_eq!(ids.len(), 34, "{ids:x?}");
    for pdu in &all {
        let bytes = pdu.to_bytes().unwrap();
        assert_eq!(bytes.len(), pdu.encoded_len().unwrap());
        assert_eq!(
            u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        let back = Pdu::decode(&bytes).unwrap_or_else(|e| panic!("{pdu:?}: {e}"));
        assert_eq!(&back, pdu);
        // Byte-exact re-encoding.
        assert_eq!(back.to_bytes().unwrap(), bytes);
    }
}

#[test]
fn enquire_link_known_answer() {
    // SMPP 3.4 §4.11.1: header only.
    let b = hex("00000010 00000015 00000000 00000001");
    let p = Pdu::decode(&b).unwrap();
    assert_eq!(p.body, Body::EnquireLink);
    assert_eq!(p.sequence_number, 1);
    assert_eq!(p.to_bytes().unwrap(), b);
}

#[test]
fn submit_sm_known_answer() {
    // A submit_sm as Python smpplib 2.2.4 writes it for
    // client.send_message(source_addr_ton=1, source_addr_npi=1, source_addr='12345',
    // dest_addr_ton=1, dest_addr_npi=1, destination_addr='447700900123',
    // short_message=b'Hello', registered_delivery=1), sequence 2.
    let b = hex("00000037 00000004 00000000 00000002
         00 01 01 3132333435 00 01 01 343437373030393030313233 00
         00 00 00 00 00 01 00 00 00 05 48656c6c6f");
    let p = Pdu::decode(&b).unwrap();
    let Body::SubmitSm(sm) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(&sm.source.addr[..], b"12345");
    assert_eq!(sm.dest.ton, Ton::INTERNATIONAL);
    assert_eq!(sm.dest.npi, Npi::ISDN);
    assert_eq!(&sm.dest.addr[..], b"447700900123");
    assert_eq!(sm.registered_delivery, 1);
    assert_eq!(&sm.short_message[..], b"Hello");
    assert_eq!(p.to_bytes().unwrap(), b);
    let (ton, npi, digits) = peek_submit_destination(&b).unwrap();
    assert_eq!((ton, npi, digits), (Ton(1), Npi(1), &b"447700900123"[..]));
}

#[test]
fn error_resp_without_body_is_accepted_and_written_so() {
    // §4.4.2: submit_sm_resp carries no body when command_status != 0.
    let b = hex("00000010 80000004 00000058 00000007");
    let p = Pdu::decode(&b).unwrap();
    assert_eq!(p.command_status, CommandStatus::ESME_RTHROTTLED);
    assert_eq!(p.body, Body::SubmitSmResp(MessageIdResp::default()));
    assert_eq!(p.to_bytes().unwrap(), b);
    // ... and many SMSCs send a lone NUL instead: also accepted.
    let b = hex("00000011 80000004 00000045 00000007 00");
    assert!(Pdu::decode(&b).is_ok());
}

#[test]
fn bad_lengths_get_generic_nack_rinvcmdlen() {
    let e = frame_len(&hex("0000000f 00000015 00000000 00000001"), 4096).unwrap_err();
    let r = e.response().unwrap();
    assert_eq!(r.command_id(), CommandId::GENERIC_NACK);
    assert_eq!(r.command_status, CommandStatus::ESME_RINVCMDLEN);
    assert_eq!(r.sequence_number, 1);
    assert!(e.is_fatal());
    // Too long is rejected on the first 4 bytes, before buffering.
    let e = frame_len(&hex("7fffffff"), 4096).unwrap_err();
    assert_eq!(e.status(), CommandStatus::ESME_RINVCMDLEN);
    // Not enough yet.
    assert_eq!(frame_len(&hex("00000010 0000"), 4096).unwrap(), None);
}

#[test]
fn unknown_command_gets_generic_nack_rinvcmdid() {
    let b = hex("00000014 00000222 00000000 00000009 01020304");
    let p = Pdu::decode(&b).unwrap();
    assert!(matches!(p.body, Body::Other { .. }));
    assert_eq!(p.to_bytes().unwrap(), b);
    let nack = Pdu::error_response(p.command_id(), 9, CommandStatus::ESME_RINVCMDID);
    assert_eq!(nack.command_id(), CommandId::GENERIC_NACK);
}

fn submit_with(f: impl FnOnce(&mut SubmitSm)) -> BytesMut {
    let mut sm = SubmitSm {
        source: telegate_smpp::Address::new(Ton(1), Npi(1), Bytes::from_static(b"123")),
        dest: telegate_smpp::Address::new(Ton(1), Npi(1), Bytes::from_static(b"4477")),
        short_message: Bytes::from_static(b"hi"),
        ..Default::default()
    };
    f(&mut sm);
    let mut b = BytesMut::new();
    Pdu::new(5, Body::SubmitSm(Box::new(sm)))
        .encode(&mut b)
        .unwrap();
    b
}

fn decode_err(b: &[u8]) -> telegate_smpp::DecodeError {
    Pdu::decode(&Bytes::copy_from_slice(b)).unwrap_err()
}

#[test]
fn field_errors_map_to_the_resp_status() {
    // Source address longer than 20 characters: overwrite the NUL.
    let mut b = submit_with(|s| s.source.addr = Bytes::from_static(b"12345678901234567890"));
    let pos = 16 + 1 + 2 + 20; // service_type NUL, ton, npi, 20 digits
    b[pos] = b'1';
    let e = decode_err(&b);
    assert_eq!(e.status(), CommandStatus::ESME_RINVSRCADR, "{e}");
    let r = e.response().unwrap();
    assert_eq!(r.command_id(), CommandId::SUBMIT_SM_RESP);
    assert_eq!(r.sequence_number, 5);
    assert_eq!(r.command_status, CommandStatus::ESME_RINVSRCADR);

    // Destination without NUL (21 digits).
    let mut b = submit_with(|s| s.dest.addr = Bytes::from_static(b"12345678901234567890"));
    let pos = 16 + 1 + 2 + 4 + 2 + 20;
    b[pos] = b'9';
    assert_eq!(decode_err(&b).status(), CommandStatus::ESME_RINVDSTADR);

    // sm_length longer than the body.
    let mut b = submit_with(|_| {});
    let sm_len_pos = b.len() - 3;
    b[sm_len_pos] = 200;
    assert_eq!(decode_err(&b).status(), CommandStatus::ESME_RINVMSGLEN);

    // Trailing garbage after a body without TLVs... is a TLV stream error
    // for submit_sm (TLVs may follow), and RINVCMDLEN for enquire_link.
    let mut b = submit_with(|_| {});
    b.extend_from_slice(&[0xAA, 0xBB]);
    let len = b.len() as u32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(decode_err(&b).status(), CommandStatus::ESME_RINVTLVSTREAM);
    let b = hex("00000011 00000015 00000000 00000001 00");
    assert_eq!(decode_err(&b).status(), CommandStatus::ESME_RINVCMDLEN);

    // Bad validity period (15 characters).
    let mut b = submit_with(|s| s.validity_period = Bytes::from_static(b"000001000000000R"));
    let start = 16 + 1 + 2 + 4 + 2 + 5 + 3 + 1;
    assert_eq!(&b[start..start + 16], b"000001000000000R");
    b[start + 3] = b'x';
    assert_eq!(decode_err(&b).status(), CommandStatus::ESME_RINVEXPIRY);

    // A TLV whose declared length overruns the body.
    let mut b = submit_with(|_| {});
    b.extend_from_slice(&[0x04, 0x24, 0x00, 0x10, 0x41]);
    let len = b.len() as u32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    let e = decode_err(&b);
    assert_eq!(e.status(), CommandStatus::ESME_RINVTLVSTREAM);
    assert_eq!(e.tlv_tag, Some(0x0424));

    // Sequence number 0 in a request.
    let b = hex("00000010 00000015 00000000 00000000");
    let r = decode_err(&b).response().unwrap();
    assert_eq!(r.command_id(), CommandId::GENERIC_NACK);

    // A bad response is never answered.
    let b = hex("00000012 80000004 00000000 00000001 4142");
    assert!(decode_err(&b).response().is_none());
}

#[test]
fn encode_checks_limits() {
    // A NUL inside a C-Octet String would cut it short on the wire.
    let mut sm = SubmitSm::default();
    sm.dest.addr = Bytes::from_static(b"44\x0077");
    let p = Pdu::new(1, Body::SubmitSm(Box::new(sm)));
    let mut out = BytesMut::from(&b"keep"[..]);
    let e = p.encode(&mut out).unwrap_err();
    assert_eq!(e.field, telegate_smpp::Field::DestinationAddr);
    assert_eq!(&out[..], b"keep", "nothing written on error");

    let mut sm = SubmitSm::default();
    sm.dest.addr = Bytes::from(vec![b'1'; 21]);
    let p = Pdu::new(1, Body::SubmitSm(Box::new(sm)));
    assert!(p.to_bytes().is_err());
    let sm = SubmitSm {
        short_message: Bytes::from(vec![b'a'; 255]),
        ..Default::default()
    };
    let p = Pdu::new(1, Body::SubmitSm(Box::new(sm)));
    assert!(p.to_bytes().is_err());
    let sm = SubmitSm {
        short_message: Bytes::from(vec![b'a'; 254]),
        ..Default::default()
    };
    assert!(Pdu::new(1, Body::SubmitSm(Box::new(sm.clone())))
        .to_bytes()
        .is_ok());
    assert!(Pdu::new(0, Body::SubmitSm(Box::new(sm)))
        .to_bytes()
        .is_err());
    // 255-octet short_message is accepted on input.
    let mut b = submit_with(|s| s.short_message = Bytes::from(vec![b'a'; 254]));
    let at = b.len() - 255;
    b[at] = 255;
    b.extend_from_slice(b"a");
    let len = b.len() as u32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    assert!(Pdu::decode(&b.freeze()).is_ok());
}

#[test]
fn framer_splits_a_stream() {
    let mut stream = BytesMut::new();
    for p in Pdu::examples() {
        p.encode(&mut stream).unwrap();
    }
    let framer = Framer::default();
    // Feed one byte at a time.
    let mut buf = BytesMut::new();
    let mut n = 0;
    for byte in stream.iter() {
        buf.extend_from_slice(&[*byte]);
        while let Some(frame) = framer.next_frame(&mut buf).unwrap() {
            Pdu::decode(&frame).unwrap();
            n += 1;
        }
    }
    assert_eq!(n, Pdu::examples().len());
}

#[test]
fn published_60_octet_submit_sm() {
    // The widely published 60-octet submit_sm breakdown (Wikipedia's
    // "Short Message Peer-to-Peer" article, smppserver.org): source 555
    // (TON 2, NPI 8), destination 555555555, "Hello wikipedia".
    let b = hex("0000003C 00000004 00000000 00000005
         00 02 08 35353500 01 01 35353535353535353500
         00 00 00 00 00 00 00 00 00 0F 48656C6C6F2077696B6970656469 61");
    let p = Pdu::decode(&b).unwrap();
    let Body::SubmitSm(sm) = &p.body else {
        panic!("{p:?}")
    };
    assert_eq!(p.sequence_number, 5);
    assert_eq!(
        (sm.source.ton, sm.source.npi),
        (Ton::NATIONAL, Npi::NATIONAL)
    );
    assert_eq!(&sm.source.addr[..], b"555");
    assert_eq!(&sm.dest.addr[..], b"555555555");
    assert_eq!(&sm.short_message[..], b"Hello wikipedia");
    assert_eq!(p.to_bytes().unwrap(), b);
}

/// A PDU is moved by value through every reader and writer: the large
/// bodies are boxed so the enum stays small enough to move inline.
#[test]
fn pdu_stays_small() {
    let size = std::mem::size_of::<telegate_smpp::Pdu>();
    assert!(size <= 72, "size_of::<Pdu>() = {size}");
}
