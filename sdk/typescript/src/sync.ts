/**
 * Holding one environment's configuration and keeping it in step with the
 * change messages of `docs/protocol.md`: the full configuration (§1, SDK
 * form of §5), the change message (§3) and the consumer algorithm (§4).
 * Pure data and functions; the HTTP side is in `client.ts`.
 */

import { ValidationError } from "./compile.js";
import { isJsonObject } from "./context.js";
import { Environment } from "./environment.js";
import type { EnvironmentFlag, Segment } from "./model.js";

/** The full configuration (`GET /api/client/flags?format=full`, a v2 `put`). */
export interface FullConfiguration {
  /** The environment's key. */
  readonly environment: string;
  /** The revision history (§2.2); compared for equality only. */
  readonly epoch: string;
  /** The revision (§2.1), at least 1. */
  readonly revision: number;
  /** Every flag of the environment. */
  readonly flags?: readonly EnvironmentFlag[];
  /** Every segment of the environment. */
  readonly segments?: readonly Segment[];
}

/** One change of a message (§3.2). Key changes never reach SDKs, but are tolerated. */
export type Change =
  | { readonly type: "flag_upserted"; readonly flag: EnvironmentFlag }
  | { readonly type: "flag_deleted"; readonly key: string }
  | { readonly type: "segment_upserted"; readonly segment: Segment }
  | { readonly type: "segment_deleted"; readonly key: string }
  | { readonly type: "environment_created" }
  | { readonly type: "environment_deleted" }
  | { readonly type: "key_upserted" }
  | { readonly type: "key_deleted" };

/** A change message (§3.1), the data of a v2 `patch` or `delete`. */
export interface ChangeMessage {
  readonly environment: string;
  readonly epoch: string;
  readonly revision: number;
  readonly base_revision: number;
  readonly committed_at?: string;
  readonly changes: readonly Change[];
}

/** Why a message could not be applied (§4): each means "resync from a full configuration". */
export type SyncErrorCode =
  | "wrong_environment"
  | "epoch_mismatch"
  | "revision_gap"
  | "malformed_message"
  | "invalid_change";

/** A configuration or message that cannot be used. */
export class SyncError extends Error {
  /** The §4 code (`malformed_message` also for an unusable configuration). */
  readonly code: SyncErrorCode;

  constructor(code: SyncErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "SyncError";
    this.code = code;
  }
}

/** What applying a message did. */
export type ApplyOutcome =
  /** The new state, and the keys of the flags the message upserted or deleted. */
  | { readonly kind: "updated"; readonly state: SyncState; readonly changedFlags: readonly string[] }
  /** `environment_deleted`: drop the environment. */
  | { readonly kind: "deleted" }
  /** The revision is already held (or older): ignore the message. */
  | { readonly kind: "already_held" }
  /** Resync from a full configuration. */
  | { readonly kind: "error"; readonly error: SyncError };

/** One environment at one revision, compiled for evaluation. Immutable. */
export class SyncState {
  readonly environment: string;
  readonly epoch: string;
  readonly revision: number;
  /** The flags as received, by key. */
  readonly flags: ReadonlyMap<string, EnvironmentFlag>;
  /** The segments as received, by key. */
  readonly segments: ReadonlyMap<string, Segment>;
  /** What evaluation runs against. */
  readonly compiled: Environment;

  private constructor(
    environment: string,
    epoch: string,
    revision: number,
    flags: ReadonlyMap<string, EnvironmentFlag>,
    segments: ReadonlyMap<string, Segment>,
  ) {
    const flagList = [...flags.values()];
    const segmentList = [...segments.values()];
    // Throws ValidationError for a document evaluation cannot use.
    this.compiled = Environment.build({ flags: flagList, segments: segmentList });
    this.environment = environment;
    this.epoch = epoch;
    this.revision = revision;
    this.flags = flags;
    this.segments = segments;
  }

