// A TagsInput for free text (no suggestions). Mantine mounts an (empty,
// hidden) suggestion list while typing and labels it with the field's
// label, so the label would name two elements; giving the label its own id
// leaves the input as the only element it names.
import { useId } from "react";
import { TagsInput, type TagsInputProps } from "@mantine/core";
import { COMBOBOX_PROPS } from "./combobox";

export function FreeTagsInput(props: Omit<TagsInputProps, "data">) {
  const labelId = useId();
  return <TagsInput comboboxProps={COMBOBOX_PROPS} {...props} labelProps={{ ...props.labelProps, id: labelId }} />;
}
