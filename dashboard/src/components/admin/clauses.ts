// Editing clauses (docs/evaluation.md §1.6, §4.2): operand lists are edited
// as strings and turned back into the JSON types each operator takes.
import type { Clause, JsonValue, Operator, SegmentRule } from "../../api/admin";

/** How the operands of an `in` clause are typed (the other operators fix it). */
export type ValueType = "text" | "number" | "boolean" | "json";

export interface ClauseDraft {
  uid: number;
  attribute: string;
  operator: Operator;
  values: string[];
  valueType: ValueType;
  negate: boolean;
}

export interface RuleDraft {
  uid: number;
  id: string;
  clauses: ClauseDraft[];
}

let nextUid = 1;
export const uid = () => nextUid++;

type Operands = "any" | "string" | "regex" | "semver" | "number" | "date" | "none" | "segment";

export const OPERATOR_INFO: Record<Operator, { label: string; group: string; operands: Operands }> = {
  in: { label: "is one of", group: "Equality", operands: "any" },
  starts_with: { label: "starts with", group: "Text", operands: "string" },
  ends_with: { label: "ends with", group: "Text", operands: "string" },
  contains: { label: "contains", group: "Text", operands: "string" },
  matches: { label: "matches regex", group: "Text", operands: "regex" },
  semver_eq: { label: "version =", group: "SemVer", operands: "semver" },
  semver_lt: { label: "version <", group: "SemVer", operands: "semver" },
  semver_lte: { label: "version ≤", group: "SemVer", operands: "semver" },
  semver_gt: { label: "version >", group: "SemVer", operands: "semver" },
  semver_gte: { label: "version ≥", group: "SemVer", operands: "semver" },
  number_eq: { label: "number =", group: "Number", operands: "number" },
  number_lt: { label: "number <", group: "Number", operands: "number" },
  number_lte: { label: "number ≤", group: "Number", operands: "number" },
  number_gt: { label: "number >", group: "Number", operands: "number" },
  number_gte: { label: "number ≥", group: "Number", operands: "number" },
  date_before: { label: "date before", group: "Date", operands: "date" },
  date_after: { label: "date after", group: "Date", operands: "date" },
  exists: { label: "exists", group: "Other", operands: "none" },
  in_segment: { label: "is in segment", group: "Other", operands: "segment" },
};

export function operandHint(op: Operator, valueType: ValueType): string {
  switch (OPERATOR_INFO[op].operands) {
    case "any":
      return {
        text: "Exact text values; any one may match.",
        number: "Numbers; any one may match.",
        boolean: "true or false.",
        json: 'JSON values: "text", 42 or true.',
      }[valueType];
    case "string":
      return "Text; any one may match (case-sensitive).";
    case "regex":
      return "Patterns of the portable regex subset (unanchored).";
    case "semver":
      return "SemVer 2.0.0 versions, e.g. 4.2.0.";
    case "number":
      return "Numbers.";
    case "date":
      return "RFC 3339 date-times (2026-01-31T00:00:00Z) or epoch milliseconds.";
    case "segment":
      return "Segment keys.";
    case "none":
      return "";
  }
}

function display(value: JsonValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function inferType(values: JsonValue[]): ValueType {
  if (values.every((v) => typeof v === "string")) return "text";
  if (values.every((v) => typeof v === "number")) return "number";
  if (values.every((v) => typeof v === "boolean")) return "boolean";
  return "json";
}

export function clauseToDraft(clause: Clause): ClauseDraft {
  const values = clause.values ?? [];
  const valueType = clause.operator === "in" ? inferType(values) : "text";
  return {
    uid: uid(),
    attribute: clause.attribute ?? "",
    operator: clause.operator,
    values: valueType === "json" ? values.map((v) => JSON.stringify(v)) : values.map(display),
    valueType,
    negate: clause.negate ?? false,
  };
}

export const newClause = (): ClauseDraft => ({
  uid: uid(),
  attribute: "",
  operator: "in",
  values: [],
  valueType: "text",
  negate: false,
});

export const ruleToDraft = (rule: SegmentRule): RuleDraft => ({
  uid: uid(),
  id: rule.id ?? "",
  clauses: rule.clauses.map(clauseToDraft),
});

export const newRule = (): RuleDraft => ({ uid: uid(), id: "", clauses: [newClause()] });

/** A problem found before sending, with the field it concerns. */
export class DraftError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function operand(text: string, op: Operator, valueType: ValueType, path: string): JsonValue {
  const kind = OPERATOR_INFO[op].operands;
  const wantNumber = kind === "number" || (kind === "any" && valueType === "number");
  if (wantNumber) {
    if (!NUMBER.test(text.trim())) throw new DraftError(path, `"${text}" is not a number`);
    return Number(text);
  }
  if (kind === "date") return NUMBER.test(text.trim()) ? Number(text) : text;
  if (kind === "any" && valueType === "boolean") {
    if (text !== "true" && text !== "false") throw new DraftError(path, `"${text}" is not true or false`);
    return text === "true";
  }
  if (kind === "any" && valueType === "json") {
    try {
      return JSON.parse(text) as JsonValue;
    } catch {
      throw new DraftError(path, `${text} is not JSON (quote text: "${text}")`);
    }
  }
  return text;
}

/** The clause a draft stands for; throws DraftError naming the field. */
export function draftToClause(draft: ClauseDraft, path: string): Clause {
  const kind = OPERATOR_INFO[draft.operator].operands;
  const clause: Clause = { operator: draft.operator, values: [] };
  if (kind !== "segment") {
    const attribute = draft.attribute.trim();
    if (!attribute) throw new DraftError(`${path}.attribute`, "Enter the attribute to test, e.g. email or /address/country");
    clause.attribute = attribute;
  }
  if (kind !== "none") {
    if (draft.values.length === 0) throw new DraftError(`${path}.values`, "Enter at least one value");
    clause.values = draft.values.map((v, i) => operand(v, draft.operator, draft.valueType, `${path}.values[${i}]`));
  }
  if (draft.negate) clause.negate = true;
  return clause;
}

export function draftToRule(draft: RuleDraft, path: string): SegmentRule {
  const rule: SegmentRule = { clauses: draft.clauses.map((c, i) => draftToClause(c, `${path}.clauses[${i}]`)) };
  if (draft.id.trim()) rule.id = draft.id.trim();
  return rule;
}
