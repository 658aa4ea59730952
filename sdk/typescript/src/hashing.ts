/**
 * The byte-exact bucketing hashes of `docs/evaluation.md` §6, over the
 * UTF-8 bytes of `key + ":" + value` (never UTF-16 code units: the old SDK
 * hashed code units and disagreed with its own server for non-ASCII ids).
 *
 * - v1 (legacy rollouts): FNV-1a 32-bit, 100 buckets.
 * - v2: MurmurHash3 x86 32-bit with seed 0, 100,000 buckets.
 *
 * Browser-safe: only `TextEncoder`.
 */

const encoder = new TextEncoder();

/** Buckets of a v1 rollout (weights in whole percent). */
export const V1_BUCKETS = 100;
/** Buckets of a v2 rollout (weights in thousandths of a percent). */
export const V2_BUCKETS = 100_000;

/** The hashed bytes: UTF-8 of `key + ":" + value`. */
export function hashInput(key: string, value: string): Uint8Array {
  return encoder.encode(`${key}:${value}`);
}

/** FNV-1a 32-bit (XOR, then multiply), unsigned. */
export function fnv1a32(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function rotl32(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** MurmurHash3 x86 32-bit, seed 0, unsigned. */
export function murmur3_32(bytes: Uint8Array): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let hash = 0;
  const blocks = bytes.length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const at = i * 4;
    let k =
      (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
    k = Math.imul(k, c1);
    k = rotl32(k, 15);
    k = Math.imul(k, c2);
    hash ^= k;
    hash = rotl32(hash, 13);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  const left = bytes.length - tail;
  if (left > 0) {
    let k = 0;
    for (let j = 0; j < left; j++) {
      k |= bytes[tail + j]! << (8 * j);
    }
    k = Math.imul(k, c1);
    k = rotl32(k, 15);
    k = Math.imul(k, c2);
    hash ^= k;
  }
  hash ^= bytes.length;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** The v1 bucket, in [0, 100): the legacy rollout's (in when `< percentage`). */
export function bucketV1(flagKey: string, value: string): number {
  return fnv1a32(hashInput(flagKey, value)) % V1_BUCKETS;
}

/** The v2 bucket, in [0, 100000); `salt` defaults to the flag key. */
export function bucketV2(salt: string, value: string): number {
  return murmur3_32(hashInput(salt, value)) % V2_BUCKETS;
}

/**
 * The legacy rule: a user is in a rollout of `percentage` percent when its
 * v1 bucket is below it (never at 0, always at 100).
 */
export function inLegacyRollout(flagKey: string, userId: string, percentage: number): boolean {
  return bucketV1(flagKey, userId) < percentage;
}
