//! Configuration: command-line flags, each also settable through a
//! `HALYARD_*` environment variable (`--help` lists them all).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;

/// The control plane's settings.
#[derive(Debug, Clone, Args)]
pub struct ControlPlaneConfig {
    /// Address of the admin API.
    #[arg(long, env = "HALYARD_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Address of the Prometheus metrics endpoint (`/metrics`).
    #[arg(long, env = "HALYARD_METRICS_LISTEN", default_value = "0.0.0.0:9090")]
    pub metrics_listen: SocketAddr,

    /// PostgreSQL URL, e.g. postgres://halyard:secret@db:5432/halyard.
    #[arg(long, env = "HALYARD_DATABASE_URL", hide_env_values = true)]
    pub database_url: SecretString,

    /// Largest number of database connections.
    #[arg(long, env = "HALYARD_DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,

    /// Redis URL the outbox relay publishes to (e.g. redis://127.0.0.1:6379).
    #[arg(long, env = "HALYARD_REDIS_URL", hide_env_values = true)]
    pub redis_url: SecretString,

    /// Prefix of every Redis key and channel, so installations can share a Redis.
    #[arg(long, env = "HALYARD_REDIS_PREFIX", default_value = "halyard")]
    pub redis_prefix: String,

    /// Bootstrap admin key (admin role) accepted in addition to stored tokens.
    #[arg(long, env = "HALYARD_ADMIN_API_KEY", hide_env_values = true)]
    pub admin_api_key: Option<SecretString>,

    /// An edge token accepted besides stored ones (never stored), so edges can
    /// be configured before the database exists: give edges the same value
    /// in their `HALYARD_EDGE_TOKEN`.
    #[arg(long, env = "HALYARD_EDGE_TOKEN", hide_env_values = true)]
    pub edge_token: Option<SecretString>,

    /// Largest accepted request body, in bytes (larger ones get 413).
    #[arg(long, env = "HALYARD_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Skip applying database migrations at start (run `halyard migrate` instead).
    #[arg(long, env = "HALYARD_NO_MIGRATE", default_value_t = false)]
    pub no_migrate: bool,

    /// Do not run the outbox relay in this instance (another instance publishes).
    #[arg(long, env = "HALYARD_NO_RELAY", default_value_t = false)]
    pub no_relay: bool,

    /// How long to wait for in-flight requests at shutdown, in seconds.
    #[arg(long, env = "HALYARD_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    pub shutdown_grace_seconds: u64,
}

impl ControlPlaneConfig {
    /// Connection options for the database.
    pub fn connect_options(&self) -> Result<PgConnectOptions, sqlx::Error> {
        self.database_url.expose_secret().parse()
    }

    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }
}
