import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { HalyardBrowserClient, HalyardError, bucketV1 } from "../src/index.js";
import { HalyardNode, WAIT_MS, freshDataDir, removeDir, nextChange } from "./halyard.js";

const USERS = ["bob", "carol", "dave", "erin", "user-1", "user-42", "émile", "zoë", "李雷", "😀-smile"];

/** Every OFREP bulk request: its conditional header, the context sent and the status (a spy around the real fetch). */
interface OfrepCall {
  readonly ifNoneMatch: string | undefined;
  readonly context: unknown;
  readonly status: number;
}
const ofrepCalls: OfrepCall[] = [];
const spyFetch = async (input: string, init?: RequestInit): Promise<Response> => {
  const response = await fetch(input, init);
  if (input.endsWith("/ofrep/v1/evaluate/flags")) {
    const headers = (init?.headers ?? {}) as Record<string, string>;
    ofrepCalls.push({
      ifNoneMatch: headers["If-None-Match"],
      context: (JSON.parse(String(init?.body)) as { context: unknown }).context,
      status: response.status,
    });
  }
  return response;
};


describe("HalyardBrowserClient (client mode, OFREP) against a real Halyard node", () => {
  const dataDir = freshDataDir();
  let node: HalyardNode;
  let clientKey: string;
  let checkoutId: string;
  const clients: HalyardBrowserClient[] = [];

  const newClient = (context: string | Record<string, unknown>, key = clientKey) => {
    const client = new HalyardBrowserClient({
      baseUrl: node.baseUrl,
      clientKey: key,
      context,
      fetch: spyFetch,
      initTimeoutMs: WAIT_MS,
      reconnectDelayMs: 100,
      maxReconnectDelayMs: 1_000,
    });
    clients.push(client);
    return client;
  };

  before(async () => {
    node = await HalyardNode.start(dataDir);
    checkoutId = await node.createFlag({
      key: "new-checkout",
      description: "New checkout flow",
      enabled: true,
      rollout_percentage: 50,
      targeted_users: ["alice"],
    });
    await node.waitUntilServed("new-checkout");
    clientKey = await node.createKey("web");
  });

  after(async () => {
    for (const client of clients) {
      client.close();
    }
    node?.kill();
    await node?.stop();
    removeDir(dataDir);
  });

  it("serves the edge's values, and PROVIDER_NOT_READY before init", async () => {
    const client = newClient({ targetingKey: "alice" });
    assert.deepEqual(client.boolVariationDetail("new-checkout", false), {
      value: false,
      reason: "ERROR",
      errorCode: "PROVIDER_NOT_READY",
    });
    let ready = false;
    client.on("ready", () => {
      ready = true;
    });
    await client.init();
    assert.equal(ready, true);
    assert.equal(client.initialized, true);
    assert.deepEqual(client.boolVariationDetail("new-checkout", false), {
      value: true,
      variation: "true",
      reason: "TARGETING_MATCH",
    });
    assert.equal(client.boolVariation("new-checkout", false), true);
    const all = client.allFlags();
    assert.deepEqual(Object.keys(all), ["new-checkout"]);
    assert.equal(all["new-checkout"]?.value, true);
    assert.ok(client.revision !== undefined && client.revision > 0);
  });

  it("returns the default with FLAG_NOT_FOUND or TYPE_MISMATCH, never throwing", async () => {
    const client = newClient("alice");
    await client.init();
    assert.deepEqual(client.boolVariationDetail("no-such-flag", true), {
      value: true,
      reason: "ERROR",
      errorCode: "FLAG_NOT_FOUND",
    });
    assert.deepEqual(client.stringVariationDetail("new-checkout", "fallback"), {
      value: "fallback",
      reason: "ERROR",
      errorCode: "TYPE_MISMATCH",
    });
    assert.equal(client.numberVariation("new-checkout", 7), 7);
    assert.deepEqual(client.jsonVariationDetail("new-checkout", { a: 1 }), {
      value: true,
      variation: "true",
      reason: "TARGETING_MATCH",
    });
  });

  it("setContext refetches and matches the server and bucketV1 for every user", async () => {
    const client = newClient({ targetingKey: USERS[0]! });
    await client.init();
    const outcomes = new Set<boolean>();
    for (const user of USERS) {
      const before = ofrepCalls.length;
      await client.setContext({ targetingKey: user });
      assert.ok(ofrepCalls.length > before || user === USERS[0], `a refetch for ${user}`);
      if (user !== USERS[0]) {
        assert.deepEqual(ofrepCalls.at(-1)?.context, { targetingKey: user });
        assert.equal(ofrepCalls.at(-1)?.ifNoneMatch, undefined, "a new context is not a conditional request");
      }
      const expected = bucketV1("new-checkout", user) < 50;
      outcomes.add(expected);
      const detail = client.boolVariationDetail("new-checkout", !expected);
      assert.deepEqual(detail, { value: expected, variation: String(expected), reason: "SPLIT" }, user);
      const server = await node.evaluate("new-checkout", { targetingKey: user });
      assert.deepEqual({ value: detail.value, variation: detail.variation, reason: detail.reason }, server, user);
    }
    assert.equal(outcomes.size, 2, "the users should fall on both sides of the rollout");

    // Switching to a user on the other side emits a change.
    const inUser = USERS.find((u) => bucketV1("new-checkout", u) < 50)!;
    const outUser = USERS.find((u) => bucketV1("new-checkout", u) >= 50)!;
    await client.setContext(inUser);
    const changed = nextChange(client, "new-checkout");
    await client.setContext(outUser);
    await changed;
    assert.equal(client.boolVariation("new-checkout", true), false);
    // The same context again fetches nothing.
    const count = ofrepCalls.length;
    await client.setContext({ targetingKey: outUser });
    assert.equal(ofrepCalls.length, count);
  });

  it("keeps its cache on a 304 for a conditional request", async () => {
    const client = newClient("alice");
    await client.init();
    const before = ofrepCalls.length;
    await client.refresh();
    const call = ofrepCalls[before];
    assert.ok(call !== undefined, "refresh() sent a request");
    assert.match(call.ifNoneMatch ?? "", /^".+"$/, "with the ETag held");
    assert.equal(call.status, 304);
    assert.deepEqual(client.boolVariationDetail("new-checkout", false), {
      value: true,
      variation: "true",
      reason: "TARGETING_MATCH",
    });
  });

  it("refetches and emits change when the environment changes through the admin API", async () => {
    const outUser = USERS.find((u) => bucketV1("new-checkout", u) >= 50)!;
    const client = newClient(outUser);
    await client.init();
    assert.equal(client.boolVariation("new-checkout", true), false);
    const revision = client.revision!;
    const before = ofrepCalls.length;
    const changed = nextChange(client, "new-checkout");
    await node.updateFlag(checkoutId, {
      description: "New checkout flow",
      enabled: true,
      rollout_percentage: 100,
      targeted_users: ["alice"],
    });
    const event = await changed;
    assert.ok(event.revision !== undefined && event.revision > revision);
    assert.equal(client.boolVariation("new-checkout", false), true);
    assert.deepEqual(client.boolVariationDetail("new-checkout", false).reason, "SPLIT");
    // The refetch was conditional (the ETag of the old revision) and got a new answer.
    const refetch = ofrepCalls.slice(before).find((c) => c.status === 200);
    assert.ok(refetch !== undefined);
    assert.ok(refetch.ifNoneMatch !== undefined);

    const created = nextChange(client, "dark-mode");
    await node.createFlag({
      key: "dark-mode",
      description: "Dark mode",
      enabled: false,
      rollout_percentage: 0,
      targeted_users: [],
    });
    await created;
    assert.deepEqual(client.boolVariationDetail("dark-mode", true), {
      value: false,
      variation: "false",
      reason: "DISABLED",
    });
  });

  it("rejects init with a clear error for a bad key", async () => {
    const bad = newClient("alice", "not-a-real-key");
    const errors: Error[] = [];
    bad.on("error", (error) => errors.push(error));
    await assert.rejects(bad.init(), (error: unknown) => {
      assert.ok(error instanceof HalyardError, String(error));
      assert.equal(error.status, 401);
      assert.equal(error.code, "unauthorized");
      assert.match(error.message, /401/);
      assert.match(error.message, /unauthorized/);
      return true;
    });
    assert.equal(errors.length, 1);
    assert.equal(bad.initialized, false);
    assert.deepEqual(bad.boolVariationDetail("new-checkout", false), {
      value: false,
      reason: "ERROR",
      errorCode: "PROVIDER_NOT_READY",
    });
  });
});

describe("HalyardBrowserClient.setContext", () => {
  it("rejects a context that is not JSON instead of throwing", async () => {
    const client = new HalyardBrowserClient({
      baseUrl: "http://127.0.0.1:9",
      clientKey: "unused",
      context: { targetingKey: "bob" },
    });
    const cyclic: Record<string, unknown> = { targetingKey: "carol" };
    cyclic["self"] = cyclic;
    await assert.rejects(client.setContext(cyclic as never), /not JSON/);
    client.close();
  });
});
