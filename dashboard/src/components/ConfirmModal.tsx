// A confirmation dialog for destructive actions. The action runs inside the
// dialog: it stays open while the request is in flight and shows the API's
// error in place (e.g. a 409 naming what still uses the thing), so nothing
// fails silently. Optionally the user must type a word (the key) first.
import { useEffect, useState, type ReactNode } from "react";
import { Modal, TextInput } from "@mantine/core";
import { FormActions, FormError, ModalForm } from "./FormModal";
import { useSubmit } from "./useSubmit";

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
  /** The title of the alert showing a failure. */
  errorTitle?: string;
  /** Renders the error in place of the default alert (e.g. to explain a 409); null for the default. */
  renderError?: (err: unknown) => ReactNode;
  color?: string;
}

export function ConfirmModal({
  opened,
  onClose,
  title,
  children,
  confirmLabel,
  onConfirm,
  typeToConfirm,
  errorTitle = "That did not work",
  renderError,
  color = "red",
}: Props) {
  const [typed, setTyped] = useState("");
  const { submit, busy, error, setError } = useSubmit(async () => {
    await onConfirm();
    onClose();
  });

  useEffect(() => {
    if (opened) {
      setTyped("");
      setError(undefined);
    }
  }, [opened, setError]);

  const blocked = typeToConfirm !== undefined && typed !== typeToConfirm;

  return (
    <Modal opened={opened} onClose={() => !busy && onClose()} title={title} centered>
      <ModalForm onSubmit={submit} ready={!blocked && !busy}>
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
        {error !== undefined && (renderError?.(error) ?? <FormError title={errorTitle} error={error} />)}
        <FormActions
          onCancel={onClose}
          focusCancel={typeToConfirm === undefined}
          submitLabel={confirmLabel}
          color={color}
          busy={busy}
          lockCancelWhileBusy
          disabled={blocked}
        />
      </ModalForm>
    </Modal>
  );
}
