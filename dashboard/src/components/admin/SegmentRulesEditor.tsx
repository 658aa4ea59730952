// A segment's rules: a context matching any one rule is in the segment;
// within a rule every condition must match (docs/evaluation.md §1.7).
import { Button, Group, Paper, Stack, Text, TextInput } from "@mantine/core";
import { ClauseEditor } from "./ClauseEditor";
import { newClause, newRule, type RuleDraft } from "./clauses";
import { fieldError } from "./errors";

interface Props {
  rules: RuleDraft[];
  onChange: (rules: RuleDraft[]) => void;
  error: unknown;
  readOnly: boolean;
}

export function SegmentRulesEditor({ rules, onChange, error, readOnly }: Props) {
  const update = (i: number, rule: RuleDraft) => onChange(rules.map((r, j) => (j === i ? rule : r)));
  const rulesError = error && (error as { path?: string }).path === "rules" ? fieldError(error, "rules") : undefined;
  return (
    <Stack gap="sm">
      <div>
        <Text fw={600} size="sm">
          Rules
        </Text>
        <Text size="xs" c="dimmed">
          A user matching any one rule is in the segment (unless excluded); a rule matches when all its conditions do.
        </Text>
      </div>
      {rulesError && (
        <Text c="red" size="sm" role="alert">
          {rulesError}
        </Text>
      )}
      {rules.length === 0 && (
        <Text size="sm" c="dimmed">
          No rules: only the included users are in this segment.
        </Text>
      )}
      {rules.map((rule, i) => (
        <Paper key={rule.uid} withBorder p="sm" component="section" aria-label={`Rule ${i + 1}`}>
          <Stack gap="xs">
            <Group justify="space-between" align="flex-end">
              <Text fw={600} size="sm">
                Rule {i + 1}
              </Text>
              {!readOnly && (
                <Button variant="subtle" color="red" size="compact-sm" onClick={() => onChange(rules.filter((_, j) => j !== i))}>
                  Remove rule {i + 1}
                </Button>
              )}
            </Group>
            <TextInput
              label="Rule id (optional)"
              value={rule.id}
              onChange={(e) => update(i, { ...rule, id: e.currentTarget.value })}
              error={fieldError(error, `rules[${i}].id`)}
              readOnly={readOnly}
              maw={320}
            />
            {rule.clauses.length === 0 && (
              <Text size="sm" c="dimmed">
                No conditions: this rule matches everyone.
              </Text>
            )}
            {rule.clauses.map((clause, j) => (
              <ClauseEditor
                key={clause.uid}
                draft={clause}
                onChange={(c) => update(i, { ...rule, clauses: rule.clauses.map((x, k) => (k === j ? c : x)) })}
                onRemove={() => update(i, { ...rule, clauses: rule.clauses.filter((_, k) => k !== j) })}
                path={`rules[${i}].clauses[${j}]`}
                legend={`Rule ${i + 1}, condition ${j + 1}`}
                error={error}
                readOnly={readOnly}
                disallowed={["in_segment"]}
              />
            ))}
            {!readOnly && (
              <Button variant="light" size="xs" onClick={() => update(i, { ...rule, clauses: [...rule.clauses, newClause()] })} w="fit-content">
                Add condition
              </Button>
            )}
          </Stack>
        </Paper>
      ))}
      {!readOnly && (
        <Button variant="default" onClick={() => onChange([...rules, newRule()])} w="fit-content">
          Add rule
        </Button>
      )}
    </Stack>
  );
}
