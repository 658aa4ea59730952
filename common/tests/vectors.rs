//! Golden evaluation vectors: `tests/vectors/evaluation.json`.
//!
//! Each suite is one environment (its flags and segments, built into a
//! snapshot); each case evaluates one flag for one context and compares the
//! result's JSON form with `expected`. The expected results were worked out
//! by hand from the documented semantics, never dumped from this engine, and
//! the TypeScript SDK runs the same file. Every failing case is reported, not
//! just the first.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use halyard_common::model::{EnvironmentFlag, FlagKind, Segment};
use halyard_common::{
    Context, EnvironmentKey, Epoch, ErrorCode, Evaluation, Snapshot, SnapshotData,
};
use serde::Deserialize;
use serde_json::Value;

/// Guards against an emptied or truncated vector file passing vacuously.
const MIN_CASES: usize = 150;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    #[allow(dead_code)] // documentation for humans
    description: String,
    suites: Vec<Suite>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Suite {
    name: String,
    #[serde(default)]
    flags: Vec<EnvironmentFlag>,
    #[serde(default)]
    segments: Vec<Segment>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    flag: String,
    context: Value,
    /// Evaluate with `evaluate_as` for this kind.
    #[serde(default)]
    expect_kind: Option<FlagKind>,
    expected: Value,
    /// Why the case expects what it expects (informational).
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

fn load() -> VectorFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/evaluation.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is malformed: {e}", path.display()))
}

fn build(suite: &Suite) -> Result<Snapshot, String> {
    let data = SnapshotData {
        environment: EnvironmentKey::parse("vectors").expect("valid environment key"),
        epoch: Epoch::parse("e1").expect("valid epoch"),
        revision: 1,
        flags: suite.flags.clone(),
        segments: suite.segments.clone(),
        keys: Vec::new(),
    };
    Snapshot::build(data).map_err(|e| e.to_string())
}

/// What the case's caller gets, in JSON form.
fn evaluate(snapshot: &Snapshot, case: &Case) -> Value {
    let result = match Context::from_json(case.context.clone()) {
        Err(_) => Evaluation::error(ErrorCode::InvalidContext),
        Ok(context) => match case.expect_kind {
            Some(kind) => snapshot.evaluate_as(&case.flag, &context, kind),
            None => snapshot.evaluate(&case.flag, &context),
        },
    };
    serde_json::to_value(result).expect("an evaluation serializes")
}

#[test]
fn evaluation_vectors() {
    let file = load();
    let total: usize = file.suites.iter().map(|s| s.cases.len()).sum();
    assert!(
        total >= MIN_CASES,
        "only {total} cases in evaluation.json, expected at least {MIN_CASES}"
    );

    let mut failures = String::new();
    let mut failed = 0usize;
    let mut suite_names = HashSet::new();
    for suite in &file.suites {
        if !suite_names.insert(suite.name.as_str()) {
            failed += 1;
            let _ = writeln!(failures, "suite {:?} appears twice", suite.name);
        }
        if suite.cases.is_empty() {
            failed += 1;
            let _ = writeln!(failures, "suite {:?} has no cases", suite.name);
        }
        let snapshot = match build(suite) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                failed += suite.cases.len();
                let _ = writeln!(
                    failures,
                    "suite {:?}: snapshot does not build ({error}); its {} cases were not run",
                    suite.name,
                    suite.cases.len()
                );
                continue;
            }
        };
        let mut case_names = HashSet::new();
        for case in &suite.cases {
            if !case_names.insert(case.name.as_str()) {
                failed += 1;
                let _ = writeln!(
                    failures,
                    "suite {:?}: case name {:?} appears twice",
                    suite.name, case.name
                );
            }
            let actual = evaluate(&snapshot, case);
            if actual != case.expected {
                failed += 1;
                let _ = writeln!(
                    failures,
                    "suite {:?}, case {:?}\n  flag:     {}\n  context:  {}{}\n  expected: {}\n  actual:   {}",
                    suite.name,
                    case.name,
                    case.flag,
                    case.context,
                    case.expect_kind
                        .map(|k| format!("\n  as kind:  {}", k.as_str()))
                        .unwrap_or_default(),
                    case.expected,
                    actual
                );
            }
        }
    }
    assert!(
        failed == 0,
        "{failed} of {total} evaluation vectors failed:\n\n{failures}"
    );
}
