//! Every invalid configuration is rejected with the path of the offending
//! field and a code distinct per cause.

use halyard_common::eval::environment::{check_environment, flags_requiring, flags_using_segment};
use halyard_common::model::{EnvironmentFlag, Segment};
use halyard_common::{Snapshot, SnapshotData, ValidationError};
use serde_json::{Value, json};
use test_case::test_case;

fn boolean_flag(key: &str, config: Value) -> Value {
    json!({"flag": {"key": key, "kind": "boolean",
                    "variations": [{"key": "true", "value": true}, {"key": "false", "value": false}]},
           "config": config})
}

fn config_with_rule(clause: Value) -> Value {
    json!({"enabled": true, "off_variation": "false", "default": {"variation": "false"},
           "rules": [{"clauses": [{"attribute": "email", "operator": "in", "values": ["x"]}], "serve": {"variation": "true"}},
                     {"clauses": [{"attribute": "plan", "operator": "exists"}], "serve": {"variation": "true"}},
                     {"clauses": [{"attribute": "country", "operator": "in", "values": ["FR"]}, clause], "serve": {"variation": "true"}}]})
}

fn compile(flag: Value) -> Result<(), ValidationError> {
    let flag: EnvironmentFlag =
        serde_json::from_value(flag).expect("shape is valid JSON for the model");
    halyard_common::eval::CompiledFlag::compile(flag).map(drop)
}

#[test_case(json!({"attribute": "email", "operator": "matches", "values": ["ok", "(unclosed"]}), "config.rules[2].clauses[1].values[1]", "invalid_regex"; "bad regex")]
#[test_case(json!({"attribute": "email", "operator": "matches", "values": ["(?i)abc"]}), "config.rules[2].clauses[1].values[0]", "non_portable_regex"; "non portable regex")]
#[test_case(json!({"attribute": "email", "operator": "matches", "values": ["a(?=b)"]}), "config.rules[2].clauses[1].values[0]", "invalid_regex"; "lookaround")]
#[test_case(json!({"attribute": "v", "operator": "semver_gt", "values": ["1.2"]}), "config.rules[2].clauses[1].values[0]", "invalid_semver"; "bad semver")]
#[test_case(json!({"attribute": "v", "operator": "semver_gt", "values": ["v1.2.3"]}), "config.rules[2].clauses[1].values[0]", "invalid_semver"; "semver with v prefix")]
#[test_case(json!({"attribute": "age", "operator": "number_gt", "values": ["18"]}), "config.rules[2].clauses[1].values[0]", "type_mismatch"; "number operator with a string")]
#[test_case(json!({"attribute": "d", "operator": "date_before", "values": ["2024-01-01"]}), "config.rules[2].clauses[1].values[0]", "invalid_date"; "date without time")]
#[test_case(json!({"attribute": "email", "operator": "ends_with", "values": [3]}), "config.rules[2].clauses[1].values[0]", "type_mismatch"; "string operator with a number")]
#[test_case(json!({"attribute": "email", "operator": "in", "values": [{"a": 1}]}), "config.rules[2].clauses[1].values[0]", "type_mismatch"; "in with an object")]
#[test_case(json!({"attribute": "email", "operator": "in", "values": []}), "config.rules[2].clauses[1].values", "empty_values"; "no values")]
#[test_case(json!({"attribute": "email", "operator": "exists", "values": [1]}), "config.rules[2].clauses[1].values", "unexpected_values"; "exists with values")]
#[test_case(json!({"attribute": "/bad~2", "operator": "exists"}), "config.rules[2].clauses[1].attribute", "invalid_attribute"; "bad pointer")]
#[test_case(json!({"operator": "in", "values": ["x"]}), "config.rules[2].clauses[1].attribute", "invalid_value"; "missing attribute")]
#[test_case(json!({"operator": "in_segment", "values": ["bad key"]}), "config.rules[2].clauses[1].values[0]", "invalid_key"; "bad segment key")]
fn clause_errors_name_the_field(clause: Value, path: &str, code: &str) {
    let err = compile(boolean_flag("f", config_with_rule(clause))).unwrap_err();
    assert_eq!((err.path.as_str(), err.code()), (path, code), "{err}");
    assert!(
        err.to_string().starts_with(path),
        "the message names the field: {err}"
    );
}

#[test]
fn weights_must_sum_to_the_version_total() {
    let config = json!({"enabled": true, "off_variation": "false",
        "default": {"rollout": {"weights": [{"variation": "true", "weight": 50}, {"variation": "false", "weight": 50}]}}});
    let err = compile(boolean_flag("f", config)).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("config.default.rollout.weights", "invalid_weights")
    );
    assert!(err.to_string().contains("100000"), "{err}");

    let config = json!({"enabled": true, "off_variation": "false",
        "default": {"rollout": {"bucketing": "v1", "weights": [{"variation": "true", "weight": 60}, {"variation": "false", "weight": 50}]}}});
    let err = compile(boolean_flag("f", config)).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("config.default.rollout.weights", "invalid_weights")
    );
}

