//! The SQLite store, for the all-in-one node: one file, one process.
//!
//! The same schema as PostgreSQL (`migrations/sqlite`), the same rows and
//! portable queries, and the methods both backends share (`store/sql.rs`).
//! What differs:
//!
//! - Write transactions are `BEGIN IMMEDIATE`: they take the database's one
//!   write lock up front and run one at a time, which is what PostgreSQL's
//!   row locks and the outbox order lock achieve (outbox ids follow commit
//!   order). `for_update!` reads are therefore the plain reads.
//! - A committed outbox write bumps an in-process counter
//!   ([`Store::outbox_changes`]) instead of `NOTIFY`.
//! - One outbox claim at a time per store (an in-process lock), inside a
//!   write transaction, so its pending rows, snapshot and marks are one
//!   state.
//! - The file is in WAL mode with `synchronous = FULL`: a commit is on disk
//!   when it returns.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use halyard_common::{ChangeMessage, SnapshotData};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use time::OffsetDateTime;
use tokio::sync::{Mutex, OwnedMutexGuard, watch};
use uuid::Uuid;

use super::rows::{AuditRow, ConfigRow, EnvRow, FlagRow, KeyRow, OutboxDbRow, SegmentRow, json};
use super::shared_sql;
use super::sql::{impl_claim, impl_store, impl_tx, snapshot_fns};
use super::{
    ApiKeyRecord, AuditEntry, AuditFilter, ConfigRecord, EnvironmentRecord, FlagFilter, FlagRecord,
    OutboxClaim, OutboxRow, Page, SegmentRecord, SessionRecord, Store, StoreError, StoreResult, Tx,
};

/// The migrations in `migrations/sqlite`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

type Conn = sqlx::SqliteConnection;

/// A SQLite-only query (`sqlite/queries/`).
macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/store/sqlite/queries/",
            $name,
            ".sql"
        ))
    };
}

/// Reads inside a write transaction need no row locks: the transaction
/// already holds the database's write lock.
macro_rules! for_update {
    ($name:literal) => {
        shared_sql!($name)
    };
}

/// Maps driver errors to store errors, naming violated unique constraints.
fn map_err(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            // SQLite names the columns: "UNIQUE constraint failed: flags.key".
            let message = db.message();
            let what = [
                ("flags.key", "flag key"),
                ("environments.key", "environment key"),
                ("segments.environment_id, segments.key", "segment key"),
                ("api_keys.sha256", "api key"),
                ("outbox.environment_id, outbox.revision", "outbox revision"),
            ]
            .into_iter()
            .find_map(|(columns, what)| message.ends_with(columns).then_some(what))
            .unwrap_or("unique value");
            StoreError::Duplicate(what)
        }
        // Another process holds the write lock beyond the busy timeout.
        sqlx::Error::Database(db) if db.message().contains("database is locked") => {
            StoreError::Unavailable(err)
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            StoreError::Unavailable(err)
        }
        _ => StoreError::Database(err),
    }
}

/// A SQLite-backed store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    outbox_changes: Arc<watch::Sender<u64>>,
    claim: Arc<Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating it if needed) the database file at `path`. Run
    /// [`SqliteStore::migrate`] before use.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            outbox_changes: Arc::new(watch::channel(0).0),
            claim: Arc::new(Mutex::new(())),
        })
    }

    /// The pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        MIGRATOR.run(&self.pool).await
    }

    async fn write_transaction(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)
    }
}

snapshot_fns!();

impl_store!(SqliteStore, {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(SqliteTx {
            tx: self.write_transaction().await?,
            outbox_changes: Arc::clone(&self.outbox_changes),
            wrote_outbox: false,
        }))
    }

    async fn ready(&self) -> StoreResult<bool> {
        let applied: Result<i64, _> = sqlx::query_scalar(shared_sql!("migrations_applied"))
            .fetch_one(&self.pool)
            .await;
        match applied {
            Ok(n) => Ok(n >= i64::try_from(MIGRATOR.iter().count()).unwrap_or(i64::MAX)),
            Err(sqlx::Error::Database(db)) if db.message().contains("no such table") => Ok(false),
            Err(err) => Err(map_err(err)),
        }
    }

    async fn snapshot(&self, environment: &str) -> StoreResult<Option<SnapshotData>> {
        // A read transaction: in WAL mode every read in it sees one state.
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        let snapshot = snapshot_in(&mut tx, environment).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(snapshot)
    }

    async fn claim_outbox(
        &self,
        environment_id: Uuid,
    ) -> StoreResult<Option<Box<dyn OutboxClaim>>> {
        let Ok(guard) = Arc::clone(&self.claim).try_lock_owned() else {
            return Ok(None);
        };
        Ok(Some(Box::new(SqliteClaim {
            tx: self.write_transaction().await?,
            environment_id,
            _guard: guard,
        })))
    }

    fn outbox_changes(&self) -> Option<watch::Receiver<u64>> {
        Some(self.outbox_changes.subscribe())
    }
});

/// A SQLite write transaction.
struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    outbox_changes: Arc<watch::Sender<u64>>,
    wrote_outbox: bool,
}

impl_tx!(SqliteTx, {
    async fn insert_outbox(
        &mut self,
        environment_id: Uuid,
        message: &ChangeMessage,
    ) -> StoreResult<()> {
        sqlx::query(sql!("outbox_insert"))
            .bind(environment_id)
            .bind(message.environment.as_str())
            .bind(to_i64(message.revision))
            .bind(json(message))
            .bind(message.committed_at)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        self.wrote_outbox = true;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(map_err)?;
        if self.wrote_outbox {
            self.outbox_changes.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(())
    }
});

/// A relay's claim: the in-process claim lock and a write transaction.
struct SqliteClaim {
    tx: Transaction<'static, Sqlite>,
    environment_id: Uuid,
    _guard: OwnedMutexGuard<()>,
}

impl_claim!(SqliteClaim, {
    async fn mark_published(&mut self, ids: &[i64]) -> StoreResult<()> {
        let ids = serde_json::to_string(ids).expect("ids serialize");
        sqlx::query(sql!("outbox_mark_published"))
            .bind(ids)
            .bind(OffsetDateTime::now_utc())
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

    async fn finish(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(map_err)
    }
});
