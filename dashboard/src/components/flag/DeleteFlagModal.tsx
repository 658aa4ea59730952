// Delete a flag from every environment, confirmed by typing its key.
import { Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useDeleteFlag } from "../../api/model";
import { ConfirmModal } from "../ConfirmModal";

interface Props {
  opened: boolean;
  onClose(): void;
  flagKey: string;
  onDeleted(): void;
}

export function DeleteFlagModal({ opened, onClose, flagKey, onDeleted }: Props) {
  const remove = useDeleteFlag();
  return (
    <ConfirmModal
      opened={opened}
      onClose={onClose}
      title={`Delete ${flagKey}`}
      confirmLabel="Delete flag"
      typeToConfirm={flagKey}
      errorTitle="Not deleted"
      onConfirm={async () => {
        await remove.mutateAsync(flagKey);
        notifications.show({ color: "teal", title: "Flag deleted", message: `${flagKey} was deleted from every environment.` });
        onDeleted();
      }}
    >
      <Text size="sm">
        This deletes <strong>{flagKey}</strong> and its configuration in every environment. SDKs then get their default
        value for it. This cannot be undone.
      </Text>
    </ConfirmModal>
  );
}
