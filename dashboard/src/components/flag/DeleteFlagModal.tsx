// Delete a flag from every environment, confirmed by typing its key.
import { useState } from "react";
import { Alert, Button, Group, Modal, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useDeleteFlag } from "../../api/model";

interface Props {
  opened: boolean;
  onClose(): void;
  flagKey: string;
  onDeleted(): void;
}

export function DeleteFlagModal({ opened, onClose, flagKey, onDeleted }: Props) {
  const [typed, setTyped] = useState("");
  const remove = useDeleteFlag();

  const close = () => {
    setTyped("");
    remove.reset();
    onClose();
  };

  return (
    <Modal opened={opened} onClose={close} title={`Delete ${flagKey}`}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (typed !== flagKey) return;
          remove.mutate(flagKey, {
            onSuccess: () => {
              notifications.show({ color: "teal", title: "Flag deleted", message: `${flagKey} was deleted from every environment.` });
              setTyped("");
              onDeleted();
            },
          });
        }}
      >
        <Stack>
          <Text size="sm">
            This deletes <strong>{flagKey}</strong> and its configuration in every environment. SDKs then get their
            default value for it. This cannot be undone.
          </Text>
          <TextInput
            label="Type the flag key to confirm"
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            autoComplete="off"
            data-autofocus
          />
          {remove.isError && (
            <Alert color="red" role="alert" title="Not deleted">
              {remove.error.message}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" color="red" disabled={typed !== flagKey} loading={remove.isPending}>
              Delete flag
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
