// Audit entries, newest first; each row can reveal the diff of the state
// before and after the change.
import { Fragment, useState } from "react";
import { Link } from "react-router";
import { Anchor, Badge, Button, Code, Table, Text, Tooltip, VisuallyHidden } from "@mantine/core";
import type { AuditEntry, JsonValue } from "../../api/admin";
import { JsonDiff } from "../JsonDiff";
import { ResourceTable } from "../ResourceTable";
import { formatTime, Time } from "./format";

const ACTION_COLOR: Record<string, string> = { created: "teal", updated: "indigo", deleted: "red", revoked: "red", rotated: "orange", renamed: "indigo" };

function actionColor(action: string): string {
  return ACTION_COLOR[action.split(".").pop() ?? ""] ?? "gray";
}

/** For keys the resource key is an id; their name is in the recorded state. */
function targetName(entry: AuditEntry): string | undefined {
  const state = (entry.after ?? entry.before) as { [k: string]: JsonValue } | null;
  const name = state && typeof state === "object" && !Array.isArray(state) ? state["name"] : undefined;
  return entry.resource === "key" && typeof name === "string" ? name : undefined;
}

function Target({ entry }: { entry: AuditEntry }) {
  const name = targetName(entry);
  const key =
    entry.resource === "flag" || entry.resource === "config" ? (
      <Anchor component={Link} to={`/flags/${encodeURIComponent(entry.resource_key)}`} ff="monospace" size="sm">
        {entry.resource_key}
      </Anchor>
    ) : name ? (
      <Tooltip label={`Key id ${entry.resource_key}`}>
        <Text span size="sm">
          {name}
        </Text>
      </Tooltip>
    ) : (
      <Code>{entry.resource_key}</Code>
    );
  return (
    <Text span size="sm">
      <Text span c="dimmed" size="sm">
        {entry.resource}{" "}
      </Text>
      {key}
    </Text>
  );
}

export function AuditTable({ entries }: { entries: AuditEntry[] }) {
  const [open, setOpen] = useState<ReadonlySet<number>>(new Set());
  const toggle = (id: number) =>
    setOpen((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  return (
    <ResourceTable
      label="Audit entries"
      minWidth={820}
      columns={["Time", "Actor", "Action", "Target", "Environment", "Changes"]}
      striped={false}
      verticalSpacing="xs"
    >
      {entries.map((entry) => {
        const expanded = open.has(entry.id);
        const panelId = `audit-diff-${entry.id}`;
        return (
          <Fragment key={entry.id}>
            <Table.Tr data-testid={`audit-${entry.id}`}>
              <Table.Td style={{ whiteSpace: "nowrap" }}>
                <Time value={entry.at} />
              </Table.Td>
              <Table.Td>
                <Tooltip label={`Key id ${entry.actor_id}`}>
                  <Text span size="sm">
                    {entry.actor_name}
                  </Text>
                </Tooltip>
              </Table.Td>
              <Table.Td>
                <Badge variant="light" color={actionColor(entry.action)} tt="none">
                  {entry.action}
                </Badge>
              </Table.Td>
              <Table.Td>
                <Target entry={entry} />
              </Table.Td>
              <Table.Td>{entry.environment ?? <Text span c="dimmed" size="sm">all</Text>}</Table.Td>
              <Table.Td>
                <Button
                  size="compact-sm"
                  variant={expanded ? "filled" : "light"}
                  aria-expanded={expanded}
                  aria-controls={expanded ? panelId : undefined}
                  onClick={() => toggle(entry.id)}
                >
                  Show diff
                  <VisuallyHidden>{` of ${entry.action} ${targetName(entry) ?? entry.resource_key}, ${formatTime(entry.at)}`}</VisuallyHidden>
                </Button>
              </Table.Td>
            </Table.Tr>
            {expanded && (
              <Table.Tr id={panelId}>
                <Table.Td colSpan={6}>
                  <JsonDiff before={entry.before} after={entry.after} label="Changes" />
                </Table.Td>
              </Table.Tr>
            )}
          </Fragment>
        );
      })}
    </ResourceTable>
  );
}
