//! The bytes the edge sends, built once per revision and shared by every
//! response and subscriber: SSE frames of the three dialects
//! (`docs/protocol.md` §7) and the legacy JSON of a flag.

use std::fmt::Write as _;

use bytes::Bytes;
use halyard_common::model::{EnvironmentFlag, LegacyFlag};
use halyard_common::{Change, ChangeMessage, Epoch};
use serde::Serialize;

/// The heartbeat of the v2 dialect (an event SDKs may listen for).
pub const V2_PING: &[u8] = b"event: ping\ndata: {}\n\n";
/// The heartbeat of the legacy dialect and the client event stream: an SSE
/// comment, which `EventSource` ignores.
pub const COMMENT_PING: &[u8] = b": ping\n\n";
/// Sent before the edge closes a stream on shutdown: reconnect (elsewhere) in 1 s.
pub const RETRY_FRAME: &[u8] = b"retry: 1000\n\n";

/// A flag as the legacy API and SDK see it, with the control plane's id.
#[derive(Serialize)]
struct LegacyJson<'a> {
    id: Option<&'a str>,
    key: &'a str,
    description: &'a str,
    enabled: bool,
    rollout_percentage: u8,
    targeted_users: &'a [String],
}

/// The legacy JSON of `flag`, or `None` when the legacy shape cannot
/// represent it (the old SDK would evaluate it wrongly).
pub fn legacy_json(flag: &EnvironmentFlag) -> Option<String> {
    let legacy = LegacyFlag::from_environment_flag(flag)?;
    let json = LegacyJson {
        id: flag.flag.id.as_deref(),
        key: legacy.key.as_str(),
        description: &legacy.description,
        enabled: legacy.enabled,
        rollout_percentage: legacy.rollout_percentage,
        targeted_users: &legacy.targeted_users,
    };
    Some(serde_json::to_string(&json).expect("legacy flags serialize"))
}

/// `{"flags": [...]}`: the legacy configuration body.
pub fn legacy_body<'a>(flags: impl Iterator<Item = &'a EnvironmentFlag>) -> Bytes {
    let items: Vec<String> = flags.filter_map(legacy_json).collect();
    Bytes::from(format!("{{\"flags\":[{}]}}", items.join(",")))
}

fn legacy_updated(out: &mut String, revision: u64, json: &str) {
    let _ = write!(out, "id: {revision}\nevent: flag_updated\ndata: {json}\n\n");
}

fn legacy_deleted(out: &mut String, revision: u64, key: &str) {
    let data = serde_json::json!({ "key": key });
    let _ = write!(out, "id: {revision}\nevent: flag_deleted\ndata: {data}\n\n");
}

/// One revision's frames in every dialect.
#[derive(Debug)]
pub struct RevisionFrames {
    /// The revision they produce.
    pub revision: u64,
    /// v2: one `patch` (or `delete`) with the message in SDK form.
    pub v2: Bytes,
    /// Legacy: a `flag_updated` per legacy-representable flag upserted, a
    /// `flag_deleted` per flag deleted or no longer representable; empty
    /// when the revision changes nothing a legacy SDK sees.
    pub legacy: Bytes,
    /// Client event stream: `refetchEvaluation` with the new ETag.
    pub refetch: Bytes,
}

impl RevisionFrames {
    /// The frames of `message`.
    pub fn of(message: &ChangeMessage) -> Self {
        let mut legacy = String::new();
        for change in &message.changes {
            match change {
                Change::FlagUpserted { flag } => match legacy_json(flag) {
                    Some(json) => legacy_updated(&mut legacy, message.revision, &json),
                    None => legacy_deleted(&mut legacy, message.revision, flag.flag.key.as_str()),
                },
                Change::FlagDeleted { key } => {
                    legacy_deleted(&mut legacy, message.revision, key.as_str());
                }
                _ => {}
            }
        }
        Self {
            revision: message.revision,
            v2: v2_frame(message),
            legacy: Bytes::from(legacy),
            refetch: refetch_frame(&message.epoch, message.revision),
        }
    }
}

/// The v2 frame of one change message (SDK form, without key changes):
/// `delete` when the revision only deletes flags or segments, else `patch`.
pub fn v2_frame(message: &ChangeMessage) -> Bytes {
    let message = message.clone().without_keys();
    let only_deletions = !message.changes.is_empty()
        && message.changes.iter().all(|c| {
            matches!(
                c,
                Change::FlagDeleted { .. } | Change::SegmentDeleted { .. }
            )
        });
    let event = if only_deletions { "delete" } else { "patch" };
    let data = serde_json::to_string(&message).expect("messages serialize");
    Bytes::from(format!(
        "id: {}\nevent: {event}\ndata: {data}\n\n",
        message.revision
    ))
}

