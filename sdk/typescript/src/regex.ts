/**
 * The `matches` operator (`docs/evaluation.md` §5.4): the server accepts a
 * pattern only if it means the same in Rust's `regex` crate and in
 * ECMAScript's `new RegExp(pattern, "u").test(input)`, so the SDK evaluates
 * exactly that. Patterns reach the SDK only inside configurations the
 * server validated; one that still fails to compile here matches nothing.
 */

const compiled = new Map<string, RegExp | null>();

/** The compiled pattern (cached; `null` if ECMAScript rejects it). */
function regexOf(pattern: string): RegExp | null {
  let regex = compiled.get(pattern);
  if (regex === undefined) {
    try {
      regex = new RegExp(pattern, "u");
    } catch {
      regex = null;
    }
    compiled.set(pattern, regex);
  }
  return regex;
}

/**
 * Whether `input` contains a match of `pattern` (an unanchored search);
 * `undefined` if the pattern does not compile.
 */
export function matchesPattern(pattern: string, input: string): boolean | undefined {
  const regex = regexOf(pattern);
  return regex === null ? undefined : regex.test(input);
}
