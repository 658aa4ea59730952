// Small pure helpers shared by the flag screens: display text, relative
// times, config comparison and operand parsing.
import type { FlagConfig, JsonValue, OperandKind, Serve, Variation } from "../../api/model";
import { jsonEqual } from "../json";

/** A variation's text for labels: its name, else its value; the key is added when that is ambiguous. */
export function variationDisplay(variation: Variation, all: readonly Variation[]): string {
  const base = (v: Variation) =>
    v.name ? v.name : typeof v.value === "string" ? v.value : JSON.stringify(v.value);
  const text = base(variation);
  const clash = all.some((v) => v.key !== variation.key && base(v) === text);
  return clash || text === "" ? `${text} (${variation.key})` : text;
}

/** Select options for the variations of a flag. */
export function variationOptions(variations: readonly Variation[]): { value: string; label: string }[] {
  return variations.map((v) => ({ value: v.key, label: variationDisplay(v, variations) }));
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "3 minutes ago", "yesterday"... */
export function relativeTime(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.round((then - now) / 1000);
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      if (unit === "second" && Math.abs(seconds) < 10) return "just now";
      return rtf.format(Math.round(seconds / size), unit);
    }
  }
  return "";
}

function normalizeServe(serve: Serve): unknown {
  if ("variation" in serve) return { variation: serve.variation };
  const r = serve.rollout;
  return {
    rollout: {
      bucketing: r.bucketing ?? "v2",
      bucket_by: r.bucket_by || undefined,
      salt: r.salt ?? undefined,
      weights: r.weights,
    },
  };
}

/**
 * A configuration with its defaults spelled out and its no-op parts removed
 * (empty target lists, `negate: false`, null ids), for "has anything changed".
 */
export function normalizeConfig(config: FlagConfig): unknown {
  return {
    enabled: config.enabled,
    off_variation: config.off_variation,
    targets: config.targets.filter((t) => t.values.length > 0),
    rules: config.rules.map((r) => ({
      id: r.id ?? undefined,
      description: r.description || undefined,
      clauses: r.clauses.map((c) => ({
        attribute: c.attribute ?? undefined,
        operator: c.operator,
        values: c.values,
        negate: c.negate || undefined,
      })),
      serve: normalizeServe(r.serve),
    })),
    default: normalizeServe(config.default),
    prerequisites: config.prerequisites,
  };
}

export function sameConfig(a: FlagConfig, b: FlagConfig): boolean {
  return jsonEqual(normalizeConfig(a), normalizeConfig(b));
}

/** A configuration without its version (for previews and diffs). */
export function withoutVersion(config: FlagConfig | undefined): Omit<FlagConfig, "version"> | undefined {
  if (!config) return undefined;
  const { version: _version, ...rest } = config;
  void _version;
  return rest;
}

/** How a clause operand is shown in a tag input. */
export function operandText(value: JsonValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export type InValueType = "string" | "number" | "boolean";

/** Parses a typed tag as an operand of `kind` (for `in`: of `inType`). */
export function parseOperand(text: string, kind: OperandKind, inType: InValueType = "string"): JsonValue {
  const trimmed = text.trim();
  switch (kind) {
    case "number": {
      const n = Number(trimmed);
      return trimmed !== "" && Number.isFinite(n) ? n : text;
    }
    case "date": {
      // Epoch milliseconds are numbers; anything else is an RFC 3339 string.
      return /^-?\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
    }
    case "any": {
      if (inType === "number") {
        const n = Number(trimmed);
        return trimmed !== "" && Number.isFinite(n) ? n : text;
      }
      if (inType === "boolean") {
        if (trimmed === "true") return true;
        if (trimmed === "false") return false;
        return text;
      }
      return text;
    }
    default:
      return text;
  }
}

/** What is wrong with an operand on the client side (before the server says it). */
export function operandProblem(value: JsonValue, kind: OperandKind, inType: InValueType = "string"): string | undefined {
  if (kind === "number" && typeof value !== "number") return `${operandText(value)} is not a number`;
  if (kind === "any" && inType === "number" && typeof value !== "number") return `${operandText(value)} is not a number`;
  if (kind === "any" && inType === "boolean" && typeof value !== "boolean") return `${operandText(value)} is not true or false`;
  return undefined;
}

/** The type of the operands of an `in` clause (from its first operand). */
export function inValueType(values: readonly JsonValue[]): InValueType {
  const first = values[0];
  if (typeof first === "number") return "number";
  if (typeof first === "boolean") return "boolean";
  return "string";
}
