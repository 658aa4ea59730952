// "New flag": key, description, tags, kind and (except for booleans)
// variations. API validation errors appear next to the field they name.
import { useState } from "react";
import { Select, Stack, Text, TextInput, Textarea } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { ApiError } from "../../api/client";
import type { FlagKind, Variation } from "../../api/model";
import { FLAG_KINDS, useCreateFlag } from "../../api/model";
import { FormActions, FormError, FormModal, ModalForm } from "../FormModal";
import { isValidKey, KEY_SYNTAX_HINT } from "../keySyntax";
import { currentError, FieldErrorProvider, messageWithoutPath, pathUnder, valueAtPath, type FieldError } from "./FieldErrors";
import { defaultVariations, VariationsEditor } from "./VariationsEditor";
import { COMBOBOX_PROPS } from "./combobox";
import { FreeTagsInput } from "./FreeTagsInput";

interface Props {
  opened: boolean;
  onClose(): void;
  onCreated(key: string): void;
}

export function CreateFlagModal({ opened, onClose, onCreated }: Props) {
  return (
    <FormModal opened={opened} onClose={onClose} title="New flag" size="lg">
      <CreateFlagForm onClose={onClose} onCreated={onCreated} />
    </FormModal>
  );
}

function CreateFlagForm({ onClose, onCreated }: Omit<Props, "opened">) {
  const [key, setKey] = useState("");
  const [description, setDescription] = useState("");
  const [tags, setTags] = useState<string[]>([]);
  const [kind, setKind] = useState<FlagKind>("boolean");
  const [variations, setVariations] = useState<Variation[]>(defaultVariations("boolean"));
  const [variationsValid, setVariationsValid] = useState(true);
  const [error, setError] = useState<FieldError | null>(null);
  const create = useCreateFlag();

  // A field's error disappears once that field is changed.
  const shownError = currentError(error, { key, description, kind, tags, variations });
  const at = (field: string) => (shownError && pathUnder(shownError.path, field) ? shownError.message : undefined);
  const mapped = error && ["key", "description", "tags", "kind", "variations"].some((f) => pathUnder(error.path, f));

  const submit = () => {
    setError(null);
    if (!isValidKey(key)) {
      setError({ path: "key", message: KEY_SYNTAX_HINT, value: JSON.stringify(key) });
      return;
    }
    const body = { key, description, kind, tags, variations: kind === "boolean" ? undefined : variations };
    create.mutate(
      body,
      {
        onSuccess: (view) => {
          notifications.show({ color: "teal", title: "Flag created", message: `${view.flag.key} is off in every environment.` });
          onCreated(view.flag.key);
        },
        onError: (err) => {
          if (err instanceof ApiError && err.code === "duplicate_key" && !err.path) {
            setError({ path: "key", message: `A flag with the key ${key} already exists`, value: JSON.stringify(key) });
          } else if (err instanceof ApiError && err.path) {
            const path = err.path.replace(/^flag\./, "");
            setError({ path, message: messageWithoutPath(err.message, err.path), value: valueAtPath(body, path) });
          } else {
            setError({ path: "", message: err.message });
          }
        },
      },
    );
  };

  return (
    <ModalForm onSubmit={submit}>
      <TextInput
        label="Key"
        description="Used by the SDKs; cannot be changed later"
        placeholder="checkout-redesign"
        value={key}
        onChange={(e) => setKey(e.currentTarget.value)}
        error={at("key")}
        required
        autoComplete="off"
        data-autofocus
      />
      <Textarea
        label="Description"
        value={description}
        onChange={(e) => setDescription(e.currentTarget.value)}
        error={at("description")}
        autosize
        minRows={2}
      />
      <FreeTagsInput
        label="Tags"
        placeholder="Type a tag, press Enter"
        value={tags}
        onChange={setTags}
        error={at("tags")}
        clearable
      />
      <Select
        comboboxProps={COMBOBOX_PROPS}
        label="Kind"
        data={FLAG_KINDS.map((k) => ({ value: k, label: k }))}
        value={kind}
        onChange={(k) => {
          if (!k) return;
          setKind(k as FlagKind);
          setVariations(defaultVariations(k as FlagKind));
        }}
        allowDeselect={false}
        error={at("kind")}
      />
      {kind === "boolean" ? (
        <Text size="sm" c="dimmed">
          Variations: true and false.
        </Text>
      ) : (
        <Stack gap={4}>
          <Text size="sm" fw={500}>
            Variations
          </Text>
          <FieldErrorProvider error={shownError}>
            <VariationsEditor
              variations={variations}
              onChange={setVariations}
              kind={kind}
              onValidityChange={setVariationsValid}
            />
          </FieldErrorProvider>
        </Stack>
      )}
      {error && !mapped && <FormError title="Not created" error={error.path ? `${error.path}: ${error.message}` : error.message} />}
      <FormActions
        onCancel={onClose}
        submitLabel="Create flag"
        busy={create.isPending}
        disabled={kind !== "boolean" && !variationsValid}
      />
    </ModalForm>
  );
}
