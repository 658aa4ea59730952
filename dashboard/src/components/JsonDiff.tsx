// A line diff of two JSON values (pretty-printed with sorted keys), used by
// the audit log, the copy-between-environments preview and version
// conflicts. Removed lines are red with "-", added green with "+".
import { Code, Text } from "@mantine/core";
import { diffLines } from "diff";
import { prettyJson } from "./json";

export function JsonDiff({ before, after, label }: { before: unknown; after: unknown; label?: string }) {
  const parts = diffLines(prettyJson(before), prettyJson(after));
  if (parts.every((p) => !p.added && !p.removed)) {
    return <Text size="sm" c="dimmed">No differences.</Text>;
  }
  return (
    <Code block aria-label={label ?? "Differences"} data-testid="json-diff" style={{ maxHeight: 480, overflow: "auto" }}>
      {parts.map((part, i) => {
        const sign = part.added ? "+" : part.removed ? "-" : " ";
        const lines = part.value.replace(/\n$/, "").split("\n");
        return (
          <span
            key={i}
            data-change={part.added ? "added" : part.removed ? "removed" : undefined}
            style={{
              display: "block",
              background: part.added
                ? "var(--mantine-color-green-light)"
                : part.removed
                  ? "var(--mantine-color-red-light)"
                  : undefined,
            }}
          >
            {lines.map((line) => `${sign} ${line}`).join("\n")}
          </span>
        );
      })}
    </Code>
  );
}
