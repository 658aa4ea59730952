/**
 * The flag model (`docs/evaluation.md` §1): the JSON shapes of flags,
 * configurations, segments and the documents that carry them. These are
 * plain data types; {@link compileFlag} and {@link compileSegment} check them
 * and build their evaluation-ready form.
 */

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/** A JSON object. */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** The type of every variation value of a flag. */
export type FlagKind = "boolean" | "string" | "number" | "json";

/** The flag kinds, in the order of §1.3. */
export const FLAG_KINDS: readonly FlagKind[] = ["boolean", "string", "number", "json"];

/** A value a flag can serve. */
export interface Variation {
  /** Unique within the flag. */
  readonly key: string;
  /** The value served; fits the flag's kind. */
  readonly value: JsonValue;
  /** Human-readable name; no effect on evaluation. */
  readonly name?: string | null;
}

/** A flag's definition, shared by every environment. */
export interface Flag {
  /** Stable id assigned by the control plane; ignored by evaluation. */
  readonly id?: string | null;
  /** The flag's key. */
  readonly key: string;
  /** Free text. */
  readonly description?: string;
  /** The type of every variation value. */
  readonly kind: FlagKind;
  /** The values the flag can serve, at least one. */
  readonly variations: readonly Variation[];
  /** Free-form labels. */
  readonly tags?: readonly string[];
  /** Optimistic-concurrency version. */
  readonly version?: number;
  /** Metadata (RFC 3339). */
  readonly created_at?: string | null;
  /** Metadata (RFC 3339). */
  readonly updated_at?: string | null;
}

/** Individual targets: these targeting keys get `variation`. */
export interface Target {
  /** The variation these users get. */
  readonly variation: string;
  /** Targeting keys, compared by exact string equality. */
  readonly values: readonly string[];
}

/** A flag that must evaluate to `variation` first. */
export interface Prerequisite {
  /** The prerequisite flag's key. */
  readonly flag: string;
  /** The variation it must evaluate to. */
  readonly variation: string;
}

/** The bucketing version of a rollout (§6). */
export type Bucketing = "v1" | "v2";

/** One entry of a rollout: a variation and its share. */
export interface WeightedVariation {
  /** The variation. */
  readonly variation: string;
  /** Whole percent (v1) or thousandths of a percent (v2). */
  readonly weight: number;
}

/** A split between variations by bucket. */
export interface Rollout {
  /** Default `"v2"`. */
  readonly bucketing?: Bucketing;
  /** The attribute hashed; default `targetingKey`. */
  readonly bucket_by?: string | null;
  /** v2 only: the hash salt; default the flag key. */
  readonly salt?: string | null;
  /** Consecutive bucket ranges, in this order. */
  readonly weights: readonly WeightedVariation[];
}

/** What a rule or the default serves: exactly one member. */
export type Serve = { readonly variation: string } | { readonly rollout: Rollout };

/** A rule operator (§4.2). */
export type Operator =
  | "in"
  | "starts_with"
  | "ends_with"
  | "contains"
  | "matches"
  | "semver_eq"
  | "semver_lt"
  | "semver_lte"
  | "semver_gt"
  | "semver_gte"
  | "number_eq"
  | "number_lt"
  | "number_lte"
  | "number_gt"
  | "number_gte"
  | "date_before"
  | "date_after"
  | "exists"
  | "in_segment";

/** One condition of a rule: `attribute operator values`, optionally negated. */
export interface Clause {
  /** Attribute reference (§2.2); absent, null or `targetingKey` for `in_segment`. */
  readonly attribute?: string | null;
  /** The comparison. */
  readonly operator: Operator;
  /** Operands, OR'ed. */
  readonly values?: readonly JsonValue[];
  /** Inverts the result (a missing or wrongly typed attribute stays false). */
  readonly negate?: boolean;
}

/** A targeting rule: all clauses must match. */
export interface Rule {
  /** Optional stable id, reported as `rule_id`. */
  readonly id?: string | null;
  /** Free text. */
  readonly description?: string;
  /** All must match; empty matches every context. */
  readonly clauses: readonly Clause[];
  /** What matching contexts get. */
  readonly serve: Serve;
}

/** A flag's configuration in one environment. */
export interface FlagConfig {
  /** When false, everyone gets `off_variation`. */
  readonly enabled: boolean;
  /** Served when disabled or when a prerequisite fails. */
  readonly off_variation: string;
  /** Individual targets, checked in order before the rules. */
  readonly targets?: readonly Target[];
  /** Rules, first match wins. */
  readonly rules?: readonly Rule[];
  /** What everyone else gets. */
  readonly default: Serve;
  /** Flags that must evaluate to a given variation first. */
  readonly prerequisites?: readonly Prerequisite[];
  /** Optimistic-concurrency version. */
  readonly version?: number;
}

/** A flag as one environment sees it: definition and configuration. */
export interface EnvironmentFlag {
  /** The definition. */
  readonly flag: Flag;
  /** This environment's configuration. */
  readonly config: FlagConfig;
}

/** A rule of a segment (no `in_segment` clauses). */
export interface SegmentRule {
  /** Optional stable id (not reported in results). */
  readonly id?: string | null;
  /** All must match; empty matches every context. */
  readonly clauses: readonly Clause[];
}

/** A reusable audience, referenced by `in_segment` clauses. */
export interface Segment {
  /** The segment's key. */
  readonly key: string;
  /** Free text. */
  readonly description?: string;
  /** Targeting keys always in the segment, unless excluded. */
  readonly included?: readonly string[];
  /** Targeting keys never in the segment. */
  readonly excluded?: readonly string[];
  /** A context matching any one rule is in the segment. */
  readonly rules?: readonly SegmentRule[];
  /** Optimistic-concurrency version. */
  readonly version?: number;
  /** Metadata (RFC 3339). */
  readonly created_at?: string | null;
  /** Metadata (RFC 3339). */
  readonly updated_at?: string | null;
}