#[test]
fn unknown_variations_are_rejected_wherever_referenced() {
    let cases = [
        (
            json!({"enabled": true, "off_variation": "maybe", "default": {"variation": "true"}}),
            "config.off_variation",
        ),
        (
            json!({"enabled": true, "off_variation": "false", "default": {"variation": "maybe"}}),
            "config.default.variation",
        ),
        (
            json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"},
                "targets": [{"variation": "true", "values": []}, {"variation": "maybe", "values": ["u"]}]}),
            "config.targets[1].variation",
        ),
        (
            json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"},
                "rules": [{"clauses": [], "serve": {"rollout": {"weights": [{"variation": "true", "weight": 1}, {"variation": "maybe", "weight": 99999}]}}}]}),
            "config.rules[0].serve.rollout.weights[1].variation",
        ),
    ];
    for (config, path) in cases {
        let err = compile(boolean_flag("f", config)).unwrap_err();
        assert_eq!(
            (err.path.as_str(), err.code()),
            (path, "unknown_variation"),
            "{err}"
        );
    }
}

#[test]
fn variations_must_fit_the_kind() {
    let flag = json!({"flag": {"key": "f", "kind": "number", "variations": [{"key": "a", "value": 1}, {"key": "b", "value": "2"}]},
                      "config": {"enabled": true, "off_variation": "a", "default": {"variation": "a"}}});
    let err = compile(flag).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("flag.variations[1].value", "type_mismatch")
    );

    let flag = json!({"flag": {"key": "f", "kind": "string", "variations": [{"key": "a", "value": "x"}, {"key": "a", "value": "y"}]},
                      "config": {"enabled": true, "off_variation": "a", "default": {"variation": "a"}}});
    let err = compile(flag).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("flag.variations[1].key", "duplicate_key")
    );

    let flag = json!({"flag": {"key": "f", "kind": "boolean", "variations": [{"key": "on", "value": true}, {"key": "off", "value": false}]},
                      "config": {"enabled": true, "off_variation": "off", "default": {"variation": "on"}}});
    let err = compile(flag).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("flag.variations", "invalid_variations")
    );
}

#[test]
fn salt_needs_v2() {
    let config = json!({"enabled": true, "off_variation": "false",
        "default": {"rollout": {"bucketing": "v1", "salt": "s", "weights": [{"variation": "true", "weight": 100}]}}});
    let err = compile(boolean_flag("f", config)).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("config.default.rollout.salt", "invalid_rollout")
    );
}

fn prerequisite(key: &str, on: &str) -> EnvironmentFlag {
    serde_json::from_value(boolean_flag(
        key,
        json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"},
        "prerequisites": [{"flag": on, "variation": "true"}]}),
    ))
    .unwrap()
}

#[test]
fn prerequisite_cycles_are_rejected_with_the_cycle() {
    let err = compile(boolean_flag(
        "self",
        json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"},
        "prerequisites": [{"flag": "self", "variation": "true"}]}),
    ))
    .unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("config.prerequisites[0].flag", "prerequisite_cycle")
    );

    let flags = vec![
        prerequisite("a", "b"),
        prerequisite("b", "c"),
        prerequisite("c", "a"),
    ];
    let err = check_environment(&flags, &[]).unwrap_err();
    assert_eq!(err.code(), "prerequisite_cycle");
    assert!(
        err.path.starts_with("flags[0].config.prerequisites"),
        "{}",
        err.path
    );
    assert!(err.to_string().contains("a -> b -> c -> a"), "{err}");
}

#[test]
fn deep_chains_and_dangling_references_are_rejected() {
    let depth = halyard_common::eval::MAX_PREREQUISITE_DEPTH;
    let mut flags: Vec<EnvironmentFlag> = (0..=depth)
        .map(|i| prerequisite(&format!("f{i}"), &format!("f{}", i + 1)))
        .collect();
    flags.push(
        serde_json::from_value(boolean_flag(
            &format!("f{}", depth + 1),
            json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"}}),
        ))
        .unwrap(),
    );
    let err = check_environment(&flags, &[]).unwrap_err();
    assert_eq!(err.code(), "prerequisite_too_deep", "{err}");
    assert!(
        check_environment(&flags[2..], &[]).is_ok(),
        "a chain of exactly the limit is fine"
    );

    let err = check_environment(&[prerequisite("a", "ghost")], &[]).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("flags[0].config.prerequisites[0].flag", "unknown_flag")
    );

    let mut wrong_variation = prerequisite("a", "b");
    wrong_variation.config.prerequisites[0].variation =
        "maybe".parse::<String>().unwrap().try_into().unwrap();
    let b: EnvironmentFlag = serde_json::from_value(boolean_flag(
        "b",
        json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"}}),
    ))
    .unwrap();
    let err = check_environment(&[wrong_variation, b], &[]).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        (
            "flags[0].config.prerequisites[0].variation",
            "unknown_variation"
        )
    );

    let uses_segment: EnvironmentFlag = serde_json::from_value(boolean_flag(
        "s",
        config_with_rule(json!({"operator": "in_segment", "values": ["beta"]})),
    ))
    .unwrap();
    let err = check_environment(std::slice::from_ref(&uses_segment), &[]).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        (
            "flags[0].config.rules[2].clauses[1].values[0]",
            "unknown_segment"
        )
    );
    let beta: Segment = serde_json::from_value(json!({"key": "beta"})).unwrap();
    assert!(check_environment(std::slice::from_ref(&uses_segment), &[beta]).is_ok());
    assert_eq!(
        flags_using_segment(std::slice::from_ref(&uses_segment), "beta"),
        vec!["s"]
    );
    assert_eq!(flags_requiring(&flags, "f3"), vec!["f2"]);
}

