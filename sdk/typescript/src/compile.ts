/**
 * Checks a flag or segment and builds its evaluation-ready form, once per
 * snapshot: variations resolved to indices, target and segment lists as sets,
 * SemVer and date operands parsed, rollouts laid out as bucket ranges.
 *
 * The checks are those evaluation relies on (a subset of §9.2: references to
 * variations, operand types and syntax, rollout weights); the server ran the
 * full per-document checks before the snapshot reached the SDK. A failure
 * throws a {@link ValidationError} whose path is relative to the document.
 */

import {
  TARGETING_KEY_REF,
  type AttributeRef,
  parseAttributeRef,
} from "./context.js";
import { dateMsFromNumber, dateMsFromString } from "./date.js";
import { V1_BUCKETS, V2_BUCKETS } from "./hashing.js";
import type {
  Bucketing,
  Clause,
  EnvironmentFlag,
  FlagKind,
  JsonValue,
  Operator,
  Segment,
  Serve,
  Variation,
} from "./model.js";
import { matchesPattern } from "./regex.js";
import { parseSemVer, type SemVer } from "./semver.js";

/** A document that cannot be evaluated: where (`path`) and what (`code`, §9.2). */
export class ValidationError extends Error {
  /** The path of the offending field (`config.rules[0].clauses[1].values[0]`). */
  readonly path: string;
  /** The machine-readable code of §9.2 (`unknown_variation`, ...). */
  readonly code: string;

  /** An error at `path` with `code`. */
  constructor(path: string, code: string, message: string) {
    super(path === "" ? `${code}: ${message}` : `${path}: ${code}: ${message}`);
    this.name = "ValidationError";
    this.path = path;
    this.code = code;
  }
}

/** A comparison of an attribute value with an operand. */
export type Comparison = "eq" | "lt" | "lte" | "gt" | "gte";

/** Whether `a cmp b` holds, comparing doubles. */
export function holds(cmp: Comparison, a: number, b: number): boolean {
  switch (cmp) {
    case "eq":
      return a === b;
    case "lt":
      return a < b;
    case "lte":
      return a <= b;
    case "gt":
      return a > b;
    case "gte":
      return a >= b;
  }
}

/** What a compiled clause tests, with its operands parsed. */
export type Test =
  | {
      readonly op: "in";
      readonly strings: ReadonlySet<string>;
      readonly numbers: readonly number[];
      readonly hasTrue: boolean;
      readonly hasFalse: boolean;
    }
  | { readonly op: "starts_with" | "ends_with" | "contains" | "matches"; readonly values: readonly string[] }
  | { readonly op: "semver"; readonly cmp: Comparison; readonly versions: readonly SemVer[] }
  | { readonly op: "number"; readonly cmp: Comparison; readonly numbers: readonly number[] }
  | { readonly op: "date"; readonly cmp: "lt" | "gt"; readonly dates: readonly number[] }
  | { readonly op: "exists" }
  | { readonly op: "in_segment"; readonly segments: readonly string[] };

/** A clause ready for evaluation. */
export interface CompiledClause {
  /** The attribute tested (`targetingKey` for `in_segment`). */
  readonly attribute: AttributeRef;
  /** Inverts the result (see §4.1). */
  readonly negate: boolean;
  /** The test and its operands. */
  readonly test: Test;
}

/** A rollout laid out as consecutive bucket ranges. */
export interface CompiledRollout {
  /** The bucketing version. */
  readonly bucketing: Bucketing;
  /** v2: the salt (the flag key unless given). */
  readonly salt: string;
  /** The attribute hashed. */
  readonly bucketBy: AttributeRef;
  /** `[upper bound (exclusive), variation index]`, in order. */
  readonly ranges: readonly (readonly [number, number])[];
}

/** A serve: a variation index or a rollout. */
export type CompiledServe =
  | { readonly kind: "variation"; readonly index: number }
  | { readonly kind: "rollout"; readonly rollout: CompiledRollout };

/** A rule ready for evaluation. */
export interface CompiledRule {
  /** All must match. */
  readonly clauses: readonly CompiledClause[];
  /** What matching contexts get. */
  readonly serve: CompiledServe;
  /** The rule's id, reported as `rule_id`. */
  readonly id: string | undefined;
}

