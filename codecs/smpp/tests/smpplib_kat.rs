//! Known answers produced by an independent implementation: Python
//! `smpplib` 2.2.4 (`smpplib.smpp.make_pdu(...).generate()`), captured
//! once and kept as hex. Each must decode to the fields smpplib was given
//! and re-encode byte for byte.

use bytes::Bytes;
use telegate_smpp::pdu::Body;
use telegate_smpp::tlv::{Tlv, TlvList};
use telegate_smpp::Pdu;

fn hex(s: &str) -> Bytes {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

fn check(h: &str) -> Pdu {
    let b = hex(h);
    let p = Pdu::decode(&b).unwrap_or_else(|e| panic!("{h}: {e}"));
    assert_eq!(p.to_bytes().unwrap(), b, "re-encoding differs");
    p
}

#[test]
fn bind_transceiver() {
    // make_pdu('bind_transceiver', system_id='acme', password='secret',
    //          system_type='', interface_version=0x34), sequence 1
    let p = check("0000002100000009000000000000000161636d6500736563726574000034000000");
    let Body::BindTransceiver(b) = p.body else {
        panic!()
    };
    assert_eq!(&b.system_id[..], b"acme");
    assert_eq!(&b.password[..], b"secret");
    assert_eq!(b.interface_version, 0x34);
}

#[test]
fn submit_sm_with_udh_ucs2() {
    let p = check("0000004000000004000000000000000300050054656c656761746500010134393135313939393939393939004000000000000008000a0500032a020100480069");
    let Body::SubmitSm(sm) = p.body else { panic!() };
    assert_eq!(&sm.source.addr[..], b"Telegate");
    assert_eq!(sm.source.ton.0, 5);
    assert_eq!(sm.esm_class, 0x40);
    assert_eq!(sm.data_coding, 8);
    assert_eq!(&sm.short_message[..6], b"\x05\x00\x03\x2a\x02\x01");
}

#[test]
fn submit_sm_with_payload_and_sar() {
    let p = check("000000490000000400000000000000040000003132330000003435360000000000000000000000020c00020007020e000102020f0001010424000e6c6f6e6720746578742068657265");
    let Body::SubmitSm(sm) = p.body else { panic!() };
    assert!(sm.short_message.is_empty());
    assert_eq!(&sm.tlvs.message_payload().unwrap()[..], b"long text here");
    assert_eq!(sm.tlvs.sar(), Some((7, 2, 1)));
}

#[test]
fn deliver_sm_receipt() {
    let p = check("000000b10000000500000000000000050000003434373730303930303132330000003132333435000400000000000000006b69643a30313233343536373839207375623a30303120646c7672643a303031207375626d697420646174653a3036313031393130313820646f6e6520646174653a3036313031393130313820737461743a44454c49565244206572723a30303020746578743a48656c6c6f0427000102001e000b3031323334353637383900");
    let Body::DeliverSm(d) = p.body else { panic!() };
    assert_eq!(d.esm_class, 4);
    assert_eq!(d.tlvs[0], Tlv::MessageState(2));
    assert_eq!(&d.tlvs.receipted_message_id().unwrap()[..], b"0123456789");
}

#[test]
fn small_pdus() {
    assert_eq!(
        check("00000010000000150000000000000007").body,
        Body::EnquireLink
    );
    assert_eq!(check("00000010000000060000000000000008").body, Body::Unbind);
    let p = check("0000001a00000003000000000000000961626300000031323300");
    let Body::QuerySm(q) = p.body else { panic!() };
    assert_eq!(&q.message_id[..], b"abc");
    assert_eq!(&q.source.addr[..], b"123");
}
