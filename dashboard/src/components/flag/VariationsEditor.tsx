// The values a flag can serve. Boolean flags always have `true` and `false`
// (only their names can change); other kinds can add, remove and change
// values of their kind. Keys already saved cannot be renamed (targets,
// rules and rollouts refer to them).
import { useEffect, useState } from "react";
import { ActionIcon, Button, Code, Group, JsonInput, NumberInput, Paper, Stack, Text, TextInput, Tooltip } from "@mantine/core";
import type { FlagKind, JsonValue, Variation } from "../../api/model";
import { useFieldError } from "./FieldErrors";

interface Props {
  variations: Variation[];
  onChange(variations: Variation[]): void;
  kind: FlagKind;
  /** Keys that exist in the stored flag (not renamable). */
  lockedKeys?: readonly string[];
  /** Called with whether every value typed so far is valid. */
  onValidityChange?(valid: boolean): void;
  disabled?: boolean;
  /** Prefix of error paths, e.g. `variations`. */
  path?: string;
}

export const BOOLEAN_VARIATIONS: Variation[] = [
  { key: "true", value: true },
  { key: "false", value: false },
];

export function defaultVariations(kind: FlagKind): Variation[] {
  switch (kind) {
    case "boolean":
      return BOOLEAN_VARIATIONS;
    case "string":
      return [
        { key: "control", value: "control" },
        { key: "treatment", value: "treatment" },
      ];
    case "number":
      return [
        { key: "low", value: 0 },
        { key: "high", value: 1 },
      ];
    case "json":
      return [
        { key: "off", value: {} },
        { key: "on", value: { enabled: true } },
      ];
  }
}

function newValue(kind: FlagKind): JsonValue {
  return kind === "number" ? 0 : kind === "json" ? null : "";
}

function freshKey(variations: readonly Variation[]): string {
  for (let n = variations.length + 1; ; n++) {
    const key = `variation-${n}`;
    if (!variations.some((v) => v.key === key)) return key;
  }
}

export function VariationsEditor({ variations, onChange, kind, lockedKeys = [], onValidityChange, disabled, path = "variations" }: Props) {
  const listError = useFieldError(path, variations.map((_, i) => `${path}[${i}]`));
  const [invalid, setInvalid] = useState<Record<number, boolean>>({});
  const anyInvalid = Object.values(invalid).some(Boolean);
  useEffect(() => onValidityChange?.(!anyInvalid), [anyInvalid, onValidityChange]);

  const replace = (index: number, v: Variation) => onChange(variations.map((w, i) => (i === index ? v : w)));
  const remove = (index: number) => {
    setInvalid({});
    onChange(variations.filter((_, i) => i !== index));
  };

  return (
    <Stack gap="xs">
      {variations.map((v, i) => (
        <VariationRow
          key={i}
          index={i}
          variation={v}
          kind={kind}
          path={`${path}[${i}]`}
          keyLocked={kind === "boolean" || lockedKeys.includes(v.key)}
          canRemove={kind !== "boolean" && variations.length > 1}
          onChange={(next) => replace(i, next)}
          onRemove={() => remove(i)}
          onValidity={(valid) => setInvalid((old) => (old[i] === !valid ? old : { ...old, [i]: !valid }))}
          disabled={disabled}
        />
      ))}
      {kind !== "boolean" && lockedKeys.length > 0 && (
        <Text size="xs" c="dimmed">
          Saved variation keys cannot be renamed: targets, rules and rollouts refer to them.
        </Text>
      )}
      {listError && (
        <Text size="sm" c="red" role="alert">
          {listError}
        </Text>
      )}
      {kind !== "boolean" && !disabled && (
        <Group>
          <Button
            variant="default"
            size="xs"
            onClick={() => onChange([...variations, { key: freshKey(variations), value: newValue(kind) }])}
          >
            Add variation
          </Button>
        </Group>
      )}
    </Stack>
  );
}

interface RowProps {
  index: number;
  variation: Variation;
  kind: FlagKind;
  path: string;
  keyLocked: boolean;
  canRemove: boolean;
  onChange(v: Variation): void;
  onRemove(): void;
  onValidity(valid: boolean): void;
  disabled?: boolean;
}

