//! Segments: reusable audiences of one environment.

use halyard_common::Change;
use halyard_common::eval::CompiledSegment;
use halyard_common::eval::environment::flags_using_segment;
use halyard_common::model::Segment;
use uuid::Uuid;

use super::{Actor, Audit, EnvironmentChange, Service, check_version, commit, now};
use crate::error::Error;
use crate::store::{EnvironmentRecord, SegmentRecord, Tx};

async fn locked_environment(tx: &mut dyn Tx, key: &str) -> Result<EnvironmentRecord, Error> {
    tx.environment_for_update(key)
        .await?
        .ok_or_else(|| Error::NotFound(format!("environment {key}")))
}

fn audit<'a>(actor: &'a Actor, action: &'static str, environment: &str, key: &str) -> Audit<'a> {
    Audit {
        actor,
        action,
        resource: "segment",
        key: key.to_owned(),
        environment: Some(environment.to_owned()),
        flag: None,
    }
}

impl Service {
    /// Creates a segment.
    pub async fn create_segment(
        &self,
        actor: &Actor,
        environment: &str,
        mut segment: Segment,
    ) -> Result<SegmentRecord, Error> {
        let now = now();
        segment.version = 1;
        segment.created_at = Some(now);
        segment.updated_at = Some(now);
        CompiledSegment::compile(segment.clone())?;
        let mut tx = self.store.begin().await?;
        let env = locked_environment(&mut *tx, environment).await?;
        let record = SegmentRecord {
            id: Uuid::now_v7(),
            environment_id: env.id,
            segment,
        };
        tx.insert_segment(&record)
            .await
            .map_err(|e| match Error::from(e) {
                Error::Duplicate(_) => {
                    Error::Duplicate(format!("segment {} in {environment}", record.segment.key))
                }
                other => other,
            })?;
        let entry = audit(
            actor,
            "segment.created",
            environment,
            record.segment.key.as_str(),
        )
        .entry(None::<()>, Some(&record.segment));
        let change = EnvironmentChange {
            environment: env,
            changes: vec![Change::SegmentUpserted {
                segment: record.segment.clone(),
            }],
        };
        commit(tx, vec![change], vec![entry]).await?;
        Ok(record)
    }

    /// Replaces a segment.
    pub async fn update_segment(
        &self,
        actor: &Actor,
        environment: &str,
        key: &str,
        version: Option<u64>,
        mut segment: Segment,
    ) -> Result<SegmentRecord, Error> {
        let mut tx = self.store.begin().await?;
        let env = locked_environment(&mut *tx, environment).await?;
        let current = tx
            .segment_for_update(env.id, key)
            .await?
            .ok_or_else(|| Error::NotFound(format!("segment {key} in {environment}")))?;
        check_version(version, current.segment.version)?;
        segment.key = current.segment.key.clone();
        segment.version = current.segment.version + 1;
        segment.created_at = current.segment.created_at;
        segment.updated_at = Some(now());
        CompiledSegment::compile(segment.clone())?;
        let record = SegmentRecord {
            id: current.id,
            environment_id: env.id,
            segment,
        };
        tx.update_segment(&record).await?;
        let entry = audit(actor, "segment.updated", environment, key)
            .entry(Some(&current.segment), Some(&record.segment));
        let change = EnvironmentChange {
            environment: env,
            changes: vec![Change::SegmentUpserted {
                segment: record.segment.clone(),
            }],
        };
        commit(tx, vec![change], vec![entry]).await?;
        Ok(record)
    }

    /// Deletes a segment; refused while a rule uses it.
    pub async fn delete_segment(
        &self,
        actor: &Actor,
        environment: &str,
        key: &str,
    ) -> Result<(), Error> {
        let mut tx = self.store.begin().await?;
        let env = locked_environment(&mut *tx, environment).await?;
        let current = tx
            .segment_for_update(env.id, key)
            .await?
            .ok_or_else(|| Error::NotFound(format!("segment {key} in {environment}")))?;
        let flags = tx.environment_flags(env.id).await?;
        let users = flags_using_segment(&flags, key);
        if !users.is_empty() {
            return Err(Error::InUse {
                what: format!("segment {key}"),
                users: format!("the rules of {}", users.join(", ")),
            });
        }
        tx.delete_segment(current.id).await?;
        let entry = audit(actor, "segment.deleted", environment, key)
            .entry(Some(&current.segment), None::<()>);
        let change = EnvironmentChange {
            environment: env,
            changes: vec![Change::SegmentDeleted {
                key: current.segment.key,
            }],
        };
        commit(tx, vec![change], vec![entry]).await?;
        Ok(())
    }
}
