import assert from "node:assert/strict";
import { test } from "node:test";

import { Environment, type EnvironmentFlag, type FlagKind, type Segment, evaluateJson, toJson } from "../src/index.js";
import { vectors } from "./vectors.js";

/** Guards against an emptied or truncated vector file passing vacuously. */
const MIN_CASES = 150;

interface Case {
  name: string;
  flag: string;
  context: unknown;
  expect_kind?: FlagKind;
  expected: unknown;
  note?: string;
}

interface Suite {
  name: string;
  flags?: EnvironmentFlag[];
  segments?: Segment[];
  cases: Case[];
}

const { suites } = vectors<{ description: string; suites: Suite[] }>("evaluation.json");

test("evaluation.json has its suites and cases", () => {
  const total = suites.reduce((sum, suite) => sum + suite.cases.length, 0);
  assert.ok(total >= MIN_CASES, `only ${total} cases in evaluation.json, expected at least ${MIN_CASES}`);
  const names = new Set<string>();
  for (const suite of suites) {
    assert.ok(!names.has(suite.name), `suite ${JSON.stringify(suite.name)} appears twice`);
    names.add(suite.name);
    assert.ok(suite.cases.length > 0, `suite ${JSON.stringify(suite.name)} has no cases`);
  }
});

for (const suite of suites) {
  test(`evaluation.json: ${suite.name}`, () => {
    const env = Environment.build({ flags: suite.flags ?? [], segments: suite.segments ?? [] });
    // Every failing case is reported, not just the first.
    const failures: string[] = [];
    for (const c of suite.cases) {
      const actual = toJson(evaluateJson(env, c.flag, c.context, c.expect_kind));
      try {
        assert.deepStrictEqual(actual, c.expected);
      } catch {
        failures.push(
          `${suite.name} / ${c.name}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(c.expected)}`,
        );
      }
    }
    assert.deepStrictEqual(failures, [], `${failures.length} of ${suite.cases.length} cases failed`);
  });
}
