/**
 * SemVer operands of the semver rule operators (`docs/evaluation.md` §5.3;
 * normative: the module documentation of `common/src/eval/semver.rs`):
 * strict SemVer 2.0.0, at most 256 bytes, compared by §11 precedence with
 * numeric identifiers of any size (never converted to numbers).
 */

/** The longest accepted version string, in bytes (all ASCII). */
export const MAX_LENGTH = 256;

const NUMERIC = "0|[1-9][0-9]*";
const PRERELEASE_ID = `(?:${NUMERIC}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)`;
const BUILD_ID = "[0-9A-Za-z-]+";
/** semver.org's grammar, ASCII only. */
const SEMVER = new RegExp(
  `^(${NUMERIC})\\.(${NUMERIC})\\.(${NUMERIC})` +
    `(?:-(${PRERELEASE_ID}(?:\\.${PRERELEASE_ID})*))?` +
    `(?:\\+(${BUILD_ID}(?:\\.${BUILD_ID})*))?$`,
);

/** A parsed version: the core numbers as decimal text, the pre-release identifiers. */
export interface SemVer {
  readonly major: string;
  readonly minor: string;
  readonly patch: string;
  readonly prerelease: readonly string[];
}

/** Parses a strict SemVer 2.0.0 version, or returns `undefined`. */
export function parseSemVer(s: string): SemVer | undefined {
  if (s.length > MAX_LENGTH) {
    return undefined;
  }
  const m = SEMVER.exec(s);
  if (m === null) {
    return undefined;
  }
  return {
    major: m[1]!,
    minor: m[2]!,
    patch: m[3]!,
    prerelease: m[4] === undefined ? [] : m[4].split("."),
  };
}

const isNumeric = (id: string) => /^[0-9]+$/.test(id);

/** Compares numeric identifiers without converting them: longer is greater. */
function compareNumeric(a: string, b: string): number {
  if (a.length !== b.length) {
    return a.length < b.length ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares ASCII strings by byte order. */
function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** SemVer 2.0.0 §11 precedence of `a` relative to `b`: -1, 0 or 1. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (const [x, y] of [
    [a.major, b.major],
    [a.minor, b.minor],
    [a.patch, b.patch],
  ] as const) {
    const order = compareNumeric(x, y);
    if (order !== 0) {
      return order;
    }
  }
  // A version without a pre-release is higher than the same with one.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return Math.sign(b.prerelease.length - a.prerelease.length);
  }
  const shared = Math.min(a.prerelease.length, b.prerelease.length);
  for (let i = 0; i < shared; i++) {
    const x = a.prerelease[i]!;
    const y = b.prerelease[i]!;
    const xNumeric = isNumeric(x);
    const yNumeric = isNumeric(y);
    const order =
      xNumeric && yNumeric
        ? compareNumeric(x, y)
        : xNumeric !== yNumeric
          ? xNumeric
            ? -1
            : 1
          : compareAscii(x, y);
    if (order !== 0) {
      return order;
    }
  }
  return Math.sign(a.prerelease.length - b.prerelease.length);
}
