/**
 * A server-sent events parser (the WHATWG `text/event-stream` rules) for
 * streams read with `fetch`: `EventSource` cannot send the SDK key in a
 * header, so the SDK reads the response body itself. Browser-safe.
 */

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
