//! API keys: admin tokens (roles), per-environment SDK keys (server, client)
//! and edge tokens. Plaintext exists only in the create and rotate responses.
//!
//! SDK key changes bump their environment's revision: edges learn of new,
//! rotated and revoked keys through the same change stream as flags.
//! Rotation keeps the old key valid for a grace period (default
//! [`DEFAULT_ROTATION_GRACE`]) so that deployments can roll over.

use std::time::Duration;

use halyard_common::Change;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Actor, Audit, EnvironmentChange, Service, commit, now};
use crate::auth::new_record;
use crate::error::Error;
use crate::store::{ApiKeyKind, ApiKeyRecord, EnvironmentRecord, Role, Tx};

/// How long a rotated key keeps working unless the caller says otherwise.
pub const DEFAULT_ROTATION_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

/// A key to create.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Human name; the audit log's actor for admin tokens.
    pub name: String,
    /// What it is for.
    pub kind: ApiKeyKind,
    /// Admin tokens: the role.
    pub role: Option<Role>,
    /// SDK keys: the environment.
    pub environment: Option<String>,
    /// Optional expiry.
    pub expires_at: Option<OffsetDateTime>,
}

/// A key made at first start, with its plaintext (to print once).
#[derive(Debug, Clone)]
pub struct BootstrapKey {
    /// The stored record.
    pub record: ApiKeyRecord,
    /// Its environment (SDK keys).
    pub environment: Option<String>,
    /// The key itself.
    pub plaintext: String,
}

/// A key's public description (never the hash or the plaintext).
pub fn describe(key: &ApiKeyRecord, environment: Option<&str>) -> serde_json::Value {
    json!({
        "id": key.id, "name": key.name, "kind": key.kind, "role": key.role,
        "environment": environment, "hint": key.hint,
    })
}

fn invalid(message: &str, path: &str) -> Error {
    Error::InvalidRequest {
        message: message.to_owned(),
        path: Some(path.to_owned()),
    }
}

async fn key_environment(
    tx: &mut dyn Tx,
    key: &ApiKeyRecord,
) -> Result<Option<EnvironmentRecord>, Error> {
    let Some(id) = key.environment_id else {
        return Ok(None);
    };
    let environments = tx.environments_for_update().await?;
    Ok(environments.into_iter().find(|e| e.id == id))
}

impl Service {
    /// Creates a key; returns it with its plaintext (shown once).
    pub async fn create_key(
        &self,
        actor: &Actor,
        new: NewKey,
    ) -> Result<(ApiKeyRecord, Option<String>, String), Error> {
        self.insert_key(actor, new, None).await
    }

    /// Registers `plaintext`, a key the operator chose (the old system's
    /// shared SDK key), unless a key with its hash exists in any state (a
    /// revoked one stays revoked). Returns whether it was created, and the
    /// record either way, so the caller can tell whether the existing one
    /// is what it asked for.
    pub async fn register_key(
        &self,
        actor: &Actor,
        new: NewKey,
        plaintext: &str,
    ) -> Result<(bool, ApiKeyRecord), Error> {
        let sha256 = crate::auth::sha256_hex(plaintext);
        if let Some(existing) = self.store.api_key_by_hash(&sha256).await? {
            return Ok((false, existing));
        }
        match self.insert_key(actor, new, Some(plaintext)).await {
            Ok((record, _, _)) => Ok((true, record)),
            // Registered concurrently by another process.
            Err(Error::Duplicate(_)) => match self.store.api_key_by_hash(&sha256).await? {
                Some(existing) => Ok((false, existing)),
                None => Err(Error::Duplicate("api key".into())),
            },
            Err(err) => Err(err),
        }
    }

    /// On a store that has never held a key (a first start): an admin
    /// token and a server and a client SDK key per environment, created in
    /// one transaction and returned with their plaintext to print once.
    /// `None` otherwise.
    pub async fn bootstrap_keys(&self) -> Result<Option<Vec<BootstrapKey>>, Error> {
        let mut tx = self.store.begin().await?;
        let environments = tx.environments_for_update().await?;
        if !self.store.api_keys().await?.is_empty() {
            return Ok(None);
        }
        let actor = Actor::system();
        let mut keys = Vec::new();
        let mut audit = Vec::new();
        let mut changes = Vec::new();
        let (admin, plaintext) = new_record(
            ApiKeyKind::Admin,
            "bootstrap admin".into(),
            Some(Role::Admin),
            None,
            None,
            None,
        );
        keys.push(BootstrapKey {
            record: admin,
            environment: None,
            plaintext,
        });
        for environment in environments {
            let mut entries = Vec::new();
            for kind in [ApiKeyKind::Server, ApiKeyKind::Client] {
                let (record, plaintext) = new_record(
                    kind,
                    format!("{} {}", environment.key, kind.as_str()),
                    None,
                    Some(environment.id),
                    None,
                    None,
                );
                entries.push(record.key_entry());
                keys.push(BootstrapKey {
                    record,
                    environment: Some(environment.key.to_string()),
                    plaintext,
                });
            }
            changes.extend(sdk_key_change(Some(environment), entries));
        }
        for key in &keys {
            tx.insert_api_key(&key.record).await?;
            audit.push(
                Audit {
                    actor: &actor,
                    action: "key.created",
                    resource: "key",
                    key: key.record.id.to_string(),
                    environment: key.environment.clone(),
                    flag: None,
                }
                .entry(
                    None::<()>,
                    Some(describe(&key.record, key.environment.as_deref())),
                ),
            );
        }
        commit(tx, changes, audit).await?;
        Ok(Some(keys))
    }

