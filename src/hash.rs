//! Small fixed (unkeyed) hashes shared by the index, the filter's
//! fingerprints and its model features. Their outputs are part of file
//! formats and cross-process comparisons, so they must never change.

/// FNV-1a 64 offset basis: the starting state of [`fnv1a`].
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `bytes`, continuing from state `h` ([`FNV_OFFSET`] to
/// start).
#[inline]
pub(crate) fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    h
}

/// The splitmix64 finaliser: spreads every input bit over the output.
#[inline]
pub(crate) fn splitmix64(v: u64) -> u64 {
    let mut z = v.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An unkeyed [`Hasher`](std::hash::Hasher) for maps whose keys no peer
/// chooses (the gateway's own sequence numbers, names from the config,
/// values in files it wrote): no defence against crafted collisions, and
/// none needed, at a fraction of SipHash's cost.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct MixHasher(u64);

impl std::hash::Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv1a(self.0 ^ FNV_OFFSET, bytes);
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = splitmix64(self.0 ^ u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = splitmix64(self.0 ^ v);
    }
}

/// [`MixHasher`] as a map's `BuildHasher`.
pub(crate) type Mix = std::hash::BuildHasherDefault<MixHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // FNV-1a 64 test vectors.
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(
            fnv1a(fnv1a(FNV_OFFSET, b"fo"), b"o"),
            fnv1a(FNV_OFFSET, b"foo")
        );
        assert_ne!(splitmix64(1), splitmix64(2));
    }
}
