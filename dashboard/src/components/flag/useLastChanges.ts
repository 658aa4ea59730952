// The newest audit entry per flag (for the list's "Last change" column):
// one request for the recent log instead of one per row. Flags changed
// longer ago fall back to their definition's `updated_at`.
import { useQuery } from "@tanstack/react-query";
import { get } from "../../api/client";

/** The fields of an audit entry this column uses (GET /api/admin/audit). */
interface AuditEntryLite {
  at: string;
  actor_name: string;
  action: string;
  environment?: string | null;
  flag_key?: string | null;
}

export interface LastChange {
  at: string;
  actor?: string;
  action?: string;
}

export function useLastChanges(env: string | undefined) {
  return useQuery({
    queryKey: ["model", "lastChanges", env ?? ""],
    queryFn: async ({ signal }) => {
      const page = await get<{ items: AuditEntryLite[] }>("/api/admin/audit?limit=100", signal);
      const byFlag = new Map<string, LastChange>();
      for (const entry of page.items) {
        if (!entry.flag_key || byFlag.has(entry.flag_key)) continue;
        // Changes of other environments are not this environment's last change.
        if (entry.environment && entry.environment !== env) continue;
        byFlag.set(entry.flag_key, { at: entry.at, actor: entry.actor_name, action: entry.action });
      }
      return byFlag;
    },
    enabled: !!env,
    // The column is a nicety: without audit access it falls back quietly.
    retry: false,
  });
}
