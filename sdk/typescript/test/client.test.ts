import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { HalyardClient, HalyardError, bucketV1 } from "../src/index.js";
import { HalyardNode, SDK_KEY, WAIT_MS, eventually, freshDataDir, removeDir, nextChange } from "./halyard.js";

/** ASCII and non-ASCII ids (the old SDK hashed UTF-16 and got the latter wrong). */
const USERS = [
  "bob", "carol", "dave", "erin", "frank", "user-1", "user-2", "user-3", "user-42", "user-1000",
  "émile", "zoë", "José", "Ωmega", "李雷", "韩梅梅", "Müller", "😀-smile", "наталья", "ナオミ",
];

/** Stream requests' Last-Event-ID headers (a spy around the real fetch, not a mock). */
const streamRequests: (string | undefined)[] = [];
const spyFetch = (input: string, init?: RequestInit): Promise<Response> => {
  if (input.includes("/api/client/stream")) {
    streamRequests.push((init?.headers as Record<string, string> | undefined)?.["Last-Event-ID"]);
  }
  return fetch(input, init);
};

const newClient = (node: HalyardNode, sdkKey = SDK_KEY) =>
  new HalyardClient({
    baseUrl: node.baseUrl,
    sdkKey,
    fetch: spyFetch,
    initTimeoutMs: WAIT_MS,
    reconnectDelayMs: 100,
    maxReconnectDelayMs: 1_000,
  });


