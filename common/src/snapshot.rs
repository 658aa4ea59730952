//! Snapshots: one environment's flags and segments at one revision, compiled
//! and immutable.
//!
//! A snapshot is built once from its JSON form ([`SnapshotData`]) and then
//! only read; a change message produces a new snapshot ([`Snapshot::apply`])
//! that shares every untouched flag with the old one, and equals a fresh
//! build of the new revision. Flags and segments live in hash sets keyed by
//! their own key, so cloning for an update copies pointers, not strings.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::change::{Change, ChangeMessage, Epoch, KeyEntry};
use crate::context::Context;
use crate::error::{ValidationError, ValidationErrorKind};
use crate::eval::ErrorCode;
use crate::eval::compile::CompileCache;
use crate::eval::{CompiledFlag, CompiledSegment, Evaluation, Lookup, evaluate_flag};
use crate::keys::EnvironmentKey;
use crate::model::{EnvironmentFlag, FlagKind, Segment};

/// The JSON form of a snapshot (what Redis, the control plane's edge endpoint
/// and the disk cache hold). `keys` is edge-internal: SDK-facing forms drop it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotData {
    /// The environment.
    pub environment: EnvironmentKey,
    /// The revision history this snapshot belongs to.
    pub epoch: Epoch,
    /// The environment's revision, from 1.
    pub revision: u64,
    /// Every flag, with this environment's configuration.
    #[serde(default)]
    pub flags: Vec<EnvironmentFlag>,
    /// Every segment.
    #[serde(default)]
    pub segments: Vec<Segment>,
    /// API key hashes (edge-internal; never sent to SDKs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyEntry>,
}

impl SnapshotData {
    /// The same data without key material, for SDKs.
    #[must_use]
    pub fn without_keys(mut self) -> Self {
        self.keys.clear();
        self
    }
}

/// An `Arc<T>` stored in a hash set under the key it carries.
#[derive(Debug)]
struct Keyed<T>(Arc<T>);

trait HasKey {
    fn key_str(&self) -> &str;
}
impl HasKey for CompiledFlag {
    fn key_str(&self) -> &str {
        self.key().as_str()
    }
}
impl HasKey for CompiledSegment {
    fn key_str(&self) -> &str {
        self.key().as_str()
    }
}

impl<T> Clone for Keyed<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}
impl<T: HasKey> Borrow<str> for Keyed<T> {
    fn borrow(&self) -> &str {
        self.0.key_str()
    }
}
impl<T: HasKey> Hash for Keyed<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash exactly like `str` so that `Borrow<str>` look-ups work.
        self.0.key_str().hash(state);
    }
}
impl<T: HasKey> PartialEq for Keyed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0.key_str() == other.0.key_str()
    }
}
impl<T: HasKey> Eq for Keyed<T> {}

type KeyedSet<T> = HashSet<Keyed<T>, foldhash::fast::RandomState>;

/// One environment at one revision, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Snapshot {
    environment: EnvironmentKey,
    epoch: Epoch,
    revision: u64,
    flags: KeyedSet<CompiledFlag>,
    segments: KeyedSet<CompiledSegment>,
    keys: Arc<[KeyEntry]>,
}

/// What applying a change message did.
#[derive(Debug)]
pub enum Applied {
    /// The next snapshot.
    Updated(Snapshot),
    /// The message deleted the environment.
    Deleted,
    /// The snapshot already holds this revision: nothing to do.
    AlreadyHeld,
}

/// Why a change message cannot be applied; every variant means "resync this
/// environment from a full snapshot".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// The message is for another environment.
    #[error("message for environment {message}, snapshot is {snapshot}")]
    WrongEnvironment {
        /// The snapshot's environment.
        snapshot: String,
        /// The message's environment.
        message: String,
    },
    /// The revision history restarted (new database, restore, import).
    #[error("epoch changed from {snapshot} to {message}")]
    EpochMismatch {
        /// The snapshot's epoch.
        snapshot: String,
        /// The message's epoch.
        message: String,
    },
    /// The message does not follow the snapshot's revision (a gap).
    #[error("message is based on revision {base}, snapshot is at {snapshot}")]
    BaseMismatch {
        /// The snapshot's revision.
        snapshot: u64,
        /// The message's base revision.
        base: u64,
    },
    /// The message breaks the protocol (e.g. revision != base + 1).
    #[error("malformed change message: {0}")]
    Malformed(&'static str),
    /// A flag or segment in the message does not compile.
    #[error("invalid change: {0}")]
    Invalid(#[from] ValidationError),
}

impl ApplyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApplyError::WrongEnvironment { .. } => "wrong_environment",
            ApplyError::EpochMismatch { .. } => "epoch_mismatch",
            ApplyError::BaseMismatch { .. } => "revision_gap",
            ApplyError::Malformed(_) => "malformed_message",
            ApplyError::Invalid(_) => "invalid_change",
        }
    }
}

