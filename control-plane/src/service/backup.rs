//! Backups: the whole state of a control plane as one JSON document
//! (`halyard export`), and its restore into an empty store (`halyard
//! import`).
//!
//! The document holds every environment (with its segments), every flag
//! (with its configuration in each environment), every key (hashes only,
//! never a plaintext) and the audit log, each with its ids, versions,
//! revisions and times. Restoring it and exporting again gives the same
//! document except for one thing, on purpose: each restored environment
//! starts a new epoch. Edges and SDKs may hold a newer revision of the old
//! history than the backup; a new epoch makes every one of them drop what
//! it holds and load the restored state (`docs/protocol.md` §4). Audit
//! entries keep their order, times and content; their ids are assigned
//! anew, in the same order.

use std::collections::BTreeMap;

use halyard_common::model::{Flag, FlagConfig, Segment};
use halyard_common::{ChangeMessage, EnvironmentKey, Epoch};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Service, now};
use crate::error::Error;
use crate::store::{
    ApiKeyKind, ApiKeyRecord, AuditEntry, AuditFilter, ConfigRecord, EnvironmentRecord, FlagFilter,
    FlagRecord, Role, SegmentRecord,
};

/// The document's `format`.
pub const FORMAT: &str = "halyard-backup/1";

/// Rows read per query while exporting.
const PAGE: u32 = 500;

/// The whole state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Always [`FORMAT`].
    pub format: String,
    /// Environments, by key, each with its segments.
    pub environments: Vec<EnvironmentBackup>,
    /// Flags, by key, each with its configuration per environment.
    pub flags: Vec<FlagBackup>,
    /// Keys (hashes), newest first.
    pub keys: Vec<KeyBackup>,
    /// The audit log, oldest first.
    pub audit: Vec<AuditBackup>,
}

/// An environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentBackup {
    /// Internal id.
    pub id: Uuid,
    /// Key.
    pub key: EnvironmentKey,
    /// Display name.
    pub name: String,
    /// The revision history it belonged to (a restore starts a new one).
    pub epoch: Epoch,
    /// Current revision.
    pub revision: u64,
    /// Optimistic-concurrency version.
    pub version: u64,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Its segments, by key.
    pub segments: Vec<SegmentBackup>,
}

/// A segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentBackup {
    /// Internal id.
    pub id: Uuid,
    /// The segment, with version and times.
    #[serde(flatten)]
    pub segment: Segment,
}

/// A flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagBackup {
    /// The definition, with its id, version and times.
    #[serde(flatten)]
    pub flag: Flag,
    /// Its configuration per environment key.
    pub configs: BTreeMap<String, ConfigBackup>,
}

/// A flag's configuration in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigBackup {
    /// The configuration, with its version.
    #[serde(flatten)]
    pub config: FlagConfig,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A key: its hash and masked hint, never its plaintext.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBackup {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ApiKeyKind,
    /// Admin tokens' role.
    pub role: Option<Role>,
    /// SDK keys' environment (key).
    pub environment: Option<String>,
    /// SHA-256 of the key (hex).
    pub sha256: String,
    /// Masked form.
    pub hint: String,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Refused from.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Revoked at.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// The key that replaced it.
    pub rotated_to: Option<Uuid>,
}

/// An audit entry (its id is assigned again on restore, in order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditBackup {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who (key id).
    pub actor_id: String,
    /// Who (key name).
    pub actor_name: String,
    /// What.
    pub action: String,
    /// The kind of thing changed.
    pub resource: String,
    /// Its key or id.
    pub resource_key: String,
    /// The environment, if specific to one.
    pub environment: Option<String>,
    /// The flag, if about one.
    pub flag_key: Option<String>,
    /// Before.
    pub before: Option<Value>,
    /// After.
    pub after: Option<Value>,
}

/// What a restore wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// Environments.
    pub environments: usize,
    /// Flags.
    pub flags: usize,
    /// Segments.
    pub segments: usize,
    /// Keys.
    pub keys: usize,
    /// Audit entries.
    pub audit: usize,
}

fn invalid(message: String, path: &str) -> Error {
    Error::InvalidRequest {
        message,
        path: Some(path.to_owned()),
    }
}

