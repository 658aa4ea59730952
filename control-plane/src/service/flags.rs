//! Flags: definitions (shared by every environment) and per-environment
//! configurations.
//!
//! A definition change (create, edit, delete) affects every environment and
//! bumps each one's revision; a configuration change affects one.

use halyard_common::eval::CompiledFlag;
use halyard_common::eval::compile::check_definition;
use halyard_common::eval::environment::{check_flag, flags_requiring};
use halyard_common::model::{EnvironmentFlag, Flag, FlagConfig, FlagKind, Operator, Variation};
use halyard_common::{Change, FlagKey, ValidationError, ValidationErrorKind, VariationKey};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Actor, Audit, EnvironmentChange, Service, check_version, commit, default_config, now};
use crate::error::Error;
use crate::store::{ConfigRecord, EnvironmentRecord, FlagRecord, Tx};

/// A flag to create.
#[derive(Debug, Clone)]
pub struct NewFlag {
    /// Its key.
    pub key: FlagKey,
    /// Free text.
    pub description: String,
    /// Its kind.
    pub kind: FlagKind,
    /// Its variations; optional for booleans (`true`, `false`).
    pub variations: Option<Vec<Variation>>,
    /// Labels.
    pub tags: Vec<String>,
}

/// A change to a flag's definition; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct FlagUpdate {
    /// New description.
    pub description: Option<String>,
    /// New variations (the kind cannot change).
    pub variations: Option<Vec<Variation>>,
    /// New tags.
    pub tags: Option<Vec<String>>,
}

fn boolean_variations() -> Vec<Variation> {
    [true, false]
        .into_iter()
        .map(|b| Variation {
            key: VariationKey::parse(b.to_string()).expect("valid key"),
            value: Value::Bool(b),
            name: None,
        })
        .collect()
}

/// Whether saving `flag` in an environment needs the cross-flag checks: only
/// prerequisites and segment references can make it invalid there.
fn needs_environment_check(flag: &EnvironmentFlag) -> bool {
    !flag.config.prerequisites.is_empty()
        || flag
            .config
            .rules
            .iter()
            .flat_map(|r| &r.clauses)
            .any(|c| c.operator == Operator::InSegment)
}

/// Compiles `flag` and runs the cross-flag checks against its environment.
pub(crate) async fn validate_in_environment(
    tx: &mut dyn Tx,
    environment: &EnvironmentRecord,
    flag: &EnvironmentFlag,
) -> Result<(), Error> {
    CompiledFlag::compile(flag.clone())?;
    if needs_environment_check(flag) {
        let flags = tx.environment_flags(environment.id).await?;
        let segments = tx.environment_segments(environment.id).await?;
        check_flag(flag, &flags, &segments)?;
    }
    Ok(())
}

/// Refuses to delete (or rename) a flag that other flags require, in any of
/// `environments`.
pub(crate) async fn ensure_not_required(
    tx: &mut dyn Tx,
    environments: &[EnvironmentRecord],
    key: &str,
) -> Result<(), Error> {
    let mut users = Vec::new();
    for environment in environments {
        let flags = tx.environment_flags(environment.id).await?;
        for user in flags_requiring(&flags, key) {
            users.push(format!("{user} ({})", environment.key));
        }
    }
    if users.is_empty() {
        Ok(())
    } else {
        Err(Error::InUse {
            what: format!("flag {key}"),
            users: format!("the prerequisites of {}", users.join(", ")),
        })
    }
}

impl Service {
    /// Creates a flag, with the default configuration in every environment
    /// except those given in `configs`.
    pub async fn create_flag(
        &self,
        actor: &Actor,
        new: NewFlag,
        configs: Vec<(String, FlagConfig)>,
    ) -> Result<FlagRecord, Error> {
        let now = now();
        self.insert_flag(actor, new, configs, Uuid::now_v7(), (now, now))
            .await
    }

    /// Creates a flag with the id and times it had elsewhere (the old
    /// system's, on import); otherwise as [`Service::create_flag`].
    pub async fn import_flag(
        &self,
        actor: &Actor,
        new: NewFlag,
        configs: Vec<(String, FlagConfig)>,
        id: Uuid,
        created_at: OffsetDateTime,
        updated_at: OffsetDateTime,
    ) -> Result<FlagRecord, Error> {
        self.insert_flag(
            actor,
            new,
            configs,
            id,
            (super::truncate(created_at), super::truncate(updated_at)),
        )
        .await
    }

