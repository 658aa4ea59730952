// JSON documents compared and shown regardless of their keys' order.

/** `value` with the keys of every object sorted. */
export function sortedJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedJson);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortedJson((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** Structural equality of two JSON documents (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortedJson(a)) === JSON.stringify(sortedJson(b));
}

/** Pretty-printed with sorted keys, one line per value ("" for nothing). */
export function prettyJson(value: unknown): string {
  return value === undefined || value === null ? "" : JSON.stringify(sortedJson(value), null, 2) + "\n";
}