/// The v2 `put` frame of a full configuration.
pub fn put_frame(revision: u64, full_body: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(full_body.len() + 32);
    frame.extend_from_slice(format!("id: {revision}\nevent: put\ndata: ").as_bytes());
    frame.extend_from_slice(full_body);
    frame.extend_from_slice(b"\n\n");
    Bytes::from(frame)
}

/// The legacy dialect's full resend: `flag_updated` for every
/// legacy-representable flag, then `flag_deleted` for every flag that is
/// not representable and for every deleted flag in `tombstones`.
pub fn legacy_resend<'a>(
    revision: u64,
    flags: impl Iterator<Item = &'a EnvironmentFlag>,
    tombstones: impl Iterator<Item = &'a str>,
) -> Bytes {
    let mut out = String::new();
    let mut unrepresentable = Vec::new();
    for flag in flags {
        match legacy_json(flag) {
            Some(json) => legacy_updated(&mut out, revision, &json),
            None => unrepresentable.push(flag.flag.key.as_str()),
        }
    }
    for key in unrepresentable.into_iter().chain(tombstones) {
        legacy_deleted(&mut out, revision, key);
    }
    Bytes::from(out)
}

/// The environment's configuration ETag (without quotes) at `revision`.
pub fn config_version(epoch: &Epoch, revision: u64) -> String {
    format!("{epoch}-{revision}")
}

/// The client event stream's notice that the environment changed
/// (OFREP's `sseEventData`; the default SSE event type `message`).
pub fn refetch_frame(epoch: &Epoch, revision: u64) -> Bytes {
    let data = serde_json::json!({
        "type": "refetchEvaluation",
        "etag": config_version(epoch, revision),
    });
    Bytes::from(format!("id: {revision}\ndata: {data}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(changes: serde_json::Value) -> ChangeMessage {
        serde_json::from_value(serde_json::json!({
            "environment": "production", "epoch": "e1", "revision": 7, "base_revision": 6,
            "committed_at": "2026-11-24T10:00:00Z", "changes": changes,
        }))
        .expect("a valid message")
    }

    fn boolean_flag(key: &str, rules: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"type": "flag_upserted", "flag": {
            "flag": {"key": key, "kind": "boolean", "variations": [
                {"key": "true", "value": true}, {"key": "false", "value": false}]},
            "config": {"enabled": true, "off_variation": "false", "rules": rules,
                "default": {"variation": "true"}}}})
    }

    #[test]
    fn legacy_frames_carry_representable_flags_and_delete_the_rest() {
        let frames = RevisionFrames::of(&message(serde_json::json!([
            serde_json::json!({"type": "flag_upserted", "flag": LegacyFlag {
                key: halyard_common::FlagKey::parse("plain").expect("a valid key"),
                description: "Plain".into(),
                enabled: true,
                rollout_percentage: 30,
                targeted_users: vec!["ana".into()],
            }.to_environment_flag().expect("a valid legacy flag")}),
            boolean_flag("ruled", serde_json::json!([{"clauses": [
                {"attribute": "country", "operator": "in", "values": ["NL"]}],
                "serve": {"variation": "true"}}])),
            {"type": "flag_deleted", "key": "gone"},
            {"type": "segment_deleted", "key": "staff"},
        ])));
        let legacy = std::str::from_utf8(&frames.legacy).expect("utf-8");
        assert_eq!(
            legacy,
            "id: 7\nevent: flag_updated\ndata: {\"id\":null,\"key\":\"plain\",\"description\":\"Plain\",\"enabled\":true,\"rollout_percentage\":30,\"targeted_users\":[\"ana\"]}\n\n\
             id: 7\nevent: flag_deleted\ndata: {\"key\":\"ruled\"}\n\n\
             id: 7\nevent: flag_deleted\ndata: {\"key\":\"gone\"}\n\n"
        );
        assert!(frames.v2.starts_with(b"id: 7\nevent: patch\n"));
        assert_eq!(
            &frames.refetch[..],
            b"id: 7\ndata: {\"etag\":\"e1-7\",\"type\":\"refetchEvaluation\"}\n\n"
        );
    }

    #[test]
    fn a_revision_without_flag_changes_has_no_legacy_frames() {
        let frames = RevisionFrames::of(&message(serde_json::json!([
            {"type": "segment_deleted", "key": "staff"},
        ])));
        assert!(frames.legacy.is_empty());
        assert!(frames.v2.starts_with(b"id: 7\nevent: delete\n"));
    }
}