  /**
   * Checks and builds a full configuration (a parsed JSON value or its
   * text); throws a {@link SyncError} (`malformed_message`, or
   * `invalid_change` for an invalid flag or segment).
   */
  static fromConfiguration(value: unknown): SyncState {
    const json = typeof value === "string" ? parseJson(value) : value;
    if (!isJsonObject(json)) {
      throw new SyncError("malformed_message", "a configuration must be a JSON object");
    }
    const environment = requireString(json, "environment");
    const epoch = requireEpoch(json);
    const revision = requireRevision(json, "revision");
    if (revision < 1) {
      throw new SyncError("malformed_message", "revision: must be at least 1");
    }
    const flags = new Map<string, EnvironmentFlag>();
    for (const [i, flag] of optionalArray(json, "flags").entries()) {
      if (!isJsonObject(flag) || !isJsonObject(flag["flag"]) || typeof flag["flag"]["key"] !== "string") {
        throw new SyncError("malformed_message", `flags[${i}]: not a flag`);
      }
      const key = flag["flag"]["key"];
      if (flags.has(key)) {
        throw new SyncError("invalid_change", `flags[${i}].flag.key: duplicate_key: ${key}`);
      }
      flags.set(key, flag as unknown as EnvironmentFlag);
    }
    const segments = new Map<string, Segment>();
    for (const [i, segment] of optionalArray(json, "segments").entries()) {
      if (!isJsonObject(segment) || typeof segment["key"] !== "string") {
        throw new SyncError("malformed_message", `segments[${i}]: not a segment`);
      }
      if (segments.has(segment["key"])) {
        throw new SyncError("invalid_change", `segments[${i}].key: duplicate_key: ${segment["key"]}`);
      }
      segments.set(segment["key"], segment as unknown as Segment);
    }
    return build(environment, epoch, revision, flags, segments);
  }

  /** @internal */
  static create(
    environment: string,
    epoch: string,
    revision: number,
    flags: ReadonlyMap<string, EnvironmentFlag>,
    segments: ReadonlyMap<string, Segment>,
  ): SyncState {
    return new SyncState(environment, epoch, revision, flags, segments);
  }

  /** The full configuration this state holds (to save and pass as a bootstrap). */
  toConfiguration(): FullConfiguration {
    return {
      environment: this.environment,
      epoch: this.epoch,
      revision: this.revision,
      flags: [...this.flags.values()],
      segments: [...this.segments.values()],
    };
  }
}

function build(
  environment: string,
  epoch: string,
  revision: number,
  flags: ReadonlyMap<string, EnvironmentFlag>,
  segments: ReadonlyMap<string, Segment>,
): SyncState {
  try {
    return SyncState.create(environment, epoch, revision, flags, segments);
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new SyncError("invalid_change", error.message);
    }
    throw error;
  }
}

/** Parses a change message (the data of a `patch` or `delete`); throws `malformed_message`. */
export function parseMessage(value: unknown): ChangeMessage {
  const json = typeof value === "string" ? parseJson(value) : value;
  if (!isJsonObject(json)) {
    throw new SyncError("malformed_message", "a change message must be a JSON object");
  }
  const environment = requireString(json, "environment");
  const epoch = requireEpoch(json);
  const revision = requireRevision(json, "revision");
  const base = requireRevision(json, "base_revision");
  const raw = json["changes"];
  if (!Array.isArray(raw)) {
    throw new SyncError("malformed_message", "changes: must be an array");
  }
  const changes = raw.map((change, i): Change => {
    if (!isJsonObject(change)) {
      throw new SyncError("malformed_message", `changes[${i}]: must be an object`);
    }
    const type = change["type"];
    switch (type) {
      case "flag_upserted": {
        const flag = change["flag"];
        if (!isJsonObject(flag) || !isJsonObject(flag["flag"]) || typeof flag["flag"]["key"] !== "string") {
          throw new SyncError("malformed_message", `changes[${i}].flag: not a flag`);
        }
        return { type, flag: flag as unknown as EnvironmentFlag };
      }
      case "segment_upserted": {
        const segment = change["segment"];
        if (!isJsonObject(segment) || typeof segment["key"] !== "string") {
          throw new SyncError("malformed_message", `changes[${i}].segment: not a segment`);
        }
        return { type, segment: segment as unknown as Segment };
      }
      case "flag_deleted":
      case "segment_deleted": {
        const key = change["key"];
        if (typeof key !== "string") {
          throw new SyncError("malformed_message", `changes[${i}].key: must be a string`);
        }
        return { type, key };
      }
      case "environment_created":
      case "environment_deleted":
      case "key_upserted":
      case "key_deleted":
        return { type };
      default:
        throw new SyncError("malformed_message", `changes[${i}].type: unknown change type ${JSON.stringify(type)}`);
    }
  });
  return { environment, epoch, revision, base_revision: base, changes };
}

/**
 * `apply(S, M)` of §4: the checks in order (environment, epoch, revision =
 * base + 1, already held, gap), then every change on a copy; all or nothing.
 */
