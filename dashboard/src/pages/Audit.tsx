// The audit log: every change, who made it, and the state before and
// after. Filters are kept in the URL (?flag=&actor=), so other screens can
// link here; new entries appear live (the feed refreshes the query).
import { useEffect, useState } from "react";
import { useSearchParams } from "react-router";
import { Button, Center, Grid, Group, Stack, Text, TextInput } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useAuditLog, type AuditFilter } from "../api/admin";
import { PageHeader } from "../components/PageHeader";
import { LoadingState, QueryState } from "../components/QueryState";
import { AuditTable } from "../components/admin/AuditTable";
import { EmptyState } from "../components/EmptyState";
import { localInputToIso } from "../components/admin/format";

export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const [flag, setFlag] = useState(params.get("flag") ?? "");
  const [actor, setActor] = useState(params.get("actor") ?? "");
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [typedFlag] = useDebouncedValue(flag.trim(), 300);
  const [typedActor] = useDebouncedValue(actor.trim(), 300);

  useEffect(() => {
    setParams(
      (prev) => {
        const next = new URLSearchParams(prev);
        for (const [name, value] of [["flag", typedFlag], ["actor", typedActor]]) {
          if (value) next.set(name, value);
          else next.delete(name);
        }
        return next;
      },
      { replace: true },
    );
  }, [typedFlag, typedActor, setParams]);

  const filter: AuditFilter = {
    flag: typedFlag || undefined,
    actor: typedActor || undefined,
    since: localInputToIso(since),
    until: localInputToIso(until),
  };
  const log = useAuditLog(filter);
  const filtered = Object.values(filter).some(Boolean);

  return (
    <Stack>
      <PageHeader title="Audit log">Every change, newest first. New entries appear as they are committed.</PageHeader>
      <Grid gutter="sm" align="flex-end" role="search" aria-label="Audit filters">
        <Grid.Col span={{ base: 12, xs: 6, md: 3 }}>
          <TextInput label="Flag" description="Exact flag key" value={flag} onChange={(e) => setFlag(e.currentTarget.value)} />
        </Grid.Col>
        <Grid.Col span={{ base: 12, xs: 6, md: 3 }}>
          <TextInput label="Actor" description="Exact key name" value={actor} onChange={(e) => setActor(e.currentTarget.value)} />
        </Grid.Col>
        <Grid.Col span={{ base: 12, xs: 6, md: 3 }}>
          <TextInput type="datetime-local" label="From" description="Local time, inclusive" value={since} onChange={(e) => setSince(e.currentTarget.value)} />
        </Grid.Col>
        <Grid.Col span={{ base: 12, xs: 6, md: 3 }}>
          <TextInput type="datetime-local" label="Until" description="Local time, exclusive" value={until} onChange={(e) => setUntil(e.currentTarget.value)} />
        </Grid.Col>
      </Grid>
      {filtered && (
        <Group>
          <Button
            variant="subtle"
            size="xs"
            onClick={() => {
              setFlag("");
              setActor("");
              setSince("");
              setUntil("");
            }}
          >
            Clear filters
          </Button>
        </Group>
      )}
      {flag.trim() !== typedFlag || actor.trim() !== typedActor ? (
        // The typed filter is not applied yet: never show (or let anyone
        // click) rows that do not match it.
        <LoadingState />
      ) : (
        <QueryState query={log}>
          {(data) => {
            const entries = data.pages.flatMap((p) => p.items);
            if (entries.length === 0) {
              return <EmptyState title={filtered ? "No entries match these filters" : "No changes recorded yet"} />;
            }
            return (
              <Stack>
                <AuditTable entries={entries} />
                <Center>
                  {log.hasNextPage ? (
                    <Button variant="default" onClick={() => void log.fetchNextPage()} loading={log.isFetchingNextPage}>
                      Load older entries
                    </Button>
                  ) : (
                    <Text size="sm" c="dimmed">
                      {entries.length} entr{entries.length === 1 ? "y" : "ies"}, the end of the log.
                    </Text>
                  )}
                </Center>
              </Stack>
            );
          }}
        </QueryState>
      )}
    </Stack>
  );
}
