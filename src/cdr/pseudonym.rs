//! Pseudonyms for phone numbers: HMAC-SHA-256 under a key kept outside the
//! CDR directory, truncated to 16 bytes (DESIGN.md "Privacy rules").
//!
//! The same number gives the same pseudonym under one key, so records of one
//! subscriber can be counted together; without the key a pseudonym cannot be
//! turned back into a number by trying every number. Rotating the key
//! unlinks older records: the [`Pseudonymizer::key_id`] stored in each record
//! says which key made its pseudonyms.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};

/// Domain separation for the key id, so that the id is never an HMAC or a
/// hash of the key that some other use of the key could also produce.
const KEY_ID_DOMAIN: &[u8] = b"telegate-cdr-key-id\0";

/// SHA-256's block size in bytes.
const BLOCK: usize = 64;
/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Numbers each [`Pseudonymizer`] made in this process, so that a cache of
/// pseudonyms can tell keys apart without keeping them.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Makes pseudonyms of phone numbers under one key; see the
/// [module docs](self). Cheap to share (`&self` methods only).
///
/// HMAC (RFC 2104) is computed straight on SHA-256's compression
/// function: the key's inner and outer pads are compressed once, here, so
/// a pseudonym of a number (at most 55 bytes, which every phone number and
/// sender id is) costs exactly two compressions and no buffering.
#[derive(Clone)]
pub struct Pseudonymizer {
    /// SHA-256 state after the key XOR ipad block.
    inner: [u32; 8],
    /// SHA-256 state after the key XOR opad block.
    outer: [u32; 8],
    key_id: u32,
    generation: u64,
}

impl Pseudonymizer {
    /// A pseudonymizer for `key` (the key file's bytes; the caller trims
    /// whitespace). Any length works; as HMAC says, a key longer than a
    /// block is hashed first.
    pub fn new(key: &[u8]) -> Pseudonymizer {
        let mut k = [0u8; BLOCK];
        if key.len() > BLOCK {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| {
            let mut block = k;
            for b in &mut block {
                *b ^= byte;
            }
            let mut state = IV;
            sha2::compress256(&mut state, &[GenericArray::from(block)]);
            state
        };
        let mut h = Sha256::new();
        h.update(KEY_ID_DOMAIN);
        h.update(key);
        let digest = h.finalize();
        let key_id = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        Pseudonymizer {
            inner: pad(0x36),
            outer: pad(0x5c),
            key_id,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Identifies the key without revealing it: the first 4 bytes
    /// (big-endian) of SHA-256(`"telegate-cdr-key-id\0"` ‖ key).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Unique to this pseudonymizer within the process (never 0): what a
    /// cache of its pseudonyms is keyed on.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// HMAC-SHA-256(key, `number`) truncated to its first 16 bytes.
    pub fn pseudonym(&self, number: &[u8]) -> [u8; 16] {
        let inner = finish(self.inner, number);
        let mut digest = [0u8; 32];
        for (out, w) in digest.chunks_exact_mut(4).zip(inner) {
            out.copy_from_slice(&w.to_be_bytes());
        }
        let outer = finish(self.outer, &digest);
        let mut out = [0u8; 16];
        for (o, w) in out.chunks_exact_mut(4).zip(outer) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

/// Completes a SHA-256 whose first block (a key pad) is in `state` with
/// `msg` and the padding (FIPS 180-4, 5.1.1): the hash's words.
fn finish(mut state: [u32; 8], msg: &[u8]) -> [u32; 8] {
    let mut chunks = msg.chunks_exact(BLOCK);
    for c in &mut chunks {
        let block: [u8; BLOCK] = c.try_into().expect("chunks_exact gives whole blocks");
        sha2::compress256(&mut state, &[GenericArray::from(block)]);
    }
    let rest = chunks.remainder();
    let bits = ((BLOCK + msg.len()) as u64).wrapping_mul(8).to_be_bytes();
    let mut block = [0u8; BLOCK];
    block[..rest.len()].copy_from_slice(rest);
    block[rest.len()] = 0x80;
    if rest.len() + 1 + bits.len() > BLOCK {
        sha2::compress256(&mut state, &[GenericArray::from(block)]);
        block = [0u8; BLOCK];
    }
    block[BLOCK - bits.len()..].copy_from_slice(&bits);
    sha2::compress256(&mut state, &[GenericArray::from(block)]);
    state
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

    /// The compression-level HMAC agrees with the `hmac` crate's for keys
    /// shorter than, as long as and longer than a block, and for messages
    /// whose padding takes one block or two, and several.
    #[test]
    fn agrees_with_the_hmac_crate() {
        use hmac::{Hmac, Mac};
        for key_len in [0, 1, 19, 63, 64, 65, 150] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let p = Pseudonymizer::new(&key);
            for msg_len in [0, 1, 12, 21, 55, 56, 63, 64, 65, 119, 120, 200] {
                let msg: Vec<u8> = (0..msg_len).map(|i| b'0' + (i % 10) as u8).collect();
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
                mac.update(&msg);
                let want = mac.finalize().into_bytes();
                assert_eq!(
                    p.pseudonym(&msg)[..],
                    want[..16],
                    "key {key_len} bytes, message {msg_len} bytes"
                );
            }
        }
    }

    #[test]
    fn each_pseudonymizer_has_its_own_generation() {
        let a = Pseudonymizer::new(b"k");
        let b = Pseudonymizer::new(b"k");
        assert_ne!(a.generation(), b.generation());
        assert_ne!(a.generation(), 0);
        assert_eq!(a.clone().generation(), a.generation());
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
