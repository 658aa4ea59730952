//! Persistence behind one interface.
//!
//! [`Store`] is what the services read through and open write transactions
//! on; [`Tx`] is one write transaction (a unit of work); [`OutboxClaim`] is a
//! relay's exclusive hold on one environment's outbox. The implementations
//! live in [`postgres`] (production) and [`sqlite`] (the all-in-one node). They share their row types, every portable query
//! (`store/queries/`) and every method whose code is the same
//! (`store/sql.rs`), and pass the same suite (`tests/api`, run on both by
//! `scripts/test`). Services own the transaction and all the
//! rules; a store only runs queries.

pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;

/// A query both backends run unchanged (`store/queries/`; `$n` parameters,
/// portable SQL).
macro_rules! shared_sql {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/store/queries/",
            $name,
            ".sql"
        ))
    };
}
use shared_sql;

use async_trait::async_trait;
use halyard_common::model::{EnvironmentFlag, Flag, FlagConfig, Segment};
use halyard_common::{ChangeMessage, EnvironmentKey, Epoch, KeyEntry, SnapshotData};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated (the constraint's name).
    #[error("duplicate: {0}")]
    Duplicate(&'static str),
    /// The database cannot be reached or refused the connection.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// A stored document no longer parses (a bug or a manual edit).
    #[error("corrupt stored {what}: {detail}")]
    Corrupt {
        /// What could not be read.
        what: &'static str,
        /// Why.
        detail: String,
    },
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// An environment and its revision history.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentRecord {
    /// Internal id.
    pub id: Uuid,
    /// The environment's key.
    pub key: EnvironmentKey,
    /// Display name.
    pub name: String,
    /// The revision history.
    pub epoch: Epoch,
    /// The current revision (>= 1).
    pub revision: u64,
    /// Optimistic-concurrency version.
    pub version: u64,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed (name or revision).
    pub updated_at: OffsetDateTime,
}

/// A flag's shared definition.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagRecord {
    /// Internal id (the legacy API's `id`).
    pub id: Uuid,
    /// The definition, with version and timestamps.
    pub flag: Flag,
}

/// A flag's configuration in one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigRecord {
    /// The flag.
    pub flag_id: Uuid,
    /// The environment.
    pub environment_id: Uuid,
    /// The configuration, with its version.
    pub config: FlagConfig,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

/// A segment of one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRecord {
    /// Internal id.
    pub id: Uuid,
    /// The environment.
    pub environment_id: Uuid,
    /// The segment, with version and timestamps.
    pub segment: Segment,
}

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyKind {
    /// Admin API token (has a role).
    Admin,
    /// SDK key of one environment: full configurations.
    Server,
    /// SDK key of one environment: evaluated results only (browser-safe).
    Client,
    /// Lets an edge read the internal snapshot endpoint.
    Edge,
}

impl ApiKeyKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyKind::Admin => "admin",
            ApiKeyKind::Server => "server",
            ApiKeyKind::Client => "client",
            ApiKeyKind::Edge => "edge",
        }
    }

    /// Parses a stored kind.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(ApiKeyKind::Admin),
            "server" => Some(ApiKeyKind::Server),
            "client" => Some(ApiKeyKind::Client),
            "edge" => Some(ApiKeyKind::Edge),
            _ => None,
        }
    }
}

/// What an admin token may do; each role includes the ones before it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Also change flags, configurations and segments.
    Editor,
    /// Also manage environments and keys.
    Admin,
}

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored role.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A stored key: never the plaintext, only its SHA-256 and a masked hint.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    /// Stable id.
    pub id: Uuid,
    /// Human name (what the audit log shows as the actor).
    pub name: String,
    /// What it is for.
    pub kind: ApiKeyKind,
    /// Admin tokens only.
    pub role: Option<Role>,
    /// SDK keys only.
    pub environment_id: Option<Uuid>,
    /// Lower-case hex SHA-256 of the plaintext.
    pub sha256: String,
    /// Masked form for listings, e.g. `hal_srv_AbCd…wxyz`.
    pub hint: String,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Refused from this instant (set by expiry or by a rotation's grace period).
    pub expires_at: Option<OffsetDateTime>,
    /// Refused since this instant.
    pub revoked_at: Option<OffsetDateTime>,
    /// The key that replaced this one, if it was rotated.
    pub rotated_to: Option<Uuid>,
}

impl ApiKeyRecord {
    /// Whether the key is accepted at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }

