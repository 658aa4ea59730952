use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A rule operator. See `docs/evaluation.md` for each one's exact meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // each is documented in docs/evaluation.md
pub enum Operator {
    In,
    StartsWith,
    EndsWith,
    Contains,
    Matches,
    SemverEq,
    SemverLt,
    SemverLte,
    SemverGt,
    SemverGte,
    NumberEq,
    NumberLt,
    NumberLte,
    NumberGt,
    NumberGte,
    DateBefore,
    DateAfter,
    Exists,
    InSegment,
}

/// One condition of a rule: `attribute operator values`, optionally negated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clause {
    /// Attribute reference (see `docs/evaluation.md`); not used by `in_segment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// The comparison.
    pub operator: Operator,
    /// Operands; the clause matches when any one matches.
    #[serde(default)]
    pub values: Vec<Value>,
    /// Inverts the result (but a missing or wrongly typed attribute stays false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub negate: bool,
}
