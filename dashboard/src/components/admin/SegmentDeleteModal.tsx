// Deleting a segment: refused by the API (409 in_use) while a flag's rule
// names it, so the dialog looks up those flags first and names them.
import { useEffect, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Anchor, List, Text } from "@mantine/core";
import { Link } from "react-router";
import { ApiError } from "../../api/client";
import { deleteSegment, flagsUsingSegment, segmentsKey } from "../../api/admin";
import { ConfirmModal } from "../ConfirmModal";
import { notifySuccess } from "./errors";

function FlagLinks({ flags, env }: { flags: string[]; env: string }) {
  return (
    <List size="sm">
      {flags.map((flag) => (
        <List.Item key={flag}>
          <Anchor component={Link} to={`/flags/${encodeURIComponent(flag)}?env=${encodeURIComponent(env)}`}>
            {flag}
          </Anchor>
        </List.Item>
      ))}
    </List>
  );
}

/** The flag keys in an in_use message ("... used by the rules of a, b"). */
function usersFromMessage(message: string): string[] {
  const match = /the rules of (.+)$/.exec(message);
  return match ? match[1].split(",").map((s) => s.trim()).filter(Boolean) : [];
}

interface Props {
  env: string;
  segmentKey: string | null;
  opened: boolean;
  onClose: () => void;
}

export function SegmentDeleteModal({ env, segmentKey, opened, onClose }: Props) {
  const queryClient = useQueryClient();
  const [refused, setRefused] = useState(false);
  useEffect(() => setRefused(false), [segmentKey, opened]);
  const usage = useQuery({
    queryKey: ["segment-usage", env, segmentKey],
    enabled: opened && segmentKey !== null,
    queryFn: () => flagsUsingSegment(env, segmentKey ?? ""),
  });
  const users = usage.data ?? [];
  return (
    <ConfirmModal
      opened={opened}
      onClose={onClose}
      title={`Delete segment ${segmentKey ?? ""}`}
      confirmLabel="Delete segment"
      onConfirm={async () => {
        try {
          await deleteSegment(env, segmentKey ?? "");
        } catch (err) {
          setRefused(err instanceof ApiError && err.code === "in_use");
          throw err;
        }
        await queryClient.invalidateQueries({ queryKey: segmentsKey(env) });
        notifySuccess(`Segment ${segmentKey} deleted from ${env}.`);
      }}
      errorTitle="Not deleted"
      renderError={(err) =>
        err instanceof ApiError && err.code === "in_use" ? (
          <Alert color="red" role="alert" title="This segment is still in use">
            <Text size="sm">
              {err.message}. Remove the <code>in_segment</code> conditions from these flags' rules in {env} first:
            </Text>
            <FlagLinks flags={users.length ? users : usersFromMessage(err.message)} env={env} />
          </Alert>
        ) : null
      }
    >
      <Text size="sm">
        Delete segment <b>{segmentKey}</b> from environment <b>{env}</b>? This cannot be undone.
      </Text>
      {usage.isPending && segmentKey && (
        <Text size="sm" c="dimmed">
          Checking which flags use it…
        </Text>
      )}
      {users.length > 0 && !refused && (
        <Alert color="yellow" title={`Used by ${users.length} flag${users.length === 1 ? "" : "s"}`}>
          <Text size="sm">Flags whose rules name this segment; the server refuses the deletion until they no longer do:</Text>
          <FlagLinks flags={users} env={env} />
        </Alert>
      )}
    </ConfirmModal>
  );
}
