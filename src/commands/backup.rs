//! `halyard export` and `halyard import`: the whole state as one JSON
//! document (`control-plane/src/service/backup.rs`), to back up and restore
//! or to move between the all-in-one node and PostgreSQL; and `import
//! --flags`, flags as code (`control-plane/src/service/code.rs`).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use halyard_control_plane::service::backup::Backup;
use halyard_control_plane::service::code::FlagsDocument;
use halyard_control_plane::service::{Actor, Service};

use super::StoreArgs;

/// `halyard export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Write the document here instead of to standard output (owner-only,
    /// written whole and synced, then renamed into place).
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

    /// Flags as code: apply the document's flags and segments to this
    /// installation (create or change them; others are left alone) instead
    /// of restoring a backup into a new database.
    #[arg(long)]
    flags: bool,

    /// With --flags: print the changes without making them.
    #[arg(long, requires = "flags")]
    dry_run: bool,

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
            write_private(&partial, &json)
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

/// Writes `bytes` to a new file only its owner can read (an export holds
/// key hashes and the audit log), on disk before it returns.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
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
    if args.flags {
        return apply_flags(&args, &text).await;
    }
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

/// `import --flags`: plan (validating everything) and print; unless
/// `--dry-run`, apply the whole plan in one transaction.
async fn apply_flags(args: &ImportArgs, text: &str) -> anyhow::Result<()> {
    let document: FlagsDocument = serde_json::from_str(text)
        .with_context(|| format!("{} is not a flags document", args.file.display()))?;
    let service = Service::new(args.store.open().await?);
    let actor = Actor {
        id: "cli".into(),
        name: "halyard import --flags".into(),
    };
    let steps = if args.dry_run {
        service.plan_flags(&document).await
    } else {
        service.apply_flags(&actor, &document).await
    }
    .map_err(|err| anyhow::anyhow!("{}", super::describe(&err, false)))?;
    let mut out = std::io::stdout().lock();
    for step in &steps {
        writeln!(out, "  {step}")?;
    }
    match (steps.len(), args.dry_run) {
        (0, _) => writeln!(out, "nothing to change")?,
        (n, true) => writeln!(out, "{n} changes planned (--dry-run: none made)")?,
        (n, false) => writeln!(out, "{n} changes made")?,
    }
    Ok(())
}
