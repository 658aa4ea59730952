//! Bucketing: the legacy rows, the v1/v2 vectors, and the distribution
//! properties that make v2 worth having. Prints the measured figures that
//! `docs/evaluation.md` quotes (`cargo test -p halyard-common --test bucketing -- --nocapture`).

#![allow(clippy::print_stdout)] // printing the measured figures is this file's purpose

mod support;

use halyard_common::hashing::{bucket_v1, bucket_v2, fnv1a32, murmur3_32};
use halyard_common::model::{Bucketing, LegacyFlag};
use halyard_common::{Context, FlagKey, Snapshot};
use support::{Failures, rollout_flag, snapshot, vector};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_legacy_row_reproduces_through_hash_and_engine() {
    let doc = vector("rollout_buckets.json");
    let mut failures = Failures::default();
    let mut checked = 0;
    for row in doc["cases"].as_array().unwrap() {
        let key = row["flag_key"].as_str().unwrap();
        let user = row["user_id"].as_str().unwrap();
        let bucket = row["bucket"].as_u64().unwrap() as u32;
        checked += 1;
        let input = format!("{key}:{user}");
        failures.check(
            hex(input.as_bytes()) == row["input_utf8_hex"].as_str().unwrap(),
            || format!("{input:?}: utf-8 bytes"),
        );
        failures.check(
            u64::from(fnv1a32(&[input.as_bytes()])) == row["fnv1a32"].as_u64().unwrap(),
            || format!("{input:?}: hash"),
        );
        failures.check(bucket_v1(key, user) == bucket, || {
            format!("{input:?}: bucket")
        });

        // Through the engine: a legacy flag is on exactly when bucket < P.
        for percent in [
            0u8,
            1,
            50,
            99,
            100,
            bucket as u8,
            (bucket + 1).min(100) as u8,
        ] {
            let legacy = LegacyFlag {
                key: FlagKey::parse(key).unwrap(),
                description: String::new(),
                enabled: true,
                rollout_percentage: percent,
                targeted_users: vec![],
            };
            let snap = snapshot(vec![legacy.to_environment_flag().unwrap()]);
            let on = snap.evaluate(key, &Context::with_key(user)).value()
                == Some(&serde_json::Value::Bool(true));
            failures.check(on == (bucket < u32::from(percent)), || {
                format!("{input:?} at {percent}%: got {on}")
            });
        }
    }
    failures.finish(checked, 20);
}

#[test]
fn bucketing_vectors() {
    let doc = vector("bucketing.json");
    let mut failures = Failures::default();
    let mut checked = 0;
    for row in doc["cases"].as_array().unwrap() {
        let key = row["key"].as_str().unwrap();
        let value = row["value"].as_str().unwrap();
        let (hash, bucket) = match row["version"].as_str().unwrap() {
            "v1" => (
                fnv1a32(&[key.as_bytes(), b":", value.as_bytes()]),
                bucket_v1(key, value),
            ),
            _ => (
                murmur3_32(&[key.as_bytes(), b":", value.as_bytes()]),
                bucket_v2(key, value),
            ),
        };
        checked += 1;
        failures.check(u64::from(hash) == row["hash"].as_u64().unwrap(), || {
            format!("{row}: hash {hash}")
        });
        failures.check(u64::from(bucket) == row["bucket"].as_u64().unwrap(), || {
            format!("{row}: bucket {bucket}")
        });
    }
    failures.finish(checked, 100);
}

const USERS: usize = 100_000;

fn variation_index(snap: &Snapshot, flag: &str, user: &str) -> usize {
    let evaluation = snap.evaluate(flag, &Context::with_key(user));
    evaluation.variation_key().expect("rollouts always serve")[1..]
        .parse()
        .unwrap()
}

struct Figures {
    overlap_points: f64,
    share_deviation_points: f64,
}

/// Two unrelated flags with 50/50 splits over `user-0..user-99999`: how many
/// users land in the first half of both, and how far each share is from 50%.
fn fifty_fifty_figures(bucketing: Bucketing, a: &str, b: &str) -> Figures {
    let half = bucketing.total_weight() / 2;
    let snap = snapshot(vec![
        rollout_flag(a, bucketing, &[half, half]),
        rollout_flag(b, bucketing, &[half, half]),
    ]);
    let (mut in_a, mut in_b, mut both) = (0usize, 0usize, 0usize);
    for i in 0..USERS {
        let user = format!("user-{i}");
        let first_a = variation_index(&snap, a, &user) == 0;
        let first_b = variation_index(&snap, b, &user) == 0;
        in_a += usize::from(first_a);
        in_b += usize::from(first_b);
        both += usize::from(first_a && first_b);
    }
    let pct = |n: usize| n as f64 * 100.0 / USERS as f64;
    Figures {
        overlap_points: pct(both),
        share_deviation_points: (pct(in_a) - 50.0).abs().max((pct(in_b) - 50.0).abs()),
    }
}

/// Natural key pairs; the last two are where v1 is worst (29.4% and 12.6%).
const PAIRS: [(&str, &str); 5] = [
    ("checkout-redesign", "search-ranking"),
    ("new-checkout-flow", "dark-mode"),
    ("flag-a", "flag-b"),
    ("checkout-redesign", "flag-c"),
    ("flag-c", "exp-2"),
];

#[test]
fn v2_assigns_unrelated_flags_independently() {
    for (a, b) in PAIRS {
        let v2 = fifty_fifty_figures(Bucketing::V2, a, b);
        let v1 = fifty_fifty_figures(Bucketing::V1, a, b);
        println!(
            "{a} x {b} over {USERS} sequential ids: overlap v2 {:.2}% (share off by {:.2}), v1 {:.2}% (share off by {:.2})",
            v2.overlap_points,
            v2.share_deviation_points,
            v1.overlap_points,
            v1.share_deviation_points
        );
        assert!(
            (v2.overlap_points - 25.0).abs() <= 0.5,
            "v2 overlap {:.3}% for {a} x {b}",
            v2.overlap_points
        );
        assert!(
            v2.share_deviation_points <= 0.5,
            "v2 share off by {:.3} points",
            v2.share_deviation_points
        );
    }
}

#[test]
fn v2_shares_follow_weights() {
    let weights = [10_000, 25_000, 5_000, 60_000];
    let snap = snapshot(vec![rollout_flag(
        "pricing-experiment",
        Bucketing::V2,
        &weights,
    )]);
    let mut counts = [0usize; 4];
    for i in 0..USERS {
        counts[variation_index(&snap, "pricing-experiment", &format!("user-{i}"))] += 1;
    }
    for (count, weight) in counts.iter().zip(weights) {
        let share = *count as f64 * 100.0 / USERS as f64;
        let expected = f64::from(weight) / 1_000.0;
        println!("v2 weight {expected:.1}%: measured {share:.2}%");
        assert!(
            (share - expected).abs() <= 0.5,
            "weight {expected}% measured {share}%"
        );
    }
}
