import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { type EventDetails, OpenFeature, ProviderEvents, ProviderStatus } from "@openfeature/server-sdk";

import { bucketV1 } from "../src/index.js";
import { HalyardProvider } from "../src/openfeature/server.js";
import { HalyardNode, SDK_KEY, WAIT_MS, freshDataDir, removeDir } from "./halyard.js";

const USERS = ["bob", "carol", "dave", "erin", "user-1", "user-42", "émile", "zoë", "李雷", "😀-smile"];

describe("HalyardProvider (OpenFeature server SDK) against a real Halyard node", () => {
  const dataDir = freshDataDir();
  let node: HalyardNode;
  let checkoutId: string;

  const newProvider = (sdkKey = SDK_KEY) =>
    new HalyardProvider({
      baseUrl: node.baseUrl,
      sdkKey,
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
    await OpenFeature.setProviderAndWait(newProvider());
  });

  after(async () => {
    await OpenFeature.close();
    node?.kill();
    await node?.stop();
    removeDir(dataDir);
  });

  it("resolves through the OpenFeature client with variant and reason", async () => {
    const client = OpenFeature.getClient();
    assert.equal(client.providerStatus, ProviderStatus.READY);
    assert.equal(client.metadata.providerMetadata.name, "halyard");
    const targeted = await client.getBooleanDetails("new-checkout", false, { targetingKey: "alice" });
    assert.equal(targeted.value, true);
    assert.equal(targeted.variant, "true");
    assert.equal(targeted.reason, "TARGETING_MATCH");
    assert.equal(targeted.errorCode, undefined);
    for (const user of USERS) {
      const expected = bucketV1("new-checkout", user) < 50;
      const details = await client.getBooleanDetails("new-checkout", !expected, { targetingKey: user });
      assert.equal(details.value, expected, user);
      assert.equal(details.variant, String(expected), user);
      assert.equal(details.reason, "SPLIT", user);
      const server = await node.evaluate("new-checkout", { targetingKey: user });
      assert.deepEqual({ value: details.value, variation: details.variant, reason: details.reason }, server, user);
    }
    assert.equal(await client.getBooleanValue("new-checkout", false, { targetingKey: "alice" }), true);
  });

  it("maps errors to OpenFeature error codes with the default value", async () => {
    const client = OpenFeature.getClient();
    const missing = await client.getBooleanDetails("no-such-flag", true, { targetingKey: "alice" });
    assert.equal(missing.value, true);
    assert.equal(missing.reason, "ERROR");
    assert.equal(missing.errorCode, "FLAG_NOT_FOUND");
    const mismatch = await client.getStringDetails("new-checkout", "fallback", { targetingKey: "alice" });
    assert.equal(mismatch.value, "fallback");
    assert.equal(mismatch.errorCode, "TYPE_MISMATCH");
    const number = await client.getNumberDetails("new-checkout", 7, { targetingKey: "alice" });
    assert.equal(number.value, 7);
    assert.equal(number.errorCode, "TYPE_MISMATCH");
    const object = await client.getObjectDetails("new-checkout", { a: 1 }, { targetingKey: "alice" });
    assert.deepEqual(object.value, { a: 1 });
    assert.equal(object.errorCode, "TYPE_MISMATCH");
    // A rollout needs a targeting key.
    const anonymous = await client.getBooleanDetails("new-checkout", true, {});
    assert.equal(anonymous.value, true);
    assert.equal(anonymous.errorCode, "TARGETING_KEY_MISSING");
  });

  it("emits ConfigurationChanged with flagsChanged after an admin API change", async () => {
    const client = OpenFeature.getClient();
    const outUser = USERS.find((u) => bucketV1("new-checkout", u) >= 50)!;
    assert.equal(await client.getBooleanValue("new-checkout", true, { targetingKey: outUser }), false);
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
    assert.equal(details?.providerName, "halyard");
    assert.equal(await client.getBooleanValue("new-checkout", false, { targetingKey: outUser }), true);
  });

  it("fails setProviderAndWait for a bad key", async () => {
    const provider = newProvider("not-a-real-key");
    await assert.rejects(OpenFeature.setProviderAndWait("bad-key", provider), /401/);
    const client = OpenFeature.getClient("bad-key");
    assert.notEqual(client.providerStatus, ProviderStatus.READY);
    const details = await client.getBooleanDetails("new-checkout", false, { targetingKey: "alice" });
    assert.equal(details.value, false);
    assert.equal(details.reason, "ERROR");
    assert.ok(details.errorCode !== undefined);
  });
});
