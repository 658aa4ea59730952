// Environments: every flag has a configuration in each. Admins create,
// rename and delete them; everyone else reads.
import { useState } from "react";
import { useQueries, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Code, List, Stack, Table, Text, Tooltip } from "@mantine/core";
import { deleteEnvironment, environmentsKey, segmentCount, useEnvironments, useFlagCount, type Environment } from "../api/admin";
import { useCan } from "../api/session";
import { ActionButton } from "../components/ActionButton";
import { ConfirmModal } from "../components/ConfirmModal";
import { PageHeader } from "../components/PageHeader";
import { QueryState } from "../components/QueryState";
import { ResourceTable, RowActions } from "../components/ResourceTable";
import { EmptyState } from "../components/EmptyState";
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
      <PageHeader title="Environments" action={isAdmin && <Button onClick={() => setCreating(true)}>New environment</Button>}>
        Every flag exists in every environment, with its own configuration
        {flagCount.data !== undefined ? ` (${flagCount.data} flag${flagCount.data === 1 ? "" : "s"})` : ""}. Segments and SDK keys
        belong to one environment.
      </PageHeader>
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
    <ResourceTable
      label="Environments"
      minWidth={720}
      columns={["Key", "Name", "Revision", "Segments", "Created", "Updated"]}
      actions={isAdmin}
    >
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
            <RowActions>
              <ActionButton label="Rename" target={`environment ${env.key}`} onClick={() => onRename(env)} />
              <ActionButton label="Delete" target={`environment ${env.key}`} danger onClick={() => onDelete(env)} />
            </RowActions>
          )}
        </Table.Tr>
      ))}
    </ResourceTable>
  );
}