export function applyMessage(state: SyncState, value: unknown): ApplyOutcome {
  let message: ChangeMessage;
  try {
    message = parseMessage(value);
  } catch (error) {
    return { kind: "error", error: asSyncError(error) };
  }
  if (message.environment !== state.environment) {
    return fail("wrong_environment", `message for ${message.environment}, holding ${state.environment}`);
  }
  if (message.epoch !== state.epoch) {
    return fail("epoch_mismatch", `message of epoch ${message.epoch}, holding ${state.epoch}`);
  }
  if (message.revision !== message.base_revision + 1) {
    return fail("malformed_message", `revision ${message.revision} is not base_revision ${message.base_revision} + 1`);
  }
  if (message.revision <= state.revision) {
    return { kind: "already_held" };
  }
  if (message.base_revision !== state.revision) {
    return fail("revision_gap", `message applies to revision ${message.base_revision}, holding ${state.revision}`);
  }
  const flags = new Map(state.flags);
  const segments = new Map(state.segments);
  const changed = new Set<string>();
  let segmentsChanged = false;
  for (const change of message.changes) {
    switch (change.type) {
      case "flag_upserted":
        flags.set(change.flag.flag.key, change.flag);
        changed.add(change.flag.flag.key);
        break;
      case "flag_deleted":
        if (flags.delete(change.key)) {
          changed.add(change.key);
        }
        break;
      case "segment_upserted":
        segments.set(change.segment.key, change.segment);
        segmentsChanged = true;
        break;
      case "segment_deleted":
        segmentsChanged = segments.delete(change.key) || segmentsChanged;
        break;
      case "environment_created":
        if (message.base_revision !== 0) {
          return fail("malformed_message", "environment_created with a base revision other than 0");
        }
        break;
      case "environment_deleted":
        return { kind: "deleted" };
      case "key_upserted":
      case "key_deleted":
        break;
    }
  }
  let next: SyncState;
  try {
    next = build(state.environment, state.epoch, message.revision, flags, segments);
  } catch (error) {
    return { kind: "error", error: asSyncError(error) };
  }
  if (segmentsChanged) {
    // A segment can change any flag that (directly or through a
    // prerequisite) targets it: report every flag.
    for (const key of flags.keys()) {
      changed.add(key);
    }
  }
  return { kind: "updated", state: next, changedFlags: [...changed] };
}

/**
 * The flags whose evaluation may differ between `before` and `after`: those
 * added, removed or changed; every flag when a segment changed.
 */
export function changedFlags(before: SyncState | undefined, after: SyncState | undefined): string[] {
  const a = before?.flags ?? new Map<string, EnvironmentFlag>();
  const b = after?.flags ?? new Map<string, EnvironmentFlag>();
  const segmentsA = before?.segments ?? new Map<string, Segment>();
  const segmentsB = after?.segments ?? new Map<string, Segment>();
  const sameSegments =
    segmentsA.size === segmentsB.size &&
    [...segmentsA].every(([key, s]) => segmentsB.has(key) && sameJson(s, segmentsB.get(key)));
  const keys = new Set<string>();
  for (const [key, flag] of a) {
    if (!sameSegments || !b.has(key) || !sameJson(flag, b.get(key))) {
      keys.add(key);
    }
  }
  for (const [key, flag] of b) {
    if (!sameSegments || !a.has(key) || !sameJson(flag, a.get(key))) {
      keys.add(key);
    }
  }
  return [...keys];
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function fail(code: SyncErrorCode, message: string): ApplyOutcome {
  return { kind: "error", error: new SyncError(code, message) };
}

function asSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) {
    return error;
  }
  return new SyncError("malformed_message", error instanceof Error ? error.message : String(error));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new SyncError("malformed_message", `not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function requireString(json: Record<string, unknown>, field: string): string {
  const value = json[field];
  if (typeof value !== "string" || value === "") {
    throw new SyncError("malformed_message", `${field}: must be a non-empty string`);
  }
  return value;
}

function requireEpoch(json: Record<string, unknown>): string {
  const epoch = requireString(json, "epoch");
  if (epoch.length > 64 || !/^[\x21-\x7e]+$/.test(epoch)) {
    throw new SyncError("malformed_message", "epoch: must be 1 to 64 printable non-space ASCII characters");
  }
  return epoch;
}

function requireRevision(json: Record<string, unknown>, field: string): number {
  const value = json[field];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new SyncError("malformed_message", `${field}: must be a non-negative integer`);
  }
  return value;
}

function optionalArray(json: Record<string, unknown>, field: string): readonly unknown[] {
  const value = json[field];
  if (value === undefined || value === null) {
    return [];
  }
  if (!Array.isArray(value)) {
    throw new SyncError("malformed_message", `${field}: must be an array`);
  }
  return value;
}
