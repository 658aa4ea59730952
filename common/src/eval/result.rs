//! What an evaluation returns.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::keys::FlagKey;
use crate::model::Variation;

/// Why an evaluation failed; the caller then gets its own default value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No flag with that key in the environment.
    FlagNotFound,
    /// The flag's kind is not the type the caller asked for.
    TypeMismatch,
    /// The context is not usable (not an object, a non-string key, a missing
    /// or non-string bucket-by attribute).
    InvalidContext,
    /// A step that needs the targeting key was reached without one.
    TargetingKeyMissing,
    /// Anything else (e.g. the prerequisite depth limit).
    General,
}

impl ErrorCode {
    /// The code as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::FlagNotFound => "FLAG_NOT_FOUND",
            ErrorCode::TypeMismatch => "TYPE_MISMATCH",
            ErrorCode::InvalidContext => "INVALID_CONTEXT",
            ErrorCode::TargetingKeyMissing => "TARGETING_KEY_MISSING",
            ErrorCode::General => "GENERAL",
        }
    }
}

/// Which targeting matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match<'a> {
    /// The targeting key is in the flag's individual targets.
    Target,
    /// The rule at `index` (0-based) matched.
    Rule {
        /// Position in the flag's rules.
        index: usize,
        /// The rule's id, if it has one.
        id: Option<&'a str>,
    },
}

/// Why this value was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason<'a> {
    /// The flag is disabled: its off variation.
    Disabled,
    /// A target or rule matched.
    TargetingMatch(Match<'a>),
    /// The default rule's rollout assigned the variation.
    Split,
    /// The default rule's fixed variation.
    Default,
    /// A prerequisite was not met: the off variation.
    PrerequisiteFailed {
        /// The first prerequisite flag that failed.
        flag: &'a FlagKey,
    },
    /// No value: the caller's default applies.
    Error(ErrorCode),
}

/// The reason without its details, as named in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)] // mirrors Reason
pub enum ReasonKind {
    Disabled,
    TargetingMatch,
    Split,
    Default,
    PrerequisiteFailed,
    Error,
}

impl Reason<'_> {
    /// The reason's name.
    pub fn kind(&self) -> ReasonKind {
        match self {
            Reason::Disabled => ReasonKind::Disabled,
            Reason::TargetingMatch(_) => ReasonKind::TargetingMatch,
            Reason::Split => ReasonKind::Split,
            Reason::Default => ReasonKind::Default,
            Reason::PrerequisiteFailed { .. } => ReasonKind::PrerequisiteFailed,
            Reason::Error(_) => ReasonKind::Error,
        }
    }
}

/// The result of evaluating one flag for one context. Borrows from the
/// snapshot, so producing it allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation<'a> {
    /// The variation served; `None` exactly when the reason is an error.
    pub variation: Option<&'a Variation>,
    /// Why.
    pub reason: Reason<'a>,
}

impl<'a> Evaluation<'a> {
    /// A failed evaluation.
    pub fn error(code: ErrorCode) -> Self {
        Self {
            variation: None,
            reason: Reason::Error(code),
        }
    }

    /// The value served, if any.
    pub fn value(&self) -> Option<&'a Value> {
        self.variation.map(|v| &v.value)
    }

    /// The key of the variation served, if any.
    pub fn variation_key(&self) -> Option<&'a str> {
        self.variation.map(|v| v.key.as_str())
    }

    /// The error code, if the evaluation failed.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self.reason {
            Reason::Error(code) => Some(code),
            _ => None,
        }
    }
}

/// JSON form: `{"value", "variation", "reason", ...details}`; see
/// `docs/evaluation.md` ("Result").
impl Serialize for Evaluation<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("value", &self.value())?;
        map.serialize_entry("variation", &self.variation_key())?;
        map.serialize_entry("reason", &self.reason.kind())?;
        match self.reason {
            Reason::TargetingMatch(Match::Target) => map.serialize_entry("target", &true)?,
            Reason::TargetingMatch(Match::Rule { index, id }) => {
                map.serialize_entry("rule_index", &index)?;
                if let Some(id) = id {
                    map.serialize_entry("rule_id", id)?;
                }
            }
            Reason::PrerequisiteFailed { flag } => map.serialize_entry("prerequisite", flag)?,
            Reason::Error(code) => map.serialize_entry("error_code", &code)?,
            Reason::Disabled | Reason::Split | Reason::Default => {}
        }
        map.end()
    }
}
