// One clause: attribute, operator, operands, negation. Errors are shown
// under the field the API (or the local check) names, by path.
import { Checkbox, Fieldset, Grid, Select, TagsInput, TextInput } from "@mantine/core";
import type { Operator } from "../../api/admin";
import { ActionButton } from "../ActionButton";
import { OPERATOR_INFO, operandHint, type ClauseDraft, type ValueType } from "./clauses";
import { fieldError } from "./errors";

const GROUPS = ["Equality", "Text", "SemVer", "Number", "Date", "Other"];

function operatorData(disallowed: Operator[]) {
  return GROUPS.map((group) => ({
    group,
    items: (Object.keys(OPERATOR_INFO) as Operator[]).filter((op) => OPERATOR_INFO[op].group === group).map((op) => ({
      value: op,
      label: `${OPERATOR_INFO[op].label} (${op})${disallowed.includes(op) ? " — not allowed here" : ""}`,
      disabled: disallowed.includes(op),
    })),
  }));
}

const VALUE_TYPES: { value: ValueType; label: string }[] = [
  { value: "text", label: "Text" },
  { value: "number", label: "Number" },
  { value: "boolean", label: "Boolean" },
  { value: "json", label: "JSON (mixed)" },
];

const exactDuplicate = (value: string, current: string[]) => current.includes(value);

interface Props {
  draft: ClauseDraft;
  onChange: (draft: ClauseDraft) => void;
  onRemove: () => void;
  /** The clause's path, e.g. `rules[0].clauses[1]`, for errors. */
  path: string;
  legend: string;
  error: unknown;
  readOnly: boolean;
  /** Operators offered but not allowed (segments: in_segment). */
  disallowed?: Operator[];
}

export function ClauseEditor({ draft, onChange, onRemove, path, legend, error, readOnly, disallowed = [] }: Props) {
  const info = OPERATOR_INFO[draft.operator];
  const set = (patch: Partial<ClauseDraft>) => onChange({ ...draft, ...patch });
  const clauseError = error && (error as { path?: string }).path === path ? fieldError(error, path) : undefined;
  return (
    <Fieldset legend={legend} variant="filled" p="sm">
      <Grid gutter="xs" align="flex-start">
        {info.operands !== "segment" && (
          <Grid.Col span={{ base: 12, sm: 4 }}>
            <TextInput
              label="Attribute"
              placeholder="email or /address/country"
              value={draft.attribute}
              onChange={(e) => set({ attribute: e.currentTarget.value })}
              error={fieldError(error, `${path}.attribute`)}
              readOnly={readOnly}
              required
            />
          </Grid.Col>
        )}
        <Grid.Col span={{ base: 12, sm: info.operands === "any" ? 4 : 8 }}>
          <Select
            label="Operator"
            data={operatorData(disallowed)}
            value={draft.operator}
            onChange={(op) => op && set({ operator: op as Operator })}
            allowDeselect={false}
            error={fieldError(error, `${path}.operator`)}
            readOnly={readOnly}
            searchable
          />
        </Grid.Col>
        {info.operands === "any" && (
          <Grid.Col span={{ base: 12, sm: 4 }}>
            <Select
              label="Value type"
              data={VALUE_TYPES}
              value={draft.valueType}
              onChange={(t) => t && set({ valueType: t as ValueType })}
              allowDeselect={false}
              readOnly={readOnly}
            />
          </Grid.Col>
        )}
        {info.operands !== "none" && (
          <Grid.Col span={12}>
            <TagsInput
              label="Values"
              description={readOnly ? undefined : operandHint(draft.operator, draft.valueType) + " Press Enter after each."}
              value={draft.values}
              onChange={(values) => set({ values })}
              splitChars={info.operands === "regex" || draft.valueType === "json" ? [] : [","]}
              isDuplicate={exactDuplicate}
              error={fieldError(error, `${path}.values`)}
              readOnly={readOnly}
              clearable={!readOnly}
            />
          </Grid.Col>
        )}
        <Grid.Col span={12}>
          <Checkbox
            label="Negate (match when this is false)"
            checked={draft.negate}
            onChange={(e) => !readOnly && set({ negate: e.currentTarget.checked })}
            readOnly={readOnly}
            aria-readonly={readOnly || undefined}
          />
        </Grid.Col>
      </Grid>
      {clauseError && (
        <div role="alert" style={{ color: "var(--mantine-color-error)", fontSize: "var(--mantine-font-size-sm)" }}>
          {clauseError}
        </div>
      )}
      {!readOnly && (
        <ActionButton label="Remove condition" target={`(${legend})`} danger size="compact-sm" mt="xs" onClick={onRemove} />
      )}
    </Fieldset>
  );
}
