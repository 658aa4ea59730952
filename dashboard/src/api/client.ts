// The one way the dashboard talks to the control plane: same-origin fetch
// with the session cookie, the CSRF header on every state-changing request,
// and API errors turned into `ApiError` (status, machine code, message, the
// field's path when the API names one).

export interface ErrorBody {
  error: string;
  message: string;
  path?: string;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly path?: string;
  readonly body?: ErrorBody;

  constructor(status: number, body: ErrorBody | undefined, fallback: string) {
    super(body?.message ?? fallback);
    this.name = "ApiError";
    this.status = status;
    this.code = body?.error ?? "http_" + status;
    this.path = body?.path;
    this.body = body;
  }
}

let csrfToken: string | undefined;
let onUnauthorized: (() => void) | undefined;

/** Set by the session provider after sign-in (and cleared at sign-out). */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when a request answers 401 (the session expired or was revoked). */
export function setUnauthorizedHandler(handler: (() => void) | undefined): void {
  onUnauthorized = handler;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as `If-Match` (optimistic concurrency on updates). */
  ifMatch?: number;
  signal?: AbortSignal;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.ifMatch !== undefined) headers["If-Match"] = `"${options.ifMatch}"`;
  if (!SAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, undefined, "Cannot reach the Halyard server. Check that it is running.");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    if (response.status === 401 && path !== "/api/admin/session") onUnauthorized?.();
    throw new ApiError(response.status, parsed as ErrorBody | undefined, `${response.status} ${response.statusText}`);
  }
  return parsed as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>("GET", path, { signal });
