// Individual targets: per variation, the targeting keys that always get it.
import { SimpleGrid, Stack, Text, Title } from "@mantine/core";
import type { Target, Variation } from "../../api/model";
import { useFieldErrorIn } from "./FieldErrors";
import { variationDisplay } from "./format";
import { FreeTagsInput } from "./FreeTagsInput";

interface Props {
  targets: Target[];
  onChange(targets: Target[]): void;
  variations: readonly Variation[];
  disabled?: boolean;
}

/** `targets` with the users of `variation` replaced (in its first entry; later entries of it dropped). */
export function setTargetValues(targets: readonly Target[], variation: string, values: string[]): Target[] {
  const first = targets.findIndex((t) => t.variation === variation);
  if (first < 0) return values.length ? [...targets, { variation, values }] : [...targets];
  return targets
    .map((t, i) => (i === first ? { ...t, values } : t))
    .filter((t, i) => t.variation !== variation || i === first);
}

export function TargetsEditor({ targets, onChange, variations, disabled }: Props) {
  return (
    <Stack gap="xs">
      <Title order={2} size="h4">Individual targets</Title>
      <Text size="sm" c="dimmed">
        Users (by targeting key) who get a variation before any rule is checked.
      </Text>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        {variations.map((v) => (
          <TargetInput
            key={v.key}
            label={`Targets for ${variationDisplay(v, variations)}`}
            variation={v.key}
            targets={targets}
            onChange={(values) => onChange(setTargetValues(targets, v.key, values))}
            disabled={disabled}
          />
        ))}
      </SimpleGrid>
    </Stack>
  );
}

function TargetInput({
  label,
  variation,
  targets,
  onChange,
  disabled,
}: {
  label: string;
  variation: string;
  targets: readonly Target[];
  onChange(values: string[]): void;
  disabled?: boolean;
}) {
  const indexes = targets.flatMap((t, i) => (t.variation === variation ? [i] : []));
  const values = Array.from(new Set(indexes.flatMap((i) => targets[i].values)));
  // An error in any of this variation's entries is shown here.
  const error = useFieldErrorIn(indexes.map((i) => `targets[${i}]`));
  return (
    <FreeTagsInput
      label={label}
      placeholder="Type a user key, press Enter"
      value={values}
      onChange={onChange}
      splitChars={[",", " "]}
      clearable
      error={error}
      disabled={disabled}
    />
  );
}
