// The flag model (docs/evaluation.md §1) as TypeScript types, and the
// react-query hooks and calls for flags, flag configurations, environments
// and the segment list. The live-events provider invalidates every query on
// each committed change, so everything read through these hooks stays fresh.
import { useMutation, useQuery, useQueryClient, keepPreviousData } from "@tanstack/react-query";
import { api, get } from "./client";

// ---------------------------------------------------------------------------
// Model (docs/evaluation.md §1)

export type FlagKind = "boolean" | "string" | "number" | "json";
export const FLAG_KINDS: readonly FlagKind[] = ["boolean", "string", "number", "json"];

/** JSON value (variation values, clause operands). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface Variation {
  key: string;
  value: JsonValue;
  name?: string | null;
}

/** A flag's definition, shared by every environment (§1.3). */
export interface Flag {
  id?: string;
  key: string;
  description: string;
  kind: FlagKind;
  variations: Variation[];
  tags: string[];
  version: number;
  created_at?: string | null;
  updated_at?: string | null;
}

export interface Target {
  variation: string;
  values: string[];
}

export interface Prerequisite {
  flag: string;
  variation: string;
}

export type Bucketing = "v1" | "v2";

export interface WeightedVariation {
  variation: string;
  /** Whole percent (v1) or thousandths of a percent (v2). */
  weight: number;
}

export interface Rollout {
  bucketing?: Bucketing;
  bucket_by?: string | null;
  salt?: string | null;
  weights: WeightedVariation[];
}

/** Exactly one member. */
export type Serve = { variation: string } | { rollout: Rollout };

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

export interface Clause {
  attribute?: string | null;
  operator: Operator;
  values: JsonValue[];
  negate?: boolean;
}

export interface Rule {
  id?: string | null;
  description?: string;
  clauses: Clause[];
  serve: Serve;
}

/** A flag's configuration in one environment (§1.4). */
export interface FlagConfig {
  enabled: boolean;
  off_variation: string;
  targets: Target[];
  rules: Rule[];
  default: Serve;
  prerequisites: Prerequisite[];
  version: number;
}

export interface EnvironmentFlag {
  flag: Flag;
  config: FlagConfig;
}

export interface SegmentRule {
  id?: string | null;
  clauses: Clause[];
}

/** A reusable audience of one environment (§1.7). */
export interface Segment {
  key: string;
  description: string;
  included: string[];
  excluded: string[];
  rules: SegmentRule[];
  version: number;
  created_at?: string | null;
  updated_at?: string | null;
}

