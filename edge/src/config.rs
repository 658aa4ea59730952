//! Configuration: command-line flags, each also a `HALYARD_*` variable.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::Args;
use secrecy::SecretString;

/// The edge's settings.
#[derive(Debug, Clone, Args)]
pub struct EdgeConfig {
    /// Address of the SDK-facing API.
    #[arg(
        long = "listen",
        env = "HALYARD_EDGE_LISTEN",
        default_value = "0.0.0.0:8081"
    )]
    pub listen: SocketAddr,

    /// Address of the Prometheus metrics endpoint (`/metrics`).
    #[arg(
        long,
        env = "HALYARD_EDGE_METRICS_LISTEN",
        default_value = "0.0.0.0:9091"
    )]
    pub metrics_listen: SocketAddr,

    /// Redis URL the control plane publishes to.
    #[arg(long, env = "HALYARD_REDIS_URL", hide_env_values = true)]
    pub redis_url: SecretString,

    /// Prefix of every Redis key and channel (as configured on the control plane).
    #[arg(long, env = "HALYARD_REDIS_PREFIX", default_value = "halyard")]
    pub redis_prefix: String,

    /// Control plane base URL, the fallback source of snapshots, e.g. http://control-plane:8080.
    #[arg(long, env = "HALYARD_CONTROL_PLANE_URL")]
    pub control_plane_url: Option<String>,

    /// Edge token for the control plane's snapshot endpoint.
    #[arg(long, env = "HALYARD_EDGE_TOKEN", hide_env_values = true)]
    pub edge_token: Option<SecretString>,

    /// Directory where the edge keeps the last snapshot of every environment,
    /// to start from when Redis and the control plane are both unreachable.
    #[arg(long, env = "HALYARD_EDGE_SNAPSHOT_DIR")]
    pub snapshot_dir: Option<PathBuf>,

    /// Requests per second allowed per SDK key (bursts of one second's
    /// worth); over it, 429 with Retry-After. Unlimited when unset.
    #[arg(long, env = "HALYARD_EDGE_RATE_LIMIT")]
    pub rate_limit: Option<NonZeroU32>,

    /// Memory for cached all-flags evaluation responses (per revision and
    /// request body), in MiB; 0 disables the cache.
    #[arg(long, env = "HALYARD_EDGE_RESPONSE_CACHE_MIB", default_value_t = 64)]
    pub response_cache_mib: u64,

    /// At shutdown (SIGTERM), how long to wait for in-flight responses after
    /// closing the streams, in seconds.
    #[arg(long, env = "HALYARD_SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,
}

/// What an edge runs with whatever its bus (the all-in-one node sets these
/// too).
#[derive(Debug, Clone, Default)]
pub struct EdgeSettings {
    /// See [`EdgeConfig::snapshot_dir`].
    pub snapshot_dir: Option<PathBuf>,
    /// See [`EdgeConfig::rate_limit`].
    pub rate_limit: Option<NonZeroU32>,
    /// See [`EdgeConfig::response_cache_mib`].
    pub response_cache_mib: u64,
}

impl EdgeConfig {
    /// The settings that do not concern the bus or the listeners.
    pub fn settings(&self) -> EdgeSettings {
        EdgeSettings {
            snapshot_dir: self.snapshot_dir.clone(),
            rate_limit: self.rate_limit,
            response_cache_mib: self.response_cache_mib,
        }
    }
}