impl Snapshot {
    /// Checks and compiles `data`. Error paths start with `flags[i]` or
    /// `segments[i]`.
    pub fn build(data: SnapshotData) -> Result<Self, ValidationError> {
        if data.revision == 0 {
            return Err(ValidationError::new(
                "revision",
                ValidationErrorKind::Malformed("revisions start at 1".into()),
            ));
        }
        let mut snapshot = Self::empty(data.environment, data.epoch, data.revision);
        let mut cache = CompileCache::default();
        for (i, flag) in data.flags.into_iter().enumerate() {
            let key = flag.flag.key.to_string();
            let compiled = CompiledFlag::compile_with(flag, &mut cache)
                .map_err(|e| e.within(&format!("flags[{i}]")))?;
            if !snapshot.flags.insert(Keyed(Arc::new(compiled))) {
                return Err(ValidationError::new(
                    format!("flags[{i}].flag.key"),
                    ValidationErrorKind::DuplicateKey(key),
                ));
            }
        }
        for (i, segment) in data.segments.into_iter().enumerate() {
            let key = segment.key.to_string();
            let compiled = CompiledSegment::compile_with(segment, &mut cache)
                .map_err(|e| e.within(&format!("segments[{i}]")))?;
            if !snapshot.segments.insert(Keyed(Arc::new(compiled))) {
                return Err(ValidationError::new(
                    format!("segments[{i}].key"),
                    ValidationErrorKind::DuplicateKey(key),
                ));
            }
        }
        for (i, key) in data.keys.iter().enumerate() {
            key.check().map_err(|e| e.within(&format!("keys[{i}]")))?;
        }
        let mut keys = data.keys;
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        snapshot.keys = keys.into();
        Ok(snapshot)
    }

    fn empty(environment: EnvironmentKey, epoch: Epoch, revision: u64) -> Self {
        Self {
            environment,
            epoch,
            revision,
            flags: KeyedSet::default(),
            segments: KeyedSet::default(),
            keys: Arc::new([]),
        }
    }

    /// Builds the first snapshot of an environment from the message that
    /// created it (revision 1, base 0, first change `environment_created`).
    pub fn from_created(message: &ChangeMessage) -> Result<Self, ApplyError> {
        if !matches!(message.changes.first(), Some(Change::EnvironmentCreated)) {
            return Err(ApplyError::Malformed(
                "the first change of a new environment must be environment_created",
            ));
        }
        if message.base_revision != 0 {
            return Err(ApplyError::BaseMismatch {
                snapshot: 0,
                base: message.base_revision,
            });
        }
        let empty = Self::empty(message.environment.clone(), message.epoch.clone(), 0);
        match empty.apply(message)? {
            Applied::Updated(snapshot) => Ok(snapshot),
            Applied::Deleted | Applied::AlreadyHeld => {
                Err(ApplyError::Malformed("environment deleted on creation"))
            }
        }
    }

    /// Applies the message for the next revision, giving exactly what a fresh
    /// build of that revision gives.
    pub fn apply(&self, message: &ChangeMessage) -> Result<Applied, ApplyError> {
        if message.environment != self.environment {
            return Err(ApplyError::WrongEnvironment {
                snapshot: self.environment.to_string(),
                message: message.environment.to_string(),
            });
        }
        if message.epoch != self.epoch {
            return Err(ApplyError::EpochMismatch {
                snapshot: self.epoch.to_string(),
                message: message.epoch.to_string(),
            });
        }
        if message.revision != message.base_revision.wrapping_add(1) {
            return Err(ApplyError::Malformed("revision must be base_revision + 1"));
        }
        if message.revision <= self.revision {
            return Ok(Applied::AlreadyHeld);
        }
        if message.base_revision != self.revision {
            return Err(ApplyError::BaseMismatch {
                snapshot: self.revision,
                base: message.base_revision,
            });
        }
        let mut next = self.clone();
        next.revision = message.revision;
        let mut keys: Option<Vec<KeyEntry>> = None;
        for (i, change) in message.changes.iter().enumerate() {
            let at = |e: ValidationError| ApplyError::Invalid(e.within(&format!("changes[{i}]")));
            match change {
                Change::FlagUpserted { flag } => {
                    // Unchanged patterns keep their compiled regexes.
                    let mut cache = CompileCache::default();
                    if let Some(previous) = next.flag(flag.flag.key.as_str()) {
                        cache.remember_flag(previous);
                    }
                    let compiled = CompiledFlag::compile_with(flag.clone(), &mut cache)
                        .map_err(|e| at(e.within("flag")))?;
                    next.flags.replace(Keyed(Arc::new(compiled)));
                }
                Change::FlagDeleted { key } => {
                    next.flags.remove(key.as_str());
                }
                Change::SegmentUpserted { segment } => {
                    let mut cache = CompileCache::default();
                    if let Some(previous) = next.segment(segment.key.as_str()) {
                        cache.remember_segment(previous);
                    }
                    let compiled = CompiledSegment::compile_with(segment.clone(), &mut cache)
                        .map_err(|e| at(e.within("segment")))?;
                    next.segments.replace(Keyed(Arc::new(compiled)));
                }
                Change::SegmentDeleted { key } => {
                    next.segments.remove(key.as_str());
                }
                Change::EnvironmentCreated if message.base_revision == 0 => {}
                Change::EnvironmentCreated => {
                    return Err(ApplyError::Malformed(
                        "environment_created on an existing environment",
                    ));
                }
                Change::EnvironmentDeleted => return Ok(Applied::Deleted),
                Change::KeyUpserted { key } => {
                    key.check().map_err(|e| at(e.within("key")))?;
                    let keys = keys.get_or_insert_with(|| self.keys.to_vec());
                    keys.retain(|k| k.id != key.id);
                    keys.push(key.clone());
                }
                Change::KeyDeleted { id } => {
                    keys.get_or_insert_with(|| self.keys.to_vec())
                        .retain(|k| k.id != *id);
                }
            }
        }
        if let Some(mut keys) = keys {
            keys.sort_by(|a, b| a.id.cmp(&b.id));
            next.keys = keys.into();
        }
        Ok(Applied::Updated(next))
    }

