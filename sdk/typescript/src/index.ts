/**
 * Halyard's TypeScript SDK: the bucketing hashes, local flag evaluation
 * that agrees with the server (`docs/evaluation.md`) and the server-mode
 * client that keeps a configuration in sync over SSE (`docs/protocol.md`),
 * and the client-mode (browser) client that evaluates through OFREP. The
 * OpenFeature providers are the `./openfeature/server` and
 * `./openfeature/web` entry points.
 */

export {
  V1_BUCKETS,
  V2_BUCKETS,
  bucketV1,
  bucketV2,
  fnv1a32,
  hashInput,
  inLegacyRollout,
  murmur3_32,
} from "./hashing.js";
export type {
  Bucketing,
  Clause,
  EnvironmentFlag,
  Flag,
  FlagConfig,
  FlagKind,
  JsonObject,
  JsonValue,
  Operator,
  Prerequisite,
  Rollout,
  Rule,
  Segment,
  SegmentRule,
  Serve,
  Target,
  Variation,
  WeightedVariation,
} from "./model.js";
export { FLAG_KINDS } from "./model.js";
export {
  TARGETING_KEY_FIELDS,
  parseAttributeRef,
  parseContext,
  resolveAttribute,
  type AttributeRef,
  type Context,
  type ContextError,
  type ContextResult,
} from "./context.js";
export {
  ValidationError,
  compileFlag,
  compileSegment,
  type CompiledFlag,
  type CompiledSegment,
} from "./compile.js";
export { Environment, type EnvironmentData } from "./environment.js";
export { MAX_PREREQUISITE_DEPTH, evaluate, evaluateFlag, evaluateJson } from "./evaluate.js";
export {
  errorResult,
  toJson,
  type ErrorCode,
  type Evaluation,
  type EvaluationJson,
  type Reason,
  type ReasonKind,
} from "./result.js";
export {
  HalyardClient,
  HalyardError,
  type ChangeEvent,
  type ClientErrorCode,
  type ClientEvents,
  type ContextInput,
  type EvaluationDetail,
  type FetchLike,
  type HalyardClientOptions,
  type StaleEvent,
} from "./client.js";
export { HalyardBrowserClient, type HalyardBrowserClientOptions } from "./browser.js";
export {
  SyncError,
  SyncState,
  applyMessage,
  changedFlags,
  parseMessage,
  type ApplyOutcome,
  type Change,
  type ChangeMessage,
  type FullConfiguration,
  type SyncErrorCode,
} from "./sync.js";
export { SseParser, type SseEvent } from "./sse.js";
export { Emitter, type EventMap, type Listener } from "./emitter.js";
