//! Validation errors: what is wrong, where (a field path), and a stable code.
//!
//! The path uses the JSON shape's field names with `[i]` for list items, e.g.
//! `config.rules[2].clauses[0].values[1]`. The code is machine-readable and
//! distinct per cause; the control plane puts both in its error bodies.

use crate::eval::regex::RegexError;
use crate::keys::KeyError;

/// An invalid flag, configuration, segment, snapshot or message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{kind}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ValidationError {
    /// Where: the path of the offending field (empty for the whole document).
    pub path: String,
    /// What.
    pub kind: ValidationErrorKind,
}

/// The cause of a [`ValidationError`]; each has its own [`code`](ValidationError::code).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationErrorKind {
    /// The JSON does not have the documented shape (wrong type, missing field).
    #[error("{0}")]
    Malformed(String),
    /// A key does not have the key syntax.
    #[error(transparent)]
    InvalidKey(#[from] KeyError),
    /// Two items share a key that must be unique.
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    /// The variations do not fit the flag's kind.
    #[error("{0}")]
    InvalidVariations(&'static str),
    /// A value has the wrong JSON type.
    #[error("expected {expected}")]
    TypeMismatch {
        /// What was expected, e.g. `a string`.
        expected: &'static str,
    },
    /// A reference to a variation the flag does not have.
    #[error("unknown variation {0:?}")]
    UnknownVariation(String),
    /// Rollout weights that do not sum to the bucketing version's total.
    #[error("weights sum to {actual}, but bucketing {version} needs exactly {expected}")]
    InvalidWeights {
        /// `v1` or `v2`.
        version: &'static str,
        /// 100 or 100,000.
        expected: u32,
        /// The actual sum.
        actual: u64,
    },
    /// A rollout option its bucketing version does not have.
    #[error("{0}")]
    InvalidRollout(&'static str),
    /// An attribute reference that is not valid syntax.
    #[error("invalid attribute reference {0:?}: use a name, or a JSON pointer starting with '/'")]
    InvalidAttribute(String),
    /// An operator that needs at least one value got none.
    #[error("needs at least one value")]
    EmptyValues,
    /// An operator that takes no values got some.
    #[error("takes no values")]
    UnexpectedValues,
    /// A `matches` pattern outside the portable regex subset.
    #[error(transparent)]
    InvalidRegex(#[from] RegexError),
    /// A value that is not SemVer 2.0.0.
    #[error("invalid semver {0:?}: expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]")]
    InvalidSemver(String),
    /// A value that is neither an RFC 3339 date-time nor epoch milliseconds.
    #[error("invalid date {0:?}: expected an RFC 3339 date-time or epoch milliseconds")]
    InvalidDate(String),
    /// `in_segment` inside a segment rule.
    #[error("in_segment is not allowed inside a segment")]
    NestedSegment,
    /// Prerequisites that lead back to a flag.
    #[error("prerequisite cycle: {}", .0.join(" -> "))]
    PrerequisiteCycle(Vec<String>),
    /// A prerequisite chain longer than the evaluation depth limit.
    #[error("prerequisite chain deeper than {0} flags")]
    PrerequisiteTooDeep(usize),
    /// A prerequisite on a flag that does not exist.
    #[error("unknown flag {0:?}")]
    UnknownFlag(String),
    /// An `in_segment` value naming a segment that does not exist.
    #[error("unknown segment {0:?}")]
    UnknownSegment(String),
    /// A legacy rollout percentage outside 0..=100.
    #[error("rollout_percentage must be between 0 and 100, got {0}")]
    InvalidPercentage(u32),
    /// A legacy operation on a flag the legacy shape cannot represent.
    #[error("the flag has targeting the legacy API cannot represent; use the full API")]
    NotLegacyRepresentable,
}

impl ValidationError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, kind: ValidationErrorKind) -> Self {
        Self {
            path: path.into(),
            kind,
        }
    }

    /// The same error with `prefix` put in front of its path (`flags[3]`).
    #[must_use]
    pub fn within(mut self, prefix: &str) -> Self {
        self.path = match (prefix.is_empty(), self.path.is_empty()) {
            (true, _) => self.path,
            (false, true) => prefix.to_owned(),
            (false, false) if self.path.starts_with('[') => format!("{prefix}{}", self.path),
            (false, false) => format!("{prefix}.{}", self.path),
        };
        self
    }

    /// Parses `json` as `T`, reporting the path of the first bad field.
    pub fn parse_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, ValidationError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let path = if path == "." { String::new() } else { path };
            ValidationError::new(
                path,
                ValidationErrorKind::Malformed(err.into_inner().to_string()),
            )
        })
    }

    /// The stable machine-readable code of this error's cause.
    pub fn code(&self) -> &'static str {
        use ValidationErrorKind as K;
        match &self.kind {
            K::Malformed(_) => "invalid_value",
            K::InvalidKey(_) => "invalid_key",
            K::DuplicateKey(_) => "duplicate_key",
            K::InvalidVariations(_) => "invalid_variations",
            K::TypeMismatch { .. } => "type_mismatch",
            K::UnknownVariation(_) => "unknown_variation",
            K::InvalidWeights { .. } => "invalid_weights",
            K::InvalidRollout(_) => "invalid_rollout",
            K::InvalidAttribute(_) => "invalid_attribute",
            K::EmptyValues => "empty_values",
            K::UnexpectedValues => "unexpected_values",
            K::InvalidRegex(err) => err.code(),
            K::InvalidSemver(_) => "invalid_semver",
            K::InvalidDate(_) => "invalid_date",
            K::NestedSegment => "nested_segment",
            K::PrerequisiteCycle(_) => "prerequisite_cycle",
            K::PrerequisiteTooDeep(_) => "prerequisite_too_deep",
            K::UnknownFlag(_) => "unknown_flag",
            K::UnknownSegment(_) => "unknown_segment",
            K::InvalidPercentage(_) => "invalid_percentage",
            K::NotLegacyRepresentable => "not_legacy_representable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_compose() {
        let err = ValidationError::new("values[1]", ValidationErrorKind::EmptyValues)
            .within("clauses[0]")
            .within("rules[2]")
            .within("config");
        assert_eq!(err.path, "config.rules[2].clauses[0].values[1]");
        assert_eq!(
            err.to_string(),
            "config.rules[2].clauses[0].values[1]: needs at least one value"
        );
    }

    #[test]
    fn serde_errors_carry_the_field_path() {
        let err = ValidationError::parse_json::<crate::model::Flag>(
            r#"{"key":"a","kind":"boolean","variations":[{"key":"true","value":true},{"key":"bad key","value":false}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.path, "variations[1].key");
        assert_eq!(err.code(), "invalid_value");
        assert!(err.to_string().contains("invalid key"), "{err}");
    }
}
