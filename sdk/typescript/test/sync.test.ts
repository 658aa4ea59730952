import assert from "node:assert/strict";
import { test } from "node:test";

import { type SseEvent, SseParser, SyncState, applyMessage, changedFlags } from "../src/index.js";

const flag = (key: string, enabled: boolean) => ({
  flag: { key, kind: "boolean", variations: [{ key: "true", value: true }, { key: "false", value: false }] },
  config: { enabled, off_variation: "false", default: { variation: "true" } },
});

const base = SyncState.fromConfiguration({
  environment: "production",
  epoch: "e1",
  revision: 5,
  flags: [flag("a", true), flag("b", false)],
  segments: [],
});

const message = (revision: number, changes: unknown[], extra: Record<string, unknown> = {}) => ({
  environment: "production",
  epoch: "e1",
  revision,
  base_revision: revision - 1,
  committed_at: "2026-01-01T00:00:00Z",
  changes,
  ...extra,
});

test("§4: the next revision applies; held ones are ignored", () => {
  const next = applyMessage(base, message(6, [{ type: "flag_upserted", flag: flag("b", true) }, { type: "flag_deleted", key: "a" }]));
  assert.equal(next.kind, "updated");
  if (next.kind === "updated") {
    assert.equal(next.state.revision, 6);
    assert.deepEqual([...next.state.flags.keys()], ["b"]);
    assert.deepEqual(next.changedFlags, ["b", "a"]);
    assert.equal(next.state.compiled.flag("b")?.key, "b");
  }
  assert.equal(applyMessage(base, message(5, [])).kind, "already_held");
  assert.equal(applyMessage(base, message(3, [])).kind, "already_held");
  const empty = applyMessage(base, JSON.stringify(message(6, [])));
  assert.ok(empty.kind === "updated" && empty.state.revision === 6 && empty.changedFlags.length === 0);
});

test("§4: each error, in order, means resync", () => {
  const code = (m: unknown) => {
    const outcome = applyMessage(base, m);
    return outcome.kind === "error" ? outcome.error.code : outcome.kind;
  };
  assert.equal(code(message(7, [])), "revision_gap");
  assert.equal(code(message(6, [], { epoch: "e2" })), "epoch_mismatch");
  assert.equal(code(message(6, [], { epoch: "e2", environment: "staging" })), "wrong_environment");
  assert.equal(code(message(6, [], { base_revision: 4 })), "malformed_message");
  assert.equal(code(message(6, [{ type: "flag_renamed" }])), "malformed_message");
  assert.equal(code("{not json"), "malformed_message");
  assert.equal(code(message(6, [{ type: "environment_created" }])), "malformed_message");
  const badFlag = { ...flag("c", true), config: { enabled: true, off_variation: "nope", default: { variation: "true" } } };
  assert.equal(code(message(6, [{ type: "flag_upserted", flag: badFlag }])), "invalid_change");
  assert.equal(code(message(6, [{ type: "environment_deleted" }])), "deleted");
});

test("changedFlags compares configurations", () => {
  const after = SyncState.fromConfiguration({ ...base.toConfiguration(), revision: 6, flags: [flag("a", true), flag("c", true)] });
  assert.deepEqual(changedFlags(base, after).sort(), ["b", "c"]);
  assert.deepEqual(changedFlags(base, base), []);
});

test("the SSE parser handles any chunking and line ending", () => {
  const text = "id: 4\r\nevent: put\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n: ping\n\nretry: 1000\n\nevent: ping\ndata: {}\r\rid: 5\ndata: x\n\n";
  for (const size of [1, 2, 3, 7, text.length]) {
    const events: SseEvent[] = [];
    const retries: number[] = [];
    const parser = new SseParser((e) => events.push(e), (ms) => retries.push(ms));
    for (let i = 0; i < text.length; i += size) {
      parser.push(text.slice(i, i + size));
    }
    assert.deepEqual(events, [
      { event: "put", data: "{\"a\":\n1}", id: "4" },
      { event: "ping", data: "{}", id: undefined },
      { event: "message", data: "x", id: "5" },
    ], `chunks of ${size}`);
    assert.deepEqual(retries, [1000]);
  }
});
