//! `halyard export` and `halyard import`: the whole state as one JSON
//! document (`control-plane/src/service/backup.rs`), to back up and restore
//! or to move between the all-in-one node and PostgreSQL.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use halyard_control_plane::service::Service;
use halyard_control_plane::service::backup::Backup;

use super::StoreArgs;

/// `halyard export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Write the document here instead of to standard output (written
    /// whole, then renamed into place).
    #[arg(long, short)]
    output: Option<PathBuf>,

    #[command(flatten)]
    store: StoreArgs,
}

/// `halyard import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The document (`-` for standard input).
    file: PathBuf,

    #[command(flatten)]
    store: StoreArgs,
}

/// Writes the document.
pub(crate) async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let service = Service::new(args.store.open().await?);
    let backup = service
        .export()
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let mut json = serde_json::to_vec_pretty(&backup)?;
    json.push(b'\n');
    match args.output {
        Some(path) => {
            let partial = path.with_extension("partial");
            std::fs::write(&partial, &json)
                .with_context(|| format!("writing {}", partial.display()))?;
            std::fs::rename(&partial, &path)
                .with_context(|| format!("moving the export to {}", path.display()))?;
            tracing::info!(
                path = %path.display(),
                environments = backup.environments.len(),
                flags = backup.flags.len(),
                keys = backup.keys.len(),
                audit = backup.audit.len(),
                "exported"
            );
        }
        None => std::io::stdout().lock().write_all(&json)?,
    }
    Ok(())
}

/// Restores the document into a new store (migrated here, but without
/// the default environments a first start creates).
pub(crate) async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let text = if args.file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("reading {}", args.file.display()))?
    };
    let backup: Backup = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a Halyard export", args.file.display()))?;
    let service = Service::new(args.store.open_migrated().await?);
    let restored = service
        .restore(backup)
        .await
        .map_err(|err| anyhow::anyhow!("{}", super::describe(&err, false)))?;
    writeln!(
        std::io::stdout().lock(),
        "restored {} environments, {} flags, {} segments, {} keys and {} audit entries \
         (each environment starts a new epoch, so edges and SDKs reload it)",
        restored.environments,
        restored.flags,
        restored.segments,
        restored.keys,
        restored.audit
    )?;
    Ok(())
}
