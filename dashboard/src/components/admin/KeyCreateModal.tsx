// "Create key": admin tokens (with a role), server and client SDK keys
// (of one environment) and edge tokens. The plaintext is handed to the
// caller once, to show in PlaintextKeyModal; it is not kept here.
import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Select, Text, TextInput } from "@mantine/core";
import { createKey, keysKey, useEnvironments, type CreatedKey, type CreateKeyBody, type KeyKind } from "../../api/admin";
import type { Role } from "../../api/session";
import { FormActions, FormError, FormModal, ModalForm } from "../FormModal";
import { useSubmit } from "../useSubmit";
import { blamesField, errorMessage, fieldError } from "./errors";
import { localInputToIso } from "./format";

export const KIND_LABELS: Record<KeyKind, string> = {
  admin: "Admin token (dashboard and admin API)",
  server: "Server SDK key (one environment, full configurations)",
  client: "Client SDK key (one environment, browser-safe results)",
  edge: "Edge token (reads every environment's snapshot)",
};

const ROLES: { value: Role; label: string }[] = [
  { value: "viewer", label: "viewer: read everything" },
  { value: "editor", label: "editor: also change flags and segments" },
  { value: "admin", label: "admin: also manage environments and keys" },
];

interface Props {
  opened: boolean;
  onClose: () => void;
  onCreated: (key: CreatedKey) => void;
}

export function KeyCreateModal({ opened, onClose, onCreated }: Props) {
  return (
    <FormModal opened={opened} onClose={onClose} title="Create key" centered size="lg">
      <CreateKeyForm onClose={onClose} onCreated={onCreated} />
    </FormModal>
  );
}

function CreateKeyForm({ onClose, onCreated }: Omit<Props, "opened">) {
  const queryClient = useQueryClient();
  const environments = useEnvironments();
  const [name, setName] = useState("");
  const [kind, setKind] = useState<KeyKind>("server");
  const [role, setRole] = useState<Role | null>("viewer");
  const [environment, setEnvironment] = useState<string | null>(null);
  const [expires, setExpires] = useState("");

  const needsRole = kind === "admin";
  const needsEnv = kind === "server" || kind === "client";
  const envs = environments.data ?? [];
  const selectedEnv = environment ?? (envs.find((e) => e.key === "production") ?? envs[0])?.key ?? null;
  const expiresIso = localInputToIso(expires);
  const expiresProblem =
    expires && !expiresIso ? "Not a date and time" : expiresIso && new Date(expiresIso) <= new Date() ? "Must be in the future" : undefined;

  const { submit, busy, error } = useSubmit(async () => {
    const body: CreateKeyBody = { name: name.trim(), kind };
    if (needsRole && role) body.role = role;
    if (needsEnv && selectedEnv) body.environment = selectedEnv;
    if (expiresIso) body.expires_at = expiresIso;
    const created = await createKey(body);
    await queryClient.invalidateQueries({ queryKey: keysKey });
    onCreated(created);
  });

  const ready = !!name.trim() && (!needsRole || !!role) && (!needsEnv || !!selectedEnv) && !expiresProblem;
  return (
    <ModalForm onSubmit={submit} ready={ready}>
      <TextInput
        label="Name"
        description={needsRole ? "Shown as the actor in the audit log." : "What uses it, e.g. checkout-service."}
        value={name}
        onChange={(e) => setName(e.currentTarget.value)}
        error={fieldError(error, "name")}
        required
        autoComplete="off"
        data-autofocus
      />
      <Select
        label="Kind"
        data={(Object.keys(KIND_LABELS) as KeyKind[]).map((k) => ({ value: k, label: KIND_LABELS[k] }))}
        value={kind}
        onChange={(k) => k && setKind(k as KeyKind)}
        allowDeselect={false}
        error={fieldError(error, "kind")}
      />
      {needsRole && (
        <Select
          label="Role"
          data={ROLES}
          value={role}
          onChange={(r) => setRole(r as Role | null)}
          allowDeselect={false}
          error={fieldError(error, "role")}
          required
        />
      )}
      {needsEnv && (
        <Select
          label="Environment"
          data={envs.map((e) => e.key)}
          value={selectedEnv}
          onChange={setEnvironment}
          allowDeselect={false}
          error={fieldError(error, "environment") ?? (environments.isError ? errorMessage(environments.error) : undefined)}
          nothingFoundMessage="No environments"
          required
        />
      )}
      <TextInput
        type="datetime-local"
        label="Expires (optional)"
        description="Your local time. Leave empty for a key that does not expire."
        value={expires}
        onChange={(e) => setExpires(e.currentTarget.value)}
        error={expiresProblem ?? fieldError(error, "expires_at")}
      />
      {kind === "client" && (
        <Text size="sm" c="dimmed">
          Client keys are meant to be public (shipped in browsers and apps); they only get evaluated results.
        </Text>
      )}
      {error !== undefined && !blamesField(error, ["name", "kind", "role", "environment", "expires_at"]) && (
        <FormError title="Not created" error={error} />
      )}
      <FormActions onCancel={onClose} submitLabel="Generate key" busy={busy} disabled={!ready} />
    </ModalForm>
  );
}
