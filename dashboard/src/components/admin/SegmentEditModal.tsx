// Edit a segment: included and excluded users, rules. Saves with the
// version the edit started from (If-Match); if someone else saved in
// between, shows their version against yours and lets you choose.
import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Group, Modal, Stack, TagsInput, Text, Textarea } from "@mantine/core";
import { ApiError } from "../../api/client";
import { readSegment, segmentsKey, updateSegment, type Segment, type SegmentInput } from "../../api/admin";
import { FormActions, FormError, ModalForm } from "../FormModal";
import { JsonDiff } from "../JsonDiff";
import { SegmentRulesEditor } from "./SegmentRulesEditor";
import { DraftError, draftToRule, ruleToDraft, type RuleDraft } from "./clauses";
import { blamesField, fieldError, notifySuccess } from "./errors";

interface Props {
  env: string;
  /** The segment as the (live) list shows it now; null when closed. */
  segment: Segment | null;
  onClose: () => void;
  readOnly: boolean;
}

export function SegmentEditModal({ env, segment, onClose, readOnly }: Props) {
  return (
    <Modal opened={segment !== null} onClose={onClose} title={segment ? `Segment ${segment.key}` : ""} size="xl">
      {segment && (
        <SegmentForm
          // Viewers always see the latest; editors keep their draft.
          key={readOnly ? `${segment.key}@${segment.version}` : segment.key}
          env={env}
          latest={segment}
          onClose={onClose}
          readOnly={readOnly}
        />
      )}
    </Modal>
  );
}

const uniqueExact = (value: string, current: string[]) => current.includes(value);

interface Draft {
  base: Segment;
  description: string;
  included: string[];
  excluded: string[];
  rules: RuleDraft[];
}

const toDraft = (segment: Segment): Draft => ({
  base: segment,
  description: segment.description ?? "",
  included: segment.included ?? [],
  excluded: segment.excluded ?? [],
  rules: (segment.rules ?? []).map(ruleToDraft),
});

function SegmentForm({ env, latest, onClose, readOnly }: { env: string; latest: Segment; onClose: () => void; readOnly: boolean }) {
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState(() => toDraft(latest));
  const [error, setError] = useState<unknown>(undefined);
  const [saving, setSaving] = useState(false);
  const [conflict, setConflict] = useState<Segment | null>(null);
  const baseVersion = draft.base.version ?? 0;
  const changedElsewhere = !readOnly && !conflict && (latest.version ?? 0) > baseVersion;

  function build(): SegmentInput {
    return {
      key: draft.base.key,
      description: draft.description,
      included: draft.included,
      excluded: draft.excluded,
      rules: draft.rules.map((r, i) => draftToRule(r, `rules[${i}]`)),
    };
  }

  async function save(version: number) {
    setError(undefined);
    let segment: SegmentInput;
    try {
      segment = build();
    } catch (err) {
      if (err instanceof DraftError) return setError(err);
      throw err;
    }
    setSaving(true);
    try {
      await updateSegment(env, segment, version);
      await queryClient.invalidateQueries({ queryKey: segmentsKey(env) });
      notifySuccess(`Segment ${segment.key} saved.`);
      onClose();
    } catch (err) {
      if (err instanceof ApiError && err.code === "version_conflict") {
        setConflict(await readSegment(env, segment.key).catch(() => null));
      }
      setError(err);
    } finally {
      setSaving(false);
    }
  }

  function mine(): SegmentInput | undefined {
    try {
      return build();
    } catch {
      return undefined;
    }
  }

  const reload = (segment: Segment) => {
    setDraft(toDraft(segment));
    setConflict(null);
    setError(undefined);
  };

  const placed = blamesField(error, ["description", "included", "excluded", "rules"]);

  return (
    <ModalForm onSubmit={() => save(baseVersion)} ready={!readOnly}>
      {readOnly && (
        <Alert color="gray">Read only: your role can view segments but not change them.</Alert>
      )}
      <Textarea
        label="Description"
        value={draft.description}
        onChange={(e) => setDraft({ ...draft, description: e.currentTarget.value })}
        error={fieldError(error, "description")}
        readOnly={readOnly}
        autosize
        minRows={1}
        data-autofocus
      />
      <TagsInput
        label="Included users"
        description={readOnly ? undefined : "Targeting keys always in the segment (unless excluded). Press Enter or paste a comma-separated list."}
        value={draft.included}
        onChange={(included) => setDraft({ ...draft, included })}
        isDuplicate={uniqueExact}
        error={fieldError(error, "included")}
        readOnly={readOnly}
        clearable={!readOnly}
      />
      <TagsInput
        label="Excluded users"
        description={readOnly ? undefined : "Targeting keys never in the segment; this beats the included users and the rules."}
        value={draft.excluded}
        onChange={(excluded) => setDraft({ ...draft, excluded })}
        isDuplicate={uniqueExact}
        error={fieldError(error, "excluded")}
        readOnly={readOnly}
        clearable={!readOnly}
      />
      <SegmentRulesEditor rules={draft.rules} onChange={(rules) => setDraft({ ...draft, rules })} error={error} readOnly={readOnly} />

      {changedElsewhere && (
        <Alert color="yellow" title="Changed elsewhere" role="status">
          Someone saved this segment after you opened it (version {latest.version}, you started from {baseVersion}).
          Saving will ask you to resolve the difference.
          <Group mt="xs">
            <Button size="xs" variant="light" onClick={() => reload(latest)}>
              Discard my edits and load theirs
            </Button>
          </Group>
        </Alert>
      )}
      {conflict && (
        <Alert color="orange" title="Version conflict" role="alert">
          <Stack gap="xs">
            <Text size="sm">
              This segment was saved by someone else (now version {conflict.version}). Below: the saved version (−) against
              yours (+).
            </Text>
            <JsonDiff before={conflict} after={{ ...conflict, ...mine(), version: conflict.version }} label="Saved version against yours" />
            <Group>
              <Button size="xs" color="orange" onClick={() => void save(conflict.version ?? 0)} loading={saving}>
                Overwrite with mine
              </Button>
              <Button size="xs" variant="default" onClick={() => reload(conflict)}>
                Discard mine, load theirs
              </Button>
            </Group>
          </Stack>
        </Alert>
      )}
      {error !== undefined && !placed && !conflict && <FormError title="Not saved" error={error} />}
      {error !== undefined && placed && (
        <Text c="red" size="sm" role="alert">
          Not saved: fix the field marked above.
        </Text>
      )}

      <FormActions
        onCancel={onClose}
        cancelLabel={readOnly ? "Close" : "Cancel"}
        submitLabel={readOnly ? undefined : "Save segment"}
        busy={saving}
        disabled={!!conflict}
      />
    </ModalForm>
  );
}
