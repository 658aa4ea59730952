// A 409 version_conflict: what changed since the form was loaded, and the
// two ways on.
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
          (red: what you loaded, green: what is stored now). Discard your changes to see the stored version, or keep
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
