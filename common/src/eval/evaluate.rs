//! The evaluation order (`docs/evaluation.md`, "Evaluation order").
//!
//! 1. disabled -> off variation (`DISABLED`);
//! 2. prerequisites in order: each must exist, be enabled and evaluate to the
//!    required variation, else off variation (`PREREQUISITE_FAILED`); a
//!    prerequisite whose own evaluation fails counts as unmet, except that
//!    exceeding [`MAX_PREREQUISITE_DEPTH`] fails the whole evaluation with
//!    `GENERAL`;
//! 3. individual targets (`TARGETING_MATCH`);
//! 4. rules in order, first match wins (`TARGETING_MATCH`);
//! 5. the default: a variation (`DEFAULT`) or a rollout (`SPLIT`).
//!
//! A step that compares or hashes the targeting key, reached while the
//! context has none, ends the evaluation with `TARGETING_KEY_MISSING`.
//! Nothing here allocates: results borrow from the compiled flag.

use serde_json::Value;

use super::compile::{
    CompiledClause, CompiledFlag, CompiledRollout, CompiledSegment, CompiledServe, Test,
};
use super::date;
use super::result::{ErrorCode, Evaluation, Match, Reason};
use super::semver::SemVer;
use crate::context::{AttributeRef, Context, Resolved};
use crate::hashing::{bucket_v1, bucket_v2};
use crate::model::Bucketing;

/// How deep prerequisite chains may go. Cycles are rejected when flags are
/// saved; this bound only guarantees that evaluation ends whatever it is given.
pub const MAX_PREREQUISITE_DEPTH: usize = 32;

/// Where evaluation finds the other flags (prerequisites) and the segments.
pub trait Lookup {
    /// The flag with this key.
    fn flag(&self, key: &str) -> Option<&CompiledFlag>;
    /// The segment with this key.
    fn segment(&self, key: &str) -> Option<&CompiledSegment>;
}

/// Evaluates `flag` for `context`.
pub fn evaluate_flag<'s, L: Lookup>(
    lookup: &'s L,
    flag: &'s CompiledFlag,
    context: &Context,
) -> Evaluation<'s> {
    evaluate_at(lookup, flag, context, 0)
}

fn evaluate_at<'s, L: Lookup>(
    lookup: &'s L,
    flag: &'s CompiledFlag,
    context: &Context,
    depth: usize,
) -> Evaluation<'s> {
    let variations = &flag.source.flag.variations;
    let serve_index = |index: usize, reason| Evaluation {
        variation: variations.get(index),
        reason,
    };
    let off = |reason| serve_index(flag.off, reason);
    let config = &flag.source.config;

    if !config.enabled {
        return off(Reason::Disabled);
    }

    for prerequisite in &config.prerequisites {
        // Only reachable through a cycle or an over-deep chain, which saving
        // rejects; the error propagates so it is not mistaken for an unmet
        // prerequisite.
        if depth >= MAX_PREREQUISITE_DEPTH {
            return Evaluation::error(ErrorCode::General);
        }
        let met = match lookup.flag(prerequisite.flag.as_str()) {
            None => false,
            Some(required) => {
                let result = evaluate_at(lookup, required, context, depth + 1);
                if result.error_code() == Some(ErrorCode::General) {
                    return result;
                }
                required.enabled()
                    && result.variation_key() == Some(prerequisite.variation.as_str())
            }
        };
        if !met {
            return off(Reason::PrerequisiteFailed {
                flag: &prerequisite.flag,
            });
        }
    }

    if !flag.targets.is_empty() {
        let Some(key) = context.targeting_key() else {
            return Evaluation::error(ErrorCode::TargetingKeyMissing);
        };
        if let Some(target) = flag.targets.iter().find(|t| t.keys.contains(key)) {
            return serve_index(target.variation, Reason::TargetingMatch(Match::Target));
        }
    }

    for (index, rule) in flag.rules.iter().enumerate() {
        match clauses_match(lookup, &rule.clauses, context) {
            Ok(false) => {}
            Ok(true) => {
                let id = config.rules[index].id.as_deref();
                let reason = Reason::TargetingMatch(Match::Rule { index, id });
                return match serve(flag, &rule.serve, context) {
                    Ok(i) => serve_index(i, reason),
                    Err(code) => Evaluation::error(code),
                };
            }
            Err(code) => return Evaluation::error(code),
        }
    }

    let reason = match flag.default {
        CompiledServe::Variation(_) => Reason::Default,
        CompiledServe::Rollout(_) => Reason::Split,
    };
    match serve(flag, &flag.default, context) {
        Ok(i) => serve_index(i, reason),
        Err(code) => Evaluation::error(code),
    }
}

