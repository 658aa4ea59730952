// "New segment": key and description; users and rules are added in the
// editor, which opens right after.
import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Group, Modal, Stack, Text, TextInput } from "@mantine/core";
import { ApiError } from "../../api/client";
import { createSegment, segmentsKey, type Segment } from "../../api/admin";
import { blamesField, errorMessage, fieldError, notifySuccess } from "./errors";

const KEY_SYNTAX = /^[A-Za-z0-9._-]{1,128}$/;

interface Props {
  env: string;
  opened: boolean;
  onClose: () => void;
  onCreated: (segment: Segment) => void;
}

export function SegmentCreateModal({ env, opened, onClose, onCreated }: Props) {
  return (
    <Modal opened={opened} onClose={onClose} title="New segment" centered>
      {opened && <CreateForm env={env} onClose={onClose} onCreated={onCreated} />}
    </Modal>
  );
}

function CreateForm({ env, onClose, onCreated }: Omit<Props, "opened">) {
  const queryClient = useQueryClient();
  const [key, setKey] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const keyProblem = key && !KEY_SYNTAX.test(key) ? "1 to 128 letters, digits, '-', '_' or '.'" : undefined;

  async function submit() {
    setBusy(true);
    setError(undefined);
    try {
      const created = await createSegment(env, { key, description });
      await queryClient.invalidateQueries({ queryKey: segmentsKey(env) });
      notifySuccess(`Segment ${created.key} created in ${env}.`);
      onCreated(created);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const keyError = keyProblem ?? fieldError(error, "key") ?? (error instanceof ApiError && error.code === "duplicate_key" ? error.message : undefined);

  return (
    <Stack
      component="form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!keyProblem && key) void submit();
      }}
    >
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
      {error !== undefined && !keyError && !blamesField(error, ["description"]) && (
        <Alert color="red" role="alert" title="Not created">
          {errorMessage(error)}
        </Alert>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose}>
          Cancel
        </Button>
        <Button type="submit" loading={busy} disabled={!key || !!keyProblem}>
          Create segment
        </Button>
      </Group>
    </Stack>
  );
}
