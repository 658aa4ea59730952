/**
 * HTTP helpers shared by the server-mode and browser clients. Browser-safe.
 */

/** The `fetch` the clients use (the global one by default). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** The shortest reconnection delay a stream's `retry:` may set. */
export const MIN_RETRY_MS = 100;

/** An HTTP or protocol failure talking to the edge. */
export class HalyardError extends Error {
  /** The HTTP status, for an HTTP error. */
  readonly status: number | undefined;
  /** The edge's `error` code (`unauthorized`, `forbidden`, ...), when it sent one. */
  readonly code: string | undefined;

  constructor(message: string, status?: number, code?: string) {
    super(message);
    this.name = "HalyardError";
    this.status = status;
    this.code = code;
  }

  /** Whether the edge refused the SDK key (401 or 403). */
  get isAuthError(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

/** Aborts `controller` when `signal` aborts; returns the unlinking function. */
export function link(signal: AbortSignal, controller: AbortController): () => void {
  if (signal.aborted) {
    controller.abort();
    return () => {};
  }
  const onAbort = () => controller.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/** An error naming the status and the edge's `{"error", "message"}`. */
export async function httpError(response: Response, what: string): Promise<HalyardError> {
  let code: string | undefined;
  let text: string | undefined;
  try {
    const body = (await response.json()) as unknown;
    if (typeof body === "object" && body !== null) {
      const record = body as Record<string, unknown>;
      code = typeof record["error"] === "string" ? record["error"] : undefined;
      text = typeof record["message"] === "string" ? record["message"] : undefined;
    }
  } catch {
    // Not the edge's JSON error body.
  }
  const detail = [code, text].filter((s) => s !== undefined).join(": ");
  const refused = response.status === 401 || response.status === 403 ? " (the SDK key was refused)" : "";
  return new HalyardError(
    `Halyard: ${what} failed with HTTP ${response.status}${refused}${detail === "" ? "" : `: ${detail}`}`,
    response.status,
    code,
  );
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

