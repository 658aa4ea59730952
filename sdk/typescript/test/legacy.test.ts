/**
 * `isEnabled` against the old SDK's rule on legacy flags: the same answer
 * for every ASCII id, and the server's (UTF-8) answer where the old SDK,
 * hashing UTF-16 code units, got non-ASCII ids wrong.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import { HalyardClient, bucketV1 } from "../src/index.js";
import { vectors } from "./vectors.js";

/** The old TypeScript SDK's isEnabled: FNV-1a over UTF-16 code units. */
function oldIsEnabled(
  flag: { key: string; enabled: boolean; rollout_percentage: number; targeted_users: string[] },
  userId: string,
): boolean {
  if (!flag.enabled) {
    return false;
  }
  if (flag.targeted_users.includes(userId)) {
    return true;
  }
  let hash = 0x811c9dc5;
  const input = `${flag.key}:${userId}`;
  for (let i = 0; i < input.length; i++) {
    hash ^= input.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % 100 < flag.rollout_percentage;
}

/** A legacy flag in the full model (docs/evaluation.md §8.1). */
function legacyFlag(key: string, percentage: number, targeted: string[], enabled = true) {
  return {
    flag: {
      key,
      description: "",
      kind: "boolean" as const,
      variations: [
        { key: "true", value: true },
        { key: "false", value: false },
      ],
      tags: [],
      version: 0,
    },
    config: {
      enabled,
      off_variation: "false",
      targets: [{ variation: "true", values: targeted }],
      rules: [],
      default: {
        rollout: {
          bucketing: "v1" as const,
          weights: [
            { variation: "true", weight: percentage },
            { variation: "false", weight: 100 - percentage },
          ],
        },
      },
      prerequisites: [],
      version: 0,
    },
  };
}

interface RolloutCase {
  flag_key: string;
  user_id: string;
  bucket: number;
}

test("isEnabled on legacy flags: the old SDK's answer for ASCII ids, the server's for the rest", async () => {
  const { cases } = vectors<{ cases: RolloutCase[] }>("rollout_buckets.json");
  const keys = [...new Set(cases.map((c) => c.flag_key))];
  const percentages = [0, 1, 25, 50, 99, 100];
  const flags = keys.flatMap((key) =>
    percentages.map((p) => ({ key: `${key}-${p}`, base: key, p })),
  );
  const client = new HalyardClient({
    baseUrl: "http://127.0.0.1:9",
    sdkKey: "unused",
    bootstrap: {
      environment: "production",
      epoch: "e1",
      revision: 1,
      flags: [
        ...flags.map((f) => legacyFlag(f.key, f.p, ["targeted-user"])),
        legacyFlag("switched-off", 100, ["targeted-user"], false),
      ],
      segments: [],
    },
    initTimeoutMs: 1,
    reconnectDelayMs: 60_000,
  });
  try {
    await client.init();
    let ascii = 0;
    let differs = 0;
    for (const c of cases) {
      for (const p of percentages) {
        const key = `${c.flag_key}-${p}`;
        const ours = client.isEnabled(key, c.user_id);
        // Our flag key has a suffix, so the server's answer is its own bucket.
        assert.equal(ours, bucketV1(key, c.user_id) < p, `${key} ${c.user_id}`);
        const old = oldIsEnabled({ key, enabled: true, rollout_percentage: p, targeted_users: [] }, c.user_id);
        if (/^[\x00-\x7f]*$/.test(c.user_id)) {
          ascii++;
          assert.equal(ours, old, `ASCII ${JSON.stringify(c.user_id)} on ${key}`);
        } else if (ours !== old) {
          differs++;
        }
      }
      assert.equal(client.isEnabled(`${c.flag_key}-50`, "targeted-user"), true);
      assert.equal(client.isEnabled("switched-off", c.user_id), false);
    }
    assert.ok(ascii > 100, `only ${ascii} ASCII checks`);
    assert.ok(differs > 0, "the old SDK's UTF-16 hashing disagrees somewhere on non-ASCII ids");
  } finally {
    client.close();
  }
});
