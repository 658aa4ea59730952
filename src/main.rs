//! The `halyard` command.
//!
//! - `halyard control-plane`: the admin API and the outbox relay, on
//!   PostgreSQL and Redis.
//! - `halyard migrate`: applies the database migrations and exits.
//!
//! The all-in-one default, `edge`, `keys`, `export`/`import` and
//! `import-legacy` arrive with the binary issue. Every option is also a
//! `HALYARD_*` environment variable; `--help` lists them.

/// mimalloc: allocation-heavy request paths (JSON in, JSON out) run
/// measurably faster than on the system allocator (benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use halyard_control_plane::config::ControlPlaneConfig;
use halyard_control_plane::store::postgres::PgStore;
use halyard_control_plane::{startup, telemetry};
use halyard_edge::config::EdgeConfig;
use secrecy::{ExposeSecret, SecretString};

/// Halyard: self-hosted feature flags.
#[derive(Debug, Parser)]
#[command(name = "halyard", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane: admin API, audit log and the outbox relay to Redis.
    ControlPlane(ControlPlaneConfig),
    /// Run an edge: SDK configurations from snapshots synced through Redis.
    Edge(EdgeConfig),
    /// Apply pending database migrations and exit.
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// PostgreSQL URL, e.g. postgres://halyard:secret@db:5432/halyard.
    #[arg(long, env = "HALYARD_DATABASE_URL", hide_env_values = true)]
    database_url: SecretString,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    match cli.command {
        Some(Command::ControlPlane(config)) => {
            startup::run(config, startup::shutdown_signal()).await
        }
        Some(Command::Edge(config)) => {
            halyard_edge::startup::run(config, startup::shutdown_signal()).await
        }
        Some(Command::Migrate(args)) => {
            let options = args
                .database_url
                .expose_secret()
                .parse()
                .context("invalid database URL")?;
            PgStore::connect_lazy(options, 1)
                .migrate()
                .await
                .context("applying migrations")?;
            tracing::info!("migrations applied");
            Ok(())
        }
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            anyhow::bail!(
                "choose a subcommand (the all-in-one default arrives with the binary issue)"
            );
        }
    }
}
