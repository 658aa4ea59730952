// The server's validation error (a 400 with `path`) put next to the field
// the path names. Paths are relative to the configuration (`rules[0].
// clauses[1].values[0]`); a leading `config.` is removed.
import { createContext, useContext, type ReactNode } from "react";
import type { FlagConfig } from "../../api/model";

export interface FieldError {
  path: string;
  message: string;
  /** The value at `path` when the error was reported (the error is hidden once it changes). */
  value?: string;
}

/** The value at an error path (`rules[0].clauses[1].values`) of a document, as JSON text. */
export function valueAtPath(doc: unknown, path: string): string {
  let node: unknown = doc;
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (node === null || typeof node !== "object") return "undefined";
    node = m[2] !== undefined ? (node as unknown[])[Number(m[2])] : (node as Record<string, unknown>)[m[1]];
  }
  return JSON.stringify(node) ?? "undefined";
}

/** `error` while the value it is about is unchanged in `doc`. */
export function currentError(error: FieldError | null, doc: unknown): FieldError | null {
  if (!error || error.value === undefined) return error;
  return valueAtPath(doc, error.path) === error.value ? error : null;
}

const FieldErrorContext = createContext<FieldError | null>(null);

export function FieldErrorProvider({ error, children }: { error: FieldError | null; children: ReactNode }) {
  return <FieldErrorContext.Provider value={error}>{children}</FieldErrorContext.Provider>;
}

/** Whether `path` is `prefix` or lies under it. */
export function pathUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix + ".") || path.startsWith(prefix + "[");
}

/** The error's message when its path lies under `prefix` and under none of `except`. */
export function useFieldError(prefix: string, except: readonly string[] = []): string | undefined {
  const error = useContext(FieldErrorContext);
  if (!error || !pathUnder(error.path, prefix)) return undefined;
  if (except.some((e) => pathUnder(error.path, e))) return undefined;
  return error.message;
}

/** The error's message when its path lies under one of `prefixes`. */
export function useFieldErrorIn(prefixes: readonly string[]): string | undefined {
  const error = useContext(FieldErrorContext);
  if (!error) return undefined;
  return prefixes.some((p) => pathUnder(error.path, p)) ? error.message : undefined;
}

/** An API error's message without the `path: ` it starts with (the field shows where). */
export function messageWithoutPath(message: string, path: string | undefined): string {
  return path && message.startsWith(path + ": ") ? message.slice(path.length + 2) : message;
}

/** A configuration error path, without the `config.` prefix a whole-flag check adds. */
export function normalizeErrorPath(path: string | undefined): string {
  if (!path) return "";
  return path.startsWith("config.") ? path.slice("config.".length) : path;
}

/**
 * Whether a field of the form shows an error at `path` (otherwise the form
 * shows it in an alert above the Save button).
 */
export function isMappedPath(path: string, config: FlagConfig, variationKeys: readonly string[]): boolean {
  if (path === "enabled" || path === "off_variation" || path === "prerequisites") return true;
  let m = /^targets\[(\d+)\]/.exec(path);
  if (m) {
    const target = config.targets[Number(m[1])];
    return !!target && variationKeys.includes(target.variation);
  }
  m = /^rules\[(\d+)\]/.exec(path);
  if (m) return Number(m[1]) < config.rules.length;
  if (pathUnder(path, "default")) return true;
  m = /^prerequisites\[(\d+)\]/.exec(path);
  if (m) return Number(m[1]) < config.prerequisites.length;
  return false;
}
