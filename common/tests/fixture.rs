//! The shared 200-flag fixture, `benches/fixtures/environment-200.json`
//! (written by `benches/fixtures/generate_environment.py`): it builds, passes
//! the environment checks, has the mix of shapes the benches and the edge load
//! run assume, and evaluates every flag without an error for contexts that
//! carry what the flags need.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use halyard_common::eval::environment::check_environment;
use halyard_common::model::{Bucketing, EnvironmentFlag, FlagKind, LegacyFlag, Operator, Serve};
use halyard_common::{Context, ErrorCode, Evaluation, Reason, ReasonKind, Snapshot, SnapshotData};
use serde_json::{Value, json};

const FLAG_COUNT: usize = 200;
const LEGACY_COUNT: usize = 20;

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../benches/fixtures/environment-200.json")
}

fn fixture_json() -> Value {
    let path = fixture_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn fixture() -> SnapshotData {
    serde_json::from_value(fixture_json()).expect("the fixture is snapshot JSON")
}

fn snapshot() -> Snapshot {
    Snapshot::build(fixture()).unwrap_or_else(|e| panic!("the fixture does not build: {e}"))
}

fn context(value: Value) -> Context {
    Context::from_json(value).expect("a valid context")
}

/// The context the benches evaluate for (`benches/fixtures/typical-context.json`).
fn typical_context() -> Context {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../benches/fixtures/typical-context.json");
    let text = std::fs::read_to_string(&path).expect("the typical context fixture exists");
    context(serde_json::from_str(&text).expect("valid JSON"))
}

/// Contexts that carry every attribute the fixture's rules and rollouts use.
fn complete_contexts() -> Vec<(&'static str, Context)> {
    vec![
        ("typical", typical_context()),
        (
            "staff on iOS",
            context(json!({
                "targetingKey": "user-1001",
                "email": "ana@halyard.dev",
                "country": "NL",
                "plan": "enterprise",
                "platform": "ios",
                "appVersion": "4.0.0-rc.1",
                "userAgent": "Mozilla/5.0 (iPhone; CPU OS 17_4 like Mac OS X) Mobile/15E148",
                "company": {"id": "halyard", "plan": "enterprise", "size": 1200},
                "orgId": "org-halyard",
                "signup": "2020-11-02T10:00:00+01:00",
                "lastSeen": 1717243200000_i64,
                "age": 41,
                "beta": true,
                "tags": ["beta-program", "internal"]
            })),
        ),
        (
            "free user on Android, legacy key field",
            context(json!({
                "userId": "user-77310",
                "email": "qa.tester+qa@acme.io",
                "country": "BR",
                "plan": "free",
                "platform": "android",
                "appVersion": "2.9.4",
                "userAgent": "okhttp/4.12.0",
                "company": {"id": "acme", "plan": "free", "size": 3},
                "orgId": "org-acme",
                "signup": "2024-05-30T23:59:59Z",
                "lastSeen": 1672531200000_i64,
                "age": 17,
                "beta": false,
                "tags": []
            })),
        ),
        (
            "business user on the web",
            context(json!({
                "targetingKey": "qa-5150",
                "email": "m.dupont@example.fr",
                "country": "FR",
                "plan": "business",
                "platform": "web",
                "appVersion": "3.5.0-beta.2",
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0 Safari/537.36",
                "company": {"id": "globex", "plan": "business", "size": 480},
                "orgId": "org-globex",
                "signup": "2022-06-15T12:00:00+02:00",
                "lastSeen": "2024-01-02T03:04:05Z",
                "age": 65,
                "tags": ["vip", "mobile"]
            })),
        ),
    ]
}

fn flag<'a>(data: &'a SnapshotData, key: &str) -> &'a EnvironmentFlag {
    data.flags
        .iter()
        .find(|f| f.flag.key.as_str() == key)
        .unwrap_or_else(|| panic!("the fixture has no flag {key}"))
}

fn describe(result: &Evaluation<'_>) -> String {
    serde_json::to_string(result).expect("serializes")
}

#[test]
fn fixture_builds_and_passes_the_environment_checks() {
    let data = fixture();
    assert_eq!(data.environment.as_str(), "production");
    assert_eq!(data.epoch.as_str(), "fixture");
    assert_eq!(data.revision, 1);
    assert_eq!(data.flags.len(), FLAG_COUNT);
    assert!(
        (8..=12).contains(&data.segments.len()),
        "about ten segments, got {}",
        data.segments.len()
    );
    check_environment(&data.flags, &data.segments)
        .unwrap_or_else(|e| panic!("the fixture fails the environment checks: {e}"));

    let snapshot = Snapshot::build(data).expect("builds");
    assert_eq!(snapshot.flag_count(), FLAG_COUNT, "flag keys are unique");
    // The file is in the form Snapshot::to_data writes (sorted, every field
    // as serde writes it), so consumers can diff it against real snapshots.
    assert_eq!(
        serde_json::to_value(snapshot.to_data()).expect("serializes"),
        fixture_json(),
        "environment-200.json is not in canonical snapshot form: rerun generate_environment.py"
    );
}

