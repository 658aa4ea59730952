import assert from "node:assert/strict";
import { test } from "node:test";

import { compareSemVer, parseSemVer } from "../src/semver.js";
import { vectors } from "./vectors.js";

interface SemVerVectors {
  valid: string[];
  invalid: string[];
  comparisons: { a: string; b: string; expected: number }[];
}

const semver = vectors<SemVerVectors>("semver.json");

test("every valid version of semver.json parses", () => {
  assert.ok(semver.valid.length > 0);
  for (const version of semver.valid) {
    assert.notEqual(parseSemVer(version), undefined, JSON.stringify(version));
  }
});

test("every invalid version of semver.json is rejected", () => {
  assert.ok(semver.invalid.length > 0);
  for (const version of semver.invalid) {
    assert.equal(parseSemVer(version), undefined, JSON.stringify(version));
  }
});

test("every comparison of semver.json, both ways round", () => {
  assert.ok(semver.comparisons.length > 0);
  for (const { a, b, expected } of semver.comparisons) {
    const left = parseSemVer(a);
    const right = parseSemVer(b);
    assert.ok(left !== undefined && right !== undefined, `${a} ${b}`);
    assert.equal(compareSemVer(left, right), expected, `${a} vs ${b}`);
    assert.equal(compareSemVer(right, left), -expected || 0, `${b} vs ${a}`);
  }
});
