// Loading and error states for a query, the same on every screen.
import type { ReactNode } from "react";
import { Alert, Button, Center, Loader, type LoaderProps } from "@mantine/core";
import type { UseQueryResult } from "@tanstack/react-query";

/** A spinner, named for assistive technology (an indeterminate progress bar). */
export function Spinner({ label = "Loading", ...loader }: LoaderProps & { label?: string }) {
  return <Loader role="progressbar" aria-label={label} {...loader} />;
}

/** What a screen shows while its data loads. */
export function LoadingState() {
  return (
    <Center p="xl" aria-busy>
      <Spinner />
    </Center>
  );
}

export function QueryState<T>({ query, children }: { query: UseQueryResult<T>; children: (data: T) => ReactNode }) {
  if (query.isPending) return <LoadingState />;
  if (query.isError) {
    return (
      <Alert color="red" title="Could not load this" role="alert">
        {query.error.message}{" "}
        <Button size="xs" variant="subtle" onClick={() => void query.refetch()}>
          Retry
        </Button>
      </Alert>
    );
  }
  return <>{children(query.data)}</>;
}