    /// The edge-facing entry of an SDK key.
    pub fn key_entry(&self) -> Option<KeyEntry> {
        let kind = match self.kind {
            ApiKeyKind::Server => halyard_common::KeyKind::Server,
            ApiKeyKind::Client => halyard_common::KeyKind::Client,
            ApiKeyKind::Admin | ApiKeyKind::Edge => return None,
        };
        Some(KeyEntry {
            id: self.id.to_string(),
            kind,
            sha256: self.sha256.clone(),
            expires_at: self.expires_at,
        })
    }
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Position in the log (assigned on insert).
    pub id: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// Who: the key id (or `bootstrap`).
    pub actor_id: String,
    /// Who: the key's name.
    pub actor_name: String,
    /// What, e.g. `flag.created`, `config.updated`, `key.revoked`.
    pub action: String,
    /// The kind of thing changed: `flag`, `config`, `segment`, `environment`, `key`.
    pub resource: String,
    /// Its key (or id, for keys).
    pub resource_key: String,
    /// The environment, when the change is specific to one.
    pub environment: Option<String>,
    /// The flag, when the change concerns one (for filtering).
    pub flag_key: Option<String>,
    /// The state before (absent on creation).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The state after (absent on deletion).
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

/// A dashboard session: hashes only (`crate::session`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SessionRecord {
    /// SHA-256 of the session secret the cookie carries.
    pub sha256: String,
    /// SHA-256 of the admin token the session was opened with.
    pub key_sha256: String,
    /// When it was opened.
    pub created_at: OffsetDateTime,
    /// When it ends.
    pub expires_at: OffsetDateTime,
}

/// Which audit entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries about this flag.
    pub flag_key: Option<String>,
    /// Only entries by this actor name.
    pub actor: Option<String>,
    /// From this instant (inclusive).
    pub since: Option<OffsetDateTime>,
    /// Until this instant (exclusive).
    pub until: Option<OffsetDateTime>,
    /// Entries with an id below this (the previous page's last id).
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// Which flags to list.
#[derive(Debug, Clone, Default)]
pub struct FlagFilter {
    /// Keys containing this text (case-insensitive).
    pub query: Option<String>,
    /// Flags with this tag.
    pub tag: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Items to skip.
    pub offset: u64,
}

/// A page of results with the total count.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many match in all.
    pub total: u64,
}

/// One row of the outbox.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// Position (global commit order).
    pub id: i64,
    /// The environment's internal id.
    pub environment_id: Uuid,
    /// The message.
    pub message: ChangeMessage,
    /// When it was published, if it was.
    pub published_at: Option<OffsetDateTime>,
}

/// Read access and the way to open write transactions.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Opens a write transaction.
    async fn begin(&self) -> StoreResult<Box<dyn Tx>>;

    /// Whether the database answers and the migrations are applied.
    async fn ready(&self) -> StoreResult<bool>;

    /// Every environment, by key.
    async fn environments(&self) -> StoreResult<Vec<EnvironmentRecord>>;
    /// One environment.
    async fn environment(&self, key: &str) -> StoreResult<Option<EnvironmentRecord>>;

    /// A page of flags with their configuration in `environment_id`, by key.
    async fn flags(
        &self,
        environment_id: Uuid,
        filter: &FlagFilter,
    ) -> StoreResult<Page<(FlagRecord, ConfigRecord)>>;
    /// One flag's definition, by key.
    async fn flag(&self, key: &str) -> StoreResult<Option<FlagRecord>>;
    /// One flag's definition, by id.
    async fn flag_by_id(&self, id: Uuid) -> StoreResult<Option<FlagRecord>>;
    /// A flag's configuration in one environment.
    async fn config(
        &self,
        flag_id: Uuid,
        environment_id: Uuid,
    ) -> StoreResult<Option<ConfigRecord>>;

    /// A page of an environment's segments, by key.
    async fn segments(
        &self,
        environment_id: Uuid,
        filter: &FlagFilter,
    ) -> StoreResult<Page<SegmentRecord>>;
    /// One segment.
    async fn segment(&self, environment_id: Uuid, key: &str) -> StoreResult<Option<SegmentRecord>>;

    /// The key with this SHA-256, whatever its state.
    async fn api_key_by_hash(&self, sha256: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// One key by id.
    async fn api_key(&self, id: Uuid) -> StoreResult<Option<ApiKeyRecord>>;
    /// Every key, newest first.
    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;

    /// Audit entries, newest first.
    async fn audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;

    /// Stores a new dashboard session.
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The session with this SHA-256, expired or not.
    async fn session(&self, sha256: &str) -> StoreResult<Option<SessionRecord>>;
    /// Ends a session.
    async fn delete_session(&self, sha256: &str) -> StoreResult<()>;
    /// Forgets sessions that ended before `before`; returns how many.
    async fn purge_sessions(&self, before: OffsetDateTime) -> StoreResult<u64>;

    /// The environment's full edge snapshot, read consistently at its
    /// current revision (key hashes included).
    async fn snapshot(&self, environment: &str) -> StoreResult<Option<SnapshotData>>;

    /// Outbox rows with an id above `after_id`, in commit order.
    async fn outbox_after(&self, after_id: i64, limit: u32) -> StoreResult<Vec<OutboxRow>>;
    /// The newest outbox id (0 when empty).
    async fn outbox_head(&self) -> StoreResult<i64>;
    /// Environments with unpublished outbox rows.
    async fn pending_environments(&self) -> StoreResult<Vec<Uuid>>;
    /// Unpublished rows and the age of the oldest.
    async fn outbox_backlog(&self) -> StoreResult<(u64, Option<OffsetDateTime>)>;
    /// Takes the exclusive right to publish one environment's outbox, or
    /// `None` when another relay holds it.
    async fn claim_outbox(&self, environment_id: Uuid)
    -> StoreResult<Option<Box<dyn OutboxClaim>>>;

    /// A counter bumped whenever a transaction that wrote the outbox
    /// commits, for stores that can tell in-process (SQLite); `None` where
    /// other processes write too and notifications come from the database
    /// (PostgreSQL's `NOTIFY halyard_outbox`).
    fn outbox_changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}

