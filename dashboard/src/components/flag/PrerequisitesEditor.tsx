// Prerequisites: other flags that must evaluate to a given variation first.
import { Button, Group, Paper, Select, Stack, Text, Title } from "@mantine/core";
import type { Prerequisite, Variation } from "../../api/model";
import { useFlagList } from "../../api/model";
import { ActionButton } from "../ActionButton";
import { useFieldError } from "./FieldErrors";
import { variationOptions } from "./format";
import { COMBOBOX_PROPS } from "./combobox";

interface Props {
  prerequisites: Prerequisite[];
  onChange(prerequisites: Prerequisite[]): void;
  env: string;
  flagKey: string;
  disabled?: boolean;
}

export function PrerequisitesEditor({ prerequisites, onChange, env, flagKey, disabled }: Props) {
  const flags = useFlagList(env, { limit: 500 });
  const listError = useFieldError("prerequisites", prerequisites.map((_, i) => `prerequisites[${i}]`));
  const others = (flags.data?.items ?? []).filter((f) => f.flag.key !== flagKey);

  const replace = (index: number, p: Prerequisite) => onChange(prerequisites.map((q, i) => (i === index ? p : q)));

  return (
    <Stack gap="xs">
      <Title order={2} size="h4">Prerequisites</Title>
      <Text size="sm" c="dimmed">
        Other flags that must be on and serve the given variation; otherwise this flag serves its off variation.
      </Text>
      {prerequisites.length === 0 && (
        <Text size="sm" c="dimmed">
          No prerequisites.
        </Text>
      )}
      {prerequisites.map((p, i) => (
        <PrerequisiteRow
          key={i}
          index={i}
          prerequisite={p}
          flagOptions={Array.from(new Set([...others.map((f) => f.flag.key), ...(p.flag ? [p.flag] : [])]))}
          variationsOf={(key) => others.find((f) => f.flag.key === key)?.flag.variations ?? []}
          onChange={(next) => replace(i, next)}
          onRemove={() => onChange(prerequisites.filter((_, k) => k !== i))}
          disabled={disabled}
        />
      ))}
      {listError && (
        <Text size="sm" c="red" role="alert">
          {listError}
        </Text>
      )}
      {flags.isError && (
        <Text size="sm" c="red">
          Could not load the other flags: {flags.error.message}
        </Text>
      )}
      {!disabled && (
        <Group>
          <Button
            variant="light"
            onClick={() => onChange([...prerequisites, { flag: "", variation: "" }])}
            disabled={others.length === 0 && !flags.isPending}
          >
            Add prerequisite
          </Button>
        </Group>
      )}
    </Stack>
  );
}

function PrerequisiteRow({
  index,
  prerequisite,
  flagOptions,
  variationsOf,
  onChange,
  onRemove,
  disabled,
}: {
  index: number;
  prerequisite: Prerequisite;
  flagOptions: string[];
  variationsOf(key: string): Variation[];
  onChange(p: Prerequisite): void;
  onRemove(): void;
  disabled?: boolean;
}) {
  const path = `prerequisites[${index}]`;
  const flagError = useFieldError(`${path}.flag`);
  const variationError = useFieldError(path, [`${path}.flag`]);
  const variations = variationsOf(prerequisite.flag);
  const options = variationOptions(variations);
  if (prerequisite.variation && !options.some((o) => o.value === prerequisite.variation)) {
    options.push({ value: prerequisite.variation, label: prerequisite.variation });
  }
  return (
    <Paper withBorder p="xs" role="group" aria-label={`Prerequisite ${index + 1}`}>
      <Group align="flex-start" wrap="wrap">
        <Select
          comboboxProps={COMBOBOX_PROPS}
          label="Prerequisite flag"
          placeholder="Pick a flag"
          data={flagOptions}
          value={prerequisite.flag || null}
          onChange={(flag) => {
            if (!flag) return;
            const first = variationsOf(flag)[0]?.key ?? "";
            const keepVariation = variationsOf(flag).some((v) => v.key === prerequisite.variation);
            onChange({ flag, variation: keepVariation ? prerequisite.variation : first });
          }}
          searchable
          allowDeselect={false}
          error={flagError}
          disabled={disabled}
          miw={220}
        />
        <Select
          comboboxProps={COMBOBOX_PROPS}
          label="Required variation"
          placeholder="Pick a variation"
          data={options}
          value={prerequisite.variation || null}
          onChange={(variation) => variation && onChange({ ...prerequisite, variation })}
          allowDeselect={false}
          error={variationError}
          disabled={disabled || !prerequisite.flag}
          miw={180}
        />
        {!disabled && <ActionButton label="Remove prerequisite" target={`${index + 1}`} danger mt={28} onClick={onRemove} />}
      </Group>
    </Paper>
  );
}
