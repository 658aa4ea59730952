//! `halyard keys`: create, list and revoke admin tokens, SDK keys and edge
//! tokens directly on the database (a running control plane publishes the
//! changes to edges as for any other write). The plaintext of a new key is
//! printed once; only its hash is stored.

use std::io::Write as _;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use halyard_control_plane::api::keys::{KeyView, view};
use halyard_control_plane::service::keys::NewKey;
use halyard_control_plane::service::{Actor, Service};
use halyard_control_plane::store::{ApiKeyKind, Role};
use serde_json::json;
use uuid::Uuid;

use super::StoreArgs;

/// `halyard keys ...`.
#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,

    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key and print it (once).
    Create(CreateArgs),
    /// List keys, masked.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key now.
    Revoke {
        /// The key's id (see `halyard keys list`).
        id: Uuid,
    },
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// What the key is for.
    #[arg(long, value_enum)]
    kind: Kind,
    /// A name (the audit log's actor for admin tokens).
    #[arg(long)]
    name: String,
    /// Admin tokens: viewer, editor or admin.
    #[arg(long, value_enum)]
    role: Option<RoleArg>,
    /// SDK keys: the environment, e.g. production.
    #[arg(long)]
    environment: Option<String>,
    /// Print JSON (with the plaintext) instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Admin,
    Server,
    Client,
    Edge,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Viewer,
    Editor,
    Admin,
}

/// Changes made from the command line, as the audit log shows them.
fn actor() -> Actor {
    Actor {
        id: "cli".into(),
        name: "halyard keys".into(),
    }
}

/// Runs `halyard keys`.
pub(crate) async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let store = args.store.open().await?;
    let service = Service::new(store);
    let mut out = std::io::stdout().lock();
    match args.command {
        KeysCommand::Create(create) => {
            let new = NewKey {
                name: create.name,
                kind: match create.kind {
                    Kind::Admin => ApiKeyKind::Admin,
                    Kind::Server => ApiKeyKind::Server,
                    Kind::Client => ApiKeyKind::Client,
                    Kind::Edge => ApiKeyKind::Edge,
                },
                role: create.role.map(|role| match role {
                    RoleArg::Viewer => Role::Viewer,
                    RoleArg::Editor => Role::Editor,
                    RoleArg::Admin => Role::Admin,
                }),
                environment: create.environment,
                expires_at: None,
            };
            let (record, environment, plaintext) = service
                .create_key(&actor(), new)
                .await
                .map_err(|err| anyhow::anyhow!("{}", super::describe(&err, true)))?;
            let key = view(&record, environment);
            if create.json {
                writeln!(out, "{}", json!({"key": key, "plaintext": plaintext}))?;
            } else {
                writeln!(
                    out,
                    "{plaintext}\n\ncreated {} key {} ({}); the key above is shown once",
                    key.kind.as_str(),
                    key.id,
                    key.name
                )?;
            }
        }
        KeysCommand::List { json } => {
            let environments = service.store().environments().await?;
            let keys: Vec<KeyView> = service
                .store()
                .api_keys()
                .await?
                .iter()
                .map(|key| {
                    let environment = key
                        .environment_id
                        .and_then(|id| environments.iter().find(|e| e.id == id))
                        .map(|e| e.key.to_string());
                    view(key, environment)
                })
                .collect();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&keys)?)?;
            } else {
                write_table(&mut out, &keys)?;
            }
        }
        KeysCommand::Revoke { id } => {
            let key = service
                .revoke_key(&actor(), id)
                .await
                .map_err(|err| anyhow::anyhow!("{}", super::describe(&err, true)))
                .with_context(|| format!("revoking key {id}"))?;
            writeln!(
                out,
                "revoked {} key {} ({})",
                key.kind.as_str(),
                key.id,
                key.name
            )?;
        }
    }
    Ok(())
}

fn write_table(out: &mut impl std::io::Write, keys: &[KeyView]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<36}  {:<6}  {:<12}  {:<8}  {:<24}  HINT",
        "ID", "KIND", "ROLE/ENV", "STATUS", "NAME"
    )?;
    for key in keys {
        let scope = key
            .role
            .map(|r| r.as_str().to_owned())
            .or_else(|| key.environment.clone())
            .unwrap_or_default();
        writeln!(
            out,
            "{:<36}  {:<6}  {:<12}  {:<8}  {:<24}  {}",
            key.id,
            key.kind.as_str(),
            scope,
            key.status,
            key.name,
            key.hint
        )?;
    }
    Ok(())
}
