//! The legacy API's use-cases: the old system's flags, kept working on the
//! `production` environment.
//!
//! A legacy flag is a boolean flag in the legacy form (`LegacyFlag` in
//! `halyard-common`). Flags that are not legacy-representable are invisible
//! here (404, left out of lists) and refuse legacy writes (409). Other
//! environments get new flags disabled.

use halyard_common::model::{EnvironmentFlag, FlagConfig, LegacyFlag};
use halyard_common::{Change, FlagKey};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::environments::LEGACY_ENVIRONMENT;
use super::flags::{NewFlag, ensure_not_required};
use super::{Actor, Audit, EnvironmentChange, Service, commit, default_config, now};
use crate::error::Error;
use crate::store::{ConfigRecord, EnvironmentRecord, FlagFilter, FlagRecord};

/// A flag as the legacy API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LegacyView {
    /// The flag's id.
    pub id: Uuid,
    /// Its key.
    pub key: String,
    /// Free text.
    pub description: String,
    /// On in production.
    pub enabled: bool,
    /// Percent of users who get it (by the v1 bucket).
    pub rollout_percentage: u8,
    /// Users who always get it.
    pub targeted_users: Vec<String>,
    /// Created (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last changed, definition or production configuration (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// Legacy create and update input; on update, absent fields stay unchanged.
#[derive(Debug, Clone, Default)]
pub struct LegacyInput {
    /// The key.
    pub key: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// On or off.
    pub enabled: Option<bool>,
    /// 0 to 100.
    pub rollout_percentage: Option<i64>,
    /// User ids.
    pub targeted_users: Option<Vec<String>>,
}

fn view(record: &FlagRecord, config: &ConfigRecord) -> Option<LegacyView> {
    let flag = EnvironmentFlag {
        flag: record.flag.clone(),
        config: config.config.clone(),
    };
    let legacy = LegacyFlag::from_environment_flag(&flag)?;
    let created_at = record.flag.created_at.unwrap_or(config.updated_at);
    let updated_at = record
        .flag
        .updated_at
        .map_or(config.updated_at, |at| at.max(config.updated_at));
    Some(LegacyView {
        id: record.id,
        key: legacy.key.to_string(),
        description: legacy.description,
        enabled: legacy.enabled,
        rollout_percentage: legacy.rollout_percentage,
        targeted_users: legacy.targeted_users,
        created_at,
        updated_at,
    })
}

/// Applies `input` over `base`, checking each field like the old API did.
fn merge(base: LegacyFlag, input: LegacyInput) -> Result<LegacyFlag, Error> {
    let key = match input.key {
        Some(key) => {
            FlagKey::parse(key).map_err(|e| Error::LegacyValidation(format!("key: {e}")))?
        }
        None => base.key,
    };
    let rollout_percentage = match input.rollout_percentage {
        Some(p) if (0..=100).contains(&p) => u8::try_from(p).expect("in range"),
        Some(p) => {
            return Err(Error::LegacyValidation(format!(
                "rollout_percentage must be between 0 and 100, got {p}"
            )));
        }
        None => base.rollout_percentage,
    };
    Ok(LegacyFlag {
        key,
        description: input.description.unwrap_or(base.description),
        enabled: input.enabled.unwrap_or(base.enabled),
        rollout_percentage,
        targeted_users: input.targeted_users.unwrap_or(base.targeted_users),
    })
}

/// A flag of the old system's table.
#[derive(Debug, Clone)]
pub struct LegacyRow {
    /// Its id (kept).
    pub id: Uuid,
    /// Its fields (`key` required).
    pub input: LegacyInput,
    /// Created (kept).
    pub created_at: OffsetDateTime,
    /// Last changed (kept).
    pub updated_at: OffsetDateTime,
}

/// What importing one legacy flag did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegacyImport {
    /// Created with the old id and times.
    Created,
    /// Already here, the same.
    Unchanged,
    /// Already here (same id) but different in these fields; left as is.
    Differs(String),
    /// Another flag (this id) already has the key; nothing done.
    KeyTaken(Uuid),
}

/// A legacy input (with its key) checked as the old API did.
fn legacy_flag(input: LegacyInput) -> Result<LegacyFlag, Error> {
    let Some(key) = input.key.clone() else {
        return Err(Error::LegacyValidation("key is required".into()));
    };
    let base = LegacyFlag {
        key: FlagKey::parse(key).map_err(|e| Error::LegacyValidation(format!("key: {e}")))?,
        description: String::new(),
        enabled: false,
        rollout_percentage: 0,
        targeted_users: Vec::new(),
    };
    merge(base, input)
}

