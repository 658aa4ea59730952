//! Keeps the [`crate::store::EdgeStore`] in step with the control plane
//! through its bus: Redis, or the in-process [`LocalBus`] of the all-in-one
//! node (`docs/protocol.md` §4 and §6).
//!
//! A session subscribes to the change channel first, then loads every
//! environment's snapshot (the bus, else the control plane's edge endpoint),
//! then applies messages strictly by revision: a revision already held is
//! ignored; another epoch, a gap or an invalid change resyncs that
//! environment; `environment_created` and `environment_deleted` add and drop
//! environments. When the bus fails, the edge keeps serving what it holds and
//! starts a new session after a backoff with jitter (which reloads
//! everything, so nothing missed meanwhile is lost).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use halyard_common::bus::LocalBus;
use halyard_common::{Applied, ChangeMessage, Snapshot, SnapshotData};
use rand::Rng;
use redis::AsyncCommands;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::broadcast::error::RecvError;

use crate::frames::RevisionFrames;
use crate::state::Edge;

/// Where snapshots come from when Redis lacks them.
#[derive(Debug, Clone)]
pub struct ControlPlaneSource {
    /// Base URL, e.g. `http://control-plane:8080`.
    pub url: String,
    /// Edge token.
    pub token: SecretString,
}

/// What the control plane said about a snapshot.
enum Fetched {
    Snapshot(SnapshotData),
    /// The environment does not exist (authoritative).
    Gone,
    /// No control plane configured.
    Unavailable,
}

/// Longest wait between reconnection attempts (before jitter of +/- 50%).
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where change messages and snapshots come from.
#[derive(Debug, Clone)]
pub enum Bus {
    /// Redis, with every name under a prefix (the control plane's
    /// `HALYARD_REDIS_PREFIX`).
    Redis {
        /// The server (boxed: a client with TLS support is large).
        client: Box<redis::Client>,
        /// The prefix.
        prefix: String,
    },
    /// The all-in-one node's in-process bus.
    Local(Arc<LocalBus>),
}

impl Bus {
    /// Subscribes (first) and opens what reads snapshots.
    async fn connect(&self) -> anyhow::Result<Feed> {
        match self {
            Bus::Redis { client, prefix } => {
                let mut pubsub = client
                    .get_async_pubsub()
                    .await
                    .context("connecting to Redis")?;
                pubsub
                    .subscribe(format!("{prefix}:changes"))
                    .await
                    .context("subscribing to the change channel")?;
                let conn = client
                    .get_multiplexed_async_connection()
                    .await
                    .context("connecting to Redis")?;
                Ok(Feed::Redis {
                    messages: pubsub.into_on_message(),
                    conn,
                    prefix: prefix.clone(),
                })
            }
            Bus::Local(bus) => Ok(Feed::Local {
                receiver: bus.subscribe(),
                bus: Arc::clone(bus),
            }),
        }
    }
}

/// One session's subscription and snapshot reader.
enum Feed {
    Redis {
        messages: redis::aio::PubSubStream,
        conn: redis::aio::MultiplexedConnection,
        prefix: String,
    },
    Local {
        receiver: tokio::sync::broadcast::Receiver<Arc<ChangeMessage>>,
        bus: Arc<LocalBus>,
    },
}

/// A message off the channel.
enum Incoming {
    Message(Arc<ChangeMessage>),
    /// It did not parse (the reason).
    Unreadable(String),
}

impl Feed {
    /// The next message; an error ends the session (which reloads
    /// everything when the next one starts).
    async fn next(&mut self) -> anyhow::Result<Incoming> {
        match self {
            Feed::Redis { messages, .. } => {
                let message = messages
                    .next()
                    .await
                    .context("the Redis subscription ended")?;
                let payload: String = message.get_payload().context("reading a change message")?;
                Ok(match serde_json::from_str(&payload) {
                    Ok(message) => Incoming::Message(Arc::new(message)),
                    Err(err) => Incoming::Unreadable(err.to_string()),
                })
            }
            Feed::Local { receiver, .. } => match receiver.recv().await {
                Ok(message) => Ok(Incoming::Message(message)),
                Err(RecvError::Lagged(missed)) => {
                    anyhow::bail!("fell {missed} messages behind the in-process bus")
                }
                Err(RecvError::Closed) => anyhow::bail!("the in-process bus closed"),
            },
        }
    }

