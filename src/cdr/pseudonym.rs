//! Pseudonyms for phone numbers: HMAC-SHA-256 under a key kept outside the
//! CDR directory, truncated to 16 bytes (DESIGN.md "Privacy rules").
//!
//! The same number gives the same pseudonym under one key, so records of one
//! subscriber can be counted together; without the key a pseudonym cannot be
//! turned back into a number by trying every number. Rotating the key
//! unlinks older records: the [`Pseudonymizer::key_id`] stored in each record
//! says which key made its pseudonyms.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Domain separation for the key id, so that the id is never an HMAC or a
/// hash of the key that some other use of the key could also produce.
const KEY_ID_DOMAIN: &[u8] = b"telegate-cdr-key-id\0";

/// Makes pseudonyms of phone numbers under one key; see the
/// [module docs](self). Cheap to share (`&self` methods only).
#[derive(Clone)]
pub struct Pseudonymizer {
    /// HMAC state with the key already absorbed: each pseudonym clones it
    /// instead of hashing the key's pads again.
    mac: HmacSha256,
    key_id: u32,
}

impl Pseudonymizer {
    /// A pseudonymizer for `key` (the key file's bytes; the caller trims
    /// whitespace). Any length works; HMAC hashes keys longer than a block.
    pub fn new(key: &[u8]) -> Pseudonymizer {
        let mac =
            <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        let mut h = Sha256::new();
        h.update(KEY_ID_DOMAIN);
        h.update(key);
        let digest = h.finalize();
        let key_id = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        Pseudonymizer { mac, key_id }
    }

    /// Identifies the key without revealing it: the first 4 bytes
    /// (big-endian) of SHA-256(`"telegate-cdr-key-id\0"` ‖ key).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// HMAC-SHA-256(key, `number`) truncated to its first 16 bytes.
    pub fn pseudonym(&self, number: &[u8]) -> [u8; 16] {
        let mut mac = self.mac.clone();
        mac.update(number);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }
}

impl fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key: only its public id.
        f.debug_struct("Pseudonymizer")
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// A pseudonym as 32 lowercase hex digits.
pub fn hex16(p: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(32);
    for b in p {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0x0f)] as char);
    }
    s
}

/// Parses 32 hex digits (either case) back into a pseudonym.
pub fn parse_hex16(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = hex_val(pair[0])?;
        let lo = hex_val(pair[1])?;
        out[i] = hi << 4 | lo;
    }
    Some(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_number_same_pseudonym_under_one_key() {
        let p = Pseudonymizer::new(b"key one");
        assert_eq!(p.pseudonym(b"447700900123"), p.pseudonym(b"447700900123"));
        assert_ne!(p.pseudonym(b"447700900123"), p.pseudonym(b"447700900124"));
    }

    #[test]
    fn other_key_other_pseudonym_and_key_id() {
        let a = Pseudonymizer::new(b"key one");
        let b = Pseudonymizer::new(b"key two");
        assert_ne!(a.pseudonym(b"447700900123"), b.pseudonym(b"447700900123"));
        assert_ne!(a.key_id(), b.key_id());
    }

    /// Expected values computed independently with Python:
    /// `hmac.new(k, b"447700900123", hashlib.sha256).hexdigest()[:32]` and
    /// `hashlib.sha256(b"telegate-cdr-key-id\0" + k).hexdigest()[:8]`.
    #[test]
    fn known_answer() {
        let p = Pseudonymizer::new(b"test-key-0123456789");
        assert_eq!(
            hex16(&p.pseudonym(b"447700900123")),
            "e3c2e88c8b85cb947441fab78ebe5fc1"
        );
        assert_eq!(p.key_id(), 0x10da_7d01);
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let p = Pseudonymizer::new(b"super-secret-key");
        let s = format!("{p:?}");
        assert!(!s.contains("super-secret-key"), "{s}");
        assert!(s.contains(&format!("{:08x}", p.key_id())), "{s}");
    }

    #[test]
    fn hex_round_trip() {
        let p = Pseudonymizer::new(b"k").pseudonym(b"1");
        assert_eq!(parse_hex16(&hex16(&p)), Some(p));
        assert_eq!(parse_hex16(&hex16(&p).to_uppercase()), Some(p));
        assert_eq!(parse_hex16("zz"), None);
        assert_eq!(parse_hex16(&"g".repeat(32)), None);
    }
}
