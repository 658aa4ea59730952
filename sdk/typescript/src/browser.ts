/**
 * Client mode: {@link HalyardBrowserClient} (client SDK key, e.g. in a
 * browser) never sees flag configurations. It asks the edge to evaluate
 * every flag for one context (OFREP bulk, `POST /ofrep/v1/evaluate/flags`),
 * caches the answer with its ETag (`If-None-Match`, 304 keeps it), and
 * refetches when the client event stream (`GET /api/client/events`) says the
 * environment changed or when the caller changes the context. Results map
 * back to Halyard's reasons as `docs/evaluation.md` §7.4 describes.
 * Browser-safe: only `fetch`, streams, `TextDecoder`, `AbortController` and
 * timers.
 */

import type { ChangeEvent, ClientErrorCode, ClientEvents, ContextInput, EvaluationDetail } from "./client.js";
import { Emitter } from "./emitter.js";
import { type FetchLike, HalyardError, asError, httpError, link, message } from "./http.js";
import type { JsonValue } from "./model.js";
import type { ReasonKind } from "./result.js";
import { readEventStream } from "./sse.js";

/** Options of {@link HalyardBrowserClient}. */
export interface HalyardBrowserClientOptions {
  /** The edge (or all-in-one node), e.g. `https://flags.example.com`. */
  readonly baseUrl: string;
  /** A client SDK key (it selects the environment; safe to ship to browsers). */
  readonly clientKey: string;
  /** The initial evaluation context (a string is its `targetingKey`); default `{}`. */
  readonly context?: ContextInput;
  /** Replaces `globalThis.fetch`. */
  readonly fetch?: FetchLike;
  /** How long {@link HalyardBrowserClient.init} waits for the first evaluation; default 10 000. */
  readonly initTimeoutMs?: number;
  /** Whether to follow the event stream for changes; default `true`. */
  readonly streaming?: boolean;
  /** Called with every error, as the `error` event is. */
  readonly onError?: (error: Error) => void;
  /** First reconnection delay (before jitter); default 1 000 ms. The stream's `retry:` replaces it. */
  readonly reconnectDelayMs?: number;
  /** Longest reconnection delay; default 30 000 ms. */
  readonly maxReconnectDelayMs?: number;
  /** A stream silent this long is dropped and reopened (the edge pings every 15 s); default 45 000 ms. */
  readonly streamIdleTimeoutMs?: number;
}

/** One item of an OFREP bulk response: an evaluationSuccess or an evaluationFailure. */
interface OfrepItem {
  readonly key: string;
  readonly value?: JsonValue;
  readonly variant?: string | null;
  readonly reason?: string;
  readonly errorCode?: string;
  readonly errorDetails?: string;
  readonly metadata?: { readonly [name: string]: unknown };
}

/** What is held for the current context. */
type Held =
  /** The edge evaluated every flag. */
  | { readonly kind: "flags"; readonly flags: ReadonlyMap<string, OfrepItem> }
  /** The edge refused the whole context (400 `bulkEvaluationFailure`). */
  | { readonly kind: "failure"; readonly errorCode: ClientErrorCode; readonly details: string };

const DEFAULT_INIT_TIMEOUT_MS = 10_000;
const DEFAULT_RECONNECT_MS = 1_000;
const DEFAULT_MAX_RECONNECT_MS = 30_000;
const DEFAULT_IDLE_MS = 45_000;
const REVISION_HEADER = "x-halyard-revision";

/** A client-mode client. Create, `await init()`, evaluate, `setContext()`, `close()`. */
export class HalyardBrowserClient {
  readonly #baseUrl: string;
  readonly #clientKey: string;
  readonly #fetch: FetchLike;
  readonly #initTimeoutMs: number;
  readonly #streaming: boolean;
  readonly #reconnectMs: number;
  readonly #maxReconnectMs: number;
  readonly #idleMs: number;
  readonly #events: Emitter<ClientEvents>;
  readonly #abort = new AbortController();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  #context: { readonly [attribute: string]: unknown };
  /** The held answer, the context (canonical JSON) it is for, its ETag and revision. */
  #held: Held | undefined;
  #heldFor: string | undefined;
  #etag: string | undefined;
  #revision: number | undefined;
  /** The last refetch notice handled (its `etag`). */
  #lastNotice: string | undefined;
  /** The stream's last event id whose refetch succeeded. */
  #lastEventId: string | undefined;
  #retryMs: number | undefined;
  /** Refetches run one at a time; one waiting refetch serves every caller. */
  #chain: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;
  #initPromise: Promise<void> | undefined;
  #settleInit: { resolve: () => void; reject: (error: Error) => void } | undefined;
  #initialized = false;
  #stale = false;
  #closed = false;

