//! What both SQL backends share, written once: every [`super::Store`],
//! [`super::Tx`] and [`super::OutboxClaim`] method whose code is the same on
//! PostgreSQL and SQLite, expanded into each backend's impl by a macro.
//!
//! Macros rather than generics: sqlx code generic over the database needs a
//! bound per type per operation, and these bodies differ only in the types
//! the names resolve to where the macro is expanded. Each backend module
//! provides, in scope of the expansion:
//!
//! - `sql!("name")`: its own dialect's query file, for queries whose text
//!   differs (`flags_page`, `segments_page`, `api_keys_all`, `audit_page`,
//!   `sessions_purge`);
//! - `for_update!("name")`: the row-locking form of a shared read;
//! - `map_err`: its driver-error mapping;
//! - `Conn`: its connection type; a `pool` field on the store and a `tx`
//!   field (a `sqlx::Transaction`) on its transaction and claim types.
//!
//! Backend-specific methods (opening transactions, readiness, consistent
//! snapshots, outbox claims and the outbox insert) are passed in as tokens.

/// The snapshot helpers, on the backend's `Conn`.
macro_rules! snapshot_fns {
    () => {
        async fn snapshot_in(
            conn: &mut Conn,
            environment: &str,
        ) -> StoreResult<Option<halyard_common::SnapshotData>> {
            let Some(env) = sqlx::query_as::<_, EnvRow>(shared_sql!("environment_by_key"))
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
            let keys = sqlx::query_as::<_, KeyRow>(shared_sql!("environment_sdk_keys"))
                .bind(env.id)
                .fetch_all(&mut *conn)
                .await
                .map_err(map_err)?
                .into_iter()
                .map(|row| row.into_record().map(|k| k.key_entry()))
                .filter_map(Result::transpose)
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Some(halyard_common::SnapshotData {
                environment: env.key,
                epoch: env.epoch,
                revision: env.revision,
                flags,
                segments,
                keys,
            }))
        }

        async fn environment_flags_in(
            conn: &mut Conn,
            environment_id: Uuid,
        ) -> StoreResult<Vec<halyard_common::model::EnvironmentFlag>> {
            sqlx::query_as::<_, FlagRow>(shared_sql!("environment_flags"))
                .bind(environment_id)
                .fetch_all(conn)
                .await
                .map_err(map_err)?
                .into_iter()
                .map(|row| {
                    let (flag, config) = row.into_records()?;
                    Ok(halyard_common::model::EnvironmentFlag {
                        flag: flag.flag,
                        config: config.config,
                    })
                })
                .collect()
        }

        async fn environment_segments_in(
            conn: &mut Conn,
            environment_id: Uuid,
        ) -> StoreResult<Vec<halyard_common::model::Segment>> {
            sqlx::query_as::<_, SegmentRow>(shared_sql!("environment_segments"))
                .bind(environment_id)
                .fetch_all(conn)
                .await
                .map_err(map_err)?
                .into_iter()
                .map(|row| row.into_record().map(|r| r.segment))
                .collect()
        }

        fn to_i64(n: u64) -> i64 {
            i64::try_from(n).unwrap_or(i64::MAX)
        }
    };
}

