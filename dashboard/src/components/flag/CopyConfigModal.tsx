// Copy one environment's saved configuration of a flag to another
// environment, with a preview of what changes there.
import { useState } from "react";
import { Alert, Modal, Select, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { ApiError } from "../../api/client";
import type { Environment, FlagConfig } from "../../api/model";
import { usePutFlagConfig } from "../../api/model";
import { FormActions, FormError } from "../FormModal";
import { JsonDiff } from "../JsonDiff";
import { withoutVersion } from "./format";
import { COMBOBOX_PROPS } from "./combobox";

interface Props {
  opened: boolean;
  onClose(): void;
  flagKey: string;
  source: Environment;
  /** The source's saved configuration. */
  config: FlagConfig;
  environments: readonly Environment[];
  /** Every environment's current configuration (live). */
  configs: Record<string, FlagConfig>;
  /** Whether the source form has unsaved changes (they are not copied). */
  hasUnsavedChanges: boolean;
}

export function CopyConfigModal({ opened, onClose, flagKey, source, config, environments, configs, hasUnsavedChanges }: Props) {
  const targets = environments.filter((e) => e.key !== source.key);
  const [target, setTarget] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const put = usePutFlagConfig();
  const current = target ? configs[target] : undefined;
  const targetName = environments.find((e) => e.key === target)?.name ?? target;

  const close = () => {
    setError(null);
    setTarget(null);
    put.reset();
    onClose();
  };

  const copy = () => {
    if (!target || !current) return;
    setError(null);
    put.mutate(
      { env: target, key: flagKey, config: { ...config, version: current.version }, version: current.version },
      {
        onSuccess: () => {
          notifications.show({
            color: "teal",
            title: "Configuration copied",
            message: `${flagKey}: ${source.name} copied to ${targetName}`,
          });
          close();
        },
        onError: (err) => {
          if (err instanceof ApiError && err.code === "version_conflict") {
            setError(`${targetName} changed meanwhile; the preview now shows its current configuration. Copy again to replace it.`);
          } else {
            setError(err.message);
          }
        },
      },
    );
  };

  return (
    <Modal opened={opened} onClose={close} title={`Copy ${source.name} to another environment`} size="xl">
      <Stack>
        <Text size="sm">
          Replaces the target environment&apos;s configuration of <strong>{flagKey}</strong> (on/off, targets, rules,
          default, prerequisites) with the saved configuration from {source.name}.
        </Text>
        {hasUnsavedChanges && (
          <Alert color="yellow">Your unsaved changes in {source.name} are not copied; only its saved configuration is.</Alert>
        )}
        <Select
          comboboxProps={COMBOBOX_PROPS}
          label="Target environment"
          placeholder={targets.length ? "Pick an environment" : "No other environment"}
          data={targets.map((e) => ({ value: e.key, label: e.name }))}
          value={target}
          onChange={(v) => {
            setTarget(v);
            setError(null);
          }}
          data-autofocus
        />
        {target && current && (
          <Stack gap={4}>
            <Text size="sm" fw={500}>
              Changes in {targetName} (lines marked − in red: now; + in green: after the copy)
            </Text>
            <JsonDiff before={withoutVersion(current)} after={withoutVersion(config)} label="Copy preview" />
          </Stack>
        )}
        {target && !current && <Text size="sm">{targetName} has no configuration of this flag yet.</Text>}
        {error && <FormError title="Not copied" error={error} />}
        <FormActions onCancel={close} submitLabel="Copy" onSubmit={copy} busy={put.isPending} disabled={!target || !current} />
      </Stack>
    </Modal>
  );
}
