// A real all-in-one Halyard node and a headless Chromium for the dashboard's
// end-to-end tests. Nothing is skipped: a missing binary or browser fails
// with what to do.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, type Page, chromium } from "playwright-core";

/** The repository root (this file runs from dashboard/e2e-dist/e2e/). */
export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const ADMIN_KEY = "e2e-bootstrap-admin-key-0123456789";
/** Every wait in these tests is bounded by this. */
export const WAIT_MS = 15_000;

/** Where screenshots go (README's pictures are copies of these). */
export const SCREENSHOTS = process.env["HALYARD_SCREENSHOTS"] ?? fileURLToPath(new URL("../../e2e/screenshots/", import.meta.url));

function halyardBinary(): string {
  const target = process.env["CARGO_TARGET_DIR"] ?? join(REPO, "target");
  const binary = join(target, "debug", "halyard");
  if (!existsSync(binary)) throw new Error(`${binary} does not exist: run \`cargo build\` in ${REPO} first`);
  return binary;
}

/** A running `halyard serve` on a fresh data directory and a free port. */
export class Node {
  private constructor(
    readonly child: ChildProcess,
    readonly baseUrl: string,
    readonly dataDir: string,
  ) {}

  static async start(): Promise<Node> {
    const dataDir = mkdtempSync(join(tmpdir(), "halyard-e2e-"));
    const child = spawn(
      halyardBinary(),
      ["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir", dataDir],
      { env: { ...process.env, HALYARD_LOG_FORMAT: "json", HALYARD_ADMIN_API_KEY: ADMIN_KEY }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    try {
      const address = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`halyard did not start within ${WAIT_MS} ms: ${stderr}`)), WAIT_MS);
        createInterface({ input: child.stdout! }).on("line", (line) => {
          try {
            const fields = (JSON.parse(line) as { fields?: { message?: string; address?: string } }).fields;
            if (fields?.message?.includes("halyard listening") && fields.address) {
              clearTimeout(timer);
              resolve(fields.address);
            }
          } catch {
            /* the first start's key banner is plain text */
          }
        });
        child.once("exit", (code) => reject(new Error(`halyard exited (${code}) before listening: ${stderr}`)));
      });
      const node = new Node(child, `http://${address}`, dataDir);
      await node.waitReady();
      return node;
    } catch (err) {
      child.kill("SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline) {
      const ok = await fetch(`${this.baseUrl}/readyz`).then((r) => r.ok, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${this.baseUrl}/readyz not ready within ${WAIT_MS} ms`);
  }

  /** An admin API call with the bootstrap key (test setup and checks). */
  async api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(this.baseUrl + path, {
      method,
      headers: { "X-Admin-API-Key": ADMIN_KEY, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** An admin token of `role`, created through the API. */
  async token(role: "viewer" | "editor" | "admin", name: string): Promise<string> {
    const created = await this.api<{ plaintext: string }>("POST", "/api/admin/keys", { name, kind: "admin", role });
    if (created.status !== 201) throw new Error(`creating a ${role} token: ${JSON.stringify(created.body)}`);
    return created.body.plaintext;
  }

  stop(): void {
    this.child.kill("SIGKILL");
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Debian's Chromium, headless, without the background traffic a closed network refuses. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env["CHROMIUM"] ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    throw new Error(`${executablePath} does not exist: install Chromium (apt-get install chromium) or set CHROMIUM`);
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** A fresh browser context (its own cookies) with a page on the node. */
export async function openPage(browser: Browser, node: Node): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: node.baseUrl, viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  await page.goto("/");
  return { context, page };
}

/** Signs in through the form. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** Saves a screenshot of the page as `name`.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // Toasts come and go; the pictures show the screen itself.
  await page.addStyleTag({ content: ".mantine-Notifications-root { display: none !important; }" });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
}

/** Runs `step`, printing how long it took (the issue asks every wait to report its time). */
export async function step<T>(what: string, body: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await body();
  console.log(`  ${what}: ${(performance.now() - started).toFixed(0)} ms`);
  return result;
}
