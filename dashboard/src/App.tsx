import { Suspense, lazy } from "react";
import { AppShell, Badge, Burger, Button, Center, Group, NavLink, Text, Tooltip } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { Navigate, NavLink as RouterLink, Route, Routes, useLocation } from "react-router";
import { LiveProvider, useLive } from "./api/events";
import { useSession, useSignedIn } from "./api/session";
import { LoadingState, Spinner } from "./components/QueryState";
import { SignInPage } from "./pages/SignIn";
import { FlagListPage } from "./pages/FlagList";
// The flag list is the landing screen; the others load when first opened.
const FlagEditorPage = lazy(() => import("./pages/FlagEditor").then((m) => ({ default: m.FlagEditorPage })));
const SegmentsPage = lazy(() => import("./pages/Segments").then((m) => ({ default: m.SegmentsPage })));
const EnvironmentsPage = lazy(() => import("./pages/Environments").then((m) => ({ default: m.EnvironmentsPage })));
const KeysPage = lazy(() => import("./pages/Keys").then((m) => ({ default: m.KeysPage })));
const AuditPage = lazy(() => import("./pages/Audit").then((m) => ({ default: m.AuditPage })));
const PlaygroundPage = lazy(() => import("./pages/Playground").then((m) => ({ default: m.PlaygroundPage })));
import "./App.css";

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
        <Spinner />
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
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap" gap="sm">
          <Group gap="sm" wrap="nowrap" miw={0}>
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label="Toggle navigation"
              aria-expanded={opened}
              aria-controls="navigation"
            />
            {/* The app's name, not a heading: each page's title is its h1. */}
            <Text component="span" ff="heading" fz="h3" lh="h3" fw={700}>
              Halyard
            </Text>
            <LiveBadge />
          </Group>
          {/* Narrow screens keep only Sign out here; the navigation says who is signed in. */}
          <Group gap="sm" wrap="nowrap" style={{ flexShrink: 0 }}>
            <Text size="sm" visibleFrom="sm" truncate="end" maw={240} title={session.name} data-testid="signed-in-as">
              {session.name}
            </Text>
            <Badge variant="light" visibleFrom="xs" data-testid="role">
              {session.role}
            </Badge>
            <Button variant="default" size="xs" onClick={() => void signOut()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main" id="navigation">
        <Text size="sm" c="dimmed" hiddenFrom="sm" px="sm" pb="xs">
          Signed in as {session.name} ({session.role})
        </Text>
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
      <AppShell.Main id="main" tabIndex={-1}>
        <Suspense fallback={<LoadingState />}>
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
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}
