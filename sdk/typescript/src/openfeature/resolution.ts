/**
 * Shared by the OpenFeature providers: Halyard details to OpenFeature
 * `ResolutionDetails` (`docs/evaluation.md` §7.4) and OpenFeature contexts
 * to Halyard ones. Type-only imports: no runtime dependency.
 */

import type { ErrorCode, EvaluationContext, FlagMetadata, ResolutionDetails } from "@openfeature/core";

import type { EvaluationDetail } from "../client.js";

/** §7.4: `PREREQUISITE_FAILED` is `DISABLED` with metadata; errors carry their code. */
export function toResolution<T>(detail: EvaluationDetail<T>): ResolutionDetails<T> {
  if (detail.reason === "ERROR") {
    const code = detail.errorCode ?? "GENERAL";
    return {
      value: detail.value,
      reason: "ERROR",
      errorCode: code as ErrorCode,
      errorMessage: ERROR_MESSAGES[code] ?? code,
    };
  }
  const resolution: ResolutionDetails<T> = { value: detail.value, reason: detail.reason };
  if (detail.variation !== undefined) {
    resolution.variant = detail.variation;
  }
  if (detail.reason === "PREREQUISITE_FAILED") {
    resolution.reason = "DISABLED";
    const metadata: FlagMetadata = { halyardReason: "PREREQUISITE_FAILED" };
    if (detail.prerequisite !== undefined) {
      metadata["prerequisite"] = detail.prerequisite;
    }
    resolution.flagMetadata = metadata;
  }
  return resolution;
}

const ERROR_MESSAGES: Record<string, string> = {
  FLAG_NOT_FOUND: "no flag with this key in the environment",
  TYPE_MISMATCH: "the flag's value does not have the type asked for",
  INVALID_CONTEXT: "the context lacks a string attribute this flag needs",
  TARGETING_KEY_MISSING: "this flag needs a targetingKey",
  PROVIDER_NOT_READY: "Halyard has no flags yet",
  GENERAL: "the flag could not be evaluated",
};

/**
 * An OpenFeature context as a Halyard context (a JSON object): dates become
 * RFC 3339 strings, `undefined` members are dropped.
 */
export function toHalyardContext(context: EvaluationContext | undefined): Record<string, unknown> {
  if (context === undefined) {
    return {};
  }
  return JSON.parse(JSON.stringify(context)) as Record<string, unknown>;
}
