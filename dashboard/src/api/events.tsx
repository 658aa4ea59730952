// Live data: one EventSource on /api/admin/events (the session cookie
// authenticates it). Every committed change, made here, through the API or
// in another browser, refreshes the cached queries, so every screen shows it
// without a reload. Components can also listen to the raw change messages.
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";

/** A change message (docs/protocol.md §3), without key material. */
export interface ChangeMessage {
  type?: string;
  environment?: string;
  epoch?: string;
  revision?: number;
  [field: string]: unknown;
}

export type LiveStatus = "connecting" | "live" | "reconnecting";

type Listener = (change: ChangeMessage) => void;

interface LiveContextValue {
  status: LiveStatus;
  subscribe(listener: Listener): () => void;
}

const LiveContext = createContext<LiveContextValue | undefined>(undefined);

export function LiveProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<LiveStatus>("connecting");
  const listeners = useRef(new Set<Listener>());

  useEffect(() => {
    // EventSource reconnects by itself and resumes with Last-Event-ID.
    const source = new EventSource("/api/admin/events");
    let timer: ReturnType<typeof setTimeout> | undefined;
    source.onopen = () => {
      setStatus("live");
      // Anything that changed while disconnected is fetched again.
      void queryClient.invalidateQueries();
    };
    source.onerror = () => setStatus("reconnecting");
    source.addEventListener("change", (event) => {
      let change: ChangeMessage = {};
      try {
        change = JSON.parse((event as MessageEvent<string>).data) as ChangeMessage;
      } catch {
        /* an unreadable message still means "something changed" */
      }
      for (const listener of listeners.current) listener(change);
      // Bursts of changes (an import, a copy to every environment) refresh once.
      clearTimeout(timer);
      timer = setTimeout(() => void queryClient.invalidateQueries(), 50);
    });
    return () => {
      clearTimeout(timer);
      source.close();
    };
  }, [queryClient]);

  const value = useRef<LiveContextValue>({
    status,
    subscribe(listener) {
      listeners.current.add(listener);
      return () => listeners.current.delete(listener);
    },
  });
  value.current = { ...value.current, status };
  return <LiveContext.Provider value={value.current}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveContextValue {
  const value = useContext(LiveContext);
  if (!value) throw new Error("useLive outside LiveProvider");
  return value;
}

/** Calls `listener` on every committed change while mounted. */
export function useChanges(listener: Listener): void {
  const { subscribe } = useLive();
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => subscribe((change) => latest.current(change)), [subscribe]);
}
