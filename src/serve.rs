//! `halyard serve`, the default: the control plane and an edge in one
//! process, on a SQLite file and the in-process bus, so nothing else has to
//! be installed. The admin API and every SDK route share one port; metrics
//! (both sets) have their own.
//!
//! On the first start (a database that has never held a key) it prints an
//! admin token and a server and a client SDK key per environment, once.
//! `HALYARD_ADMIN_API_KEY` adds a bootstrap admin key (never stored) and
//! `HALYARD_LEGACY_SDK_KEY` registers the old system's shared SDK key as a
//! server key of `production`, so existing apps keep working unchanged.

use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use clap::Args;
use futures::FutureExt as _;
use halyard_common::bus::LocalBus;
use halyard_control_plane::service::keys::{BootstrapKey, NewKey};
use halyard_control_plane::service::{Actor, Service};
use halyard_control_plane::startup::{Options, assemble};
use halyard_control_plane::store::sqlite::SqliteStore;
use halyard_control_plane::store::{ApiKeyKind, Store};
use halyard_edge::config::EdgeSettings;
use halyard_edge::state::Edge;
use halyard_edge::sync::Bus;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use utoipa::OpenApi as _;

/// The database file inside the data directory.
pub(crate) const DATABASE_FILE: &str = "halyard.sqlite3";

/// The all-in-one node's settings.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeConfig {
    /// Address of the admin API and every SDK route. The default serves
    /// this machine only; use 0.0.0.0:8080 to serve the network.
    #[arg(long, env = "HALYARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,

    /// Address of the Prometheus metrics endpoint (`/metrics`).
    #[arg(long, env = "HALYARD_METRICS_LISTEN", default_value = "127.0.0.1:9090")]
    pub(crate) metrics_listen: SocketAddr,

    /// Directory of the SQLite database (created if missing).
    #[arg(long, env = "HALYARD_DATA_DIR", default_value = "halyard-data")]
    pub(crate) data_dir: PathBuf,

    /// Bootstrap admin key (admin role) accepted in addition to stored
    /// tokens; never stored. `admin-secret-key` makes the old README's
    /// examples work verbatim.
    #[arg(long, env = "HALYARD_ADMIN_API_KEY", hide_env_values = true)]
    pub(crate) admin_api_key: Option<SecretString>,

    /// The old system's shared SDK key: registered (its hash) as a server
    /// key of `production` so existing apps and the old SDK keep working.
    #[arg(long, env = "HALYARD_LEGACY_SDK_KEY", hide_env_values = true)]
    pub(crate) legacy_sdk_key: Option<SecretString>,

    /// Largest accepted admin request body, in bytes (larger ones get 413).
    #[arg(long, env = "HALYARD_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub(crate) max_body_bytes: usize,

    /// Requests per second allowed per SDK key; unlimited when unset.
    #[arg(long, env = "HALYARD_EDGE_RATE_LIMIT")]
    pub(crate) rate_limit: Option<NonZeroU32>,

    /// Memory for cached all-flags evaluation responses, in MiB.
    #[arg(long, env = "HALYARD_EDGE_RESPONSE_CACHE_MIB", default_value_t = 64)]
    pub(crate) response_cache_mib: u64,

    /// How long to wait for in-flight requests at shutdown, in seconds.
    #[arg(long, env = "HALYARD_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub(crate) shutdown_grace_seconds: u64,
}

/// Runs the all-in-one node until `shutdown`.
pub(crate) async fn run(
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _lock = lock_data_dir(&config.data_dir)?;
    let store = open_store(&config.data_dir).await?;
    let store: Arc<dyn Store> = Arc::new(store);
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {} (--listen)", config.listen))?;
    let metrics_listener = TcpListener::bind(config.metrics_listen)
        .await
        .with_context(|| format!("binding {} (--metrics-listen)", config.metrics_listen))?;

    let shutdown = shutdown.boxed().shared();
    let bus = LocalBus::new();
    let control_plane = assemble(
        Arc::clone(&store),
        Options {
            admin_api_key: config
                .admin_api_key
                .as_ref()
                .map(|k| k.expose_secret().to_owned()),
            // The all-in-one node's edge reads the in-process bus.
            edge_token: None,
            body_limit: config.max_body_bytes,
            pool: None,
            bus: Some(Box::new(Arc::clone(&bus))),
        },
        shutdown.clone(),
    )
    .await?;
    if let Some(keys) = control_plane.service.bootstrap_keys().await? {
        print_bootstrap_keys(&keys, &config.data_dir);
    }
    if let Some(legacy) = &config.legacy_sdk_key {
        register_legacy_key(&control_plane.service, legacy.expose_secret()).await?;
    }

    seed(&bus, store.as_ref()).await?;
    let edge = halyard_edge::startup::start(
        &EdgeSettings {
            snapshot_dir: None,
            rate_limit: config.rate_limit,
            response_cache_mib: config.response_cache_mib,
        },
        Bus::Local(bus),
        None,
        shutdown.clone(),
    )?;
    let app = Router::new()
        .route("/readyz", get(readyz))
        .route("/api/openapi.json", get(openapi))
        .with_state(Ready {
            service: control_plane.service.clone(),
            edge: Arc::clone(&edge.edge),
        })
        .merge(halyard_edge::api::sdk_router(Arc::clone(&edge.edge)))
        .fallback_service(control_plane.app.clone());

    let metrics = {
        let edge = Arc::clone(&edge.edge);
        let control_plane = control_plane.metrics.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let edge = Arc::clone(&edge);
                let control_plane = control_plane.clone();
                async move {
                    control_plane.render() + &edge.metrics.render(&edge.store, &edge.cache)
                }
            }),
        )
    };
    tracing::info!(
        address = %listener.local_addr()?,
        metrics = %metrics_listener.local_addr()?,
        data = %config.data_dir.display(),
        "halyard listening (all-in-one: admin API and SDK routes)"
    );
    let metrics = tokio::spawn(
        axum::serve(metrics_listener, metrics)
            .with_graceful_shutdown(shutdown.clone())
            .into_future(),
    );
    let closing = Arc::clone(&edge.edge);
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    halyard_edge::serve::serve_http1(
        listener,
        app,
        shutdown,
        move || {
            tracing::info!("shutting down: closing streams, draining requests");
            closing.close_streams();
        },
        grace,
    )
    .await;
    metrics.abort();
    edge.stop();
    // The relay stopped publishing when shutdown began; anything committed
    // since stays in the outbox and goes out at the next start.
    control_plane.stop(grace).await;
    tracing::info!("halyard stopped");
    Ok(())
}

