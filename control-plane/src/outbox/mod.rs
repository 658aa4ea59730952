//! The outbox relay: publishes every committed change from PostgreSQL to
//! Redis, in revision order, without dual writes.
//!
//! Services write each change and its outbox rows (one [`ChangeMessage`] per
//! affected environment) in one transaction. The [`Relay`] drains the outbox
//! one environment at a time: it publishes each message on the change
//! channel, keeps each environment's snapshot in Redis current, and marks the
//! rows published. Redis can be down for as long as it likes: rows stay
//! pending and drain in order once it is back.
//!
//! # Redis contract
//!
//! This is what edges read. With the prefix `P` of the [`RedisTarget`]
//! (default `halyard`):
//!
//! | Name | Type | Content |
//! | --- | --- | --- |
//! | `P:snapshot:{environment}` | hash | `epoch` (text), `revision` (decimal) and `data`: the environment's [`SnapshotData`] JSON at that revision, **including the SDK key hashes** (edge-internal: never forward `data` to SDKs as is) |
//! | `P:changes` | pub/sub channel | Every environment's change messages, as [`ChangeMessage`] JSON (key changes included, edge-internal) |
//! | `P:environments` | set | The keys of the environments that have a snapshot |
//! | `P:deleted:{environment}` | set | Relay-internal: the environment's deleted epochs (expires [`TOMBSTONE_TTL`] after the last deletion); edges ignore it |
//!
//! An edge subscribes to `P:changes` first, then reads `P:snapshot:{env}`
//! (or every member of `P:environments`), and follows the consumer algorithm
//! of `docs/protocol.md` §4: messages it already holds are ignored, a gap or
//! another epoch means "read the snapshot again". The script's keys live in
//! different hash slots; for Redis Cluster choose a prefix that is a hash tag,
//! such as `{halyard}`.
//!
//! # Ordering guarantees
//!
//! - **One relay per environment.** [`Store::claim_outbox`] takes a
//!   transaction-scoped advisory lock on the environment; a relay that cannot
//!   take it skips the environment ([`StepOutcome::NotClaimed`]). So at most
//!   one relay publishes an environment at a time, in revision order, and the
//!   claim's marks commit (releasing the lock) only after the publishes. A
//!   row is marked published only after Redis acknowledged it, so a crash
//!   between the two republishes it: delivery is at least once.
//! - **Duplicates are harmless.** A consumer ignores a message whose revision
//!   it already holds (protocol check 4), so republishing is always safe.
//!   This is why a failed step can simply be retried. (A claim's consistent
//!   view is taken as it asks for the lock, so it can also predate the
//!   previous holder's commit and republish that holder's rows: again only
//!   duplicates, in order.)
//! - **The stored snapshot never moves backwards.** One Lua script
//!   (`publish.lua`) writes the snapshot, the set member and the message
//!   atomically, and writes the snapshot only when Redis holds none, holds
//!   another epoch, or holds a lower revision of the same epoch. A stale relay
//!   (paused past its lock, or a second process racing after a restart)
//!   therefore cannot roll a snapshot back, and the message always goes out
//!   after the snapshot it produces is stored.
//! - **Every stored snapshot is a fresh build of PostgreSQL at its revision.**
//!   The relay keeps each environment's last published [`Snapshot`] in
//!   memory and applies the next messages to it (equivalent to a fresh build,
//!   protocol §4). When it holds none, or a message does not apply (a gap
//!   after another relay published, another epoch, an invalid change), it
//!   rebuilds from the claim's consistent snapshot at revision `R` (every
//!   pending revision is at most `R`) and publishes the pending messages
//!   without a snapshot except the last, which goes out together with
//!   snapshot `R`.
//! - **Deletion.** An `environment_deleted` message removes the snapshot and
//!   the set member, but only when the stored snapshot is of the deleted
//!   epoch: a re-created environment (always a new epoch) published first is
//!   left alone. It also records the deleted epoch so that no stale relay can
//!   write that epoch's snapshot again. One race remains: a relay paused
//!   mid-batch on the old epoch while the environment is deleted, re-created
//!   and published elsewhere can overwrite the new epoch's snapshot before
//!   the deletion reaches Redis, and the deletion then removes it; the next
//!   sweep's [`Relay::reconcile`] writes the new epoch's snapshot back.
//!
//! [`Relay::run`] wakes on PostgreSQL `NOTIFY halyard_outbox` (sent by each
//! outbox insert on commit) and, as a fallback for lost notifications, sweeps
//! the environments with pending rows every second. It also re-seeds
//! snapshots missing from Redis (a Redis restart without persistence), and
//! backs off with jitter while Redis or PostgreSQL is unavailable.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use async_trait::async_trait;
use futures::FutureExt as _;
use halyard_common::bus::LocalBus;
use halyard_common::{Applied, Change, ChangeMessage, Snapshot, SnapshotData};
use prometheus::{Histogram, HistogramOpts, IntCounter, Registry};
use rand::Rng as _;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::store::{OutboxClaim, OutboxRow, Store};

