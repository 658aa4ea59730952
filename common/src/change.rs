//! Change messages: the ordered stream from the control plane to the edges
//! (and, without key changes, to SDKs). See `docs/protocol.md`.
//!
//! One message per committed change per affected environment:
//! `{environment, epoch, revision, base_revision, committed_at, changes[]}`.
//! A consumer holding revision N applies the message with base N and
//! revision N + 1; anything else (another epoch, another base) means resync.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{ValidationError, ValidationErrorKind};
use crate::keys::{EnvironmentKey, FlagKey, SegmentKey};
use crate::model::{EnvironmentFlag, Segment};

/// Identifies one revision history of an environment; a new epoch starts
/// whenever that history restarts (new database, restore, import).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Epoch(Box<str>);

/// An empty or over-long epoch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an epoch is 1 to 64 printable ASCII characters")]
pub struct EpochError;

impl Epoch {
    /// Wraps an epoch id (1 to 64 printable ASCII characters).
    pub fn parse(value: impl Into<String>) -> Result<Self, EpochError> {
        let value = value.into();
        let ok = (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(value.into_boxed_str())).ok_or(EpochError)
    }

    /// The epoch as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Epoch {
    type Error = EpochError;
    fn try_from(value: String) -> Result<Self, EpochError> {
        Self::parse(value)
    }
}

impl From<Epoch> for String {
    fn from(epoch: Epoch) -> String {
        epoch.0.into()
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// What an SDK key may do at an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Full configuration, streams and evaluation.
    Server,
    /// Evaluation and the client event stream only.
    Client,
}

/// An SDK key as edges know it: never the key itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// Stable id of the key (not secret).
    pub id: String,
    /// What the key may do.
    pub kind: KeyKind,
    /// Lower-case hex SHA-256 of the key's plaintext.
    pub sha256: String,
    /// Refused from this instant on (an expiry, or the end of a rotation's
    /// grace period); absent when the key does not expire.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
}

/// One change within a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// A flag was created or changed (its definition or this environment's
    /// configuration): the full new state.
    FlagUpserted {
        /// The flag as this environment now sees it.
        flag: EnvironmentFlag,
    },
    /// A flag was deleted.
    FlagDeleted {
        /// Its key.
        key: FlagKey,
    },
    /// A segment was created or changed: the full new state.
    SegmentUpserted {
        /// The segment.
        segment: Segment,
    },
    /// A segment was deleted.
    SegmentDeleted {
        /// Its key.
        key: SegmentKey,
    },
    /// The environment was created (the first change of revision 1).
    EnvironmentCreated,
    /// The environment was deleted; consumers drop it.
    EnvironmentDeleted,
    /// An SDK key was created or changed (edge-internal).
    KeyUpserted {
        /// The key's hash and rights.
        key: KeyEntry,
    },
    /// An SDK key was revoked (edge-internal).
    KeyDeleted {
        /// The key's id.
        id: String,
    },
}

impl KeyEntry {
    /// Checks that `sha256` is 64 lower-case hex digits and `id` is not empty.
    pub fn check(&self) -> Result<(), ValidationError> {
        if self.id.is_empty() {
            return Err(ValidationError::new(
                "id",
                ValidationErrorKind::Malformed("empty key id".into()),
            ));
        }
        let hex = self.sha256.len() == 64
            && self
                .sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex {
            return Err(ValidationError::new(
                "sha256",
                ValidationErrorKind::Malformed("expected 64 lower-case hex digits".into()),
            ));
        }
        Ok(())
    }
}

impl Change {
    /// Whether the change carries key material (never forwarded to SDKs).
    pub fn is_key_change(&self) -> bool {
        matches!(self, Change::KeyUpserted { .. } | Change::KeyDeleted { .. })
    }
}

/// Everything one committed change did to one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeMessage {
    /// The environment.
    pub environment: EnvironmentKey,
    /// The revision history.
    pub epoch: Epoch,
    /// The revision this message produces.
    pub revision: u64,
    /// The revision it applies to (always `revision - 1`).
    pub base_revision: u64,
    /// When the change was committed.
    #[serde(with = "time::serde::rfc3339")]
    pub committed_at: OffsetDateTime,
    /// The changes, applied in order.
    pub changes: Vec<Change>,
}

impl ChangeMessage {
    /// The message as SDKs may see it: key changes removed (the revision
    /// still advances, so SDKs see no gap).
    #[must_use]
    pub fn without_keys(mut self) -> Self {
        self.changes.retain(|c| !c.is_key_change());
        self
    }
}
