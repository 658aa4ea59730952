// "New segment": key and description; users and rules are added in the
// editor, which opens right after.
import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Text, TextInput } from "@mantine/core";
import { createSegment, segmentsKey, type Segment } from "../../api/admin";
import { FormActions, FormError, FormModal, ModalForm } from "../FormModal";
import { keyFieldError, keyProblem } from "../keySyntax";
import { useSubmit } from "../useSubmit";
import { blamesField, fieldError, notifySuccess } from "./errors";

interface Props {
  env: string;
  opened: boolean;
  onClose: () => void;
  onCreated: (segment: Segment) => void;
}

export function SegmentCreateModal({ env, opened, onClose, onCreated }: Props) {
  return (
    <FormModal opened={opened} onClose={onClose} title="New segment" centered>
      <CreateForm env={env} onClose={onClose} onCreated={onCreated} />
    </FormModal>
  );
}

function CreateForm({ env, onClose, onCreated }: Omit<Props, "opened">) {
  const queryClient = useQueryClient();
  const [key, setKey] = useState("");
  const [description, setDescription] = useState("");
  const { submit, busy, error } = useSubmit(async () => {
    const created = await createSegment(env, { key, description });
    await queryClient.invalidateQueries({ queryKey: segmentsKey(env) });
    notifySuccess(`Segment ${created.key} created in ${env}.`);
    onCreated(created);
  });
  const ready = !!key && !keyProblem(key);
  const keyError = keyFieldError(key, error);

  return (
    <ModalForm onSubmit={submit} ready={ready}>
      <Text size="sm" c="dimmed">
        In environment <b>{env}</b>. Add users and rules after creating it.
      </Text>
      <TextInput
        label="Key"
        value={key}
        onChange={(e) => setKey(e.currentTarget.value.trim())}
        error={keyError}
        required
        data-autofocus
        autoComplete="off"
      />
      <TextInput
        label="Description"
        value={description}
        onChange={(e) => setDescription(e.currentTarget.value)}
        error={fieldError(error, "description")}
      />
      {error !== undefined && !keyError && !blamesField(error, ["description"]) && <FormError title="Not created" error={error} />}
      <FormActions onCancel={onClose} submitLabel="Create segment" busy={busy} disabled={!ready} />
    </ModalForm>
  );
}