#[test]
fn segments_cannot_nest_segments() {
    let data: SnapshotData = serde_json::from_value(json!({"environment": "e", "epoch": "x", "revision": 1,
        "segments": [{"key": "a", "rules": [{"clauses": [{"operator": "in_segment", "values": ["b"]}]}]}]}))
    .unwrap();
    let err = Snapshot::build(data).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("segments[0].rules[0].clauses[0].operator", "nested_segment")
    );
}

#[test]
fn snapshots_reject_duplicates_and_report_the_flag_index() {
    let flag = boolean_flag(
        "dup",
        json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"}}),
    );
    let data: SnapshotData = serde_json::from_value(
        json!({"environment": "e", "epoch": "x", "revision": 1, "flags": [flag.clone(), flag]}),
    )
    .unwrap();
    let err = Snapshot::build(data).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("flags[1].flag.key", "duplicate_key")
    );

    let bad = boolean_flag(
        "bad",
        json!({"enabled": true, "off_variation": "nope", "default": {"variation": "true"}}),
    );
    let data: SnapshotData = serde_json::from_value(
        json!({"environment": "e", "epoch": "x", "revision": 1, "flags": [bad]}),
    )
    .unwrap();
    assert_eq!(
        Snapshot::build(data).unwrap_err().path,
        "flags[0].config.off_variation"
    );
}

#[test]
fn structural_errors_carry_paths_too() {
    let err = ValidationError::parse_json::<EnvironmentFlag>(
        r#"{"flag": {"key": "f", "kind": "boolean", "variations": []}, "config": {"enabled": "yes"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("config.enabled", "invalid_value")
    );
}

#[test]
fn every_legacy_key_stays_valid() {
    // The legacy system accepted ^[a-zA-Z0-9-]{1,64}$.
    for key in ["a", "A-1", "-", "new-checkout-flow", &"z".repeat(64)] {
        let flag = boolean_flag(
            key,
            json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"}}),
        );
        assert!(compile(flag).is_ok(), "{key}");
    }
}

#[test]
fn a_save_that_lengthens_another_flags_chain_past_the_limit_is_rejected() {
    let depth = halyard_common::eval::MAX_PREREQUISITE_DEPTH;
    // f1 -> f2 -> ... -> f{depth}: exactly the limit.
    let mut flags: Vec<EnvironmentFlag> = (1..depth)
        .map(|i| prerequisite(&format!("f{i}"), &format!("f{}", i + 1)))
        .collect();
    let last: EnvironmentFlag = serde_json::from_value(boolean_flag(
        &format!("f{depth}"),
        json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"}}),
    ))
    .unwrap();
    flags.push(last);
    assert!(check_environment(&flags, &[]).is_ok());

    // Saving the bottom flag with one more prerequisite makes f1's chain too long,
    // even though the saved flag's own chain is short.
    let extra: EnvironmentFlag = serde_json::from_value(boolean_flag(
        "extra",
        json!({"enabled": true, "off_variation": "false", "default": {"variation": "true"}}),
    ))
    .unwrap();
    flags.push(extra);
    let bottom = prerequisite(&format!("f{depth}"), "extra");
    let err = halyard_common::eval::environment::check_flag(&bottom, &flags, &[]).unwrap_err();
    assert_eq!(err.code(), "prerequisite_too_deep", "{err}");
}

#[test]
fn key_hashes_are_checked() {
    let data: SnapshotData =
        serde_json::from_value(json!({"environment": "e", "epoch": "x", "revision": 1,
        "keys": [{"id": "k1", "kind": "server", "sha256": "not-hex"}]}))
        .unwrap();
    let err = Snapshot::build(data).unwrap_err();
    assert_eq!(err.path, "keys[0].sha256");
}
