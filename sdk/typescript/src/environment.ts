/**
 * One environment's flags and segments, compiled once and looked up by key:
 * what evaluation runs against (the evaluation side of a snapshot).
 */

import {
  type CompiledFlag,
  type CompiledSegment,
  ValidationError,
  compileFlag,
  compileSegment,
} from "./compile.js";
import type { EnvironmentFlag, Segment } from "./model.js";

/** The documents an {@link Environment} is built from. */
export interface EnvironmentData {
  /** The environment's flags. */
  readonly flags?: readonly EnvironmentFlag[];
  /** The environment's segments. */
  readonly segments?: readonly Segment[];
}

/** Compiled flags and segments by key. Immutable once built. */
export class Environment {
  readonly #flags: ReadonlyMap<string, CompiledFlag>;
  readonly #segments: ReadonlyMap<string, CompiledSegment>;

  private constructor(flags: ReadonlyMap<string, CompiledFlag>, segments: ReadonlyMap<string, CompiledSegment>) {
    this.#flags = flags;
    this.#segments = segments;
  }

  /**
   * Checks and compiles every flag and segment; throws a
   * {@link ValidationError} (path prefixed `flags[i].` or `segments[i].`) for
   * the first invalid document or repeated key. Cross-flag references are not
   * checked: a missing prerequisite is unmet, a missing segment does not match.
   */
  static build(data: EnvironmentData): Environment {
    const flags = new Map<string, CompiledFlag>();
    (data.flags ?? []).forEach((flag, i) => {
      const compiled = within(`flags[${i}]`, () => compileFlag(flag));
      if (flags.has(compiled.key)) {
        throw new ValidationError(`flags[${i}].flag.key`, "duplicate_key", compiled.key);
      }
      flags.set(compiled.key, compiled);
    });
    const segments = new Map<string, CompiledSegment>();
    (data.segments ?? []).forEach((segment, i) => {
      const compiled = within(`segments[${i}]`, () => compileSegment(segment));
      if (segments.has(compiled.key)) {
        throw new ValidationError(`segments[${i}].key`, "duplicate_key", compiled.key);
      }
      segments.set(compiled.key, compiled);
    });
    return new Environment(flags, segments);
  }

  /** The flag with this key. */
  flag(key: string): CompiledFlag | undefined {
    return this.#flags.get(key);
  }

  /** The segment with this key. */
  segment(key: string): CompiledSegment | undefined {
    return this.#segments.get(key);
  }

  /** Every flag, in insertion order. */
  flags(): IterableIterator<CompiledFlag> {
    return this.#flags.values();
  }

  /** Every segment, in insertion order. */
  segments(): IterableIterator<CompiledSegment> {
    return this.#segments.values();
  }
}

function within<T>(prefix: string, compile: () => T): T {
  try {
    return compile();
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new ValidationError(error.path === "" ? prefix : `${prefix}.${error.path}`, error.code, error.message);
    }
    throw error;
  }
}