  constructor(options: HalyardBrowserClientOptions) {
    if (typeof options.baseUrl !== "string" || options.baseUrl === "") {
      throw new TypeError("HalyardBrowserClient: baseUrl is required");
    }
    if (typeof options.clientKey !== "string" || options.clientKey === "") {
      throw new TypeError("HalyardBrowserClient: clientKey is required");
    }
    const f = options.fetch ?? (globalThis.fetch as FetchLike | undefined)?.bind(globalThis);
    if (f === undefined) {
      throw new TypeError("HalyardBrowserClient: no global fetch; pass options.fetch");
    }
    this.#fetch = f;
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#clientKey = options.clientKey;
    this.#context = toContext(options.context ?? {});
    this.#initTimeoutMs = options.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS;
    this.#streaming = options.streaming ?? true;
    this.#reconnectMs = options.reconnectDelayMs ?? DEFAULT_RECONNECT_MS;
    this.#maxReconnectMs = Math.max(options.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_MS, this.#reconnectMs);
    this.#idleMs = options.streamIdleTimeoutMs ?? DEFAULT_IDLE_MS;
    this.#events = new Emitter<ClientEvents>(() => {});
    const onError = options.onError;
    if (onError !== undefined) {
      this.#events.on("error", (error) => onError(error));
    }
  }

  // ---- lifecycle -------------------------------------------------------

  /**
   * Starts the client (once; later calls return the same promise): evaluates
   * the context, then follows the event stream. Resolves when the first
   * evaluation is held. Rejects when the edge refuses the key (401/403, the
   * client then stops), on timeout (the client keeps trying; `ready` fires
   * if it later succeeds), or on {@link close}.
   */
  init(): Promise<void> {
    this.#initPromise ??= this.#start();
    return this.#initPromise;
  }

  /** The promise of {@link init} (starting the client if needed). */
  get ready(): Promise<void> {
    return this.init();
  }

  /** Whether an evaluation is held and `ready` has fired. */
  get initialized(): boolean {
    return this.#initialized;
  }

  /** Whether the event stream is down (evaluation uses what is held). */
  get stale(): boolean {
    return this.#stale;
  }

  /** The environment revision of the evaluation held, if the edge said. */
  get revision(): number | undefined {
    return this.#revision;
  }

  /** The current context. */
  get context(): { readonly [attribute: string]: unknown } {
    return this.#context;
  }

