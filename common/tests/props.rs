//! Property tests: determinism, weight-move stability, incremental apply ==
//! fresh build, protocol rejections, and no panics on arbitrary input.

mod support;

use halyard_common::model::{
    Bucketing, Clause, EnvironmentFlag, Operator, Rule, Segment, Serve, Target,
};
use halyard_common::{
    Applied, ApplyError, Change, ChangeMessage, Context, EnvironmentKey, Epoch, FlagKey, KeyEntry,
    KeyKind, SegmentKey, Snapshot, SnapshotData, VariationKey,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::{rollout_flag, snapshot};
use time::OffsetDateTime;

fn users() -> impl Iterator<Item = String> {
    (0..2_000).map(|i| format!("user-{i}"))
}

/// Weights over `n` variations summing to `total`.
fn weights(total: u32) -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0u32..=total, 1..5).prop_map(move |mut cuts| {
        cuts.push(0);
        cuts.push(total);
        cuts.sort_unstable();
        cuts.windows(2).map(|w| w[1] - w[0]).collect()
    })
}

fn assignments(flag: EnvironmentFlag) -> Vec<String> {
    let key = flag.flag.key.to_string();
    let snap = snapshot(vec![flag]);
    users()
        .map(|u| {
            snap.evaluate(&key, &Context::with_key(u))
                .variation_key()
                .unwrap()
                .to_owned()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn raising_one_weight_only_moves_users_from_the_next_variation(
        (bucketing, mut before) in prop_oneof![Just(Bucketing::V1), Just(Bucketing::V2)]
            .prop_flat_map(|b| (Just(b), weights(b.total_weight()))),
        seed in 0usize..1000,
        share in 0.0f64..=1.0,
        key in "[a-z][a-z0-9-]{0,20}",
    ) {
        if before.len() < 2 { before.push(0); }
        let i = seed % (before.len() - 1);
        let moved = (f64::from(before[i + 1]) * share) as u32;
        let mut after = before.clone();
        after[i] += moved;
        after[i + 1] -= moved;

        let old = assignments(rollout_flag(&key, bucketing, &before));
        let new = assignments(rollout_flag(&key, bucketing, &after));
        let (from, to) = (format!("v{}", i + 1), format!("v{i}"));
        for (o, n) in old.iter().zip(&new) {
            prop_assert!(o == n || (*o == from && *n == to), "{o} -> {n} when moving weight from {from} to {to}");
        }
    }

    #[test]
    fn evaluation_is_deterministic(v2 in any::<bool>(), w in weights(100), key in "[a-z]{1,12}", user in ".*") {
        let bucketing = if v2 { Bucketing::V2 } else { Bucketing::V1 };
        let w: Vec<u32> = if v2 { w.iter().map(|x| x * 1000).collect() } else { w };
        let flag = rollout_flag(&key, bucketing, &w);
        let a = snapshot(vec![flag.clone()]);
        let b = snapshot(vec![flag]);
        let ctx = Context::with_key(user);
        prop_assert_eq!(a.evaluate(&key, &ctx), a.evaluate(&key, &ctx));
        prop_assert_eq!(a.evaluate(&key, &ctx).variation_key(), b.evaluate(&key, &ctx).variation_key());
    }
}

// ---- apply == rebuild -------------------------------------------------------

const FLAG_KEYS: [&str; 5] = ["alpha", "beta", "gamma", "delta", "epsilon"];
const SEGMENT_KEYS: [&str; 3] = ["beta-users", "staff", "eu"];

fn a_flag() -> impl Strategy<Value = EnvironmentFlag> {
    (
        prop::sample::select(&FLAG_KEYS[..]),
        weights(100_000),
        any::<bool>(),
        prop::collection::vec("[a-c]{1,2}", 0..4),
        prop::option::of(prop::sample::select(&SEGMENT_KEYS[..])),
    )
        .prop_map(|(key, w, enabled, targeted, segment)| {
            let mut flag = rollout_flag(key, Bucketing::V2, &w);
            flag.config.enabled = enabled;
            flag.config.targets = vec![Target {
                variation: VariationKey::parse("v0").unwrap(),
                values: targeted,
            }];
            if let Some(segment) = segment {
                flag.config.rules.push(Rule {
                    id: Some("in-segment".into()),
                    description: String::new(),
                    clauses: vec![Clause {
                        attribute: None,
                        operator: Operator::InSegment,
                        values: vec![json!(segment)],
                        negate: false,
                    }],
                    serve: Serve::Variation(VariationKey::parse("v0").unwrap()),
                });
            }
            flag
        })
}

fn a_segment() -> impl Strategy<Value = Segment> {
    (
        prop::sample::select(&SEGMENT_KEYS[..]),
        prop::collection::vec("[a-c]{1,2}", 0..4),
        prop::collection::vec("[a-c]{1,2}", 0..2),
    )
        .prop_map(|(key, included, excluded)| Segment {
            key: SegmentKey::parse(key).unwrap(),
            description: String::new(),
            included,
            excluded,
            rules: vec![],
            version: 0,
            created_at: None,
            updated_at: None,
        })
}

fn a_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => a_flag().prop_map(|flag| Change::FlagUpserted { flag }),
        1 => prop::sample::select(&FLAG_KEYS[..]).prop_map(|k| Change::FlagDeleted { key: FlagKey::parse(k).unwrap() }),
        2 => a_segment().prop_map(|segment| Change::SegmentUpserted { segment }),
        1 => prop::sample::select(&SEGMENT_KEYS[..]).prop_map(|k| Change::SegmentDeleted { key: SegmentKey::parse(k).unwrap() }),
        1 => "[a-c]".prop_map(|id| Change::KeyUpserted { key: KeyEntry { id, kind: KeyKind::Server, sha256: "00".repeat(32), expires_at: None } }),
        1 => "[a-c]".prop_map(|id| Change::KeyDeleted { id }),
    ]
}

