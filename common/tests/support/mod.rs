//! Helpers shared by the integration tests: vector files and small builders.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::PathBuf;

use serde_json::Value;

/// Reads `common/tests/vectors/<name>` as JSON, with a clear message when missing.
pub fn vector(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Collects failures and panics with all of them at once.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    pub fn finish(self, checked: usize, minimum: usize) {
        assert!(
            checked >= minimum,
            "only {checked} rows checked, expected at least {minimum}"
        );
        assert!(
            self.0.is_empty(),
            "{} of {checked} rows failed:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

use halyard_common::model::{
    Bucketing, EnvironmentFlag, Flag, FlagConfig, FlagKind, Rollout, Serve, Variation,
    WeightedVariation,
};
use halyard_common::{EnvironmentKey, Epoch, FlagKey, Snapshot, SnapshotData, VariationKey};

/// A string flag with variations `v0..vn` whose default is a rollout with `weights`.
pub fn rollout_flag(key: &str, bucketing: Bucketing, weights: &[u32]) -> EnvironmentFlag {
    let variation = |i: usize| VariationKey::parse(format!("v{i}")).unwrap();
    EnvironmentFlag {
        flag: Flag {
            id: None,
            key: FlagKey::parse(key).unwrap(),
            description: String::new(),
            kind: FlagKind::String,
            variations: (0..weights.len())
                .map(|i| Variation {
                    key: variation(i),
                    value: Value::String(format!("v{i}")),
                    name: None,
                })
                .collect(),
            tags: vec![],
            version: 0,
            created_at: None,
            updated_at: None,
        },
        config: FlagConfig {
            enabled: true,
            off_variation: variation(0),
            targets: vec![],
            rules: vec![],
            default_serve: Serve::Rollout(Rollout {
                bucketing,
                bucket_by: None,
                salt: None,
                weights: weights
                    .iter()
                    .enumerate()
                    .map(|(i, &weight)| WeightedVariation {
                        variation: variation(i),
                        weight,
                    })
                    .collect(),
            }),
            prerequisites: vec![],
            version: 0,
        },
    }
}

/// A snapshot of `flags` at revision 1.
pub fn snapshot(flags: Vec<EnvironmentFlag>) -> Snapshot {
    Snapshot::build(SnapshotData {
        environment: EnvironmentKey::parse("test").unwrap(),
        epoch: Epoch::parse("e1").unwrap(),
        revision: 1,
        flags,
        segments: vec![],
        keys: vec![],
    })
    .expect("test snapshot builds")
}
