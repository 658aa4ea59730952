// Segments of one environment: list, create, edit (users and rules),
// delete. Editors change them; viewers read.
import { useState } from "react";
import { Badge, Button, Group, Stack, Table, Text, TextInput } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useSegments, type Segment } from "../api/admin";
import { useCan } from "../api/session";
import { ActionButton } from "../components/ActionButton";
import { PageHeader } from "../components/PageHeader";
import { QueryState } from "../components/QueryState";
import { ResourceTable, RowActions } from "../components/ResourceTable";
import { EmptyState } from "../components/EmptyState";
import { EnvironmentSelect, useSelectedEnvironment } from "../components/admin/EnvironmentSelect";
import { SegmentCreateModal } from "../components/admin/SegmentCreateModal";
import { SegmentDeleteModal } from "../components/admin/SegmentDeleteModal";
import { SegmentEditModal } from "../components/admin/SegmentEditModal";
import { Time } from "../components/admin/format";
import { useDialogTarget } from "../components/admin/useDialogTarget";

export function SegmentsPage() {
  const canEdit = useCan("editor");
  const { env, setEnv, environments } = useSelectedEnvironment();
  const segments = useSegments(env);
  const [creating, setCreating] = useState(false);
  const [editingKey, setEditingKey] = useState<string | null>(null);
  const deleting = useDialogTarget<string>();
  const [search, setSearch] = useState("");
  const [query] = useDebouncedValue(search.trim().toLowerCase(), 150);

  // The editor follows the live list, so a change saved elsewhere shows up.
  const editing = editingKey ? (segments.data?.items.find((s) => s.key === editingKey) ?? null) : null;

  return (
    <Stack>
      <PageHeader title="Segments" action={canEdit && env && <Button onClick={() => setCreating(true)}>New segment</Button>}>
        Reusable audiences for <code>in_segment</code> conditions. Segments belong to one environment.
      </PageHeader>
      <QueryState query={environments}>
        {(envs) =>
          envs.length === 0 ? (
            <EmptyState title="No environments">Create an environment first.</EmptyState>
          ) : (
            <Stack>
              <Group align="flex-end">
                <EnvironmentSelect value={env} onChange={setEnv} environments={envs} w={240} />
                <TextInput label="Search" placeholder="Key or description" value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={260} />
              </Group>
              <QueryState query={segments}>
                {(page) => {
                  const items = page.items.filter(
                    (s) => !query || s.key.toLowerCase().includes(query) || (s.description ?? "").toLowerCase().includes(query),
                  );
                  if (page.items.length === 0) {
                    return (
                      <EmptyState title={`No segments in ${env}`}>
                        {canEdit ? "Create one with “New segment”." : "An editor can create them."}
                      </EmptyState>
                    );
                  }
                  if (items.length === 0) return <EmptyState title="No segment matches the search" />;
                  return (
                    <SegmentTable
                      segments={items}
                      canEdit={canEdit}
                      onOpen={(s) => setEditingKey(s.key)}
                      onDelete={(s) => deleting.open(s.key)}
                    />
                  );
                }}
              </QueryState>
              {pageNote(segments.data?.total, segments.data?.items.length)}
            </Stack>
          )
        }
      </QueryState>

      {env && (
        <>
          <SegmentCreateModal
            env={env}
            opened={creating}
            onClose={() => setCreating(false)}
            onCreated={(s) => {
              setCreating(false);
              setEditingKey(s.key);
            }}
          />
          <SegmentEditModal env={env} segment={editing} onClose={() => setEditingKey(null)} readOnly={!canEdit} />
          <SegmentDeleteModal env={env} segmentKey={deleting.target} opened={deleting.opened} onClose={deleting.close} />
        </>
      )}
    </Stack>
  );
}

function pageNote(total: number | undefined, shown: number | undefined) {
  if (total === undefined || shown === undefined || total <= shown) return null;
  return (
    <Text size="sm" c="dimmed">
      Showing the first {shown} of {total} segments.
    </Text>
  );
}

interface TableProps {
  segments: Segment[];
  canEdit: boolean;
  onOpen: (segment: Segment) => void;
  onDelete: (segment: Segment) => void;
}

function SegmentTable({ segments, canEdit, onOpen, onDelete }: TableProps) {
  return (
    <ResourceTable
      label="Segments"
      minWidth={760}
      columns={["Key", "Description", "Included", "Excluded", "Rules", "Updated"]}
      actions
    >
      {segments.map((s) => (
        <Table.Tr key={s.key} data-testid={`segment-${s.key}`}>
          <Table.Td>
            <Text ff="monospace" size="sm">
              {s.key}
            </Text>
          </Table.Td>
          <Table.Td>
            <Text size="sm" lineClamp={2}>
              {s.description || <Text span c="dimmed" size="sm">—</Text>}
            </Text>
          </Table.Td>
          <Table.Td>{s.included?.length ?? 0}</Table.Td>
          <Table.Td>{s.excluded?.length ?? 0}</Table.Td>
          <Table.Td>
            <Badge variant="light" color={(s.rules?.length ?? 0) > 0 ? "indigo" : "gray"}>
              {s.rules?.length ?? 0}
            </Badge>
          </Table.Td>
          <Table.Td>
            <Time value={s.updated_at} />
          </Table.Td>
          <RowActions>
            <ActionButton label={canEdit ? "Edit" : "View"} target={`segment ${s.key}`} onClick={() => onOpen(s)} />
            {canEdit && <ActionButton label="Delete" target={`segment ${s.key}`} danger onClick={() => onDelete(s)} />}
          </RowActions>
        </Table.Tr>
      ))}
    </ResourceTable>
  );
}