/// `impl Store for $store`: the shared reads plus `$specific` methods.
macro_rules! impl_store {
    ($store:ty, { $($specific:tt)* }) => {
        #[async_trait::async_trait]
        impl Store for $store {
            $($specific)*

            async fn environments(&self) -> StoreResult<Vec<EnvironmentRecord>> {
                sqlx::query_as::<_, EnvRow>(shared_sql!("environments_all"))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?
                    .into_iter()
                    .map(EnvRow::into_record)
                    .collect()
            }

            async fn environment(&self, key: &str) -> StoreResult<Option<EnvironmentRecord>> {
                sqlx::query_as::<_, EnvRow>(shared_sql!("environment_by_key"))
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
                sqlx::query_as::<_, FlagRow>(shared_sql!("flag_by_key"))
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?
                    .map(FlagRow::into_flag)
                    .transpose()
            }

            async fn flag_by_id(&self, id: Uuid) -> StoreResult<Option<FlagRecord>> {
                sqlx::query_as::<_, FlagRow>(shared_sql!("flag_by_id"))
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
                sqlx::query_as::<_, ConfigRow>(shared_sql!("config_get"))
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

            async fn segment(
                &self,
                environment_id: Uuid,
                key: &str,
            ) -> StoreResult<Option<SegmentRecord>> {
                sqlx::query_as::<_, SegmentRow>(shared_sql!("segment_get"))
                    .bind(environment_id)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?
                    .map(SegmentRow::into_record)
                    .transpose()
            }

            async fn api_key_by_hash(&self, sha256: &str) -> StoreResult<Option<ApiKeyRecord>> {
                sqlx::query_as::<_, KeyRow>(shared_sql!("api_key_by_hash"))
                    .bind(sha256)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?
                    .map(KeyRow::into_record)
                    .transpose()
            }

            async fn api_key(&self, id: Uuid) -> StoreResult<Option<ApiKeyRecord>> {
                sqlx::query_as::<_, KeyRow>(shared_sql!("api_key_by_id"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)?
                    .map(KeyRow::into_record)
                    .transpose()
            }

            async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
                let mut keys = sqlx::query_as::<_, KeyRow>(sql!("api_keys_all"))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)?
                    .into_iter()
                    .map(KeyRow::into_record)
                    .collect::<StoreResult<Vec<_>>>()?;
                // Newest first, by the exact time: SQLite compares times
                // through julianday(), to the millisecond only.
                keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
                Ok(keys)
            }

            async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
                sqlx::query(shared_sql!("session_insert"))
                    .bind(&session.sha256)
                    .bind(&session.key_sha256)
                    .bind(session.created_at)
                    .bind(session.expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(())
            }

            async fn session(&self, sha256: &str) -> StoreResult<Option<SessionRecord>> {
                sqlx::query_as::<_, SessionRecord>(shared_sql!("session_by_hash"))
                    .bind(sha256)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_err)
            }

            async fn delete_session(&self, sha256: &str) -> StoreResult<()> {
                sqlx::query(shared_sql!("session_delete"))
                    .bind(sha256)
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(())
            }

            async fn purge_sessions(&self, before: OffsetDateTime) -> StoreResult<u64> {
                let done = sqlx::query(sql!("sessions_purge"))
                    .bind(before)
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(done.rows_affected())
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

            async fn outbox_after(&self, after_id: i64, limit: u32) -> StoreResult<Vec<OutboxRow>> {
                sqlx::query_as::<_, OutboxDbRow>(shared_sql!("outbox_after"))
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
                sqlx::query_scalar(shared_sql!("outbox_head"))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_err)
            }

            async fn pending_environments(&self) -> StoreResult<Vec<Uuid>> {
                sqlx::query_scalar(shared_sql!("outbox_pending_environments"))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_err)
            }

            async fn outbox_backlog(&self) -> StoreResult<(u64, Option<OffsetDateTime>)> {
                let (count, oldest): (i64, Option<OffsetDateTime>) =
                    sqlx::query_as(shared_sql!("outbox_backlog"))
                        .fetch_one(&self.pool)
                        .await
                        .map_err(map_err)?;
                Ok((u64::try_from(count).unwrap_or(0), oldest))
            }
        }
    };
}