impl Service {
    /// Reads the whole state. Every environment is locked meanwhile, so
    /// flags, configurations, segments and SDK keys are one consistent
    /// state (every change to them locks an environment first).
    pub async fn export(&self) -> Result<Backup, Error> {
        let mut tx = self.store.begin().await?;
        let environments = tx.environments_for_update().await?;
        let mut flags: BTreeMap<String, FlagBackup> = BTreeMap::new();
        let mut exported = Vec::with_capacity(environments.len());
        for environment in &environments {
            for (flag, config) in self.all_flags_in(environment.id).await? {
                flags
                    .entry(flag.flag.key.to_string())
                    .or_insert_with(|| FlagBackup {
                        flag: flag.flag,
                        configs: BTreeMap::new(),
                    })
                    .configs
                    .insert(
                        environment.key.to_string(),
                        ConfigBackup {
                            config: config.config,
                            updated_at: config.updated_at,
                        },
                    );
            }
            exported.push(EnvironmentBackup {
                id: environment.id,
                key: environment.key.clone(),
                name: environment.name.clone(),
                epoch: environment.epoch.clone(),
                revision: environment.revision,
                version: environment.version,
                created_at: environment.created_at,
                updated_at: environment.updated_at,
                segments: self.all_segments_in(environment.id).await?,
            });
        }
        let key_of = |id: Option<Uuid>| {
            id.and_then(|id| environments.iter().find(|e| e.id == id))
                .map(|e| e.key.to_string())
        };
        let keys = self
            .store
            .api_keys()
            .await?
            .into_iter()
            .map(|key| KeyBackup {
                environment: key_of(key.environment_id),
                id: key.id,
                name: key.name,
                kind: key.kind,
                role: key.role,
                sha256: key.sha256,
                hint: key.hint,
                created_at: key.created_at,
                expires_at: key.expires_at,
                revoked_at: key.revoked_at,
                rotated_to: key.rotated_to,
            })
            .collect();
        let audit = self.whole_audit_log().await?;
        drop(tx);
        Ok(Backup {
            format: FORMAT.to_owned(),
            environments: exported,
            flags: flags.into_values().collect(),
            keys,
            audit,
        })
    }

    pub(super) async fn all_flags_in(
        &self,
        environment_id: Uuid,
    ) -> Result<Vec<(FlagRecord, ConfigRecord)>, Error> {
        let mut all = Vec::new();
        loop {
            let page = self
                .store
                .flags(
                    environment_id,
                    &FlagFilter {
                        limit: PAGE,
                        offset: all.len() as u64,
                        ..FlagFilter::default()
                    },
                )
                .await?;
            let done = page.items.len() < PAGE as usize;
            all.extend(page.items);
            if done {
                return Ok(all);
            }
        }
    }

    pub(super) async fn all_segments_in(
        &self,
        environment_id: Uuid,
    ) -> Result<Vec<SegmentBackup>, Error> {
        let mut all = Vec::new();
        loop {
            let page = self
                .store
                .segments(
                    environment_id,
                    &FlagFilter {
                        limit: PAGE,
                        offset: all.len() as u64,
                        ..FlagFilter::default()
                    },
                )
                .await?;
            let done = page.items.len() < PAGE as usize;
            all.extend(page.items.into_iter().map(|record| SegmentBackup {
                id: record.id,
                segment: record.segment,
            }));
            if done {
                return Ok(all);
            }
        }
    }

    async fn whole_audit_log(&self) -> Result<Vec<AuditBackup>, Error> {
        let mut newest_first: Vec<AuditEntry> = Vec::new();
        loop {
            let page = self
                .store
                .audit(&AuditFilter {
                    before_id: newest_first.last().map(|e| e.id),
                    limit: PAGE,
                    ..AuditFilter::default()
                })
                .await?;
            let done = page.len() < PAGE as usize;
            newest_first.extend(page);
            if done {
                break;
            }
        }
        Ok(newest_first
            .into_iter()
            .rev()
            .map(|e| AuditBackup {
                at: e.at,
                actor_id: e.actor_id,
                actor_name: e.actor_name,
                action: e.action,
                resource: e.resource,
                resource_key: e.resource_key,
                environment: e.environment,
                flag_key: e.flag_key,
                before: e.before,
                after: e.after,
            })
            .collect())
    }

