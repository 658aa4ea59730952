//! Environments. Creating one starts a new epoch at revision 1 with every
//! flag in its default configuration; deleting one publishes
//! `environment_deleted` and removes its configurations, segments and keys.

use halyard_common::model::EnvironmentFlag;
use halyard_common::{Change, ChangeMessage, EnvironmentKey, Epoch};
use serde_json::json;
use uuid::Uuid;

use super::{Actor, Audit, EnvironmentChange, Service, check_version, commit, default_config, now};
use crate::error::Error;
use crate::store::{ConfigRecord, EnvironmentRecord};

/// The environments a fresh installation starts with.
pub const DEFAULT_ENVIRONMENTS: [&str; 2] = ["development", "production"];

/// The environment the legacy API acts on.
pub const LEGACY_ENVIRONMENT: &str = "production";

fn environment_json(env: &EnvironmentRecord) -> serde_json::Value {
    json!({"key": env.key, "name": env.name, "epoch": env.epoch, "revision": env.revision, "version": env.version})
}

impl Service {
    /// Creates an environment (a new epoch, revision 1).
    pub async fn create_environment(
        &self,
        actor: &Actor,
        key: EnvironmentKey,
        name: Option<String>,
    ) -> Result<EnvironmentRecord, Error> {
        let name = match name {
            Some(name) => environment_name(name)?,
            None => key.to_string(),
        };
        let now = now();
        let environment = EnvironmentRecord {
            id: Uuid::now_v7(),
            name,
            key,
            // Unique per creation, so a re-created environment never shares
            // an epoch with the one it replaces.
            epoch: Epoch::parse(Uuid::now_v7().simple().to_string())
                .expect("32 hex digits are a valid epoch"),
            revision: 1,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.begin().await?;
        // Serialises with flag creation, which locks every environment.
        tx.environments_for_update().await?;
        tx.insert_environment(&environment)
            .await
            .map_err(|e| match Error::from(e) {
                Error::Duplicate(_) => Error::Duplicate(format!("environment {}", environment.key)),
                other => other,
            })?;
        let mut changes = vec![Change::EnvironmentCreated];
        for record in tx.all_flags().await? {
            let config = default_config(&record.flag);
            tx.upsert_config(&ConfigRecord {
                flag_id: record.id,
                environment_id: environment.id,
                config: config.clone(),
                updated_at: now,
            })
            .await?;
            changes.push(Change::FlagUpserted {
                flag: EnvironmentFlag {
                    flag: record.flag,
                    config,
                },
            });
        }
        let message = ChangeMessage {
            environment: environment.key.clone(),
            epoch: environment.epoch.clone(),
            revision: 1,
            base_revision: 0,
            committed_at: now,
            changes,
        };
        tx.insert_outbox(environment.id, &message).await?;
        let audit = Audit {
            actor,
            action: "environment.created",
            resource: "environment",
            key: environment.key.to_string(),
            environment: Some(environment.key.to_string()),
            flag: None,
        }
        .entry(None::<()>, Some(environment_json(&environment)));
        tx.insert_audit(&audit).await?;
        tx.commit().await?;
        Ok(environment)
    }

    /// Creates the default environments when there are none (first start).
    pub async fn ensure_default_environments(&self) -> Result<Vec<EnvironmentRecord>, Error> {
        let mut created = Vec::new();
        if self.store.environments().await?.is_empty() {
            for key in DEFAULT_ENVIRONMENTS {
                let key = EnvironmentKey::parse(key).expect("valid key");
                match self.create_environment(&Actor::system(), key, None).await {
                    Ok(env) => created.push(env),
                    // Another instance created it first.
                    Err(Error::Duplicate(_)) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(created)
    }

    /// Renames an environment (the revision is unaffected: nothing an edge
    /// sees changes).
    pub async fn rename_environment(
        &self,
        actor: &Actor,
        key: &str,
        version: Option<u64>,
        name: String,
    ) -> Result<EnvironmentRecord, Error> {
        let name = environment_name(name)?;
        let mut tx = self.store.begin().await?;
        let mut environment = tx
            .environment_for_update(key)
            .await?
            .ok_or_else(|| Error::NotFound(format!("environment {key}")))?;
        check_version(version, environment.version)?;
        let before = environment_json(&environment);
        environment.name = name;
        environment.version += 1;
        environment.updated_at = now();
        tx.update_environment(&environment).await?;
        let audit = Audit {
            actor,
            action: "environment.updated",
            resource: "environment",
            key: key.to_owned(),
            environment: Some(key.to_owned()),
            flag: None,
        }
        .entry(Some(before), Some(environment_json(&environment)));
        tx.insert_audit(&audit).await?;
        tx.commit().await?;
        Ok(environment)
    }

    /// Deletes an environment with everything in it.
    pub async fn delete_environment(&self, actor: &Actor, key: &str) -> Result<(), Error> {
        let mut tx = self.store.begin().await?;
        let environment = tx
            .environment_for_update(key)
            .await?
            .ok_or_else(|| Error::NotFound(format!("environment {key}")))?;
        let audit = Audit {
            actor,
            action: "environment.deleted",
            resource: "environment",
            key: key.to_owned(),
            environment: Some(key.to_owned()),
            flag: None,
        }
        .entry(Some(environment_json(&environment)), None::<()>);
        tx.delete_environment(environment.id).await?;
        // The row is gone; `commit` only needs its revision to chain the
        // final message, and updating a deleted row is a no-op.
        let change = EnvironmentChange {
            environment,
            changes: vec![Change::EnvironmentDeleted],
        };
        commit(tx, vec![change], vec![audit]).await?;
        Ok(())
    }
}

/// An environment's display name: trimmed, not empty, at most 200 characters.
fn environment_name(name: String) -> Result<String, Error> {
    let trimmed = name.trim();
    let problem = if trimmed.is_empty() {
        "must not be empty"
    } else if trimmed.chars().count() > 200 {
        "must be at most 200 characters"
    } else {
        return Ok(trimmed.to_owned());
    };
    Err(Error::InvalidRequest {
        message: format!("name {problem}"),
        path: Some("name".into()),
    })
}
