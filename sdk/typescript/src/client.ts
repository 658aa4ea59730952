/**
 * Server mode: {@link HalyardClient} holds its environment's full
 * configuration (`GET /api/client/flags?format=full`), keeps it in step over
 * the v2 SSE stream (`GET /api/client/stream?dialect=v2`, `docs/protocol.md`
 * §7.1) and evaluates locally. Browser-safe: only `fetch`, streams,
 * `TextDecoder`, `AbortController` and timers.
 */

import { parseContext } from "./context.js";
import { Emitter } from "./emitter.js";
import { evaluate } from "./evaluate.js";
import type { FlagKind, JsonValue } from "./model.js";
import { type ErrorCode, type Evaluation, type ReasonKind, errorResult, toJson } from "./result.js";
import { type SseEvent, readEventStream } from "./sse.js";
import { type FullConfiguration, SyncState, applyMessage, changedFlags } from "./sync.js";
import { type FetchLike, HalyardError, asError, httpError, link, message } from "./http.js";

export { HalyardError };

export type { FetchLike } from "./http.js";

/** Options of {@link HalyardClient}. */
export interface HalyardClientOptions {
  /** The edge (or all-in-one node), e.g. `https://flags.example.com`. */
  readonly baseUrl: string;
  /** A server SDK key (it selects the environment). */
  readonly sdkKey: string;
  /** Replaces `globalThis.fetch` (tests, proxies, custom agents). */
  readonly fetch?: FetchLike;
  /** How long {@link HalyardClient.init} waits for the first configuration; default 10 000. */
  readonly initTimeoutMs?: number;
  /**
   * A saved full configuration (the `?format=full` body, or
   * {@link HalyardClient.configuration}'s result) to evaluate from until the
   * edge answers: with it, `init()` resolves when the first fetch fails or
   * times out, instead of rejecting (a refused key still rejects).
   */
  readonly bootstrap?: FullConfiguration | string;
  /** Called with every error, as the `error` event is. */
  readonly onError?: (error: Error) => void;
  /** First reconnection delay (before jitter); default 1 000 ms. The stream's `retry:` replaces it. */
  readonly reconnectDelayMs?: number;
  /** Longest reconnection delay; default 30 000 ms. */
  readonly maxReconnectDelayMs?: number;
  /** A stream silent this long is dropped and reopened (the edge pings every 15 s); default 45 000 ms. */
  readonly streamIdleTimeoutMs?: number;
  /**
   * Polling fallback (a positive number of ms); default: none. While the stream is down (between the
   * `stale` and `recovered` events), refetch the full configuration every
   * this many ms with `If-None-Match` (a 304 changes nothing); a changed
   * configuration is applied as a resync is, firing `change`. Polling stops
   * when the stream is back, and on {@link HalyardClient.close}.
   */
  readonly pollIntervalMs?: number;
}

/** An error code of a client evaluation: the engine's, or OpenFeature's `PROVIDER_NOT_READY` before any configuration is held. */
export type ClientErrorCode = ErrorCode | "PROVIDER_NOT_READY";

/** The value served and why. On an error, `value` is the caller's default. */
export interface EvaluationDetail<T> {
  /** The value served, or the default on error. */
  readonly value: T;
  /** The key of the variation served (absent on error). */
  readonly variation?: string;
  /** Why (`docs/evaluation.md` §7.2). */
  readonly reason: ReasonKind;
  /** Why the evaluation failed (only with reason `ERROR`). */
  readonly errorCode?: ClientErrorCode;
  /** The matching rule's 0-based index (`TARGETING_MATCH` by a rule). */
  readonly ruleIndex?: number;
  /** The matching rule's id, when it has one. */
  readonly ruleId?: string;
  /** The first prerequisite not met (`PREREQUISITE_FAILED`). */
  readonly prerequisite?: string;
}