/** A non-empty target entry. */
export interface CompiledTarget {
  /** Index of the variation served. */
  readonly variation: number;
  /** The targeted keys. */
  readonly keys: ReadonlySet<string>;
}

/** A flag ready for evaluation. */
export interface CompiledFlag {
  /** The model this was compiled from. */
  readonly source: EnvironmentFlag;
  /** The flag's key. */
  readonly key: string;
  /** The flag's kind. */
  readonly kind: FlagKind;
  /** Whether the flag is enabled in this environment. */
  readonly enabled: boolean;
  /** The variations, in order. */
  readonly variations: readonly Variation[];
  /** Index of the off variation. */
  readonly off: number;
  /** Target entries with at least one key. */
  readonly targets: readonly CompiledTarget[];
  /** The rules, in order. */
  readonly rules: readonly CompiledRule[];
  /** The default serve. */
  readonly default: CompiledServe;
}

/** A segment ready for evaluation. */
export interface CompiledSegment {
  /** The model this was compiled from. */
  readonly source: Segment;
  /** The segment's key. */
  readonly key: string;
  /** Targeting keys in the segment (unless excluded). */
  readonly included: ReadonlySet<string>;
  /** Targeting keys never in the segment. */
  readonly excluded: ReadonlySet<string>;
  /** Rules, each a list of clauses that must all match. */
  readonly rules: readonly (readonly CompiledClause[])[];
}

const KEY = /^[A-Za-z0-9._-]{1,128}$/;

function admits(kind: FlagKind, value: JsonValue): boolean {
  switch (kind) {
    case "boolean":
      return typeof value === "boolean";
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number";
    case "json":
      return true;
  }
}

/** Checks a flag and builds its evaluation-ready form; throws {@link ValidationError}. */
export function compileFlag(source: EnvironmentFlag): CompiledFlag {
  const { flag, config } = source;
  if (!KEY.test(flag.key)) {
    throw new ValidationError("flag.key", "invalid_value", `invalid key ${JSON.stringify(flag.key)}`);
  }
  if (flag.variations.length === 0) {
    throw new ValidationError("flag.variations", "invalid_variations", "a flag needs at least one variation");
  }
  const seen = new Set<string>();
  flag.variations.forEach((v, i) => {
    if (seen.has(v.key)) {
      throw new ValidationError(`flag.variations[${i}].key`, "duplicate_key", v.key);
    }
    seen.add(v.key);
    if (!admits(flag.kind, v.value)) {
      throw new ValidationError(`flag.variations[${i}].value`, "type_mismatch", `not a ${flag.kind}`);
    }
  });
  if (flag.kind === "boolean") {
    const pair =
      flag.variations.length === 2 &&
      flag.variations.every((v) => (v.key === "true" && v.value === true) || (v.key === "false" && v.value === false));
    if (!pair) {
      throw new ValidationError("flag.variations", "invalid_variations", "a boolean flag has exactly the variations true and false");
    }
  }

  const variation = (key: string, path: string): number => {
    const index = flag.variations.findIndex((v) => v.key === key);
    if (index < 0) {
      throw new ValidationError(path, "unknown_variation", key);
    }
    return index;
  };

  const off = variation(config.off_variation, "config.off_variation");
  const targets: CompiledTarget[] = [];
  (config.targets ?? []).forEach((target, i) => {
    const index = variation(target.variation, `config.targets[${i}].variation`);
    // An empty list never matches, so it must not make the flag need a key.
    if (target.values.length > 0) {
      targets.push({ variation: index, keys: new Set(target.values) });
    }
  });
  (config.prerequisites ?? []).forEach((prerequisite, i) => {
    if (prerequisite.flag === flag.key) {
      throw new ValidationError(`config.prerequisites[${i}].flag`, "prerequisite_cycle", `${flag.key} -> ${flag.key}`);
    }
  });
  const rules = (config.rules ?? []).map((rule, i): CompiledRule => {
    const at = `config.rules[${i}]`;
    return {
      clauses: compileClauses(rule.clauses, true, at),
      serve: compileServe(flag.key, rule.serve, variation, `${at}.serve`),
      id: rule.id ?? undefined,
    };
  });
  return {
    source,
    key: flag.key,
    kind: flag.kind,
    enabled: config.enabled,
    variations: flag.variations,
    off,
    targets,
    rules,
    default: compileServe(flag.key, config.default, variation, "config.default"),
  };
}