function nextEvent(client: HalyardClient, event: "stale" | "error"): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} event within ${WAIT_MS} ms`));
    }, WAIT_MS);
    const off = client.on(event, () => {
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

describe("HalyardClient against a real Halyard node", () => {
  const dataDir = freshDataDir();
  let node: HalyardNode;
  let client: HalyardClient;
  const clients: HalyardClient[] = [];
  let checkoutId: string;

  before(async () => {
    node = await HalyardNode.start(dataDir);
    checkoutId = await node.createFlag({
      key: "new-checkout",
      description: "New checkout flow",
      enabled: true,
      rollout_percentage: 50,
      targeted_users: ["alice", "zoë-targeted"],
    });
    await node.waitUntilServed("new-checkout");
    client = newClient(node);
    clients.push(client);
    await client.init();
  });

  after(async () => {
    for (const c of clients) {
      c.close();
    }
    node?.kill();
    await node?.stop();
    removeDir(dataDir);
  });

  it("evaluates targeted and rollout users like bucketV1 and the server", async () => {
    assert.equal(client.initialized, true);
    for (const user of ["alice", "zoë-targeted"]) {
      assert.equal(client.isEnabled("new-checkout", user), true, user);
      const detail = client.boolVariationDetail("new-checkout", { targetingKey: user }, false);
      assert.deepEqual(detail, { value: true, variation: "true", reason: "TARGETING_MATCH" });
    }
    const outcomes = new Set<boolean>();
    for (const user of USERS) {
      const expected = bucketV1("new-checkout", user) < 50;
      outcomes.add(expected);
      assert.equal(client.isEnabled("new-checkout", user), expected, `isEnabled for ${user}`);
      assert.equal(client.isEnabled("new-checkout", { userId: user }), expected, `isEnabled({userId}) for ${user}`);
      const detail = client.boolVariationDetail("new-checkout", user, !expected);
      assert.deepEqual(detail, { value: expected, variation: String(expected), reason: "SPLIT" }, user);
      const server = await node.evaluate("new-checkout", { targetingKey: user });
      assert.deepEqual({ value: detail.value, variation: detail.variation, reason: detail.reason }, server, `server for ${user}`);
    }
    assert.equal(outcomes.size, 2, "the users should fall on both sides of the rollout");
    const all = client.allFlags("alice");
    assert.deepEqual(Object.keys(all), ["new-checkout"]);
    assert.equal(all["new-checkout"]?.value, true);
  });

  it("returns the default with FLAG_NOT_FOUND or TYPE_MISMATCH, never throwing", () => {
    assert.deepEqual(client.boolVariationDetail("no-such-flag", "alice", true), {
      value: true,
      reason: "ERROR",
      errorCode: "FLAG_NOT_FOUND",
    });
    assert.equal(client.isEnabled("no-such-flag", "alice"), false);
    assert.deepEqual(client.stringVariationDetail("new-checkout", "alice", "fallback"), {
      value: "fallback",
      reason: "ERROR",
      errorCode: "TYPE_MISMATCH",
    });
    assert.equal(client.numberVariation("new-checkout", "alice", 7), 7);
    assert.deepEqual(client.jsonVariationDetail("new-checkout", "alice", { a: 1 }), {
      value: { a: 1 },
      reason: "ERROR",
      errorCode: "TYPE_MISMATCH",
    });
    assert.equal(client.stringVariation("no-such-flag", "alice", "d"), "d");
    // Not a context: the default, INVALID_CONTEXT.
    assert.deepEqual(client.boolVariationDetail("new-checkout", { targetingKey: 5 }, true), {
      value: true,
      reason: "ERROR",
      errorCode: "INVALID_CONTEXT",
    });
    assert.equal(client.isEnabled("new-checkout", { targetingKey: 5 }), false);
  });

  it("receives admin API changes over the stream", async () => {
    const outUser = USERS.find((u) => bucketV1("new-checkout", u) >= 50)!;
    assert.equal(client.isEnabled("new-checkout", outUser), false);
    const changed = nextChange(client, "new-checkout");
    await node.updateFlag(checkoutId, {
      description: "New checkout flow",
      enabled: true,
      rollout_percentage: 100,
      targeted_users: [],
    });
    const event = await changed;
    assert.ok(event.revision !== undefined && event.revision > 0);
    assert.equal(client.isEnabled("new-checkout", outUser), true);

    const created = nextChange(client, "dark-mode");
    await node.createFlag({
      key: "dark-mode",
      description: "Dark mode",
      enabled: false,
      rollout_percentage: 0,
      targeted_users: [],
    });
    await created;
    assert.deepEqual(client.boolVariationDetail("dark-mode", "bob", true), {
      value: false,
      variation: "false",
      reason: "DISABLED",
    });
  });

  it("reconnects and catches up after the node restarts on the same port", async () => {
    const port = node.port;
    const stale = nextEvent(client, "stale");
    await node.stop();
    await stale;
    assert.equal(client.stale, true);
    // Still serving what it holds.
    assert.equal(client.isEnabled("new-checkout", "anyone"), true);

    const heldRevision = client.revision;
    const before = streamRequests.length;
    node = await HalyardNode.start(dataDir, `127.0.0.1:${port}`);
    assert.equal(node.port, port);
    const changed = nextChange(client, "new-checkout");
    await node.updateFlag(checkoutId, {
      description: "New checkout flow",
      enabled: true,
      rollout_percentage: 0,
      targeted_users: ["carol"],
    });
    await changed;
    await eventually("the stream to reconnect", () => !client.stale);
    // Reconnections resume from the revision held.
    assert.ok(streamRequests.length > before);
    assert.equal(streamRequests[before], String(heldRevision));
    assert.equal(client.isEnabled("new-checkout", "anyone"), false);
    assert.equal(client.isEnabled("new-checkout", "carol"), true);
    assert.equal(client.revision, Number((await fetch(`${node.baseUrl}/api/client/flags?format=full`, {
      headers: { "X-SDK-Key": SDK_KEY },
    })).headers.get("x-halyard-revision")));
  });

  it("rejects init with a clear error for a bad key", async () => {
    const bad = newClient(node, "not-a-real-key");
    clients.push(bad);
    const errors: Error[] = [];
    bad.on("error", (error) => errors.push(error));
    await assert.rejects(bad.init(), (error: unknown) => {
      assert.ok(error instanceof HalyardError, String(error));
      assert.equal(error.status, 401);
      assert.equal(error.code, "unauthorized");
      assert.match(error.message, /401/);
      assert.match(error.message, /unauthorized/);
      assert.match(error.message, /SDK key/);
      return true;
    });
    assert.equal(errors.length, 1);
    assert.equal(bad.initialized, false);
    assert.deepEqual(bad.boolVariationDetail("new-checkout", "carol", false), {
      value: false,
      reason: "ERROR",
      errorCode: "PROVIDER_NOT_READY",
    });
  });

  it("starts offline from a bootstrap configuration", async () => {
    const saved = client.configuration();
    assert.ok(saved !== undefined);
    const offline = new HalyardClient({
      baseUrl: "http://127.0.0.1:1",
      sdkKey: SDK_KEY,
      bootstrap: JSON.stringify(saved),
      initTimeoutMs: WAIT_MS,
      reconnectDelayMs: 100,
      maxReconnectDelayMs: 1_000,
    });
    clients.push(offline);
    await offline.init();
    assert.equal(offline.initialized, true);
    assert.equal(offline.isEnabled("new-checkout", "carol"), true);
    assert.equal(offline.isEnabled("new-checkout", "anyone"), false);
    offline.close();
  });

  it("polls with If-None-Match while the stream is unavailable", async () => {
    // The real fetch, except that the stream always answers 503.
    const polls: { ifNoneMatch: string | undefined; status: number }[] = [];
    const noStream = async (input: string, init?: RequestInit): Promise<Response> => {
      if (input.includes("/api/client/stream")) {
        return new Response(null, { status: 503 });
      }
      const response = await fetch(input, init);
      if (input.includes("/api/client/flags")) {
        polls.push({ ifNoneMatch: (init?.headers as Record<string, string> | undefined)?.["If-None-Match"], status: response.status });
      }
      return response;
    };
    const polling = new HalyardClient({
      baseUrl: node.baseUrl,
      sdkKey: SDK_KEY,
      fetch: noStream,
      initTimeoutMs: WAIT_MS,
      reconnectDelayMs: 100,
      maxReconnectDelayMs: 1_000,
      pollIntervalMs: 100,
    });
    clients.push(polling);
    polling.on("error", () => {}); // the refused stream, at every reconnection
    await polling.init();
    await eventually("the client to go stale", () => polling.stale);
    await eventually("a poll answered 304", () =>
      polls.some((p) => p.status === 304 && p.ifNoneMatch !== undefined),
    );

    const created = nextChange(polling, "polled-flag");
    await node.createFlag({
      key: "polled-flag",
      description: "Reaches the client by polling",
      enabled: true,
      rollout_percentage: 100,
      targeted_users: [],
    });
    const event = await created;
    assert.equal(event.revision, polling.revision);
    assert.equal(polling.stale, true);
    assert.equal(polling.isEnabled("polled-flag", "anyone"), true);

    polling.close();
    const after = polls.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(polls.length, after, "no polling after close()");
  });

  it("reports a revoked key as a 401 and keeps serving what it holds", async () => {
    const { plaintext, id } = await node.createKeyWithId("revoked-server", "server");
    const revoked = new HalyardClient({
      baseUrl: node.baseUrl,
      sdkKey: plaintext,
      initTimeoutMs: WAIT_MS,
      reconnectDelayMs: 100,
      maxReconnectDelayMs: 1_000,
    });
    clients.push(revoked);
    const errors: Error[] = [];
    revoked.on("error", (error) => errors.push(error));
    await revoked.init();
    const before = revoked.allFlags("carol");
    assert.ok(Object.keys(before).length > 0);
    assert.equal(revoked.isEnabled("new-checkout", "carol"), true);

    await node.revokeKey(id);
    await eventually("a 401 error event", () =>
      errors.some((error) => error instanceof HalyardError && error.status === 401),
    );
    const refused = errors.find((error) => error instanceof HalyardError && error.status === 401) as HalyardError;
    assert.ok(refused.isAuthError);
    assert.match(refused.message, /401/);
    assert.match(refused.message, /SDK key/);
    // Evaluation still runs on the configuration held.
    assert.equal(revoked.initialized, true);
    assert.deepEqual(revoked.allFlags("carol"), before);
    assert.equal(revoked.isEnabled("new-checkout", "carol"), true);
    revoked.close();
  });
});
