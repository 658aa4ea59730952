// Rotating (with a grace period for the old key) and revoking keys.
import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { NumberInput, Stack, Text } from "@mantine/core";
import { DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS, keysKey, revokeKey, rotateKey, type CreatedKey, type KeyView } from "../../api/admin";
import { ConfirmModal } from "../ConfirmModal";
import { notifySuccess } from "./errors";

function describe(key: KeyView): string {
  return `${key.name} (${key.kind}${key.environment ? `, ${key.environment}` : ""}${key.role ? `, ${key.role}` : ""}, ${key.hint})`;
}

interface TargetProps {
  target: KeyView | null;
  opened: boolean;
  onClose: () => void;
}

export function RotateKeyModal({ target, opened, onClose, onRotated }: TargetProps & { onRotated: (key: CreatedKey) => void }) {
  const queryClient = useQueryClient();
  const [hours, setHours] = useState<number | string>(DEFAULT_GRACE_SECONDS / 3600);
  const maxHours = MAX_GRACE_SECONDS / 3600;
  const valid = typeof hours === "number" && hours >= 0 && hours <= maxHours;
  return (
    <ConfirmModal
      opened={opened}
      onClose={() => {
        setHours(DEFAULT_GRACE_SECONDS / 3600);
        onClose();
      }}
      title="Rotate key"
      confirmLabel="Rotate key"
      color="orange"
      onConfirm={async () => {
        if (!target || !valid) throw new Error("Enter a grace period between 0 and " + maxHours + " hours.");
        const created = await rotateKey(target.id, Math.round((hours as number) * 3600));
        await queryClient.invalidateQueries({ queryKey: keysKey });
        notifySuccess(`Key ${target.name} rotated.`);
        onRotated(created);
      }}
    >
      {target && (
        <Stack gap="sm">
          <Text size="sm">
            Issue a new key to replace <b>{describe(target)}</b>, with the same name, kind, role and environment.
          </Text>
          <NumberInput
            label="Grace period (hours)"
            description="How long the old key keeps working, so deployments can switch over. 0 stops it at once."
            value={hours}
            onChange={setHours}
            min={0}
            max={maxHours}
            step={1}
            decimalScale={2}
            error={valid ? undefined : `Between 0 and ${maxHours} hours`}
            data-autofocus
          />
        </Stack>
      )}
    </ConfirmModal>
  );
}

export function RevokeKeyModal({ target, opened, onClose }: TargetProps) {
  const queryClient = useQueryClient();
  return (
    <ConfirmModal
      opened={opened}
      onClose={onClose}
      title="Revoke key"
      confirmLabel="Revoke key"
      onConfirm={async () => {
        if (!target) return;
        await revokeKey(target.id);
        await queryClient.invalidateQueries({ queryKey: keysKey });
        notifySuccess(`Key ${target.name} revoked.`);
      }}
    >
      {target && (
        <Text size="sm">
          Revoke <b>{describe(target)}</b> now? Everything using it is refused from this moment (edges learn within seconds). This
          cannot be undone.
        </Text>
      )}
    </ConfirmModal>
  );
}
