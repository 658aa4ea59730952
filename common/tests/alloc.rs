//! Proves that evaluating a flag allocates nothing: a counting global
//! allocator counts this thread's allocations around single evaluations of
//! every kind of flag (legacy rollout, v2 rollout, ten rules with regex,
//! semver, date and segment clauses, prerequisites, targets, disabled) and
//! around all 200 flags of the shared fixture.
#![allow(unsafe_code)] // a GlobalAlloc impl is unsafe by definition

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use halyard_common::{Context, Snapshot, SnapshotData};
use serde_json::json;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn engine_snapshot() -> Snapshot {
    let data = json!({
        "environment": "production", "epoch": "e1", "revision": 7,
        "segments": [{"key": "beta", "included": ["u-in"], "excluded": ["u-out"],
                      "rules": [{"clauses": [{"attribute": "email", "operator": "ends_with", "values": ["@beta.example"]}]}]}],
        "flags": [
            {"flag": {"key": "legacy", "kind": "boolean", "variations": [{"key": "true", "value": true}, {"key": "false", "value": false}]},
             "config": {"enabled": true, "off_variation": "false", "targets": [{"variation": "true", "values": ["a", "b"]}],
                        "default": {"rollout": {"bucketing": "v1", "weights": [{"variation": "true", "weight": 50}, {"variation": "false", "weight": 50}]}}}},
            {"flag": {"key": "off", "kind": "boolean", "variations": [{"key": "true", "value": true}, {"key": "false", "value": false}]},
             "config": {"enabled": false, "off_variation": "false", "default": {"variation": "true"}}},
            {"flag": {"key": "ten-rules", "kind": "string", "variations": [{"key": "a", "value": "A"}, {"key": "b", "value": "B"}, {"key": "c", "value": "C"}]},
             "config": {"enabled": true, "off_variation": "a", "prerequisites": [{"flag": "legacy", "variation": "true"}],
               "rules": [
                 {"clauses": [{"attribute": "email", "operator": "matches", "values": ["^[a-z]+@corp\\.example$"]}], "serve": {"variation": "b"}},
                 {"clauses": [{"attribute": "appVersion", "operator": "semver_lt", "values": ["1.0.0-rc.1"]}], "serve": {"variation": "b"}},
                 {"clauses": [{"operator": "in_segment", "values": ["beta"]}], "serve": {"variation": "b"}},
                 {"clauses": [{"attribute": "/company/plan", "operator": "in", "values": ["enterprise", "gold"]}], "serve": {"variation": "b"}},
                 {"clauses": [{"attribute": "signup", "operator": "date_before", "values": ["2020-01-01T00:00:00Z"]}], "serve": {"variation": "b"}},
                 {"clauses": [{"attribute": "age", "operator": "number_gt", "values": [99]}], "serve": {"variation": "b"}},
                 {"clauses": [{"attribute": "country", "operator": "starts_with", "values": ["X"]}], "serve": {"variation": "b"}},
                 {"clauses": [{"attribute": "tags", "operator": "contains", "values": ["zzz"]}], "serve": {"variation": "b"}},
                 {"clauses": [{"attribute": "missing", "operator": "exists", "negate": true},
                              {"attribute": "appVersion", "operator": "semver_gte", "values": ["2.0.0"]}],
                  "serve": {"rollout": {"weights": [{"variation": "a", "weight": 30000}, {"variation": "c", "weight": 70000}]}}},
                 {"clauses": [{"attribute": "email", "operator": "matches", "values": ["example\\.(com|org)$"]}], "serve": {"variation": "c"}}
               ],
               "default": {"variation": "a"}}}
        ]
    });
    Snapshot::build(serde_json::from_value::<SnapshotData>(data).unwrap()).unwrap()
}

#[test]
fn the_counter_sees_allocations() {
    let n = allocations_during(|| {
        std::hint::black_box(Box::new(std::hint::black_box(42u64)));
    });
    assert!(n >= 1, "the counting allocator must count, saw {n}");
}

#[test]
fn single_evaluations_allocate_nothing() {
    let snap = engine_snapshot();
    let contexts: Vec<Context> = [
        json!({"targetingKey": "user-1", "email": "someone@example.com", "appVersion": "2.3.1",
               "company": {"plan": "free"}, "signup": "2023-05-01T10:00:00+02:00", "age": 30,
               "country": "FR", "tags": ["a", "b"]}),
        json!({"targetingKey": "a"}),
        json!({"targetingKey": "u-in", "email": "x@beta.example"}),
        json!({"email": "anonymous@example.com"}),
        json!({"targetingKey": "émilie 🚀", "appVersion": "0.9.0"}),
    ]
    .into_iter()
    .map(|c| Context::from_json(c).unwrap())
    .collect();

    // Warm up lazily initialised matcher caches (the regex crate keeps a
    // per-thread cache after the first search).
    for ctx in &contexts {
        for key in ["legacy", "off", "ten-rules", "missing-flag"] {
            std::hint::black_box(snap.evaluate(key, ctx));
        }
    }
    for ctx in &contexts {
        for key in ["legacy", "off", "ten-rules", "missing-flag"] {
            let n = allocations_during(|| {
                std::hint::black_box(snap.evaluate(key, ctx));
            });
            assert_eq!(
                n,
                0,
                "evaluating {key} for {:?} allocated {n} times",
                ctx.targeting_key()
            );
        }
    }
    // The ten-rule flag really ran its rules (not a short-circuit).
    let result = snap.evaluate("ten-rules", &contexts[0]);
    assert!(
        result.variation.is_some() && result.error_code().is_none(),
        "{result:?}"
    );
}

#[test]
fn evaluating_the_whole_fixture_allocates_nothing() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../benches/fixtures/environment-200.json");
    let text = std::fs::read_to_string(&path).expect("the shared fixture exists");
    let snap = Snapshot::build(serde_json::from_str(&text).unwrap()).unwrap();
    let ctx = Context::from_json(
        json!({"targetingKey": "user-123", "email": "jo@example.com", "country": "DE",
        "appVersion": "3.2.0", "plan": "pro"}),
    )
    .unwrap();
    let mut served = 0usize;
    for (_, result) in snap.evaluate_all(&ctx) {
        served += usize::from(result.variation.is_some());
    }
    let n = allocations_during(|| {
        for (_, result) in snap.evaluate_all(&ctx) {
            std::hint::black_box(result);
        }
    });
    assert_eq!(snap.flag_count(), 200);
    assert!(
        served > 150,
        "most fixture flags serve a value, got {served}"
    );
    assert_eq!(n, 0, "evaluating all 200 flags allocated {n} times");
}
