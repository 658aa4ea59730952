// Shows a new key's plaintext once. The caller keeps the plaintext only
// while this is open and drops it on close; nothing else ever stores it.
import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Text } from "@mantine/core";
import type { CreatedKey } from "../../api/admin";

export function PlaintextKeyModal({ created, title, onClose }: { created: CreatedKey | null; title: string; onClose: () => void }) {
  return (
    <Modal
      opened={created !== null}
      onClose={onClose}
      title={title}
      centered
      size="lg"
      closeOnClickOutside={false}
      closeOnEscape={false}
    >
      {created && (
        <Stack>
          <Alert color="yellow" role="alert" title="Store it now">
            Copy this key now. It will not be shown again.
          </Alert>
          <Text size="sm">
            <b>{created.name}</b> ({created.kind}
            {created.role ? `, ${created.role}` : ""}
            {created.environment ? `, ${created.environment}` : ""})
          </Text>
          <Code block data-testid="new-key-plaintext" style={{ wordBreak: "break-all", whiteSpace: "pre-wrap" }}>
            {created.plaintext}
          </Code>
          <Group justify="space-between">
            <CopyButton value={created.plaintext}>
              {({ copied, copy }) => (
                <Button color={copied ? "teal" : undefined} onClick={copy} data-autofocus>
                  {copied ? "Copied" : "Copy key"}
                </Button>
              )}
            </CopyButton>
            <Button variant="default" onClick={onClose}>
              I have stored it, close
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
