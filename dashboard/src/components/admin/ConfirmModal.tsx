// A confirmation dialog for destructive actions. The action runs inside the
// dialog: it stays open while the request is in flight and shows the API's
// error in place (e.g. a 409 naming what still uses the thing), so nothing
// fails silently. Optionally the user must type a word (the key) first.
import { useEffect, useState, type ReactNode } from "react";
import { Alert, Button, Group, Modal, Stack, TextInput } from "@mantine/core";
import { errorMessage } from "./errors";

interface Props {
  opened: boolean;
  onClose: () => void;
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  /** Runs on confirm; the dialog closes when it resolves. */
  onConfirm: () => Promise<unknown>;
  /** When set, the confirm button stays disabled until this is typed. */
  typeToConfirm?: string;
  /** Renders the error in place of the default alert (e.g. to explain a 409). */
  renderError?: (err: unknown) => ReactNode;
  color?: string;
}

export function ConfirmModal({ opened, onClose, title, children, confirmLabel, onConfirm, typeToConfirm, renderError, color = "red" }: Props) {
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    if (opened) {
      setTyped("");
      setError(undefined);
    }
  }, [opened]);

  const blocked = typeToConfirm !== undefined && typed !== typeToConfirm;

  async function confirm() {
    if (blocked || busy) return;
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm();
      onClose();
    } catch (err) {
      setError(err ?? new Error("failed"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal opened={opened} onClose={() => !busy && onClose()} title={title} centered>
      <Stack
        component="form"
        onSubmit={(e) => {
          e.preventDefault();
          void confirm();
        }}
      >
        {children}
        {typeToConfirm !== undefined && (
          <TextInput
            label={`Type "${typeToConfirm}" to confirm`}
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
            autoComplete="off"
            data-autofocus
          />
        )}
        {error !== undefined &&
          (renderError?.(error) ?? (
            <Alert color="red" role="alert" title="That did not work">
              {errorMessage(error)}
            </Alert>
          ))}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} disabled={busy} data-autofocus={typeToConfirm === undefined || undefined}>
            Cancel
          </Button>
          <Button type="submit" color={color} loading={busy} disabled={blocked}>
            {confirmLabel}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
