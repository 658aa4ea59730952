//! Wiring: the router with its layers, the background tasks (outbox relay,
//! event-feed waker, metrics sampler) and the two listeners (API, metrics),
//! all stopped by one shutdown future.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Router, middleware};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::trace::TraceLayer;

use crate::api;
use crate::auth::Authenticator;
use crate::config::ControlPlaneConfig;
use crate::metrics::{self, Metrics};
use crate::outbox::{Bus, RedisBus, RedisTarget, Relay, RelayMetrics, redis_connection};
use crate::service::Service;
use crate::state::AppState;
use crate::store::Store;
use crate::store::postgres::PgStore;

/// The admin API router with its layers (request metrics, tracing, body limit).
pub fn app(state: AppState, metrics: Metrics) -> Router {
    let body_limit = state.body_limit;
    api::router(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn_with_state(metrics, metrics::track))
}

/// The metrics router (`/metrics`).
pub fn metrics_app(metrics: Metrics) -> Router {
    Router::new().route("/metrics", get(move || async move { metrics.render() }))
}

/// Keeps `head` at the newest outbox id: on every commit the store reports
/// ([`Store::outbox_changes`], SQLite), else on every `NOTIFY
/// halyard_outbox` through a `LISTEN` connection from `pool` (PostgreSQL),
/// and at least once a second (notifications are lost while reconnecting).
pub async fn watch_outbox(store: Arc<dyn Store>, pool: Option<PgPool>, head: watch::Sender<i64>) {
    let mut changes = store.outbox_changes();
    let mut listener = match (&changes, &pool) {
        (None, Some(pool)) => match PgListener::connect_with(pool).await {
            Ok(mut listener) => match listener.listen("halyard_outbox").await {
                Ok(()) => Some(listener),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot listen for outbox notifications; polling");
                    None
                }
            },
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for outbox notifications; polling");
                None
            }
        },
        _ => None,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let notified = match (&mut changes, &mut listener) {
            (Some(changes), _) => tokio::select! {
                changed = changes.changed() => changed.is_ok(),
                _ = tick.tick() => true,
            },
            (None, Some(l)) => tokio::select! {
                received = l.recv() => received.is_ok(),
                _ = tick.tick() => true,
            },
            (None, None) => {
                tick.tick().await;
                true
            }
        };
        if !notified {
            // The listener reconnects on its next recv; never spin meanwhile.
            tick.tick().await;
        }
        if let Ok(id) = store.outbox_head().await {
            head.send_if_modified(|current| {
                let changed = *current != id;
                *current = id;
                changed
            });
        }
        if head.is_closed() {
            return;
        }
    }
}

/// What a control plane needs besides its store.
pub struct Options {
    /// A bootstrap admin key accepted besides stored tokens.
    pub admin_api_key: Option<String>,
    /// A bootstrap edge token accepted besides stored tokens.
    pub edge_token: Option<String>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// PostgreSQL's pool, for `LISTEN` and pool metrics (none on SQLite).
    pub pool: Option<PgPool>,
    /// Where the outbox relay publishes; `None` runs no relay here.
    pub bus: Option<Box<dyn Bus>>,
}

/// A control plane's parts, running: its router, its metrics and its
/// background tasks (stopped by [`Assembled::stop`]).
pub struct Assembled {
    /// The admin API with its layers.
    pub app: Router,
    /// Its metrics (render them on a metrics listener).
    pub metrics: Metrics,
    /// The use-cases.
    pub service: Service,
    tasks: tokio::task::JoinSet<()>,
    relay: Option<tokio::task::JoinHandle<()>>,
}

impl Assembled {
    /// Stops the background tasks, giving the relay `grace` to commit the
    /// marks of its step in progress (it stops by itself on shutdown).
    pub async fn stop(mut self, grace: Duration) {
        self.tasks.abort_all();
        if let Some(relay) = self.relay
            && tokio::time::timeout(grace, relay).await.is_err()
        {
            tracing::warn!("the outbox relay did not stop within the grace period");
        }
    }
}

