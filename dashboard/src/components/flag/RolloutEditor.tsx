// A percentage rollout: for a boolean flag one "Rollout percentage" (the
// share getting `true`); otherwise one weight per variation. Weights are
// stored in the bucketing's units (v2: thousandths of a percent, summing to
// 100000; v1: whole percent, summing to 100), shown as percentages.
import { Button, Group, Select, SimpleGrid, Slider, Stack, Text, TextInput } from "@mantine/core";
import type { Bucketing, FlagKind, Rollout, Variation, WeightedVariation } from "../../api/model";
import { percentToWeight, totalWeight, weightToPercent } from "../../api/model";
import { useFieldError } from "./FieldErrors";
import { variationDisplay } from "./format";
import { PercentInput } from "./PercentInput";
import { COMBOBOX_PROPS } from "./combobox";

interface Props {
  rollout: Rollout;
  onChange(rollout: Rollout): void;
  variations: readonly Variation[];
  kind: FlagKind;
  flagKey: string;
  /** Error path of the rollout, e.g. `default.rollout`. */
  path: string;
  disabled?: boolean;
}

function weightOf(rollout: Rollout, variation: string): number {
  return rollout.weights.find((w) => w.variation === variation)?.weight ?? 0;
}

/** `weights` with `variation` set to `weight` (appended when not listed). */
function setWeight(weights: readonly WeightedVariation[], variation: string, weight: number): WeightedVariation[] {
  return weights.some((w) => w.variation === variation)
    ? weights.map((w) => (w.variation === variation ? { ...w, weight } : w))
    : [...weights, { variation, weight }];
}

/** Converts weights to another bucketing's units, keeping the sum exact. */
export function convertWeights(weights: readonly WeightedVariation[], from: Bucketing, to: Bucketing): WeightedVariation[] {
  if (from === to) return [...weights];
  const target = totalWeight(to);
  const converted = weights.map((w) => ({ ...w, weight: percentToWeight(weightToPercent(w.weight, from), to) }));
  const sum = converted.reduce((s, w) => s + w.weight, 0);
  if (converted.length > 0 && sum !== target) {
    let largest = 0;
    converted.forEach((w, i) => {
      if (w.weight > converted[largest].weight) largest = i;
    });
    converted[largest] = { ...converted[largest], weight: Math.max(0, converted[largest].weight + target - sum) };
  }
  return converted;
}

/** An even split of every variation, exact in the bucketing's units. */
function evenSplit(variations: readonly Variation[], bucketing: Bucketing): WeightedVariation[] {
  const total = totalWeight(bucketing);
  const share = Math.floor(total / variations.length);
  return variations.map((v, i) => ({ variation: v.key, weight: share + (i < total - share * variations.length ? 1 : 0) }));
}

export function RolloutEditor({ rollout, onChange, variations, kind, flagKey, path, disabled }: Props) {
  const bucketing: Bucketing = rollout.bucketing ?? "v2";
  const decimals = bucketing === "v1" ? 0 : 3;
  const bucketByError = useFieldError(`${path}.bucket_by`);
  const saltError = useFieldError(`${path}.salt`);
  const bucketingError = useFieldError(`${path}.bucketing`);
  const weightsError = useFieldError(`${path}.weights`);

  const update = (patch: Partial<Rollout>) => onChange({ ...rollout, ...patch });

  const setBucketing = (next: Bucketing) => {
    const changed: Rollout = { ...rollout, bucketing: next, weights: convertWeights(rollout.weights, bucketing, next) };
    if (next === "v1") delete changed.salt;
    onChange(changed);
  };

  const setOptional = (field: "bucket_by" | "salt", value: string) => {
    const next: Rollout = { ...rollout };
    if (value === "") delete next[field];
    else next[field] = value;
    onChange(next);
  };

  const sum = rollout.weights.reduce((s, w) => s + w.weight, 0);
  const total = totalWeight(bucketing);
  const sumPercent = +weightToPercent(sum, bucketing).toFixed(3);

  let weightsUi;
  if (kind === "boolean") {
    const percent = +weightToPercent(weightOf(rollout, "true"), bucketing).toFixed(3);
    const setPercent = (p: number) => {
      const on = Math.min(total, Math.max(0, percentToWeight(p, bucketing)));
      let weights = setWeight(rollout.weights, "true", on);
      weights = setWeight(weights, "false", total - on);
      update({ weights });
    };
    weightsUi = (
      <Stack gap={4}>
        <PercentInput
          label="Rollout percentage"
          description="Share of users who get true; the others get false"
          value={percent}
          onPercentChange={setPercent}
          decimalScale={decimals}
          step={1}
          disabled={disabled}
          error={weightsError}
          maw={240}
        />
        <Slider
          value={percent}
          onChange={setPercent}
          min={0}
          max={100}
          step={1}
          thumbLabel="Share of users who get true"
          label={(v) => `${v}%`}
          disabled={disabled}
          marks={[{ value: 0, label: "0%" }, { value: 50, label: "50%" }, { value: 100, label: "100%" }]}
          mb="md"
        />
      </Stack>
    );
  } else {
    weightsUi = (
      <Stack gap="xs">
        <SimpleGrid cols={{ base: 1, xs: 2, md: 3 }}>
          {variations.map((v) => (
            <PercentInput
              key={v.key}
              label={`Weight of ${variationDisplay(v, variations)}`}
              value={+weightToPercent(weightOf(rollout, v.key), bucketing).toFixed(3)}
              onPercentChange={(p) => update({ weights: setWeight(rollout.weights, v.key, percentToWeight(p, bucketing)) })}
              decimalScale={decimals}
              disabled={disabled}
            />
          ))}
        </SimpleGrid>
        <Group gap="sm">
          <Text size="sm" c={sum === total ? "dimmed" : "red"} role={sum === total ? undefined : "alert"}>
            Total: {sumPercent}%{sum === total ? "" : " (the weights must add up to 100%)"}
          </Text>
          {!disabled && (
            <Button size="compact-xs" variant="subtle" onClick={() => update({ weights: evenSplit(variations, bucketing) })}>
              Split evenly
            </Button>
          )}
        </Group>
        {weightsError && (
          <Text size="sm" c="red" role="alert">
            {weightsError}
          </Text>
        )}
      </Stack>
    );
  }

  return (
    <Stack gap="xs">
      {weightsUi}
      <Group grow align="flex-start" wrap="wrap">
        <TextInput
          label="Bucket by"
          description="Attribute whose value is hashed"
          placeholder="targetingKey"
          value={rollout.bucket_by ?? ""}
          onChange={(e) => setOptional("bucket_by", e.currentTarget.value)}
          error={bucketByError}
          disabled={disabled}
          miw={180}
        />
        <Select
          comboboxProps={COMBOBOX_PROPS}
          label="Bucketing"
          description="Changing it reassigns users"
          data={[
            { value: "v2", label: "v2 (0.001% steps)" },
            { value: "v1", label: "v1 (legacy, whole %)" },
          ]}
          value={bucketing}
          onChange={(v) => v && setBucketing(v as Bucketing)}
          allowDeselect={false}
          error={bucketingError}
          disabled={disabled}
          miw={180}
        />
        {bucketing === "v2" && (
          <TextInput
            label="Salt"
            description="Hash salt (default: the flag key)"
            placeholder={flagKey}
            value={rollout.salt ?? ""}
            onChange={(e) => setOptional("salt", e.currentTarget.value)}
            error={saltError}
            disabled={disabled}
            miw={180}
          />
        )}
      </Group>
    </Stack>
  );
}
