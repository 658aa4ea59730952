import { AppShell, Badge, Burger, Button, Center, Group, Loader, NavLink, Text, Title, Tooltip } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { Navigate, NavLink as RouterLink, Route, Routes, useLocation } from "react-router";
import { LiveProvider, useLive } from "./api/events";
import { useSession, useSignedIn } from "./api/session";
import { SignInPage } from "./pages/SignIn";
import { FlagListPage } from "./pages/FlagList";
import { FlagEditorPage } from "./pages/FlagEditor";
import { SegmentsPage } from "./pages/Segments";
import { EnvironmentsPage } from "./pages/Environments";
import { KeysPage } from "./pages/Keys";
import { AuditPage } from "./pages/Audit";
import { PlaygroundPage } from "./pages/Playground";

const NAV = [
  { to: "/flags", label: "Flags" },
  { to: "/segments", label: "Segments" },
  { to: "/environments", label: "Environments" },
  { to: "/keys", label: "Keys" },
  { to: "/audit", label: "Audit log" },
  { to: "/playground", label: "Playground" },
];

export function App() {
  const { state } = useSession();
  if (state.status === "loading") {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (state.status === "signed_out") return <SignInPage reason={state.reason} />;
  return (
    <LiveProvider>
      <Shell />
    </LiveProvider>
  );
}

function LiveBadge() {
  const { status } = useLive();
  const color = status === "live" ? "teal" : status === "connecting" ? "gray" : "orange";
  const label = status === "live" ? "Live" : status === "connecting" ? "Connecting" : "Reconnecting";
  return (
    <Tooltip label="Changes made anywhere appear here as they are committed">
      <Badge color={color} variant="dot" data-testid="live-status" aria-live="polite">
        {label}
      </Badge>
    </Tooltip>
  );
}

function Shell() {
  const [opened, { toggle, close }] = useDisclosure();
  const session = useSignedIn();
  const { signOut } = useSession();
  const location = useLocation();
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Title order={3}>Halyard</Title>
            <LiveBadge />
          </Group>
          <Group gap="sm" wrap="nowrap">
            <Text size="sm" visibleFrom="xs" data-testid="signed-in-as">
              {session.name}
            </Text>
            <Badge variant="light" data-testid="role">
              {session.role}
            </Badge>
            <Button variant="default" size="xs" onClick={() => void signOut()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        {NAV.map((item) => (
          <NavLink
            key={item.to}
            component={RouterLink}
            to={item.to}
            label={item.label}
            active={location.pathname === item.to || location.pathname.startsWith(item.to + "/")}
            onClick={close}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Routes>
          <Route path="/" element={<Navigate to="/flags" replace />} />
          <Route path="/flags" element={<FlagListPage />} />
          <Route path="/flags/:key" element={<FlagEditorPage />} />
          <Route path="/segments" element={<SegmentsPage />} />
          <Route path="/environments" element={<EnvironmentsPage />} />
          <Route path="/keys" element={<KeysPage />} />
          <Route path="/audit" element={<AuditPage />} />
          <Route path="/playground" element={<PlaygroundPage />} />
          <Route path="*" element={<Text>Page not found.</Text>} />
        </Routes>
      </AppShell.Main>
    </AppShell>
  );
}
