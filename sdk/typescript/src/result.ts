/**
 * What an evaluation returns (`docs/evaluation.md` §7): the variation served
 * and why, or an error code. {@link toJson} gives the JSON form of §7.3.
 */

import type { JsonValue, Variation } from "./model.js";

/** Why an evaluation failed; the caller then uses its own default value. */
export type ErrorCode =
  | "FLAG_NOT_FOUND"
  | "TYPE_MISMATCH"
  | "INVALID_CONTEXT"
  | "TARGETING_KEY_MISSING"
  | "GENERAL";

/** Why a value was served (§7.2), with its details. */
export type Reason =
  | { readonly kind: "DISABLED" }
  | { readonly kind: "DEFAULT" }
  | { readonly kind: "SPLIT" }
  /** An individual target matched. */
  | { readonly kind: "TARGETING_MATCH"; readonly target: true }
  /** The rule at `ruleIndex` matched; `ruleId` is its id, if it has one. */
  | {
      readonly kind: "TARGETING_MATCH";
      readonly target: false;
      readonly ruleIndex: number;
      readonly ruleId: string | undefined;
    }
  /** The first prerequisite flag that was not met. */
  | { readonly kind: "PREREQUISITE_FAILED"; readonly prerequisite: string }
  | { readonly kind: "ERROR"; readonly errorCode: ErrorCode };

/** The reason names of §7.2. */
export type ReasonKind = Reason["kind"];

/** The result of evaluating one flag for one context. */
export interface Evaluation {
  /** The variation served; `undefined` exactly when the reason is `ERROR`. */
  readonly variation: Variation | undefined;
  /** Why. */
  readonly reason: Reason;
}

/** The JSON form of a result (§7.3). */
export interface EvaluationJson {
  /** The value served; `null` on error. */
  value: JsonValue;
  /** The key of the variation served; `null` on error. */
  variation: string | null;
  /** The reason's name. */
  reason: ReasonKind;
  /** Present (`true`) when an individual target matched. */
  target?: true;
  /** The 0-based index of the matching rule. */
  rule_index?: number;
  /** The matching rule's id, when it has one. */
  rule_id?: string;
  /** The first prerequisite flag not met. */
  prerequisite?: string;
  /** Why the evaluation failed. */
  error_code?: ErrorCode;
}

/** A failed evaluation. */
export function errorResult(code: ErrorCode): Evaluation {
  return { variation: undefined, reason: { kind: "ERROR", errorCode: code } };
}

/** The error code of a failed evaluation, else `undefined`. */
export function errorCodeOf(result: Evaluation): ErrorCode | undefined {
  return result.reason.kind === "ERROR" ? result.reason.errorCode : undefined;
}

/** The JSON form of §7.3: `{value, variation, reason, ...details}`. */
export function toJson(result: Evaluation): EvaluationJson {
  const { variation, reason } = result;
  const json: EvaluationJson = {
    value: variation === undefined ? null : variation.value,
    variation: variation === undefined ? null : variation.key,
    reason: reason.kind,
  };
  switch (reason.kind) {
    case "TARGETING_MATCH":
      if (reason.target) {
        json.target = true;
      } else {
        json.rule_index = reason.ruleIndex;
        if (reason.ruleId !== undefined) {
          json.rule_id = reason.ruleId;
        }
      }
      break;
    case "PREREQUISITE_FAILED":
      json.prerequisite = reason.prerequisite;
      break;
    case "ERROR":
      json.error_code = reason.errorCode;
      break;
    case "DISABLED":
    case "DEFAULT":
    case "SPLIT":
      break;
  }
  return json;
}