#[test]
fn fixture_has_a_realistic_mix() {
    let data = fixture();

    let mut kinds: HashMap<FlagKind, usize> = HashMap::new();
    for f in &data.flags {
        *kinds.entry(f.flag.kind).or_default() += 1;
    }
    assert!(kinds[&FlagKind::Boolean] > FLAG_COUNT / 2, "{kinds:?}");
    for kind in [FlagKind::String, FlagKind::Number, FlagKind::Json] {
        assert!(kinds.get(&kind).copied().unwrap_or(0) >= 5, "{kinds:?}");
    }

    // Legacy-form flags are exactly what LegacyFlag::to_environment_flag writes.
    let legacy: Vec<&EnvironmentFlag> = data
        .flags
        .iter()
        .filter(|f| f.is_legacy_representable())
        .collect();
    assert_eq!(legacy.len(), LEGACY_COUNT);
    for f in &legacy {
        let view = LegacyFlag::from_environment_flag(f).expect("representable");
        assert_eq!(
            &view.to_environment_flag().expect("valid legacy flag"),
            *f,
            "{} is not exactly the legacy form",
            f.flag.key
        );
    }

    // Every operator is used somewhere.
    let used: HashSet<Operator> = data
        .flags
        .iter()
        .flat_map(|f| &f.config.rules)
        .flat_map(|r| &r.clauses)
        .chain(
            data.segments
                .iter()
                .flat_map(|s| &s.rules)
                .flat_map(|r| &r.clauses),
        )
        .map(|c| c.operator)
        .collect();
    let all: HashSet<Operator> = "in starts_with ends_with contains matches semver_eq semver_lt \
        semver_lte semver_gt semver_gte number_eq number_lt number_lte number_gt number_gte \
        date_before date_after exists in_segment"
        .split_whitespace()
        .map(|op| serde_json::from_value(json!(op)).expect("an operator"))
        .collect();
    assert_eq!(all.len(), 19);
    let missing: Vec<_> = all.difference(&used).collect();
    assert!(missing.is_empty(), "operators never used: {missing:?}");

    let max_rules = data.flags.iter().map(|f| f.config.rules.len()).max();
    assert_eq!(max_rules, Some(10));
    assert!(data.flags.iter().filter(|f| !f.config.enabled).count() >= 5);
    assert!(
        data.flags
            .iter()
            .filter(|f| !f.flag.tags.is_empty())
            .count()
            >= 50
    );

    let target_sizes: Vec<usize> = data
        .flags
        .iter()
        .filter(|f| !f.config.targets.is_empty())
        .map(|f| f.config.targets.iter().map(|t| t.values.len()).sum())
        .collect();
    assert!(
        target_sizes.iter().any(|&n| (1..=5).contains(&n)),
        "{target_sizes:?}"
    );
    assert!(target_sizes.iter().any(|&n| n >= 200), "{target_sizes:?}");

    // v2 rollouts over 2, 3 and 4 variations.
    let v2_widths: HashSet<usize> = data
        .flags
        .iter()
        .flat_map(|f| {
            f.config
                .rules
                .iter()
                .map(|r| &r.serve)
                .chain([&f.config.default_serve])
        })
        .filter_map(|s| match s {
            Serve::Rollout(r) if r.bucketing == Bucketing::V2 => Some(r.weights.len()),
            _ => None,
        })
        .collect();
    for width in 2..=4 {
        assert!(
            v2_widths.contains(&width),
            "no v2 rollout over {width} variations"
        );
    }

    // Prerequisite chains: some at least three flags deep (no cycles: the
    // environment check above rejects them).
    let by_key: HashMap<&str, &EnvironmentFlag> = data
        .flags
        .iter()
        .map(|f| (f.flag.key.as_str(), f))
        .collect();
    fn depth(key: &str, by_key: &HashMap<&str, &EnvironmentFlag>) -> usize {
        1 + by_key[key]
            .config
            .prerequisites
            .iter()
            .map(|p| depth(p.flag.as_str(), by_key))
            .max()
            .unwrap_or(0)
    }
    let deepest = data
        .flags
        .iter()
        .map(|f| depth(f.flag.key.as_str(), &by_key))
        .max();
    assert!(
        deepest >= Some(3),
        "deepest prerequisite chain: {deepest:?}"
    );
}