/// How many pending rows one step publishes at most.
pub const BATCH: u32 = 256;

/// The PostgreSQL notification channel each outbox insert notifies on commit.
pub const NOTIFY_CHANNEL: &str = "halyard_outbox";

/// How long the deleted epochs of an environment (`P:deleted:{environment}`)
/// are remembered after its last deletion. They only have to outlive a stale
/// relay's claim, which is one short transaction.
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The script that publishes one row (see `publish.lua`).
static PUBLISH_SCRIPT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("publish.lua")));

/// Where the relay publishes: the Redis names, derived from one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTarget {
    prefix: String,
}

impl Default for RedisTarget {
    fn default() -> Self {
        Self::new("halyard")
    }
}

/// What one publish does besides (or instead of) sending a message.
#[derive(Debug, Clone, Copy)]
pub enum Publication<'a> {
    /// Publish the message only; the stored snapshot is left alone.
    Message(&'a ChangeMessage),
    /// Store the snapshot (unless Redis holds a newer one of its epoch), add
    /// the environment to the set, then publish the message, if any.
    Snapshot {
        /// The snapshot (a fresh build of PostgreSQL at its revision).
        snapshot: &'a SnapshotData,
        /// The message that produced it; `None` only stores the snapshot.
        message: Option<&'a ChangeMessage>,
    },
    /// An `environment_deleted` message: remove the environment's snapshot
    /// and set member (if the stored snapshot is of the message's epoch),
    /// then publish the message.
    Deleted(&'a ChangeMessage),
}

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Redis refused or could not be reached.
    #[error("redis publish failed")]
    Redis(#[from] redis::RedisError),
    /// A message or snapshot did not serialize (a bug).
    #[error("cannot encode the publication")]
    Encode(#[from] serde_json::Error),
}

impl RedisTarget {
    /// Names under `prefix` (e.g. `halyard`; no trailing colon).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `P:snapshot:{environment}`: the environment's snapshot hash.
    pub fn snapshot_key(&self, environment: &str) -> String {
        format!("{}:snapshot:{environment}", self.prefix)
    }

    /// `P:changes`: the channel of every environment's change messages.
    pub fn channel(&self) -> String {
        format!("{}:changes", self.prefix)
    }

    /// `P:environments`: the set of environments that have a snapshot.
    pub fn environments_key(&self) -> String {
        format!("{}:environments", self.prefix)
    }

    /// `P:deleted:{environment}`: the environment's deleted epochs (relay-internal).
    pub fn tombstone_key(&self, environment: &str) -> String {
        format!("{}:deleted:{environment}", self.prefix)
    }

    /// Runs the publish script once. Returns whether the snapshot was written
    /// ([`Publication::Snapshot`]) or the environment of this epoch is now
    /// absent ([`Publication::Deleted`]); always `false` for a message alone.
    /// Idempotent: repeating a call publishes a duplicate and changes nothing
    /// else.
    pub async fn publish<C>(
        &self,
        conn: &mut C,
        publication: Publication<'_>,
    ) -> Result<bool, PublishError>
    where
        C: ConnectionLike + Send,
    {
        let (mode, environment, epoch, message) = match publication {
            Publication::Message(message) => (
                "message",
                message.environment.as_str(),
                message.epoch.as_str(),
                Some(message),
            ),
            Publication::Snapshot { snapshot, message } => (
                "snapshot",
                snapshot.environment.as_str(),
                snapshot.epoch.as_str(),
                message,
            ),
            Publication::Deleted(message) => (
                "delete",
                message.environment.as_str(),
                message.epoch.as_str(),
                Some(message),
            ),
        };
        let message = match message {
            Some(message) => serde_json::to_string(message)?,
            None => String::new(),
        };
        let (revision, data) = match publication {
            Publication::Snapshot { snapshot, .. } => (
                snapshot.revision.to_string(),
                serde_json::to_string(snapshot)?,
            ),
            _ => (String::new(), String::new()),
        };
        let changed: i64 = PUBLISH_SCRIPT
            .key(self.snapshot_key(environment))
            .key(self.environments_key())
            .key(self.tombstone_key(environment))
            .arg(mode)
            .arg(self.channel())
            .arg(message)
            .arg(environment)
            .arg(epoch)
            .arg(revision)
            .arg(data)
            .arg(TOMBSTONE_TTL.as_secs())
            .invoke_async(conn)
            .await?;
        Ok(changed == 1)
    }
}

/// Where the relay publishes: Redis ([`RedisBus`], production) or the
/// in-process [`LocalBus`] (the all-in-one node). Both keep the guarantees
/// in the module docs.
#[async_trait]
pub trait Bus: Send + 'static {
    /// Runs one publication; the result is [`RedisTarget::publish`]'s.
    async fn publish(&mut self, publication: Publication<'_>) -> Result<bool, PublishError>;
    /// For each environment, whether the bus holds its snapshot (and lists
    /// it): what [`Relay::reconcile`] re-seeds when not.
    async fn has_snapshots(&mut self, environments: &[&str]) -> Result<Vec<bool>, PublishError>;
    /// What the logs call it.
    fn label(&self) -> String;
}

/// Redis under a [`RedisTarget`]'s names.
pub struct RedisBus {
    /// The connection ([`redis_connection`]).
    pub redis: ConnectionManager,
    /// The names.
    pub target: RedisTarget,
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&mut self, publication: Publication<'_>) -> Result<bool, PublishError> {
        self.target.publish(&mut self.redis, publication).await
    }

    async fn has_snapshots(&mut self, environments: &[&str]) -> Result<Vec<bool>, PublishError> {
        // Both the member and the hash: either can be lost on its own (an
        // eviction policy, a manual edit).
        let mut query = redis::pipe();
        query.cmd("SMEMBERS").arg(self.target.environments_key());
        for environment in environments {
            query
                .cmd("EXISTS")
                .arg(self.target.snapshot_key(environment));
        }
        let mut replies: Vec<redis::Value> = query.query_async(&mut self.redis).await?;
        let members: HashSet<String> = redis::from_redis_value(replies.remove(0))
            .map_err(|e| PublishError::Redis(e.into()))?;
        let exists: Vec<bool> = redis::from_redis_value(redis::Value::Array(replies))
            .map_err(|e| PublishError::Redis(e.into()))?;
        Ok(environments
            .iter()
            .zip(exists)
            .map(|(environment, exists)| exists && members.contains(*environment))
            .collect())
    }

    fn label(&self) -> String {
        format!("redis:{}", self.target.prefix())
    }
}

#[async_trait]
impl Bus for Arc<LocalBus> {
    async fn publish(&mut self, publication: Publication<'_>) -> Result<bool, PublishError> {
        Ok(match publication {
            Publication::Message(message) => {
                LocalBus::publish(self, message);
                false
            }
            Publication::Snapshot { snapshot, message } => {
                let stored = self.store_snapshot(snapshot);
                if let Some(message) = message {
                    LocalBus::publish(self, message);
                }
                stored
            }
            Publication::Deleted(message) => {
                self.delete(message);
                true
            }
        })
    }

    async fn has_snapshots(&mut self, environments: &[&str]) -> Result<Vec<bool>, PublishError> {
        Ok(environments
            .iter()
            .map(|environment| self.snapshot(environment).is_some())
            .collect())
    }

    fn label(&self) -> String {
        "in-process".to_owned()
    }
}

/// A Redis connection for the relay that connects on first use and never
/// retries by itself: the relay's own backoff decides when to try again, so a
/// publish fails fast while Redis is down.
pub fn redis_connection(client: redis::Client) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)));
    ConnectionManager::new_lazy_with_config(client, config)
}

