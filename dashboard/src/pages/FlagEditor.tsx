// /flags/:key: the flag's details (shared) and one tab per environment with
// that environment's configuration. `?env=` selects the tab.
import { useState } from "react";
import { Alert, Anchor, Badge, Box, Button, Grid, Group, Stack, Tabs, Text, Title, VisuallyHidden } from "@mantine/core";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { ApiError } from "../api/client";
import { useFlagDefinition, useEnvironments, type DefinitionView, type Environment } from "../api/model";
import { useCan } from "../api/session";
import { EmptyState } from "../components/EmptyState";
import { QueryState } from "../components/QueryState";
import { DefinitionEditor } from "../components/flag/DefinitionEditor";
import { DeleteFlagModal } from "../components/flag/DeleteFlagModal";
import { EnvironmentConfigForm, type EnvDraft } from "../components/flag/EnvironmentConfigForm";
import { sameConfig } from "../components/flag/format";

export function FlagEditorPage() {
  const { key = "" } = useParams();
  const definition = useFlagDefinition(key);
  const environments = useEnvironments();

  if (definition.isError && definition.error instanceof ApiError && definition.error.status === 404) {
    return (
      <Stack>
        <Title order={1} size="h2">{key}</Title>
        <Alert color="yellow" title="No such flag">
          There is no flag with the key {key}; it may have been deleted.{" "}
          <Anchor component={Link} to="/flags">
            Back to the flags
          </Anchor>
        </Alert>
      </Stack>
    );
  }

  return (
    <QueryState query={definition}>
      {(def) => (
        <QueryState query={environments}>{(envs) => <Editor definition={def} environments={envs} />}</QueryState>
      )}
    </QueryState>
  );
}

function Editor({ definition, environments }: { definition: DefinitionView; environments: Environment[] }) {
  const { flag } = definition;
  const canEdit = useCan("editor");
  const navigate = useNavigate();
  const [search, setSearch] = useSearchParams();
  const [drafts, setDrafts] = useState<Record<string, EnvDraft | undefined>>({});
  const [deleteOpen, setDeleteOpen] = useState(false);

  const requested = search.get("env");
  const active = environments.some((e) => e.key === requested) ? requested! : environments[0]?.key;
  const selectEnv = (env: string | null) => {
    if (!env) return;
    const next = new URLSearchParams(search);
    next.set("env", env);
    setSearch(next, { replace: true });
  };

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-start" wrap="wrap">
        <Stack gap={4}>
          <Anchor component={Link} to={active ? `/flags?env=${encodeURIComponent(active)}` : "/flags"} size="sm">
            ← Flags
          </Anchor>
          <Group gap="sm">
            <Title order={1} size="h2" data-testid="flag-key">
              {flag.key}
            </Title>
            <Badge variant="outline">{flag.kind}</Badge>
          </Group>
          {flag.description && (
            <Text c="dimmed" data-testid="flag-description">
              {flag.description}
            </Text>
          )}
          {flag.tags.length > 0 && (
            <Group gap={4} aria-label="Tags">
              {flag.tags.map((t) => (
                <Badge key={t} variant="light" size="sm">
                  {t}
                </Badge>
              ))}
            </Group>
          )}
        </Stack>
        {canEdit && (
          <Button color="red" variant="light" onClick={() => setDeleteOpen(true)}>
            Delete flag
          </Button>
        )}
      </Group>

      {!canEdit && (
        <Alert color="gray" data-testid="read-only">
          Read-only: signed in as a viewer
        </Alert>
      )}

      <Grid gutter="lg">
        <Grid.Col span={{ base: 12, lg: 8 }}>
          {environments.length === 0 ? (
            <EmptyState title="No environments yet">An admin can create one on the Environments page.</EmptyState>
          ) : (
            <Tabs value={active} onChange={selectEnv} keepMounted={false}>
              <Tabs.List>
                {environments.map((env) => {
                  const config = definition.environments[env.key];
                  const draft = drafts[env.key];
                  const unsaved = !!draft && !sameConfig(draft.draft, draft.base);
                  const enabled = !!config?.enabled;
                  return (
                    <Tabs.Tab
                      key={env.key}
                      value={env.key}
                      leftSection={
                        // On: a filled teal dot; off: a grey ring (not told by colour alone).
                        <Box
                          aria-hidden
                          title={enabled ? "On" : "Off"}
                          w={8}
                          h={8}
                          style={{
                            borderRadius: "50%",
                            border: `2px solid ${enabled ? "var(--mantine-color-teal-6)" : "var(--mantine-color-gray-5)"}`,
                            background: enabled ? "var(--mantine-color-teal-6)" : "transparent",
                          }}
                        />
                      }
                      rightSection={
                        unsaved ? (
                          <Text span c="yellow.7" aria-hidden title="Unsaved changes">
                            ●
                          </Text>
                        ) : undefined
                      }
                    >
                      {env.name}
                      <VisuallyHidden>
                        {enabled ? ", on" : ", off"}
                        {unsaved && ", unsaved changes"}
                      </VisuallyHidden>
                    </Tabs.Tab>
                  );
                })}
              </Tabs.List>
              {environments.map((env) => (
                <Tabs.Panel key={env.key} value={env.key}>
                  <EnvironmentConfigForm
                    flag={flag}
                    env={env}
                    environments={environments}
                    configs={definition.environments}
                    draft={drafts[env.key]}
                    setDraft={(d) => setDrafts((old) => ({ ...old, [env.key]: d }))}
                    canEdit={canEdit}
                  />
                </Tabs.Panel>
              ))}
            </Tabs>
          )}
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 4 }}>
          <DefinitionEditor key={flag.key} flag={flag} canEdit={canEdit} />
        </Grid.Col>
      </Grid>

      {canEdit && (
        <DeleteFlagModal
          opened={deleteOpen}
          onClose={() => setDeleteOpen(false)}
          flagKey={flag.key}
          onDeleted={() => navigate(active ? `/flags?env=${encodeURIComponent(active)}` : "/flags")}
        />
      )}
    </Stack>
  );
}
