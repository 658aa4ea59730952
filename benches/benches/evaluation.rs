//! Evaluation engine benchmarks (`cargo bench -p halyard-benches`).
//!
//! Each group has a baseline measured in the same run so figures can be
//! reported as ratios: a bare FNV-1a bucket computation for single flags,
//! and plain `serde_json` parsing for snapshot building.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use halyard_benches::{fixture, fixture_json, scaled, typical_context};
use halyard_common::hashing::bucket_v1;
use halyard_common::{Applied, Change, ChangeMessage, Snapshot, SnapshotData};
use time::OffsetDateTime;

fn single_flag(c: &mut Criterion) {
    let snap = Snapshot::build(fixture()).expect("fixture builds");
    let ctx = typical_context();
    let mut group = c.benchmark_group("evaluate one flag");
    group.bench_function("baseline: v1 bucket of flagKey:userId only", |b| {
        b.iter(|| bucket_v1(black_box("bench-legacy-rollout"), black_box("user-48213")))
    });
    group.bench_function("disabled flag", |b| {
        b.iter(|| black_box(snap.evaluate(black_box("bench-disabled"), &ctx)))
    });
    group.bench_function("legacy rollout flag", |b| {
        b.iter(|| black_box(snap.evaluate(black_box("bench-legacy-rollout"), &ctx)))
    });
    group.bench_function(
        "ten-rule flag with regex, semver and segment clauses",
        |b| b.iter(|| black_box(snap.evaluate(black_box("bench-ten-rules"), &ctx))),
    );
    group.finish();

    let mut group = c.benchmark_group("evaluate all flags");
    group.bench_function("all 200 fixture flags for one context", |b| {
        b.iter(|| {
            for result in snap.evaluate_all(&ctx) {
                black_box(result);
            }
        })
    });
    group.finish();
}

fn snapshots(c: &mut Criterion) {
    let ten_thousand = scaled(10_000);
    let ten_thousand_json = serde_json::to_string(&ten_thousand).expect("serializes");
    let mut group = c.benchmark_group("snapshot");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("baseline: parse 10,000-flag snapshot JSON", |b| {
        b.iter(|| black_box(serde_json::from_str::<SnapshotData>(&ten_thousand_json).unwrap()))
    });
    group.bench_function("parse and build a 10,000-flag snapshot", |b| {
        b.iter(|| {
            black_box(Snapshot::build(serde_json::from_str(&ten_thousand_json).unwrap()).unwrap())
        })
    });
    group.bench_function("build a 10,000-flag snapshot from parsed data", |b| {
        b.iter_batched(
            || ten_thousand.clone(),
            |data| black_box(Snapshot::build(data).unwrap()),
            BatchSize::LargeInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("apply one change message");
    for (name, data) in [("200 flags", fixture()), ("10,000 flags", ten_thousand)] {
        let snap = Snapshot::build(data).expect("builds");
        let mut flag = snap
            .flag("bench-ten-rules")
            .or_else(|| snap.flags().next())
            .unwrap()
            .source()
            .clone();
        flag.config.enabled = !flag.config.enabled;
        let message = ChangeMessage {
            environment: snap.environment().clone(),
            epoch: snap.epoch().clone(),
            revision: snap.revision() + 1,
            base_revision: snap.revision(),
            committed_at: OffsetDateTime::UNIX_EPOCH,
            changes: vec![Change::FlagUpserted { flag }],
        };
        group.bench_function(format!("flag upsert into {name}"), |b| {
            b.iter(|| match snap.apply(black_box(&message)).unwrap() {
                Applied::Updated(next) => black_box(next),
                other => panic!("unexpected {other:?}"),
            })
        });
    }
    group.finish();
    black_box(fixture_json());
}

criterion_group!(benches, single_flag, snapshots);
criterion_main!(benches);
