// The dashboard end to end: headless Chromium against a real all-in-one
// node. Each step prints the time it took; every wait is bounded by WAIT_MS.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ADMIN_KEY, Node, launchBrowser, openPage, screenshot, signIn, step } from "./harness.js";

const FLAG = "checkout-redesign";

describe("dashboard", () => {
  let node: Node;
  let browser: Browser;
  let admin: { context: BrowserContext; page: Page };
  let watcher: { context: BrowserContext; page: Page };

  before(async () => {
    node = await Node.start();
    browser = await launchBrowser();
    // A few flags besides the one the tests drive, as a real list has.
    const seeds = [
      { key: "dark-mode", kind: "boolean", description: "Dark theme for the web app", tags: ["web", "ui"] },
      { key: "search-v2", kind: "boolean", description: "New search backend", tags: ["backend"] },
      { key: "pricing-page", kind: "string", description: "Pricing page experiment", tags: ["growth"],
        variations: [{ key: "control", value: "classic" }, { key: "compact", value: "compact" }] },
    ];
    for (const seed of seeds) {
      const created = await node.api("POST", "/api/admin/flag-definitions", seed);
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
  });

  after(async () => {
    await browser?.close();
    node?.stop();
  });

  it("signs in with an admin token kept in an HttpOnly, SameSite=Strict cookie the page cannot read", async () => {
    admin = await openPage(browser, node);
    const { page, context } = admin;
    await screenshot(page, "sign-in");
    await step("a wrong token is refused", async () => {
      await page.getByLabel("Admin token").fill("hal_adm_not-a-real-token");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByText("not a valid admin token").waitFor();
    });
    await step("sign in", () => signIn(page, ADMIN_KEY));
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "halyard_session");
    assert.ok(session, `a session cookie in ${JSON.stringify(cookies)}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Strict");
    assert.notEqual(session.value, ADMIN_KEY);
    assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read the session");
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert.ok(!stored.includes(ADMIN_KEY), "the token is not kept in web storage");
    // A reload keeps the session.
    await page.reload();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
  });

  it("creates a flag from the list", async () => {
    const { page } = admin;
    await page.goto("/flags?env=production");
    await step("create", async () => {
      await page.getByRole("button", { name: "New flag" }).click();
      const dialog = page.getByRole("dialog");
      await dialog.getByRole("textbox", { name: "Key", exact: true }).fill(FLAG);
      await dialog.getByRole("button", { name: "Create flag" }).click();
      await page.waitForURL(new RegExp(`/flags/${FLAG}`));
    });
    const stored = await node.api<{ key: string }>("GET", `/api/admin/flag-definitions/${FLAG}`);
    assert.equal(stored.status, 200, JSON.stringify(stored.body));
  });

  it("toggles it in the list, and a second browser sees the change live", async () => {
    watcher = await openPage(browser, node);
    await signIn(watcher.page, ADMIN_KEY);
    await watcher.page.goto("/flags?env=production");
    const watched = watcher.page.getByRole("switch", { name: `Toggle ${FLAG}` });
    await watched.waitFor();
    assert.equal(await watched.isChecked(), false);

    const { page } = admin;
    await page.goto("/flags?env=production");
    const toggle = page.getByRole("switch", { name: `Toggle ${FLAG}` });
    await step("toggle on", async () => {
      await toggle.click({ force: true });
      await page.waitForFunction(
        (key) => (document.querySelector(`[aria-label="Toggle ${key}"]`) as HTMLInputElement | null)?.checked === true,
        FLAG,
      );
    });
    await step("the other browser shows it on, without a reload", () =>
      watcher.page.waitForFunction(
        (key) => (document.querySelector(`[aria-label="Toggle ${key}"]`) as HTMLInputElement | null)?.checked === true,
        FLAG,
      ),
    );
    const config = await node.api<{ config: { enabled: boolean } }>("GET", `/api/admin/environments/production/flags/${FLAG}`);
    assert.equal(config.body.config.enabled, true, JSON.stringify(config.body));
  });

  it("adds a rule and a weighted rollout in the editor", async () => {
    const { page } = admin;
    await page.goto(`/flags/${FLAG}?env=production`);
    const panel = page.getByRole("tabpanel");
    await step("add a rule: country in DE serves true", async () => {
      await panel.getByRole("button", { name: "Add rule" }).click();
      await panel.getByLabel("Attribute").first().fill("country");
      await panel.getByRole("textbox", { name: "Operator" }).first().click();
      await page.getByRole("option", { name: "in", exact: true }).click();
      const values = panel.getByLabel("Values").first();
      await values.fill("DE");
      await values.press("Enter");
      await panel.getByRole("textbox", { name: "Serve" }).first().click();
      await page.getByRole("option", { name: "true", exact: true }).click();
    });
    await step("default serve: a 30% rollout", async () => {
      await panel.getByRole("textbox", { name: "Serve" }).last().click();
      await page.getByRole("option", { name: "Percentage rollout" }).click();
      const percentage = panel.getByRole("textbox", { name: "Rollout percentage" }).last();
      await percentage.fill("30");
      await percentage.press("Tab");
    });
    await step("save", async () => {
      await page.getByRole("button", { name: "Save changes" }).click();
      await page.waitForFunction(() =>
        [...document.querySelectorAll("button")].some((b) => b.textContent === "Save changes" && b.disabled),
      );
    });
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, "flag-editor");
    const deadline = Date.now() + 15_000;
    let config: { rules: { clauses: { attribute: string; operator: string; values: unknown[] }[]; serve: unknown }[]; default?: unknown; fallthrough?: unknown } | undefined;
    while (Date.now() < deadline) {
      const read = await node.api<{ config: typeof config }>("GET", `/api/admin/environments/production/flags/${FLAG}`);
      config = read.body.config;
      if (config && config.rules.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(config && config.rules.length === 1, `one rule in ${JSON.stringify(config)}`);
    assert.deepEqual(config.rules[0]!.clauses[0]!.values, ["DE"]);
    assert.match(JSON.stringify(config), /"weight":30000|"weight":30[,}]/, `a 30% weight in ${JSON.stringify(config)}`);
    await page.goto("/flags?env=production");
    await page.getByText("30% rollout").first().waitFor();
    await screenshot(page, "flags");
  });

  it("shows the change in the audit log with its diff", async () => {
    const { page } = admin;
    await page.goto("/audit");
    await step("filter by flag", async () => {
      await page.getByRole("textbox", { name: "Flag", exact: true }).fill(FLAG);
      await page.getByRole("button", { name: "Show diff" }).first().waitFor();
    });
    await page.getByRole("button", { name: "Show diff" }).first().click();
    const diff = page.getByTestId("json-diff").first();
    await diff.waitFor();
    const text = await diff.innerText();
    assert.match(text, /\+.*country/, `the new rule is an added line in:\n${text}`);
    await screenshot(page, "audit");
  });

  it("evaluates every flag in the playground, live", async () => {
    const { page } = admin;
    await page.goto("/playground");
    await page.getByRole("textbox", { name: "Environment" }).click();
    await page.getByRole("option", { name: /production/i }).first().click();
    await page.getByLabel("User id").fill("user-42");
    await page.getByLabel("Attributes (JSON)").fill('{"country": "DE"}');
    const row = page.getByTestId(`result-${FLAG}`);
    await step("the rule matches", () => row.getByText("TARGETING_MATCH").waitFor());
    assert.match(await row.innerText(), /true/);
    await screenshot(page, "playground");
    await step("turning the flag off elsewhere updates the result live", async () => {
      // Through the API, as a CI pipeline would.
      const path = `/api/admin/environments/production/flags/${FLAG}`;
      const current = await node.api<{ config: Record<string, unknown> }>("GET", path);
      const off = await node.api("PUT", path, { ...current.body.config, enabled: false });
      assert.equal(off.status, 200, JSON.stringify(off.body));
      await row.getByText("DISABLED").waitFor();
    });
  });

  it("refuses a state-changing request without the CSRF token", async () => {
    const { page } = admin;
    const result = await page.evaluate(async () => {
      const response = await fetch("/api/admin/flag-definitions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ key: "forged-flag", kind: "boolean" }),
      });
      return { status: response.status, body: await response.json() };
    });
    assert.equal(result.status, 403);
    assert.equal(result.body.error, "csrf_token_invalid");
    const forged = await node.api("GET", "/api/admin/flag-definitions/forged-flag");
    assert.equal(forged.status, 404, "nothing was created");
  });

  it("gives a viewer token a read-only UI", async () => {
    const token = await node.token("viewer", "product viewer");
    const viewer = await openPage(browser, node);
    await signIn(viewer.page, token);
    const { page } = viewer;
    await page.goto("/flags?env=production");
    await page.getByRole("switch", { name: `Toggle ${FLAG}` }).waitFor();
    assert.equal(await page.getByRole("button", { name: "New flag" }).count(), 0);
    assert.equal(await page.getByRole("switch", { name: `Toggle ${FLAG}` }).isDisabled(), true);
    await page.goto(`/flags/${FLAG}?env=production`);
    await page.getByTestId("read-only").first().waitFor();
    assert.equal(await page.getByRole("button", { name: "Save changes" }).count(), 0);
    await page.goto("/segments");
    await page.getByRole("heading", { name: "Segments" }).first().waitFor();
    assert.equal(await page.getByRole("button", { name: "New segment" }).count(), 0);
    await page.goto("/keys");
    await page.getByText("Admins only").first().waitFor();
    assert.equal(await page.getByRole("button", { name: "Create key" }).count(), 0);
    // Even past the UI, the API refuses a viewer's write.
    const attempt = await page.evaluate(async () => {
      const session = await (await fetch("/api/admin/session")).json();
      const response = await fetch("/api/admin/flag-definitions", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf_token },
        body: JSON.stringify({ key: "viewer-flag", kind: "boolean" }),
      });
      return response.status;
    });
    assert.equal(attempt, 403);
    await viewer.context.close();
  });

  it("creates a key and shows its plaintext once", async () => {
    const { page } = admin;
    await page.goto("/keys");
    await page.getByRole("button", { name: "Create key" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("textbox", { name: "Name" }).fill("checkout service");
    await dialog.getByRole("textbox", { name: "Kind" }).click();
    await page.getByRole("option", { name: /server/i }).click();
    await dialog.getByRole("textbox", { name: "Environment" }).click();
    await page.getByRole("option", { name: /production/i }).first().click();
    await dialog.getByRole("button", { name: "Generate key" }).click();
    const plaintext = (await page.getByTestId("new-key-plaintext").innerText()).trim();
    assert.match(plaintext, /^hal_srv_/);
    await page.getByRole("button", { name: "I have stored it, close" }).click();
    await page.getByTestId("new-key-plaintext").waitFor({ state: "detached" });
    await page.getByRole("dialog").waitFor({ state: "detached" });
    await screenshot(page, "keys");
    const html = await page.content();
    assert.ok(!html.includes(plaintext), "the plaintext is gone once the dialog closes");
  });
});
