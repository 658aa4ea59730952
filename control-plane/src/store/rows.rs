//! Database rows and their conversion into store records, shared by both
//! backends (the column types decode from PostgreSQL and SQLite alike). A
//! stored document that no longer parses is reported as
//! [`StoreError::Corrupt`], never silently skipped.

use halyard_common::model::{Flag, FlagConfig, FlagKind, Segment, Variation};
use halyard_common::{ChangeMessage, EnvironmentKey, Epoch, FlagKey};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::{
    ApiKeyKind, ApiKeyRecord, AuditEntry, ConfigRecord, EnvironmentRecord, FlagRecord, OutboxRow,
    Role, SegmentRecord, StoreError, StoreResult,
};

/// Serializes a model value for a JSON column.
pub(super) fn json<T: Serialize>(value: &T) -> Json<Value> {
    Json(serde_json::to_value(value).expect("model types always serialize"))
}

fn corrupt(what: &'static str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.to_string(),
    }
}

fn parse<T: DeserializeOwned>(what: &'static str, value: Value) -> StoreResult<T> {
    serde_json::from_value(value).map_err(|e| corrupt(what, e))
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[derive(sqlx::FromRow)]
pub(super) struct EnvRow {
    id: Uuid,
    key: String,
    name: String,
    epoch: String,
    revision: i64,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl EnvRow {
    pub(super) fn into_record(self) -> StoreResult<EnvironmentRecord> {
        Ok(EnvironmentRecord {
            id: self.id,
            key: EnvironmentKey::parse(self.key).map_err(|e| corrupt("environment key", e))?,
            name: self.name,
            epoch: Epoch::parse(self.epoch).map_err(|e| corrupt("epoch", e))?,
            revision: unsigned(self.revision),
            version: unsigned(self.version),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A flag row, optionally joined with one configuration.
#[derive(sqlx::FromRow)]
pub(super) struct FlagRow {
    id: Uuid,
    key: String,
    description: String,
    kind: String,
    variations: Json<Value>,
    tags: Json<Vec<String>>,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    #[sqlx(default)]
    config: Option<Json<Value>>,
    #[sqlx(default)]
    config_environment_id: Option<Uuid>,
    #[sqlx(default)]
    config_version: Option<i64>,
    #[sqlx(default)]
    config_updated_at: Option<OffsetDateTime>,
    #[sqlx(default)]
    pub(super) total: i64,
}

impl FlagRow {
    pub(super) fn into_flag(self) -> StoreResult<FlagRecord> {
        self.into_parts().map(|(flag, _)| flag)
    }

    pub(super) fn into_records(self) -> StoreResult<(FlagRecord, ConfigRecord)> {
        let (flag, config) = self.into_parts()?;
        config
            .map(|c| (flag, c))
            .ok_or_else(|| corrupt("flag configuration", "missing"))
    }

    fn into_parts(self) -> StoreResult<(FlagRecord, Option<ConfigRecord>)> {
        let kind: FlagKind = parse("flag kind", Value::String(self.kind))?;
        let variations: Vec<Variation> = parse("variations", self.variations.0)?;
        let flag = FlagRecord {
            id: self.id,
            flag: Flag {
                id: Some(self.id.to_string()),
                key: FlagKey::parse(self.key).map_err(|e| corrupt("flag key", e))?,
                description: self.description,
                kind,
                variations,
                tags: self.tags.0,
                version: unsigned(self.version),
                created_at: Some(self.created_at),
                updated_at: Some(self.updated_at),
            },
        };
        let config = match (
            self.config,
            self.config_environment_id,
            self.config_version,
            self.config_updated_at,
        ) {
            (Some(config), Some(environment_id), Some(version), Some(updated_at)) => {
                let mut config: FlagConfig = parse("flag configuration", config.0)?;
                config.version = unsigned(version);
                Some(ConfigRecord {
                    flag_id: self.id,
                    environment_id,
                    config,
                    updated_at,
                })
            }
            _ => None,
        };
        Ok((flag, config))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ConfigRow {
    flag_id: Uuid,
    environment_id: Uuid,
    config: Json<Value>,
    version: i64,
    updated_at: OffsetDateTime,
}

impl ConfigRow {
    pub(super) fn into_record(self) -> StoreResult<ConfigRecord> {
        let mut config: FlagConfig = parse("flag configuration", self.config.0)?;
        config.version = unsigned(self.version);
        Ok(ConfigRecord {
            flag_id: self.flag_id,
            environment_id: self.environment_id,
            config,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SegmentRow {
    id: Uuid,
    environment_id: Uuid,
    key: String,
    body: Json<Value>,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    pub(super) total: i64,
}

impl SegmentRow {
    pub(super) fn into_record(self) -> StoreResult<SegmentRecord> {
        let mut segment: Segment = parse("segment", self.body.0)?;
        segment.key =
            halyard_common::SegmentKey::parse(self.key).map_err(|e| corrupt("segment key", e))?;
        segment.version = unsigned(self.version);
        segment.created_at = Some(self.created_at);
        segment.updated_at = Some(self.updated_at);
        Ok(SegmentRecord {
            id: self.id,
            environment_id: self.environment_id,
            segment,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    id: Uuid,
    name: String,
    kind: String,
    role: Option<String>,
    environment_id: Option<Uuid>,
    sha256: String,
    hint: String,
    created_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    rotated_to: Option<Uuid>,
}

impl KeyRow {
    pub(super) fn into_record(self) -> StoreResult<ApiKeyRecord> {
        let kind = ApiKeyKind::parse(&self.kind).ok_or_else(|| corrupt("key kind", &self.kind))?;
        let role = match self.role {
            Some(role) => Some(Role::parse(&role).ok_or_else(|| corrupt("key role", &role))?),
            None => None,
        };
        Ok(ApiKeyRecord {
            id: self.id,
            name: self.name,
            kind,
            role,
            environment_id: self.environment_id,
            sha256: self.sha256,
            hint: self.hint,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            rotated_to: self.rotated_to,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: i64,
    at: OffsetDateTime,
    actor_id: String,
    actor_name: String,
    action: String,
    resource: String,
    resource_key: String,
    environment: Option<String>,
    flag_key: Option<String>,
    before: Option<Json<Value>>,
    after: Option<Json<Value>>,
}

impl AuditRow {
    pub(super) fn into_entry(self) -> AuditEntry {
        AuditEntry {
            id: self.id,
            at: self.at,
            actor_id: self.actor_id,
            actor_name: self.actor_name,
            action: self.action,
            resource: self.resource,
            resource_key: self.resource_key,
            environment: self.environment,
            flag_key: self.flag_key,
            before: self.before.map(|j| j.0),
            after: self.after.map(|j| j.0),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct OutboxDbRow {
    id: i64,
    environment_id: Uuid,
    message: Json<Value>,
    published_at: Option<OffsetDateTime>,
}

impl OutboxDbRow {
    pub(super) fn into_row(self) -> StoreResult<OutboxRow> {
        let message: ChangeMessage = parse("outbox message", self.message.0)?;
        Ok(OutboxRow {
            id: self.id,
            environment_id: self.environment_id,
            message,
            published_at: self.published_at,
        })
    }
}
