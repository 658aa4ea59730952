// Creating and renaming environments (admin role).
import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Alert, Text, TextInput } from "@mantine/core";
import { ApiError } from "../../api/client";
import { createEnvironment, environmentsKey, renameEnvironment, type Environment } from "../../api/admin";
import { FormActions, FormError, FormModal, ModalForm } from "../FormModal";
import { keyFieldError, keyProblem } from "../keySyntax";
import { useSubmit } from "../useSubmit";
import { blamesField, errorMessage, fieldError, notifySuccess } from "./errors";

export function CreateEnvironmentModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  return (
    <FormModal opened={opened} onClose={onClose} title="New environment" centered>
      <CreateForm onClose={onClose} />
    </FormModal>
  );
}

function CreateForm({ onClose }: { onClose: () => void }) {
  const queryClient = useQueryClient();
  const [key, setKey] = useState("");
  const [name, setName] = useState("");
  const { submit, busy, error } = useSubmit(async () => {
    const env = await createEnvironment({ key, name: name.trim() || undefined });
    await queryClient.invalidateQueries({ queryKey: environmentsKey });
    notifySuccess(`Environment ${env.key} created; every flag starts disabled in it.`);
    onClose();
  });
  const ready = !!key && !keyProblem(key);
  const keyError = keyFieldError(key, error);

  return (
    <ModalForm onSubmit={submit} ready={ready}>
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
      {error !== undefined && !keyError && !blamesField(error, ["name"]) && <FormError title="Not created" error={error} />}
      <FormActions onCancel={onClose} submitLabel="Create environment" busy={busy} disabled={!ready} />
    </ModalForm>
  );
}

export function RenameEnvironmentModal({ environment, opened, onClose }: { environment: Environment | null; opened: boolean; onClose: () => void }) {
  return (
    <FormModal opened={opened} onClose={onClose} title={`Edit environment ${environment?.key ?? ""}`} centered>
      {environment && <RenameForm environment={environment} onClose={onClose} />}
    </FormModal>
  );
}

function RenameForm({ environment, onClose }: { environment: Environment; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(environment.name);
  // The version the rename is based on: the one shown when the dialog opened.
  const [base] = useState(environment);
  const { submit, busy, error } = useSubmit(async () => {
    await renameEnvironment(base, name.trim());
    await queryClient.invalidateQueries({ queryKey: environmentsKey });
    notifySuccess(`Environment ${base.key} renamed to “${name.trim()}”.`);
    onClose();
  });

  const conflict = error instanceof ApiError && error.code === "version_conflict";
  return (
    <ModalForm onSubmit={submit} ready={!!name.trim()}>
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
      <FormActions onCancel={onClose} submitLabel="Rename" busy={busy} disabled={!name.trim() || name.trim() === base.name} />
    </ModalForm>
  );
}
