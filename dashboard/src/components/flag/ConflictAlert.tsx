// Edits meeting someone else's: announced while editing (ChangedElsewhere),
// and after a save refused with 409 version_conflict (ConflictAlert): what
// changed since the form was loaded, and the two ways on.
import { Alert, Button, Group, Stack, Text } from "@mantine/core";
import { JsonDiff } from "../JsonDiff";

interface Props {
  /** What the form was loaded from. */
  loaded: unknown;
  /** What is stored now. */
  stored: unknown;
  onDiscard(): void;
  onKeepEditing(): void;
}

export function ConflictAlert({ loaded, stored, onDiscard, onKeepEditing }: Props) {
  return (
    <Alert color="orange" title="Someone else changed this flag" role="alert" data-testid="version-conflict">
      <Stack gap="sm">
        <Text size="sm">
          It was changed after you loaded it, so your changes were not saved. These are the changes made elsewhere
          (lines marked − in red: what you loaded; + in green: what is stored now). Discard your changes to see the stored version, or keep
          editing: saving again then replaces the stored version with yours.
        </Text>
        <JsonDiff before={loaded} after={stored} label="Changes made elsewhere" />
        <Group>
          <Button color="orange" onClick={onDiscard}>
            Discard my changes
          </Button>
          <Button variant="default" onClick={onKeepEditing}>
            Keep editing
          </Button>
        </Group>
      </Stack>
    </Alert>
  );
}

interface ChangedElsewhereProps {
  /** What happens to the edits, e.g. "Your unsaved changes are kept." */
  children: string;
  onReview(): void;
  onDiscard(): void;
  "data-testid"?: string;
}

/** The stored version changed while the form has unsaved edits. */
export function ChangedElsewhere({ children, onReview, onDiscard, "data-testid": testId }: ChangedElsewhereProps) {
  return (
    <Alert color="blue" title="This flag changed elsewhere" data-testid={testId}>
      <Group justify="space-between" gap="sm">
        <Text size="sm">{children}</Text>
        <Group gap="xs">
          <Button size="xs" variant="default" onClick={onReview}>
            Review changes
          </Button>
          <Button size="xs" variant="subtle" onClick={onDiscard}>
            Discard my changes
          </Button>
        </Group>
      </Group>
    </Alert>
  );
}