fn environment() -> EnvironmentKey {
    EnvironmentKey::parse("production").unwrap()
}

fn epoch() -> Epoch {
    Epoch::parse("epoch-1").unwrap()
}

/// What a store would hold after applying `changes` to `data` (the reference model).
fn reference_apply(data: &mut SnapshotData, changes: &[Change]) {
    for change in changes {
        match change {
            Change::FlagUpserted { flag } => {
                data.flags.retain(|f| f.flag.key != flag.flag.key);
                data.flags.push(flag.clone());
            }
            Change::FlagDeleted { key } => data.flags.retain(|f| f.flag.key != *key),
            Change::SegmentUpserted { segment } => {
                data.segments.retain(|s| s.key != segment.key);
                data.segments.push(segment.clone());
            }
            Change::SegmentDeleted { key } => data.segments.retain(|s| s.key != *key),
            Change::KeyUpserted { key } => {
                data.keys.retain(|k| k.id != key.id);
                data.keys.push(key.clone());
            }
            Change::KeyDeleted { id } => data.keys.retain(|k| k.id != *id),
            Change::EnvironmentCreated | Change::EnvironmentDeleted => {}
        }
    }
}

fn message(base: u64, changes: Vec<Change>) -> ChangeMessage {
    ChangeMessage {
        environment: environment(),
        epoch: epoch(),
        revision: base + 1,
        base_revision: base,
        committed_at: OffsetDateTime::UNIX_EPOCH,
        changes,
    }
}

