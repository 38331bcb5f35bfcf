//! ESME passwords: argon2id hashes in the config, and a verifier that
//! remembers successful checks so that reconnect storms of thousands of
//! binds do not each cost an argon2 run.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// Hashes `pw` with argon2id (default parameters: 19 MiB, 2 passes) and a
/// random salt, as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`), the
/// form `account.password_hash` takes.
pub fn hash_password(pw: &str) -> String {
    hash_with(&Argon2::default(), pw)
}

fn hash_with(argon: &Argon2<'_>, pw: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 octets is a valid salt length");
    argon
        .hash_password(pw.as_bytes(), &salt)
        .expect("argon2 with valid parameters and salt does not fail")
        .to_string()
}

/// Runs argon2 for a PHC string; `false` also for a malformed hash.
fn argon2_verify(phc: &str, password: &[u8]) -> bool {
    match PasswordHash::new(phc) {
        // The parameters come from the hash itself.
        Ok(hash) => Argon2::default().verify_password(password, &hash).is_ok(),
        Err(_) => false,
    }
}

const SHA256_BLOCK: usize = 64;

/// HMAC-SHA-256 (RFC 2104) over the concatenation of `parts`.
fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; SHA256_BLOCK];
    k[..key.len()].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Compares without an early exit, so timing does not reveal where two
/// tags differ.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Default number of remembered hashes (one per account password).
const DEFAULT_CAPACITY: usize = 65_536;

/// Checks passwords against argon2 PHC strings, remembering successes.
///
/// The cache holds, per PHC string, a keyed hash (HMAC-SHA-256 under a
/// per-process random key) of the PHC string and the password that last
/// matched it, never the password. A bind with that same password is then
/// checked with one HMAC and a constant-time compare. Failures are not
/// cached: every wrong password costs argon2, which the server's failure
/// delay and lockout keep rare. The cache is bounded; when full, an
/// arbitrary entry makes room. Cloning shares the cache.
#[derive(Clone)]
pub struct PasswordVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    key: [u8; 32],
    capacity: usize,
    /// HMAC(key, "phc" ‖ phc) → HMAC(key, "pw" ‖ len(phc) ‖ phc ‖ password).
    cache: Mutex<HashMap<[u8; 32], [u8; 32]>>,
    /// Concurrent argon2 runs in `verify_async` (each takes ~19 MiB).
    argon_permits: Arc<Semaphore>,
}

impl fmt::Debug for PasswordVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordVerifier")
            .field("cached", &self.cached())
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for PasswordVerifier {
    fn default() -> PasswordVerifier {
        PasswordVerifier::new()
    }
}

impl PasswordVerifier {
    /// A verifier remembering up to 65,536 password hashes.
    pub fn new() -> PasswordVerifier {
        PasswordVerifier::with_capacity(DEFAULT_CAPACITY)
    }

    /// A verifier remembering up to `capacity` (at least 1) password hashes.
    pub fn with_capacity(capacity: usize) -> PasswordVerifier {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordVerifier {
            inner: Arc::new(Inner {
                key,
                capacity: capacity.max(1),
                cache: Mutex::new(HashMap::new()),
                argon_permits: Arc::new(Semaphore::new(cpus.clamp(1, 8))),
            }),
        }
    }

