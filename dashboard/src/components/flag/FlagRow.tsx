// One row of the flag list, with its on/off switch for the environment.
import { useState } from "react";
import { Anchor, Badge, Group, Switch, Table, Text, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { ApiError } from "../../api/client";
import type { EnvironmentFlagView, Page, Serve, Flag } from "../../api/model";
import { describeServe, isRollout, queryKeys, usePutFlagConfig } from "../../api/model";
import { relativeTime, variationDisplay } from "./format";
import type { LastChange } from "./useLastChanges";

interface Props {
  item: EnvironmentFlagView;
  env: string;
  canEdit: boolean;
  lastChange?: LastChange;
}

function serveText(serve: Serve, flag: Flag): string {
  if (isRollout(serve)) return describeServe(serve, flag.kind);
  const variation = flag.variations.find((v) => v.key === serve.variation);
  return variation ? variationDisplay(variation, flag.variations) : serve.variation;
}

export function FlagRow({ item, env, canEdit, lastChange }: Props) {
  const { flag, config } = item;
  const queryClient = useQueryClient();
  const put = usePutFlagConfig();
  // The state asked for, shown until the server has answered.
  const [pending, setPending] = useState<boolean | null>(null);
  const checked = pending ?? config.enabled;

  const toggle = (enabled: boolean) => {
    setPending(enabled);
    put.mutate(
      { env, key: flag.key, config: { ...config, enabled }, version: config.version },
      {
        onSuccess: (view) => {
          // Show the stored state at once; the refetch confirms it.
          queryClient.setQueriesData<Page<EnvironmentFlagView>>({ queryKey: queryKeys.flagList(env, {}).slice(0, 3) }, (old) =>
            old ? { ...old, items: old.items.map((i) => (i.flag.key === flag.key ? { ...i, config: view.config } : i)) } : old,
          );
          setPending(null);
          notifications.show({
            color: enabled ? "teal" : "gray",
            title: enabled ? "Flag turned on" : "Flag turned off",
            message: `${flag.key} in ${env}`,
          });
        },
        onError: (err) => {
          setPending(null);
          notifications.show({
            color: "red",
            title: `Could not turn ${flag.key} ${enabled ? "on" : "off"}`,
            message:
              err instanceof ApiError && err.code === "version_conflict"
                ? "It was changed elsewhere at the same time; the list now shows its current state. Try again."
                : err.message,
          });
        },
      },
    );
  };

  const changedAt = lastChange?.at ?? flag.updated_at ?? undefined;
  const editorLink = `/flags/${encodeURIComponent(flag.key)}?env=${encodeURIComponent(env)}`;

  return (
    <Table.Tr data-testid="flag-row" data-flag={flag.key}>
      <Table.Td>
        <Anchor component={Link} to={editorLink} fw={500}>
          {flag.key}
        </Anchor>
        {flag.kind !== "boolean" && (
          <Text size="xs" c="dimmed">
            {flag.kind}
          </Text>
        )}
      </Table.Td>
      <Table.Td maw={320}>
        <Text size="sm" lineClamp={2}>
          {flag.description}
        </Text>
      </Table.Td>
      <Table.Td>
        <Group gap={4}>
          {flag.tags.map((t) => (
            <Badge key={t} variant="light" size="sm">
              {t}
            </Badge>
          ))}
        </Group>
      </Table.Td>
      <Table.Td>
        <Switch
          aria-label={`Toggle ${flag.key}`}
          checked={checked}
          onChange={(e) => toggle(e.currentTarget.checked)}
          disabled={!canEdit || put.isPending}
          data-testid="flag-toggle"
        />
      </Table.Td>
      <Table.Td>
        <Text size="sm" data-testid="flag-rollout">
          {serveText(config.default, flag)}
        </Text>
        {(config.rules.length > 0 || config.targets.some((t) => t.values.length > 0)) && (
          <Text size="xs" c="dimmed">
            {[
              config.rules.length > 0 && `${config.rules.length} rule${config.rules.length === 1 ? "" : "s"}`,
              config.targets.some((t) => t.values.length > 0) && "targets",
            ]
              .filter(Boolean)
              .join(" · ")}
          </Text>
        )}
      </Table.Td>
      <Table.Td>
        {changedAt && (
          <Tooltip label={new Date(changedAt).toLocaleString()}>
            <Text size="sm" span>
              {relativeTime(changedAt)}
              {lastChange?.actor && (
                <Text span size="sm" c="dimmed">
                  {" "}
                  by {lastChange.actor}
                </Text>
              )}
            </Text>
          </Tooltip>
        )}
      </Table.Td>
    </Table.Tr>
  );
}