fn serve(
    flag: &CompiledFlag,
    serve: &CompiledServe,
    context: &Context,
) -> Result<usize, ErrorCode> {
    match serve {
        CompiledServe::Variation(index) => Ok(*index),
        CompiledServe::Rollout(rollout) => rollout_variation(flag, rollout, context),
    }
}

fn rollout_variation(
    flag: &CompiledFlag,
    rollout: &CompiledRollout,
    context: &Context,
) -> Result<usize, ErrorCode> {
    let value = match rollout.bucket_by.resolve(context) {
        Some(resolved) => resolved.as_str().ok_or(ErrorCode::InvalidContext)?,
        None if rollout.bucket_by == AttributeRef::TargetingKey => {
            return Err(ErrorCode::TargetingKeyMissing);
        }
        None => return Err(ErrorCode::InvalidContext),
    };
    let bucket = match rollout.bucketing {
        Bucketing::V1 => bucket_v1(flag.key().as_str(), value),
        Bucketing::V2 => bucket_v2(&rollout.salt, value),
    };
    rollout
        .ranges
        .iter()
        .find(|(upper, _)| bucket < *upper)
        .map(|&(_, index)| index)
        .ok_or(ErrorCode::General)
}

fn clauses_match<L: Lookup>(
    lookup: &L,
    clauses: &[CompiledClause],
    context: &Context,
) -> Result<bool, ErrorCode> {
    for clause in clauses {
        if !clause_matches(lookup, clause, context)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn clause_matches<L: Lookup>(
    lookup: &L,
    clause: &CompiledClause,
    context: &Context,
) -> Result<bool, ErrorCode> {
    match &clause.test {
        Test::Exists => {
            let present = clause.attribute.resolve(context).is_some();
            return Ok(present != clause.negate);
        }
        Test::InSegment(keys) => {
            let mut matched = false;
            for key in keys.iter() {
                if let Some(segment) = lookup.segment(key.as_str())
                    && segment_matches(lookup, segment, context)?
                {
                    matched = true;
                    break;
                }
            }
            return Ok(matched != clause.negate);
        }
        _ => {}
    }
    let Some(resolved) = clause.attribute.resolve(context) else {
        return match clause.attribute {
            AttributeRef::TargetingKey => Err(ErrorCode::TargetingKeyMissing),
            _ => Ok(false),
        };
    };
    // Elements of the wrong type are skipped; with none of the right type the
    // clause is false whatever `negate` says.
    let mut applicable = false;
    let mut matched = false;
    let mut check = |element: Element<'_>| {
        if let Some(hit) = test_element(&clause.test, element) {
            applicable = true;
            matched |= hit;
        }
        matched
    };
    match resolved {
        Resolved::Str(s) => {
            check(Element::Str(s));
        }
        Resolved::Value(Value::Array(items)) => {
            for item in items {
                if check(Element::from_value(item)) {
                    break;
                }
            }
        }
        Resolved::Value(value) => {
            check(Element::from_value(value));
        }
    }
    Ok(applicable && matched != clause.negate)
}

fn segment_matches<L: Lookup>(
    lookup: &L,
    segment: &CompiledSegment,
    context: &Context,
) -> Result<bool, ErrorCode> {
    if !segment.included.is_empty() || !segment.excluded.is_empty() {
        let key = context
            .targeting_key()
            .ok_or(ErrorCode::TargetingKeyMissing)?;
        if segment.excluded.contains(key) {
            return Ok(false);
        }
        if segment.included.contains(key) {
            return Ok(true);
        }
    }
    for rule in segment.rules.iter() {
        if clauses_match(lookup, rule, context)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One scalar attribute value.
#[derive(Clone, Copy)]
enum Element<'c> {
    Str(&'c str),
    Number(f64),
    Bool(bool),
    /// Arrays inside arrays, objects: no operator applies.
    Other,
}

impl<'c> Element<'c> {
    fn from_value(value: &'c Value) -> Self {
        match value {
            Value::String(s) => Element::Str(s),
            Value::Number(n) => n.as_f64().map_or(Element::Other, Element::Number),
            Value::Bool(b) => Element::Bool(*b),
            _ => Element::Other,
        }
    }
}

/// `None`: the element's type does not fit the operator.
fn test_element(test: &Test, element: Element<'_>) -> Option<bool> {
    match (test, element) {
        (Test::In { strings, .. }, Element::Str(s)) => Some(strings.contains(s)),
        (Test::In { numbers, .. }, Element::Number(n)) => Some(numbers.contains(&n)),
        (
            Test::In {
                has_true,
                has_false,
                ..
            },
            Element::Bool(b),
        ) => Some(if b { *has_true } else { *has_false }),
        (Test::StartsWith(values), Element::Str(s)) => {
            Some(values.iter().any(|v| s.starts_with(&**v)))
        }
        (Test::EndsWith(values), Element::Str(s)) => Some(values.iter().any(|v| s.ends_with(&**v))),
        (Test::Contains(values), Element::Str(s)) => Some(values.iter().any(|v| s.contains(&**v))),
        (Test::Matches(patterns), Element::Str(s)) => Some(patterns.iter().any(|p| p.is_match(s))),
        (Test::Semver(cmp, versions), Element::Str(s)) => {
            let version = SemVer::parse(s)?;
            Some(
                versions
                    .iter()
                    .any(|v| cmp.holds(version.cmp_precedence(&v.as_semver()))),
            )
        }
        (Test::Number(cmp, numbers), Element::Number(n)) => {
            Some(numbers.iter().any(|v| cmp.holds_f64(n, *v)))
        }
        (Test::Date(cmp, dates), Element::Str(s)) => {
            let ms = date::date_ms_from_str(s)?;
            Some(dates.iter().any(|v| cmp.holds_f64(ms, *v)))
        }
        (Test::Date(cmp, dates), Element::Number(n)) => {
            let ms = date::date_ms_from_number(n)?;
            Some(dates.iter().any(|v| cmp.holds_f64(ms, *v)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    //! One table per operator: a matching value, a non-matching value, and a
    //! value of the wrong type (false whether negated or not).

    use serde_json::{Value, json};

    use crate::context::Context;
    use crate::model::EnvironmentFlag;
    use crate::snapshot::{Snapshot, SnapshotData};

    /// Whether a one-clause rule on attribute `a` matches `value`, plain and negated.
    fn clause(operator: &str, values: Value, value: Value) -> (bool, bool) {
        // in_segment always reads the targeting key; it takes no attribute.
        let attribute = if operator == "in_segment" {
            Value::Null
        } else {
            json!("a")
        };
        let run = |negate: bool| {
            let flag: EnvironmentFlag = serde_json::from_value(json!({
                "flag": {"key": "f", "kind": "boolean",
                         "variations": [{"key": "true", "value": true}, {"key": "false", "value": false}]},
                "config": {"enabled": true, "off_variation": "false", "default": {"variation": "false"},
                           "rules": [{"clauses": [{"attribute": attribute, "operator": operator, "values": values, "negate": negate}],
                                      "serve": {"variation": "true"}}]}
            }))
            .unwrap();
            let data: SnapshotData = serde_json::from_value(json!({
                "environment": "t", "epoch": "e", "revision": 1,
                "segments": [{"key": "s", "included": ["in"], "excluded": ["out"]}]
            }))
            .unwrap();
            let snap = Snapshot::build(SnapshotData {
                flags: vec![flag],
                ..data
            })
            .unwrap();
            let ctx = Context::from_json(
                json!({"targetingKey": value.as_str().unwrap_or("k"), "a": value}),
            )
            .unwrap();
            snap.evaluate("f", &ctx).value() == Some(&Value::Bool(true))
        };
        (run(false), run(true))
    }

    const MATCH: (bool, bool) = (true, false);
    const MISS: (bool, bool) = (false, true);
    const WRONG_TYPE: (bool, bool) = (false, false);

    #[test]
    fn in_is_type_strict() {
        assert_eq!(clause("in", json!(["a", 1, true]), json!("a")), MATCH);
        assert_eq!(clause("in", json!(["a", 1, true]), json!(1.0)), MATCH);
        assert_eq!(clause("in", json!(["a", 1, true]), json!(true)), MATCH);
        assert_eq!(clause("in", json!(["a", 1, true]), json!("1")), MISS);
        assert_eq!(clause("in", json!(["a", 1, true]), json!(false)), MISS);
        assert_eq!(clause("in", json!(["a"]), json!({"a": 1})), WRONG_TYPE);
        assert_eq!(
            clause("in", json!(["a"]), json!(["x", "a"])),
            MATCH,
            "any array element"
        );
    }

    #[test]
    fn string_operators() {
        assert_eq!(clause("starts_with", json!(["ab"]), json!("abc")), MATCH);
        assert_eq!(
            clause("starts_with", json!(["AB"]), json!("abc")),
            MISS,
            "case-sensitive"
        );
        assert_eq!(clause("starts_with", json!(["ab"]), json!(12)), WRONG_TYPE);
        assert_eq!(
            clause("ends_with", json!(["@x.io"]), json!("a@x.io")),
            MATCH
        );
        assert_eq!(clause("ends_with", json!(["@x.io"]), json!("a@y.io")), MISS);
        assert_eq!(clause("ends_with", json!(["x"]), json!(true)), WRONG_TYPE);
        assert_eq!(clause("contains", json!(["🚀"]), json!("go 🚀 now")), MATCH);
        assert_eq!(clause("contains", json!(["z"]), json!("abc")), MISS);
        assert_eq!(clause("contains", json!(["1"]), json!(1)), WRONG_TYPE);
        assert_eq!(clause("matches", json!(["^é.$"]), json!("é🚀")), MATCH);
        assert_eq!(
            clause("matches", json!(["^\\d+$"]), json!("١٢٣")),
            MISS,
            "\\d is ASCII"
        );
        assert_eq!(clause("matches", json!(["."]), json!(5)), WRONG_TYPE);
    }

    #[test]
    fn semver_operators() {
        assert_eq!(
            clause("semver_eq", json!(["1.2.3"]), json!("1.2.3+build")),
            MATCH
        );
        assert_eq!(
            clause("semver_lt", json!(["1.0.0"]), json!("1.0.0-rc.1")),
            MATCH
        );
        assert_eq!(clause("semver_lte", json!(["1.0.0"]), json!("1.0.1")), MISS);
        assert_eq!(
            clause("semver_gt", json!(["1.9.0"]), json!("1.10.0")),
            MATCH
        );
        assert_eq!(
            clause("semver_gte", json!(["2.0.0"]), json!("2.0.0")),
            MATCH
        );
        assert_eq!(
            clause("semver_gt", json!(["1.0.0"]), json!("v2.0.0")),
            WRONG_TYPE,
            "not semver"
        );
        assert_eq!(clause("semver_gt", json!(["1.0.0"]), json!(2)), WRONG_TYPE);
    }

    #[test]
    fn number_operators() {
        assert_eq!(clause("number_eq", json!([1]), json!(1.0)), MATCH);
        assert_eq!(clause("number_lt", json!([18]), json!(17.5)), MATCH);
        assert_eq!(clause("number_lte", json!([18]), json!(18)), MATCH);
        assert_eq!(clause("number_gt", json!([18]), json!(18)), MISS);
        assert_eq!(clause("number_gte", json!([-1]), json!(-1)), MATCH);
        assert_eq!(clause("number_gt", json!([1]), json!("5")), WRONG_TYPE);
    }

    #[test]
    fn date_operators() {
        let cutoff = json!(["2024-01-01T00:00:00Z"]);
        assert_eq!(
            clause(
                "date_before",
                cutoff.clone(),
                json!("2023-12-31T23:59:59.999Z")
            ),
            MATCH
        );
        assert_eq!(
            clause(
                "date_before",
                cutoff.clone(),
                json!("2024-01-01T01:00:00+01:00")
            ),
            MISS,
            "same instant"
        );
        assert_eq!(
            clause("date_after", cutoff.clone(), json!(1_704_067_200_001_i64)),
            MATCH,
            "epoch ms"
        );
        assert_eq!(
            clause("date_after", cutoff.clone(), json!("2024-01-01")),
            WRONG_TYPE
        );
        assert_eq!(clause("date_after", cutoff, json!(true)), WRONG_TYPE);
    }

    #[test]
    fn exists_and_segments() {
        assert_eq!(clause("exists", json!([]), json!(0)), MATCH);
        assert_eq!(
            clause("exists", json!([]), Value::Null),
            MISS,
            "null is absent"
        );
        assert_eq!(clause("in_segment", json!(["s"]), json!("in")), MATCH);
        assert_eq!(clause("in_segment", json!(["s"]), json!("out")), MISS);
        assert_eq!(clause("in_segment", json!(["s"]), json!("other")), MISS);
    }
}