    /// Restores `backup` into a new store (no environments or keys yet), in
    /// one transaction: all of it or, on any error, nothing.
    pub async fn restore(&self, backup: Backup) -> Result<Restored, Error> {
        if backup.format != FORMAT {
            return Err(invalid(
                format!("format must be {FORMAT:?}, got {:?}", backup.format),
                "format",
            ));
        }
        let mut tx = self.store.begin().await?;
        if !tx.environments_for_update().await?.is_empty()
            || !self.store.api_keys().await?.is_empty()
        {
            return Err(Error::InvalidRequest {
                message: "the target database is not empty: restore into a new one".into(),
                path: None,
            });
        }
        let now = now();
        let mut restored = Restored {
            environments: backup.environments.len(),
            flags: backup.flags.len(),
            segments: 0,
            keys: backup.keys.len(),
            audit: backup.audit.len(),
        };
        let mut environments = Vec::with_capacity(backup.environments.len());
        for (i, environment) in backup.environments.into_iter().enumerate() {
            let record = EnvironmentRecord {
                id: environment.id,
                key: environment.key,
                name: environment.name,
                // A new history: see the module docs.
                epoch: Epoch::parse(Uuid::now_v7().simple().to_string())
                    .expect("32 hex digits are a valid epoch"),
                revision: environment.revision.max(1),
                version: environment.version,
                created_at: environment.created_at,
                updated_at: environment.updated_at,
            };
            tx.insert_environment(&record)
                .await
                .map_err(|e| located(e.into(), &format!("environments[{i}]")))?;
            for segment in environment.segments {
                tx.insert_segment(&SegmentRecord {
                    id: segment.id,
                    environment_id: record.id,
                    segment: segment.segment,
                })
                .await
                .map_err(|e| located(e.into(), &format!("environments[{i}].segments")))?;
                restored.segments += 1;
            }
            environments.push(record);
        }
        let id_of = |key: &str, path: String| {
            environments
                .iter()
                .find(|e| e.key.as_str() == key)
                .map(|e| e.id)
                .ok_or_else(|| invalid(format!("no environment {key:?} in the backup"), &path))
        };
        for (i, flag) in backup.flags.into_iter().enumerate() {
            let id = flag
                .flag
                .id
                .as_deref()
                .and_then(|id| Uuid::parse_str(id).ok())
                .ok_or_else(|| {
                    invalid("a flag needs its UUID id".into(), &format!("flags[{i}].id"))
                })?;
            tx.insert_flag(&FlagRecord {
                id,
                flag: flag.flag,
            })
            .await
            .map_err(|e| located(e.into(), &format!("flags[{i}]")))?;
            for (environment, config) in flag.configs {
                tx.upsert_config(&ConfigRecord {
                    flag_id: id,
                    environment_id: id_of(&environment, format!("flags[{i}].configs"))?,
                    config: config.config,
                    updated_at: config.updated_at,
                })
                .await?;
            }
        }
        for (i, key) in backup.keys.into_iter().enumerate() {
            let environment_id = match &key.environment {
                Some(environment) => Some(id_of(environment, format!("keys[{i}].environment"))?),
                None => None,
            };
            tx.insert_api_key(&ApiKeyRecord {
                id: key.id,
                name: key.name,
                kind: key.kind,
                role: key.role,
                environment_id,
                sha256: key.sha256,
                hint: key.hint,
                created_at: key.created_at,
                expires_at: key.expires_at,
                revoked_at: key.revoked_at,
                rotated_to: key.rotated_to,
            })
            .await
            .map_err(|e| located(e.into(), &format!("keys[{i}]")))?;
        }
        for entry in backup.audit {
            tx.insert_audit(&AuditEntry {
                id: 0,
                at: entry.at,
                actor_id: entry.actor_id,
                actor_name: entry.actor_name,
                action: entry.action,
                resource: entry.resource,
                resource_key: entry.resource_key,
                environment: entry.environment,
                flag_key: entry.flag_key,
                before: entry.before,
                after: entry.after,
            })
            .await?;
        }
        // Nothing invalid goes in: edges must be able to build every
        // restored environment.
        for environment in &environments {
            let flags = tx.environment_flags(environment.id).await?;
            let segments = tx.environment_segments(environment.id).await?;
            check_environment(&flags, &segments)
                .map_err(|e| Error::from(e.within(&format!("environments.{}", environment.key))))?;
        }
        // Last (outbox ids follow commit order): each restored environment
        // announces its new history, so relays publish it and edges resync.
        for environment in &environments {
            let message = ChangeMessage {
                environment: environment.key.clone(),
                epoch: environment.epoch.clone(),
                revision: environment.revision,
                base_revision: environment.revision - 1,
                committed_at: now,
                changes: Vec::new(),
            };
            tx.insert_outbox(environment.id, &message).await?;
        }
        tx.commit().await?;
        Ok(restored)
    }
}

/// Compiles every flag and segment of an environment and checks every
/// flag's references (what an edge needs to build its snapshot).
fn check_environment(
    flags: &[halyard_common::model::EnvironmentFlag],
    segments: &[Segment],
) -> Result<(), halyard_common::ValidationError> {
    for segment in segments {
        halyard_common::eval::CompiledSegment::compile(segment.clone())
            .map_err(|e| e.within(&format!("segments.{}", segment.key)))?;
    }
    for flag in flags {
        let path = format!("flags.{}", flag.flag.key);
        halyard_common::eval::compile::check_definition(&flag.flag).map_err(|e| e.within(&path))?;
        halyard_common::eval::CompiledFlag::compile(flag.clone()).map_err(|e| e.within(&path))?;
        halyard_common::eval::environment::check_flag(flag, flags, segments)
            .map_err(|e| e.within(&path))?;
    }
    Ok(())
}

/// Names where in the document a duplicate was found.
fn located(err: Error, path: &str) -> Error {
    match err {
        Error::Duplicate(what) => invalid(format!("duplicate {what}"), path),
        other => other,
    }
}
