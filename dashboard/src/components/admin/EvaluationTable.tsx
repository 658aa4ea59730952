// One row per flag: the value served, its variation and why
// (docs/evaluation.md §7). Errors are shown with their code and meaning.
import { Link } from "react-router";
import { Anchor, Badge, Code, Group, Table, Text } from "@mantine/core";
import type { EvaluationResult, Reason } from "../../api/admin";
import { ResourceTable } from "../ResourceTable";

const REASON_COLOR: Record<Reason, string> = {
  TARGETING_MATCH: "indigo",
  SPLIT: "grape",
  DEFAULT: "gray",
  DISABLED: "dark",
  PREREQUISITE_FAILED: "orange",
  ERROR: "red",
};

const ERROR_HELP: Record<string, string> = {
  TARGETING_KEY_MISSING: "This flag needs a user id (targeting key) for its targets, rules or rollout.",
  INVALID_CONTEXT: "The context is unusable: a key field is not a string, or a rollout's bucket-by attribute is missing or not a string.",
  FLAG_NOT_FOUND: "No such flag in this environment.",
  TYPE_MISMATCH: "The flag's kind is not the type asked for.",
  GENERAL: "Evaluation failed (for example a prerequisite chain that is too deep).",
};

function detail(result: EvaluationResult): string | undefined {
  if (result.target) return "individual target";
  if (result.rule_index !== undefined) return `rule ${result.rule_index + 1}${result.rule_id ? ` (${result.rule_id})` : ""}`;
  if (result.prerequisite) return `prerequisite ${result.prerequisite} not met`;
  return undefined;
}

function ReasonCell({ result }: { result: EvaluationResult }) {
  if (result.reason === "ERROR") {
    const code = result.error_code ?? "GENERAL";
    return (
      <div>
        <Group gap={6} wrap="nowrap">
          <Badge color="red" variant="filled">
            ERROR
          </Badge>
          <Code c="red">{code}</Code>
        </Group>
        <Text size="xs" c="red" mt={2}>
          {ERROR_HELP[code] ?? "Evaluation failed."}
        </Text>
      </div>
    );
  }
  const extra = detail(result);
  return (
    <Group gap={6} wrap="nowrap">
      <Badge color={REASON_COLOR[result.reason] ?? "gray"} variant="light" tt="none">
        {result.reason}
      </Badge>
      {extra && (
        <Text size="xs" c="dimmed">
          {extra}
        </Text>
      )}
    </Group>
  );
}

export function EvaluationTable({ results }: { results: [string, EvaluationResult][] }) {
  return (
    <ResourceTable
      label="Evaluation results"
      minWidth={680}
      columns={["Flag", "Value", "Variation", "Reason"]}
      highlightOnHover={false}
      verticalSpacing="xs"
    >
      {results.map(([key, result]) => (
        <Table.Tr key={key} data-testid={`result-${key}`} data-reason={result.reason}>
          <Table.Td>
            <Anchor component={Link} to={`/flags/${encodeURIComponent(key)}`} ff="monospace" size="sm">
              {key}
            </Anchor>
          </Table.Td>
          <Table.Td>
            {result.reason === "ERROR" ? (
              <Text span c="dimmed" size="sm">
                no value
              </Text>
            ) : (
              <Code style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }}>{JSON.stringify(result.value)}</Code>
            )}
          </Table.Td>
          <Table.Td>{result.variation ?? <Text span c="dimmed" size="sm">—</Text>}</Table.Td>
          <Table.Td>
            <ReasonCell result={result} />
          </Table.Td>
        </Table.Tr>
      ))}
    </ResourceTable>
  );
}
