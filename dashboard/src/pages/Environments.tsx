// Environments: every flag has a configuration in each. Admins create,
// rename and delete them; everyone else reads.
import { useState } from "react";
import { useQueries, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Code, Group, List, Stack, Table, Text, Title, Tooltip, VisuallyHidden } from "@mantine/core";
import { deleteEnvironment, environmentsKey, segmentCount, useEnvironments, useFlagCount, type Environment } from "../api/admin";
import { useCan } from "../api/session";
import { QueryState } from "../components/QueryState";
import { ConfirmModal } from "../components/admin/ConfirmModal";
import { EmptyState } from "../components/admin/EmptyState";
import { CreateEnvironmentModal, RenameEnvironmentModal } from "../components/admin/EnvironmentModals";
import { notifySuccess } from "../components/admin/errors";
import { useDialogTarget } from "../components/admin/useDialogTarget";
import { Time } from "../components/admin/format";

export function EnvironmentsPage() {
  const isAdmin = useCan("admin");
  const queryClient = useQueryClient();
  const environments = useEnvironments();
  const flagCount = useFlagCount(environments.data?.[0]?.key);
  const [creating, setCreating] = useState(false);
  const renaming = useDialogTarget<Environment>();
  const deleting = useDialogTarget<Environment>();

  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <Title order={2}>Environments</Title>
        {isAdmin && <Button onClick={() => setCreating(true)}>New environment</Button>}
      </Group>
      <Text size="sm" c="dimmed">
        Every flag exists in every environment, with its own configuration
        {flagCount.data !== undefined ? ` (${flagCount.data} flag${flagCount.data === 1 ? "" : "s"})` : ""}. Segments and SDK keys
        belong to one environment.
      </Text>
      <QueryState query={environments}>
        {(envs) =>
          envs.length === 0 ? (
            <EmptyState title="No environments yet">{isAdmin ? "Create one with “New environment”." : "An admin can create them."}</EmptyState>
          ) : (
            <EnvironmentTable environments={envs} isAdmin={isAdmin} onRename={renaming.open} onDelete={deleting.open} />
          )
        }
      </QueryState>

      <CreateEnvironmentModal opened={creating} onClose={() => setCreating(false)} />
      <RenameEnvironmentModal environment={renaming.target} opened={renaming.opened} onClose={renaming.close} />
      <ConfirmModal
        opened={deleting.opened}
        onClose={deleting.close}
        title={`Delete environment ${deleting.target?.key ?? ""}`}
        confirmLabel="Delete environment"
        typeToConfirm={deleting.target?.key ?? ""}
        onConfirm={async () => {
          const key = deleting.target?.key ?? "";
          await deleteEnvironment(key);
          await queryClient.invalidateQueries({ queryKey: environmentsKey });
          notifySuccess(`Environment ${key} deleted.`);
        }}
      >
        <Alert color="red" title="This cannot be undone">
          <Text size="sm">Deleting {deleting.target?.key} also deletes, in that environment:</Text>
          <List size="sm">
            <List.Item>every flag's configuration (the flag definitions stay),</List.Item>
            <List.Item>all its segments,</List.Item>
            <List.Item>its server and client SDK keys: applications using them stop getting flags.</List.Item>
          </List>
        </Alert>
      </ConfirmModal>
    </Stack>
  );
}

interface TableProps {
  environments: Environment[];
  isAdmin: boolean;
  onRename: (env: Environment) => void;
  onDelete: (env: Environment) => void;
}

function EnvironmentTable({ environments, isAdmin, onRename, onDelete }: TableProps) {
  const counts = useQueries({
    queries: environments.map((e) => ({
      queryKey: ["segments", e.key, "count"],
      queryFn: ({ signal }: { signal: AbortSignal }) => segmentCount(e.key, signal),
    })),
  });
  return (
    <Table.ScrollContainer minWidth={720}>
      <Table striped highlightOnHover>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Key</Table.Th>
            <Table.Th>Name</Table.Th>
            <Table.Th>Revision</Table.Th>
            <Table.Th>Segments</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th>Updated</Table.Th>
            {isAdmin && (
              <Table.Th>
                <VisuallyHidden>Actions</VisuallyHidden>
              </Table.Th>
            )}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {environments.map((env, i) => (
            <Table.Tr key={env.key} data-testid={`environment-${env.key}`}>
              <Table.Td>
                <Code>{env.key}</Code>
              </Table.Td>
              <Table.Td>{env.name}</Table.Td>
              <Table.Td>
                <Tooltip label={`Epoch ${env.epoch}`}>
                  <Text span size="sm">
                    {env.revision}
                  </Text>
                </Tooltip>
              </Table.Td>
              <Table.Td>{counts[i]?.isError ? "—" : (counts[i]?.data ?? "…")}</Table.Td>
              <Table.Td>
                <Time value={env.created_at} />
              </Table.Td>
              <Table.Td>
                <Time value={env.updated_at} />
              </Table.Td>
              {isAdmin && (
                <Table.Td>
                  <Group gap="xs" wrap="nowrap" justify="flex-end">
                    <Button size="xs" variant="light" onClick={() => onRename(env)}>
                      Rename<VisuallyHidden> environment {env.key}</VisuallyHidden>
                    </Button>
                    <Button size="xs" variant="subtle" color="red" onClick={() => onDelete(env)}>
                      Delete<VisuallyHidden> environment {env.key}</VisuallyHidden>
                    </Button>
                  </Group>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
