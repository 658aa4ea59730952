//! The last snapshot of every environment on disk (`--snapshot-dir`), so an
//! edge can start and serve when Redis and the control plane are both down.
//!
//! A background task writes each environment whose revision changed, at most
//! once a second, atomically (a temporary file, fsync, rename), and removes
//! the files of environments that are gone. Files hold key hashes, never
//! keys, and are created readable by their owner only.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use halyard_common::{Snapshot, SnapshotData};

use crate::state::Edge;

const SUFFIX: &str = ".snapshot.json";

/// How often the writer looks for new revisions.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// A directory of snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotDir {
    dir: PathBuf,
}

impl SnapshotDir {
    /// Opens (creating if needed) `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the snapshot directory {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, environment: &str) -> PathBuf {
        self.dir.join(format!("{environment}{SUFFIX}"))
    }

    /// Every snapshot in the directory that reads and builds; others are
    /// reported and skipped (a newer one will come from Redis).
    pub fn load(&self) -> anyhow::Result<Vec<Snapshot>> {
        let mut snapshots = Vec::new();
        let entries = std::fs::read_dir(&self.dir)
            .with_context(|| format!("reading {}", self.dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if !path.to_string_lossy().ends_with(SUFFIX) {
                continue;
            }
            let built = std::fs::read(&path)
                .map_err(anyhow::Error::from)
                .and_then(|bytes| Ok(serde_json::from_slice::<SnapshotData>(&bytes)?))
                .and_then(|data| Ok(Snapshot::build(data)?));
            match built {
                Ok(snapshot) => snapshots.push(snapshot),
                Err(err) => tracing::warn!(
                    path = %path.display(),
                    error = format!("{err:#}"),
                    "skipping an unreadable saved snapshot"
                ),
            }
        }
        Ok(snapshots)
    }

    /// Writes one snapshot atomically.
    pub fn write(&self, snapshot: &Snapshot) -> anyhow::Result<()> {
        let path = self.path(snapshot.environment().as_str());
        let temporary = path.with_extension("tmp");
        let json = serde_json::to_vec(&snapshot.to_data()).expect("snapshots serialize");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&temporary)
            .with_context(|| format!("creating {}", temporary.display()))?;
        file.write_all(&json)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
            .with_context(|| format!("renaming to {}", path.display()))?;
        Ok(())
    }

    /// Removes the file of an environment that is gone.
    pub fn remove(&self, environment: &str) {
        let _ = std::fs::remove_file(self.path(environment));
    }

    /// Writes new revisions every [`INTERVAL`], forever (run it as a task).
    pub async fn keep_writing(self, edge: Arc<Edge>) {
        let mut written: HashMap<String, (String, u64)> = HashMap::new();
        let mut tick = tokio::time::interval(INTERVAL);
        loop {
            tick.tick().await;
            let dir = self.clone();
            let current = edge.store.all();
            let previous = std::mem::take(&mut written);
            written = tokio::task::spawn_blocking(move || dir.sync(previous, current))
                .await
                .unwrap_or_default();
        }
    }

    /// Writes what changed since `written`; returns what is on disk now.
    fn sync(
        &self,
        mut written: HashMap<String, (String, u64)>,
        current: Vec<(String, Arc<crate::store::EdgeEnvironment>)>,
    ) -> HashMap<String, (String, u64)> {
        for (environment, held) in &current {
            let version = (held.snapshot.epoch().to_string(), held.snapshot.revision());
            if written.get(environment) == Some(&version) {
                continue;
            }
            match self.write(&held.snapshot) {
                Ok(()) => {
                    written.insert(environment.clone(), version);
                }
                Err(err) => tracing::warn!(
                    environment,
                    error = format!("{err:#}"),
                    "cannot save the snapshot"
                ),
            }
        }
        written.retain(|environment, _| {
            let kept = current.iter().any(|(e, _)| e == environment);
            if !kept {
                self.remove(environment);
            }
            kept
        });
        written
    }
}