    async fn insert_flag(
        &self,
        actor: &Actor,
        new: NewFlag,
        configs: Vec<(String, FlagConfig)>,
        id: Uuid,
        (created_at, updated_at): (OffsetDateTime, OffsetDateTime),
    ) -> Result<FlagRecord, Error> {
        let variations = match (new.variations, new.kind) {
            (Some(variations), _) => variations,
            (None, FlagKind::Boolean) => boolean_variations(),
            (None, _) => {
                return Err(ValidationError::new(
                    "variations",
                    ValidationErrorKind::InvalidVariations(
                        "required for string, number and json flags",
                    ),
                )
                .into());
            }
        };
        let record = FlagRecord {
            id,
            flag: Flag {
                id: Some(id.to_string()),
                key: new.key,
                description: new.description,
                kind: new.kind,
                variations,
                tags: new.tags,
                version: 1,
                created_at: Some(created_at),
                updated_at: Some(updated_at),
            },
        };
        check_definition(&record.flag)?;

        let mut tx = self.store.begin().await?;
        let environments = tx.environments_for_update().await?;
        tx.insert_flag(&record)
            .await
            .map_err(|e| duplicate_flag(e.into(), &record.flag.key))?;
        let mut changes = Vec::with_capacity(environments.len());
        for environment in environments {
            let mut config = configs
                .iter()
                .find(|(env, _)| env == environment.key.as_str())
                .map_or_else(|| default_config(&record.flag), |(_, c)| c.clone());
            config.version = 1;
            let flag = EnvironmentFlag {
                flag: record.flag.clone(),
                config,
            };
            validate_in_environment(&mut *tx, &environment, &flag)
                .await
                .map_err(|e| within_environment(e, &environment))?;
            tx.upsert_config(&ConfigRecord {
                flag_id: record.id,
                environment_id: environment.id,
                config: flag.config.clone(),
                updated_at,
            })
            .await?;
            changes.push(EnvironmentChange {
                environment,
                changes: vec![Change::FlagUpserted { flag }],
            });
        }
        let audit = Audit {
            actor,
            action: "flag.created",
            resource: "flag",
            key: record.flag.key.to_string(),
            environment: None,
            flag: Some(record.flag.key.to_string()),
        }
        .entry(None::<()>, Some(&record.flag));
        commit(tx, changes, vec![audit]).await?;
        Ok(record)
    }

    /// Changes a flag's definition; every environment's configuration must
    /// stay valid with it.
    pub async fn update_flag(
        &self,
        actor: &Actor,
        key: &str,
        version: Option<u64>,
        update: FlagUpdate,
    ) -> Result<FlagRecord, Error> {
        let mut tx = self.store.begin().await?;
        let environments = tx.environments_for_update().await?;
        let mut record = tx
            .flag_for_update(key)
            .await?
            .ok_or_else(|| Error::NotFound(format!("flag {key}")))?;
        check_version(version, record.flag.version)?;
        let before = record.flag.clone();
        if let Some(description) = update.description {
            record.flag.description = description;
        }
        if let Some(variations) = update.variations {
            record.flag.variations = variations;
        }
        if let Some(tags) = update.tags {
            record.flag.tags = tags;
        }
        record.flag.version += 1;
        record.flag.updated_at = Some(now());
        check_definition(&record.flag)?;
        tx.update_flag(&record).await?;
        let changes = self
            .definition_changes(&mut *tx, environments, &record)
            .await?;
        let audit = Audit {
            actor,
            action: "flag.updated",
            resource: "flag",
            key: key.to_owned(),
            environment: None,
            flag: Some(key.to_owned()),
        }
        .entry(Some(&before), Some(&record.flag));
        commit(tx, changes, vec![audit]).await?;
        Ok(record)
    }

    /// One `flag_upserted` per environment for a changed definition, each
    /// configuration re-validated against it.
    pub(crate) async fn definition_changes(
        &self,
        tx: &mut dyn Tx,
        environments: Vec<EnvironmentRecord>,
        record: &FlagRecord,
    ) -> Result<Vec<EnvironmentChange>, Error> {
        let mut changes = Vec::with_capacity(environments.len());
        for environment in environments {
            let config = tx
                .config_for_update(record.id, environment.id)
                .await?
                .map_or_else(|| default_config(&record.flag), |c| c.config);
            let flag = EnvironmentFlag {
                flag: record.flag.clone(),
                config,
            };
            CompiledFlag::compile(flag.clone())
                .map_err(|e| within_environment(e.into(), &environment))?;
            ensure_prerequisites_still_met(tx, &environment, &record.flag).await?;
            changes.push(EnvironmentChange {
                environment,
                changes: vec![Change::FlagUpserted { flag }],
            });
        }
        Ok(changes)
    }

