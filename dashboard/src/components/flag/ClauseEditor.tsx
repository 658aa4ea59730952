// One clause of a rule: attribute, operator, operands, negation.
import { useState } from "react";
import { Autocomplete, Checkbox, Group, MultiSelect, Paper, Select, Text } from "@mantine/core";
import type { Clause, JsonValue, Operator } from "../../api/model";
import { OPERATORS, operatorInfo } from "../../api/model";
import { ActionButton } from "../ActionButton";
import { useFieldError } from "./FieldErrors";
import { inValueType, operandProblem, operandText, parseOperand, type InValueType } from "./format";
import { COMBOBOX_PROPS } from "./combobox";
import { FreeTagsInput } from "./FreeTagsInput";

const HELP: Record<Operator, string> = {
  in: "equals one of the values (same JSON type)",
  starts_with: "text starts with one of the values",
  ends_with: "text ends with one of the values",
  contains: "text contains one of the values",
  matches: "text matches one of the patterns (portable regex subset)",
  semver_eq: "version equals (SemVer 2.0.0)",
  semver_lt: "version is lower than",
  semver_lte: "version is lower than or equal to",
  semver_gt: "version is higher than",
  semver_gte: "version is higher than or equal to",
  number_eq: "number equals",
  number_lt: "number is less than",
  number_lte: "number is less than or equal to",
  number_gt: "number is greater than",
  number_gte: "number is greater than or equal to",
  date_before: "date is before (RFC 3339 or epoch milliseconds)",
  date_after: "date is after (RFC 3339 or epoch milliseconds)",
  exists: "the attribute is present (takes no values)",
  in_segment: "the user is in one of the segments",
};

const OPERATOR_OPTIONS = OPERATORS.map((o) => ({ value: o.value, label: o.value }));

/** The clause after choosing another operator: operands converted or dropped as the operator needs. */
export function changeOperator(clause: Clause, operator: Operator): Clause {
  const info = operatorInfo(operator);
  const next: Clause = { ...clause, operator };
  if (operator === "in_segment") {
    delete next.attribute;
    next.values = clause.operator === "in_segment" ? clause.values : [];
    return next;
  }
  if (clause.operator === "in_segment" || next.attribute == null) next.attribute = next.attribute ?? "";
  if (info.operands === "none") {
    next.values = [];
  } else if (clause.operator === "in_segment") {
    next.values = [];
  } else if (info.operands !== "any") {
    next.values = clause.values.map((v) => parseOperand(operandText(v), info.operands));
  }
  return next;
}

interface Props {
  clause: Clause;
  onChange(clause: Clause): void;
  onRemove(): void;
  /** Error path, e.g. `rules[0].clauses[1]`. */
  path: string;
  index: number;
  ruleIndex: number;
  segmentKeys: readonly string[];
  attributeSuggestions: readonly string[];
  disabled?: boolean;
}

export function ClauseEditor({ clause, onChange, onRemove, path, index, ruleIndex, segmentKeys, attributeSuggestions, disabled }: Props) {
  const info = operatorInfo(clause.operator);
  const attributeError = useFieldError(`${path}.attribute`);
  const operatorError = useFieldError(`${path}.operator`);
  const valuesError = useFieldError(`${path}.values`);
  const negateError = useFieldError(`${path}.negate`);
  const otherError = useFieldError(path, [`${path}.attribute`, `${path}.operator`, `${path}.values`, `${path}.negate`]);
  // The operand type of an `in` clause: its operands', or the choice made while it has none.
  const [chosenType, setChosenType] = useState<InValueType>(() => inValueType(clause.values));
  const inType = clause.values.length > 0 ? inValueType(clause.values) : chosenType;

  const setTags = (tags: string[], type: InValueType = inType) => {
    const values: JsonValue[] = tags.map((tag) => {
      const existing = clause.values.find((v) => operandText(v) === tag);
      return existing !== undefined ? existing : parseOperand(tag, info.operands, type);
    });
    onChange({ ...clause, values });
  };

  const localProblem = clause.values.map((v) => operandProblem(v, info.operands, inType)).find(Boolean);

  let valuesInput;
  if (info.operands === "none") {
    valuesInput = (
      <Text size="sm" c="dimmed" pt={28}>
        No values
      </Text>
    );
  } else if (info.operands === "segment") {
    const data = Array.from(new Set([...segmentKeys, ...clause.values.map(operandText)]));
    valuesInput = (
      <MultiSelect
        comboboxProps={COMBOBOX_PROPS}
        label="Segments"
        placeholder={data.length === 0 ? "No segments in this environment" : "Pick segments"}
        data={data}
        value={clause.values.map(operandText)}
        onChange={(keys) => onChange({ ...clause, values: keys })}
        searchable
        error={valuesError}
        disabled={disabled}
        miw={200}
        style={{ flex: 2 }}
      />
    );
  } else {
    valuesInput = (
      <FreeTagsInput
        label="Values"
        placeholder={info.operands === "number" ? "Type a number, press Enter" : "Type a value, press Enter"}
        value={clause.values.map(operandText)}
        onChange={(tags) => setTags(tags)}
        error={valuesError ?? localProblem}
        disabled={disabled}
        clearable
        miw={200}
        style={{ flex: 2 }}
      />
    );
  }

  return (
    <Paper withBorder p="xs" role="group" aria-label={`Clause ${index + 1}`}>
      <Group align="flex-start" gap="sm" wrap="wrap">
        {clause.operator !== "in_segment" && (
          <Autocomplete
            comboboxProps={COMBOBOX_PROPS}
            label="Attribute"
            placeholder="country or /address/country"
            data={attributeSuggestions as string[]}
            value={clause.attribute ?? ""}
            onChange={(attribute) => onChange({ ...clause, attribute })}
            error={attributeError}
            disabled={disabled}
            miw={160}
            style={{ flex: 1 }}
          />
        )}
        <Select
          comboboxProps={COMBOBOX_PROPS}
          label="Operator"
          data={OPERATOR_OPTIONS}
          value={clause.operator}
          onChange={(op) => op && onChange(changeOperator(clause, op as Operator))}
          allowDeselect={false}
          description={HELP[clause.operator]}
          error={operatorError ?? otherError}
          disabled={disabled}
          miw={160}
          style={{ flex: 1 }}
          maxDropdownHeight={320}
        />
        {clause.operator === "in" && (
          <Select
            comboboxProps={COMBOBOX_PROPS}
            label="Value type"
            data={[
              { value: "string", label: "Text" },
              { value: "number", label: "Number" },
              { value: "boolean", label: "Boolean" },
            ]}
            value={inType}
            onChange={(t) => {
              if (!t) return;
              setChosenType(t as InValueType);
              onChange({ ...clause, values: clause.values.map((v) => parseOperand(operandText(v), "any", t as InValueType)) });
            }}
            allowDeselect={false}
            disabled={disabled}
            w={120}
          />
        )}
        {valuesInput}
        <Checkbox
          label="Negate"
          checked={!!clause.negate}
          onChange={(e) => {
            const next = { ...clause };
            if (e.currentTarget.checked) next.negate = true;
            else delete next.negate;
            onChange(next);
          }}
          error={negateError}
          disabled={disabled}
          mt={32}
        />
        {!disabled && (
          <ActionButton label="Remove clause" target={`${index + 1} of rule ${ruleIndex + 1}`} danger mt={28} onClick={onRemove} />
        )}
      </Group>
    </Paper>
  );
}
