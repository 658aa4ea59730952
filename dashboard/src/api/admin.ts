// Types and data access for the admin screens: environments, segments, API
// keys, the audit log and the evaluation playground. Shapes follow the
// control plane's handlers (control-plane/src/api/*.rs) and
// docs/evaluation.md. Every read is a react-query query, so the live feed
// (api/events.tsx) refreshes it after any committed change.
import { useInfiniteQuery, useQuery, keepPreviousData } from "@tanstack/react-query";
import { api, get } from "./client";
import type { Role } from "./session";
import {
  queryKeys,
  useEnvironments,
  useSegmentList,
  type Environment,
  type EnvironmentFlagView,
  type JsonValue,
  type Page,
  type Segment,
} from "./model";

// The flag model, environments and segments are typed in model.ts (shared
// with the flag screens); re-exported here for the admin screens.
export type { Clause, Environment, JsonValue, Operator, Page, Segment, SegmentRule } from "./model";
export { useEnvironments };

const seg = encodeURIComponent;

/** The API's largest page size. */
export const MAX_PAGE = 500;

// ---------------------------------------------------------- environments

export const environmentsKey = queryKeys.environments;

export const createEnvironment = (body: { key: string; name?: string }) =>
  api<Environment>("POST", "/api/admin/environments", { body });

export const renameEnvironment = (env: Environment, name: string) =>
  api<Environment>("PATCH", `/api/admin/environments/${seg(env.key)}`, { body: { name }, ifMatch: env.version });

export const deleteEnvironment = (key: string) => api<void>("DELETE", `/api/admin/environments/${seg(key)}`);

// -------------------------------------------------------------- segments

/** What creating or saving a segment sends. */
export type SegmentInput = Pick<Segment, "key"> & Partial<Omit<Segment, "key">>;

export const segmentsKey = (env: string) => queryKeys.segments(env);

export const useSegments = (env: string | null) => useSegmentList(env ?? undefined);

/** Only the fields the API accepts on writes. */
function segmentBody(segment: SegmentInput, version: number) {
  return {
    key: segment.key,
    description: segment.description ?? "",
    included: segment.included ?? [],
    excluded: segment.excluded ?? [],
    rules: segment.rules ?? [],
    version,
  };
}

export const createSegment = (env: string, segment: SegmentInput) =>
  api<Segment>("POST", `/api/admin/environments/${seg(env)}/segments`, { body: segmentBody(segment, 0) });

/** Replaces a segment; `baseVersion` is the version the edit started from. */
export const updateSegment = (env: string, segment: SegmentInput, baseVersion: number) =>
  api<Segment>("PUT", `/api/admin/environments/${seg(env)}/segments/${seg(segment.key)}`, {
    body: segmentBody(segment, baseVersion),
    ifMatch: baseVersion,
  });

export const readSegment = (env: string, key: string) =>
  get<Segment>(`/api/admin/environments/${seg(env)}/segments/${seg(key)}`);

export const deleteSegment = (env: string, key: string) =>
  api<void>("DELETE", `/api/admin/environments/${seg(env)}/segments/${seg(key)}`);

/** Keys of the flags whose rules name `segmentKey` (in `env`). */
export async function flagsUsingSegment(env: string, segmentKey: string): Promise<string[]> {
  const users: string[] = [];
  for (let offset = 0; ; offset += MAX_PAGE) {
    const page = await get<Page<EnvironmentFlagView>>(
      `/api/admin/environments/${seg(env)}/flags?limit=${MAX_PAGE}&offset=${offset}`,
    );
    for (const item of page.items) {
      const uses = (item.config.rules ?? []).some((rule) =>
        (rule.clauses ?? []).some((c) => c.operator === "in_segment" && (c.values ?? []).includes(segmentKey)),
      );
      if (uses) users.push(item.flag.key);
    }
    if (page.items.length < MAX_PAGE || offset + page.items.length >= page.total) return users;
  }
}

/** The number of flags (every flag exists in every environment). */
export function useFlagCount(env: string | undefined) {
  return useQuery({
    queryKey: ["flags", env ?? "", "count"],
    enabled: !!env,
    queryFn: ({ signal }) =>
      get<Page<unknown>>(`/api/admin/environments/${seg(env ?? "")}/flags?limit=1`, signal).then((p) => p.total),
  });
}

/** The number of segments of one environment. */
export const segmentCount = (env: string, signal?: AbortSignal) =>
  get<Page<unknown>>(`/api/admin/environments/${seg(env)}/segments?limit=1`, signal).then((p) => p.total);

