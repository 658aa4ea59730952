// The flag's definition, shared by every environment: description, tags
// and variations, saved with the definition's version (If-Match).
import { useState } from "react";
import { Button, Group, Paper, Stack, Text, Textarea, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../../api/client";
import type { DefinitionView, Flag, Variation } from "../../api/model";
import { fetchDefinition, queryKeys, usePatchFlag } from "../../api/model";
import { FormError } from "../FormModal";
import { jsonEqual } from "../json";
import { ChangedElsewhere, ConflictAlert } from "./ConflictAlert";
import { currentError, FieldErrorProvider, messageWithoutPath, pathUnder, valueAtPath, type FieldError } from "./FieldErrors";
import { VariationsEditor } from "./VariationsEditor";
import { FreeTagsInput } from "./FreeTagsInput";

interface Details {
  description: string;
  tags: string[];
  variations: Variation[];
}

const detailsOf = (flag: Flag): Details => ({ description: flag.description, tags: flag.tags, variations: flag.variations });

/** An error outside the details, e.g. an environment's configuration still using a removed variation. */
function describe(error: FieldError): string {
  const m = /^environments\.([^.]+)\.config\.(.+)$/.exec(error.path);
  if (m) return `${m[1]} still uses it (${m[2]}): ${error.message}. Change that environment's configuration first.`;
  return error.path ? `${error.path}: ${error.message}` : error.message;
}

export function DefinitionEditor({ flag, canEdit }: { flag: Flag; canEdit: boolean }) {
  const queryClient = useQueryClient();
  const patch = usePatchFlag(flag.key);
  const [draft, setDraft] = useState<{ details: Details; base: Flag } | null>(null);
  const [error, setError] = useState<FieldError | null>(null);
  const [conflict, setConflict] = useState<Flag | null>(null);
  const [valid, setValid] = useState(true);

  const shown = draft?.details ?? detailsOf(flag);
  const dirty = !!draft && !jsonEqual(draft.details, detailsOf(draft.base));
  const changedElsewhere = !!draft && draft.base.version !== flag.version && !conflict;
  const disabled = !canEdit;

  const edit = (p: Partial<Details>) => {
    const base = draft?.base ?? flag;
    const details = { ...shown, ...p };
    if (jsonEqual(details, detailsOf(base)) && base.version === flag.version) setDraft(null);
    else setDraft({ details, base });
  };

  const discard = () => {
    setDraft(null);
    setError(null);
    setConflict(null);
  };

  const save = () => {
    if (!draft) return;
    setError(null);
    patch.mutate(
      { version: draft.base.version, body: draft.details },
      {
        onSuccess: (view) => {
          queryClient.setQueryData<DefinitionView>(queryKeys.definition(flag.key), view);
          setDraft(null);
          notifications.show({ color: "teal", title: "Flag details saved", message: flag.key });
        },
        onError: (err) => {
          if (err instanceof ApiError && err.code === "version_conflict") {
            fetchDefinition(flag.key)
              .then((view) => {
                queryClient.setQueryData<DefinitionView>(queryKeys.definition(flag.key), view);
                setConflict(view.flag);
              })
              .catch((e: Error) => setError({ path: "", message: e.message }));
          } else if (err instanceof ApiError && err.path) {
            const path = err.path.replace(/^flag\./, "");
            setError({ path, message: messageWithoutPath(err.message, err.path), value: valueAtPath(draft.details, path) });
          } else {
            setError({ path: "", message: err.message });
          }
        },
      },
    );
  };

  // A field's error disappears once that field is changed.
  const shownError = currentError(error, shown);
  const at = (field: string) => (shownError && pathUnder(shownError.path, field) ? shownError.message : undefined);
  const unmapped = error && !["description", "tags", "variations"].some((f) => pathUnder(error.path, f)) ? describe(error) : null;

  return (
    <Paper withBorder p="md">
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={2} size="h4">Details</Title>
          <Text size="sm" c="dimmed">
            Shared by every environment
          </Text>
        </Group>
        {changedElsewhere && (
          <ChangedElsewhere onReview={() => setConflict(flag)} onDiscard={discard}>
            Its details were changed after you started editing; your edits are kept.
          </ChangedElsewhere>
        )}
        <Textarea
          label="Description"
          value={shown.description}
          onChange={(e) => edit({ description: e.currentTarget.value })}
          error={at("description")}
          disabled={disabled}
          autosize
          minRows={1}
          maxRows={6}
        />
        <FreeTagsInput
          label="Tags"
          placeholder={disabled ? undefined : "Type a tag, press Enter"}
          value={shown.tags}
          onChange={(tags) => edit({ tags })}
          error={at("tags")}
          disabled={disabled}
          clearable
        />
        <Text size="sm" fw={500}>
          Variations ({flag.kind})
        </Text>
        <FieldErrorProvider error={shownError}>
          <VariationsEditor
            variations={shown.variations}
            onChange={(variations) => edit({ variations })}
            kind={flag.kind}
            lockedKeys={flag.variations.map((v) => v.key)}
            onValidityChange={setValid}
            disabled={disabled}
          />
        </FieldErrorProvider>
        {conflict && draft && (
          <ConflictAlert
            loaded={detailsOf(draft.base)}
            stored={detailsOf(conflict)}
            onDiscard={discard}
            onKeepEditing={() => {
              setDraft({ details: draft.details, base: conflict });
              setConflict(null);
            }}
          />
        )}
        {unmapped && <FormError title="Not saved" error={unmapped} />}
        {canEdit && (
          <Group gap="sm">
            <Button onClick={save} disabled={!dirty || !valid || !!conflict} loading={patch.isPending}>
              Save details
            </Button>
            {draft && (
              <Button variant="default" onClick={discard}>
                Discard
              </Button>
            )}
          </Group>
        )}
      </Stack>
    </Paper>
  );
}