/// Takes the data directory for this process: two nodes on one SQLite
/// file would each publish part of the changes on their own in-process bus.
/// (Commands such as `halyard keys` may still use it: they write through
/// the database, and the node publishes their changes.)
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data_dir).with_context(|| {
        format!(
            "creating the data directory {} (--data-dir)",
            data_dir.display()
        )
    })?;
    let path = data_dir.join("halyard.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another halyard node is running on {} (--data-dir); stop it or choose another directory",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// Opens (creating it) the data directory's database and migrates it.
pub(crate) async fn open_store(data_dir: &Path) -> anyhow::Result<SqliteStore> {
    std::fs::create_dir_all(data_dir).with_context(|| {
        format!(
            "creating the data directory {} (--data-dir)",
            data_dir.display()
        )
    })?;
    let path = data_dir.join(DATABASE_FILE);
    let store = SqliteStore::open(&path)
        .await
        .with_context(|| format!("opening the database {}", path.display()))?;
    store
        .migrate()
        .await
        .with_context(|| format!("migrating the database {}", path.display()))?;
    Ok(store)
}

/// Puts every environment's current snapshot on the bus before the edge
/// subscribes. The bus starts empty with each process, and the relay only
/// re-seeds it on its sweep, without a message an edge would notice; the
/// edge's sync takes what the bus holds at start as the environments.
async fn seed(bus: &LocalBus, store: &dyn Store) -> anyhow::Result<()> {
    for environment in store.environments().await? {
        if let Some(snapshot) = store.snapshot(environment.key.as_str()).await? {
            bus.store_snapshot(&snapshot);
        }
    }
    Ok(())
}

/// Registers the old system's shared SDK key in `production`.
async fn register_legacy_key(service: &Service, plaintext: &str) -> anyhow::Result<()> {
    let (created, key) = service
        .register_key(
            &Actor::system(),
            NewKey {
                name: "legacy SDK key".into(),
                kind: ApiKeyKind::Server,
                role: None,
                environment: Some("production".into()),
                expires_at: None,
            },
            plaintext,
        )
        .await
        .context("registering HALYARD_LEGACY_SDK_KEY as a production server key")?;
    let production = service
        .store()
        .environment("production")
        .await?
        .map(|e| e.id);
    if created {
        tracing::info!("registered HALYARD_LEGACY_SDK_KEY as a server key of production");
    } else if key.kind != ApiKeyKind::Server || key.environment_id != production {
        tracing::warn!(
            key = %key.id,
            kind = key.kind.as_str(),
            "HALYARD_LEGACY_SDK_KEY is already another kind of key; old apps using it will be refused"
        );
    } else if !key.is_active(halyard_control_plane::service::now()) {
        tracing::warn!(
            key = %key.id,
            "HALYARD_LEGACY_SDK_KEY was revoked or has expired; old apps using it will be refused (it stays revoked)"
        );
    }
    Ok(())
}

/// Prints the first start's keys, once, on stdout.
fn print_bootstrap_keys(keys: &[BootstrapKey], data_dir: &Path) {
    let mut text = String::from(
        "\nHalyard's first start: these keys are shown once and only their hashes are stored.\n\
         Keep them now (create more with `halyard keys create` or the admin API).\n\n",
    );
    for key in keys {
        let what = match (key.record.kind, &key.environment) {
            (ApiKeyKind::Admin, _) => "admin token (X-Admin-API-Key)".to_owned(),
            (kind, Some(environment)) => format!("{environment} {} SDK key", kind.as_str()),
            (kind, None) => format!("{} key", kind.as_str()),
        };
        text.push_str(&format!("  {what:<34} {}\n", key.plaintext));
    }
    let data = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    text.push_str(&format!("\nData: {}\n\n", data.display()));
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

#[derive(Clone)]
struct Ready {
    service: Service,
    edge: Arc<Edge>,
}

/// Ready when the database answers and the SDK routes have every
/// environment's snapshot.
async fn readyz(State(ready): State<Ready>) -> (StatusCode, Json<Value>) {
    let database = ready.service.store().ready().await.unwrap_or(false);
    let snapshots = ready.edge.store.is_ready();
    let status = if database && snapshots {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "starting" },
        "database": database,
        "snapshots": snapshots,
        "revisions": ready.edge.store.revisions(),
    });
    (status, Json(body))
}

/// One document: the admin API's and the edge's.
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    let mut document = halyard_control_plane::api::openapi::ApiDoc::openapi();
    document.merge(halyard_edge::api::openapi::ApiDoc::openapi());
    Json(document)
}
