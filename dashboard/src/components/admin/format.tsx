// Small display helpers shared by the admin screens.
import { Text, Tooltip } from "@mantine/core";

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

/** A timestamp, local time, with the exact UTC instant in a tooltip. */
export function Time({ value, empty = "—" }: { value: string | null | undefined; empty?: string }) {
  if (!value) {
    return (
      <Text span size="sm" c="dimmed">
        {empty}
      </Text>
    );
  }
  return (
    <Tooltip label={value}>
      <time dateTime={value}>{formatTime(value)}</time>
    </Tooltip>
  );
}

/** `<input type="datetime-local">` value to RFC 3339 (UTC), or undefined. */
export function localInputToIso(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
