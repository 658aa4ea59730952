// API keys: admin tokens, SDK keys and edge tokens. Listed masked; the
// plaintext of a new or rotated key is shown once and then forgotten.
import { useMemo, useState } from "react";
import { Alert, Badge, Button, Code, Group, SegmentedControl, Stack, Switch, Table, Text } from "@mantine/core";
import { ApiError } from "../api/client";
import { KEY_KINDS, useKeys, type CreatedKey, type KeyKind, type KeyView } from "../api/admin";
import { useCan } from "../api/session";
import { ActionButton } from "../components/ActionButton";
import { PageHeader } from "../components/PageHeader";
import { QueryState } from "../components/QueryState";
import { ResourceTable, RowActions } from "../components/ResourceTable";
import { EmptyState } from "../components/EmptyState";
import { KeyCreateModal } from "../components/admin/KeyCreateModal";
import { RevokeKeyModal, RotateKeyModal } from "../components/admin/KeyActions";
import { PlaintextKeyModal } from "../components/admin/PlaintextKeyModal";
import { Time } from "../components/admin/format";
import { useDialogTarget } from "../components/admin/useDialogTarget";

type KindFilter = KeyKind | "all";

export function KeysPage() {
  const isAdmin = useCan("admin");
  const keys = useKeys();
  const [kind, setKind] = useState<KindFilter>("all");
  const [showInactive, setShowInactive] = useState(true);
  const [creating, setCreating] = useState(false);
  const rotating = useDialogTarget<KeyView>();
  const revoking = useDialogTarget<KeyView>();
  // The one place a plaintext lives, only while its dialog is open.
  const [plaintext, setPlaintext] = useState<{ key: CreatedKey; title: string } | null>(null);

  const forbidden = keys.error instanceof ApiError && keys.error.status === 403;

  return (
    <Stack>
      <PageHeader title="Keys" action={isAdmin && <Button onClick={() => setCreating(true)}>Create key</Button>}>
        Admin tokens sign in here and use the admin API; server and client SDK keys belong to one environment; edge tokens let
        edges read snapshots. Only a masked hint of each key is stored for display.
      </PageHeader>
      {forbidden ? (
        <Alert color="gray" title="Admins only">
          Only the admin role can see and manage API keys. Ask an admin for an SDK key or a token.
        </Alert>
      ) : (
        <>
          <Group justify="space-between" align="center">
            <SegmentedControl
              aria-label="Show only"
              value={kind}
              onChange={(v) => setKind(v as KindFilter)}
              data={[{ value: "all", label: "All" }, ...KEY_KINDS.map((k) => ({ value: k, label: k[0].toUpperCase() + k.slice(1) }))]}
            />
            <Switch label="Show revoked and expired keys" checked={showInactive} onChange={(e) => setShowInactive(e.currentTarget.checked)} />
          </Group>
          <QueryState query={keys}>
            {(all) => (
              <KeyList
                keys={all.filter((k) => (kind === "all" || k.kind === kind) && (showInactive || k.status === "active"))}
                total={all.length}
                isAdmin={isAdmin}
                onRotate={rotating.open}
                onRevoke={revoking.open}
              />
            )}
          </QueryState>
        </>
      )}

      {isAdmin && (
        <>
          <KeyCreateModal
            opened={creating}
            onClose={() => setCreating(false)}
            onCreated={(key) => {
              setCreating(false);
              setPlaintext({ key, title: "Key created" });
            }}
          />
          <RotateKeyModal target={rotating.target} opened={rotating.opened} onClose={rotating.close} onRotated={(key) => setPlaintext({ key, title: "Key rotated: the new key" })} />
          <RevokeKeyModal target={revoking.target} opened={revoking.opened} onClose={revoking.close} />
        </>
      )}
      <PlaintextKeyModal created={plaintext?.key ?? null} title={plaintext?.title ?? ""} onClose={() => setPlaintext(null)} />
    </Stack>
  );
}

const STATUS_COLOR = { active: "teal", expired: "gray", revoked: "red" } as const;

interface ListProps {
  keys: KeyView[];
  total: number;
  isAdmin: boolean;
  onRotate: (key: KeyView) => void;
  onRevoke: (key: KeyView) => void;
}

function KeyList({ keys, total, isAdmin, onRotate, onRevoke }: ListProps) {
  const sorted = useMemo(() => [...keys].sort((a, b) => b.created_at.localeCompare(a.created_at)), [keys]);
  if (total === 0) return <EmptyState title="No keys">{isAdmin ? "Create one with “Create key”." : null}</EmptyState>;
  if (sorted.length === 0) return <EmptyState title="No key matches the filter" />;
  return (
    <ResourceTable
      label="Keys"
      minWidth={1100}
      columns={["Name", "Kind", "Role", "Environment", "Key", "Status", "Created", "Expires"]}
      actions={isAdmin}
    >
      {sorted.map((key) => (
        <Table.Tr key={key.id} data-testid={`key-${key.id}`}>
          <Table.Td>{key.name}</Table.Td>
          <Table.Td>{key.kind}</Table.Td>
          <Table.Td>{key.role ?? "—"}</Table.Td>
          <Table.Td>{key.environment ?? "—"}</Table.Td>
          <Table.Td style={{ whiteSpace: "nowrap" }}>
            <Code>{key.hint}</Code>
          </Table.Td>
          <Table.Td>
            <Group gap={4}>
              <Badge color={STATUS_COLOR[key.status]} variant="light">
                {key.status}
              </Badge>
              {key.rotated_to && (
                <Badge color="orange" variant="outline" title="Replaced by a newer key">
                  rotated
                </Badge>
              )}
            </Group>
          </Table.Td>
          <Table.Td style={{ whiteSpace: "nowrap" }}>
            <Time value={key.created_at} />
          </Table.Td>
          <Table.Td style={{ whiteSpace: "nowrap" }}>
            {key.revoked_at ? (
              <Text size="sm" c="dimmed">
                revoked <Time value={key.revoked_at} />
              </Text>
            ) : (
              <Time value={key.expires_at} empty="never" />
            )}
          </Table.Td>
          {isAdmin && (
            <RowActions>
              {key.status === "active" && (
                <ActionButton label="Rotate" target={`${key.name} (${key.hint})`} color="orange" onClick={() => onRotate(key)} />
              )}
              {key.status !== "revoked" && (
                <ActionButton label="Revoke" target={`${key.name} (${key.hint})`} danger onClick={() => onRevoke(key)} />
              )}
            </RowActions>
          )}
        </Table.Tr>
      ))}
    </ResourceTable>
  );
}
