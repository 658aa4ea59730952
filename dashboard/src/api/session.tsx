// Who is signed in. The admin token is exchanged once for an HttpOnly,
// SameSite=Strict session cookie (POST /api/admin/session); the page never
// stores the token, only the CSRF token the session returns, in memory.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, api, setCsrfToken, setUnauthorizedHandler } from "./client";

export type Role = "viewer" | "editor" | "admin";

export interface SessionInfo {
  name: string;
  role: Role;
  csrf_token: string;
  expires_at: string;
}

type State = { status: "loading" } | { status: "signed_out"; reason?: string } | { status: "signed_in"; session: SessionInfo };

interface SessionContextValue {
  state: State;
  signIn(token: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionContextValue | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>({ status: "loading" });

  const adopt = useCallback((session: SessionInfo) => {
    setCsrfToken(session.csrf_token);
    setState({ status: "signed_in", session });
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken(undefined);
      setState({ status: "signed_out", reason: "Your session ended. Sign in again." });
    });
    api<SessionInfo>("GET", "/api/admin/session")
      .then(adopt)
      .catch((err: unknown) => {
        const reason = err instanceof ApiError && err.status === 401 ? undefined : (err as Error).message;
        setState({ status: "signed_out", reason });
      });
    return () => setUnauthorizedHandler(undefined);
  }, [adopt]);

  const signIn = useCallback(
    async (token: string) => {
      const session = await api<SessionInfo>("POST", "/api/admin/session", { body: { token } });
      adopt(session);
    },
    [adopt],
  );

  const signOut = useCallback(async () => {
    try {
      await api<void>("DELETE", "/api/admin/session");
    } finally {
      setCsrfToken(undefined);
      setState({ status: "signed_out" });
    }
  }, []);

  const value = useMemo(() => ({ state, signIn, signOut }), [state, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

/** The signed-in session (only inside the signed-in part of the app). */
export function useSignedIn(): SessionInfo {
  const { state } = useSession();
  if (state.status !== "signed_in") throw new Error("useSignedIn while signed out");
  return state.session;
}

/** Whether the signed-in role may do what needs `role`. */
export function useCan(role: Role): boolean {
  const order: Role[] = ["viewer", "editor", "admin"];
  return order.indexOf(useSignedIn().role) >= order.indexOf(role);
}
