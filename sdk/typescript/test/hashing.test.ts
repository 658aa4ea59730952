import assert from "node:assert/strict";
import { test } from "node:test";

import {
  bucketV1,
  bucketV2,
  fnv1a32,
  hashInput,
  inLegacyRollout,
  murmur3_32,
} from "../src/hashing.js";
import { hex, vectors } from "./vectors.js";

const ascii = (s: string) => new TextEncoder().encode(s);

test("the published checks of both hashes", () => {
  assert.equal(fnv1a32(ascii("")), 0x811c9dc5);
  assert.equal(fnv1a32(ascii("a")), 0xe40c292c);
  assert.equal(fnv1a32(ascii("foobar")), 0xbf9cf968);
  assert.equal(murmur3_32(ascii("")), 0);
  assert.equal(murmur3_32(ascii("hello")), 0x248bfa47);
  assert.equal(murmur3_32(ascii("hello, world")), 0x149bbb7f);
  assert.equal(murmur3_32(ascii("The quick brown fox jumps over the lazy dog")), 0x2e4ff723);
});

interface BucketCase {
  version: "v1" | "v2";
  key: string;
  value: string;
  input_utf8_hex: string;
  hash: number;
  bucket: number;
}

test("every row of bucketing.json", () => {
  const { cases } = vectors<{ cases: BucketCase[] }>("bucketing.json");
  assert.ok(cases.length > 0);
  for (const c of cases) {
    const input = hashInput(c.key, c.value);
    const label = `${c.version} ${JSON.stringify(c.key)} ${JSON.stringify(c.value)}`;
    assert.equal(hex(input), c.input_utf8_hex, label);
    if (c.version === "v1") {
      assert.equal(fnv1a32(input), c.hash, label);
      assert.equal(bucketV1(c.key, c.value), c.bucket, label);
    } else {
      assert.equal(murmur3_32(input), c.hash, label);
      assert.equal(bucketV2(c.key, c.value), c.bucket, label);
    }
  }
});

interface RolloutCase {
  flag_key: string;
  user_id: string;
  input_utf8_hex: string;
  fnv1a32: number;
  bucket: number;
}

test("every row of rollout_buckets.json, the old system's rule", () => {
  const { cases } = vectors<{ cases: RolloutCase[] }>("rollout_buckets.json");
  assert.ok(cases.length > 0);
  for (const c of cases) {
    const label = `${c.flag_key} ${JSON.stringify(c.user_id)}`;
    assert.equal(hex(hashInput(c.flag_key, c.user_id)), c.input_utf8_hex, label);
    assert.equal(fnv1a32(hashInput(c.flag_key, c.user_id)), c.fnv1a32, label);
    assert.equal(bucketV1(c.flag_key, c.user_id), c.bucket, label);
    assert.equal(inLegacyRollout(c.flag_key, c.user_id, c.bucket), false, label);
    assert.equal(inLegacyRollout(c.flag_key, c.user_id, c.bucket + 1), true, label);
    assert.equal(inLegacyRollout(c.flag_key, c.user_id, 0), false, label);
    assert.equal(inLegacyRollout(c.flag_key, c.user_id, 100), true, label);
  }
});

test("non-ASCII ids hash their UTF-8 bytes, not UTF-16 code units", () => {
  // What the old SDK did: one "byte" per UTF-16 code unit.
  const codeUnits = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
  const { cases } = vectors<{ cases: RolloutCase[] }>("rollout_buckets.json");
  const nonAscii = cases.filter((c) => /[^\x00-\x7f]/.test(c.user_id));
  assert.ok(nonAscii.length > 0, "the vectors include non-ASCII ids");
  const differing = nonAscii.filter(
    (c) => fnv1a32(codeUnits(`${c.flag_key}:${c.user_id}`)) % 100 !== c.bucket,
  );
  assert.ok(differing.length > 0, "code-unit hashing disagrees with the server somewhere");
  for (const c of nonAscii) {
    assert.equal(bucketV1(c.flag_key, c.user_id), c.bucket, c.user_id);
  }
});