    async fn insert_key(
        &self,
        actor: &Actor,
        new: NewKey,
        supplied: Option<&str>,
    ) -> Result<(ApiKeyRecord, Option<String>, String), Error> {
        if new.name.trim().is_empty() {
            return Err(invalid("name must not be empty", "name"));
        }
        match (new.kind, new.role.is_some(), new.environment.is_some()) {
            (ApiKeyKind::Admin, false, _) => {
                return Err(invalid(
                    "admin tokens need a role: viewer, editor or admin",
                    "role",
                ));
            }
            (ApiKeyKind::Admin, true, true) => {
                return Err(invalid(
                    "admin tokens are not per environment",
                    "environment",
                ));
            }
            (ApiKeyKind::Server | ApiKeyKind::Client, _, false) => {
                return Err(invalid("SDK keys belong to an environment", "environment"));
            }
            (ApiKeyKind::Server | ApiKeyKind::Client | ApiKeyKind::Edge, true, _) => {
                return Err(invalid("only admin tokens have a role", "role"));
            }
            (ApiKeyKind::Edge, _, true) => {
                return Err(invalid("edge tokens read every environment", "environment"));
            }
            _ => {}
        }
        let expires_at = new.expires_at.map(super::truncate);
        if expires_at.is_some_and(|at| at <= now()) {
            return Err(invalid("expires_at must be in the future", "expires_at"));
        }
        let mut tx = self.store.begin().await?;
        let environment = match &new.environment {
            Some(key) => Some(
                tx.environment_for_update(key)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("environment {key}")))?,
            ),
            None => None,
        };
        let (record, plaintext) = new_record(
            new.kind,
            new.name,
            new.role,
            environment.as_ref().map(|e| e.id),
            expires_at,
            supplied,
        );
        tx.insert_api_key(&record).await?;
        let env_key = environment.as_ref().map(|e| e.key.to_string());
        let entry = Audit {
            actor,
            action: "key.created",
            resource: "key",
            key: record.id.to_string(),
            environment: env_key.clone(),
            flag: None,
        }
        .entry(None::<()>, Some(describe(&record, env_key.as_deref())));
        let changes = sdk_key_change(environment, vec![record.key_entry()]);
        commit(tx, changes, vec![entry]).await?;
        Ok((record, env_key, plaintext))
    }

    /// Issues a replacement key; the old one keeps working for `grace`.
    pub async fn rotate_key(
        &self,
        actor: &Actor,
        id: Uuid,
        grace: Duration,
    ) -> Result<(ApiKeyRecord, Option<String>, String), Error> {
        let mut tx = self.store.begin().await?;
        let mut old = tx
            .api_key_for_update(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("key {id}")))?;
        let now = now();
        if !old.is_active(now) {
            return Err(Error::NotFound(format!("active key {id}")));
        }
        let environment = key_environment(&mut *tx, &old).await?;
        let (new, plaintext) = new_record(
            old.kind,
            old.name.clone(),
            old.role,
            old.environment_id,
            old.expires_at,
            None,
        );
        let grace_end = now + grace;
        old.expires_at = Some(old.expires_at.map_or(grace_end, |at| at.min(grace_end)));
        old.rotated_to = Some(new.id);
        tx.insert_api_key(&new).await?;
        tx.update_api_key(&old).await?;
        let env_key = environment.as_ref().map(|e| e.key.to_string());
        let entry = Audit {
            actor,
            action: "key.rotated",
            resource: "key",
            key: old.id.to_string(),
            environment: env_key.clone(),
            flag: None,
        }
        .entry(
            Some(describe(&old, env_key.as_deref())),
            Some(describe(&new, env_key.as_deref())),
        );
        let changes = sdk_key_change(environment, vec![new.key_entry(), old.key_entry()]);
        commit(tx, changes, vec![entry]).await?;
        Ok((new, env_key, plaintext))
    }

    /// Revokes a key at once.
    pub async fn revoke_key(&self, actor: &Actor, id: Uuid) -> Result<ApiKeyRecord, Error> {
        let mut tx = self.store.begin().await?;
        let mut key = tx
            .api_key_for_update(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("key {id}")))?;
        if key.revoked_at.is_some() {
            return Ok(key);
        }
        let environment = key_environment(&mut *tx, &key).await?;
        key.revoked_at = Some(now());
        tx.update_api_key(&key).await?;
        let env_key = environment.as_ref().map(|e| e.key.to_string());
        let entry = Audit {
            actor,
            action: "key.revoked",
            resource: "key",
            key: key.id.to_string(),
            environment: env_key.clone(),
            flag: None,
        }
        .entry(Some(describe(&key, env_key.as_deref())), None::<()>);
        let changes = match environment {
            Some(environment) => vec![EnvironmentChange {
                environment,
                changes: vec![Change::KeyDeleted {
                    id: key.id.to_string(),
                }],
            }],
            None => Vec::new(),
        };
        commit(tx, changes, vec![entry]).await?;
        Ok(key)
    }
}

/// The environment change for SDK key entries (none for admin and edge keys).
fn sdk_key_change(
    environment: Option<EnvironmentRecord>,
    entries: Vec<Option<halyard_common::KeyEntry>>,
) -> Vec<EnvironmentChange> {
    let changes: Vec<Change> = entries
        .into_iter()
        .flatten()
        .map(|key| Change::KeyUpserted { key })
        .collect();
    match environment {
        Some(environment) if !changes.is_empty() => vec![EnvironmentChange {
            environment,
            changes,
        }],
        _ => Vec::new(),
    }
}
