//! Halyard's shared core: the flag model, the one evaluation engine, and the
//! snapshot and change-message contract between control plane, edges and SDKs.
//!
//! This crate has no I/O: no axum, sqlx or redis. Every Halyard component and
//! the reference for every SDK evaluates through it.
//!
//! # Layout
//! - [`keys`]: validated identifiers (`FlagKey`, `SegmentKey`, ...).
//! - [`model`]: the serde types admins write and snapshots carry, and the
//!   legacy flag mapping.
//! - [`context`]: who a flag is evaluated for, and attribute references.
//! - [`hashing`]: the byte-exact bucketing hashes (v1 FNV-1a, v2 MurmurHash3).
//! - [`eval`]: compilation, the evaluation order, results, and the
//!   cross-language operand types (regex subset, SemVer, dates).
//! - [`snapshot`]: an environment at one revision, compiled and immutable.
//! - [`change`]: change messages, epochs and revisions.
//! - [`error`]: validation errors with field paths and stable codes.
//! - `bus` (feature `bus`): the in-process bus of the all-in-one node, the
//!   only part that needs an async runtime (tokio's channels).

#[cfg(feature = "bus")]
pub mod bus;
pub mod change;
pub mod context;
pub mod error;
pub mod eval;
pub mod hashing;
pub mod keys;
pub mod model;
pub mod snapshot;

pub use change::{Change, ChangeMessage, Epoch, KeyEntry, KeyKind};
pub use context::{Context, ContextError};
pub use error::{ValidationError, ValidationErrorKind};
pub use eval::{ErrorCode, Evaluation, Reason, ReasonKind};
pub use keys::{EnvironmentKey, FlagKey, SegmentKey, VariationKey};
pub use snapshot::{Applied, ApplyError, Snapshot, SnapshotData};
