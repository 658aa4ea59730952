//! The PostgreSQL store. Every query lives in a `.sql` file: the ones both
//! backends run in `store/queries/`, PostgreSQL's own (locks, casts,
//! `pg_notify`) in `postgres/queries/`; each is exercised by the shared
//! store suite against a real database. (Runtime-checked queries rather
//! than `query!` macros: the same services run on two backends, and the
//! tests cover every statement.) The methods both backends share are in
//! `store/sql.rs`.

use halyard_common::{ChangeMessage, SnapshotData};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows::{AuditRow, ConfigRow, EnvRow, FlagRow, KeyRow, OutboxDbRow, SegmentRow, json};
use super::{
    ApiKeyRecord, AuditEntry, AuditFilter, ConfigRecord, EnvironmentRecord, FlagFilter, FlagRecord,
    OutboxClaim, OutboxRow, Page, SegmentRecord, SessionRecord, Store, StoreError, StoreResult, Tx,
};

/// The migrations in `migrations/postgres`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

use super::shared_sql;
use super::sql::{impl_claim, impl_store, impl_tx, snapshot_fns};

type Conn = sqlx::PgConnection;

/// A PostgreSQL-only query (`postgres/queries/`).
macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/store/postgres/queries/",
            $name,
            ".sql"
        ))
    };
}

/// The `FOR UPDATE` form of a shared read (`postgres/queries/*_for_update`).
macro_rules! for_update {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/store/postgres/queries/",
            $name,
            "_for_update.sql"
        ))
    };
}

/// Maps driver errors to store errors, naming violated unique constraints and
/// telling an unreachable server (503) from a failing query.
pub(crate) fn map_err(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let what = match db.constraint() {
                Some("flags_key_key") => "flag key",
                Some("environments_key_key") => "environment key",
                Some("segments_environment_key_key") => "segment key",
                Some("api_keys_sha256_key") => "api key",
                Some("outbox_environment_revision_key") => "outbox revision",
                _ => "unique value",
            };
            StoreError::Duplicate(what)
        }
        // The server is going away or not accepting connections yet:
        // SQLSTATE class 08 (connection exception) and 57P0x (shutdown,
        // crash, cannot connect now), as during a restart or failover.
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")) =>
        {
            StoreError::Unavailable(err)
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed => StoreError::Unavailable(err),
        _ => StoreError::Database(err),
    }
}

/// A PostgreSQL-backed store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects lazily (the first query connects), so a control plane starts
    /// and reports not-ready while the database is down.
    pub fn connect_lazy(options: PgConnectOptions, max_connections: u32) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_lazy_with(options);
        Self { pool }
    }

    /// Wraps an existing pool (tests).
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool (for metrics and migrations).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        MIGRATOR.run(&self.pool).await
    }
}

snapshot_fns!();

/// A read-only transaction that sees one consistent state.
async fn consistent_read(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await.map_err(map_err)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    Ok(tx)
}

impl_store!(PgStore, {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = self.pool.begin().await.map_err(map_err)?;
        Ok(Box::new(PgTx { tx }))
    }

    async fn ready(&self) -> StoreResult<bool> {
        let applied: Result<i64, _> = sqlx::query_scalar(shared_sql!("migrations_applied"))
            .fetch_one(&self.pool)
            .await;
        match applied {
            Ok(n) => Ok(n >= i64::try_from(MIGRATOR.iter().count()).unwrap_or(i64::MAX)),
            // The migrations table does not exist yet.
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P01") => Ok(false),
            Err(err) => Err(map_err(err)),
        }
    }

    async fn snapshot(&self, environment: &str) -> StoreResult<Option<SnapshotData>> {
        let mut tx = consistent_read(&self.pool).await?;
        let snapshot = snapshot_in(&mut tx, environment).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(snapshot)
    }

    async fn claim_outbox(
        &self,
        environment_id: Uuid,
    ) -> StoreResult<Option<Box<dyn OutboxClaim>>> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // Repeatable read: the pending rows and the snapshot come from one state.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let claimed: bool = sqlx::query_scalar(sql!("outbox_try_claim"))
            .bind(environment_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        if !claimed {
            return Ok(None);
        }
        Ok(Some(Box::new(PgClaim { tx, environment_id })))
    }
});

/// A PostgreSQL write transaction.
struct PgTx {
    tx: Transaction<'static, Postgres>,
}

impl_tx!(PgTx, {
    async fn insert_outbox(
        &mut self,
        environment_id: Uuid,
        message: &ChangeMessage,
    ) -> StoreResult<()> {
        // Orders outbox ids by commit (re-entrant: cheap after the first insert).
        sqlx::query(sql!("outbox_order_lock"))
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        sqlx::query(sql!("outbox_insert"))
            .bind(environment_id)
            .bind(message.environment.as_str())
            .bind(to_i64(message.revision))
            .bind(json(message))
            .bind(message.committed_at)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(map_err)
    }
});

/// A relay's claim on one environment's outbox.
struct PgClaim {
    tx: Transaction<'static, Postgres>,
    environment_id: Uuid,
}

impl_claim!(PgClaim, {
    async fn mark_published(&mut self, ids: &[i64]) -> StoreResult<()> {
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