/// Called by the relay before each publish; tests use it to pause a relay
/// mid-batch while it holds its claim.
#[async_trait]
pub trait RelayHook: Send + Sync + 'static {
    /// Runs before the row with `revision` of `environment_id` is published.
    async fn before_publish(&self, environment_id: Uuid, revision: u64);
}

/// What one [`Relay::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Another relay holds the environment's claim.
    NotClaimed,
    /// Nothing was pending.
    Empty,
    /// Rows were published and marked.
    Published {
        /// How many rows.
        count: usize,
        /// The revision of the last one.
        last_revision: u64,
    },
}

/// The relay's Prometheus metrics; [`RelayMetrics::new`] registers them.
/// Names carry no namespace: the registry adds it (the control plane's is
/// `halyard_control_plane`). The backlog is sampled by the crate's metrics.
#[derive(Debug, Clone)]
pub struct RelayMetrics {
    /// `outbox_published_total`: change messages published to Redis.
    pub published: IntCounter,
    /// `outbox_publish_failures_total`: publishes Redis refused or did not answer.
    pub publish_failures: IntCounter,
    /// `outbox_publish_lag_seconds`: from a change's commit to its publication.
    pub publish_lag: Histogram,
}

impl RelayMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            published: IntCounter::new(
                "outbox_published_total",
                "Change messages the outbox relay published to Redis",
            )?,
            publish_failures: IntCounter::new(
                "outbox_publish_failures_total",
                "Outbox publishes that Redis refused or did not answer",
            )?,
            publish_lag: Histogram::with_opts(
                HistogramOpts::new(
                    "outbox_publish_lag_seconds",
                    "Time from a change's commit to its publication on Redis",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    300.0,
                ]),
            )?,
        };
        registry.register(Box::new(metrics.published.clone()))?;
        registry.register(Box::new(metrics.publish_failures.clone()))?;
        registry.register(Box::new(metrics.publish_lag.clone()))?;
        Ok(metrics)
    }
}