    /// The environment.
    pub fn environment(&self) -> &EnvironmentKey {
        &self.environment
    }

    /// The revision history.
    pub fn epoch(&self) -> &Epoch {
        &self.epoch
    }

    /// The revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The flag with this key.
    pub fn flag(&self, key: &str) -> Option<&CompiledFlag> {
        self.flags.get(key).map(|k| &*k.0)
    }

    /// The segment with this key.
    pub fn segment(&self, key: &str) -> Option<&CompiledSegment> {
        self.segments.get(key).map(|k| &*k.0)
    }

    /// Every flag, in no particular order.
    pub fn flags(&self) -> impl Iterator<Item = &CompiledFlag> {
        self.flags.iter().map(|k| &*k.0)
    }

    /// Number of flags.
    pub fn flag_count(&self) -> usize {
        self.flags.len()
    }

    /// Every segment, in no particular order.
    pub fn segments(&self) -> impl Iterator<Item = &CompiledSegment> {
        self.segments.iter().map(|k| &*k.0)
    }

    /// API key hashes, sorted by id (edge-internal).
    pub fn keys(&self) -> &[KeyEntry] {
        &self.keys
    }

    /// Evaluates one flag; `FLAG_NOT_FOUND` when there is none.
    pub fn evaluate(&self, flag_key: &str, context: &Context) -> Evaluation<'_> {
        match self.flag(flag_key) {
            Some(flag) => evaluate_flag(self, flag, context),
            None => Evaluation::error(ErrorCode::FlagNotFound),
        }
    }

    /// Evaluates one flag for a caller that expects values of `kind`:
    /// `TYPE_MISMATCH` when the flag has another kind.
    pub fn evaluate_as(&self, flag_key: &str, context: &Context, kind: FlagKind) -> Evaluation<'_> {
        match self.flag(flag_key) {
            Some(flag) if flag.kind() != kind => Evaluation::error(ErrorCode::TypeMismatch),
            Some(flag) => evaluate_flag(self, flag, context),
            None => Evaluation::error(ErrorCode::FlagNotFound),
        }
    }

    /// Evaluates every flag, in no particular order.
    pub fn evaluate_all<'s>(
        &'s self,
        context: &'s Context,
    ) -> impl Iterator<Item = (&'s CompiledFlag, Evaluation<'s>)> + 's {
        self.flags()
            .map(move |flag| (flag, evaluate_flag(self, flag, context)))
    }

    /// The JSON form, flags and segments sorted by key, keys by id.
    pub fn to_data(&self) -> SnapshotData {
        let mut flags: Vec<EnvironmentFlag> = self.flags().map(|f| f.source().clone()).collect();
        flags.sort_by(|a, b| a.flag.key.cmp(&b.flag.key));
        let mut segments: Vec<Segment> = self.segments().map(|s| s.source().clone()).collect();
        segments.sort_by(|a, b| a.key.cmp(&b.key));
        SnapshotData {
            environment: self.environment.clone(),
            epoch: self.epoch.clone(),
            revision: self.revision,
            flags,
            segments,
            keys: self.keys.to_vec(),
        }
    }
}

impl Lookup for Snapshot {
    fn flag(&self, key: &str) -> Option<&CompiledFlag> {
        Snapshot::flag(self, key)
    }

    fn segment(&self, key: &str) -> Option<&CompiledSegment> {
        Snapshot::segment(self, key)
    }
}
