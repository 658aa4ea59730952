//! Validated identifiers: flag, segment, environment and variation keys.
//!
//! Parse, don't validate: a key exists only once it has been checked, so code
//! holding a [`FlagKey`] never re-checks it. Every key the legacy system
//! accepted (`^[a-zA-Z0-9-]{1,64}$`) stays valid; Halyard also allows `_` and
//! `.` and up to 128 characters.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest key accepted, in bytes (keys are ASCII).
pub const MAX_KEY_LEN: usize = 128;

/// Why a key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid key {value:?}: must be 1 to {MAX_KEY_LEN} characters of A-Z, a-z, 0-9, '-', '_' or '.'"
)]
pub struct KeyError {
    /// The rejected input (truncated to a readable length).
    pub value: String,
}

fn check_key(value: &str) -> Result<(), KeyError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_KEY_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        let value: String = value.chars().take(MAX_KEY_LEN + 8).collect();
        Err(KeyError { value })
    }
}

macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Box<str>);

        impl $name {
            /// Checks `value` and wraps it.
            pub fn parse(value: impl Into<String>) -> Result<Self, KeyError> {
                let value = value.into();
                check_key(&value)?;
                Ok(Self(value.into_boxed_str()))
            }

            /// The key as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = KeyError;
            fn try_from(value: String) -> Result<Self, KeyError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(key: $name) -> String {
                key.0.into()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }
    };
}

key_type!(
    /// The key of a flag, unique in a project and stable across environments.
    FlagKey
);
key_type!(
    /// The key of a segment (a reusable audience), unique per environment.
    SegmentKey
);
key_type!(
    /// The key of an environment, e.g. `production`.
    EnvironmentKey
);
key_type!(
    /// The key of a variation, unique within its flag (`true`/`false` for booleans).
    VariationKey
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_legacy_key_shape_is_accepted() {
        for key in [
            "a",
            "new-checkout-flow",
            "-",
            "---",
            "ABC-123",
            &"x".repeat(64),
        ] {
            assert!(FlagKey::parse(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn extended_characters_are_accepted() {
        assert!(FlagKey::parse("checkout.v2_beta").is_ok());
        assert!(FlagKey::parse("x".repeat(MAX_KEY_LEN)).is_ok());
    }

    #[test]
    fn bad_keys_are_rejected() {
        for key in [
            "",
            "has space",
            "émilie",
            "a/b",
            "a:b",
            &"x".repeat(MAX_KEY_LEN + 1),
        ] {
            assert!(FlagKey::parse(key).is_err(), "{key:?}");
        }
    }

    #[test]
    fn keys_deserialize_through_validation() {
        let ok: FlagKey = serde_json::from_str("\"beta\"").unwrap();
        assert_eq!(ok.as_str(), "beta");
        let err = serde_json::from_str::<FlagKey>("\"no spaces\"").unwrap_err();
        assert!(err.to_string().contains("invalid key"), "{err}");
    }
}
