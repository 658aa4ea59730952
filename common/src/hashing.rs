//! The two bucketing hashes, byte-exact and allocation-free.
//!
//! Both hash the concatenation of several byte slices (`key`, `":"`, `value`)
//! without building the concatenated string, so bucketing a user allocates
//! nothing. `docs/evaluation.md` defines both functions byte for byte; the
//! vector files pin known outputs.
//!
//! - [`fnv1a32`]: FNV-1a, 32 bits (offset basis 2166136261, prime 16777619),
//!   the legacy system's rollout hash (bucketing v1).
//! - [`murmur3_32`]: MurmurHash3 x86 32-bit with seed 0 (bucketing v2), chosen
//!   because it has a public reference implementation, good avalanche (so
//!   different salts give independent assignments) and is a few lines in any
//!   language.

/// Number of buckets in bucketing v1 (weights are whole percents).
pub const V1_BUCKETS: u32 = 100;
/// Number of buckets in bucketing v2 (weights are thousandths of a percent).
pub const V2_BUCKETS: u32 = 100_000;

const FNV_OFFSET_BASIS: u32 = 2_166_136_261;
const FNV_PRIME: u32 = 16_777_619;

/// FNV-1a 32-bit over the concatenation of `parts`.
pub fn fnv1a32(parts: &[&[u8]]) -> u32 {
    let mut hash = FNV_OFFSET_BASIS;
    for part in parts {
        for &byte in *part {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    hash
}

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

#[inline]
fn murmur_mix_k(k: u32) -> u32 {
    k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

/// MurmurHash3 x86 32-bit with seed 0 over the concatenation of `parts`.
///
/// Streams 4-byte little-endian blocks across part boundaries, so the result
/// is identical to hashing the concatenated bytes.
pub fn murmur3_32(parts: &[&[u8]]) -> u32 {
    let mut h: u32 = 0;
    let mut len: usize = 0;
    let mut block = [0u8; 4];
    let mut filled = 0usize;
    for part in parts {
        len += part.len();
        let mut bytes = *part;
        // Complete a block left over from the previous part.
        if filled > 0 {
            let take = (4 - filled).min(bytes.len());
            block[filled..filled + take].copy_from_slice(&bytes[..take]);
            filled += take;
            bytes = &bytes[take..];
            if filled < 4 {
                continue;
            }
            h = murmur_mix_h(h, u32::from_le_bytes(block));
        }
        let mut chunks = bytes.chunks_exact(4);
        for chunk in &mut chunks {
            let k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            h = murmur_mix_h(h, k);
        }
        let rest = chunks.remainder();
        block[..rest.len()].copy_from_slice(rest);
        filled = rest.len();
    }
    if filled > 0 {
        let mut k: u32 = 0;
        for (i, &byte) in block[..filled].iter().enumerate() {
            k |= u32::from(byte) << (8 * i);
        }
        h ^= murmur_mix_k(k);
    }
    // Truncation to 32 bits is part of the reference algorithm.
    h ^= len as u32;
    fmix32(h)
}

#[inline]
fn murmur_mix_h(h: u32, k: u32) -> u32 {
    let h = h ^ murmur_mix_k(k);
    h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
}

#[inline]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// Bucket of `value` for `flag_key` in bucketing v1: FNV-1a-32 over the UTF-8
/// bytes of `flag_key + ":" + value`, modulo 100.
pub fn bucket_v1(flag_key: &str, value: &str) -> u32 {
    fnv1a32(&[flag_key.as_bytes(), b":", value.as_bytes()]) % V1_BUCKETS
}

/// Bucket of `value` with `salt` in bucketing v2: MurmurHash3-x86-32 (seed 0)
/// over the UTF-8 bytes of `salt + ":" + value`, modulo 100,000.
pub fn bucket_v2(salt: &str, value: &str) -> u32 {
    murmur3_32(&[salt.as_bytes(), b":", value.as_bytes()]) % V2_BUCKETS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a32_matches_published_values() {
        // Published FNV-1a 32 test values (the reference implementation's suite).
        assert_eq!(fnv1a32(&[b""]), 0x811c_9dc5);
        assert_eq!(fnv1a32(&[b"a"]), 0xe40c_292c);
        assert_eq!(fnv1a32(&[b"foobar"]), 0xbf9c_f968);
        assert_eq!(fnv1a32(&[b"foo", b"", b"bar"]), 0xbf9c_f968);
    }

    #[test]
    fn murmur3_matches_published_values() {
        // Widely published MurmurHash3_x86_32 outputs with seed 0.
        assert_eq!(murmur3_32(&[b""]), 0);
        assert_eq!(murmur3_32(&[b"hello"]), 0x248b_fa47);
        assert_eq!(murmur3_32(&[b"hello, world"]), 0x149b_bb7f);
        assert_eq!(
            murmur3_32(&[b"The quick brown fox jumps over the lazy dog"]),
            0x2e4f_f723
        );
    }

    #[test]
    fn murmur3_streams_across_part_boundaries() {
        let whole = b"The quick brown fox jumps over the lazy dog";
        for split_a in 0..whole.len() {
            for split_b in split_a..whole.len() {
                let parts: [&[u8]; 3] = [
                    &whole[..split_a],
                    &whole[split_a..split_b],
                    &whole[split_b..],
                ];
                assert_eq!(
                    murmur3_32(&parts),
                    0x2e4f_f723,
                    "split at {split_a},{split_b}"
                );
            }
        }
    }

    proptest::proptest! {
        /// Our streaming implementation agrees with the `murmur3` crate's
        /// reference port on arbitrary bytes, however they are split.
        #[test]
        fn murmur3_agrees_with_the_reference_crate(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            a in 0usize..64,
            b in 0usize..64,
        ) {
            let (a, b) = (a.min(bytes.len()), b.min(bytes.len()));
            let (a, b) = (a.min(b), a.max(b));
            let expected = murmur3::murmur3_32(&mut std::io::Cursor::new(&bytes), 0).unwrap();
            proptest::prop_assert_eq!(murmur3_32(&[&bytes[..a], &bytes[a..b], &bytes[b..]]), expected);
        }
    }

    #[test]
    fn legacy_boundaries() {
        // From ../shared/vectors/rollout_buckets.json.
        assert_eq!(bucket_v1("new-checkout-flow", "user-1"), 86);
        assert_eq!(bucket_v1("new-checkout-flow", ""), 19);
        assert_eq!(bucket_v1("new-checkout-flow", "émilie"), 13);
    }
}