/// One write transaction. Dropping it without [`Tx::commit`] rolls back.
#[async_trait]
pub trait Tx: Send {
    /// Every environment, locked, by key (a fixed lock order).
    async fn environments_for_update(&mut self) -> StoreResult<Vec<EnvironmentRecord>>;
    /// One environment, locked.
    async fn environment_for_update(&mut self, key: &str)
    -> StoreResult<Option<EnvironmentRecord>>;
    /// Creates an environment.
    async fn insert_environment(&mut self, environment: &EnvironmentRecord) -> StoreResult<()>;
    /// Saves name, revision, version and `updated_at`.
    async fn update_environment(&mut self, environment: &EnvironmentRecord) -> StoreResult<()>;
    /// Deletes an environment with its configurations, segments and keys.
    async fn delete_environment(&mut self, id: Uuid) -> StoreResult<()>;

    /// Every flag definition, by key.
    async fn all_flags(&mut self) -> StoreResult<Vec<FlagRecord>>;
    /// One flag, locked, by key.
    async fn flag_for_update(&mut self, key: &str) -> StoreResult<Option<FlagRecord>>;
    /// One flag, locked, by id.
    async fn flag_by_id_for_update(&mut self, id: Uuid) -> StoreResult<Option<FlagRecord>>;
    /// Creates a flag definition.
    async fn insert_flag(&mut self, flag: &FlagRecord) -> StoreResult<()>;
    /// Saves a flag definition.
    async fn update_flag(&mut self, flag: &FlagRecord) -> StoreResult<()>;
    /// Deletes a flag and its configurations.
    async fn delete_flag(&mut self, id: Uuid) -> StoreResult<()>;

    /// A configuration, locked.
    async fn config_for_update(
        &mut self,
        flag_id: Uuid,
        environment_id: Uuid,
    ) -> StoreResult<Option<ConfigRecord>>;
    /// Creates or replaces a configuration.
    async fn upsert_config(&mut self, config: &ConfigRecord) -> StoreResult<()>;

    /// Every flag of an environment as it sees them (for cross-flag checks).
    async fn environment_flags(
        &mut self,
        environment_id: Uuid,
    ) -> StoreResult<Vec<EnvironmentFlag>>;
    /// Every segment of an environment.
    async fn environment_segments(&mut self, environment_id: Uuid) -> StoreResult<Vec<Segment>>;

    /// One segment, locked.
    async fn segment_for_update(
        &mut self,
        environment_id: Uuid,
        key: &str,
    ) -> StoreResult<Option<SegmentRecord>>;
    /// Creates a segment.
    async fn insert_segment(&mut self, segment: &SegmentRecord) -> StoreResult<()>;
    /// Saves a segment.
    async fn update_segment(&mut self, segment: &SegmentRecord) -> StoreResult<()>;
    /// Deletes a segment.
    async fn delete_segment(&mut self, id: Uuid) -> StoreResult<()>;

    /// Stores a key (its hash).
    async fn insert_api_key(&mut self, key: &ApiKeyRecord) -> StoreResult<()>;
    /// One key, locked.
    async fn api_key_for_update(&mut self, id: Uuid) -> StoreResult<Option<ApiKeyRecord>>;
    /// Saves expiry, revocation and rotation of a key.
    async fn update_api_key(&mut self, key: &ApiKeyRecord) -> StoreResult<()>;

    /// Appends a change message to the outbox (and wakes the relays). Outbox
    /// ids must be assigned in commit order (readers follow ids), so call it
    /// last in a transaction, after every other lock is taken.
    async fn insert_outbox(
        &mut self,
        environment_id: Uuid,
        message: &ChangeMessage,
    ) -> StoreResult<()>;
    /// Appends to the audit log.
    async fn insert_audit(&mut self, entry: &AuditEntry) -> StoreResult<()>;

    /// Commits.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// A relay's exclusive, consistent view of one environment's outbox. Ends
/// (and releases the claim) on [`OutboxClaim::finish`] or drop.
#[async_trait]
pub trait OutboxClaim: Send {
    /// Unpublished rows in revision order.
    async fn pending(&mut self, limit: u32) -> StoreResult<Vec<OutboxRow>>;
    /// The environment's snapshot at its current revision, consistent with
    /// [`OutboxClaim::pending`] (`None` if the environment is gone).
    async fn snapshot(&mut self) -> StoreResult<Option<SnapshotData>>;
    /// Marks rows published.
    async fn mark_published(&mut self, ids: &[i64]) -> StoreResult<()>;
    /// Commits the marks and releases the claim.
    async fn finish(self: Box<Self>) -> StoreResult<()>;
}
