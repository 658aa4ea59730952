//! The flag model: what admins write and what snapshots carry.
//!
//! These are plain serde types (the JSON shapes of `docs/evaluation.md`).
//! They are checked and turned into evaluation-ready form by
//! [`crate::eval::CompiledFlag`] and [`crate::eval::CompiledSegment`]; unknown
//! fields are ignored here so that older consumers accept newer snapshots
//! (the admin API rejects them at its own boundary).

mod clause;
mod flag;
mod legacy;
mod segment;

pub use clause::{Clause, Operator};
pub use flag::{
    Bucketing, EnvironmentFlag, Flag, FlagConfig, FlagKind, Prerequisite, Rollout, Rule, Serve,
    Target, Variation, WeightedVariation,
};
pub use legacy::LegacyFlag;
pub use segment::{Segment, SegmentRule};