/// `impl Tx for $tx`: the shared statements plus `$specific` methods
/// (`insert_outbox` and `commit`).
macro_rules! impl_tx {
    ($tx:ty, { $($specific:tt)* }) => {
        #[async_trait::async_trait]
        impl Tx for $tx {
            $($specific)*

            async fn environments_for_update(&mut self) -> StoreResult<Vec<EnvironmentRecord>> {
                sqlx::query_as::<_, EnvRow>(for_update!("environments_all"))
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
                sqlx::query_as::<_, EnvRow>(for_update!("environment_by_key"))
                    .bind(key)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?
                    .map(EnvRow::into_record)
                    .transpose()
            }

            async fn insert_environment(&mut self, env: &EnvironmentRecord) -> StoreResult<()> {
                sqlx::query(shared_sql!("environment_insert"))
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
                sqlx::query(shared_sql!("environment_update"))
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
                sqlx::query(shared_sql!("environment_delete"))
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)
                    .map(drop)
            }

            async fn all_flags(&mut self) -> StoreResult<Vec<FlagRecord>> {
                sqlx::query_as::<_, FlagRow>(shared_sql!("flags_all"))
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err(map_err)?
                    .into_iter()
                    .map(FlagRow::into_flag)
                    .collect()
            }

            async fn flag_for_update(&mut self, key: &str) -> StoreResult<Option<FlagRecord>> {
                sqlx::query_as::<_, FlagRow>(for_update!("flag_by_key"))
                    .bind(key)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?
                    .map(FlagRow::into_flag)
                    .transpose()
            }

            async fn flag_by_id_for_update(&mut self, id: Uuid) -> StoreResult<Option<FlagRecord>> {
                sqlx::query_as::<_, FlagRow>(for_update!("flag_by_id"))
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
                sqlx::query(shared_sql!("flag_insert"))
                    .bind(record.id)
                    .bind(flag.key.as_str())
                    .bind(&flag.description)
                    .bind(flag.kind.as_str())
                    .bind(json(&flag.variations))
                    .bind(sqlx::types::Json(&flag.tags))
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
                sqlx::query(shared_sql!("flag_update"))
                    .bind(record.id)
                    .bind(flag.key.as_str())
                    .bind(&flag.description)
                    .bind(flag.kind.as_str())
                    .bind(json(&flag.variations))
                    .bind(sqlx::types::Json(&flag.tags))
                    .bind(to_i64(flag.version))
                    .bind(flag.updated_at.unwrap_or_else(OffsetDateTime::now_utc))
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)
                    .map(drop)
            }

            async fn delete_flag(&mut self, id: Uuid) -> StoreResult<()> {
                sqlx::query(shared_sql!("flag_delete"))
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)
                    .map(drop)
            }

            async fn config_for_update(
                &mut self,
                flag_id: Uuid,
                environment_id: Uuid,
            ) -> StoreResult<Option<ConfigRecord>> {
                sqlx::query_as::<_, ConfigRow>(for_update!("config_get"))
                    .bind(flag_id)
                    .bind(environment_id)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?
                    .map(ConfigRow::into_record)
                    .transpose()
            }

            async fn upsert_config(&mut self, record: &ConfigRecord) -> StoreResult<()> {
                sqlx::query(shared_sql!("config_upsert"))
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
            ) -> StoreResult<Vec<halyard_common::model::EnvironmentFlag>> {
                environment_flags_in(&mut self.tx, environment_id).await
            }

            async fn environment_segments(
                &mut self,
                environment_id: Uuid,
            ) -> StoreResult<Vec<halyard_common::model::Segment>> {
                environment_segments_in(&mut self.tx, environment_id).await
            }

            async fn segment_for_update(
                &mut self,
                environment_id: Uuid,
                key: &str,
            ) -> StoreResult<Option<SegmentRecord>> {
                sqlx::query_as::<_, SegmentRow>(for_update!("segment_get"))
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
                sqlx::query(shared_sql!("segment_insert"))
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
                sqlx::query(shared_sql!("segment_update"))
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
                sqlx::query(shared_sql!("segment_delete"))
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)
                    .map(drop)
            }

            async fn insert_api_key(&mut self, key: &ApiKeyRecord) -> StoreResult<()> {
                sqlx::query(shared_sql!("api_key_insert"))
                    .bind(key.id)
                    .bind(&key.name)
                    .bind(key.kind.as_str())
                    .bind(key.role.map(crate::store::Role::as_str))
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
                sqlx::query_as::<_, KeyRow>(for_update!("api_key_by_id"))
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?
                    .map(KeyRow::into_record)
                    .transpose()
            }

            async fn update_api_key(&mut self, key: &ApiKeyRecord) -> StoreResult<()> {
                sqlx::query(shared_sql!("api_key_update"))
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

            async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()> {
                sqlx::query(shared_sql!("audit_insert"))
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
        }
    };
}

/// `impl OutboxClaim for $claim`: the shared reads plus `$specific`
/// methods (`mark_published` and `finish`). `$claim` has `tx` and
/// `environment_id` fields.
macro_rules! impl_claim {
    ($claim:ty, { $($specific:tt)* }) => {
        #[async_trait::async_trait]
        impl OutboxClaim for $claim {
            $($specific)*

            async fn pending(&mut self, limit: u32) -> StoreResult<Vec<OutboxRow>> {
                sqlx::query_as::<_, OutboxDbRow>(shared_sql!("outbox_pending"))
                    .bind(self.environment_id)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err(map_err)?
                    .into_iter()
                    .map(OutboxDbRow::into_row)
                    .collect()
            }

            async fn snapshot(&mut self) -> StoreResult<Option<halyard_common::SnapshotData>> {
                let key: Option<String> = sqlx::query_scalar(shared_sql!("environment_key_by_id"))
                    .bind(self.environment_id)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                match key {
                    Some(key) => snapshot_in(&mut self.tx, &key).await,
                    None => Ok(None),
                }
            }
        }
    };
}

pub(super) use {impl_claim, impl_store, impl_tx, snapshot_fns};