    /// Deletes a flag everywhere; refused while another flag requires it.
    pub async fn delete_flag(&self, actor: &Actor, key: &str) -> Result<(), Error> {
        let mut tx = self.store.begin().await?;
        let environments = tx.environments_for_update().await?;
        let record = tx
            .flag_for_update(key)
            .await?
            .ok_or_else(|| Error::NotFound(format!("flag {key}")))?;
        ensure_not_required(&mut *tx, &environments, key).await?;
        tx.delete_flag(record.id).await?;
        let changes = environments
            .into_iter()
            .map(|environment| EnvironmentChange {
                environment,
                changes: vec![Change::FlagDeleted {
                    key: record.flag.key.clone(),
                }],
            })
            .collect();
        let audit = Audit {
            actor,
            action: "flag.deleted",
            resource: "flag",
            key: key.to_owned(),
            environment: None,
            flag: Some(key.to_owned()),
        }
        .entry(Some(&record.flag), None::<()>);
        commit(tx, changes, vec![audit]).await?;
        Ok(())
    }

    /// Replaces a flag's configuration in one environment.
    pub async fn update_config(
        &self,
        actor: &Actor,
        environment: &str,
        key: &str,
        version: Option<u64>,
        mut config: FlagConfig,
    ) -> Result<(FlagRecord, ConfigRecord), Error> {
        let mut tx = self.store.begin().await?;
        let env = tx
            .environment_for_update(environment)
            .await?
            .ok_or_else(|| Error::NotFound(format!("environment {environment}")))?;
        let record = tx
            .flag_for_update(key)
            .await?
            .ok_or_else(|| Error::NotFound(format!("flag {key}")))?;
        let current = tx
            .config_for_update(record.id, env.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("flag {key} in {environment}")))?;
        check_version(version, current.config.version)?;
        config.version = current.config.version + 1;
        let flag = EnvironmentFlag {
            flag: record.flag.clone(),
            config,
        };
        validate_in_environment(&mut *tx, &env, &flag).await?;
        let saved = ConfigRecord {
            flag_id: record.id,
            environment_id: env.id,
            config: flag.config.clone(),
            updated_at: now(),
        };
        tx.upsert_config(&saved).await?;
        let audit = Audit {
            actor,
            action: "config.updated",
            resource: "config",
            key: key.to_owned(),
            environment: Some(environment.to_owned()),
            flag: Some(key.to_owned()),
        }
        .entry(Some(&current.config), Some(&saved.config));
        let change = EnvironmentChange {
            environment: env,
            changes: vec![Change::FlagUpserted { flag }],
        };
        commit(tx, vec![change], vec![audit]).await?;
        Ok((record, saved))
    }
}

/// Refuses a definition whose variations no longer include one that another
/// flag's prerequisite requires (the error names that flag's field).
async fn ensure_prerequisites_still_met(
    tx: &mut dyn Tx,
    environment: &EnvironmentRecord,
    flag: &Flag,
) -> Result<(), Error> {
    for other in tx.environment_flags(environment.id).await? {
        for (i, prerequisite) in other.config.prerequisites.iter().enumerate() {
            let missing = prerequisite.flag == flag.key
                && !flag
                    .variations
                    .iter()
                    .any(|v| v.key == prerequisite.variation);
            if missing {
                let path = format!(
                    "environments.{}.flags.{}.config.prerequisites[{i}].variation",
                    environment.key, other.flag.key
                );
                let kind =
                    ValidationErrorKind::UnknownVariation(prerequisite.variation.to_string());
                return Err(ValidationError::new(path, kind).into());
            }
        }
    }
    Ok(())
}

/// Names the environment in a validation error's path.
pub(crate) fn within_environment(err: Error, environment: &EnvironmentRecord) -> Error {
    match err {
        Error::Validation(e) => {
            Error::Validation(e.within(&format!("environments.{}", environment.key)))
        }
        other => other,
    }
}

pub(crate) fn duplicate_flag(err: Error, key: &FlagKey) -> Error {
    match err {
        Error::Duplicate(_) => Error::Duplicate(format!("flag {key}")),
        other => other,
    }
}