fn contexts() -> Vec<Context> {
    ["a", "b", "c", "ab", "zz"]
        .into_iter()
        .map(Context::with_key)
        .chain([Context::anonymous()])
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn applying_messages_equals_a_fresh_build(batches in prop::collection::vec(prop::collection::vec(a_change(), 1..4), 1..8)) {
        let created = message(0, vec![Change::EnvironmentCreated]);
        let mut snap = Snapshot::from_created(&created).unwrap();
        let mut data = SnapshotData { environment: environment(), epoch: epoch(), revision: 1, flags: vec![], segments: vec![], keys: vec![] };
        for changes in batches {
            let msg = message(snap.revision(), changes);
            reference_apply(&mut data, &msg.changes);
            data.revision = msg.revision;
            snap = match snap.apply(&msg).unwrap() {
                Applied::Updated(next) => next,
                other => panic!("unexpected {other:?}"),
            };
            let fresh = Snapshot::build(data.clone()).unwrap();
            prop_assert_eq!(snap.to_data(), fresh.to_data());
            for ctx in contexts() {
                for key in FLAG_KEYS {
                    prop_assert_eq!(snap.evaluate(key, &ctx), fresh.evaluate(key, &ctx));
                }
            }
        }
    }

    #[test]
    fn out_of_order_messages_are_rejected_or_ignored(revision in 1u64..50, offset in -5i64..5, other_epoch in "[a-z]{1,8}") {
        let data = SnapshotData { environment: environment(), epoch: epoch(), revision, flags: vec![], segments: vec![], keys: vec![] };
        let snap = Snapshot::build(data).unwrap();
        let base = (revision as i64 + offset).max(0) as u64;
        let msg = message(base, vec![]);
        match snap.apply(&msg) {
            Ok(Applied::Updated(next)) => prop_assert!(base == revision && next.revision() == revision + 1),
            Ok(Applied::AlreadyHeld) => prop_assert!(base < revision),
            Err(ApplyError::BaseMismatch { snapshot, base: b }) => prop_assert!(b > revision && snapshot == revision),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
        let mut foreign = message(revision, vec![]);
        foreign.epoch = Epoch::parse(format!("other-{other_epoch}")).unwrap();
        let rejected = matches!(snap.apply(&foreign), Err(ApplyError::EpochMismatch { .. }));
        prop_assert!(rejected, "another epoch must be rejected");
        let mut skipping = message(revision, vec![]);
        skipping.revision = revision + 2;
        let rejected = matches!(snap.apply(&skipping), Err(ApplyError::Malformed(_)));
        prop_assert!(rejected, "revision must be base + 1");
    }
}

// ---- no panics on arbitrary input -------------------------------------------

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "1.2.3",
            "1.0.0-rc.1",
            "2024-01-01T00:00:00Z",
            "^a.*$",
            "(",
            "a{2,1}",
            "beta-users",
            "é🚀"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn operator() -> impl Strategy<Value = Operator> {
    use Operator as O;
    prop::sample::select(vec![
        O::In,
        O::StartsWith,
        O::EndsWith,
        O::Contains,
        O::Matches,
        O::SemverEq,
        O::SemverLt,
        O::SemverLte,
        O::SemverGt,
        O::SemverGte,
        O::NumberEq,
        O::NumberLt,
        O::NumberLte,
        O::NumberGt,
        O::NumberGte,
        O::DateBefore,
        O::DateAfter,
        O::Exists,
        O::InSegment,
    ])
}

fn clause() -> impl Strategy<Value = Clause> {
    (
        prop::option::of(prop::sample::select(vec![
            "targetingKey",
            "email",
            "/a/b",
            "/a/0",
            "a",
            "",
            "/~2",
            "tags",
        ])),
        operator(),
        prop::collection::vec(json_value(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(attribute, operator, values, negate)| Clause {
            attribute: attribute.map(str::to_owned),
            operator,
            values,
            negate,
        })
}

fn arbitrary_flag() -> impl Strategy<Value = EnvironmentFlag> {
    (
        weights(100_000),
        prop::collection::vec(prop::collection::vec(clause(), 0..3), 0..4),
        any::<bool>(),
        prop::option::of("[a-z/]{0,4}"),
    )
        .prop_map(|(w, rules, enabled, bucket_by)| {
            let mut flag = rollout_flag("arbitrary", Bucketing::V2, &w);
            flag.config.enabled = enabled;
            if let Serve::Rollout(r) = &mut flag.config.default_serve {
                r.bucket_by = bucket_by;
            }
            flag.config.rules = rules
                .into_iter()
                .map(|clauses| Rule {
                    id: None,
                    description: String::new(),
                    clauses,
                    serve: Serve::Variation(VariationKey::parse("v0").unwrap()),
                })
                .collect();
            flag
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_configs_and_contexts_never_panic(flag in arbitrary_flag(), segment_rules in prop::collection::vec(clause(), 0..3), ctx in json_value()) {
        let segment = Segment {
            key: SegmentKey::parse("beta-users").unwrap(),
            description: String::new(),
            included: vec!["a".into()],
            excluded: vec![],
            rules: vec![halyard_common::model::SegmentRule { id: None, clauses: segment_rules }],
            version: 0,
            created_at: None,
            updated_at: None,
        };
        let data = SnapshotData { environment: environment(), epoch: epoch(), revision: 1, flags: vec![flag], segments: vec![segment], keys: vec![] };
        if let Ok(snap) = Snapshot::build(data)
            && let Ok(ctx) = Context::from_json(ctx)
        {
            let result = snap.evaluate("arbitrary", &ctx);
            prop_assert_eq!(result.variation.is_none(), result.error_code().is_some());
        }
    }

    #[test]
    fn arbitrary_json_never_panics_the_parser(doc in json_value()) {
        let text = doc.to_string();
        if let Ok(flag) = serde_json::from_str::<EnvironmentFlag>(&text) {
            let _ = halyard_common::eval::CompiledFlag::compile(flag);
        }
        let _ = serde_json::from_str::<ChangeMessage>(&text);
    }
}