#[test]
fn bench_flags_have_the_stated_shapes() {
    let data = fixture();
    let snapshot = snapshot();
    let typical = typical_context();

    // bench-ten-rules: ten rules of regex, SemVer and segment clauses.
    let ten = flag(&data, "bench-ten-rules");
    assert_eq!(ten.flag.kind, FlagKind::Boolean);
    assert!(ten.config.enabled);
    assert_eq!(ten.config.rules.len(), 10);
    let operators: Vec<Operator> = ten
        .config
        .rules
        .iter()
        .flat_map(|r| &r.clauses)
        .map(|c| c.operator)
        .collect();
    let semver = |op: &Operator| {
        matches!(
            op,
            Operator::SemverEq
                | Operator::SemverLt
                | Operator::SemverLte
                | Operator::SemverGt
                | Operator::SemverGte
        )
    };
    assert!(
        operators
            .iter()
            .all(|op| semver(op) || matches!(op, Operator::Matches | Operator::InSegment)),
        "{operators:?}"
    );
    assert!(operators.contains(&Operator::Matches));
    assert!(operators.contains(&Operator::InSegment));
    assert!(operators.iter().any(semver));
    let result = snapshot.evaluate("bench-ten-rules", &typical);
    assert!(
        matches!(
            result.reason,
            Reason::TargetingMatch(halyard_common::eval::Match::Rule { index: 9, .. })
        ),
        "the typical context should match the last rule: {}",
        describe(&result)
    );
    // ... and only the last one: each rule alone, with the same segments.
    for (i, rule) in ten.config.rules.iter().enumerate() {
        let mut single = ten.clone();
        single.config.rules = vec![rule.clone()];
        let alone = Snapshot::build(SnapshotData {
            flags: vec![single],
            ..data.clone()
        })
        .expect("builds");
        let kind = alone.evaluate("bench-ten-rules", &typical).reason.kind();
        let expected = if i == 9 {
            ReasonKind::TargetingMatch
        } else {
            ReasonKind::Default
        };
        assert_eq!(kind, expected, "rule {i} alone for the typical context");
    }

    // bench-legacy-rollout: the legacy form, 50 %, three targeted users.
    let legacy = flag(&data, "bench-legacy-rollout");
    assert!(legacy.is_legacy_representable());
    let view = LegacyFlag::from_environment_flag(legacy).expect("representable");
    assert!(view.enabled);
    assert_eq!(view.rollout_percentage, 50);
    assert_eq!(view.targeted_users.len(), 3);
    assert_eq!(&view.to_environment_flag().expect("valid"), legacy);
    for user in &view.targeted_users {
        let result = snapshot.evaluate("bench-legacy-rollout", &Context::with_key(user.as_str()));
        assert_eq!(
            result.reason,
            Reason::TargetingMatch(halyard_common::eval::Match::Target)
        );
    }
    assert_eq!(
        snapshot.evaluate("bench-legacy-rollout", &typical).reason,
        Reason::Split,
        "the typical user is not targeted"
    );

    // bench-disabled.
    assert!(!flag(&data, "bench-disabled").config.enabled);
    let result = snapshot.evaluate("bench-disabled", &typical);
    assert_eq!(result.reason, Reason::Disabled);
    assert_eq!(result.value(), Some(&json!(false)));
}

#[test]
fn every_flag_evaluates_without_errors_for_complete_contexts() {
    let snapshot = snapshot();
    for (name, ctx) in complete_contexts() {
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut errors = Vec::new();
        for (flag, result) in snapshot.evaluate_all(&ctx) {
            *reasons
                .entry(format!("{:?}", result.reason.kind()))
                .or_default() += 1;
            if result.error_code().is_some() {
                errors.push(format!("{}: {}", flag.key(), describe(&result)));
            }
            // Typed evaluation with the flag's own kind gives the same result.
            assert_eq!(
                snapshot.evaluate_as(flag.key().as_str(), &ctx, flag.kind()),
                result
            );
        }
        assert!(
            errors.is_empty(),
            "context {name:?}: errors\n{}",
            errors.join("\n")
        );
        assert!(
            reasons.len() >= 3,
            "context {name:?} exercises too few paths: {reasons:?}"
        );
    }
}

#[test]
fn missing_attributes_only_fail_the_flags_that_need_them() {
    let snapshot = snapshot();

    // Without a targeting key: only TARGETING_KEY_MISSING, and only for some flags.
    let anonymous = context(json!({
        "email": "jo.smith@example.com",
        "country": "DE",
        "plan": "pro",
        "appVersion": "3.2.0",
        "company": {"id": "acme", "plan": "pro", "size": 120},
        "orgId": "org-acme",
        "platform": "web"
    }));
    let mut missing_key = 0;
    for (flag, result) in snapshot.evaluate_all(&anonymous) {
        match result.error_code() {
            None => {}
            Some(ErrorCode::TargetingKeyMissing) => missing_key += 1,
            Some(code) => panic!(
                "{}: unexpected {code:?} for an anonymous context",
                flag.key()
            ),
        }
    }
    assert!(
        missing_key > 0 && missing_key < FLAG_COUNT,
        "{missing_key} flags need the key"
    );

    // Rollouts by orgId or /company/id sit behind rules that require the
    // attribute, so a keyed context without them has no errors at all.
    let minimal = Context::with_key("user-5");
    let errors: Vec<String> = snapshot
        .evaluate_all(&minimal)
        .filter(|(_, r)| r.error_code().is_some())
        .map(|(f, r)| format!("{}: {}", f.key(), describe(&r)))
        .collect();
    assert!(
        errors.is_empty(),
        "errors for a bare keyed context:\n{}",
        errors.join("\n")
    );
}
