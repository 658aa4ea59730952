// The top of a screen: its title (the page's one h1), the main action on the
// right (e.g. "New segment") and a line saying what the screen is for.
import type { ReactNode } from "react";
import { Group, Text, Title } from "@mantine/core";

interface Props {
  title: string;
  /** The screen's main action, shown right of the title (omit it for roles that may not act). */
  action?: ReactNode;
  /** One line under the title. */
  children?: ReactNode;
}

export function PageHeader({ title, action, children }: Props) {
  return (
    <>
      <Group justify="space-between" align="flex-end">
        <Title order={1} size="h2">
          {title}
        </Title>
        {action}
      </Group>
      {children && (
        <Text size="sm" c="dimmed">
          {children}
        </Text>
      )}
    </>
  );
}