/** Checks a segment and builds its evaluation-ready form; throws {@link ValidationError}. */
export function compileSegment(source: Segment): CompiledSegment {
  if (!KEY.test(source.key)) {
    throw new ValidationError("key", "invalid_value", `invalid key ${JSON.stringify(source.key)}`);
  }
  return {
    source,
    key: source.key,
    included: new Set(source.included ?? []),
    excluded: new Set(source.excluded ?? []),
    rules: (source.rules ?? []).map((rule, i) => compileClauses(rule.clauses, false, `rules[${i}]`)),
  };
}

function compileServe(
  flagKey: string,
  serve: Serve,
  variation: (key: string, path: string) => number,
  path: string,
): CompiledServe {
  if ("variation" in serve) {
    if ("rollout" in serve) {
      throw new ValidationError(path, "invalid_value", "a serve has exactly one member");
    }
    return { kind: "variation", index: variation(serve.variation, `${path}.variation`) };
  }
  const rollout = serve.rollout;
  const at = `${path}.rollout`;
  const bucketing = rollout.bucketing ?? "v2";
  let salt = flagKey;
  if (rollout.salt !== undefined && rollout.salt !== null) {
    if (bucketing === "v1") {
      throw new ValidationError(`${at}.salt`, "invalid_rollout", "bucketing v1 always hashes the flag key; salt needs v2");
    }
    salt = rollout.salt;
  }
  let bucketBy = TARGETING_KEY_REF;
  if (rollout.bucket_by !== undefined && rollout.bucket_by !== null) {
    const parsed = parseAttributeRef(rollout.bucket_by);
    if (parsed === undefined) {
      throw new ValidationError(`${at}.bucket_by`, "invalid_attribute", rollout.bucket_by);
    }
    bucketBy = parsed;
  }
  const used = new Set<number>();
  const ranges: (readonly [number, number])[] = [];
  let upper = 0;
  rollout.weights.forEach((weighted, i) => {
    const path = `${at}.weights[${i}].variation`;
    const index = variation(weighted.variation, path);
    if (used.has(index)) {
      throw new ValidationError(path, "duplicate_key", weighted.variation);
    }
    used.add(index);
    upper += weighted.weight;
    ranges.push([upper, index]);
  });
  const total = bucketing === "v1" ? V1_BUCKETS : V2_BUCKETS;
  if (upper !== total) {
    throw new ValidationError(`${at}.weights`, "invalid_weights", `${bucketing} weights sum to ${upper}, not ${total}`);
  }
  return { kind: "rollout", rollout: { bucketing, salt, bucketBy, ranges } };
}

function compileClauses(clauses: readonly Clause[], allowSegments: boolean, path: string): CompiledClause[] {
  return clauses.map((clause, i) => compileClause(clause, allowSegments, `${path}.clauses[${i}]`));
}

const SEMVER_CMP: Partial<Record<Operator, Comparison>> = {
  semver_eq: "eq",
  semver_lt: "lt",
  semver_lte: "lte",
  semver_gt: "gt",
  semver_gte: "gte",
};

const NUMBER_CMP: Partial<Record<Operator, Comparison>> = {
  number_eq: "eq",
  number_lt: "lt",
  number_lte: "lte",
  number_gt: "gt",
  number_gte: "gte",
};