/** The payload of the `change` event. */
export interface ChangeEvent {
  /** The flags whose configuration changed (added, updated or deleted). */
  readonly keys: readonly string[];
  /** The revision now held (`undefined` when the environment was dropped). */
  readonly revision: number | undefined;
}

/** The payload of the `stale` event: the stream is down, evaluation uses what is held. */
export interface StaleEvent {
  /** Why the stream is down. */
  readonly error: Error | undefined;
}

/** The client's events and their listeners' arguments. */
export type ClientEvents = {
  /** The first configuration is held (or the bootstrap is in use). Once. */
  ready: [];
  /** Flags changed. */
  change: [ChangeEvent];
  /** Something failed (a refused key, an unreachable edge, a bad message). */
  error: [Error];
  /** The stream went down; emitted once per outage. */
  stale: [StaleEvent];
  /** The stream is back after a `stale` (what is held is current again). */
  recovered: [];
};

/** A context: a JSON object (`docs/evaluation.md` §2), or a string taken as its `targetingKey`. */
export type ContextInput = string | { readonly [attribute: string]: unknown };

const DEFAULT_INIT_TIMEOUT_MS = 10_000;
const DEFAULT_RECONNECT_MS = 1_000;
const DEFAULT_MAX_RECONNECT_MS = 30_000;
const DEFAULT_IDLE_MS = 45_000;

type StreamEnd = "ended" | "resync";

/** A server-mode client. Create, `await init()`, evaluate, `close()`. */
export class HalyardClient {
  readonly #baseUrl: string;
  readonly #sdkKey: string;
  readonly #fetch: FetchLike;
  readonly #initTimeoutMs: number;
  readonly #bootstrap: FullConfiguration | string | undefined;
  readonly #reconnectMs: number;
  readonly #maxReconnectMs: number;
  readonly #idleMs: number;
  readonly #pollMs: number | undefined;
  readonly #events: Emitter<ClientEvents>;
  readonly #abort = new AbortController();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  #state: SyncState | undefined;
  #etag: string | undefined;
  #retryMs: number | undefined;
  #initPromise: Promise<void> | undefined;
  #settleInit: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #initialized = false;
  #stale = false;
  #polling = false;
  #closed = false;

  constructor(options: HalyardClientOptions) {
    if (typeof options.baseUrl !== "string" || options.baseUrl === "") {
      throw new TypeError("HalyardClient: baseUrl is required");
    }
    if (typeof options.sdkKey !== "string" || options.sdkKey === "") {
      throw new TypeError("HalyardClient: sdkKey is required");
    }
    const f = options.fetch ?? (globalThis.fetch as FetchLike | undefined)?.bind(globalThis);
    if (f === undefined) {
      throw new TypeError("HalyardClient: no global fetch; pass options.fetch");
    }
    this.#fetch = f;
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#sdkKey = options.sdkKey;
    this.#initTimeoutMs = options.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS;
    this.#bootstrap = options.bootstrap;
    this.#reconnectMs = options.reconnectDelayMs ?? DEFAULT_RECONNECT_MS;
    this.#maxReconnectMs = Math.max(options.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_MS, this.#reconnectMs);
    this.#idleMs = options.streamIdleTimeoutMs ?? DEFAULT_IDLE_MS;
    this.#pollMs = (options.pollIntervalMs ?? 0) > 0 ? options.pollIntervalMs : undefined;
    this.#events = new Emitter<ClientEvents>(() => {});
    const onError = options.onError;
    if (onError !== undefined) {
      this.#events.on("error", (error) => onError(error));
    }
  }

  // ---- lifecycle -------------------------------------------------------

  /**
   * Starts the client (once; later calls return the same promise): fetches
   * the full configuration, then follows the stream. Resolves when the first
   * configuration is held. Rejects when the edge refuses the key (401/403,
   * the client then stops), on timeout without a bootstrap (the client keeps
   * trying; `ready` fires if it later succeeds), or on {@link close}.
   */
  init(): Promise<void> {
    this.#initPromise ??= this.#start();
    return this.#initPromise;
  }

