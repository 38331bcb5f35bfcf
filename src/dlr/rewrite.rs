//! Reading a carrier's receipt and rewriting it for the ESME, with the
//! gateway id in place of the carrier's id.
//!
//! Which `deliver_sm` is a receipt: SMPP 3.4 §5.2.12 gives the message type
//! in `esm_class` bits 5–2 of a `deliver_sm`:
//!
//! | bits 5–2 | value  | meaning                          | here        |
//! |----------|--------|----------------------------------|-------------|
//! | 0000     | `0x00` | default (MO message)             | not receipt |
//! | 0001     | `0x04` | SMSC Delivery Receipt            | receipt     |
//! | 0010     | `0x08` | SME Delivery Acknowledgement     | receipt     |
//! | 0100     | `0x10` | SME Manual/User Acknowledgement  | receipt     |
//! | 0110     | `0x18` | Conversation Abort (Korean CDMA) | not receipt |
//! | 1000     | `0x20` | Intermediate Delivery Notification | receipt   |
//!
//! All four receipt types answer a message an ESME submitted, so they go
//! back to that account (found through the DLR map), never through MO
//! routing by destination number. Only the SMSC-generated ones (`0x04`,
//! `0x20`) carry Appendix B text whose `id:` we read and rewrite; the text
//! of an SME acknowledgement is the recipient's own, so for `0x08`/`0x10`
//! only the `receipted_message_id` TLV (§5.3.2.12) is used and rewritten.

use bytes::Bytes;

use crate::smpp_codec::pdu::SubmitSm;
use crate::smpp_codec::receipt::{err_code, scan_core, ReceiptStat};
use crate::smpp_codec::tlv::{Tlv, TlvList};

/// Mask of the message type bits 5–2 of `esm_class` (§5.2.12).
const TYPE_MASK: u8 = 0b0011_1100;
/// SMSC Delivery Receipt.
const SMSC_RECEIPT: u8 = 0x04;
/// SME Delivery Acknowledgement.
const SME_DELIVERY_ACK: u8 = 0x08;
/// SME Manual/User Acknowledgement.
const SME_MANUAL_ACK: u8 = 0x10;
/// Intermediate Delivery Notification.
const INTERMEDIATE: u8 = 0x20;

/// The most octets `short_message` may carry (§5.2.21: 0–254).
const MAX_SHORT_MESSAGE: usize = 254;

/// Whether a `deliver_sm` with this `esm_class` reports on a submitted
/// message (see the table in the [module docs](self)).
pub fn is_receipt(esm_class: u8) -> bool {
    matches!(
        esm_class & TYPE_MASK,
        SMSC_RECEIPT | SME_DELIVERY_ACK | SME_MANUAL_ACK | INTERMEDIATE
    )
}

/// Whether the receipt's text is SMSC-generated Appendix B text.
fn has_receipt_text(esm_class: u8) -> bool {
    matches!(esm_class & TYPE_MASK, SMSC_RECEIPT | INTERMEDIATE)
}

/// Octets a rewritten receipt keeps inline ([`InlineBuf`]): the gateway id
/// and a full `short_message` with it, with room to spare.
const INLINE: usize = 320;

/// The octets of a rewritten receipt, as the owner of a [`Bytes`]: with
/// its refcount in the same allocation. Sized to fit (a held receipt
/// keeps it).
struct InlineBuf<const N: usize> {
    len: usize,
    buf: [u8; N],
}

