//! Pseudonyms for phone numbers: HMAC-SHA-256 under a key kept outside the
//! CDR directory, truncated to 16 bytes (DESIGN.md "Privacy rules").
//!
//! The same number gives the same pseudonym under one key, so records of one
//! subscriber can be counted together; without the key a pseudonym cannot be
//! turned back into a number by trying every number. Rotating the key
//! unlinks older records: the [`Pseudonymizer::key_id`] stored in each record
//! says which key made its pseudonyms.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Domain separation for the key id, so that the id is never an HMAC or a
/// hash of the key that some other use of the key could also produce.
const KEY_ID_DOMAIN: &[u8] = b"telegate-cdr-key-id\0";

/// Slots of each thread's cache of recent pseudonyms (a power of two).
const CACHE_SLOTS: usize = 64;
/// Longer numbers are not cached (SMPP addresses are at most 20 octets,
/// E.164 numbers 15 digits).
const CACHE_MAX_NUMBER: usize = 24;

/// Tells pseudonymizers apart in the caches: a new key (a config reload)
/// never finds the pseudonyms of the one before.
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// Makes pseudonyms of phone numbers under one key; see the
/// [module docs](self). Cheap to share (`&self` methods only).
#[derive(Clone)]
pub struct Pseudonymizer {
    /// HMAC state with the key already absorbed: each pseudonym clones it
    /// instead of hashing the key's pads again.
    mac: HmacSha256,
    key_id: u32,
    /// Unique per [`Pseudonymizer::new`], never 0: the owner of cache
    /// entries.
    instance: u64,
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
        Pseudonymizer {
            mac,
            key_id,
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
        }
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

    /// [`pseudonym`](Self::pseudonym), looked up first in a small cache of
    /// the calling thread's recent numbers: a sender id or the destination
    /// of a message's other segments comes back often, and each HMAC costs
    /// two SHA-256 blocks.
    ///
    /// Privacy: the cache holds numbers as they were given (beside their
    /// pseudonyms) in memory only, [`CACHE_SLOTS`] entries per thread,
    /// each replaced by the next number that maps to its slot; nothing of
    /// it is ever written, logged or printed.
    pub fn pseudonym_cached(&self, number: &[u8]) -> [u8; 16] {
        if number.len() > CACHE_MAX_NUMBER {
            return self.pseudonym(number);
        }
        let slot = slot_of(number);
        let hit = CACHE.try_with(|c| {
            let c = c.borrow();
            let e = &c[slot];
            (e.owner == self.instance && &e.number[..usize::from(e.len)] == number)
                .then_some(e.pseudonym)
        });
        if let Ok(Some(p)) = hit {
            return p;
        }
        let p = self.pseudonym(number);
        let _ = CACHE.try_with(|c| {
            let mut c = c.borrow_mut();
            let e = &mut c[slot];
            e.owner = self.instance;
            e.len = number.len() as u8;
            e.number = [0; CACHE_MAX_NUMBER];
            e.number[..number.len()].copy_from_slice(number);
            e.pseudonym = p;
        });
        p
    }
}

/// One cached pseudonym.
#[derive(Clone, Copy, Default)]
struct Cached {
    /// [`Pseudonymizer::instance`]; 0 = empty.
    owner: u64,
    len: u8,
    number: [u8; CACHE_MAX_NUMBER],
    pseudonym: [u8; 16],
}

thread_local! {
    /// Recent numbers and their pseudonyms, direct-mapped by [`slot_of`].
    static CACHE: RefCell<Box<[Cached; CACHE_SLOTS]>> =
        RefCell::new(Box::new([Cached::default(); CACHE_SLOTS]));
}

/// A number's cache slot: a multiplicative hash of its bytes.
fn slot_of(number: &[u8]) -> usize {
    let mut h = number.len() as u64;
    for &b in number {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    (h >> (64 - CACHE_SLOTS.trailing_zeros())) as usize
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
    fn cached_pseudonyms_equal_computed_ones() {
        let a = Pseudonymizer::new(b"key one");
        let b = Pseudonymizer::new(b"key two");
        let long = [b'7'; CACHE_MAX_NUMBER + 1];
        // Many numbers, so slots are replaced; each asked several times
        // and under both keys, so both hits and misses are checked.
        for round in 0..3 {
            for i in 0..500u32 {
                let n = format!("4477009{i:05}");
                let n = n.as_bytes();
                assert_eq!(a.pseudonym_cached(n), a.pseudonym(n), "round {round}");
                assert_eq!(b.pseudonym_cached(n), b.pseudonym(n), "round {round}");
                assert_eq!(a.pseudonym_cached(n), a.pseudonym(n), "round {round}");
            }
        }
        assert_eq!(a.pseudonym_cached(&long), a.pseudonym(&long));
        assert_eq!(a.pseudonym_cached(b""), a.pseudonym(b""));
        // A prefix of a cached number is another number.
        assert_eq!(a.pseudonym_cached(b"4477"), a.pseudonym(b"4477"));
        assert_eq!(a.pseudonym_cached(b"447"), a.pseudonym(b"447"));
        // A clone shares the key, and so the cache.
        let c = a.clone();
        assert_eq!(c.pseudonym_cached(b"12345"), a.pseudonym(b"12345"));
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