// ------------------------------------------------------------------ keys

export type KeyKind = "admin" | "server" | "client" | "edge";
export const KEY_KINDS: KeyKind[] = ["admin", "server", "client", "edge"];
export type KeyStatus = "active" | "expired" | "revoked";

/** `KeyView` (api/keys.rs): masked, never the hash. */
export interface KeyView {
  id: string;
  name: string;
  kind: KeyKind;
  role: Role | null;
  environment: string | null;
  hint: string;
  status: KeyStatus;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  rotated_to: string | null;
}

/** `CreatedKeyView`: the key with its plaintext, shown once. */
export interface CreatedKey extends KeyView {
  plaintext: string;
}

export interface CreateKeyBody {
  name: string;
  kind: KeyKind;
  role?: Role;
  environment?: string;
  expires_at?: string;
}

export const keysKey = ["keys"] as const;

export function useKeys() {
  return useQuery({
    queryKey: keysKey,
    queryFn: ({ signal }) => get<KeyView[]>("/api/admin/keys", signal),
  });
}

export const createKey = (body: CreateKeyBody) => api<CreatedKey>("POST", "/api/admin/keys", { body });

/** Default and largest rotation grace periods (api/keys.rs). */
export const DEFAULT_GRACE_SECONDS = 24 * 60 * 60;
export const MAX_GRACE_SECONDS = 366 * 24 * 60 * 60;

export const rotateKey = (id: string, graceSeconds: number) =>
  api<CreatedKey>("POST", `/api/admin/keys/${seg(id)}/rotate`, { body: { grace_seconds: graceSeconds } });

export const revokeKey = (id: string) => api<void>("DELETE", `/api/admin/keys/${seg(id)}`);

// ----------------------------------------------------------------- audit

/** `AuditEntry` (store/mod.rs). */
export interface AuditEntry {
  id: number;
  at: string;
  actor_id: string;
  actor_name: string;
  action: string;
  resource: string;
  resource_key: string;
  environment: string | null;
  flag_key: string | null;
  before: JsonValue | null;
  after: JsonValue | null;
}

export interface AuditPage {
  items: AuditEntry[];
  next_before?: number | null;
}

/** The filters `GET /api/admin/audit` supports (exact matches). */
export interface AuditFilter {
  flag?: string;
  actor?: string;
  /** RFC 3339, inclusive. */
  since?: string;
  /** RFC 3339, exclusive. */
  until?: string;
}

export const AUDIT_PAGE = 50;

export function useAuditLog(filter: AuditFilter) {
  return useInfiniteQuery({
    queryKey: ["audit", filter],
    initialPageParam: undefined as number | undefined,
    queryFn: ({ pageParam, signal }) => {
      const params = new URLSearchParams({ limit: String(AUDIT_PAGE) });
      for (const [name, value] of Object.entries(filter)) if (value) params.set(name, value);
      if (pageParam !== undefined) params.set("before", String(pageParam));
      return get<AuditPage>(`/api/admin/audit?${params}`, signal);
    },
    getNextPageParam: (last) => last.next_before ?? undefined,
  });
}

// ------------------------------------------------------------ evaluation

export type Reason = "DISABLED" | "PREREQUISITE_FAILED" | "TARGETING_MATCH" | "DEFAULT" | "SPLIT" | "ERROR";

/** One flag's result (docs/evaluation.md §7). */
export interface EvaluationResult {
  value: JsonValue;
  variation: string | null;
  reason: Reason;
  target?: true;
  rule_index?: number;
  rule_id?: string;
  prerequisite?: string;
  error_code?: string;
}

export interface EvaluateResponse {
  revision: number;
  results: Record<string, EvaluationResult>;
}

/**
 * Every flag of `env` evaluated for `context` (a JSON object). Keyed on
 * the inputs, so it runs again when they change and, through the live
 * feed's invalidation, whenever anything is committed.
 */
export function useEvaluation(env: string | null, context: Record<string, JsonValue> | null) {
  return useQuery({
    queryKey: ["evaluate", env ?? "", context],
    enabled: !!env && context !== null,
    placeholderData: keepPreviousData,
    queryFn: ({ signal }) =>
      api<EvaluateResponse>("POST", `/api/admin/environments/${seg(env ?? "")}/evaluate`, {
        body: { context },
        signal,
      }),
  });
}