impl<const N: usize> AsRef<[u8]> for InlineBuf<N> {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `total` octets written by `fill` into one allocation: inline up to
/// [`INLINE`], else a `Vec`.
fn filled(total: usize, fill: impl FnOnce(&mut [u8])) -> Bytes {
    fn inline<const N: usize>(total: usize, fill: impl FnOnce(&mut [u8])) -> Bytes {
        let mut b = InlineBuf {
            len: total,
            buf: [0; N],
        };
        fill(&mut b.buf[..total]);
        Bytes::from_owner(b)
    }
    match total {
        0..=64 => inline::<64>(total, fill),
        65..=192 => inline::<192>(total, fill),
        193..=INLINE => inline::<INLINE>(total, fill),
        _ => {
            let mut v = vec![0; total];
            fill(&mut v);
            Bytes::from(v)
        }
    }
}

/// The text: `short_message`, or `message_payload` when `short_message`
/// is empty (§5.3.2.32).
fn text(sm: &SubmitSm) -> Option<&Bytes> {
    if !sm.short_message.is_empty() {
        return Some(&sm.short_message);
    }
    sm.tlvs.message_payload()
}

/// What the gateway reads of a receipt, with its Appendix B text parsed at
/// most once: the carrier's message id, the state and error code, and
/// where the text's `id:` sits for [`ReceiptView::rewrite`].
#[derive(Debug, Clone, Default)]
pub struct ReceiptView {
    /// The carrier's id of the message the receipt reports on:
    /// `receipted_message_id` (§5.3.2.12) if present, else the Appendix B
    /// `id:` of the text (SMSC receipts only). `None` if the PDU is not a
    /// receipt or has neither.
    pub id: Option<Bytes>,
    /// The `message_state` (§5.2.28): the `message_state` TLV (§5.3.2.35)
    /// if present, else the Appendix B `stat:` word (SMSC receipts only).
    pub state: Option<u8>,
    /// The `network_error_code` TLV's code (§5.3.2.31) if present, else
    /// the Appendix B `err:` value; 0 if neither (or it does not fit 16
    /// bits).
    pub err: u16,
    /// Where the `id:` value sits in the text, as the codec's parser reads
    /// it (SMSC receipts with parseable text only).
    id_range: Option<std::ops::Range<usize>>,
}

impl ReceiptView {
    /// Reads `sm`; all `None` / 0 when it is not a receipt.
    pub fn of(sm: &SubmitSm) -> ReceiptView {
        if !is_receipt(sm.esm_class) {
            return ReceiptView::default();
        }
        let tlv_id = sm
            .tlvs
            .receipted_message_id()
            .filter(|id| !id.is_empty())
            .cloned();
        let tlv_state = sm.tlvs.message_state();
        let tlv_err = sm.tlvs.iter().find_map(|t| match t {
            Tlv::NetworkErrorCode { error_code, .. } => Some(*error_code),
            _ => None,
        });
        let parsed = if has_receipt_text(sm.esm_class) {
            text(sm).and_then(|t| scan_core(t).ok().map(|c| (t, c)))
        } else {
            None
        };
        let Some((text, c)) = parsed else {
            return ReceiptView {
                id: tlv_id,
                state: tlv_state,
                err: tlv_err.unwrap_or(0),
                id_range: None,
            };
        };
        let err = tlv_err.or_else(|| {
            c.err
                .and_then(|r| err_code(&text[r]))
                .and_then(|c| u16::try_from(c).ok())
        });
        ReceiptView {
            state: tlv_state.or_else(|| c.stat.as_ref().map(ReceiptStat::to_message_state)),
            err: err.unwrap_or(0),
            id: tlv_id.or_else(|| Some(text.slice(c.id.clone()))),
            id_range: Some(c.id),
        }
    }