  /** The promise of {@link init} (starting the client if needed). */
  get ready(): Promise<void> {
    return this.init();
  }

  /** Whether a configuration (fetched or bootstrap) is held and `ready` has fired. */
  get initialized(): boolean {
    return this.#initialized;
  }

  /** Whether the stream is down (evaluation uses the configuration held). */
  get stale(): boolean {
    return this.#stale;
  }

  /** The revision held, if any. */
  get revision(): number | undefined {
    return this.#state?.revision;
  }

  /** The full configuration held (save it to pass as `bootstrap` later). */
  configuration(): FullConfiguration | undefined {
    return this.#state?.toConfiguration();
  }

  /** Stops everything: aborts requests and the stream, clears timers. Idempotent. */
  close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#abort.abort();
    for (const timer of this.#timers) {
      clearTimeout(timer);
    }
    this.#timers.clear();
    this.#settleInit?.reject(new HalyardError("HalyardClient was closed before it was ready"));
    this.#settleInit = undefined;
  }

  // ---- events ----------------------------------------------------------

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Adds a one-time listener; returns a function that removes it. */
  once<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): () => void {
    return this.#events.once(event, listener);
  }

  /** Removes a listener. */
  off<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): void {
    this.#events.off(event, listener);
  }

  // ---- evaluation ------------------------------------------------------

  /**
   * The old SDK's call: whether boolean flag `flagKey` is on for a user (a
   * string is the targeting key) or a context. `false` on any error.
   */
  isEnabled(flagKey: string, userIdOrContext: ContextInput): boolean {
    try {
      return this.boolVariation(flagKey, userIdOrContext, false);
    } catch {
      return false;
    }
  }

  /** A boolean flag's value, or `defaultValue` on any error. */
  boolVariation(flagKey: string, context: ContextInput, defaultValue: boolean): boolean {
    return this.boolVariationDetail(flagKey, context, defaultValue).value;
  }

  /** A string flag's value, or `defaultValue` on any error. */
  stringVariation(flagKey: string, context: ContextInput, defaultValue: string): string {
    return this.stringVariationDetail(flagKey, context, defaultValue).value;
  }

  /** A number flag's value, or `defaultValue` on any error. */
  numberVariation(flagKey: string, context: ContextInput, defaultValue: number): number {
    return this.numberVariationDetail(flagKey, context, defaultValue).value;
  }

  /** A JSON flag's value, or `defaultValue` on any error. */
  jsonVariation<T extends JsonValue>(flagKey: string, context: ContextInput, defaultValue: T): JsonValue {
    return this.jsonVariationDetail(flagKey, context, defaultValue).value;
  }

  /** {@link boolVariation} with the reason. */
  boolVariationDetail(flagKey: string, context: ContextInput, defaultValue: boolean): EvaluationDetail<boolean> {
    return this.#detail(flagKey, context, defaultValue, "boolean", (v): v is boolean => typeof v === "boolean");
  }

  /** {@link stringVariation} with the reason. */
  stringVariationDetail(flagKey: string, context: ContextInput, defaultValue: string): EvaluationDetail<string> {
    return this.#detail(flagKey, context, defaultValue, "string", (v): v is string => typeof v === "string");
  }

  /** {@link numberVariation} with the reason. */
  numberVariationDetail(flagKey: string, context: ContextInput, defaultValue: number): EvaluationDetail<number> {
    return this.#detail(flagKey, context, defaultValue, "number", (v): v is number => typeof v === "number");
  }

  /** {@link jsonVariation} with the reason. */
  jsonVariationDetail(flagKey: string, context: ContextInput, defaultValue: JsonValue): EvaluationDetail<JsonValue> {
    return this.#detail(flagKey, context, defaultValue, "json", (v): v is JsonValue => v !== undefined);
  }

  /** Every flag's result for `context`, by key (`{}` before any configuration). */
  allFlags(context: ContextInput): Record<string, EvaluationDetail<JsonValue>> {
    const out: Record<string, EvaluationDetail<JsonValue>> = {};
    const state = this.#state;
    if (state === undefined) {
      return out;
    }
    for (const flag of state.compiled.flags()) {
      out[flag.key] = this.#detail(flag.key, context, null, undefined, (v): v is JsonValue => v !== undefined);
    }
    return out;
  }

  #detail<T extends JsonValue>(
    flagKey: string,
    context: ContextInput,
    defaultValue: T,
    kind: FlagKind | undefined,
    check: (value: JsonValue) => value is T,
  ): EvaluationDetail<T> {
    const state = this.#state;
    if (state === undefined) {
      return { value: defaultValue, reason: "ERROR", errorCode: "PROVIDER_NOT_READY" };
    }
    let result: Evaluation;
    try {
      const parsed = parseContext(typeof context === "string" ? { targetingKey: context } : context);
      result = parsed.ok ? evaluate(state.compiled, flagKey, parsed.context, kind) : errorResult("INVALID_CONTEXT");
    } catch {
      result = errorResult("GENERAL");
    }
    const json = toJson(result);
    if (json.reason === "ERROR") {
      return { value: defaultValue, reason: "ERROR", errorCode: json.error_code ?? "GENERAL" };
    }
    if (!check(json.value)) {
      return { value: defaultValue, reason: "ERROR", errorCode: "TYPE_MISMATCH" };
    }
    const detail: { -readonly [K in keyof EvaluationDetail<T>]: EvaluationDetail<T>[K] } = {
      value: json.value,
      reason: json.reason,
    };
    if (json.variation !== null) {
      detail.variation = json.variation;
    }
    if (json.rule_index !== undefined) {
      detail.ruleIndex = json.rule_index;
    }
    if (json.rule_id !== undefined) {
      detail.ruleId = json.rule_id;
    }
    if (json.prerequisite !== undefined) {
      detail.prerequisite = json.prerequisite;
    }
    return detail;
  }

  // ---- sync ------------------------------------------------------------

  #start(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new HalyardError("HalyardClient is closed"));
    }
    if (this.#bootstrap !== undefined) {
      try {
        this.#state = SyncState.fromConfiguration(this.#bootstrap);
      } catch (error) {
        this.#report(new HalyardError(`the bootstrap configuration is unusable: ${message(error)}`));
      }
    }
    const promise = new Promise<void>((resolve, reject) => {
      this.#settleInit = { resolve, reject };
    });
    // Callers see the rejection; an unobserved one must not crash the process.
    promise.catch(() => {});
    const timer = this.#setTimer(() => {
      if (this.#initialized) {
        return;
      }
      if (this.#state !== undefined) {
        this.#markReady();
      } else {
        this.#settleInit?.reject(
          new HalyardError(`HalyardClient: no configuration from ${this.#baseUrl} within ${this.#initTimeoutMs} ms`),
        );
        this.#settleInit = undefined;
      }
    }, this.#initTimeoutMs);
    void promise.then(
      () => this.#clearTimer(timer),
      () => this.#clearTimer(timer),
    );
    void this.#run();
    return promise;
  }

  #markReady(): void {
    if (this.#initialized || this.#closed) {
      return;
    }
    this.#initialized = true;
    this.#settleInit?.resolve();
    this.#settleInit = undefined;
    this.#events.emit("ready");
  }

  /** Fetch, stream, reconnect with backoff; resync on any §4 error. */
  async #run(): Promise<void> {
    let attempt = 0;
    let resyncs = 0;
    let needFull = true;
    while (!this.#closed) {
      let delay: number;
      try {
        if (needFull) {
          await this.#fetchFull();
          needFull = false;
          this.#markReady();
        }
        const end = await this.#stream(() => {
          attempt = 0;
          this.#markFresh();
        }, () => {
          resyncs = 0;
        });
        if (end === "resync") {
          needFull = true;
          resyncs++;
          // The first resync is immediate; repeated ones back off.
          delay = resyncs <= 1 ? 0 : this.#backoff(resyncs - 2);
        } else {
          this.#markStale(undefined);
          delay = this.#backoff(attempt++);
        }
      } catch (error) {
        if (this.#closed) {
          return;
        }
        const err = asError(error);
        if (err instanceof HalyardError && err.isAuthError && !this.#initialized) {
          // A refused key at start: fatal.
          this.#report(err);
          this.#settleInit?.reject(err);
          this.#settleInit = undefined;
          this.close();
          return;
        }
        this.#report(err);
        if (!this.#initialized && this.#state !== undefined) {
          // Offline start from the bootstrap.
          this.#markReady();
        }
        this.#markStale(err);
        delay = this.#backoff(attempt++);
      }
      await this.#sleep(delay);
    }
  }

  /** `GET /api/client/flags?format=full` and hold it (§4 resync). */
  async #fetchFull(): Promise<void> {
    const headers: Record<string, string> = { ...this.#authHeaders(), Accept: "application/json" };
    if (this.#etag !== undefined && this.#state !== undefined) {
      headers["If-None-Match"] = this.#etag;
    }
    const response = await this.#request("/api/client/flags?format=full", headers);
    if (response.status === 304 && this.#state !== undefined) {
      return;
    }
    if (!response.ok) {
      throw await httpError(response, "fetching the configuration");
    }
    const text = await response.text();
    let next: SyncState;
    try {
      next = SyncState.fromConfiguration(text);
    } catch (error) {
      throw new HalyardError(`the configuration from ${this.#baseUrl} is unusable: ${message(error)}`);
    }
    const held = this.#state;
    if (held !== undefined && held.epoch === next.epoch && next.revision < held.revision) {
      // A lagging source: never go back in time within an epoch; retry.
      throw new HalyardError(`fetched revision ${next.revision} is older than the held ${held.revision}`);
    }
    this.#install(next);
    this.#etag = response.headers.get("etag") ?? undefined;
  }

  /** One stream connection, until it ends (`ended`) or a message needs a resync. */
  async #stream(onOpen: () => void, onApplied: () => void): Promise<StreamEnd> {
    let end: StreamEnd = "ended";
    const headers = this.#authHeaders();
    if (this.#state !== undefined) {
      headers["Last-Event-ID"] = String(this.#state.revision);
    }
    await readEventStream({
      fetch: this.#fetch,
      url: `${this.#baseUrl}/api/client/stream?dialect=v2`,
      headers,
      signal: this.#abort.signal,
      idleMs: this.#idleMs,
      what: "the stream",
      onOpen,
      onEvent: (event, stop) => {
        if (this.#closed) {
          return;
        }
        const outcome = this.#handle(event);
        if (outcome === "resync") {
          end = "resync";
          stop();
        } else if (outcome === "applied") {
          onApplied();
        }
      },
      onRetry: (ms) => {
        this.#retryMs = ms;
      },
    });
    return end;
  }

  /** One v2 event: `put` replaces, `patch`/`delete` apply by §4, `ping` does nothing. */
  #handle(event: SseEvent): "applied" | "ignored" | "resync" {
    switch (event.event) {
      case "put": {
        let next: SyncState;
        try {
          next = SyncState.fromConfiguration(event.data);
        } catch (error) {
          this.#report(new HalyardError(`unusable put: ${message(error)}`));
          return "resync";
        }
        const held = this.#state;
        if (held !== undefined && held.epoch === next.epoch && next.revision < held.revision) {
          return "resync";
        }
        this.#install(next);
        this.#etag = undefined;
        return "applied";
      }
      case "patch":
      case "delete": {
        const held = this.#state;
        if (held === undefined) {
          return "resync";
        }
        const outcome = applyMessage(held, event.data);
        switch (outcome.kind) {
          case "updated":
            this.#state = outcome.state;
            this.#etag = undefined;
            if (outcome.changedFlags.length > 0) {
              this.#emitChange(outcome.changedFlags, outcome.state.revision);
            }
            return "applied";
          case "already_held":
            return "ignored";
          case "deleted": {
            const keys = [...held.flags.keys()];
            this.#state = undefined;
            this.#etag = undefined;
            this.#report(new HalyardError(`environment ${held.environment} was deleted`));
            if (keys.length > 0) {
              this.#emitChange(keys, undefined);
            }
            return "applied";
          }
          case "error":
            if (outcome.error.code === "malformed_message" || outcome.error.code === "invalid_change") {
              this.#report(outcome.error);
            }
            return "resync";
        }
        return "resync";
      }
      default:
        // `ping`, and events a later edge may add.
        return "ignored";
    }
  }

  #install(next: SyncState): void {
    const keys = changedFlags(this.#state, next);
    this.#state = next;
    if (keys.length > 0) {
      this.#emitChange(keys, next.revision);
    }
  }

  #emitChange(keys: readonly string[], revision: number | undefined): void {
    if (this.#initialized && !this.#closed) {
      this.#events.emit("change", { keys, revision });
    }
  }

  #markStale(error: Error | undefined): void {
    if (this.#stale || this.#closed) {
      return;
    }
    this.#stale = true;
    if (this.#initialized) {
      this.#events.emit("stale", { error });
    }
    void this.#poll();
  }

  /** The polling fallback: while stale, refetch the configuration every `pollIntervalMs`. */
  async #poll(): Promise<void> {
    if (this.#pollMs === undefined || this.#polling) {
      return;
    }
    this.#polling = true;
    try {
      while (this.#stale && !this.#closed) {
        await this.#sleep(this.#pollMs);
        if (!this.#stale || this.#closed || !this.#initialized) {
          // Back to the stream, closed, or not started (the run loop is fetching).
          continue;
        }
        try {
          await this.#fetchFull();
        } catch (error) {
          // Once the stream is back, a late poll's failure does not matter.
          if (this.#stale) {
            this.#report(asError(error));
          }
        }
      }
    } finally {
      this.#polling = false;
    }
  }

  #markFresh(): void {
    if (!this.#stale) {
      return;
    }
    this.#stale = false;
    if (this.#initialized && !this.#closed) {
      this.#events.emit("recovered");
    }
  }

  #report(error: Error): void {
    if (!this.#closed) {
      this.#events.emit("error", error);
    }
  }

  #authHeaders(): Record<string, string> {
    return { "X-SDK-Key": this.#sdkKey };
  }

  async #request(path: string, headers: Record<string, string>): Promise<Response> {
    const controller = new AbortController();
    const unlink = link(this.#abort.signal, controller);
    const timer = this.#setTimer(() => controller.abort(), Math.max(this.#initTimeoutMs, 1_000));
    try {
      const response = await this.#fetch(`${this.#baseUrl}${path}`, { headers, signal: controller.signal });
      // Read the body under the same timeout.
      const body = await response.arrayBuffer();
      return new Response(response.status === 304 ? null : body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    } finally {
      this.#clearTimer(timer);
      unlink();
    }
  }

  /** Exponential backoff with jitter: between half and all of `base * 2^attempt`, capped. */
  #backoff(attempt: number): number {
    const base = this.#retryMs ?? this.#reconnectMs;
    const ceiling = Math.min(this.#maxReconnectMs, base * 2 ** Math.min(attempt, 20));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.#closed) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = this.#setTimer(() => {
        this.#abort.signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        this.#clearTimer(timer);
        resolve();
      };
      this.#abort.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  #setTimer(callback: () => void, ms: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      callback();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  #clearTimer(timer: ReturnType<typeof setTimeout>): void {
    clearTimeout(timer);
    this.#timers.delete(timer);
  }
}
