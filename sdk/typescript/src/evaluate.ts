/**
 * The evaluation order (`docs/evaluation.md` §3):
 *
 * 1. disabled -> off variation (`DISABLED`);
 * 2. prerequisites in order: each must exist, be enabled and evaluate to the
 *    required variation, else off variation (`PREREQUISITE_FAILED`); a
 *    prerequisite whose own evaluation fails counts as unmet, except that
 *    exceeding {@link MAX_PREREQUISITE_DEPTH} fails the whole evaluation
 *    with `GENERAL`;
 * 3. individual targets (`TARGETING_MATCH`);
 * 4. rules in order, first match wins (`TARGETING_MATCH`);
 * 5. the default: a variation (`DEFAULT`) or a rollout (`SPLIT`).
 *
 * A step that compares or hashes the targeting key, reached while the
 * context has none, ends the evaluation with `TARGETING_KEY_MISSING`.
 */

import type { CompiledClause, CompiledFlag, CompiledRollout, CompiledSegment, CompiledServe, Test } from "./compile.js";
import { holds } from "./compile.js";
import { type Context, parseContext, resolveAttribute } from "./context.js";
import { dateMsFromNumber, dateMsFromString } from "./date.js";
import type { Environment } from "./environment.js";
import { bucketV1, bucketV2 } from "./hashing.js";
import type { FlagKind, JsonValue } from "./model.js";
import { matchesPattern } from "./regex.js";
import { compareSemVer, parseSemVer } from "./semver.js";
import { type ErrorCode, type Evaluation, type Reason, errorCodeOf, errorResult } from "./result.js";

/**
 * How deep prerequisite chains may go. Cycles are rejected when flags are
 * saved; this bound only guarantees that evaluation ends whatever it is given.
 */
export const MAX_PREREQUISITE_DEPTH = 32;

/**
 * Evaluates flag `flagKey` of `env` for a checked context: `FLAG_NOT_FOUND`
 * when there is no such flag; with `expectKind`, a typed evaluation that
 * fails with `TYPE_MISMATCH` (before anything else) when the flag has
 * another kind.
 */
export function evaluate(env: Environment, flagKey: string, context: Context, expectKind?: FlagKind): Evaluation {
  const flag = env.flag(flagKey);
  if (flag === undefined) {
    return errorResult("FLAG_NOT_FOUND");
  }
  if (expectKind !== undefined && flag.kind !== expectKind) {
    return errorResult("TYPE_MISMATCH");
  }
  return evaluateAt(env, flag, context, 0);
}

/**
 * {@link evaluate} for a context given as raw JSON: a value that is not a
 * valid context (§2.1) gives the `INVALID_CONTEXT` error whatever the flag.
 */
export function evaluateJson(env: Environment, flagKey: string, context: unknown, expectKind?: FlagKind): Evaluation {
  const parsed = parseContext(context);
  if (!parsed.ok) {
    return errorResult("INVALID_CONTEXT");
  }
  return evaluate(env, flagKey, parsed.context, expectKind);
}

/** Evaluates an already looked-up flag (no type check). */
export function evaluateFlag(env: Environment, flag: CompiledFlag, context: Context): Evaluation {
  return evaluateAt(env, flag, context, 0);
}

/** A clause outcome, or the error that ends the evaluation. */
type Outcome = boolean | { readonly error: ErrorCode };

function serveIndex(flag: CompiledFlag, index: number, reason: Reason): Evaluation {
  return { variation: flag.variations[index], reason };
}

function evaluateAt(env: Environment, flag: CompiledFlag, context: Context, depth: number): Evaluation {
  if (!flag.enabled) {
    return serveIndex(flag, flag.off, { kind: "DISABLED" });
  }

  for (const prerequisite of flag.source.config.prerequisites ?? []) {
    // Only reachable through a cycle or an over-deep chain, which saving
    // rejects; the error propagates so it is not mistaken for an unmet
    // prerequisite.
    if (depth >= MAX_PREREQUISITE_DEPTH) {
      return errorResult("GENERAL");
    }
    const required = env.flag(prerequisite.flag);
    let met = false;
    if (required !== undefined) {
      const result = evaluateAt(env, required, context, depth + 1);
      if (errorCodeOf(result) === "GENERAL") {
        return result;
      }
      met = required.enabled && result.variation?.key === prerequisite.variation;
    }
    if (!met) {
      return serveIndex(flag, flag.off, { kind: "PREREQUISITE_FAILED", prerequisite: prerequisite.flag });
    }
  }

  if (flag.targets.length > 0) {
    const key = context.targetingKey;
    if (key === undefined) {
      return errorResult("TARGETING_KEY_MISSING");
    }
    for (const target of flag.targets) {
      if (target.keys.has(key)) {
        return serveIndex(flag, target.variation, { kind: "TARGETING_MATCH", target: true });
      }
    }
  }

  for (let index = 0; index < flag.rules.length; index++) {
    const rule = flag.rules[index]!;
    const matched = clausesMatch(env, rule.clauses, context);
    if (matched === false) {
      continue;
    }
    if (matched !== true) {
      return errorResult(matched.error);
    }
    const picked = pick(flag, rule.serve, context);
    return typeof picked === "number"
      ? serveIndex(flag, picked, { kind: "TARGETING_MATCH", target: false, ruleIndex: index, ruleId: rule.id })
      : errorResult(picked.error);
  }

  const picked = pick(flag, flag.default, context);
  if (typeof picked !== "number") {
    return errorResult(picked.error);
  }
  return serveIndex(flag, picked, { kind: flag.default.kind === "variation" ? "DEFAULT" : "SPLIT" });
}