    /// The environments the bus holds snapshots of.
    async fn environments(&mut self) -> anyhow::Result<Vec<String>> {
        match self {
            Feed::Redis { conn, prefix, .. } => Ok(conn
                .smembers(format!("{prefix}:environments"))
                .await
                .context("listing environments on Redis")?),
            Feed::Local { bus, .. } => Ok(bus.environments()),
        }
    }

    /// The bus's snapshot of `environment`.
    async fn snapshot(&mut self, environment: &str) -> anyhow::Result<Option<SnapshotData>> {
        match self {
            Feed::Redis { conn, prefix, .. } => {
                let stored: Option<String> = conn
                    .hget(format!("{prefix}:snapshot:{environment}"), "data")
                    .await?;
                stored
                    .map(|json| serde_json::from_str::<SnapshotData>(&json))
                    .transpose()
                    .context("a stored snapshot does not parse")
            }
            Feed::Local { bus, .. } => Ok(bus.snapshot(environment).map(|s| (*s).clone())),
        }
    }
}

/// The sync task.
#[derive(Debug, Clone)]
pub struct Syncer {
    edge: Arc<Edge>,
    bus: Bus,
    control_plane: Option<ControlPlaneSource>,
    http: reqwest::Client,
}

impl Syncer {
    /// A syncer filling `edge`'s store from `bus`.
    pub fn new(edge: Arc<Edge>, bus: Bus, control_plane: Option<ControlPlaneSource>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a plain HTTP client builds");
        Self {
            edge,
            bus,
            control_plane,
            http,
        }
    }