/// What to publish for one pending row.
enum Action {
    /// The message alone.
    Message,
    /// The message with the snapshot it produces.
    Snapshot(Snapshot),
    /// An `environment_deleted` message.
    Delete,
}

/// Publishes the outbox to Redis; see the module docs for the guarantees.
pub struct Relay {
    store: Arc<dyn Store>,
    bus: Box<dyn Bus>,
    /// The last snapshot published per environment (by internal id): the
    /// base the next messages apply to.
    snapshots: HashMap<Uuid, Snapshot>,
    hook: Option<Arc<dyn RelayHook>>,
    metrics: Option<RelayMetrics>,
    listener: Option<PgPool>,
    sweep_interval: Duration,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("bus", &self.bus.label())
            .field("environments", &self.snapshots.len())
            .field("sweep_interval", &self.sweep_interval)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay publishing `store`'s outbox to `redis` under `target`'s names.
    /// Use [`redis_connection`] for `redis`. It wakes on the store's own
    /// commit notices where it has them ([`Store::outbox_changes`]), else
    /// on `NOTIFY` with [`Relay::with_listener`]; otherwise [`Relay::run`]
    /// only sweeps.
    pub fn new(store: Arc<dyn Store>, redis: ConnectionManager, target: RedisTarget) -> Self {
        Self::on_bus(store, Box::new(RedisBus { redis, target }))
    }

