//! The PostgreSQL store. Every query lives in `queries/*.sql`, one function
//! per query in this module; each is exercised by the test suite against a
//! real database. (Runtime-checked queries rather than `query!` macros: the
//! same services run on two backends, and the tests cover every statement.)

mod rows;

use async_trait::async_trait;
use halyard_common::model::{EnvironmentFlag, Segment};
use halyard_common::{ChangeMessage, SnapshotData};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use self::rows::{AuditRow, ConfigRow, EnvRow, FlagRow, KeyRow, OutboxDbRow, SegmentRow, json};
use super::{
    ApiKeyRecord, AuditEntry, AuditFilter, ConfigRecord, EnvironmentRecord, FlagFilter, FlagRecord,
    OutboxClaim, OutboxRow, Page, SegmentRecord, Store, StoreError, StoreResult, Tx,
};

/// The migrations in `migrations/postgres`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

macro_rules! sql {
    ($name:literal) => {
        include_str!(concat!("queries/", $name, ".sql"))
    };
}

/// Maps driver errors to store errors, naming violated unique constraints.
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

async fn snapshot_in(
    conn: &mut PgConnection,
    environment: &str,
) -> StoreResult<Option<SnapshotData>> {
    let Some(env) = sqlx::query_as::<_, EnvRow>(sql!("environment_by_key"))
        .bind(environment)
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?
    else {
        return Ok(None);
    };
    let env = env.into_record()?;
    let flags = environment_flags_in(conn, env.id).await?;
    let segments = environment_segments_in(conn, env.id).await?;
    let keys = sqlx::query_as::<_, KeyRow>(sql!("environment_sdk_keys"))
        .bind(env.id)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?
        .into_iter()
        .map(|row| row.into_record().map(|k| k.key_entry()))
        .filter_map(Result::transpose)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(SnapshotData {
        environment: env.key,
        epoch: env.epoch,
        revision: env.revision,
        flags,
        segments,
        keys,
    }))
}

async fn environment_flags_in(
    conn: &mut PgConnection,
    environment_id: Uuid,
) -> StoreResult<Vec<EnvironmentFlag>> {
    sqlx::query_as::<_, FlagRow>(sql!("environment_flags"))
        .bind(environment_id)
        .fetch_all(conn)
        .await
        .map_err(map_err)?
        .into_iter()
        .map(|row| {
            let (flag, config) = row.into_records()?;
            Ok(EnvironmentFlag {
                flag: flag.flag,
                config: config.config,
            })
        })
        .collect()
}

async fn environment_segments_in(
    conn: &mut PgConnection,
    environment_id: Uuid,
) -> StoreResult<Vec<Segment>> {
    sqlx::query_as::<_, SegmentRow>(sql!("environment_segments"))
        .bind(environment_id)
        .fetch_all(conn)
        .await
        .map_err(map_err)?
        .into_iter()
        .map(|row| row.into_record().map(|r| r.segment))
        .collect()
}

/// A read-only transaction that sees one consistent state.
async fn consistent_read(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await.map_err(map_err)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    Ok(tx)
}

