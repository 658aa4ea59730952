import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { type EventDetails, OpenFeature, ProviderEvents, ProviderStatus } from "@openfeature/web-sdk";

import { bucketV1 } from "../src/index.js";
import { HalyardWebProvider } from "../src/openfeature/web.js";
import { HalyardNode, WAIT_MS, freshDataDir, removeDir } from "./halyard.js";

const USERS = ["bob", "carol", "dave", "erin", "user-1", "user-42", "émile", "zoë", "李雷", "😀-smile"];

/** OFREP bulk requests' contexts (a spy around the real fetch). */
const ofrepContexts: unknown[] = [];
const spyFetch = (input: string, init?: RequestInit): Promise<Response> => {
  if (input.endsWith("/ofrep/v1/evaluate/flags")) {
    ofrepContexts.push((JSON.parse(String(init?.body)) as { context: unknown }).context);
  }
  return fetch(input, init);
};

describe("HalyardWebProvider (OpenFeature web SDK) against a real Halyard node", () => {
  const dataDir = freshDataDir();
  let node: HalyardNode;
  let checkoutId: string;
  let clientKey: string;

  const newProvider = (key = clientKey) =>
    new HalyardWebProvider({
      baseUrl: node.baseUrl,
      clientKey: key,
      fetch: spyFetch,
      initTimeoutMs: WAIT_MS,
      reconnectDelayMs: 100,
      maxReconnectDelayMs: 1_000,
    });

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
    await OpenFeature.setProviderAndWait(newProvider(), { targetingKey: "alice" });
  });

  after(async () => {
    await OpenFeature.close();
    node?.kill();
    await node?.stop();
    removeDir(dataDir);
  });

  it("resolves for the global context with variant and reason", () => {
    const client = OpenFeature.getClient();
    assert.equal(client.providerStatus, ProviderStatus.READY);
    assert.deepEqual(ofrepContexts[0], { targetingKey: "alice" });
    const details = client.getBooleanDetails("new-checkout", false);
    assert.equal(details.value, true);
    assert.equal(details.variant, "true");
    assert.equal(details.reason, "TARGETING_MATCH");
    assert.equal(details.errorCode, undefined);
    const missing = client.getBooleanDetails("no-such-flag", true);
    assert.equal(missing.value, true);
    assert.equal(missing.reason, "ERROR");
    assert.equal(missing.errorCode, "FLAG_NOT_FOUND");
    const mismatch = client.getStringDetails("new-checkout", "fallback");
    assert.equal(mismatch.value, "fallback");
    assert.equal(mismatch.errorCode, "TYPE_MISMATCH");
  });

  it("re-evaluates on OpenFeature.setContext", async () => {
    const client = OpenFeature.getClient();
    for (const user of USERS) {
      await OpenFeature.setContext({ targetingKey: user });
      assert.deepEqual(ofrepContexts.at(-1), { targetingKey: user });
      const expected = bucketV1("new-checkout", user) < 50;
      const details = client.getBooleanDetails("new-checkout", !expected);
      assert.equal(details.value, expected, user);
      assert.equal(details.variant, String(expected), user);
      assert.equal(details.reason, "SPLIT", user);
    }
  });

  it("emits ConfigurationChanged with flagsChanged after an admin API change", async () => {
    const client = OpenFeature.getClient();
    const outUser = USERS.find((u) => bucketV1("new-checkout", u) >= 50)!;
    await OpenFeature.setContext({ targetingKey: outUser });
    assert.equal(client.getBooleanValue("new-checkout", true), false);
    const changed = new Promise<EventDetails<ProviderEvents.ConfigurationChanged> | undefined>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ConfigurationChanged within ${WAIT_MS} ms`)), WAIT_MS);
      const handler = (details?: EventDetails<ProviderEvents.ConfigurationChanged>) => {
        clearTimeout(timer);
        client.removeHandler(ProviderEvents.ConfigurationChanged, handler);
        resolve(details);
      };
      client.addHandler(ProviderEvents.ConfigurationChanged, handler);
    });
    await node.updateFlag(checkoutId, {
      description: "New checkout flow",
      enabled: true,
      rollout_percentage: 100,
      targeted_users: ["alice"],
    });
    const details = await changed;
    assert.deepEqual(details?.flagsChanged, ["new-checkout"]);
    assert.equal(details?.providerName, "halyard-web");
    assert.equal(client.getBooleanValue("new-checkout", false), true);
  });

  it("fails setProviderAndWait for a bad key", async () => {
    await assert.rejects(OpenFeature.setProviderAndWait("bad-key", newProvider("not-a-real-key")), /401/);
    const client = OpenFeature.getClient("bad-key");
    assert.notEqual(client.providerStatus, ProviderStatus.READY);
    const details = client.getBooleanDetails("new-checkout", false);
    assert.equal(details.value, false);
    assert.equal(details.reason, "ERROR");
  });
});
