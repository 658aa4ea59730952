//! `halyard import-legacy --from postgres://...`: the old system's flags
//! (its `feature_flags` table) into `production`, keeping ids, keys,
//! descriptions, enabled, rollout, targeted users and times. Idempotent: a
//! flag already here (same id) is left as is and reported as unchanged or,
//! if it was edited since, as differing.

use std::io::Write as _;

use anyhow::Context as _;
use clap::Args;
use halyard_control_plane::service::legacy::{LegacyImport, LegacyInput, LegacyRow};
use halyard_control_plane::service::{Actor, Service};
use secrecy::{ExposeSecret, SecretString};
use sqlx::Connection as _;
use time::OffsetDateTime;
use uuid::Uuid;

use super::StoreArgs;

/// `halyard import-legacy`.
#[derive(Debug, Args)]
pub(crate) struct ImportLegacyArgs {
    /// The old system's PostgreSQL URL (read only).
    #[arg(long, env = "HALYARD_LEGACY_DATABASE_URL", hide_env_values = true)]
    from: SecretString,

    /// The old system's table.
    #[arg(long, default_value = "feature_flags", value_parser = table_name)]
    table: String,

    #[command(flatten)]
    store: StoreArgs,
}

fn table_name(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if valid {
        Ok(name.to_owned())
    } else {
        Err("a table name: letters, digits and underscores, optionally schema-qualified".into())
    }
}

/// A row as read; every column cast so that the old schema's likely
/// variants (uuid or text ids, text[] or jsonb users, timestamp with or
/// without time zone) read alike.
#[derive(sqlx::FromRow)]
struct OldRow {
    id: String,
    key: String,
    description: String,
    enabled: bool,
    rollout_percentage: i64,
    targeted_users: sqlx::types::Json<serde_json::Value>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl OldRow {
    fn into_legacy(self) -> Result<LegacyRow, String> {
        let id =
            Uuid::parse_str(&self.id).map_err(|_| format!("id {:?} is not a UUID", self.id))?;
        let targeted_users: Vec<String> = serde_json::from_value(self.targeted_users.0)
            .map_err(|_| "targeted_users is not a list of user ids".to_owned())?;
        Ok(LegacyRow {
            id,
            input: LegacyInput {
                key: Some(self.key),
                description: Some(self.description),
                enabled: Some(self.enabled),
                rollout_percentage: Some(self.rollout_percentage),
                targeted_users: Some(targeted_users),
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Runs the import; fails (non-zero exit) when a flag could not be
/// imported, after importing the others.
pub(crate) async fn run(args: ImportLegacyArgs) -> anyhow::Result<()> {
    let mut old = sqlx::PgConnection::connect(args.from.expose_secret())
        .await
        .context("connecting to the old system's database (--from)")?;
    let query = format!(
        "SELECT id::text AS id, key::text AS key, coalesce(description, '')::text AS description, \
         coalesce(enabled, false) AS enabled, coalesce(rollout_percentage, 0)::bigint AS rollout_percentage, \
         coalesce(to_jsonb(targeted_users), '[]'::jsonb) AS targeted_users, \
         created_at::timestamptz AS created_at, updated_at::timestamptz AS updated_at \
         FROM {} ORDER BY created_at, key",
        args.table
    );
    let rows: Vec<OldRow> = sqlx::query_as(&query)
        .fetch_all(&mut old)
        .await
        .with_context(|| {
            format!(
                "reading {} (is --from the old system's database?)",
                args.table
            )
        })?;
    drop(old);

    let service = Service::new(args.store.open().await?);
    let actor = Actor {
        id: "cli".into(),
        name: "halyard import-legacy".into(),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "importing {} flags from {}", rows.len(), args.table)?;
    let mut counts = [0usize; 5];
    for row in rows {
        let key = row.key.clone();
        let outcome = match row.into_legacy() {
            Ok(row) => service
                .legacy_import(&actor, row)
                .await
                .map_err(|err| err.to_string()),
            Err(err) => Err(err),
        };
        let (index, line) = match outcome {
            Ok(LegacyImport::Created) => (0, format!("created    {key}")),
            Ok(LegacyImport::Unchanged) => (1, format!("unchanged  {key}")),
            Ok(LegacyImport::Differs(fields)) => (
                2,
                format!("differs    {key}: {fields} changed since; left as is"),
            ),
            Ok(LegacyImport::KeyTaken(other)) => (
                3,
                format!("key taken  {key}: flag {other} already has this key; not imported"),
            ),
            Err(err) => (4, format!("failed     {key}: {err}")),
        };
        counts[index] += 1;
        writeln!(out, "  {line}")?;
    }
    let [created, unchanged, differs, taken, failed] = counts;
    writeln!(
        out,
        "{created} created, {unchanged} unchanged, {differs} differing (left as is), \
         {taken} with a key taken, {failed} failed"
    )?;
    if taken + failed > 0 {
        anyhow::bail!("{} flags were not imported (see above)", taken + failed);
    }
    Ok(())
}