    /// Number of remembered hashes.
    pub fn cached(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], [u8; 32]>> {
        // The map stays consistent even if a holder panicked.
        self.inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn slot(&self, phc: &str) -> [u8; 32] {
        hmac_sha256(&self.inner.key, &[b"phc", phc.as_bytes()])
    }

    fn tag(&self, phc: &str, password: &[u8]) -> [u8; 32] {
        let len = (phc.len() as u64).to_be_bytes();
        hmac_sha256(&self.inner.key, &[b"pw", &len, phc.as_bytes(), password])
    }

    fn is_cached(&self, slot: &[u8; 32], tag: &[u8; 32]) -> bool {
        self.lock().get(slot).is_some_and(|t| ct_eq(t, tag))
    }

    fn remember(&self, slot: [u8; 32], tag: [u8; 32]) {
        let mut cache = self.lock();
        if cache.len() >= self.inner.capacity && !cache.contains_key(&slot) {
            if let Some(victim) = cache.keys().next().copied() {
                cache.remove(&victim);
            }
        }
        cache.insert(slot, tag);
    }

    /// Whether `password` matches the PHC string `phc`. Runs argon2 on the
    /// caller's thread unless this pair matched before; async callers use
    /// [`PasswordVerifier::verify_async`].
    pub fn verify(&self, phc: &str, password: &[u8]) -> bool {
        let (slot, tag) = (self.slot(phc), self.tag(phc, password));
        if self.is_cached(&slot, &tag) {
            return true;
        }
        let ok = argon2_verify(phc, password);
        if ok {
            self.remember(slot, tag);
        }
        ok
    }

    /// Like [`PasswordVerifier::verify`], but argon2 runs on tokio's
    /// blocking pool, a few at a time, so binds never stall a runtime
    /// worker and a flood of wrong passwords cannot take all memory.
    pub async fn verify_async(&self, phc: &str, password: &[u8]) -> bool {
        let (slot, tag) = (self.slot(phc), self.tag(phc, password));
        if self.is_cached(&slot, &tag) {
            return true;
        }
        let Ok(_permit) = self.inner.argon_permits.clone().acquire_owned().await else {
            return false;
        };
        let (phc_owned, pw_owned) = (phc.to_owned(), password.to_vec());
        let ok = tokio::task::spawn_blocking(move || argon2_verify(&phc_owned, &pw_owned))
            .await
            .unwrap_or(false);
        if ok {
            self.remember(slot, tag);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters so debug-build tests stay fast; verification reads
    /// the parameters from the hash.
    fn cheap_hash(pw: &str) -> String {
        let params = argon2::Params::new(64, 1, 1, None).unwrap();
        let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        hash_with(&argon, pw)
    }

    #[test]
    fn hmac_known_answer() {
        // RFC 4231 test case 2 uses a 4-octet key; ours is 32 octets, so
        // check against a key zero-padded to 32 (HMAC pads keys with zeros).
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let tag = hmac_sha256(&key, &[b"what do ya want ", b"for nothing?"]);
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn default_hash_is_argon2id_phc() {
        let h = hash_password("s3cret");
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        let parsed = PasswordHash::new(&h).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_ne!(hash_password("s3cret"), h, "salts are random");
    }

    #[test]
    fn verifies_and_caches_only_successes() {
        let v = PasswordVerifier::new();
        let h = cheap_hash("right");
        assert!(!v.verify(&h, b"wrong"));
        assert_eq!(v.cached(), 0);
        assert!(v.verify(&h, b"right"));
        assert_eq!(v.cached(), 1);
        assert!(v.verify(&h, b"right"), "cached path");
        assert!(
            !v.verify(&h, b"wrong"),
            "cache must not admit another password"
        );
        assert!(!v.verify(&h, b"righ"));
        assert!(!v.verify("not a phc string", b"right"));
        // Another hash of the same password is its own entry.
        let h2 = cheap_hash("right");
        assert!(v.verify(&h2, b"right"));
        assert_eq!(v.cached(), 2);
        assert!(!v.verify(&h2, b"wrong"));
    }

    #[test]
    fn cache_is_bounded() {
        let v = PasswordVerifier::with_capacity(3);
        let hashes: Vec<String> = (0..5).map(|i| cheap_hash(&format!("pw{i}"))).collect();
        for (i, h) in hashes.iter().enumerate() {
            assert!(v.verify(h, format!("pw{i}").as_bytes()));
            assert!(v.cached() <= 3);
        }
        assert_eq!(v.cached(), 3);
        // Evicted or not, every pair still verifies.
        for (i, h) in hashes.iter().enumerate() {
            assert!(v.verify(h, format!("pw{i}").as_bytes()));
        }
    }

    #[tokio::test]
    async fn verify_async_matches_verify() {
        let v = PasswordVerifier::new();
        let h = cheap_hash("tok");
        assert!(!v.verify_async(&h, b"nope").await);
        assert!(v.verify_async(&h, b"tok").await);
        assert_eq!(v.cached(), 1);
        assert!(v.verify_async(&h, b"tok").await);
        assert!(v.clone().verify(&h, b"tok"), "clones share the cache");
    }
}
