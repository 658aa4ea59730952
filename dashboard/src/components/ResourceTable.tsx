// The tables of the list screens (environments, keys, segments, flags, the
// audit log, the playground): scrolling sideways on narrow screens, named
// for assistive technology, with a header row of column names.
import type { ReactNode } from "react";
import { Group, Table, VisuallyHidden, type TableProps } from "@mantine/core";

interface Props extends Omit<TableProps, "children"> {
  /** The table's accessible name, e.g. "Segments". */
  label: string;
  columns: readonly string[];
  /** Adds a last column for per-row buttons (its header is read, not shown). */
  actions?: boolean;
  /** Below this width the table scrolls sideways. */
  minWidth: number;
  /** The rows. */
  children: ReactNode;
}

export function ResourceTable({ label, columns, actions = false, minWidth, children, ...table }: Props) {
  return (
    <Table.ScrollContainer minWidth={minWidth}>
      <Table striped highlightOnHover aria-label={label} {...table}>
        <Table.Thead>
          <Table.Tr>
            {columns.map((column) => (
              <Table.Th key={column}>{column}</Table.Th>
            ))}
            {actions && (
              <Table.Th>
                <VisuallyHidden>Actions</VisuallyHidden>
              </Table.Th>
            )}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>{children}</Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** The last cell of a row of a table with `actions`: its buttons, right-aligned. */
export function RowActions({ children }: { children: ReactNode }) {
  return (
    <Table.Td>
      <Group gap="xs" wrap="nowrap" justify="flex-end">
        {children}
      </Group>
    </Table.Td>
  );
}
