//! The edge's state: one immutable [`EdgeEnvironment`] per environment and
//! an index of SDK key hashes, swapped whole on every change.
//!
//! Only the sync task writes; request handlers read a consistent view with a
//! single atomic load. Everything a response needs that does not depend on
//! the request (configuration bodies and their compressed forms, stream
//! resends) is built at most once per revision, by the first request that
//! needs it, never per request.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use axum::http::HeaderValue;
use bytes::Bytes;
use halyard_common::{KeyEntry, Snapshot};
use serde_json::Value;

use crate::encoded::EncodedBody;
use crate::frames;
use crate::metrics::FlagCounts;
use crate::stream::{EnvironmentStream, Streams};

/// Deleted flags remembered per environment, so that the legacy dialect's
/// full resend can tell a legacy SDK to drop them.
pub const TOMBSTONES: usize = 1024;

/// One environment as the edge serves it.
#[derive(Debug)]
pub struct EdgeEnvironment {
    /// The compiled snapshot.
    pub snapshot: Snapshot,
    /// Unique to this installed revision within the process (cache keys).
    pub generation: u64,
    /// The ETag of the legacy configuration body.
    pub legacy_etag: HeaderValue,
    /// The ETag of the full configuration body.
    pub full_etag: HeaderValue,
    /// Keys of flags deleted (most recent last, at most [`TOMBSTONES`]).
    pub tombstones: VecDeque<String>,
    /// When this revision was installed.
    pub installed_at: Instant,
    /// Evaluation counters per flag, sorted by flag key.
    flag_counts: Vec<(String, Arc<FlagCounts>)>,
    /// Built on first use: a burst of changes costs the sync task nothing
    /// per revision that no one asks for.
    bodies: OnceLock<Bodies>,
}

/// The serialized forms of one revision.
#[derive(Debug)]
pub struct Bodies {
    /// `{"flags": [...]}` of the legacy-representable flags (legacy SDKs).
    pub legacy_body: EncodedBody,
    /// The full configuration for SDKs: the snapshot without key hashes.
    pub full_body: EncodedBody,
    /// The v2 stream's `put` frame.
    pub put_frame: Bytes,
    /// The legacy stream's full resend.
    pub legacy_resend: Bytes,
}

impl EdgeEnvironment {
    /// Builds the served form of `snapshot`, remembering the flags deleted
    /// since `previous`.
    pub fn new(snapshot: Snapshot, previous: Option<&EdgeEnvironment>) -> Self {
        let mut tombstones = previous.map(|p| p.tombstones.clone()).unwrap_or_default();
        if let Some(previous) = previous {
            for flag in previous.snapshot.flags() {
                let key = flag.key().as_str();
                if snapshot.flag(key).is_none() {
                    tombstones.retain(|t| t != key);
                    tombstones.push_back(key.to_owned());
                }
            }
        }
        tombstones.retain(|t| snapshot.flag(t).is_none());
        while tombstones.len() > TOMBSTONES {
            tombstones.pop_front();
        }
        let mut flag_counts: Vec<(String, Arc<FlagCounts>)> = snapshot
            .flags()
            .map(|f| {
                let key = f.key().as_str();
                let previous = previous.and_then(|p| p.counts(key));
                (key.to_owned(), FlagCounts::for_flag(f.source(), previous))
            })
            .collect();
        flag_counts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        static GENERATIONS: AtomicU64 = AtomicU64::new(1);
        let version = frames::config_version(snapshot.epoch(), snapshot.revision());
        let etag = |format: &str| {
            HeaderValue::from_str(&format!("\"{version}-{format}\""))
                .expect("epochs are printable ASCII")
        };
        Self {
            legacy_etag: etag("legacy"),
            full_etag: etag("full"),
            snapshot,
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
            tombstones,
            installed_at: Instant::now(),
            flag_counts,
            bodies: OnceLock::new(),
        }
    }

