//! Shared inputs for Halyard's benchmarks: the committed 200-flag fixture
//! environment (also used by the edge load run) and scaled-up copies of it;
//! and the pieces the load runs (`edge-load`, `cluster-load`) share: the
//! HTTP load generator ([`load`]), the SSE decoder ([`event_stream`]) and
//! process figures from `/proc` ([`proc_stats`]).

pub mod event_stream;
pub mod load;
pub mod proc_stats;

use std::path::PathBuf;

use halyard_common::{Context, FlagKey, SnapshotData};

/// Path of the committed fixture, `benches/fixtures/environment-200.json`.
pub fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/environment-200.json")
}

/// The fixture's JSON text.
pub fn fixture_json() -> String {
    let path = fixture_path();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The fixture as snapshot data.
pub fn fixture() -> SnapshotData {
    serde_json::from_str(&fixture_json()).expect("the fixture is valid snapshot JSON")
}

/// An environment of `n` flags: copies of the fixture's flags under new keys
/// (prerequisites point into the same copy, so every copy stays valid).
pub fn scaled(n: usize) -> SnapshotData {
    let base = fixture();
    let mut data = SnapshotData {
        flags: Vec::with_capacity(n),
        ..base.clone()
    };
    for copy in 0.. {
        for flag in &base.flags {
            if data.flags.len() == n {
                return data;
            }
            let mut flag = flag.clone();
            let rename =
                |key: &FlagKey| FlagKey::parse(format!("{key}-c{copy}")).expect("valid key");
            flag.flag.key = rename(&flag.flag.key);
            for prerequisite in &mut flag.config.prerequisites {
                prerequisite.flag = rename(&prerequisite.flag);
            }
            data.flags.push(flag);
        }
    }
    unreachable!("the loop returns once n flags exist")
}

/// The context the benches evaluate for: a signed-in user with typical
/// attributes (`fixtures/typical-context.json`, shared with the fixture test).
pub fn typical_context() -> Context {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/typical-context.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Context::from_json(serde_json::from_str(&text).expect("valid JSON")).expect("valid context")
}
