// The pieces every dialog with a form shares: the dialog (its form mounted
// only while it is open, so each opening starts afresh), the form, the
// error no field explains, and the Cancel / submit buttons.
import type { ReactNode } from "react";
import { Alert, Button, Group, Modal, Stack, type ModalProps } from "@mantine/core";
import { errorMessage } from "./admin/errors";

/** A dialog whose content is mounted only while it is open. */
export function FormModal({ opened, children, ...modal }: ModalProps) {
  return (
    <Modal opened={opened} {...modal}>
      {opened && children}
    </Modal>
  );
}

interface FormProps {
  /** Runs on Enter in a field, or on the submit button. */
  onSubmit(): unknown;
  /** While false, submitting does nothing (Enter in an incomplete form). */
  ready?: boolean;
  children: ReactNode;
}

/** A dialog's form: its fields and buttons, stacked. */
export function ModalForm({ onSubmit, ready = true, children }: FormProps) {
  return (
    <Stack
      component="form"
      onSubmit={(e) => {
        e.preventDefault();
        if (ready) void onSubmit();
      }}
    >
      {children}
    </Stack>
  );
}

/** Why a submit failed, when no field shows it. */
export function FormError({ title, error }: { title: string; error: unknown }) {
  return (
    <Alert color="red" role="alert" title={title}>
      {errorMessage(error)}
    </Alert>
  );
}

interface ActionsProps {
  onCancel(): void;
  cancelLabel?: string;
  /** Focus Cancel when the dialog opens (the safe choice of a confirmation). */
  focusCancel?: boolean;
  /** The submit button's label; no submit button without it (a read-only view). */
  submitLabel?: string;
  /** Runs on click; without it the button submits the form. */
  onSubmit?(): void;
  /** A request is in flight: the submit button spins. */
  busy?: boolean;
  /** Cancel waits for the request too (a confirmation shows how it ended). */
  lockCancelWhileBusy?: boolean;
  disabled?: boolean;
  color?: string;
}

/** Cancel and the submit button, at the end of a dialog's form. */
export function FormActions({
  onCancel,
  cancelLabel = "Cancel",
  focusCancel,
  submitLabel,
  onSubmit,
  busy = false,
  lockCancelWhileBusy = false,
  disabled,
  color,
}: ActionsProps) {
  return (
    <Group justify="flex-end">
      <Button variant="default" onClick={onCancel} disabled={busy && lockCancelWhileBusy} data-autofocus={focusCancel || undefined}>
        {cancelLabel}
      </Button>
      {submitLabel && (
        <Button
          type={onSubmit ? "button" : "submit"}
          onClick={onSubmit}
          color={color}
          loading={busy}
          disabled={disabled}
        >
          {submitLabel}
        </Button>
      )}
    </Group>
  );
}
