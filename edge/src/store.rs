//! The edge's state: one immutable [`EdgeEnvironment`] per environment and
//! an index of SDK key hashes, swapped whole on every change.
//!
//! Only the sync task writes; request handlers read a consistent view with a
//! single atomic load and never block. Everything a response needs that does
//! not depend on the request (the configuration bodies, their ETags) is
//! built once per revision here, never per request.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use arc_swap::ArcSwap;
use bytes::Bytes;
use halyard_common::model::LegacyFlag;
use halyard_common::{KeyEntry, Snapshot};
use serde::Serialize;
use serde_json::Value;

use crate::stream::{EnvironmentStream, Streams};

/// One environment as the edge serves it.
#[derive(Debug)]
pub struct EdgeEnvironment {
    /// The compiled snapshot.
    pub snapshot: Snapshot,
    /// `{"flags": [...]}` of the legacy-representable flags (legacy SDKs).
    pub legacy_body: Bytes,
    /// The full configuration for SDKs: the snapshot without key hashes.
    pub full_body: Bytes,
    /// The v2 stream's `put` frame of this revision.
    pub put_frame: Bytes,
    /// When this revision was installed.
    pub installed_at: Instant,
}

#[derive(Serialize)]
struct LegacyClientFlag<'a> {
    id: Option<&'a str>,
    key: &'a str,
    description: &'a str,
    enabled: bool,
    rollout_percentage: u8,
    targeted_users: &'a [String],
}

impl EdgeEnvironment {
    /// Builds the served form of `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        let data = snapshot.to_data();
        let legacy: Vec<(LegacyFlag, Option<&str>)> = data
            .flags
            .iter()
            .filter_map(|f| LegacyFlag::from_environment_flag(f).map(|l| (l, f.flag.id.as_deref())))
            .collect();
        let flags: Vec<LegacyClientFlag<'_>> = legacy
            .iter()
            .map(|(l, id)| LegacyClientFlag {
                id: *id,
                key: l.key.as_str(),
                description: &l.description,
                enabled: l.enabled,
                rollout_percentage: l.rollout_percentage,
                targeted_users: &l.targeted_users,
            })
            .collect();
        let legacy_body =
            serde_json::to_vec(&serde_json::json!({ "flags": flags })).expect("serializes");
        let full_body = serde_json::to_vec(&data.clone().without_keys()).expect("serializes");
        let put_frame = crate::stream::put_frame(snapshot.revision(), &full_body);
        Self {
            snapshot,
            legacy_body: legacy_body.into(),
            full_body: full_body.into(),
            put_frame,
            installed_at: Instant::now(),
        }
    }

    /// The entity tag of this revision's bodies in `dialect`.
    pub fn etag(&self, dialect: &str) -> String {
        format!(
            "\"{}-{}-{dialect}\"",
            self.snapshot.epoch(),
            self.snapshot.revision()
        )
    }
}

/// An SDK key the edge knows, with its environment.
#[derive(Debug, Clone)]
pub struct KnownKey {
    /// The environment it belongs to.
    pub environment: String,
    /// Its entry (kind, expiry).
    pub entry: KeyEntry,
}

impl KnownKey {
    /// Whether the key is accepted now (not past its expiry or rotation grace).
    pub fn is_active(&self) -> bool {
        self.entry
            .expires_at
            .is_none_or(|at| time::OffsetDateTime::now_utc() < at)
    }
}

#[derive(Debug, Default)]
struct State {
    environments: HashMap<String, Arc<EdgeEnvironment>>,
    keys: HashMap<String, Arc<KnownKey>>,
}

impl State {
    fn with(&self, change: impl FnOnce(&mut HashMap<String, Arc<EdgeEnvironment>>)) -> Self {
        let mut environments = self.environments.clone();
        change(&mut environments);
        let keys = environments
            .iter()
            .flat_map(|(env, e)| {
                e.snapshot.keys().iter().map(|k| {
                    (
                        k.sha256.clone(),
                        Arc::new(KnownKey {
                            environment: env.clone(),
                            entry: k.clone(),
                        }),
                    )
                })
            })
            .collect();
        Self { environments, keys }
    }
}

/// Every environment the edge holds.
#[derive(Debug, Default)]
pub struct EdgeStore {
    state: ArcSwap<State>,
    ready: AtomicBool,
    streams: Streams,
}

impl EdgeStore {
    /// An empty, not-ready store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs (or replaces) an environment's snapshot.
    pub fn install(&self, snapshot: Snapshot) {
        let key = snapshot.environment().to_string();
        let environment = Arc::new(EdgeEnvironment::new(snapshot));
        let next = self.state.load().with(|envs| {
            envs.insert(key, environment);
        });
        self.state.store(Arc::new(next));
    }

    /// Drops an environment.
    pub fn remove(&self, environment: &str) {
        let next = self.state.load().with(|envs| {
            envs.remove(environment);
        });
        self.state.store(Arc::new(next));
    }

    /// Keeps only the environments in `keep`.
    pub fn retain(&self, keep: &[String]) {
        let next = self
            .state
            .load()
            .with(|envs| envs.retain(|k, _| keep.contains(k)));
        self.state.store(Arc::new(next));
    }

    /// One environment.
    pub fn get(&self, environment: &str) -> Option<Arc<EdgeEnvironment>> {
        self.state.load().environments.get(environment).cloned()
    }

    /// The keys of every environment held.
    pub fn environments(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.state.load().environments.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The SDK key with this SHA-256, if any environment has it (shared,
    /// so authenticating a request copies no strings).
    pub fn key(&self, sha256: &str) -> Option<Arc<KnownKey>> {
        self.state.load().keys.get(sha256).cloned()
    }

    /// The change stream of `environment`.
    pub fn stream(&self, environment: &str) -> Arc<EnvironmentStream> {
        self.streams.get(environment)
    }

    /// Marks the first full load done.
    pub fn mark_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Whether every environment has been loaded once.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Revision per environment (for headers and metrics).
    pub fn revisions(&self) -> Value {
        let state = self.state.load();
        state
            .environments
            .iter()
            .map(|(k, e)| (k.clone(), Value::from(e.snapshot.revision())))
            .collect()
    }
}