    /// The receipt as the ESME gets it: the `id:` value of the Appendix B
    /// text (SMSC receipts only) and the `receipted_message_id` TLV (when
    /// present) replaced by `gateway_id_hex`; every other octet of the
    /// text and every other TLV kept as it was. `sm` is the PDU this view
    /// was read from.
    ///
    /// If the new text no longer fits `short_message` (254 octets), it
    /// moves to a `message_payload` TLV and `short_message` becomes empty,
    /// as §5.3.2.32 allows.
    pub fn rewrite(&self, sm: &mut SubmitSm, gateway_id_hex: &[u8]) {
        let has_tlv = sm
            .tlvs
            .iter()
            .any(|t| matches!(t, Tlv::ReceiptedMessageId(_)));
        // The text's parts around its `id:` value, if it has one to
        // rewrite.
        let in_payload = sm.short_message.is_empty();
        let parts = self.id_range.as_ref().and_then(|r| {
            let old = text(sm)?;
            Some((old.get(..r.start)?, old.get(r.end..)?))
        });
        if !has_tlv && parts.is_none() {
            return;
        }
        // The id for the TLV and the new text share one allocation: the id
        // first, then the text (which has the id in it too).
        let n = gateway_id_hex.len();
        let text_at = if has_tlv { n } else { 0 };
        let total = text_at + parts.map_or(0, |(head, tail)| head.len() + n + tail.len());
        let fill = |out: &mut [u8]| {
            let mut at = 0;
            let mut put = |b: &[u8]| {
                out[at..at + b.len()].copy_from_slice(b);
                at += b.len();
            };
            if has_tlv {
                put(gateway_id_hex);
            }
            if let Some((head, tail)) = parts {
                put(head);
                put(gateway_id_hex);
                put(tail);
            }
        };
        // The usual receipt fits inline: refcount and octets in one
        // allocation, and splitting it allocates nothing more.
        let mut all = filled(total, fill);
        let has_text = parts.is_some();
        // `all` keeps the id; the text is split off it (a refcount, no
        // copy), and the last TLV takes the id itself.
        let new = if has_text {
            all.split_off(text_at)
        } else {
            Bytes::new()
        };
        if has_tlv {
            let mut ids = sm
                .tlvs
                .iter_mut()
                .filter_map(|t| match t {
                    Tlv::ReceiptedMessageId(id) => Some(id),
                    _ => None,
                })
                .peekable();
            while let Some(id) = ids.next() {
                *id = if ids.peek().is_some() {
                    all.clone()
                } else {
                    std::mem::take(&mut all)
                };
            }
        }
        if !has_text {
            return;
        }
        if in_payload {
            for t in &mut sm.tlvs {
                if let Tlv::MessagePayload(p) = t {
                    *p = new;
                    break;
                }
            }
        } else if new.len() <= MAX_SHORT_MESSAGE {
            sm.short_message = new;
        } else {
            sm.short_message = Bytes::new();
            sm.tlvs.retain(|t| !matches!(t, Tlv::MessagePayload(_)));
            sm.tlvs.push(Tlv::MessagePayload(new));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt_message_id(sm: &SubmitSm) -> Option<Bytes> {
        ReceiptView::of(sm).id
    }

    fn receipt_outcome(sm: &SubmitSm) -> (Option<u8>, u16) {
        let v = ReceiptView::of(sm);
        (v.state, v.err)
    }

    fn rewrite_receipt(sm: &SubmitSm, gateway_id_hex: &[u8]) -> SubmitSm {
        let mut out = sm.clone();
        ReceiptView::of(sm).rewrite(&mut out, gateway_id_hex);
        out
    }

    const TEXT: &[u8] = b"id:0000A1B2 sub:001 dlvrd:001 submit date:2402291200 \
done date:2402291201 stat:DELIVRD err:000 text:Hello id:0000A1B2";

    fn receipt(text: &'static [u8], tlvs: Vec<Tlv>) -> SubmitSm {
        SubmitSm {
            esm_class: 0x04,
            short_message: Bytes::from_static(text),
            tlvs,
            ..SubmitSm::default()
        }
    }

    #[test]
    fn outcome_reads_state_and_error_from_text_or_tlvs() {
        let text = b"id:7 sub:001 dlvrd:000 submit date:2611291200 done date:2611291201 stat:UNDELIV err:034 text:";
        assert_eq!(receipt_outcome(&receipt(text, vec![])), (Some(5), 34));
        // The TLVs win over the text.
        let tlvs = vec![
            Tlv::MessageState(2),
            Tlv::NetworkErrorCode {
                network_type: 3,
                error_code: 0x0101,
            },
        ];
        assert_eq!(receipt_outcome(&receipt(text, tlvs)), (Some(2), 0x0101));
        let no_err = b"id:7 sub:001 dlvrd:001 submit date:2611291200 done date:2611291201 stat:DELIVRD text:";
        assert_eq!(receipt_outcome(&receipt(no_err, vec![])), (Some(2), 0));
        let mut mo = receipt(text, vec![]);
        mo.esm_class = 0;
        assert_eq!(receipt_outcome(&mo), (None, 0));
    }

    #[test]
    fn esm_class_types() {
        for (esm, want) in [
            (0x00, false),
            (0x04, true),
            (0x08, true),
            (0x10, true),
            (0x18, false),
            (0x20, true),
            (0x44, true), // UDHI + receipt
            (0x40, false),
            (0x0c, false), // undefined type 0011
            (0x03 | 0x04, true),
        ] {
            assert_eq!(is_receipt(esm), want, "{esm:#x}");
        }
    }

    #[test]
    fn id_from_tlv_then_text() {
        let sm = receipt(
            TEXT,
            vec![Tlv::ReceiptedMessageId(Bytes::from_static(b"41394"))],
        );
        assert_eq!(receipt_message_id(&sm).as_deref(), Some(&b"41394"[..]));
        let sm = receipt(TEXT, vec![]);
        assert_eq!(receipt_message_id(&sm).as_deref(), Some(&b"0000A1B2"[..]));
        let mut sm = receipt(b"hello", vec![]);
        assert_eq!(receipt_message_id(&sm), None);
        sm.esm_class = 0;
        sm.short_message = Bytes::from_static(TEXT);
        assert_eq!(receipt_message_id(&sm), None);
        // SME acks: TLV only.
        sm.esm_class = 0x08;
        assert_eq!(receipt_message_id(&sm), None);
        sm.tlvs
            .push(Tlv::ReceiptedMessageId(Bytes::from_static(b"7")));
        assert_eq!(receipt_message_id(&sm).as_deref(), Some(&b"7"[..]));
    }

    #[test]
    fn state_from_tlv_then_text() {
        let sm = receipt(TEXT, vec![Tlv::MessageState(5)]);
        assert_eq!(ReceiptView::of(&sm).state, Some(5));
        let sm = receipt(TEXT, vec![]);
        assert_eq!(ReceiptView::of(&sm).state, Some(2));
        let sm = receipt(b"id:1", vec![]);
        assert_eq!(ReceiptView::of(&sm).state, None);
    }

    #[test]
    fn rewrite_keeps_everything_else() {
        let other = Tlv::Other {
            tag: 0x1400,
            value: Bytes::from_static(b"x"),
        };
        let sm = receipt(
            TEXT,
            vec![
                other.clone(),
                Tlv::ReceiptedMessageId(Bytes::from_static(b"A1B2")),
                Tlv::MessageState(2),
            ],
        );
        let out = rewrite_receipt(&sm, b"0123456789abcdef");
        let want: &[u8] = b"id:0123456789abcdef sub:001 dlvrd:001 submit date:2402291200 \
done date:2402291201 stat:DELIVRD err:000 text:Hello id:0000A1B2";
        assert_eq!(&out.short_message[..], want);
        assert_eq!(
            out.tlvs,
            vec![
                other,
                Tlv::ReceiptedMessageId(Bytes::from_static(b"0123456789abcdef")),
                Tlv::MessageState(2),
            ]
        );
        assert_eq!(
            SubmitSm {
                short_message: sm.short_message.clone(),
                tlvs: sm.tlvs.clone(),
                ..out.clone()
            },
            sm
        );
        // Odd spacing and case of the key are kept too.
        let sm = receipt(b"  ID : 77 stat:ENROUTE", vec![]);
        let out = rewrite_receipt(&sm, b"abc");
        assert_eq!(&out.short_message[..], b"  ID : abc stat:ENROUTE");
    }

    #[test]
    fn filled_holds_every_size_inline_or_not() {
        for total in [0, 1, 64, 65, 192, 193, INLINE, INLINE + 1, 1000] {
            let b = filled(total, |out| {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = i as u8;
                }
            });
            let want: Vec<u8> = (0..total).map(|i| i as u8).collect();
            assert_eq!(&b[..], &want[..], "{total}");
            let mut b2 = b.clone();
            let tail = b2.split_off(total / 2);
            assert_eq!(&b2[..], &want[..total / 2]);
            assert_eq!(&tail[..], &want[total / 2..]);
        }
    }

    #[test]
    fn rewrite_payload_and_overflow() {
        let mut sm = receipt(b"", vec![Tlv::MessagePayload(Bytes::from_static(TEXT))]);
        let out = rewrite_receipt(&sm, b"ff");
        assert!(out.short_message.is_empty());
        let p = out.tlvs.message_payload().unwrap();
        assert!(p.starts_with(b"id:ff sub:001"));
        assert!(p.ends_with(b"text:Hello id:0000A1B2"));

        // 250 octets with a 1-octet id, rewritten to 16: moves to the payload.
        let mut long = b"id:1 text:".to_vec();
        long.resize(250, b'x');
        sm.tlvs.clear();
        sm.short_message = Bytes::from(long.clone());
        let out = rewrite_receipt(&sm, b"0123456789abcdef");
        assert!(out.short_message.is_empty());
        let p = out.tlvs.message_payload().unwrap();
        assert_eq!(p.len(), 265);
        assert_eq!(&p[..19], b"id:0123456789abcdef");
        assert_eq!(&p[19..], &long[4..]);

        // Longer than the inline buffer, with the TLV too: the same result.
        let mut long = b"id:1 text:".to_vec();
        long.resize(600, b'y');
        sm.short_message = Bytes::new();
        sm.tlvs = vec![
            Tlv::ReceiptedMessageId(Bytes::from_static(b"1")),
            Tlv::MessagePayload(Bytes::from(long.clone())),
        ];
        let out = rewrite_receipt(&sm, b"0123456789abcdef");
        assert_eq!(
            out.tlvs.receipted_message_id().unwrap().as_ref(),
            b"0123456789abcdef"
        );
        let p = out.tlvs.message_payload().unwrap();
        assert_eq!(p.len(), 615);
        assert_eq!(&p[..19], b"id:0123456789abcdef");
        assert_eq!(&p[19..], &long[4..]);
        sm.tlvs.clear();
        sm.short_message = Bytes::from(b"id:1 text:".to_vec());

        // Not a receipt: untouched.
        sm.esm_class = 0;
        assert_eq!(rewrite_receipt(&sm, b"ff"), sm);
        // SME ack: TLV only, text untouched.
        sm.esm_class = 0x08;
        sm.tlvs = vec![Tlv::ReceiptedMessageId(Bytes::from_static(b"1"))];
        let out = rewrite_receipt(&sm, b"ff");
        assert_eq!(out.short_message, sm.short_message);
        assert_eq!(out.tlvs.receipted_message_id().unwrap().as_ref(), b"ff");
    }
}
