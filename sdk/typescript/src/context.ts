/**
 * The evaluation context and attribute references (`docs/evaluation.md` §2).
 *
 * A context is a JSON object. Its targeting key comes from the first of
 * `targetingKey`, `userId`, `user_id` that is present and not `null`; that
 * field must be a string (the empty string is a present key). Every field is
 * also an attribute that rules can reference.
 */

import type { JsonObject, JsonValue } from "./model.js";

/** The names a targeting key may be given under, in order of precedence. */
export const TARGETING_KEY_FIELDS = ["targetingKey", "userId", "user_id"] as const;

/** Who a flag is evaluated for: a checked JSON object. */
export interface Context {
  /** The effective targeting key; `undefined` for an anonymous context. */
  readonly targetingKey: string | undefined;
  /** Every field as given (the key fields included). */
  readonly attributes: JsonObject;
}

/** Why a JSON value is not a usable context (`INVALID_CONTEXT`). */
export type ContextError =
  | { readonly kind: "not_an_object" }
  | { readonly kind: "key_not_a_string"; readonly field: (typeof TARGETING_KEY_FIELDS)[number] };

/** The outcome of {@link parseContext}. */
export type ContextResult =
  | { readonly ok: true; readonly context: Context }
  | { readonly ok: false; readonly error: ContextError };

/** Whether `value` is a JSON object (not an array, not `null`). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The own member `name` of `object` (never an inherited property such as `toString`). */
export function member(object: JsonObject, name: string): JsonValue | undefined {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

/** Checks a JSON value as an evaluation context (§2.1). */
export function parseContext(value: unknown): ContextResult {
  if (!isJsonObject(value)) {
    return { ok: false, error: { kind: "not_an_object" } };
  }
  for (const field of TARGETING_KEY_FIELDS) {
    const key = member(value, field);
    if (key === undefined || key === null) {
      continue;
    }
    if (typeof key !== "string") {
      return { ok: false, error: { kind: "key_not_a_string", field } };
    }
    return { ok: true, context: { targetingKey: key, attributes: value } };
  }
  return { ok: true, context: { targetingKey: undefined, attributes: value } };
}

/**
 * A parsed attribute reference (§2.2): the effective targeting key, a
 * top-level name taken literally, or an RFC 6901 JSON pointer.
 */
export type AttributeRef =
  | { readonly kind: "targeting_key" }
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "pointer"; readonly tokens: readonly [string, ...string[]] };

/** The reference `targetingKey`. */
export const TARGETING_KEY_REF: AttributeRef = { kind: "targeting_key" };

/** Parses a reference; `undefined` when it is empty or a malformed pointer. */
export function parseAttributeRef(text: string): AttributeRef | undefined {
  if (text === "") {
    return undefined;
  }
  if (text === "targetingKey") {
    return TARGETING_KEY_REF;
  }
  if (!text.startsWith("/")) {
    return { kind: "name", name: text };
  }
  const tokens: string[] = [];
  for (const raw of text.slice(1).split("/")) {
    // `~` must be followed by 0 or 1 (RFC 6901 §3).
    if (/~(?![01])/.test(raw)) {
      return undefined;
    }
    tokens.push(raw.replace(/~[01]/g, (escape) => (escape === "~0" ? "~" : "/")));
  }
  const [first, ...rest] = tokens;
  return first === undefined ? undefined : { kind: "pointer", tokens: [first, ...rest] };
}

/** RFC 6901 array index: `0` or ASCII digits without a leading zero. */
const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;

/**
 * Looks an attribute up; `undefined` when absent. `null` counts as absent,
 * at the end of the path and on the way.
 */
export function resolveAttribute(ref: AttributeRef, context: Context): JsonValue | undefined {
  let value: JsonValue | undefined;
  switch (ref.kind) {
    case "targeting_key":
      return context.targetingKey;
    case "name":
      value = member(context.attributes, ref.name);
      break;
    case "pointer": {
      value = member(context.attributes, ref.tokens[0]);
      for (let i = 1; i < ref.tokens.length && value !== undefined; i++) {
        const token = ref.tokens[i]!;
        if (Array.isArray(value)) {
          value = ARRAY_INDEX.test(token) ? value[Number(token)] : undefined;
        } else if (isJsonObject(value)) {
          value = member(value, token);
        } else {
          value = undefined;
        }
      }
      break;
    }
  }
  return value === null ? undefined : value;
}
