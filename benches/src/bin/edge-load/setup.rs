//! The run's surroundings: the fixture on Redis under a unique prefix, the
//! child processes, and their removal (also when the run fails).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use halyard_benches::load::Target;

/// The environment the fixture is seeded as.
pub(crate) const ENVIRONMENT: &str = "production";

/// Plaintext SDK keys of the seeded environment.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub(crate) server: String,
    pub(crate) client: String,
}

/// Redis keys, child processes and files of this run.
pub(crate) struct World {
    redis: redis::Client,
    connection: redis::aio::MultiplexedConnection,
    prefix: String,
    children: Vec<Child>,
    files: Vec<PathBuf>,
    /// The snapshot as last stored (changes update it, as the relay does).
    snapshot: Value,
}

/// A loopback address with a port that was free a moment ago.
pub(crate) fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl World {
    pub(crate) async fn new(redis_url: &str, prefix: &str) -> anyhow::Result<Self> {
        let redis = redis::Client::open(redis_url).context("invalid Redis URL")?;
        let connection = redis
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("connecting to Redis at {redis_url}"))?;
        Ok(Self {
            redis,
            connection,
            prefix: prefix.to_owned(),
            children: Vec::new(),
            files: Vec::new(),
            snapshot: Value::Null,
        })
    }

    fn snapshot_key(&self) -> String {
        format!("{}:snapshot:{ENVIRONMENT}", self.prefix)
    }

    fn environments_key(&self) -> String {
        format!("{}:environments", self.prefix)
    }

    /// Stores the fixture (with a server and a client key) as the
    /// environment's snapshot, as the control plane's relay would.
    pub(crate) async fn seed(&mut self, fixture: &Value) -> anyhow::Result<Keys> {
        anyhow::ensure!(
            fixture["environment"] == ENVIRONMENT,
            "the fixture is not of {ENVIRONMENT}"
        );
        // Not guessable in practice, and unique per run.
        let nonce = sha256_hex(&format!(
            "{}-{:?}-{:p}",
            std::process::id(),
            std::time::SystemTime::now(),
            &fixture
        ))[..24]
            .to_owned();
        let keys = Keys {
            server: format!("hal_srv_bench{nonce}"),
            client: format!("hal_cli_bench{nonce}"),
        };
        let mut snapshot = fixture.clone();
        snapshot["keys"] = json!([
            {"id": "bench-server", "kind": "server", "sha256": sha256_hex(&keys.server)},
            {"id": "bench-client", "kind": "client", "sha256": sha256_hex(&keys.client)},
        ]);
        // Checks the shape against the edge's own types.
        serde_json::from_value::<halyard_common::SnapshotData>(snapshot.clone())
            .context("the seeded snapshot does not parse")?;
        self.snapshot = snapshot;
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.store_snapshot(&mut pipe)?;
        pipe.cmd("SADD")
            .arg(self.environments_key())
            .arg(ENVIRONMENT);
        pipe.query_async::<()>(&mut self.connection)
            .await
            .context("seeding Redis")?;
        Ok(keys)
    }

    fn store_snapshot(&self, pipe: &mut redis::Pipeline) -> anyhow::Result<()> {
        let epoch = self.snapshot["epoch"].as_str().context("epoch")?;
        let revision = self.snapshot["revision"].as_u64().context("revision")?;
        pipe.cmd("HSET")
            .arg(self.snapshot_key())
            .arg("epoch")
            .arg(epoch)
            .arg("revision")
            .arg(revision.to_string())
            .arg("data")
            .arg(serde_json::to_string(&self.snapshot)?);
        Ok(())
    }

    /// The snapshot as last stored.
    pub(crate) fn snapshot(&self) -> &Value {
        &self.snapshot
    }

    /// Publishes a change message that upserts `flag`, storing the new
    /// snapshot in the same transaction (as the relay does); returns the
    /// new revision.
    pub(crate) async fn publish_flag(&mut self, flag: Value) -> anyhow::Result<u64> {
        let revision = self.snapshot["revision"].as_u64().context("revision")? + 1;
        let key = flag["flag"]["key"].clone();
        let message = json!({
            "environment": ENVIRONMENT,
            "epoch": self.snapshot["epoch"],
            "revision": revision,
            "base_revision": revision - 1,
            "committed_at": time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)?,
            "changes": [{"type": "flag_upserted", "flag": flag.clone()}],
        });
        serde_json::from_value::<halyard_common::ChangeMessage>(message.clone())
            .context("the change message does not parse")?;
        let flags = self.snapshot["flags"].as_array_mut().context("flags")?;
        let slot = flags
            .iter_mut()
            .find(|f| f["flag"]["key"] == key)
            .context("the flag is not in the snapshot")?;
        *slot = flag;
        self.snapshot["revision"] = json!(revision);
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.store_snapshot(&mut pipe)?;
        pipe.cmd("PUBLISH")
            .arg(format!("{}:changes", self.prefix))
            .arg(serde_json::to_string(&message)?)
            .ignore();
        pipe.query_async::<()>(&mut self.connection)
            .await
            .context("publishing a change")?;
        Ok(revision)
    }

    /// Starts this binary with `args` as a child process; returns its pid.
    pub(crate) fn spawn(&mut self, args: &[&str]) -> anyhow::Result<u32> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(args)
            // The child stops when this pipe closes (this process exits).
            .stdin(Stdio::piped())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        // Only the arguments configure the edge.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HALYARD_") {
                command.env_remove(name);
            }
        }
        let child = command.spawn().context("starting a child process")?;
        let pid = child.id();
        self.children.push(child);
        Ok(pid)
    }

    /// Waits until `GET path` on `addr` answers 200.
    pub(crate) async fn wait_for(
        &mut self,
        addr: SocketAddr,
        path: &str,
        within: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        let target = Target::new(
            addr,
            Method::GET,
            path,
            Vec::new(),
            Bytes::new(),
            StatusCode::OK,
        );
        loop {
            let last = match target.fetch().await {
                Ok(r) if r.status == StatusCode::OK => return Ok(()),
                Ok(r) => format!("status {}", r.status),
                Err(e) => format!("{e:#}"),
            };
            for child in &mut self.children {
                if let Some(status) = child.try_wait()? {
                    anyhow::bail!("a child process exited ({status})");
                }
            }
            if Instant::now() > deadline {
                anyhow::bail!("{addr}{path}: {last}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A file or directory to remove at the end.
    pub(crate) fn remove_on_exit(&mut self, path: PathBuf) {
        self.files.push(path);
    }

    /// Stops the children, deletes the Redis keys and the files.
    pub(crate) async fn shutdown(mut self) {
        self.stop_children();
        let _: Result<(), _> = redis::cmd("DEL")
            .arg(self.snapshot_key())
            .arg(self.environments_key())
            .query_async(&mut self.connection)
            .await;
        self.prefix.clear();
        self.remove_files();
    }

    fn stop_children(&mut self) {
        for mut child in self.children.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn remove_files(&mut self) {
        for path in self.files.drain(..) {
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
}

impl Drop for World {
    /// On an early return: the same clean-up, synchronously.
    fn drop(&mut self) {
        self.stop_children();
        if !self.prefix.is_empty()
            && let Ok(mut connection) = self.redis.get_connection()
        {
            let _: Result<(), _> = redis::cmd("DEL")
                .arg(self.snapshot_key())
                .arg(self.environments_key())
                .query(&mut connection);
        }
        self.remove_files();
    }
}
