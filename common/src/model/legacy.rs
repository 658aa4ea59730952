//! The legacy flag shape and its lossless mapping onto the full model.
//!
//! A legacy flag `{key, description, enabled, rollout_percentage,
//! targeted_users}` is a boolean flag whose targets serve `true` and whose
//! default is a v1 rollout giving `true` to `rollout_percentage` percent.
//! A flag is *legacy-representable* exactly when its evaluation-relevant
//! shape is that form and nothing else; metadata the legacy system never had
//! (tags, variation names, versions) does not matter and is kept by
//! [`LegacyFlag::apply_to`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Bucketing, EnvironmentFlag, Flag, FlagConfig, FlagKind, Rollout, Serve, Target, Variation,
    WeightedVariation,
};
use crate::error::{ValidationError, ValidationErrorKind};
use crate::keys::{FlagKey, VariationKey};

/// A flag as the legacy API and SDK see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyFlag {
    /// The flag's key.
    pub key: FlagKey,
    /// Free text.
    pub description: String,
    /// Whether the flag is on.
    pub enabled: bool,
    /// Percent of users (by bucket) who get `true`, 0 to 100.
    pub rollout_percentage: u8,
    /// Users who always get `true` while the flag is enabled.
    pub targeted_users: Vec<String>,
}

fn variation_key(value: bool) -> VariationKey {
    VariationKey::parse(if value { "true" } else { "false" }).expect("boolean keys are valid")
}

impl LegacyFlag {
    fn check(&self) -> Result<(), ValidationError> {
        if self.rollout_percentage > 100 {
            return Err(ValidationError::new(
                "rollout_percentage",
                ValidationErrorKind::InvalidPercentage(self.rollout_percentage.into()),
            ));
        }
        Ok(())
    }

    fn rollout(&self) -> Rollout {
        let percent = u32::from(self.rollout_percentage);
        Rollout {
            bucketing: Bucketing::V1,
            bucket_by: None,
            salt: None,
            weights: vec![
                WeightedVariation {
                    variation: variation_key(true),
                    weight: percent,
                },
                WeightedVariation {
                    variation: variation_key(false),
                    weight: 100 - percent,
                },
            ],
        }
    }

    fn targets(&self) -> Vec<Target> {
        vec![Target {
            variation: variation_key(true),
            values: self.targeted_users.clone(),
        }]
    }

    /// The equivalent boolean flag (with no timestamps or versions yet).
    pub fn to_environment_flag(&self) -> Result<EnvironmentFlag, ValidationError> {
        self.check()?;
        Ok(EnvironmentFlag {
            flag: Flag {
                id: None,
                key: self.key.clone(),
                description: self.description.clone(),
                kind: FlagKind::Boolean,
                variations: vec![
                    Variation {
                        key: variation_key(true),
                        value: Value::Bool(true),
                        name: None,
                    },
                    Variation {
                        key: variation_key(false),
                        value: Value::Bool(false),
                        name: None,
                    },
                ],
                tags: Vec::new(),
                version: 0,
                created_at: None,
                updated_at: None,
            },
            config: FlagConfig {
                enabled: self.enabled,
                off_variation: variation_key(false),
                targets: self.targets(),
                rules: Vec::new(),
                default_serve: Serve::Rollout(self.rollout()),
                prerequisites: Vec::new(),
                version: 0,
            },
        })
    }

    /// The legacy view of `flag`, or `None` when it is not legacy-representable.
    pub fn from_environment_flag(flag: &EnvironmentFlag) -> Option<LegacyFlag> {
        let def = &flag.flag;
        let config = &flag.config;
        let boolean_variations = def.kind == FlagKind::Boolean
            && def.variations.len() == 2
            && def.variations[0].key.as_str() == "true"
            && def.variations[0].value == Value::Bool(true)
            && def.variations[1].key.as_str() == "false"
            && def.variations[1].value == Value::Bool(false);
        if !boolean_variations
            || config.off_variation.as_str() != "false"
            || !config.rules.is_empty()
            || !config.prerequisites.is_empty()
        {
            return None;
        }
        let targeted_users = match config.targets.as_slice() {
            [] => Vec::new(),
            [only] if only.variation.as_str() == "true" => only.values.clone(),
            _ => return None,
        };
        let Serve::Rollout(rollout) = &config.default_serve else {
            return None;
        };
        let percent = match (rollout, rollout.weights.as_slice()) {
            (
                Rollout {
                    bucketing: Bucketing::V1,
                    bucket_by: None,
                    salt: None,
                    ..
                },
                [on, off],
            ) if on.variation.as_str() == "true"
                && off.variation.as_str() == "false"
                && on.weight + off.weight == 100 =>
            {
                on.weight
            }
            _ => return None,
        };
        Some(LegacyFlag {
            key: def.key.clone(),
            description: def.description.clone(),
            enabled: config.enabled,
            rollout_percentage: u8::try_from(percent).ok()?,
            targeted_users,
        })
    }

