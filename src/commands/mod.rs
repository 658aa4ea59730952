//! The subcommands that work on a store directly (no server needed):
//! `migrate`, `keys`, `export`, `import`, `import-legacy`, and the store
//! selection they share.

pub(crate) mod backup;
pub(crate) mod import_legacy;
pub(crate) mod keys;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use halyard_control_plane::service::Service;
use halyard_control_plane::store::Store;
use halyard_control_plane::store::postgres::PgStore;
use secrecy::{ExposeSecret, SecretString};

/// Which database: PostgreSQL when a URL is given, else the all-in-one
/// node's SQLite file.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// PostgreSQL URL, e.g. postgres://halyard:secret@db:5432/halyard;
    /// without it, the all-in-one node's SQLite database in --data-dir.
    #[arg(
        long,
        global = true,
        env = "HALYARD_DATABASE_URL",
        hide_env_values = true
    )]
    pub(crate) database_url: Option<SecretString>,

    /// The all-in-one node's data directory.
    #[arg(
        long,
        global = true,
        env = "HALYARD_DATA_DIR",
        default_value = "halyard-data"
    )]
    pub(crate) data_dir: PathBuf,
}

impl StoreArgs {
    /// Opens the store, applies pending migrations and creates the default
    /// environments if missing (as a server's first start would).
    pub(crate) async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        let store = self.open_migrated().await?;
        Service::new(Arc::clone(&store))
            .ensure_default_environments()
            .await
            .context("creating the default environments")?;
        Ok(store)
    }

    /// Opens the store and applies pending migrations, nothing else.
    pub(crate) async fn open_migrated(&self) -> anyhow::Result<Arc<dyn Store>> {
        match &self.database_url {
            Some(url) => {
                let options = url
                    .expose_secret()
                    .parse()
                    .context("invalid database URL (--database-url / HALYARD_DATABASE_URL)")?;
                let store = PgStore::connect_lazy(options, 2);
                store
                    .migrate()
                    .await
                    .context("applying migrations (is PostgreSQL reachable at --database-url?)")?;
                Ok(Arc::new(store))
            }
            None => Ok(Arc::new(crate::serve::open_store(&self.data_dir).await?)),
        }
    }
}

/// `halyard migrate`.
pub(crate) async fn migrate(store: StoreArgs) -> anyhow::Result<()> {
    store.open_migrated().await?;
    tracing::info!("migrations applied");
    Ok(())
}

/// A service error as a command-line message: the API's message, naming
/// the offending field, as an option (`--environment`, when `options`) or
/// as a document path.
pub(crate) fn describe(err: &halyard_control_plane::error::Error, options: bool) -> String {
    match err {
        halyard_control_plane::error::Error::InvalidRequest {
            message,
            path: Some(path),
        } if options => format!("{message} (--{})", path.replace('_', "-")),
        halyard_control_plane::error::Error::InvalidRequest {
            message,
            path: Some(path),
        } => format!("{message} (at {path})"),
        other => other.to_string(),
    }
}