  /**
   * Replaces the context and, once started, re-evaluates for it. Resolves
   * when the new context's evaluation is held (until then the previous
   * results are served); rejects if that fetch fails (the error event fires
   * too). The same context again does nothing.
   */
  setContext(context: ContextInput): Promise<void> {
    const next = toContext(context);
    let same: boolean;
    try {
      same = canonical(next) === canonical(this.#context);
    } catch (error) {
      // Not JSON (a cycle, a BigInt): it could not be sent to the edge.
      return Promise.reject(new HalyardError(`the context is not JSON: ${message(error)}`));
    }
    if (same) {
      return this.#initPromise === undefined ? Promise.resolve() : this.#initPromise.then(() => {});
    }
    this.#context = next;
    if (this.#initPromise === undefined || this.#closed) {
      return Promise.resolve();
    }
    return this.#refetch().catch((error: unknown) => {
      const err = asError(error);
      this.#report(err);
      throw err;
    });
  }

  /** Re-evaluates the current context now (a conditional request: 304 keeps what is held). */
  refresh(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new HalyardError("HalyardBrowserClient is closed"));
    }
    return this.#refetch();
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
    this.#settleInit?.reject(new HalyardError("HalyardBrowserClient was closed before it was ready"));
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

  /** A boolean flag's value for the current context, or `defaultValue` on any error. */
  boolVariation(flagKey: string, defaultValue: boolean): boolean {
    return this.boolVariationDetail(flagKey, defaultValue).value;
  }

  /** A string flag's value, or `defaultValue` on any error. */
  stringVariation(flagKey: string, defaultValue: string): string {
    return this.stringVariationDetail(flagKey, defaultValue).value;
  }

  /** A number flag's value, or `defaultValue` on any error. */
  numberVariation(flagKey: string, defaultValue: number): number {
    return this.numberVariationDetail(flagKey, defaultValue).value;
  }

  /** A JSON flag's value, or `defaultValue` on any error. */
  jsonVariation(flagKey: string, defaultValue: JsonValue): JsonValue {
    return this.jsonVariationDetail(flagKey, defaultValue).value;
  }

  /** {@link boolVariation} with the reason. */
  boolVariationDetail(flagKey: string, defaultValue: boolean): EvaluationDetail<boolean> {
    return this.#detail(flagKey, defaultValue, (v): v is boolean => typeof v === "boolean");
  }

  /** {@link stringVariation} with the reason. */
  stringVariationDetail(flagKey: string, defaultValue: string): EvaluationDetail<string> {
    return this.#detail(flagKey, defaultValue, (v): v is string => typeof v === "string");
  }

  /** {@link numberVariation} with the reason. */
  numberVariationDetail(flagKey: string, defaultValue: number): EvaluationDetail<number> {
    return this.#detail(flagKey, defaultValue, (v): v is number => typeof v === "number");
  }

  /** {@link jsonVariation} with the reason. */
  jsonVariationDetail(flagKey: string, defaultValue: JsonValue): EvaluationDetail<JsonValue> {
    return this.#detail(flagKey, defaultValue, (v): v is JsonValue => v !== undefined);
  }

  /** Every flag's result for the current context, by key (`{}` before any evaluation). */
  allFlags(): Record<string, EvaluationDetail<JsonValue>> {
    const out: Record<string, EvaluationDetail<JsonValue>> = {};
    const held = this.#held;
    if (held?.kind !== "flags") {
      return out;
    }
    for (const key of held.flags.keys()) {
      out[key] = this.#detail(key, null, (v): v is JsonValue => v !== undefined);
    }
    return out;
  }

  #detail<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    check: (value: JsonValue) => value is T,
  ): EvaluationDetail<T> {
    const held = this.#held;
    if (held === undefined) {
      return { value: defaultValue, reason: "ERROR", errorCode: "PROVIDER_NOT_READY" };
    }
    if (held.kind === "failure") {
      return { value: defaultValue, reason: "ERROR", errorCode: held.errorCode };
    }
    const item = held.flags.get(flagKey);
    if (item === undefined) {
      return { value: defaultValue, reason: "ERROR", errorCode: "FLAG_NOT_FOUND" };
    }
    if (item.errorCode !== undefined) {
      return { value: defaultValue, reason: "ERROR", errorCode: errorCode(item.errorCode) };
    }
    const value = item.value;
    if (value === undefined || !check(value)) {
      return { value: defaultValue, reason: "ERROR", errorCode: "TYPE_MISMATCH" };
    }
    const detail: { -readonly [K in keyof EvaluationDetail<T>]: EvaluationDetail<T>[K] } = {
      value,
      reason: reasonKind(item),
    };
    if (typeof item.variant === "string") {
      detail.variation = item.variant;
    }
    const prerequisite = item.metadata?.["prerequisite"];
    if (detail.reason === "PREREQUISITE_FAILED" && typeof prerequisite === "string") {
      detail.prerequisite = prerequisite;
    }
    return detail;
  }

  // ---- fetching --------------------------------------------------------

  #start(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new HalyardError("HalyardBrowserClient is closed"));
    }
    const promise = new Promise<void>((resolve, reject) => {
      this.#settleInit = { resolve, reject };
    });
    // Callers see the rejection; an unobserved one must not crash the process.
    promise.catch(() => {});
    const timer = this.#setTimer(() => {
      if (!this.#initialized) {
        this.#settleInit?.reject(
          new HalyardError(`HalyardBrowserClient: no evaluation from ${this.#baseUrl} within ${this.#initTimeoutMs} ms`),
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

  /** Evaluate until held, then follow the event stream, reconnecting with backoff. */
  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#closed) {
      let delay: number;
      try {
        if (this.#held === undefined) {
          await this.#refetch();
          this.#markReady();
        }
        if (!this.#streaming) {
          return;
        }
        await this.#stream(() => {
          attempt = 0;
          this.#markFresh();
        });
        this.#markStale(undefined);
        delay = this.#backoff(attempt++);
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
        this.#markStale(err);
        delay = this.#backoff(attempt++);
      }
      await this.#sleep(delay);
    }
  }

  /**
   * Queues a bulk evaluation of the context current when it starts. Calls
   * made while one waits share it.
   */
  #refetch(): Promise<void> {
    if (this.#queued !== undefined) {
      return this.#queued;
    }
    const run = this.#chain.then(() => {
      this.#queued = undefined;
      return this.#fetchOnce();
    });
    this.#queued = run;
    this.#chain = run.catch(() => {});
    return run;
  }

  /** `POST /ofrep/v1/evaluate/flags` for the current context. */
  async #fetchOnce(): Promise<void> {
    if (this.#closed) {
      throw new HalyardError("HalyardBrowserClient is closed");
    }
    const context = this.#context;
    const key = canonical(context);
    const headers: Record<string, string> = {
      ...this.#authHeaders(),
      Accept: "application/json",
      "Content-Type": "application/json",
    };
    if (this.#etag !== undefined && this.#heldFor === key) {
      headers["If-None-Match"] = this.#etag;
    }
    const controller = new AbortController();
    const unlink = link(this.#abort.signal, controller);
    const timer = this.#setTimer(() => controller.abort(), Math.max(this.#initTimeoutMs, 1_000));
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(`${this.#baseUrl}/ofrep/v1/evaluate/flags`, {
        method: "POST",
        headers,
        body: JSON.stringify({ context }),
        signal: controller.signal,
        cache: "no-store",
      });
      if (response.status === 304 && this.#heldFor === key) {
        await response.arrayBuffer();
        this.#revision = revisionOf(response) ?? this.#revision;
        return;
      }
      if (response.status !== 200 && response.status !== 400) {
        throw await httpError(response, "evaluating the flags");
      }
      text = await response.text();
    } finally {
      this.#clearTimer(timer);
      unlink();
    }
    if (this.#context !== context) {
      // setContext ran meanwhile; its own refetch is queued.
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text) as unknown;
    } catch (error) {
      throw new HalyardError(`the OFREP response from ${this.#baseUrl} is not JSON: ${message(error)}`, response.status);
    }
    let next: Held;
    if (response.status === 400) {
      // A bulkEvaluationFailure: the whole context was refused.
      const failure = isRecord(body) ? body : {};
      const code = typeof failure["errorCode"] === "string" ? failure["errorCode"] : "GENERAL";
      const details = typeof failure["errorDetails"] === "string" ? failure["errorDetails"] : "";
      next = { kind: "failure", errorCode: errorCode(code), details };
      this.#report(new HalyardError(`Halyard: the edge refused the context: ${code}${details === "" ? "" : `: ${details}`}`, 400, code));
    } else {
      const flags = isRecord(body) ? body["flags"] : undefined;
      if (!Array.isArray(flags)) {
        throw new HalyardError(`the OFREP response from ${this.#baseUrl} has no "flags" array`, response.status);
      }
      const map = new Map<string, OfrepItem>();
      for (const item of flags) {
        if (isRecord(item) && typeof item["key"] === "string") {
          map.set(item["key"], item as unknown as OfrepItem);
        }
      }
      next = { kind: "flags", flags: map };
    }
    const changed = changedKeys(this.#held, next);
    this.#held = next;
    this.#heldFor = key;
    this.#etag = response.status === 200 ? (response.headers.get("etag") ?? undefined) : undefined;
    this.#revision = revisionOf(response) ?? this.#revision;
    if (changed.length > 0 && this.#initialized && !this.#closed) {
      const event: ChangeEvent = { keys: changed, revision: this.#revision };
      this.#events.emit("change", event);
    }
  }

  /** One connection to `GET /api/client/events`: each `refetchEvaluation` refetches. */
  async #stream(onOpen: () => void): Promise<void> {
    const headers = this.#authHeaders();
    if (this.#lastEventId !== undefined) {
      headers["Last-Event-ID"] = this.#lastEventId;
    }
    await readEventStream({
      fetch: this.#fetch,
      url: `${this.#baseUrl}/api/client/events`,
      headers,
      signal: this.#abort.signal,
      idleMs: this.#idleMs,
      what: "the event stream",
      onOpen,
      onEvent: (event, stop) => {
        if (this.#closed || !isRefetch(event.data)) {
          return;
        }
        const id = event.id;
        // `<epoch>-<revision>`: compared whole, since revisions of
        // different epochs (a restore, a re-created environment) are
        // unrelated. A notice equal to the last one handled (the one sent
        // on reconnect) needs no refetch; any other does, and costs a 304
        // when nothing changed for this context.
        const notice = noticeEtag(event.data);
        if (notice !== undefined && notice === this.#lastNotice) {
          this.#lastEventId = id;
          return;
        }
        this.#refetch().then(
          () => {
            if (id !== undefined) {
              this.#lastEventId = id;
            }
            this.#lastNotice = notice;
          },
          // Reconnect from the last notice handled, so this one is replayed.
          (error: unknown) => stop(asError(error)),
        );
      },
      onRetry: (ms) => {
        this.#retryMs = ms;
      },
    });
  }

  #markStale(error: Error | undefined): void {
    if (this.#stale || this.#closed) {
      return;
    }
    this.#stale = true;
    if (this.#initialized) {
      this.#events.emit("stale", { error });
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
    return { "X-API-Key": this.#clientKey };
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

/** A string is the `targetingKey`; anything else is sent as given (the edge judges it). */
function toContext(context: ContextInput): { readonly [attribute: string]: unknown } {
  return typeof context === "string" ? { targetingKey: context } : context;
}

/** JSON with object keys sorted, to compare contexts. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isRecord(v) && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** OFREP reason (+ `metadata.halyardReason`) → Halyard reason (§7.4). */
function reasonKind(item: OfrepItem): ReasonKind {
  if (item.metadata?.["halyardReason"] === "PREREQUISITE_FAILED") {
    return "PREREQUISITE_FAILED";
  }
  switch (item.reason) {
    case "DISABLED":
    case "TARGETING_MATCH":
    case "SPLIT":
      return item.reason;
    default:
      // STATIC (a fixed default variation), and anything a later edge may send.
      return "DEFAULT";
  }
}

/** OFREP error code → the client's (`PARSE_ERROR` and unknown codes are `GENERAL`). */
function errorCode(code: string): ClientErrorCode {
  switch (code) {
    case "FLAG_NOT_FOUND":
    case "TYPE_MISMATCH":
    case "INVALID_CONTEXT":
    case "TARGETING_KEY_MISSING":
    case "GENERAL":
    case "PROVIDER_NOT_READY":
      return code;
    default:
      return "GENERAL";
  }
}

/** The flags whose result differs between two answers. */
function changedKeys(before: Held | undefined, after: Held): string[] {
  const a = before?.kind === "flags" ? before.flags : new Map<string, OfrepItem>();
  const b = after.kind === "flags" ? after.flags : new Map<string, OfrepItem>();
  if (before?.kind !== after.kind && (before?.kind === "failure" || after.kind === "failure")) {
    return [...new Set([...a.keys(), ...b.keys()])];
  }
  const keys = new Set<string>();
  for (const [key, item] of a) {
    if (!b.has(key) || JSON.stringify(item) !== JSON.stringify(b.get(key))) {
      keys.add(key);
    }
  }
  for (const key of b.keys()) {
    if (!a.has(key)) {
      keys.add(key);
    }
  }
  return [...keys];
}

/** The `etag` of a refetch notice (`<epoch>-<revision>`). */
function noticeEtag(data: string): string | undefined {
  try {
    const json = JSON.parse(data) as unknown;
    return isRecord(json) && typeof json["etag"] === "string" ? json["etag"] : undefined;
  } catch {
    return undefined;
  }
}

function isRefetch(data: string): boolean {
  try {
    const json = JSON.parse(data) as unknown;
    return isRecord(json) && json["type"] === "refetchEvaluation";
  } catch {
    return false;
  }
}

function revisionOf(response: Response): number | undefined {
  const header = response.headers.get(REVISION_HEADER);
  return header !== null && /^[0-9]+$/.test(header) ? Number(header) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
