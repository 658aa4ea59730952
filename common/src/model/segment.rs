use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Clause;
use crate::keys::SegmentKey;

/// A rule of a segment: a user matches when every clause matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRule {
    /// Optional stable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// All must match (`in_segment` is not allowed inside segments).
    pub clauses: Vec<Clause>,
}

/// A reusable audience, referenced by `in_segment` clauses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// The segment's key.
    pub key: SegmentKey,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Targeting keys always in the segment (unless excluded).
    #[serde(default)]
    pub included: Vec<String>,
    /// Targeting keys never in the segment.
    #[serde(default)]
    pub excluded: Vec<String>,
    /// Anyone matching one rule is in the segment.
    #[serde(default)]
    pub rules: Vec<SegmentRule>,
    /// Optimistic-concurrency version.
    #[serde(default)]
    pub version: u64,
    /// When the segment was created.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<OffsetDateTime>,
    /// When the segment was last changed.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<OffsetDateTime>,
}
