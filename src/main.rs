//! The `halyard` command.
//!
//! - `halyard` / `halyard serve` (the default): the all-in-one node, the
//!   control plane and an edge in one process on SQLite (`src/serve.rs`).
//! - `halyard control-plane`: the admin API and the outbox relay, on
//!   PostgreSQL and Redis.
//! - `halyard edge`: an edge, synced through Redis.
//! - `halyard migrate`: applies the database migrations and exits.
//! - `halyard keys`: creates, lists and revokes keys on the database.
//! - `halyard export` / `import`: the whole state as one JSON document.
//! - `halyard import-legacy`: the old system's flags into `production`.
//!
//! Every option is also a `HALYARD_*` environment variable; `--help` on
//! every level lists them.

/// mimalloc: allocation-heavy request paths (JSON in, JSON out) run
/// measurably faster than on the system allocator (benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod commands;
mod serve;

use clap::{Parser, Subcommand};
use halyard_control_plane::config::ControlPlaneConfig;
use halyard_control_plane::{startup, telemetry};
use halyard_edge::config::EdgeConfig;

/// Halyard: self-hosted feature flags. Without a subcommand, runs the
/// all-in-one node (`serve`).
#[derive(Debug, Parser)]
#[command(name = "halyard", version, about, long_about = None, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    serve: serve::ServeConfig,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the all-in-one node (the default): admin API and SDK routes on
    /// one port, on a SQLite file, nothing else to install.
    Serve(serve::ServeConfig),
    /// Run the control plane: admin API, audit log and the outbox relay to Redis.
    ControlPlane(ControlPlaneConfig),
    /// Run an edge: SDK configurations from snapshots synced through Redis.
    Edge(EdgeConfig),
    /// Apply pending database migrations and exit.
    Migrate(commands::StoreArgs),
    /// Create, list and revoke admin tokens, SDK keys and edge tokens.
    Keys(commands::keys::KeysArgs),
    /// Write the whole state (flags, environments, segments, keys as hashes,
    /// audit log) as one JSON document.
    Export(commands::backup::ExportArgs),
    /// Restore an export into a new database, or apply a flags document (--flags).
    Import(commands::backup::ImportArgs),
    /// Import the old system's flags (its feature_flags table) into production.
    ImportLegacy(commands::import_legacy::ImportLegacyArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    match cli.command {
        None => serve::run(cli.serve, startup::shutdown_signal()).await,
        Some(Command::Serve(config)) => serve::run(config, startup::shutdown_signal()).await,
        Some(Command::ControlPlane(config)) => {
            startup::run(config, startup::shutdown_signal()).await
        }
        Some(Command::Edge(config)) => {
            halyard_edge::startup::run(config, startup::shutdown_signal()).await
        }
        Some(Command::Migrate(store)) => commands::migrate(store).await,
        Some(Command::Keys(args)) => commands::keys::run(args).await,
        Some(Command::Export(args)) => commands::backup::export(args).await,
        Some(Command::Import(args)) => commands::backup::import(args).await,
        Some(Command::ImportLegacy(args)) => commands::import_legacy::run(args).await,
    }
}
