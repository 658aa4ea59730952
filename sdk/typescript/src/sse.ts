/**
 * A server-sent events parser (the WHATWG `text/event-stream` rules) for
 * streams read with `fetch`: `EventSource` cannot send the SDK key in a
 * header, so the SDK reads the response body itself. Browser-safe.
 */

import { type FetchLike, HalyardError, MIN_RETRY_MS, httpError, link } from "./http.js";

/** One dispatched event. */
export interface SseEvent {
  /** The `event:` field; `"message"` when absent. */
  readonly event: string;
  /** The `data:` lines joined with `\n`. */
  readonly data: string;
  /** The `id:` field of this event, if it had one. */
  readonly id: string | undefined;
}

/**
 * Incremental parser: feed it decoded text as it arrives; it calls
 * `onEvent` for each complete event and `onRetry` for each `retry:` field.
 */
export class SseParser {
  #buffer = "";
  #event = "";
  #data: string[] = [];
  #id: string | undefined;
  #sawCr = false;
  readonly #onEvent: (event: SseEvent) => void;
  readonly #onRetry: (ms: number) => void;

  constructor(onEvent: (event: SseEvent) => void, onRetry: (ms: number) => void = () => {}) {
    this.#onEvent = onEvent;
    this.#onRetry = onRetry;
  }

  /** Parses the next chunk of text (any split, even mid-line or mid-CRLF). */
  push(text: string): void {
    if (this.#sawCr && text.startsWith("\n")) {
      // The LF of a CRLF split across chunks.
      text = text.slice(1);
    }
    this.#sawCr = false;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x0a && c !== 0x0d) {
        continue;
      }
      const line = this.#buffer + text.slice(start, i);
      this.#buffer = "";
      this.#line(line);
      if (c === 0x0d) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 0x0a) {
            i++;
          }
        } else {
          this.#sawCr = true;
        }
      }
      start = i + 1;
    }
    this.#buffer += text.slice(start);
  }

  #line(line: string): void {
    if (line === "") {
      this.#dispatch();
      return;
    }
    if (line.startsWith(":")) {
      return;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) {
      value = value.slice(1);
    }
    switch (field) {
      case "event":
        this.#event = value;
        break;
      case "data":
        this.#data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) {
          this.#id = value;
        }
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) {
          this.#onRetry(Number(value));
        }
        break;
      default:
        break;
    }
  }

  #dispatch(): void {
    const event = this.#event === "" ? "message" : this.#event;
    const data = this.#data;
    const id = this.#id;
    this.#event = "";
    this.#data = [];
    this.#id = undefined;
    if (data.length === 0) {
      return;
    }
    this.#onEvent({ event, data: data.join("\n"), id });
  }
}

/** One connection to an event stream, for {@link readEventStream}. */
export interface EventStreamOptions {
  /** The `fetch` to use. */
  readonly fetch: FetchLike;
  /** The stream's URL. */
  readonly url: string;
  /** Request headers (the key, `Last-Event-ID`); `Accept` is added. */
  readonly headers: Record<string, string>;
  /** Ends the connection when it aborts (the client's `close()`). */
  readonly signal: AbortSignal;
  /** A connection silent this long (also before it answers) is dropped. */
  readonly idleMs: number;
  /** What error messages call the stream, e.g. `"the stream"`. */
  readonly what: string;
  /** Called once the edge accepted the stream (HTTP 200). */
  readonly onOpen: () => void;
  /**
   * Called for each event. `stop()` ends the connection quietly; `stop(error)`
   * ends it with that error (also later, from an asynchronous callback).
   */
  readonly onEvent: (event: SseEvent, stop: (error?: Error) => void) => void;
  /** Called with each `retry:` the edge sends, never below {@link MIN_RETRY_MS}. */
  readonly onRetry: (ms: number) => void;
}

/**
 * Reads one event stream with `fetch` until the edge ends it, `stop()` is
 * called or `signal` aborts; rejects on an HTTP error, on silence longer
 * than `idleMs` (armed before the request, so a peer that never answers is
 * given up on too), and with the error given to `stop`.
 */
export async function readEventStream(options: EventStreamOptions): Promise<void> {
  const controller = new AbortController();
  const unlink = link(options.signal, controller);
  let idle: ReturnType<typeof setTimeout> | undefined;
  let idleFired = false;
  let stopped = false;
  let failure: Error | undefined;
  const resetIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      idleFired = true;
      controller.abort();
    }, options.idleMs);
  };
  const stop = (error?: Error) => {
    stopped = true;
    failure ??= error;
    controller.abort();
  };
  try {
    resetIdle();
    const response = await options.fetch(options.url, {
      headers: { ...options.headers, Accept: "text/event-stream" },
      signal: controller.signal,
      cache: "no-store",
    });
    if (!response.ok) {
      throw await httpError(response, `opening ${options.what}`);
    }
    if (response.body === null) {
      throw new HalyardError(`${options.what} has no body`);
    }
    options.onOpen();
    resetIdle();
    const parser = new SseParser(
      (event) => {
        if (!stopped) {
          options.onEvent(event, stop);
        }
      },
      (ms) => options.onRetry(Math.max(ms, MIN_RETRY_MS)),
    );
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    try {
      while (!stopped) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        resetIdle();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } catch (error) {
      if (failure === undefined && !stopped) {
        if (idleFired) {
          throw new HalyardError(`${options.what} sent nothing for ${options.idleMs} ms`);
        }
        throw error;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
    if (failure !== undefined) {
      throw failure;
    }
  } finally {
    clearTimeout(idle);
    controller.abort();
    unlink();
  }
}
