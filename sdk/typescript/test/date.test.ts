import assert from "node:assert/strict";
import { test } from "node:test";

import { dateMsFromNumber, dateMsFromString } from "../src/date.js";
import { vectors } from "./vectors.js";

interface DateCase {
  input: string;
  ms: number | null;
  note?: string;
}

test("every row of dates.json", () => {
  const { cases } = vectors<{ cases: DateCase[] }>("dates.json");
  assert.ok(cases.length > 0);
  for (const c of cases) {
    assert.equal(
      dateMsFromString(c.input) ?? null,
      c.ms,
      `${JSON.stringify(c.input)} (${c.note ?? ""})`,
    );
  }
});

test("numbers are epoch milliseconds as they are, if finite", () => {
  assert.equal(dateMsFromNumber(1_700_000_000_000.5), 1_700_000_000_000.5);
  assert.equal(dateMsFromNumber(-1), -1);
  assert.equal(dateMsFromNumber(Number.NaN), undefined);
  assert.equal(dateMsFromNumber(Number.POSITIVE_INFINITY), undefined);
});
