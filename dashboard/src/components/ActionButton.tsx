// A small button acting on one item of a list ("Delete", "Remove clause").
// Its visible label is completed for screen readers by what it acts on
// ("Delete segment beta"), so a list of them is not a list of equal names.
import { Button, VisuallyHidden, type ButtonProps, type ElementProps } from "@mantine/core";

interface Props extends Omit<ButtonProps, "children">, ElementProps<"button", keyof ButtonProps> {
  label: string;
  /** What it acts on, read after the label and not shown. */
  target?: string;
  /** Red and quiet: removes or deletes something. */
  danger?: boolean;
}

export function ActionButton({ label, target, danger = false, ...button }: Props) {
  return (
    <Button size="xs" variant={danger ? "subtle" : "light"} color={danger ? "red" : undefined} {...button}>
      {label}
      {target && <VisuallyHidden> {target}</VisuallyHidden>}
    </Button>
  );
}