    /// This revision's bodies and frames (built once, on first use).
    pub fn bodies(&self) -> &Bodies {
        self.bodies.get_or_init(|| {
            let data = self.snapshot.to_data();
            let revision = self.snapshot.revision();
            let legacy_body = frames::legacy_body(data.flags.iter());
            let legacy_resend = frames::legacy_resend(
                revision,
                data.flags.iter(),
                self.tombstones.iter().map(String::as_str),
            );
            let full_body = serde_json::to_vec(&data.without_keys()).expect("serializes");
            Bodies {
                legacy_body: EncodedBody::new(legacy_body),
                put_frame: frames::put_frame(revision, &full_body),
                full_body: EncodedBody::new(full_body.into()),
                legacy_resend,
            }
        })
    }

    /// Every flag's key and evaluation counters, sorted by key (the order
    /// of all-flags responses).
    pub fn sorted_flags(&self) -> impl ExactSizeIterator<Item = (&str, &Arc<FlagCounts>)> {
        self.flag_counts.iter().map(|(k, c)| (k.as_str(), c))
    }

    /// One flag's evaluation counters.
    pub fn counts(&self, flag: &str) -> Option<&Arc<FlagCounts>> {
        self.flag_counts
            .binary_search_by(|(k, _)| k.as_str().cmp(flag))
            .ok()
            .map(|i| &self.flag_counts[i].1)
    }

    /// The client event stream's notice of this revision.
    pub fn refetch_frame(&self) -> Bytes {
        frames::refetch_frame(self.snapshot.epoch(), self.snapshot.revision())
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
#[derive(Debug)]
pub struct EdgeStore {
    state: ArcSwap<State>,
    ready: AtomicBool,
    streams: Streams,
    /// When the store was created (the origin of `out_of_sync_since`).
    created: Instant,
    /// Since when (nanoseconds after `created`, plus 1) the edge has been
    /// out of touch with Redis; 0 while in sync. Atomic: read per request.
    out_of_sync_since: AtomicU64,
}

impl Default for EdgeStore {
    fn default() -> Self {
        Self::new()
    }
}

impl EdgeStore {
    /// An empty, not-ready store.
    pub fn new() -> Self {
        Self {
            state: ArcSwap::default(),
            ready: AtomicBool::new(false),
            streams: Streams::default(),
            created: Instant::now(),
            out_of_sync_since: AtomicU64::new(0),
        }
    }

    fn origin(&self) -> Instant {
        self.created
    }

    /// Installs (or replaces) an environment's snapshot.
    pub fn install(&self, snapshot: Snapshot) {
        let key = snapshot.environment().to_string();
        let previous = self.get(&key);
        let environment = Arc::new(EdgeEnvironment::new(snapshot, previous.as_deref()));
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

    /// The revision held of `environment`, if any.
    pub fn revision(&self, environment: &str) -> Option<u64> {
        self.get(environment).map(|e| e.snapshot.revision())
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

    /// Records that the edge is in sync (subscribed and loaded).
    pub fn mark_in_sync(&self) {
        self.out_of_sync_since.store(0, Ordering::Release);
    }

    /// Records that the edge lost its source (kept from the first loss).
    pub fn mark_out_of_sync(&self) {
        let now = u64::try_from(self.origin().elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1;
        let _ =
            self.out_of_sync_since
                .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
    }

    /// How long the edge has served possibly stale snapshots, if it is out
    /// of sync.
    pub fn stale_for(&self) -> Option<std::time::Duration> {
        match self.out_of_sync_since.load(Ordering::Acquire) {
            0 => None,
            since => Some(
                self.origin()
                    .elapsed()
                    .saturating_sub(std::time::Duration::from_nanos(since - 1)),
            ),
        }
    }

    /// Every environment held, sorted by key.
    pub fn all(&self) -> Vec<(String, Arc<EdgeEnvironment>)> {
        let mut all: Vec<_> = self
            .state
            .load()
            .environments
            .iter()
            .map(|(k, e)| (k.clone(), Arc::clone(e)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
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
