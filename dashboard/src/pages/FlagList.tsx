// /flags: the flags as one environment sees them (`?env=`), searchable by
// key and filterable by tag, each switchable on and off in place.
import { useEffect, useState } from "react";
import { Button, Group, Pagination, Select, Stack, Text, TextInput } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useNavigate, useSearchParams } from "react-router";
import { useEnvironments, useFlagList, useFlagTags, type Environment } from "../api/model";
import { useCan } from "../api/session";
import { EmptyState } from "../components/EmptyState";
import { PageHeader } from "../components/PageHeader";
import { QueryState } from "../components/QueryState";
import { ResourceTable } from "../components/ResourceTable";
import { CreateFlagModal } from "../components/flag/CreateFlagModal";
import { FlagRow } from "../components/flag/FlagRow";
import { useLastChanges } from "../components/flag/useLastChanges";
import { COMBOBOX_PROPS } from "../components/flag/combobox";

const PAGE_SIZE = 50;

export function FlagListPage() {
  const environments = useEnvironments();
  return (
    <Stack gap="md">
      <QueryState query={environments}>{(envs) => <FlagList environments={envs} />}</QueryState>
    </Stack>
  );
}

function FlagList({ environments }: { environments: Environment[] }) {
  const canEdit = useCan("editor");
  const navigate = useNavigate();
  const [search, setSearch] = useSearchParams();
  const [query, setQuery] = useState("");
  const [debouncedQuery] = useDebouncedValue(query.trim(), 250);
  const [tag, setTag] = useState<string | null>(null);
  const [page, setPage] = useState(1);
  const [createOpen, setCreateOpen] = useState(false);

  const requested = search.get("env");
  const env = environments.some((e) => e.key === requested) ? requested! : environments[0]?.key;

  // The chosen environment is always in the URL (links and reloads keep it).
  useEffect(() => {
    if (env && requested !== env) {
      const next = new URLSearchParams(search);
      next.set("env", env);
      setSearch(next, { replace: true });
    }
  }, [env, requested, search, setSearch]);

  // Re-render now and then so relative times ("2 minutes ago") stay true.
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), 30_000);
    return () => clearInterval(timer);
  }, []);

  // A new search starts at the first page.
  useEffect(() => setPage(1), [debouncedQuery, tag, env]);

  const list = useFlagList(env, {
    q: debouncedQuery || undefined,
    tag: tag ?? undefined,
    limit: PAGE_SIZE,
    offset: (page - 1) * PAGE_SIZE,
  });
  const tags = useFlagTags();
  const lastChanges = useLastChanges(env);
  const filtered = !!debouncedQuery || !!tag;

  return (
    <>
      <PageHeader title="Flags" action={canEdit && <Button onClick={() => setCreateOpen(true)}>New flag</Button>} />

      {environments.length === 0 ? (
        <EmptyState title="No environments yet">An admin can create one on the Environments page.</EmptyState>
      ) : (
        <>
          <Group align="flex-end" wrap="wrap" gap="sm">
            <Select
              comboboxProps={COMBOBOX_PROPS}
              label="Environment"
              data={environments.map((e) => ({ value: e.key, label: e.name }))}
              value={env ?? null}
              onChange={(value) => {
                if (!value) return;
                const next = new URLSearchParams(search);
                next.set("env", value);
                setSearch(next);
              }}
              allowDeselect={false}
              w={200}
            />
            <TextInput
              label="Search flags"
              placeholder="Part of a key"
              type="search"
              value={query}
              onChange={(e) => setQuery(e.currentTarget.value)}
              w={260}
            />
            <Select
              comboboxProps={COMBOBOX_PROPS}
              label="Tag"
              placeholder="Any tag"
              data={Array.from(new Set([...(tags.data ?? []), ...(tag ? [tag] : [])]))}
              value={tag}
              onChange={setTag}
              clearable
              searchable
              nothingFoundMessage="No such tag"
              w={200}
            />
          </Group>

          <QueryState query={list}>
            {(data) =>
              data.items.length === 0 ? (
                <EmptyState title={filtered ? "No flags match your search" : "No flags yet"}>
                  {!filtered && canEdit && "Create the first one with “New flag”."}
                </EmptyState>
              ) : (
                <Stack gap="sm">
                  <ResourceTable
                    label="Flags"
                    minWidth={860}
                    columns={["Flag", "Description", "Tags", "On", "Rollout", "Last change"]}
                    verticalSpacing="sm"
                  >
                    {data.items.map((item) => (
                      <FlagRow
                        key={item.flag.key}
                        item={item}
                        env={env!}
                        canEdit={canEdit}
                        lastChange={lastChanges.data?.get(item.flag.key)}
                      />
                    ))}
                  </ResourceTable>
                  <Group justify="space-between" wrap="wrap">
                    <Text size="sm" c="dimmed">
                      {data.total === 1 ? "1 flag" : `${data.total} flags`}
                      {list.isFetching && " · updating…"}
                    </Text>
                    {data.total > PAGE_SIZE && (
                      <Pagination
                        total={Math.ceil(data.total / PAGE_SIZE)}
                        value={page}
                        onChange={setPage}
                        getControlProps={(control) => ({ "aria-label": `${control} page` })}
                      />
                    )}
                  </Group>
                </Stack>
              )
            }
          </QueryState>
        </>
      )}

      {canEdit && (
        <CreateFlagModal
          opened={createOpen}
          onClose={() => setCreateOpen(false)}
          onCreated={(key) => {
            setCreateOpen(false);
            navigate(`/flags/${encodeURIComponent(key)}${env ? `?env=${encodeURIComponent(env)}` : ""}`);
          }}
        />
      )}
    </>
  );
}