/** The variation index a serve gives this context. */
function pick(flag: CompiledFlag, serve: CompiledServe, context: Context): number | { readonly error: ErrorCode } {
  return serve.kind === "variation" ? serve.index : rolloutVariation(flag, serve.rollout, context);
}

function rolloutVariation(
  flag: CompiledFlag,
  rollout: CompiledRollout,
  context: Context,
): number | { readonly error: ErrorCode } {
  const value = resolveAttribute(rollout.bucketBy, context);
  if (value === undefined) {
    return { error: rollout.bucketBy.kind === "targeting_key" ? "TARGETING_KEY_MISSING" : "INVALID_CONTEXT" };
  }
  if (typeof value !== "string") {
    // Numbers are not converted to strings (§3.4).
    return { error: "INVALID_CONTEXT" };
  }
  const bucket = rollout.bucketing === "v1" ? bucketV1(flag.key, value) : bucketV2(rollout.salt, value);
  for (const [upper, index] of rollout.ranges) {
    if (bucket < upper) {
      return index;
    }
  }
  return { error: "GENERAL" };
}

function clausesMatch(env: Environment, clauses: readonly CompiledClause[], context: Context): Outcome {
  for (const clause of clauses) {
    const outcome = clauseMatches(env, clause, context);
    if (outcome !== true) {
      return outcome;
    }
  }
  return true;
}

function clauseMatches(env: Environment, clause: CompiledClause, context: Context): Outcome {
  const { test, negate } = clause;
  if (test.op === "exists") {
    return (resolveAttribute(clause.attribute, context) !== undefined) !== negate;
  }
  if (test.op === "in_segment") {
    let matched = false;
    for (const key of test.segments) {
      const segment = env.segment(key);
      if (segment === undefined) {
        continue;
      }
      const outcome = segmentMatches(env, segment, context);
      if (outcome === true) {
        matched = true;
        break;
      }
      if (outcome !== false) {
        return outcome;
      }
    }
    return matched !== negate;
  }

  const value = resolveAttribute(clause.attribute, context);
  if (value === undefined) {
    return clause.attribute.kind === "targeting_key" ? { error: "TARGETING_KEY_MISSING" } : false;
  }
  // Elements of the wrong type are skipped; with none of the right type the
  // clause is false whatever `negate` says.
  let applicable = false;
  let matched = false;
  const elements: readonly JsonValue[] = Array.isArray(value) ? value : [value];
  for (const element of elements) {
    const hit = testElement(test, element);
    if (hit !== undefined) {
      applicable = true;
      if (hit) {
        matched = true;
        break;
      }
    }
  }
  return applicable && matched !== negate;
}

function segmentMatches(env: Environment, segment: CompiledSegment, context: Context): Outcome {
  if (segment.included.size > 0 || segment.excluded.size > 0) {
    const key = context.targetingKey;
    if (key === undefined) {
      return { error: "TARGETING_KEY_MISSING" };
    }
    if (segment.excluded.has(key)) {
      return false;
    }
    if (segment.included.has(key)) {
      return true;
    }
  }
  for (const rule of segment.rules) {
    const outcome = clausesMatch(env, rule, context);
    if (outcome !== false) {
      return outcome;
    }
  }
  return false;
}

/**
 * Whether one scalar element matches some operand; `undefined` when the
 * element's type does not fit the operator (nested arrays, objects and
 * `null` fit none).
 */
function testElement(test: Test, element: JsonValue): boolean | undefined {
  switch (test.op) {
    case "in":
      switch (typeof element) {
        case "string":
          return test.strings.has(element);
        case "number":
          // `includes` uses SameValueZero: -0 equals 0.
          return test.numbers.includes(element);
        case "boolean":
          return element ? test.hasTrue : test.hasFalse;
        default:
          return undefined;
      }
    case "starts_with":
      return typeof element === "string" ? test.values.some((v) => element.startsWith(v)) : undefined;
    case "ends_with":
      return typeof element === "string" ? test.values.some((v) => element.endsWith(v)) : undefined;
    case "contains":
      return typeof element === "string" ? test.values.some((v) => element.includes(v)) : undefined;
    case "matches":
      return typeof element === "string"
        ? test.values.some((pattern) => matchesPattern(pattern, element) === true)
        : undefined;
    case "semver": {
      const version = typeof element === "string" ? parseSemVer(element) : undefined;
      if (version === undefined) {
        return undefined;
      }
      return test.versions.some((operand) => holds(test.cmp, compareSemVer(version, operand), 0));
    }
    case "number":
      return typeof element === "number" ? test.numbers.some((operand) => holds(test.cmp, element, operand)) : undefined;
    case "date": {
      const ms =
        typeof element === "string"
          ? dateMsFromString(element)
          : typeof element === "number"
            ? dateMsFromNumber(element)
            : undefined;
      if (ms === undefined) {
        return undefined;
      }
      return test.dates.some((operand) => holds(test.cmp, ms, operand));
    }
    case "exists":
    case "in_segment":
      // Handled by clauseMatches: they do not test elements.
      return undefined;
  }
}
