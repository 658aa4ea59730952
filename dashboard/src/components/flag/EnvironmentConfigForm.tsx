// One environment's configuration of a flag: on/off, off variation,
// prerequisites, individual targets, rules and the default; saved with the
// version it was loaded at. Until it is edited, the form shows the stored
// configuration as it changes live; once edited, changes made elsewhere are
// announced, never merged in.
import { useEffect, useState } from "react";
import { Badge, Button, Divider, Fieldset, Group, Paper, Select, Stack, Switch, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../../api/client";
import type { DefinitionView, Environment, Flag, FlagConfig } from "../../api/model";
import { fetchEnvironmentFlag, isRollout, queryKeys, totalWeight, usePutFlagConfig, useSegmentList } from "../../api/model";
import { FormError } from "../FormModal";
import { ChangedElsewhere, ConflictAlert } from "./ConflictAlert";
import { CopyConfigModal } from "./CopyConfigModal";
import { currentError, FieldErrorProvider, isMappedPath, valueAtPath, messageWithoutPath, normalizeErrorPath, useFieldError, type FieldError } from "./FieldErrors";
import { sameConfig, variationOptions, withoutVersion } from "./format";
import { PrerequisitesEditor } from "./PrerequisitesEditor";
import { RuleBuilder } from "./RuleBuilder";
import { ServeControl } from "./ServeControl";
import { TargetsEditor } from "./TargetsEditor";
import { COMBOBOX_PROPS } from "./combobox";

/** Unsaved edits of one environment's configuration, and what they are based on. */
export interface EnvDraft {
  draft: FlagConfig;
  base: FlagConfig;
}

interface Props {
  flag: Flag;
  env: Environment;
  environments: readonly Environment[];
  /** The stored configuration of every environment (live). */
  configs: Record<string, FlagConfig>;
  draft: EnvDraft | undefined;
  setDraft(draft: EnvDraft | undefined): void;
  canEdit: boolean;
}

const COMMON_ATTRIBUTES = ["targetingKey", "email", "country", "plan", "platform", "appVersion", "/address/country"];

function usedAttributes(config: FlagConfig): string[] {
  return config.rules.flatMap((r) => r.clauses.flatMap((c) => (c.attribute ? [c.attribute] : [])));
}

export function EnvironmentConfigForm({ flag, env, environments, configs, draft, setDraft, canEdit }: Props) {
  const stored = configs[env.key];
  const queryClient = useQueryClient();
  const put = usePutFlagConfig();
  const segments = useSegmentList(env.key);
  const [fieldError, setFieldError] = useState<FieldError | null>(null);
  const [otherError, setOtherError] = useState<string | null>(null);
  const [conflict, setConflict] = useState<FlagConfig | null>(null);
  const [copyOpen, setCopyOpen] = useState(false);

  const shown = draft?.draft ?? stored;
  const dirty = !!draft && !sameConfig(draft.draft, draft.base);
  const changedElsewhere = !!draft && !!stored && stored.version !== draft.base.version && !conflict;

  // Leaving the page with unsaved changes asks first.
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  if (!stored || !shown) {
    return <Text>This flag has no configuration in {env.name}.</Text>;
  }

  const disabled = !canEdit;
  const variationKeys = flag.variations.map((v) => v.key);

  const edit = (next: FlagConfig) => {
    const base = draft?.base ?? stored;
    // Back to what it was based on: no longer a draft (live updates show again).
    if (sameConfig(next, base) && base.version === stored.version) setDraft(undefined);
    else setDraft({ draft: next, base });
  };
  const patch = (p: Partial<FlagConfig>) => edit({ ...shown, ...p });

  /** Puts a configuration into the cached definition (so the form does not flash the old one). */
  const cache = (config: FlagConfig) => {
    queryClient.setQueryData<DefinitionView>(queryKeys.definition(flag.key), (old) =>
      old ? { ...old, environments: { ...old.environments, [env.key]: config } } : old,
    );
  };

  const discard = () => {
    setDraft(undefined);
    setConflict(null);
    setFieldError(null);
    setOtherError(null);
  };

  const save = () => {
    if (!draft) return;
    setFieldError(null);
    setOtherError(null);
    const version = draft.base.version;
    put.mutate(
      { env: env.key, key: flag.key, config: draft.draft, version },
      {
        onSuccess: (view) => {
          cache(view.config);
          setDraft(undefined);
          notifications.show({ color: "teal", title: "Changes saved", message: `${flag.key} in ${env.name}` });
        },
        onError: (err) => {
          if (err instanceof ApiError && err.code === "version_conflict") {
            fetchEnvironmentFlag(env.key, flag.key)
              .then((view) => {
                cache(view.config);
                setConflict(view.config);
              })
              .catch((e: Error) => setOtherError(`Someone else changed this flag, and reloading it failed: ${e.message}`));
          } else if (err instanceof ApiError && err.path !== undefined && err.status === 400) {
            const path = normalizeErrorPath(err.path);
            setFieldError({ path, message: messageWithoutPath(err.message, err.path), value: valueAtPath(draft.draft, path) });
          } else {
            setOtherError(err.message);
          }
        },
      },
    );
  };

  // A field's error disappears once that field is changed.
  const shownError = currentError(fieldError, shown);
  const unmapped =
    fieldError && !isMappedPath(fieldError.path, shown, variationKeys)
      ? fieldError.path
        ? `${fieldError.path}: ${fieldError.message}`
        : fieldError.message
      : null;
  const attributeSuggestions = Array.from(new Set([...COMMON_ATTRIBUTES, ...usedAttributes(shown)]));
  const segmentKeys = segments.data?.items.map((s) => s.key) ?? [];
  const weightProblem = [shown.default, ...shown.rules.map((r) => r.serve)].some(
    (serve) => isRollout(serve) && serve.rollout.weights.reduce((sum, w) => sum + w.weight, 0) !== totalWeight(serve.rollout.bucketing),
  );
  const offOptions = variationOptions(flag.variations);

  return (
    <FieldErrorProvider error={shownError}>
      <Stack gap="lg" pt="md">
        {dirty && (
          <Badge color="yellow" variant="light" data-testid="unsaved">
            Unsaved changes
          </Badge>
        )}
        {changedElsewhere && (
          <ChangedElsewhere onReview={() => setConflict(stored)} onDiscard={discard} data-testid="changed-elsewhere">
            Your unsaved changes are kept. Saving them will ask you to resolve the conflict.
          </ChangedElsewhere>
        )}

        <Group align="flex-end" gap="xl" wrap="wrap">
          <EnabledSwitch checked={shown.enabled} onChange={(enabled) => patch({ enabled })} disabled={disabled} />
          <OffVariationSelect
            value={shown.off_variation}
            data={offOptions}
            onChange={(off_variation) => patch({ off_variation })}
            disabled={disabled}
          />
        </Group>

        <Divider />
        <PrerequisitesEditor
          prerequisites={shown.prerequisites}
          onChange={(prerequisites) => patch({ prerequisites })}
          env={env.key}
          flagKey={flag.key}
          disabled={disabled}
        />

        <Divider />
        <TargetsEditor
          targets={shown.targets}
          onChange={(targets) => patch({ targets })}
          variations={flag.variations}
          disabled={disabled}
        />

        <Divider />
        <RuleBuilder
          rules={shown.rules}
          onChange={(rules) => patch({ rules })}
          variations={flag.variations}
          kind={flag.kind}
          flagKey={flag.key}
          segmentKeys={segmentKeys}
          attributeSuggestions={attributeSuggestions}
          disabled={disabled}
        />

        <Fieldset legend="Default (everyone else)">
          <ServeControl
            serve={shown.default}
            onChange={(serve) => patch({ default: serve })}
            variations={flag.variations}
            kind={flag.kind}
            flagKey={flag.key}
            path="default"
            disabled={disabled}
          />
        </Fieldset>

        {conflict && draft && (
          <ConflictAlert
            loaded={withoutVersion(draft.base)}
            stored={withoutVersion(conflict)}
            onDiscard={discard}
            onKeepEditing={() => {
              // Based on the stored version now: saving again replaces it.
              setDraft({ draft: draft.draft, base: conflict });
              setConflict(null);
            }}
          />
        )}
        {(unmapped || otherError) && <FormError title="Not saved" error={unmapped ?? otherError} />}

        {canEdit && (
          <Paper withBorder p="sm" pos="sticky" bottom={0} style={{ zIndex: 2 }}>
            <Group justify="space-between" wrap="wrap">
              <Group gap="sm">
                <Button onClick={save} disabled={!dirty || !!conflict || weightProblem} loading={put.isPending}>
                  Save changes
                </Button>
                {dirty && weightProblem && (
                  <Text size="sm" c="red">
                    Rollout weights must add up to 100%.
                  </Text>
                )}
                {draft && (
                  <Button variant="default" onClick={discard} disabled={put.isPending}>
                    Discard changes
                  </Button>
                )}
              </Group>
              <Button variant="subtle" onClick={() => setCopyOpen(true)} disabled={environments.length < 2}>
                Copy to another environment
              </Button>
            </Group>
          </Paper>
        )}
      </Stack>
      {canEdit && (
        <CopyConfigModal
          opened={copyOpen}
          onClose={() => setCopyOpen(false)}
          flagKey={flag.key}
          source={env}
          config={stored}
          environments={environments}
          configs={configs}
          hasUnsavedChanges={dirty}
        />
      )}
    </FieldErrorProvider>
  );
}

function EnabledSwitch({ checked, onChange, disabled }: { checked: boolean; onChange(v: boolean): void; disabled: boolean }) {
  const error = useFieldError("enabled");
  return (
    <Switch
      label="Enabled"
      size="md"
      checked={checked}
      onChange={(e) => onChange(e.currentTarget.checked)}
      error={error}
      disabled={disabled}
    />
  );
}

function OffVariationSelect({
  value,
  data,
  onChange,
  disabled,
}: {
  value: string;
  data: { value: string; label: string }[];
  onChange(v: string): void;
  disabled: boolean;
}) {
  const error = useFieldError("off_variation");
  return (
    <Select
      comboboxProps={COMBOBOX_PROPS}
      label="Off variation"
      description="Served while disabled or when a prerequisite fails"
      data={data}
      value={value}
      onChange={(v) => v && onChange(v)}
      allowDeselect={false}
      error={error}
      disabled={disabled}
      maw={280}
    />
  );
}
