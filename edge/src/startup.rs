//! Wiring: the shared state, the saved snapshots, the sync and persistence
//! tasks and the two listeners (API, metrics), stopped by one shutdown
//! future. On shutdown the API stops accepting, open streams get a
//! `retry:` and close (so clients reconnect to another edge), and in-flight
//! requests finish.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use futures::FutureExt as _;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::api;
use crate::config::{EdgeConfig, EdgeSettings};
use crate::persist::SnapshotDir;
use crate::state::Edge;
use crate::sync::{Bus, ControlPlaneSource, Syncer};

/// The metrics router (`/metrics`).
pub fn metrics_app(edge: Arc<Edge>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || async move { edge.metrics.render(&edge.store, &edge.cache) }),
    )
}

/// Runs an edge on the configured addresses until `shutdown` completes.
pub async fn run(
    config: EdgeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let metrics_listener = TcpListener::bind(config.metrics_listen)
        .await
        .with_context(|| format!("binding {} (metrics)", config.metrics_listen))?;
    run_on(config, listener, metrics_listener, shutdown).await
}

/// Runs an edge on bound listeners (tests bind port 0) until `shutdown`.
pub async fn run_on(
    config: EdgeConfig,
    listener: TcpListener,
    metrics_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let redis =
        redis::Client::open(config.redis_url.expose_secret()).context("invalid Redis URL")?;
    let control_plane = match (config.control_plane_url.clone(), config.edge_token.clone()) {
        (Some(url), Some(token)) => Some(ControlPlaneSource { url, token }),
        (None, None) => None,
        _ => anyhow::bail!("HALYARD_CONTROL_PLANE_URL and HALYARD_EDGE_TOKEN go together"),
    };
    let bus = Bus::Redis {
        client: Box::new(redis),
        prefix: config.redis_prefix.clone(),
    };
    let shutdown = shutdown.boxed().shared();
    let started = start(&config.settings(), bus, control_plane, shutdown.clone())?;
    let edge = Arc::clone(&started.edge);
    tracing::info!(
        address = %listener.local_addr()?,
        metrics = %metrics_listener.local_addr()?,
        "edge listening"
    );
    let metrics = axum::serve(metrics_listener, metrics_app(Arc::clone(&edge)))
        .with_graceful_shutdown(shutdown.clone())
        .into_future();
    let metrics = tokio::spawn(async move {
        if let Err(err) = metrics.await {
            tracing::error!(error = %err, "the metrics listener failed");
        }
    });
    crate::serve::serve_http1(
        listener,
        api::app(Arc::clone(&edge)),
        shutdown,
        move || {
            tracing::info!("shutting down: closing streams, draining requests");
            edge.close_streams();
        },
        std::time::Duration::from_secs(config.shutdown_grace_seconds),
    )
    .await;
    metrics.abort();
    started.stop();
    Ok(())
}

/// An edge's state and background tasks (sync, snapshot persistence),
/// running; serve [`crate::api::router`] or [`crate::api::app`] over it.
pub struct Started {
    /// The state handlers share.
    pub edge: Arc<Edge>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Started {
    /// Stops the background tasks.
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// Builds an edge's state (starting from the saved snapshots, if
/// configured and present) and starts syncing it from `bus` until
/// `shutdown`.
pub fn start(
    config: &EdgeSettings,
    bus: Bus,
    control_plane: Option<ControlPlaneSource>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Started> {
    let edge = Arc::new(Edge::new(
        config.rate_limit,
        config.response_cache_mib.saturating_mul(1 << 20),
    ));
    let mut tasks = Vec::new();
    if let Some(dir) = &config.snapshot_dir {
        let dir = SnapshotDir::open(dir)?;
        let saved = dir.load()?;
        if !saved.is_empty() {
            tracing::info!(
                environments = saved.len(),
                "serving saved snapshots until in sync"
            );
            for snapshot in saved {
                edge.store.install(snapshot);
            }
            edge.store.mark_out_of_sync();
            edge.store.mark_ready();
        }
        tasks.push(tokio::spawn(dir.keep_writing(Arc::clone(&edge))));
    }
    let syncer = Syncer::new(Arc::clone(&edge), bus, control_plane);
    tasks.push(tokio::spawn(syncer.run(shutdown)));
    Ok(Started { edge, tasks })
}
