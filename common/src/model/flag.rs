use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::Clause;
use crate::keys::{FlagKey, VariationKey};

/// The type of every variation value of a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// Variations `true` and `false`.
    Boolean,
    /// String values.
    String,
    /// Numbers (compared and returned as IEEE 754 doubles).
    Number,
    /// Any JSON value.
    Json,
}

impl FlagKind {
    /// The kind's name as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::Boolean => "boolean",
            FlagKind::String => "string",
            FlagKind::Number => "number",
            FlagKind::Json => "json",
        }
    }

    /// Whether `value` has this kind's type.
    pub fn admits(self, value: &Value) -> bool {
        match self {
            FlagKind::Boolean => value.is_boolean(),
            FlagKind::String => value.is_string(),
            FlagKind::Number => value.is_number(),
            FlagKind::Json => true,
        }
    }
}

/// One possible value of a flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variation {
    /// Unique within the flag; what rules, targets and results refer to.
    pub key: VariationKey,
    /// The value served, of the flag's kind.
    pub value: Value,
    /// Optional human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A flag's definition, shared by every environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// Stable id assigned by the control plane (the legacy API's `id`, a
    /// UUID); absent in documents not written by a control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The flag's key.
    pub key: FlagKey,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The type of the flag's values.
    pub kind: FlagKind,
    /// The values the flag can serve, in display order.
    pub variations: Vec<Variation>,
    /// Free-form labels for search and grouping.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Optimistic-concurrency version, bumped by every update of the definition.
    #[serde(default)]
    pub version: u64,
    /// When the flag was created.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<OffsetDateTime>,
    /// When the definition was last changed.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<OffsetDateTime>,
}

/// Users (by targeting key) who get one variation before any rule runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The variation they get.
    pub variation: VariationKey,
    /// Their targeting keys.
    pub values: Vec<String>,
}

/// Another flag that must evaluate to a given variation first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prerequisite {
    /// The prerequisite flag.
    pub flag: FlagKey,
    /// The variation it must evaluate to (and be enabled).
    pub variation: VariationKey,
}

/// How a rollout maps users to buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucketing {
    /// Legacy: FNV-1a-32 of `flagKey:value` mod 100, weights in whole percent.
    V1,
    /// Default: MurmurHash3-32 of `salt:value` mod 100,000, weights in 1/1000 %.
    #[default]
    V2,
}

impl Bucketing {
    /// Sum the weights of a rollout must reach.
    pub fn total_weight(self) -> u32 {
        match self {
            Bucketing::V1 => crate::hashing::V1_BUCKETS,
            Bucketing::V2 => crate::hashing::V2_BUCKETS,
        }
    }
}

/// One variation's share of a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightedVariation {
    /// The variation.
    pub variation: VariationKey,
    /// Its share: percent (v1) or thousandths of a percent (v2).
    pub weight: u32,
}

/// A percentage split of users between variations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// The bucketing version; `v2` when absent.
    #[serde(default)]
    pub bucketing: Bucketing,
    /// The attribute whose value is hashed; the targeting key when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_by: Option<String>,
    /// v2 only: the hash salt; the flag key when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// Consecutive bucket ranges, in this order.
    pub weights: Vec<WeightedVariation>,
}

/// What a rule or the default serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Serve {
    /// Always this variation.
    Variation(VariationKey),
    /// A split between variations.
    Rollout(Rollout),
}

/// A targeting rule: when every clause matches, serve something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Optional stable id, reported in results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// All must match (an empty list always matches).
    pub clauses: Vec<Clause>,
    /// What matching users get.
    pub serve: Serve,
}

/// A flag's configuration in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagConfig {
    /// When false, everyone gets `off_variation`.
    pub enabled: bool,
    /// Served when disabled or when a prerequisite fails.
    pub off_variation: VariationKey,
    /// Individual targets, checked in order before the rules.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// Rules, first match wins.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// What everyone else gets.
    #[serde(rename = "default")]
    pub default_serve: Serve,
    /// Flags that must evaluate to a given variation first, checked in order.
    #[serde(default)]
    pub prerequisites: Vec<Prerequisite>,
    /// Optimistic-concurrency version of this configuration.
    #[serde(default)]
    pub version: u64,
}

/// A flag as one environment sees it: the shared definition and this
/// environment's configuration. This is the unit snapshots and change
/// messages carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentFlag {
    /// The definition.
    pub flag: Flag,
    /// This environment's configuration.
    pub config: FlagConfig,
}