    /// Writes this legacy view into an existing legacy-representable flag,
    /// keeping everything the legacy shape does not cover (tags, names,
    /// versions, timestamps). Fails with `not_legacy_representable` otherwise.
    pub fn apply_to(&self, flag: &mut EnvironmentFlag) -> Result<(), ValidationError> {
        self.check()?;
        if !flag.is_legacy_representable() {
            return Err(ValidationError::new(
                "",
                ValidationErrorKind::NotLegacyRepresentable,
            ));
        }
        flag.flag.key = self.key.clone();
        flag.flag.description = self.description.clone();
        flag.config.enabled = self.enabled;
        flag.config.default_serve = Serve::Rollout(self.rollout());
        match flag.config.targets.first_mut() {
            Some(target) => target.values = self.targeted_users.clone(),
            None if self.targeted_users.is_empty() => {}
            None => flag.config.targets = self.targets(),
        }
        Ok(())
    }
}

impl EnvironmentFlag {
    /// Whether the legacy API and SDK can represent this flag exactly.
    pub fn is_legacy_representable(&self) -> bool {
        LegacyFlag::from_environment_flag(self).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy(percent: u8, users: &[&str]) -> LegacyFlag {
        LegacyFlag {
            key: FlagKey::parse("new-checkout-flow").unwrap(),
            description: "new checkout".into(),
            enabled: true,
            rollout_percentage: percent,
            targeted_users: users.iter().map(|u| u.to_string()).collect(),
        }
    }

    #[test]
    fn round_trips_through_the_full_model() {
        for flag in [
            legacy(0, &[]),
            legacy(37, &["a", "b", "a"]),
            legacy(100, &["émilie"]),
        ] {
            let full = flag.to_environment_flag().unwrap();
            assert!(full.is_legacy_representable());
            assert_eq!(LegacyFlag::from_environment_flag(&full), Some(flag));
        }
    }

    #[test]
    fn apply_keeps_metadata_the_legacy_shape_lacks() {
        let mut full = legacy(10, &[]).to_environment_flag().unwrap();
        full.flag.tags = vec!["checkout".into()];
        full.flag.variations[0].name = Some("On".into());
        let before = full.clone();
        LegacyFlag::from_environment_flag(&full)
            .unwrap()
            .apply_to(&mut full)
            .unwrap();
        assert_eq!(
            full, before,
            "writing back the same legacy view changes nothing"
        );

        let update = legacy(55, &["u1"]);
        update.apply_to(&mut full).unwrap();
        assert_eq!(LegacyFlag::from_environment_flag(&full), Some(update));
        assert_eq!(full.flag.tags, vec!["checkout".to_string()]);
    }

    #[test]
    fn anything_beyond_the_legacy_form_is_not_representable() {
        let base = legacy(50, &["u1"]).to_environment_flag().unwrap();

        let mut with_rule = base.clone();
        with_rule.config.rules.push(crate::model::Rule {
            id: None,
            description: String::new(),
            clauses: vec![],
            serve: Serve::Variation(variation_key(true)),
        });
        let mut with_false_target = base.clone();
        with_false_target.config.targets.push(Target {
            variation: variation_key(false),
            values: vec!["u2".into()],
        });
        let mut with_v2 = base.clone();
        if let Serve::Rollout(r) = &mut with_v2.config.default_serve {
            r.bucketing = Bucketing::V2;
        }
        let mut with_fixed_default = base.clone();
        with_fixed_default.config.default_serve = Serve::Variation(variation_key(true));
        let mut with_prerequisite = base.clone();
        with_prerequisite
            .config
            .prerequisites
            .push(crate::model::Prerequisite {
                flag: FlagKey::parse("other").unwrap(),
                variation: variation_key(true),
            });
        let mut string_kind = base.clone();
        string_kind.flag.kind = FlagKind::String;

        for (name, flag) in [
            ("rule", with_rule),
            ("false target", with_false_target),
            ("v2 rollout", with_v2),
            ("fixed default", with_fixed_default),
            ("prerequisite", with_prerequisite),
            ("string kind", string_kind),
        ] {
            assert!(!flag.is_legacy_representable(), "{name}");
            let err = legacy(1, &[]).apply_to(&mut flag.clone()).unwrap_err();
            assert_eq!(err.code(), "not_legacy_representable");
        }
    }

    #[test]
    fn percentages_above_100_are_rejected_with_the_field() {
        let err = legacy(101, &[]).to_environment_flag().unwrap_err();
        assert_eq!(err.path, "rollout_percentage");
        assert_eq!(err.code(), "invalid_percentage");
    }
}
