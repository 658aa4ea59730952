import { useState, type FormEvent } from "react";
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { ApiError } from "../api/client";
import { useSession } from "../api/session";

export function SignInPage({ reason }: { reason?: string }) {
  const { signIn } = useSession();
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(token.trim());
      setToken("");
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "That token is not a valid admin token (it may be revoked or expired)."
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w="100%" maw={420} component="form" onSubmit={submit}>
        <Stack>
          <Title order={1} size="h2">Sign in to Halyard</Title>
          <Text size="sm" c="dimmed">
            Paste an admin token (<code>hal_adm_…</code>). It is exchanged for a session cookie and not kept by this page.
          </Text>
          {reason && <Alert color="yellow">{reason}</Alert>}
          <PasswordInput
            label="Admin token"
            value={token}
            onChange={(e) => setToken(e.currentTarget.value)}
            error={error}
            autoComplete="off"
            required
            data-autofocus
            autoFocus
          />
          <Button type="submit" loading={busy} disabled={!token.trim()}>
            Sign in
          </Button>
        </Stack>
      </Paper>
    </Center>
  );
}
