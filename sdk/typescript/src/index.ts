/**
 * Halyard's TypeScript SDK (in progress: the bucketing hashes are done;
 * local evaluation, sync and the OpenFeature providers follow).
 */

export {
  V1_BUCKETS,
  V2_BUCKETS,
  bucketV1,
  bucketV2,
  fnv1a32,
  hashInput,
  inLegacyRollout,
  murmur3_32,
} from "./hashing.js";
