//! Wiring: the store, the sync task and the listener, stopped by one
//! shutdown future.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::api;
use crate::config::EdgeConfig;
use crate::store::EdgeStore;
use crate::sync::{ControlPlaneSource, Syncer};

/// Runs an edge until `shutdown` completes.
pub async fn run(
    config: EdgeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = Arc::new(EdgeStore::new());
    let redis =
        redis::Client::open(config.redis_url.expose_secret()).context("invalid Redis URL")?;
    let control_plane = match (config.control_plane_url, config.edge_token) {
        (Some(url), Some(token)) => Some(ControlPlaneSource { url, token }),
        (None, None) => None,
        _ => anyhow::bail!("HALYARD_CONTROL_PLANE_URL and HALYARD_EDGE_TOKEN go together"),
    };
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let syncer = Syncer::new(
        Arc::clone(&store),
        redis,
        config.redis_prefix,
        control_plane,
    );
    let sync = tokio::spawn(syncer.run(shutdown.clone()));
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "edge listening");
    axum::serve(listener, api::router(store))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")?;
    sync.abort();
    Ok(())
}
