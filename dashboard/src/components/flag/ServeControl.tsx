// What a rule or the default serves: one variation, or a percentage rollout.
import { Select, Stack } from "@mantine/core";
import type { FlagKind, Rollout, Serve, Variation } from "../../api/model";
import { isRollout, totalWeight } from "../../api/model";
import { useFieldError } from "./FieldErrors";
import { variationOptions } from "./format";
import { RolloutEditor } from "./RolloutEditor";
import { COMBOBOX_PROPS } from "./combobox";

/** Not a valid key (`%`), so it cannot clash with a variation key. */
const ROLLOUT = "%rollout";

interface Props {
  serve: Serve;
  onChange(serve: Serve): void;
  variations: readonly Variation[];
  kind: FlagKind;
  flagKey: string;
  /** Error path of the serve, e.g. `rules[0].serve` or `default`. */
  path: string;
  disabled?: boolean;
  label?: string;
}

/** A new rollout giving everything to `variation` (the first one when absent). */
export function rolloutFrom(variations: readonly Variation[], kind: FlagKind, variation?: string): Rollout {
  const total = totalWeight("v2");
  const keys = kind === "boolean" ? ["true", "false"] : variations.map((v) => v.key);
  const winner = variation && keys.includes(variation) ? variation : kind === "boolean" ? "false" : keys[0];
  return { bucketing: "v2", weights: keys.map((k) => ({ variation: k, weight: k === winner ? total : 0 })) };
}

export function ServeControl({ serve, onChange, variations, kind, flagKey, path, disabled, label = "Serve" }: Props) {
  const rolloutPath = `${path}.rollout`;
  const selectError = useFieldError(path, [
    `${rolloutPath}.weights`,
    `${rolloutPath}.bucket_by`,
    `${rolloutPath}.salt`,
    `${rolloutPath}.bucketing`,
  ]);
  const data = [...variationOptions(variations), { value: ROLLOUT, label: "Percentage rollout" }];
  const value = isRollout(serve) ? ROLLOUT : serve.variation;

  const choose = (next: string | null) => {
    if (!next || next === value) return;
    if (next === ROLLOUT) {
      onChange({ rollout: rolloutFrom(variations, kind, isRollout(serve) ? undefined : serve.variation) });
    } else {
      onChange({ variation: next });
    }
  };

  return (
    <Stack gap="xs">
      <Select
        comboboxProps={COMBOBOX_PROPS}
        label={label}
        data={data}
        value={value}
        onChange={choose}
        allowDeselect={false}
        error={selectError}
        disabled={disabled}
        maw={320}
      />
      {isRollout(serve) && (
        <RolloutEditor
          rollout={serve.rollout}
          onChange={(rollout) => onChange({ rollout })}
          variations={variations}
          kind={kind}
          flagKey={flagKey}
          path={rolloutPath}
          disabled={disabled}
        />
      )}
    </Stack>
  );
}
