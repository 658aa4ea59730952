/** Runs a real all-in-one Halyard node for the client tests. */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import type { ChangeEvent } from "../src/index.js";

/** The repository root, found from this file (dist/test/ or test/). */
const REPO = fileURLToPath(new URL("../../../../", import.meta.url));

export const ADMIN_KEY = "admin-secret-key";
export const SDK_KEY = "sdk-secret-key";
/** Every wait in these tests is bounded by this. */
export const WAIT_MS = 15_000;

/** The debug binary the Rust build leaves; never skipped when missing. */
export function halyardBinary(): string {
  const target = process.env["CARGO_TARGET_DIR"] ?? join(REPO, "target");
  const binary = join(target, "debug", "halyard");
  if (!existsSync(binary)) {
    throw new Error(`${binary} does not exist: run \`cargo build\` (in ${REPO}) first`);
  }
  return binary;
}

/** A fresh data directory; removed by {@link removeDir}. */
export function freshDataDir(): string {
  return mkdtempSync(join(tmpdir(), "halyard-sdk-test-"));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** One running node. */
export class HalyardNode {
  readonly process: ChildProcess;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  #exited: Promise<void>;

  private constructor(child: ChildProcess, address: string, exited: Promise<void>) {
    this.process = child;
    this.address = address;
    this.#exited = exited;
  }

  get baseUrl(): string {
    return `http://${this.address}`;
  }

  get port(): number {
    return Number(this.address.slice(this.address.lastIndexOf(":") + 1));
  }

  /** Starts a node on `dataDir` (a free port unless `listen` is given) and waits until /readyz is 200. */
  static async start(dataDir: string, listen = "127.0.0.1:0"): Promise<HalyardNode> {
    const child = spawn(
      halyardBinary(),
      ["--listen", listen, "--metrics-listen", "127.0.0.1:0", "--data-dir", dataDir],
      {
        env: {
          ...process.env,
          HALYARD_LOG_FORMAT: "json",
          HALYARD_ADMIN_API_KEY: ADMIN_KEY,
          HALYARD_LEGACY_SDK_KEY: SDK_KEY,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4000);
    });
    try {
      const address = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`halyard did not log "halyard listening" within ${WAIT_MS} ms; stderr: ${stderr}`)),
          WAIT_MS,
        );
        const lines = createInterface({ input: child.stdout! });
        lines.on("line", (line) => {
          let record: { fields?: { message?: unknown; address?: unknown } };
          try {
            record = JSON.parse(line) as typeof record;
          } catch {
            return; // the first start's key banner is plain text
          }
          const message = record.fields?.message;
          if (typeof message === "string" && message.includes("halyard listening")) {
            clearTimeout(timer);
            if (typeof record.fields?.address === "string") {
              resolve(record.fields.address);
            } else {
              reject(new Error(`"halyard listening" without an address: ${line}`));
            }
          }
        });
        child.once("exit", (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`halyard exited (code ${code}, signal ${signal}) before listening; stderr: ${stderr}`));
        });
      });
      const node = new HalyardNode(child, address, exited);
      await node.waitReady();
      return node;
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
  }

  async waitReady(): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    let last = "";
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${this.baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
        await response.arrayBuffer();
        if (response.status === 200) {
          return;
        }
        last = `HTTP ${response.status}`;
      } catch (error) {
        last = String(error);
      }
      await delay(100);
    }
    throw new Error(`${this.baseUrl}/readyz was not 200 within ${WAIT_MS} ms (last: ${last})`);
  }

  /** SIGTERM, then SIGKILL if it has not exited within the bound. */
  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) {
      return;
    }
    this.process.kill("SIGTERM");
    const timer = setTimeout(() => this.process.kill("SIGKILL"), WAIT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Kills it at once (cleanup). */
  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill("SIGKILL");
    }
  }

  /** The old admin API's flag body. */
  async createFlag(flag: LegacyFlagBody): Promise<string> {
    const response = await fetch(`${this.baseUrl}/api/admin/flags`, {
      method: "POST",
      headers: { "X-Admin-API-Key": ADMIN_KEY, "Content-Type": "application/json" },
      body: JSON.stringify(flag),
      signal: AbortSignal.timeout(WAIT_MS),
    });
    const body = (await response.json()) as { id?: unknown };
    if (response.status !== 201 || typeof body.id !== "string") {
      throw new Error(`creating ${flag.key}: HTTP ${response.status} ${JSON.stringify(body)}`);
    }
    return body.id;
  }

  /**
   * Waits until the node's SDK routes serve flag `key` (a change is
   * committed before it reaches the edge's snapshot, a few milliseconds
   * later).
   */
  async waitUntilServed(key: string): Promise<void> {
    const started = Date.now();
    for (;;) {
      const response = await fetch(`${this.baseUrl}/api/client/flags`, {
        headers: { "X-SDK-Key": SDK_KEY },
        signal: AbortSignal.timeout(WAIT_MS),
      });
      const body = (await response.json()) as { flags?: { key: string }[] };
      if (body.flags?.some((flag) => flag.key === key)) {
        return;
      }
      if (Date.now() - started > WAIT_MS) {
        throw new Error(`flag ${key} not served within ${WAIT_MS} ms`);
      }
      await delay(10);
    }
  }

  async updateFlag(id: string, flag: Omit<LegacyFlagBody, "key"> & { key?: string }): Promise<void> {
    const response = await fetch(`${this.baseUrl}/api/admin/flags/${id}`, {
      method: "PUT",
      headers: { "X-Admin-API-Key": ADMIN_KEY, "Content-Type": "application/json" },
      body: JSON.stringify(flag),
      signal: AbortSignal.timeout(WAIT_MS),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`updating ${id}: HTTP ${response.status} ${text}`);
    }
  }

  /**
   * Creates an SDK key (`POST /api/admin/keys`) and returns its plaintext
   * once the node's SDK routes accept it (keys reach the edge's snapshot a
   * few milliseconds after the commit).
   */
  async createKey(name: string, kind: "client" | "server" = "client", environment = "production"): Promise<string> {
    return (await this.createKeyWithId(name, kind, environment)).plaintext;
  }

  /** {@link createKey}, also returning the key's id (for {@link revokeKey}). */
  async createKeyWithId(
    name: string,
    kind: "client" | "server" = "client",
    environment = "production",
  ): Promise<{ plaintext: string; id: string }> {
    const response = await fetch(`${this.baseUrl}/api/admin/keys`, {
      method: "POST",
      headers: { "X-Admin-API-Key": ADMIN_KEY, "Content-Type": "application/json" },
      body: JSON.stringify({ name, kind, environment }),
      signal: AbortSignal.timeout(WAIT_MS),
    });
    const body = (await response.json()) as { plaintext?: unknown; id?: unknown; key?: { id?: unknown } };
    // The key's fields are top-level (`id`, ...); `key.id` is accepted too.
    const id = body.id ?? body.key?.id;
    if (response.status !== 201 || typeof body.plaintext !== "string" || typeof id !== "string") {
      throw new Error(`creating key ${name}: HTTP ${response.status} ${JSON.stringify(body)}`);
    }
    const plaintext = body.plaintext;
    const started = Date.now();
    for (;;) {
      const check = await fetch(`${this.baseUrl}/ofrep/v1/evaluate/flags`, {
        method: "POST",
        headers: { "X-API-Key": plaintext, "Content-Type": "application/json" },
        body: JSON.stringify({ context: {} }),
        signal: AbortSignal.timeout(WAIT_MS),
      });
      await check.arrayBuffer();
      if (check.status === 200) {
        return { plaintext, id };
      }
      if (Date.now() - started > WAIT_MS) {
        throw new Error(`key ${name} not accepted within ${WAIT_MS} ms (last HTTP ${check.status})`);
      }
      await delay(10);
    }
  }

  /** Revokes an SDK key (`DELETE /api/admin/keys/{id}`, 204). */
  async revokeKey(id: string): Promise<void> {
    const response = await fetch(`${this.baseUrl}/api/admin/keys/${id}`, {
      method: "DELETE",
      headers: { "X-Admin-API-Key": ADMIN_KEY },
      signal: AbortSignal.timeout(WAIT_MS),
    });
    const text = await response.text();
    if (response.status !== 204) {
      throw new Error(`revoking key ${id}: HTTP ${response.status} ${text}`);
    }
  }

  /** The server's own answer (`POST /api/evaluate`). */
  async evaluate(flag: string, context: unknown): Promise<{ value: unknown; variation: unknown; reason: unknown }> {
    const response = await fetch(`${this.baseUrl}/api/evaluate`, {
      method: "POST",
      headers: { "X-SDK-Key": SDK_KEY, "Content-Type": "application/json" },
      body: JSON.stringify({ flag, context }),
      signal: AbortSignal.timeout(WAIT_MS),
    });
    const body = (await response.json()) as { results: Record<string, { value: unknown; variation: unknown; reason: unknown }> };
    const result = body.results[flag];
    if (!response.ok || result === undefined) {
      throw new Error(`evaluating ${flag}: HTTP ${response.status} ${JSON.stringify(body)}`);
    }
    return result;
  }
}

export interface LegacyFlagBody {
  key: string;
  description: string;
  enabled: boolean;
  rollout_percentage: number;
  targeted_users: string[];
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves when `predicate` holds, polling; rejects after {@link WAIT_MS}. */
export async function eventually(what: string, predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    }
    await delay(20);
  }
}

/** Anything with the clients' `change` event. */
interface ChangeSource {
  on(event: "change", listener: (event: ChangeEvent) => void): () => void;
}

/** The next `change` event naming `key`, within {@link WAIT_MS}. */
export function nextChange(client: ChangeSource, key: string): Promise<ChangeEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no change event for ${key} within ${WAIT_MS} ms`));
    }, WAIT_MS);
    const off = client.on("change", (event) => {
      if (event.keys.includes(key)) {
        clearTimeout(timer);
        off();
        resolve(event);
      }
    });
  });
}
