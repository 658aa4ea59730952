// The evaluation playground: every flag of an environment evaluated for a
// user id and attributes, by the same engine the edges run. It re-runs as
// you type (debounced) and whenever anything is committed (the live feed
// refreshes the query, which is keyed on the inputs).
import { useMemo, useState } from "react";
import { Alert, Grid, Group, JsonInput, Stack, Text, TextInput } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useEvaluation, type JsonValue } from "../api/admin";
import { PageHeader } from "../components/PageHeader";
import { QueryState, Spinner } from "../components/QueryState";
import { EmptyState } from "../components/EmptyState";
import { EnvironmentSelect, useSelectedEnvironment } from "../components/admin/EnvironmentSelect";
import { EvaluationTable } from "../components/admin/EvaluationTable";
import { errorMessage } from "../components/admin/errors";

type Parsed = { context: Record<string, JsonValue>; error?: undefined } | { context: null; error: string };

function buildContext(userId: string, attributes: string): Parsed {
  let attrs: unknown = {};
  if (attributes.trim()) {
    try {
      attrs = JSON.parse(attributes);
    } catch (err) {
      return { context: null, error: `Not valid JSON: ${(err as Error).message}` };
    }
  }
  if (attrs === null || typeof attrs !== "object" || Array.isArray(attrs)) {
    return { context: null, error: 'Attributes must be a JSON object, e.g. {"country": "DE"}' };
  }
  const context = { ...(attrs as Record<string, JsonValue>) };
  if (userId.trim()) context.targetingKey = userId.trim();
  return { context };
}

export function PlaygroundPage() {
  const { env, setEnv, environments } = useSelectedEnvironment();
  const [userId, setUserId] = useState("");
  const [attributes, setAttributes] = useState("{}");
  const [search, setSearch] = useState("");
  const [debouncedUser] = useDebouncedValue(userId, 300);
  const [debouncedAttrs] = useDebouncedValue(attributes, 300);
  const parsed = useMemo(() => buildContext(debouncedUser, debouncedAttrs), [debouncedUser, debouncedAttrs]);
  const evaluation = useEvaluation(env, parsed.context);
  const pending = userId !== debouncedUser || attributes !== debouncedAttrs || evaluation.isFetching;
  const overridden = !!userId.trim() && parsed.context !== null && /"targetingKey"\s*:/.test(debouncedAttrs);

  return (
    <Stack>
      <PageHeader title="Playground">
        See what every flag serves to a user, and why. Results update as you type and whenever a flag or segment changes.
      </PageHeader>
      <QueryState query={environments}>
        {(envs) =>
          envs.length === 0 ? (
            <EmptyState title="No environments">Create an environment first.</EmptyState>
          ) : (
            <Grid gutter="md" align="flex-start">
              <Grid.Col span={{ base: 12, md: 4 }}>
                <Stack component="form" onSubmit={(e) => e.preventDefault()} aria-label="Evaluation context">
                  <EnvironmentSelect value={env} onChange={setEnv} environments={envs} />
                  <TextInput
                    label="User id"
                    description="Sent as the targeting key; leave empty for an anonymous user."
                    value={userId}
                    onChange={(e) => setUserId(e.currentTarget.value)}
                    autoComplete="off"
                  />
                  <JsonInput
                    label="Attributes (JSON)"
                    description={'Any attributes your rules test, e.g. {"country": "DE", "plan": "pro"}.'}
                    value={attributes}
                    onChange={setAttributes}
                    error={parsed.error}
                    autosize
                    minRows={6}
                    maxRows={20}
                    formatOnBlur={parsed.error === undefined}
                    spellCheck={false}
                  />
                  {overridden && (
                    <Text size="xs" c="dimmed">
                      The user id replaces the targetingKey of the attributes.
                    </Text>
                  )}
                </Stack>
              </Grid.Col>
              <Grid.Col span={{ base: 12, md: 8 }}>
                <Results env={env} evaluation={evaluation} pending={pending} stale={parsed.error !== undefined} search={search} onSearch={setSearch} />
              </Grid.Col>
            </Grid>
          )
        }
      </QueryState>
    </Stack>
  );
}

interface ResultsProps {
  env: string | null;
  evaluation: ReturnType<typeof useEvaluation>;
  pending: boolean;
  stale: boolean;
  search: string;
  onSearch: (value: string) => void;
}

function Results({ env, evaluation, pending, stale, search, onSearch }: ResultsProps) {
  if (evaluation.isError) {
    return (
      <Alert color="red" title="Could not evaluate" role="alert">
        {errorMessage(evaluation.error)}
      </Alert>
    );
  }
  return (
    <Stack gap="sm" aria-busy={pending}>
      <Group justify="space-between" align="flex-end">
        <TextInput label="Filter flags" value={search} onChange={(e) => onSearch(e.currentTarget.value)} w={240} />
        <Group gap="xs" aria-live="polite">
          {pending && <Spinner size="xs" label="Evaluating" />}
          {evaluation.data && (
            <Text size="sm" c="dimmed" data-testid="evaluation-revision">
              {env} at revision {evaluation.data.revision}
            </Text>
          )}
        </Group>
      </Group>
      {stale && evaluation.data && (
        <Alert color="yellow" py="xs">
          Showing the results for the last valid attributes.
        </Alert>
      )}
      <QueryState query={evaluation}>
        {(data) => {
          const all = Object.entries(data.results);
          const q = search.trim().toLowerCase();
          const shown = q ? all.filter(([key]) => key.toLowerCase().includes(q)) : all;
          const errors = all.filter(([, r]) => r.reason === "ERROR").length;
          if (all.length === 0) return <EmptyState title="No flags yet">Create a flag to see it evaluated here.</EmptyState>;
          return (
            <Stack gap="xs">
              {errors > 0 && (
                <Alert color="red" py="xs" role="status">
                  {errors} flag{errors === 1 ? "" : "s"} could not be evaluated for this context (reason ERROR below).
                </Alert>
              )}
              {shown.length === 0 ? <EmptyState title="No flag matches the filter" /> : <EvaluationTable results={shown} />}
            </Stack>
          );
        }}
      </QueryState>
    </Stack>
  );
}
