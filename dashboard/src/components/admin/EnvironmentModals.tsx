// Creating and renaming environments (admin role).
import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Group, Modal, Stack, Text, TextInput } from "@mantine/core";
import { ApiError } from "../../api/client";
import { createEnvironment, environmentsKey, renameEnvironment, type Environment } from "../../api/admin";
import { blamesField, errorMessage, fieldError, notifySuccess } from "./errors";

const KEY_SYNTAX = /^[A-Za-z0-9._-]{1,128}$/;

export function CreateEnvironmentModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  return (
    <Modal opened={opened} onClose={onClose} title="New environment" centered>
      {opened && <CreateForm onClose={onClose} />}
    </Modal>
  );
}

function CreateForm({ onClose }: { onClose: () => void }) {
  const queryClient = useQueryClient();
  const [key, setKey] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const keyProblem = key && !KEY_SYNTAX.test(key) ? "1 to 128 letters, digits, '-', '_' or '.'" : undefined;
  const keyError =
    keyProblem ?? fieldError(error, "key") ?? (error instanceof ApiError && error.code === "duplicate_key" ? error.message : undefined);

  async function submit() {
    setBusy(true);
    setError(undefined);
    try {
      const env = await createEnvironment({ key, name: name.trim() || undefined });
      await queryClient.invalidateQueries({ queryKey: environmentsKey });
      notifySuccess(`Environment ${env.key} created; every flag starts disabled in it.`);
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Stack
      component="form"
      onSubmit={(e) => {
        e.preventDefault();
        if (key && !keyProblem) void submit();
      }}
    >
      <TextInput
        label="Key"
        description="Used in URLs, SDK keys and the API; cannot be changed."
        value={key}
        onChange={(e) => setKey(e.currentTarget.value.trim())}
        error={keyError}
        required
        autoComplete="off"
        data-autofocus
      />
      <TextInput
        label="Name"
        description="Display name (the key when empty)."
        value={name}
        onChange={(e) => setName(e.currentTarget.value)}
        error={fieldError(error, "name")}
      />
      <Text size="sm" c="dimmed">
        Every flag gets a configuration in the new environment, disabled.
      </Text>
      {error !== undefined && !keyError && !blamesField(error, ["name"]) && (
        <Alert color="red" role="alert" title="Not created">
          {errorMessage(error)}
        </Alert>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose}>
          Cancel
        </Button>
        <Button type="submit" loading={busy} disabled={!key || !!keyProblem}>
          Create environment
        </Button>
      </Group>
    </Stack>
  );
}

export function RenameEnvironmentModal({ environment, opened, onClose }: { environment: Environment | null; opened: boolean; onClose: () => void }) {
  return (
    <Modal opened={opened} onClose={onClose} title={`Edit environment ${environment?.key ?? ""}`} centered>
      {opened && environment && <RenameForm environment={environment} onClose={onClose} />}
    </Modal>
  );
}

function RenameForm({ environment, onClose }: { environment: Environment; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(environment.name);
  // The version the rename is based on: the one shown when the dialog opened.
  const [base] = useState(environment);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  async function submit() {
    setBusy(true);
    setError(undefined);
    try {
      await renameEnvironment(base, name.trim());
      await queryClient.invalidateQueries({ queryKey: environmentsKey });
      notifySuccess(`Environment ${base.key} renamed to “${name.trim()}”.`);
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const conflict = error instanceof ApiError && error.code === "version_conflict";
  return (
    <Stack
      component="form"
      onSubmit={(e) => {
        e.preventDefault();
        if (name.trim()) void submit();
      }}
    >
      <TextInput
        label="Name"
        value={name}
        onChange={(e) => setName(e.currentTarget.value)}
        error={fieldError(error, "name")}
        required
        data-autofocus
      />
      {error !== undefined && !blamesField(error, ["name"]) && (
        <Alert color={conflict ? "orange" : "red"} role="alert" title={conflict ? "Renamed elsewhere" : "Not renamed"}>
          {conflict
            ? `Someone changed this environment meanwhile (it is now “${environment.name}”). Close and try again.`
            : errorMessage(error)}
        </Alert>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose}>
          Cancel
        </Button>
        <Button type="submit" loading={busy} disabled={!name.trim() || name.trim() === base.name}>
          Rename
        </Button>
      </Group>
    </Stack>
  );
}