    /// Runs sessions until `shutdown`, backing off (100 ms doubling to [`MAX_BACKOFF`],
    /// with jitter) after consecutive failures.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        let mut delay = Duration::from_millis(100);
        loop {
            tokio::select! {
                result = self.session() => match result {
                    Ok(()) => return,
                    Err(err) => {
                        // A session that got in sync starts the backoff
                        // over: only consecutive failures back off further.
                        if self.edge.store.stale_for().is_none() {
                            delay = Duration::from_millis(100);
                        }
                        self.edge.store.mark_out_of_sync();
                        tracing::warn!(error = format!("{err:#}"), retry_in = ?delay, "edge sync interrupted; serving the last snapshots");
                    }
                },
                () = &mut shutdown => return,
            }
            let jittered = delay.mul_f64(rand::rng().random_range(0.5..1.5));
            tokio::select! {
                () = tokio::time::sleep(jittered) => {}
                () = &mut shutdown => return,
            }
            delay = (delay * 2).min(MAX_BACKOFF);
        }
    }

    /// One connection's worth of syncing; returns only on error.
    async fn session(&self) -> anyhow::Result<()> {
        let mut feed = self.bus.connect().await?;
        self.load_all(&mut feed).await?;
        self.edge.store.mark_ready();
        self.edge.store.mark_in_sync();
        tracing::info!(environments = ?self.edge.store.environments(), "edge in sync");
        loop {
            match feed.next().await? {
                Incoming::Message(message) => self.handle(&mut feed, &message).await?,
                Incoming::Unreadable(err) => {
                    // Without a readable environment, resync everything held.
                    tracing::warn!(error = %err, "unreadable change message; resyncing");
                    self.count_resync("unreadable_message");
                    self.load_all(&mut feed).await?;
                }
            }
        }
    }

    /// Loads every environment the bus lists, plus every one already held.
    ///
    /// Redis may have lost its data (a restart without persistence) until the
    /// relay writes it again, so what Redis lacks is never taken as deleted:
    /// only an `environment_deleted` message or the control plane's listing
    /// removes an environment.
    async fn load_all(&self, feed: &mut Feed) -> anyhow::Result<()> {
        let mut environments = feed.environments().await?;
        let authoritative = match self.control_plane_environments().await {
            Ok(listed) => listed,
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "cannot list environments on the control plane"
                );
                None
            }
        };
        if let Some(listed) = &authoritative {
            environments.extend(listed.iter().cloned());
        }
        environments.extend(self.edge.store.environments());
        environments.sort();
        environments.dedup();
        if let Some(listed) = &authoritative {
            environments.retain(|e| listed.contains(e));
            self.edge.store.retain(&environments);
        }
        for environment in &environments {
            self.resync(feed, environment).await?;
        }
        Ok(())
    }

    async fn handle(&self, feed: &mut Feed, message: &ChangeMessage) -> anyhow::Result<()> {
        let environment = message.environment.to_string();
        let store = &self.edge.store;
        let Some(current) = store.get(&environment) else {
            if message.base_revision == 0 {
                match Snapshot::from_created(message) {
                    Ok(snapshot) => {
                        tracing::info!(environment, "environment created");
                        store.install(snapshot);
                        store
                            .stream(&environment)
                            .publish(RevisionFrames::of(message));
                        return Ok(());
                    }
                    Err(err) => tracing::info!(
                        environment,
                        code = err.code(),
                        "cannot start from this message; resyncing"
                    ),
                }
            }
            self.count_resync("unknown_environment");
            return self.resync(feed, &environment).await;
        };
        match current.snapshot.apply(message) {
            Ok(Applied::Updated(next)) => {
                store.install(next);
                store
                    .stream(&environment)
                    .publish(RevisionFrames::of(message));
                let lag = time::OffsetDateTime::now_utc() - message.committed_at;
                self.edge
                    .metrics
                    .propagation
                    .observe(lag.as_seconds_f64().max(0.0));
            }
            Ok(Applied::Deleted) => {
                tracing::info!(environment, "environment deleted");
                store.remove(&environment);
                store.stream(&environment).reset();
            }
            Ok(Applied::AlreadyHeld) => {}
            Err(err) => {
                tracing::info!(environment, code = err.code(), error = %err, "change does not apply; resyncing");
                self.count_resync(err.code());
                self.resync(feed, &environment).await?;
            }
        }
        Ok(())
    }

    fn count_resync(&self, reason: &str) {
        self.edge.metrics.resyncs.with_label_values(&[reason]).inc();
    }

    /// Replaces one environment with a full snapshot (never going back in
    /// time within an epoch: a lagging source's older snapshot is ignored).
    async fn resync(&self, feed: &mut Feed, environment: &str) -> anyhow::Result<()> {
        let data = match feed.snapshot(environment).await? {
            Some(data) => data,
            None => match self.control_plane_snapshot(environment).await? {
                Fetched::Snapshot(data) => data,
                Fetched::Gone => {
                    tracing::info!(environment, "environment gone");
                    self.edge.store.remove(environment);
                    self.edge.store.stream(environment).reset();
                    return Ok(());
                }
                Fetched::Unavailable => {
                    // Redis lost it and there is no other source: keep
                    // serving what is held until the relay writes it again.
                    tracing::warn!(environment, "no snapshot available; serving the one held");
                    return Ok(());
                }
            },
        };
        let snapshot = match Snapshot::build(data) {
            Ok(snapshot) => snapshot,
            Err(err) => {
                // One broken environment must not stop the others: keep
                // serving what is held for it and try again on the next
                // message or session.
                tracing::error!(environment, error = %err, "the snapshot does not build; keeping the one held");
                self.count_resync("invalid_snapshot");
                return Ok(());
            }
        };
        if let Some(current) = self.edge.store.get(environment)
            && current.snapshot.epoch() == snapshot.epoch()
            && current.snapshot.revision() > snapshot.revision()
        {
            return Ok(());
        }
        self.edge.store.install(snapshot);
        // Replaced wholesale: subscribers get the full configuration again.
        self.edge.store.stream(environment).reset();
        Ok(())
    }

    async fn control_plane_snapshot(&self, environment: &str) -> anyhow::Result<Fetched> {
        let Some(source) = &self.control_plane else {
            return Ok(Fetched::Unavailable);
        };
        let response = self
            .http
            .get(format!(
                "{}/api/internal/environments/{environment}/snapshot",
                source.url
            ))
            .bearer_auth(source.token.expose_secret())
            .send()
            .await
            .context("fetching a snapshot from the control plane")?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(Fetched::Gone);
        }
        let response = response
            .error_for_status()
            .context("the control plane refused the snapshot request")?;
        Ok(Fetched::Snapshot(
            response
                .json()
                .await
                .context("the control plane's snapshot does not parse")?,
        ))
    }

    async fn control_plane_environments(&self) -> anyhow::Result<Option<Vec<String>>> {
        let Some(source) = &self.control_plane else {
            return Ok(None);
        };
        #[derive(serde::Deserialize)]
        struct Listed {
            key: String,
        }
        let listed: Vec<Listed> = self
            .http
            .get(format!("{}/api/internal/environments", source.url))
            .bearer_auth(source.token.expose_secret())
            .send()
            .await
            .context("listing environments on the control plane")?
            .error_for_status()?
            .json()
            .await?;
        Ok(Some(listed.into_iter().map(|l| l.key).collect()))
    }
}