/// A legacy flag's full-model definition and production configuration.
fn full_model(legacy: LegacyFlag) -> Result<(NewFlag, FlagConfig), Error> {
    let full = legacy
        .to_environment_flag()
        .map_err(|e| Error::from(e).legacy())?;
    let new = NewFlag {
        key: full.flag.key.clone(),
        description: full.flag.description.clone(),
        kind: full.flag.kind,
        variations: Some(full.flag.variations.clone()),
        tags: Vec::new(),
    };
    Ok((new, full.config))
}

fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("flag {id}"))
}

impl Service {
    async fn legacy_environment(&self) -> Result<EnvironmentRecord, Error> {
        self.store
            .environment(LEGACY_ENVIRONMENT)
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "environment {LEGACY_ENVIRONMENT} (the legacy API acts on it)"
                ))
            })
    }

    /// Every legacy-representable flag, by key.
    pub async fn legacy_list(&self) -> Result<Vec<LegacyView>, Error> {
        let environment = self.legacy_environment().await?;
        let mut views = Vec::new();
        let mut filter = FlagFilter {
            limit: 1000,
            ..FlagFilter::default()
        };
        loop {
            let page = self.store.flags(environment.id, &filter).await?;
            let fetched = page.items.len();
            views.extend(
                page.items
                    .iter()
                    .filter_map(|(flag, config)| view(flag, config)),
            );
            if fetched < filter.limit as usize {
                return Ok(views);
            }
            filter.offset += fetched as u64;
        }
    }

    /// One legacy flag by id.
    pub async fn legacy_get(&self, id: Uuid) -> Result<LegacyView, Error> {
        let environment = self.legacy_environment().await?;
        let record = self
            .store
            .flag_by_id(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let config = self
            .store
            .config(id, environment.id)
            .await?
            .ok_or_else(|| not_found(id))?;
        view(&record, &config).ok_or_else(|| not_found(id))
    }

    /// Creates a legacy flag: on in production as given, disabled elsewhere.
    pub async fn legacy_create(
        &self,
        actor: &Actor,
        input: LegacyInput,
    ) -> Result<LegacyView, Error> {
        let (new, config) = full_model(legacy_flag(input)?)?;
        let record = self
            .create_flag(actor, new, vec![(LEGACY_ENVIRONMENT.to_owned(), config)])
            .await
            .map_err(Error::legacy)?;
        self.legacy_get(record.id).await
    }

    /// Imports one flag of the old system's `feature_flags` table, keeping
    /// its id and times: creates it when neither its id nor its key exists,
    /// and otherwise changes nothing, saying how it stands (so importing
    /// twice is harmless).
    pub async fn legacy_import(
        &self,
        actor: &Actor,
        row: LegacyRow,
    ) -> Result<LegacyImport, Error> {
        let wanted = legacy_flag(row.input)?;
        if self.store.flag_by_id(row.id).await?.is_some() {
            let current = match self.legacy_get(row.id).await {
                Ok(current) => current,
                Err(Error::NotFound(_)) => {
                    return Ok(LegacyImport::Differs(
                        "no longer legacy-representable".into(),
                    ));
                }
                Err(err) => return Err(err),
            };
            let differs: Vec<&str> = [
                ("key", current.key != wanted.key.as_str()),
                ("description", current.description != wanted.description),
                ("enabled", current.enabled != wanted.enabled),
                (
                    "rollout_percentage",
                    current.rollout_percentage != wanted.rollout_percentage,
                ),
                (
                    "targeted_users",
                    current.targeted_users != wanted.targeted_users,
                ),
            ]
            .into_iter()
            .filter_map(|(field, differs)| differs.then_some(field))
            .collect();
            return Ok(if differs.is_empty() {
                LegacyImport::Unchanged
            } else {
                LegacyImport::Differs(differs.join(", "))
            });
        }
        if let Some(other) = self.store.flag(wanted.key.as_str()).await? {
            return Ok(LegacyImport::KeyTaken(other.id));
        }
        let (new, config) = full_model(wanted)?;
        self.import_flag(
            actor,
            new,
            vec![(LEGACY_ENVIRONMENT.to_owned(), config)],
            row.id,
            row.created_at,
            row.updated_at,
        )
        .await
        .map_err(Error::legacy)?;
        Ok(LegacyImport::Created)
    }

    /// Partially updates a legacy flag.
    pub async fn legacy_update(
        &self,
        actor: &Actor,
        id: Uuid,
        input: LegacyInput,
    ) -> Result<LegacyView, Error> {
        self.legacy_write(actor, id, |current| merge(current, input))
            .await
    }

    /// Flips `enabled`.
    pub async fn legacy_toggle(&self, actor: &Actor, id: Uuid) -> Result<LegacyView, Error> {
        self.legacy_write(actor, id, |mut current| {
            current.enabled = !current.enabled;
            Ok(current)
        })
        .await
    }

    async fn legacy_write(
        &self,
        actor: &Actor,
        id: Uuid,
        change: impl FnOnce(LegacyFlag) -> Result<LegacyFlag, Error>,
    ) -> Result<LegacyView, Error> {
        let mut tx = self.store.begin().await?;
        let environments = tx.environments_for_update().await?;
        let production = environments
            .iter()
            .find(|e| e.key.as_str() == LEGACY_ENVIRONMENT)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("environment {LEGACY_ENVIRONMENT}")))?;
        let mut record = tx
            .flag_by_id_for_update(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let config = tx
            .config_for_update(id, production.id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let mut full = EnvironmentFlag {
            flag: record.flag.clone(),
            config: config.config.clone(),
        };
        let current = LegacyFlag::from_environment_flag(&full)
            .ok_or_else(|| Error::NotLegacyRepresentable(record.flag.key.to_string()))?;
        let before = view(&record, &config);
        let updated = change(current.clone())?;
        let renamed = updated.key != current.key;
        let definition_changed = renamed || updated.description != current.description;
        if renamed {
            ensure_not_required(&mut *tx, &environments, current.key.as_str()).await?;
        }
        updated
            .apply_to(&mut full)
            .map_err(|e| Error::from(e).legacy())?;
        let now = now();
        let config_changed = full.config != config.config;
        let mut saved_config = ConfigRecord {
            config: full.config.clone(),
            updated_at: now,
            ..config.clone()
        };
        if config_changed {
            saved_config.config.version += 1;
            tx.upsert_config(&saved_config).await?;
        }
        if definition_changed {
            record.flag = full.flag.clone();
            record.flag.version += 1;
            record.flag.updated_at = Some(now);
            tx.update_flag(&record)
                .await
                .map_err(|e| super::flags::duplicate_flag(e.into(), &record.flag.key))?;
        }

        let changes = if definition_changed {
            let mut changes = Vec::with_capacity(environments.len());
            for environment in environments {
                let config: FlagConfig = if environment.id == production.id {
                    saved_config.config.clone()
                } else {
                    tx.config_for_update(id, environment.id)
                        .await?
                        .map_or_else(|| default_config(&record.flag), |c| c.config)
                };
                let mut env_changes = Vec::new();
                if renamed {
                    env_changes.push(Change::FlagDeleted {
                        key: current.key.clone(),
                    });
                }
                env_changes.push(Change::FlagUpserted {
                    flag: EnvironmentFlag {
                        flag: record.flag.clone(),
                        config,
                    },
                });
                changes.push(EnvironmentChange {
                    environment,
                    changes: env_changes,
                });
            }
            changes
        } else if config_changed {
            let flag = EnvironmentFlag {
                flag: record.flag.clone(),
                config: saved_config.config.clone(),
            };
            vec![EnvironmentChange {
                environment: production,
                changes: vec![Change::FlagUpserted { flag }],
            }]
        } else {
            Vec::new()
        };
        let after = view(&record, &saved_config).ok_or_else(|| not_found(id))?;
        let audit = Audit {
            actor,
            action: if definition_changed {
                "flag.updated"
            } else {
                "config.updated"
            },
            resource: if definition_changed { "flag" } else { "config" },
            key: after.key.clone(),
            environment: (!definition_changed).then(|| LEGACY_ENVIRONMENT.to_owned()),
            flag: Some(after.key.clone()),
        }
        .entry(before.as_ref(), Some(&after));
        let audits = if changes.is_empty() {
            Vec::new()
        } else {
            vec![audit]
        };
        commit(tx, changes, audits).await?;
        Ok(after)
    }

    /// Deletes a legacy flag (everywhere, as the old system had one environment).
    pub async fn legacy_delete(&self, actor: &Actor, id: Uuid) -> Result<(), Error> {
        let environment = self.legacy_environment().await?;
        let record = self
            .store
            .flag_by_id(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let config = self
            .store
            .config(id, environment.id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if view(&record, &config).is_none() {
            return Err(Error::NotLegacyRepresentable(record.flag.key.to_string()));
        }
        self.delete_flag(actor, record.flag.key.as_str()).await
    }
}