function compileClause(clause: Clause, allowSegments: boolean, path: string): CompiledClause {
  const { operator } = clause;
  const text = clause.attribute ?? undefined;
  let attribute: AttributeRef;
  if (operator === "in_segment") {
    if (text !== undefined && text !== "targetingKey") {
      throw new ValidationError(`${path}.attribute`, "invalid_attribute", `${text} (in_segment always uses targetingKey)`);
    }
    attribute = TARGETING_KEY_REF;
  } else if (text === undefined) {
    throw new ValidationError(`${path}.attribute`, "invalid_value", "missing field `attribute`");
  } else {
    const parsed = parseAttributeRef(text);
    if (parsed === undefined) {
      throw new ValidationError(`${path}.attribute`, "invalid_attribute", text);
    }
    attribute = parsed;
  }

  const values = clause.values ?? [];
  if (operator === "exists" && values.length > 0) {
    throw new ValidationError(`${path}.values`, "unexpected_values", "exists takes no operands");
  }
  if (operator !== "exists" && values.length === 0) {
    throw new ValidationError(`${path}.values`, "empty_values", "at least one operand is required");
  }
  const mismatch = (i: number, expected: string) =>
    new ValidationError(`${path}.values[${i}]`, "type_mismatch", `expected ${expected}`);
  const strings = (): string[] =>
    values.map((v, i) => {
      if (typeof v !== "string") {
        throw mismatch(i, "a string");
      }
      return v;
    });

  const test = ((): Test => {
    switch (operator) {
      case "in": {
        const set = new Set<string>();
        const numbers: number[] = [];
        let hasTrue = false;
        let hasFalse = false;
        values.forEach((v, i) => {
          if (typeof v === "string") {
            set.add(v);
          } else if (typeof v === "number") {
            numbers.push(v);
          } else if (v === true) {
            hasTrue = true;
          } else if (v === false) {
            hasFalse = true;
          } else {
            throw mismatch(i, "a string, number or boolean");
          }
        });
        return { op: "in", strings: set, numbers, hasTrue, hasFalse };
      }
      case "starts_with":
      case "ends_with":
      case "contains":
        return { op: operator, values: strings() };
      case "matches": {
        const patterns = strings();
        patterns.forEach((p, i) => {
          if (matchesPattern(p, "") === undefined) {
            throw new ValidationError(`${path}.values[${i}]`, "invalid_regex", p);
          }
        });
        return { op: "matches", values: patterns };
      }
      case "semver_eq":
      case "semver_lt":
      case "semver_lte":
      case "semver_gt":
      case "semver_gte": {
        const versions = strings().map((s, i) => {
          const version = parseSemVer(s);
          if (version === undefined) {
            throw new ValidationError(`${path}.values[${i}]`, "invalid_semver", s);
          }
          return version;
        });
        return { op: "semver", cmp: SEMVER_CMP[operator]!, versions };
      }
      case "number_eq":
      case "number_lt":
      case "number_lte":
      case "number_gt":
      case "number_gte": {
        const numbers = values.map((v, i) => {
          if (typeof v !== "number") {
            throw mismatch(i, "a number");
          }
          return v;
        });
        return { op: "number", cmp: NUMBER_CMP[operator]!, numbers };
      }
      case "date_before":
      case "date_after": {
        const dates = values.map((v, i) => {
          let ms: number | undefined;
          if (typeof v === "string") {
            ms = dateMsFromString(v);
          } else if (typeof v === "number") {
            ms = dateMsFromNumber(v);
          } else {
            throw mismatch(i, "an RFC 3339 string or epoch milliseconds");
          }
          if (ms === undefined) {
            throw new ValidationError(`${path}.values[${i}]`, "invalid_date", JSON.stringify(v));
          }
          return ms;
        });
        return { op: "date", cmp: operator === "date_before" ? "lt" : "gt", dates };
      }
      case "exists":
        return { op: "exists" };
      case "in_segment": {
        if (!allowSegments) {
          throw new ValidationError(`${path}.operator`, "nested_segment", "in_segment is not allowed in a segment");
        }
        const segments = strings();
        segments.forEach((s, i) => {
          if (!KEY.test(s)) {
            throw new ValidationError(`${path}.values[${i}]`, "invalid_key", s);
          }
        });
        return { op: "in_segment", segments };
      }
      default: {
        const unknown: never = operator;
        throw new ValidationError(`${path}.operator`, "invalid_value", `unknown operator ${String(unknown)}`);
      }
    }
  })();
  return { attribute, negate: clause.negate ?? false, test };
}
