//! Use-cases. Each write opens one transaction, locks what it changes,
//! checks versions, validates with `halyard-common`, and ends in
//! `commit`, which bumps the revision of every affected environment and
//! writes their change messages and the audit entry in the same commit.
//! Nothing is published from here: the outbox relay does that after commit.

pub mod backup;
pub mod code;
pub mod environments;
pub mod flags;
pub mod keys;
pub mod legacy;
pub mod segments;

use std::sync::Arc;

use halyard_common::model::{Flag, FlagConfig, FlagKind, Serve};
use halyard_common::{Change, ChangeMessage, VariationKey};
use serde::Serialize;
use time::OffsetDateTime;

use crate::auth::Principal;
use crate::error::Error;
use crate::store::{AuditEntry, EnvironmentRecord, Store, Tx};

/// The use-cases, over one store.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").finish_non_exhaustive()
    }
}

impl Service {
    /// Services over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The store, for reads.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }
}

/// Who made a change, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Key id, or `bootstrap` / `system`.
    pub id: String,
    /// Key name.
    pub name: String,
}

impl Actor {
    /// Changes made by Halyard itself (first-start setup).
    pub fn system() -> Self {
        Self {
            id: "system".into(),
            name: "system".into(),
        }
    }
}

impl From<&Principal> for Actor {
    fn from(principal: &Principal) -> Self {
        Self {
            id: principal.id.clone(),
            name: principal.name.clone(),
        }
    }
}

/// What one commit does to one environment.
pub(crate) struct EnvironmentChange {
    pub(crate) environment: EnvironmentRecord,
    pub(crate) changes: Vec<Change>,
}

/// Bumps each environment's revision by one, writes its change message to
/// the outbox, appends the audit entries and commits. Returns the new
/// revisions, in the order given.
pub(crate) async fn commit(
    mut tx: Box<dyn Tx>,
    environments: Vec<EnvironmentChange>,
    audit: Vec<AuditEntry>,
) -> Result<Vec<u64>, Error> {
    let now = now();
    let mut revisions = Vec::with_capacity(environments.len());
    for EnvironmentChange {
        mut environment,
        changes,
    } in environments
    {
        let message = ChangeMessage {
            environment: environment.key.clone(),
            epoch: environment.epoch.clone(),
            revision: environment.revision + 1,
            base_revision: environment.revision,
            committed_at: now,
            changes,
        };
        environment.revision += 1;
        environment.updated_at = now;
        tx.update_environment(&environment).await?;
        tx.insert_outbox(environment.id, &message).await?;
        revisions.push(environment.revision);
    }
    for entry in &audit {
        tx.insert_audit(entry).await?;
    }
    tx.commit().await?;
    Ok(revisions)
}

/// Builds an audit entry.
pub(crate) struct Audit<'a> {
    pub(crate) actor: &'a Actor,
    pub(crate) action: &'static str,
    pub(crate) resource: &'static str,
    pub(crate) key: String,
    pub(crate) environment: Option<String>,
    pub(crate) flag: Option<String>,
}

impl Audit<'_> {
    pub(crate) fn entry(
        self,
        before: Option<impl Serialize>,
        after: Option<impl Serialize>,
    ) -> AuditEntry {
        fn to_json(v: impl Serialize) -> serde_json::Value {
            serde_json::to_value(v).expect("audit states serialize")
        }
        AuditEntry {
            id: 0,
            at: now(),
            actor_id: self.actor.id.clone(),
            actor_name: self.actor.name.clone(),
            action: self.action.to_owned(),
            resource: self.resource.to_owned(),
            resource_key: self.key,
            environment: self.environment,
            flag_key: self.flag,
            before: before.map(to_json),
            after: after.map(to_json),
        }
    }
}

/// The configuration a flag starts with in an environment: disabled,
/// serving its off variation (`false` for booleans, else the first).
pub fn default_config(flag: &Flag) -> FlagConfig {
    let off = match flag.kind {
        FlagKind::Boolean => VariationKey::parse("false").expect("valid key"),
        _ => flag.variations[0].key.clone(),
    };
    FlagConfig {
        enabled: false,
        off_variation: off.clone(),
        targets: Vec::new(),
        rules: Vec::new(),
        default_serve: Serve::Variation(off),
        prerequisites: Vec::new(),
        version: 1,
    }
}

/// The current time at the precision PostgreSQL stores (microseconds), so
/// that what a change message carries equals what a rebuild reads back.
pub fn now() -> OffsetDateTime {
    truncate(OffsetDateTime::now_utc())
}

/// `at` cut to whole microseconds.
pub fn truncate(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .expect("a smaller nanosecond is valid")
}

/// Checks an optimistic-concurrency version: 428 when missing, 409 when stale.
pub(crate) fn check_version(sent: Option<u64>, current: u64) -> Result<(), Error> {
    match sent {
        None => Err(Error::VersionRequired),
        Some(sent) if sent != current => Err(Error::VersionConflict { sent, current }),
        Some(_) => Ok(()),
    }
}
