import assert from "node:assert/strict";
import { test } from "node:test";

import { matchesPattern } from "../src/regex.js";
import { vectors } from "./vectors.js";

interface RegexCase {
  pattern: string;
  valid: boolean;
  matches?: { input: string; expected: boolean }[];
  error?: string;
  note?: string;
}

test("every valid pattern of regex.json gives the server's answer on every input", () => {
  const { cases } = vectors<{ cases: RegexCase[] }>("regex.json");
  const valid = cases.filter((c) => c.valid);
  assert.ok(valid.length > 0);
  for (const c of valid) {
    for (const { input, expected } of c.matches ?? []) {
      assert.equal(
        matchesPattern(c.pattern, input),
        expected,
        `${JSON.stringify(c.pattern)} on ${JSON.stringify(input)} (${c.note ?? ""})`,
      );
    }
  }
});

test("a pattern ECMAScript rejects matches nothing rather than throwing", () => {
  assert.equal(matchesPattern("(", "("), undefined);
  assert.equal(matchesPattern("a{2}{3}", "aaaaaa"), undefined);
});
