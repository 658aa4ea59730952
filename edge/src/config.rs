//! Configuration: command-line flags, each also a `HALYARD_*` variable.

use std::net::SocketAddr;

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
}