    /// A relay publishing `store`'s outbox to `bus` (e.g. the in-process
    /// [`LocalBus`] of the all-in-one node).
    pub fn on_bus(store: Arc<dyn Store>, bus: Box<dyn Bus>) -> Self {
        Self {
            store,
            bus,
            snapshots: HashMap::new(),
            hook: None,
            metrics: None,
            listener: None,
            sweep_interval: Duration::from_secs(1),
        }
    }

    /// Wakes [`Relay::run`] on `NOTIFY halyard_outbox` through a `LISTEN`
    /// connection from `pool` (held for the relay's lifetime).
    #[must_use]
    pub fn with_listener(mut self, pool: PgPool) -> Self {
        self.listener = Some(pool);
        self
    }

    /// Calls `hook` before each publish.
    #[must_use]
    pub fn with_hook(mut self, hook: Arc<dyn RelayHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Records into `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: RelayMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// How often [`Relay::run`] sweeps for pending rows and missing snapshots
    /// (default 1 s).
    #[must_use]
    pub fn with_sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Publishes up to [`BATCH`] pending rows of one environment, in order,
    /// then marks them and releases the claim. When Redis fails mid-way, the
    /// rows published so far are marked, the rest stay pending, and the
    /// error is returned.
    #[tracing::instrument(name = "outbox_step", skip_all, fields(environment_id = %environment_id))]
    pub async fn step(&mut self, environment_id: Uuid) -> anyhow::Result<StepOutcome> {
        let Some(mut claim) = self
            .store
            .claim_outbox(environment_id)
            .await
            .context("claiming the outbox")?
        else {
            return Ok(StepOutcome::NotClaimed);
        };
        let rows = claim
            .pending(BATCH)
            .await
            .context("reading pending outbox rows")?;
        let Some(last) = rows.last() else {
            claim.finish().await.context("releasing the outbox claim")?;
            return Ok(StepOutcome::Empty);
        };
        let last_revision = last.message.revision;

        let actions = match self.plan_apply(environment_id, &rows) {
            Some(actions) => actions,
            None => {
                // The held snapshot is no base for these rows: drop it before
                // anything is published, so a failure cannot leave it behind.
                self.snapshots.remove(&environment_id);
                plan_rebuild(&mut *claim, &rows).await?
            }
        };

        let mut published = Vec::with_capacity(rows.len());
        let mut failure = None;
        let mut held = None;
        for (row, action) in rows.iter().zip(actions) {
            if let Some(hook) = &self.hook {
                hook.before_publish(environment_id, row.message.revision)
                    .await;
            }
            match self.publish_row(row, &action).await {
                Ok(()) => {
                    published.push(row.id);
                    match action {
                        Action::Snapshot(snapshot) => held = Some(Some(snapshot)),
                        Action::Delete => held = Some(None),
                        Action::Message => {}
                    }
                }
                Err(err) => {
                    failure = Some((row.message.revision, err));
                    break;
                }
            }
        }

        let committed = async {
            if !published.is_empty() {
                claim
                    .mark_published(&published)
                    .await
                    .context("marking outbox rows published")?;
            }
            claim.finish().await.context("committing the outbox marks")
        }
        .await;

        let outcome = match failure {
            Some((revision, err)) => {
                if let Err(commit_err) = committed {
                    // The published rows stay pending and go out again.
                    warn!(error = %format_args!("{commit_err:#}"), "outbox marks lost");
                }
                Err(anyhow::Error::new(err).context(format!(
                    "publishing revision {revision} of environment {environment_id} \
                     ({} of {} rows published)",
                    published.len(),
                    rows.len()
                )))
            }
            None => committed.map(|()| StepOutcome::Published {
                count: rows.len(),
                last_revision,
            }),
        };
        match (&outcome, held) {
            (Ok(_), Some(Some(snapshot))) => {
                self.snapshots.insert(environment_id, snapshot);
            }
            (Ok(_), None) => {}
            // Deleted, or failed: after a failure, rebuild next time rather
            // than reason about what Redis and PostgreSQL hold now (the
            // script keeps Redis monotonic either way).
            (Ok(_), Some(None)) | (Err(_), _) => {
                self.snapshots.remove(&environment_id);
            }
        }
        if outcome.is_ok() {
            debug!(count = rows.len(), last_revision, "outbox rows published");
        }
        outcome
    }

    /// Applies the rows to the held snapshot, one snapshot per new revision;
    /// `None` when that is not possible (nothing held, a gap, another epoch,
    /// an invalid change, a deletion).
    fn plan_apply(&self, environment_id: Uuid, rows: &[OutboxRow]) -> Option<Vec<Action>> {
        let held = self.snapshots.get(&environment_id)?;
        if rows.iter().any(|row| is_deletion(&row.message)) {
            // Published without snapshots (the rebuild path finds the
            // environment gone), so none can outlive the deletion.
            return None;
        }
        let mut current = held.clone();
        let mut actions = Vec::with_capacity(rows.len());
        for row in rows {
            match current.apply(&row.message) {
                Ok(Applied::Updated(next)) => {
                    current = next.clone();
                    actions.push(Action::Snapshot(next));
                }
                Ok(Applied::AlreadyHeld) => actions.push(Action::Message),
                Ok(Applied::Deleted) => return None,
                Err(err) => {
                    debug!(
                        revision = row.message.revision,
                        code = err.code(),
                        "held snapshot does not apply, rebuilding"
                    );
                    return None;
                }
            }
        }
        Some(actions)
    }

    async fn publish_row(&mut self, row: &OutboxRow, action: &Action) -> Result<(), PublishError> {
        let message = &row.message;
        let result = match action {
            Action::Message => self.bus.publish(Publication::Message(message)).await,
            Action::Snapshot(snapshot) => {
                let data = snapshot.to_data();
                self.bus
                    .publish(Publication::Snapshot {
                        snapshot: &data,
                        message: Some(message),
                    })
                    .await
            }
            Action::Delete => self.bus.publish(Publication::Deleted(message)).await,
        };
        match result {
            Ok(_) => {
                if let Some(metrics) = &self.metrics {
                    metrics.published.inc();
                    let lag = (OffsetDateTime::now_utc() - message.committed_at).as_seconds_f64();
                    metrics.publish_lag.observe(lag.max(0.0));
                }
                Ok(())
            }
            Err(err) => {
                if let Some(metrics) = &self.metrics {
                    metrics.publish_failures.inc();
                }
                Err(err)
            }
        }
    }

    /// Writes a fresh snapshot for every environment that has none in Redis
    /// (after a Redis restart without persistence) and no pending rows (those
    /// get theirs from [`Relay::step`]). Returns how many were written.
    pub async fn reconcile(&mut self) -> anyhow::Result<usize> {
        let environments = self
            .store
            .environments()
            .await
            .context("listing environments")?;
        let keys: Vec<&str> = environments.iter().map(|e| e.key.as_str()).collect();
        let stored = self
            .bus
            .has_snapshots(&keys)
            .await
            .context("reading the stored snapshots")?;
        let environments = environments
            .iter()
            .zip(stored)
            .filter(|(_, stored)| !stored)
            .map(|(environment, _)| environment.clone())
            .collect::<Vec<_>>();
        let mut written = 0;
        for environment in environments {
            let Some(mut claim) = self
                .store
                .claim_outbox(environment.id)
                .await
                .context("claiming the outbox")?
            else {
                continue;
            };
            if !claim.pending(1).await?.is_empty() {
                claim.finish().await?;
                continue;
            }
            let Some(data) = claim.snapshot().await? else {
                claim.finish().await?;
                continue;
            };
            let snapshot = Snapshot::build(data).context("building the environment snapshot")?;
            let data = snapshot.to_data();
            let stored = self
                .bus
                .publish(Publication::Snapshot {
                    snapshot: &data,
                    message: None,
                })
                .await
                .context("writing the snapshot")?;
            claim.finish().await?;
            if stored {
                info!(
                    environment = %environment.key,
                    revision = data.revision,
                    "missing snapshot written"
                );
                written += 1;
            }
            self.snapshots.insert(environment.id, snapshot);
        }
        Ok(written)
    }

    /// Steps every environment with pending rows until each is drained or
    /// claimed elsewhere. Stops at the first Redis failure (Redis is down for
    /// everyone); another failure skips only its environment. Returns the
    /// first error after the pass.
    async fn drain(&mut self, shutdown: &mut Shutdown<'_>) -> anyhow::Result<()> {
        let environments = self
            .store
            .pending_environments()
            .await
            .context("listing environments with pending rows")?;
        let mut first_error = None;
        for environment_id in environments {
            loop {
                if shutdown.requested() {
                    return Ok(());
                }
                match self.step(environment_id).await {
                    Ok(StepOutcome::Published { count, .. }) if count == BATCH as usize => {}
                    Ok(_) => break,
                    Err(err) if is_redis_failure(&err) => return Err(err),
                    Err(err) => {
                        warn!(%environment_id, error = %format_args!("{err:#}"), "outbox step failed");
                        first_error.get_or_insert(err);
                        break;
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Runs until `shutdown` completes: wakes on notifications and on every
    /// sweep, drains every pending environment, re-seeds missing snapshots on
    /// sweeps, and backs off (100 ms doubling to 5 s, with jitter) while
    /// publishing fails. Shutdown lets the step in progress finish, so its
    /// marks are committed.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) {
        let mut shutdown = Shutdown::new(Box::pin(shutdown));
        let wake = Arc::new(Notify::new());
        let _listener = match (self.store.outbox_changes(), self.listener.clone()) {
            (Some(changes), _) => Some(AbortOnDrop(tokio::spawn(forward_changes(
                changes,
                Arc::clone(&wake),
            )))),
            (None, Some(pool)) => Some(AbortOnDrop(tokio::spawn(listen(pool, Arc::clone(&wake))))),
            (None, None) => None,
        };
        let mut sweep = tokio::time::interval(self.sweep_interval);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        info!(bus = %self.bus.label(), "outbox relay started");
        loop {
            let swept = tokio::select! {
                biased;
                () = shutdown.wait() => break,
                () = wake.notified() => false,
                _ = sweep.tick() => true,
            };
            let mut result = self.drain(&mut shutdown).await;
            if swept && result.is_ok() && !shutdown.requested() {
                result = self.reconcile().await.map(drop);
            }
            match result {
                Ok(()) => backoff.reset(),
                Err(err) => {
                    let delay = backoff.next_delay();
                    warn!(
                        error = %format_args!("{err:#}"),
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "outbox relay failed"
                    );
                    tokio::select! {
                        biased;
                        () = shutdown.wait() => break,
                        () = tokio::time::sleep(delay) => {}
                    }
                    // Retry even if nothing new arrives.
                    wake.notify_one();
                }
            }
        }
        info!("outbox relay stopped");
    }
}

/// Reads the claim's consistent snapshot `R`: every row is published without
/// a snapshot except the last, which carries `R`. When the environment is
/// gone, only messages (and the deletion) are published.
async fn plan_rebuild(
    claim: &mut dyn OutboxClaim,
    rows: &[OutboxRow],
) -> anyhow::Result<Vec<Action>> {
    let mut actions: Vec<Action> = rows
        .iter()
        .map(|row| {
            if is_deletion(&row.message) {
                Action::Delete
            } else {
                Action::Message
            }
        })
        .collect();
    let Some(last) = rows.last() else {
        return Ok(actions);
    };
    let Some(data) = claim
        .snapshot()
        .await
        .context("reading the environment snapshot")?
    else {
        return Ok(actions);
    };
    if is_deletion(&last.message) {
        // Cannot happen (a deleted environment has no snapshot); publishing
        // the deletion is the safe reading.
        return Ok(actions);
    }
    ensure!(
        data.epoch == last.message.epoch,
        "stored epoch {} differs from pending epoch {}",
        data.epoch,
        last.message.epoch
    );
    if data.revision < last.message.revision {
        bail!(
            "stored revision {} is behind pending revision {}",
            data.revision,
            last.message.revision
        );
    }
    let snapshot = Snapshot::build(data).context("building the environment snapshot")?;
    if let Some(action) = actions.last_mut() {
        *action = Action::Snapshot(snapshot);
    }
    Ok(actions)
}

fn is_redis_failure(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<PublishError>(),
        Some(PublishError::Redis(_))
    )
}

fn is_deletion(message: &ChangeMessage) -> bool {
    message
        .changes
        .iter()
        .any(|change| matches!(change, Change::EnvironmentDeleted))
}

/// Turns a shutdown future into something both awaitable and checkable
/// between steps, polling it at most until it completes.
struct Shutdown<'a> {
    future: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
    done: bool,
}

impl<'a> Shutdown<'a> {
    fn new(future: Pin<Box<dyn Future<Output = ()> + Send + 'a>>) -> Self {
        Self {
            future,
            done: false,
        }
    }

    /// Whether shutdown was requested (without waiting).
    fn requested(&mut self) -> bool {
        if !self.done && self.future.as_mut().now_or_never().is_some() {
            self.done = true;
        }
        self.done
    }

    /// Completes when shutdown is requested.
    async fn wait(&mut self) {
        if !self.done {
            self.future.as_mut().await;
            self.done = true;
        }
    }
}

/// Exponential backoff with jitter: each delay is drawn from the upper half
/// of the current step, so relays that failed together do not retry together.
#[derive(Debug)]
struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            current: min,
        }
    }

    fn next_delay(&mut self) -> Duration {
        let step = self.current;
        self.current = (self.current * 2).min(self.max);
        let millis = u64::try_from(step.as_millis()).unwrap_or(u64::MAX).max(2);
        Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
    }

    fn reset(&mut self) {
        self.current = self.min;
    }
}

/// Aborts a background task when its owner is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Forwards the store's own outbox commit counter (SQLite) to `wake`.
async fn forward_changes(mut changes: tokio::sync::watch::Receiver<u64>, wake: Arc<Notify>) {
    while changes.changed().await.is_ok() {
        wake.notify_one();
    }
}

/// Forwards `NOTIFY halyard_outbox` to `wake`, reconnecting with backoff.
/// After every (re)connection it wakes the relay once, since notifications
/// sent while disconnected are lost.
async fn listen(pool: PgPool, wake: Arc<Notify>) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        let mut listener = match connect_listener(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                let delay = backoff.next_delay();
                warn!(
                    error = %err,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "outbox listener cannot connect"
                );
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        backoff.reset();
        wake.notify_one();
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => wake.notify_one(),
                Ok(None) => {
                    // Reconnects on the next call; anything sent meanwhile is lost.
                    warn!("outbox listener lost its connection");
                    wake.notify_one();
                }
                Err(err) => {
                    warn!(error = %err, "outbox listener failed");
                    break;
                }
            }
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

async fn connect_listener(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix() {
        let target = RedisTarget::new("hy");
        assert_eq!(target.snapshot_key("production"), "hy:snapshot:production");
        assert_eq!(target.channel(), "hy:changes");
        assert_eq!(target.environments_key(), "hy:environments");
        assert_eq!(target.tombstone_key("production"), "hy:deleted:production");
        assert_eq!(RedisTarget::default().prefix(), "halyard");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let caps = [100, 200, 400, 800, 1600, 3200, 5000, 5000];
        for cap in caps {
            let delay = backoff.next_delay();
            assert!(
                delay >= Duration::from_millis(cap / 2) && delay <= Duration::from_millis(cap),
                "{delay:?} outside [{}, {cap}] ms",
                cap / 2
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