/// Creates the default environments and starts the background tasks (the
/// outbox watcher, the metrics sampler and, with a bus, the relay, which
/// stops on `shutdown`).
pub async fn assemble(
    store: Arc<dyn Store>,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Assembled> {
    let service = Service::new(Arc::clone(&store));
    for env in service
        .ensure_default_environments()
        .await
        .context("creating the default environments")?
    {
        tracing::info!(environment = %env.key, "created environment");
    }
    let metrics = Metrics::new();
    let (head_tx, head_rx) = watch::channel(store.outbox_head().await.unwrap_or(0));
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(watch_outbox(
        Arc::clone(&store),
        options.pool.clone(),
        head_tx,
    ));
    tasks.spawn(metrics.clone().sample(
        Arc::clone(&store),
        options.pool.clone(),
        Duration::from_secs(5),
    ));
    let relay = match options.bus {
        Some(bus) => {
            let mut relay = Relay::on_bus(Arc::clone(&store), bus)
                .with_metrics(RelayMetrics::new(metrics.registry())?);
            if let Some(pool) = options.pool {
                relay = relay.with_listener(pool);
            }
            Some(tokio::spawn(relay.run(shutdown)))
        }
        None => None,
    };
    let state = AppState {
        service: service.clone(),
        auth: Arc::new(
            Authenticator::new(options.admin_api_key.as_deref())
                .with_edge_token(options.edge_token.as_deref()),
        ),
        body_limit: options.body_limit,
        outbox_head: head_rx,
    };
    Ok(Assembled {
        app: app(state, metrics.clone()),
        metrics,
        service,
        tasks,
        relay,
    })
}

/// Runs the control plane until `shutdown` completes.
pub async fn run(
    config: ControlPlaneConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = PgStore::connect_lazy(
        config.connect_options().context("invalid database URL")?,
        config.database_max_connections,
    );
    if !config.no_migrate {
        store.migrate().await.context(
            "applying database migrations (is PostgreSQL reachable at the configured URL?)",
        )?;
    }
    let pool = store.pool().clone();
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let bus: Option<Box<dyn Bus>> = if config.no_relay {
        None
    } else {
        let client =
            redis::Client::open(config.redis_url.expose_secret()).context("invalid Redis URL")?;
        Some(Box::new(RedisBus {
            redis: redis_connection(client)?,
            target: RedisTarget::new(config.redis_prefix.clone()),
        }))
    };
    let options = Options {
        admin_api_key: config
            .admin_api_key
            .as_ref()
            .map(|k| k.expose_secret().to_owned()),
        edge_token: config
            .edge_token
            .as_ref()
            .map(|k| k.expose_secret().to_owned()),
        body_limit: config.max_body_bytes,
        pool: Some(pool),
        bus,
    };
    let assembled = assemble(Arc::new(store), options, shutdown.clone()).await?;

    let api_listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let metrics_listener = TcpListener::bind(config.metrics_listen)
        .await
        .with_context(|| format!("binding {}", config.metrics_listen))?;
    tracing::info!(api = %api_listener.local_addr()?, metrics = %metrics_listener.local_addr()?, "control plane listening");

    let api_server =
        axum::serve(api_listener, assembled.app.clone()).with_graceful_shutdown(shutdown.clone());
    let metrics_server = axum::serve(metrics_listener, metrics_app(assembled.metrics.clone()))
        .with_graceful_shutdown(shutdown.clone());
    let grace = config.shutdown_grace();
    let servers =
        async { tokio::try_join!(api_server.into_future(), metrics_server.into_future()) };
    tokio::select! {
        result = servers => { result.context("serving")?; }
        () = async { shutdown.clone().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "in-flight requests did not finish within the grace period");
        }
    }
    assembled.stop(grace).await;
    tracing::info!("control plane stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}
