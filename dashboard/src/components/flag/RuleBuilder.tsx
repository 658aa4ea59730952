// Targeting rules, first match wins: clauses (all must match) and what
// matching users get. Rules can be added, removed and reordered.
import { ActionIcon, Badge, Button, Group, Paper, Stack, Text, TextInput, Title, Tooltip } from "@mantine/core";
import type { Clause, FlagKind, Rule, Variation } from "../../api/model";
import { ActionButton } from "../ActionButton";
import { ClauseEditor } from "./ClauseEditor";
import { useFieldError } from "./FieldErrors";
import { ServeControl } from "./ServeControl";
import { useStableKeys } from "./useStableKeys";

interface Common {
  variations: readonly Variation[];
  kind: FlagKind;
  flagKey: string;
  segmentKeys: readonly string[];
  attributeSuggestions: readonly string[];
  disabled?: boolean;
}

interface Props extends Common {
  rules: Rule[];
  onChange(rules: Rule[]): void;
}

const newClause = (): Clause => ({ attribute: "", operator: "in", values: [] });

export function RuleBuilder({ rules, onChange, ...common }: Props) {
  const keys = useStableKeys(rules.length);
  const listError = useFieldError("rules", rules.map((_, i) => `rules[${i}]`));

  const replace = (index: number, rule: Rule) => onChange(rules.map((r, i) => (i === index ? rule : r)));
  const add = () => {
    keys.add();
    const first = common.kind === "boolean" ? "true" : (common.variations[0]?.key ?? "");
    onChange([...rules, { clauses: [newClause()], serve: { variation: first } }]);
  };
  const remove = (index: number) => {
    keys.remove(index);
    onChange(rules.filter((_, i) => i !== index));
  };
  const move = (from: number, to: number) => {
    if (to < 0 || to >= rules.length) return;
    keys.move(from, to);
    const next = [...rules];
    const [rule] = next.splice(from, 1);
    next.splice(to, 0, rule);
    onChange(next);
  };

  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Title order={2} size="h4">Rules</Title>
        <Text size="sm" c="dimmed">
          Checked in order after the individual targets; the first matching rule wins.
        </Text>
      </Group>
      {rules.length === 0 && (
        <Text size="sm" c="dimmed">
          No rules: everyone who is not targeted individually gets the default.
        </Text>
      )}
      {rules.map((rule, i) => (
        <RuleCard
          key={keys.keys[i]}
          rule={rule}
          index={i}
          count={rules.length}
          onChange={(r) => replace(i, r)}
          onRemove={() => remove(i)}
          onMove={(to) => move(i, to)}
          {...common}
        />
      ))}
      {listError && (
        <Text size="sm" c="red" role="alert">
          {listError}
        </Text>
      )}
      {!common.disabled && (
        <Group>
          <Button variant="light" onClick={add}>
            Add rule
          </Button>
        </Group>
      )}
    </Stack>
  );
}

interface CardProps extends Common {
  rule: Rule;
  index: number;
  count: number;
  onChange(rule: Rule): void;
  onRemove(): void;
  onMove(to: number): void;
}

function RuleCard({ rule, index, count, onChange, onRemove, onMove, ...common }: CardProps) {
  const path = `rules[${index}]`;
  const clauseKeys = useStableKeys(rule.clauses.length);
  const ruleError = useFieldError(path, [...rule.clauses.map((_, j) => `${path}.clauses[${j}]`), `${path}.serve`]);
  const { disabled } = common;

  const setClause = (j: number, clause: Clause) =>
    onChange({ ...rule, clauses: rule.clauses.map((c, k) => (k === j ? clause : c)) });
  const addClause = () => {
    clauseKeys.add();
    onChange({ ...rule, clauses: [...rule.clauses, newClause()] });
  };
  const removeClause = (j: number) => {
    clauseKeys.remove(j);
    onChange({ ...rule, clauses: rule.clauses.filter((_, k) => k !== j) });
  };

  return (
    <Paper withBorder p="sm" role="group" aria-label={`Rule ${index + 1}`} data-testid="rule">
      <Stack gap="sm">
        <Group justify="space-between" wrap="wrap">
          <Group gap="xs">
            <Badge variant="light">Rule {index + 1}</Badge>
            {rule.id && (
              <Text size="xs" c="dimmed">
                id {rule.id}
              </Text>
            )}
          </Group>
          {!disabled && (
            <Group gap={4}>
              {/* Disabled in looks only: a button moved to the end keeps the keyboard focus. */}
              <Tooltip label="Move up">
                <ActionIcon
                  variant="default"
                  aria-label={`Move rule ${index + 1} up`}
                  data-disabled={index === 0 || undefined}
                  aria-disabled={index === 0 || undefined}
                  onClick={() => onMove(index - 1)}
                >
                  <span aria-hidden>↑</span>
                </ActionIcon>
              </Tooltip>
              <Tooltip label="Move down">
                <ActionIcon
                  variant="default"
                  aria-label={`Move rule ${index + 1} down`}
                  data-disabled={index === count - 1 || undefined}
                  aria-disabled={index === count - 1 || undefined}
                  onClick={() => onMove(index + 1)}
                >
                  <span aria-hidden>↓</span>
                </ActionIcon>
              </Tooltip>
              <ActionButton label="Remove rule" target={`${index + 1}`} danger onClick={onRemove} />
            </Group>
          )}
        </Group>
        <TextInput
          label="Note"
          description="Optional description of this rule"
          value={rule.description ?? ""}
          onChange={(e) => {
            const next = { ...rule };
            if (e.currentTarget.value) next.description = e.currentTarget.value;
            else delete next.description;
            onChange(next);
          }}
          disabled={disabled}
          maw={480}
        />
        <Text size="sm" fw={500}>
          {rule.clauses.length === 0 ? "Matches everyone" : "When all of these match"}
        </Text>
        {rule.clauses.map((clause, j) => (
          <ClauseEditor
            key={clauseKeys.keys[j]}
            clause={clause}
            index={j}
            ruleIndex={index}
            path={`${path}.clauses[${j}]`}
            onChange={(c) => setClause(j, c)}
            onRemove={() => removeClause(j)}
            segmentKeys={common.segmentKeys}
            attributeSuggestions={common.attributeSuggestions}
            disabled={disabled}
          />
        ))}
        {!disabled && (
          <Group>
            <ActionButton label="Add clause" target={`to rule ${index + 1}`} variant="default" onClick={addClause} />
          </Group>
        )}
        {ruleError && (
          <Text size="sm" c="red" role="alert">
            {ruleError}
          </Text>
        )}
        <ServeControl
          serve={rule.serve}
          onChange={(serve) => onChange({ ...rule, serve })}
          variations={common.variations}
          kind={common.kind}
          flagKey={common.flagKey}
          path={`${path}.serve`}
          disabled={disabled}
        />
      </Stack>
    </Paper>
  );
}