/** GET /api/admin/environments. */
export interface Environment {
  key: string;
  name: string;
  epoch: string;
  revision: number;
  /** Optimistic-concurrency version (of the name). */
  version: number;
  created_at: string;
  updated_at: string;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

/** A flag as one environment sees it. */
export interface EnvironmentFlagView {
  id: string;
  flag: Flag;
  config: FlagConfig;
  legacy_representable: boolean;
}

/** A definition with the configuration of every environment (by key). */
export interface DefinitionView {
  id: string;
  flag: Flag;
  environments: Record<string, FlagConfig>;
}

export interface CreateFlagBody {
  key: string;
  description?: string;
  kind: FlagKind;
  /** Required except for booleans. */
  variations?: Variation[];
  tags?: string[];
}

export interface PatchFlagBody {
  description?: string;
  variations?: Variation[];
  tags?: string[];
}

// ---------------------------------------------------------------------------
// Operators (docs/evaluation.md §4.2)

/** What a clause's operands are: how the Values input parses them. */
export type OperandKind = "any" | "string" | "number" | "semver" | "date" | "none" | "segment";

export interface OperatorInfo {
  value: Operator;
  label: string;
  operands: OperandKind;
}

export const OPERATORS: readonly OperatorInfo[] = [
  { value: "in", label: "is one of (in)", operands: "any" },
  { value: "starts_with", label: "starts with", operands: "string" },
  { value: "ends_with", label: "ends with", operands: "string" },
  { value: "contains", label: "contains", operands: "string" },
  { value: "matches", label: "matches regex", operands: "string" },
  { value: "semver_eq", label: "semver =", operands: "semver" },
  { value: "semver_lt", label: "semver <", operands: "semver" },
  { value: "semver_lte", label: "semver <=", operands: "semver" },
  { value: "semver_gt", label: "semver >", operands: "semver" },
  { value: "semver_gte", label: "semver >=", operands: "semver" },
  { value: "number_eq", label: "number =", operands: "number" },
  { value: "number_lt", label: "number <", operands: "number" },
  { value: "number_lte", label: "number <=", operands: "number" },
  { value: "number_gt", label: "number >", operands: "number" },
  { value: "number_gte", label: "number >=", operands: "number" },
  { value: "date_before", label: "date before", operands: "date" },
  { value: "date_after", label: "date after", operands: "date" },
  { value: "exists", label: "exists", operands: "none" },
  { value: "in_segment", label: "in segment", operands: "segment" },
];

export function operatorInfo(op: Operator): OperatorInfo {
  return OPERATORS.find((o) => o.value === op) ?? OPERATORS[0];
}

// ---------------------------------------------------------------------------
// Rollout helpers (docs/evaluation.md §1.5)

/** The sum a rollout's weights must reach: 100 (v1) or 100000 (v2, the default). */
export function totalWeight(bucketing: Bucketing | undefined): number {
  return bucketing === "v1" ? 100 : 100_000;
}

/** A weight as a percentage (0..100) of its rollout's total. */
export function weightToPercent(weight: number, bucketing: Bucketing | undefined): number {
  return (weight * 100) / totalWeight(bucketing);
}

/** A percentage as a weight in the bucketing's units (rounded). */
export function percentToWeight(percent: number, bucketing: Bucketing | undefined): number {
  return Math.round((percent * totalWeight(bucketing)) / 100);
}

export function isRollout(serve: Serve): serve is { rollout: Rollout } {
  return "rollout" in serve;
}

/** A variation's display text: its name, else its value, else its key. */
export function variationLabel(variation: Variation): string {
  if (variation.name) return variation.name;
  if (typeof variation.value === "string") return variation.value;
  return JSON.stringify(variation.value);
}

/** Short text for what a serve does, e.g. "30% rollout", "serves true", "weighted: a 50 / b 50". */
export function describeServe(serve: Serve, kind: FlagKind): string {
  if (!isRollout(serve)) return `serves ${serve.variation}`;
  const { weights, bucketing } = serve.rollout;
  const fmt = (w: number) => `${+weightToPercent(w, bucketing).toFixed(3)}`;
  if (kind === "boolean") {
    const on = weights.find((w) => w.variation === "true");
    return `${fmt(on?.weight ?? 0)}% rollout`;
  }
  return "weighted: " + weights.map((w) => `${w.variation} ${fmt(w.weight)}`).join(" / ");
}

// ---------------------------------------------------------------------------
// Paths

const enc = encodeURIComponent;

export const paths = {
  environments: () => "/api/admin/environments",
  definitions: () => "/api/admin/flag-definitions",
  definition: (key: string) => `/api/admin/flag-definitions/${enc(key)}`,
  envFlags: (env: string) => `/api/admin/environments/${enc(env)}/flags`,
  envFlag: (env: string, key: string) => `/api/admin/environments/${enc(env)}/flags/${enc(key)}`,
  segments: (env: string) => `/api/admin/environments/${enc(env)}/segments`,
};

function withQuery(path: string, params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== "") search.set(k, String(v));
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

// ---------------------------------------------------------------------------
// Query keys (all under "model" so callers can invalidate them together)

export const queryKeys = {
  environments: ["model", "environments"] as const,
  flagList: (env: string, filter: FlagFilter) => ["model", "flags", env, filter] as const,
  flagLists: ["model", "flags"] as const,
  tags: ["model", "tags"] as const,
  definition: (key: string) => ["model", "definition", key] as const,
  envFlag: (env: string, key: string) => ["model", "envFlag", env, key] as const,
  segments: (env: string) => ["model", "segments", env] as const,
};

export interface FlagFilter {
  q?: string;
  tag?: string;
  limit?: number;
  offset?: number;
}

// ---------------------------------------------------------------------------
// Calls

export const fetchEnvironments = (signal?: AbortSignal) => get<Environment[]>(paths.environments(), signal);

export const fetchFlagList = (env: string, filter: FlagFilter, signal?: AbortSignal) =>
  get<Page<EnvironmentFlagView>>(withQuery(paths.envFlags(env), { ...filter }), signal);

/** Definitions of every flag (first 500), e.g. to collect the tags in use. */
export const fetchDefinitionList = (filter: FlagFilter, signal?: AbortSignal) =>
  get<Page<EnvironmentFlagView>>(withQuery(paths.definitions(), { ...filter }), signal);

export const fetchDefinition = (key: string, signal?: AbortSignal) => get<DefinitionView>(paths.definition(key), signal);

export const fetchEnvironmentFlag = (env: string, key: string, signal?: AbortSignal) =>
  get<EnvironmentFlagView>(paths.envFlag(env, key), signal);

export const fetchSegments = (env: string, signal?: AbortSignal) =>
  get<Page<Segment>>(withQuery(paths.segments(env), { limit: 500 }), signal);

export const createFlag = (body: CreateFlagBody) => api<DefinitionView>("POST", paths.definitions(), { body });

/** PATCH the definition, based on `version` (If-Match). */
export const patchFlag = (key: string, version: number, body: PatchFlagBody) =>
  api<DefinitionView>("PATCH", paths.definition(key), { body, ifMatch: version });

export const deleteFlag = (key: string) => api<void>("DELETE", paths.definition(key));

/** Replace one environment's configuration, based on `version` (If-Match). */
export const putFlagConfig = (env: string, key: string, config: FlagConfig, version: number) =>
  api<EnvironmentFlagView>("PUT", paths.envFlag(env, key), { body: { ...config, version }, ifMatch: version });

// ---------------------------------------------------------------------------
// Hooks

export function useEnvironments() {
  return useQuery({ queryKey: queryKeys.environments, queryFn: ({ signal }) => fetchEnvironments(signal) });
}

export function useFlagList(env: string | undefined, filter: FlagFilter) {
  return useQuery({
    queryKey: queryKeys.flagList(env ?? "", filter),
    queryFn: ({ signal }) => fetchFlagList(env!, filter, signal),
    enabled: !!env,
    placeholderData: keepPreviousData,
  });
}

/** Every tag used by some flag, sorted. */
export function useFlagTags() {
  return useQuery({
    queryKey: queryKeys.tags,
    queryFn: async ({ signal }) => {
      const page = await fetchDefinitionList({ limit: 500 }, signal);
      return Array.from(new Set(page.items.flatMap((i) => i.flag.tags))).sort();
    },
  });
}

export function useFlagDefinition(key: string) {
  return useQuery({ queryKey: queryKeys.definition(key), queryFn: ({ signal }) => fetchDefinition(key, signal) });
}

export function useEnvironmentFlag(env: string | undefined, key: string) {
  return useQuery({
    queryKey: queryKeys.envFlag(env ?? "", key),
    queryFn: ({ signal }) => fetchEnvironmentFlag(env!, key, signal),
    enabled: !!env,
  });
}

export function useSegmentList(env: string | undefined) {
  return useQuery({
    queryKey: queryKeys.segments(env ?? ""),
    queryFn: ({ signal }) => fetchSegments(env!, signal),
    enabled: !!env,
  });
}

/** Invalidates every flag query (after a write; live events do it too). */
function useInvalidateFlags() {
  const client = useQueryClient();
  return () => client.invalidateQueries({ queryKey: ["model"] });
}

export function useCreateFlag() {
  const invalidate = useInvalidateFlags();
  return useMutation({ mutationFn: createFlag, onSuccess: () => void invalidate() });
}

export function usePatchFlag(key: string) {
  const invalidate = useInvalidateFlags();
  return useMutation({
    mutationFn: ({ version, body }: { version: number; body: PatchFlagBody }) => patchFlag(key, version, body),
    onSuccess: () => void invalidate(),
  });
}

export function useDeleteFlag() {
  const invalidate = useInvalidateFlags();
  return useMutation({ mutationFn: deleteFlag, onSuccess: () => void invalidate() });
}

export interface PutConfigVars {
  env: string;
  key: string;
  config: FlagConfig;
  /** The version the change is based on. */
  version: number;
}

export function usePutFlagConfig() {
  const invalidate = useInvalidateFlags();
  return useMutation({
    mutationFn: ({ env, key, config, version }: PutConfigVars) => putFlagConfig(env, key, config, version),
    onSuccess: () => void invalidate(),
  });
}