#[async_trait]
impl Store for PgStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = self.pool.begin().await.map_err(map_err)?;
        Ok(Box::new(PgTx { tx }))
    }

    async fn ready(&self) -> StoreResult<bool> {
        let applied: Result<i64, _> = sqlx::query_scalar(sql!("migrations_applied"))
            .fetch_one(&self.pool)
            .await;
        match applied {
            Ok(n) => Ok(n >= i64::try_from(MIGRATOR.iter().count()).unwrap_or(i64::MAX)),
            // The migrations table does not exist yet.
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P01") => Ok(false),
            Err(err) => Err(map_err(err)),
        }
    }

    async fn environments(&self) -> StoreResult<Vec<EnvironmentRecord>> {
        sqlx::query_as::<_, EnvRow>(sql!("environments_all"))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(EnvRow::into_record)
            .collect()
    }

    async fn environment(&self, key: &str) -> StoreResult<Option<EnvironmentRecord>> {
        sqlx::query_as::<_, EnvRow>(sql!("environment_by_key"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(EnvRow::into_record)
            .transpose()
    }

    async fn flags(
        &self,
        environment_id: Uuid,
        filter: &FlagFilter,
    ) -> StoreResult<Page<(FlagRecord, ConfigRecord)>> {
        let rows = sqlx::query_as::<_, FlagRow>(sql!("flags_page"))
            .bind(environment_id)
            .bind(filter.query.as_deref())
            .bind(filter.tag.as_deref())
            .bind(i64::from(filter.limit))
            .bind(i64::try_from(filter.offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        let total = rows.first().map_or(0, |r| r.total);
        let items = rows
            .into_iter()
            .map(FlagRow::into_records)
            .collect::<StoreResult<_>>()?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn flag(&self, key: &str) -> StoreResult<Option<FlagRecord>> {
        sqlx::query_as::<_, FlagRow>(sql!("flag_by_key"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(FlagRow::into_flag)
            .transpose()
    }

    async fn flag_by_id(&self, id: Uuid) -> StoreResult<Option<FlagRecord>> {
        sqlx::query_as::<_, FlagRow>(sql!("flag_by_id"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(FlagRow::into_flag)
            .transpose()
    }

    async fn config(
        &self,
        flag_id: Uuid,
        environment_id: Uuid,
    ) -> StoreResult<Option<ConfigRecord>> {
        sqlx::query_as::<_, ConfigRow>(sql!("config_get"))
            .bind(flag_id)
            .bind(environment_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(ConfigRow::into_record)
            .transpose()
    }

    async fn segments(
        &self,
        environment_id: Uuid,
        filter: &FlagFilter,
    ) -> StoreResult<Page<SegmentRecord>> {
        let rows = sqlx::query_as::<_, SegmentRow>(sql!("segments_page"))
            .bind(environment_id)
            .bind(filter.query.as_deref())
            .bind(i64::from(filter.limit))
            .bind(i64::try_from(filter.offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        let total = rows.first().map_or(0, |r| r.total);
        let items = rows
            .into_iter()
            .map(SegmentRow::into_record)
            .collect::<StoreResult<_>>()?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn segment(&self, environment_id: Uuid, key: &str) -> StoreResult<Option<SegmentRecord>> {
        sqlx::query_as::<_, SegmentRow>(sql!("segment_get"))
            .bind(environment_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(SegmentRow::into_record)
            .transpose()
    }

    async fn api_key_by_hash(&self, sha256: &str) -> StoreResult<Option<ApiKeyRecord>> {
        sqlx::query_as::<_, KeyRow>(sql!("api_key_by_hash"))
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(KeyRow::into_record)
            .transpose()
    }

    async fn api_key(&self, id: Uuid) -> StoreResult<Option<ApiKeyRecord>> {
        sqlx::query_as::<_, KeyRow>(sql!("api_key_by_id"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(KeyRow::into_record)
            .transpose()
    }

    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        sqlx::query_as::<_, KeyRow>(sql!("api_keys_all"))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(KeyRow::into_record)
            .collect()
    }

    async fn audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        sqlx::query_as::<_, AuditRow>(sql!("audit_page"))
            .bind(filter.flag_key.as_deref())
            .bind(filter.actor.as_deref())
            .bind(filter.since)
            .bind(filter.until)
            .bind(filter.before_id)
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)
            .map(|rows| rows.into_iter().map(AuditRow::into_entry).collect())
    }

    async fn snapshot(&self, environment: &str) -> StoreResult<Option<SnapshotData>> {
        let mut tx = consistent_read(&self.pool).await?;
        let snapshot = snapshot_in(&mut tx, environment).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(snapshot)
    }

    async fn outbox_after(&self, after_id: i64, limit: u32) -> StoreResult<Vec<OutboxRow>> {
        sqlx::query_as::<_, OutboxDbRow>(sql!("outbox_after"))
            .bind(after_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(OutboxDbRow::into_row)
            .collect()
    }

    async fn outbox_head(&self) -> StoreResult<i64> {
        sqlx::query_scalar(sql!("outbox_head"))
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn pending_environments(&self) -> StoreResult<Vec<Uuid>> {
        sqlx::query_scalar(sql!("outbox_pending_environments"))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn outbox_backlog(&self) -> StoreResult<(u64, Option<OffsetDateTime>)> {
        let (count, oldest): (i64, Option<OffsetDateTime>) = sqlx::query_as(sql!("outbox_backlog"))
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok((u64::try_from(count).unwrap_or(0), oldest))
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
}

/// A PostgreSQL write transaction.
struct PgTx {
    tx: Transaction<'static, Postgres>,
}

#[async_trait]
impl Tx for PgTx {
    async fn environments_for_update(&mut self) -> StoreResult<Vec<EnvironmentRecord>> {
        sqlx::query_as::<_, EnvRow>(sql!("environments_all_for_update"))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(EnvRow::into_record)
            .collect()
    }

    async fn environment_for_update(
        &mut self,
        key: &str,
    ) -> StoreResult<Option<EnvironmentRecord>> {
        sqlx::query_as::<_, EnvRow>(sql!("environment_by_key_for_update"))
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_err)?
            .map(EnvRow::into_record)
            .transpose()
    }

    async fn insert_environment(&mut self, env: &EnvironmentRecord) -> StoreResult<()> {
        sqlx::query(sql!("environment_insert"))
            .bind(env.id)
            .bind(env.key.as_str())
            .bind(&env.name)
            .bind(env.epoch.as_str())
            .bind(to_i64(env.revision))
            .bind(to_i64(env.version))
            .bind(env.created_at)
            .bind(env.updated_at)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

    async fn update_environment(&mut self, env: &EnvironmentRecord) -> StoreResult<()> {
        sqlx::query(sql!("environment_update"))
            .bind(env.id)
            .bind(&env.name)
            .bind(to_i64(env.revision))
            .bind(to_i64(env.version))
            .bind(env.updated_at)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

    async fn delete_environment(&mut self, id: Uuid) -> StoreResult<()> {
        execute_id(&mut self.tx, sql!("environment_delete"), id).await
    }

    async fn all_flags(&mut self) -> StoreResult<Vec<FlagRecord>> {
        sqlx::query_as::<_, FlagRow>(sql!("flags_all"))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(FlagRow::into_flag)
            .collect()
    }

    async fn flag_for_update(&mut self, key: &str) -> StoreResult<Option<FlagRecord>> {
        sqlx::query_as::<_, FlagRow>(sql!("flag_by_key_for_update"))
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_err)?
            .map(FlagRow::into_flag)
            .transpose()
    }

    async fn flag_by_id_for_update(&mut self, id: Uuid) -> StoreResult<Option<FlagRecord>> {
        sqlx::query_as::<_, FlagRow>(sql!("flag_by_id_for_update"))
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_err)?
            .map(FlagRow::into_flag)
            .transpose()
    }

    async fn insert_flag(&mut self, record: &FlagRecord) -> StoreResult<()> {
        let flag = &record.flag;
        let now = OffsetDateTime::now_utc();
        sqlx::query(sql!("flag_insert"))
            .bind(record.id)
            .bind(flag.key.as_str())
            .bind(&flag.description)
            .bind(flag.kind.as_str())
            .bind(json(&flag.variations))
            .bind(&flag.tags)
            .bind(to_i64(flag.version))
            .bind(flag.created_at.unwrap_or(now))
            .bind(flag.updated_at.unwrap_or(now))
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

    async fn update_flag(&mut self, record: &FlagRecord) -> StoreResult<()> {
        let flag = &record.flag;
        sqlx::query(sql!("flag_update"))
            .bind(record.id)
            .bind(flag.key.as_str())
            .bind(&flag.description)
            .bind(flag.kind.as_str())
            .bind(json(&flag.variations))
            .bind(&flag.tags)
            .bind(to_i64(flag.version))
            .bind(flag.updated_at.unwrap_or_else(OffsetDateTime::now_utc))
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

    async fn delete_flag(&mut self, id: Uuid) -> StoreResult<()> {
        execute_id(&mut self.tx, sql!("flag_delete"), id).await
    }

    async fn config_for_update(
        &mut self,
        flag_id: Uuid,
        environment_id: Uuid,
    ) -> StoreResult<Option<ConfigRecord>> {
        sqlx::query_as::<_, ConfigRow>(sql!("config_get_for_update"))
            .bind(flag_id)
            .bind(environment_id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_err)?
            .map(ConfigRow::into_record)
            .transpose()
    }

    async fn upsert_config(&mut self, record: &ConfigRecord) -> StoreResult<()> {
        sqlx::query(sql!("config_upsert"))
            .bind(record.flag_id)
            .bind(record.environment_id)
            .bind(json(&record.config))
            .bind(to_i64(record.config.version))
            .bind(record.updated_at)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

    async fn environment_flags(
        &mut self,
        environment_id: Uuid,
    ) -> StoreResult<Vec<EnvironmentFlag>> {
        environment_flags_in(&mut self.tx, environment_id).await
    }

    async fn environment_segments(&mut self, environment_id: Uuid) -> StoreResult<Vec<Segment>> {
        environment_segments_in(&mut self.tx, environment_id).await
    }

    async fn segment_for_update(
        &mut self,
        environment_id: Uuid,
        key: &str,
    ) -> StoreResult<Option<SegmentRecord>> {
        sqlx::query_as::<_, SegmentRow>(sql!("segment_get_for_update"))
            .bind(environment_id)
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_err)?
            .map(SegmentRow::into_record)
            .transpose()
    }

    async fn insert_segment(&mut self, record: &SegmentRecord) -> StoreResult<()> {
        let segment = &record.segment;
        let now = OffsetDateTime::now_utc();
        sqlx::query(sql!("segment_insert"))
            .bind(record.id)
            .bind(record.environment_id)
            .bind(segment.key.as_str())
            .bind(json(segment))
            .bind(to_i64(segment.version))
            .bind(segment.created_at.unwrap_or(now))
            .bind(segment.updated_at.unwrap_or(now))
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

    async fn update_segment(&mut self, record: &SegmentRecord) -> StoreResult<()> {
        let segment = &record.segment;
        sqlx::query(sql!("segment_update"))
            .bind(record.id)
            .bind(json(segment))
            .bind(to_i64(segment.version))
            .bind(segment.updated_at.unwrap_or_else(OffsetDateTime::now_utc))
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

    async fn delete_segment(&mut self, id: Uuid) -> StoreResult<()> {
        execute_id(&mut self.tx, sql!("segment_delete"), id).await
    }

    async fn insert_api_key(&mut self, key: &ApiKeyRecord) -> StoreResult<()> {
        sqlx::query(sql!("api_key_insert"))
            .bind(key.id)
            .bind(&key.name)
            .bind(key.kind.as_str())
            .bind(key.role.map(super::Role::as_str))
            .bind(key.environment_id)
            .bind(&key.sha256)
            .bind(&key.hint)
            .bind(key.created_at)
            .bind(key.expires_at)
            .bind(key.revoked_at)
            .bind(key.rotated_to)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

    async fn api_key_for_update(&mut self, id: Uuid) -> StoreResult<Option<ApiKeyRecord>> {
        sqlx::query_as::<_, KeyRow>(sql!("api_key_by_id_for_update"))
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_err)?
            .map(KeyRow::into_record)
            .transpose()
    }

    async fn update_api_key(&mut self, key: &ApiKeyRecord) -> StoreResult<()> {
        sqlx::query(sql!("api_key_update"))
            .bind(key.id)
            .bind(&key.name)
            .bind(key.expires_at)
            .bind(key.revoked_at)
            .bind(key.rotated_to)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

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

    async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()> {
        sqlx::query(sql!("audit_insert"))
            .bind(entry.at)
            .bind(&entry.actor_id)
            .bind(&entry.actor_name)
            .bind(&entry.action)
            .bind(&entry.resource)
            .bind(&entry.resource_key)
            .bind(entry.environment.as_deref())
            .bind(entry.flag_key.as_deref())
            .bind(entry.before.as_ref().map(sqlx::types::Json))
            .bind(entry.after.as_ref().map(sqlx::types::Json))
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)
            .map(drop)
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(map_err)
    }
}

async fn execute_id(
    tx: &mut Transaction<'static, Postgres>,
    sql: &'static str,
    id: Uuid,
) -> StoreResult<()> {
    sqlx::query(sql)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(map_err)
        .map(drop)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A relay's claim on one environment's outbox.
struct PgClaim {
    tx: Transaction<'static, Postgres>,
    environment_id: Uuid,
}

#[async_trait]
impl OutboxClaim for PgClaim {
    async fn pending(&mut self, limit: u32) -> StoreResult<Vec<OutboxRow>> {
        sqlx::query_as::<_, OutboxDbRow>(sql!("outbox_pending"))
            .bind(self.environment_id)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(OutboxDbRow::into_row)
            .collect()
    }

    async fn snapshot(&mut self) -> StoreResult<Option<SnapshotData>> {
        let key: Option<String> = sqlx::query_scalar(sql!("environment_key_by_id"))
            .bind(self.environment_id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_err)?;
        match key {
            Some(key) => snapshot_in(&mut self.tx, &key).await,
            None => Ok(None),
        }
    }

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
}