function VariationRow({ index, variation, kind, path, keyLocked, canRemove, onChange, onRemove, onValidity, disabled }: RowProps) {
  const keyError = useFieldError(`${path}.key`);
  const valueError = useFieldError(`${path}.value`);
  const nameError = useFieldError(`${path}.name`);
  const otherError = useFieldError(path, [`${path}.key`, `${path}.value`, `${path}.name`]);

  const setName = (name: string) => {
    const next = { ...variation };
    if (name) next.name = name;
    else delete next.name;
    onChange(next);
  };

  if (kind === "boolean") {
    return (
      <Group role="group" aria-label={`Variation ${index + 1}`} align="flex-end" gap="sm" wrap="nowrap">
        <Code fz="sm" mb={8} miw={56}>
          {variation.key}
        </Code>
        <TextInput
          label={`Display name of ${variation.key}`}
          placeholder="Optional"
          value={variation.name ?? ""}
          onChange={(e) => setName(e.currentTarget.value)}
          error={nameError ?? otherError ?? valueError ?? keyError}
          disabled={disabled}
          style={{ flex: 1 }}
        />
      </Group>
    );
  }

  return (
    <Paper withBorder p="xs" role="group" aria-label={`Variation ${index + 1}`}>
      <Group align="flex-start" wrap="wrap" gap="sm">
        <TextInput
          label="Variation key"
          value={variation.key}
          onChange={(e) => onChange({ ...variation, key: e.currentTarget.value })}
          readOnly={keyLocked}
          error={keyError ?? otherError}
          disabled={disabled}
          w={180}
        />
        <ValueInput
          kind={kind}
          value={variation.value}
          onChange={(value) => onChange({ ...variation, value })}
          onValidity={onValidity}
          error={valueError}
          disabled={disabled}
        />
        <TextInput
          label="Display name"
          placeholder="Optional"
          value={variation.name ?? ""}
          onChange={(e) => setName(e.currentTarget.value)}
          error={nameError}
          disabled={disabled}
          w={200}
        />
        {canRemove && !disabled && (
          <Tooltip label="Remove variation">
            <ActionIcon variant="subtle" color="red" aria-label={`Remove variation ${variation.key}`} mt={28} onClick={onRemove}>
              <span aria-hidden>✕</span>
            </ActionIcon>
          </Tooltip>
        )}
      </Group>
    </Paper>
  );
}

function ValueInput({
  kind,
  value,
  onChange,
  onValidity,
  error,
  disabled,
}: {
  kind: FlagKind;
  value: JsonValue;
  onChange(value: JsonValue): void;
  onValidity(valid: boolean): void;
  error?: string;
  disabled?: boolean;
}) {
  const [text, setText] = useState(() => JSON.stringify(value, null, 2));
  const [numberText, setNumberText] = useState<string | number>(typeof value === "number" ? value : "");
  // Follow changes made elsewhere (a reload, a discard).
  useEffect(() => {
    setText((t) => {
      try {
        return JSON.stringify(JSON.parse(t)) === JSON.stringify(value) ? t : JSON.stringify(value, null, 2);
      } catch {
        return JSON.stringify(value, null, 2);
      }
    });
    if (typeof value === "number") setNumberText((n) => (n === value ? n : value));
  }, [value]);

  switch (kind) {
    case "boolean":
      return <TextInput label="Value" value={String(value)} readOnly disabled={disabled} w={100} />;
    case "string":
      return (
        <TextInput
          label="Value"
          value={typeof value === "string" ? value : ""}
          onChange={(e) => onChange(e.currentTarget.value)}
          error={error}
          disabled={disabled}
          w={220}
        />
      );
    case "number":
      return (
        <NumberInput
          label="Value"
          value={numberText}
          onChange={(n) => {
            setNumberText(n);
            const valid = typeof n === "number" && Number.isFinite(n);
            onValidity(valid);
            if (valid) onChange(n);
          }}
          error={error ?? (typeof numberText === "number" ? undefined : "Enter a number")}
          disabled={disabled}
          w={160}
        />
      );
    case "json": {
      let parseError: string | undefined;
      try {
        JSON.parse(text);
      } catch {
        parseError = "Invalid JSON";
      }
      return (
        <JsonInput
          label="Value"
          value={text}
          onChange={(t) => {
            setText(t);
            try {
              onChange(JSON.parse(t) as JsonValue);
              onValidity(true);
            } catch {
              onValidity(false);
            }
          }}
          error={error ?? parseError}
          autosize
          minRows={1}
          maxRows={8}
          disabled={disabled}
          miw={240}
          style={{ flex: 1 }}
        />
      );
    }
  }
}
