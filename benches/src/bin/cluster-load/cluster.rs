//! The cluster under load (`HALYARD_CLUSTER`, written by `scripts/cluster`),
//! its admin API (seeding flags, the changes) and the edges' metrics.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};

/// What `scripts/cluster` describes in `cluster.json`.
#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    /// nginx, in front of the edges.
    pub(crate) url: String,
    pub(crate) addr: SocketAddr,
    pub(crate) admin_url: String,
    pub(crate) admin_key: String,
    pub(crate) server_key: String,
    pub(crate) client_key: String,
    /// Each edge's own URL (not through nginx).
    pub(crate) edges: Vec<String>,
    pub(crate) edge_metrics: Vec<String>,
    /// Node name and process id, in the report's order.
    pub(crate) pids: Vec<(String, u32)>,
}

fn text(value: &Value, key: &str) -> anyhow::Result<String> {
    value[key]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the cluster description has no {key:?}"))
}

fn texts(value: &Value, key: &str) -> anyhow::Result<Vec<String>> {
    value[key]
        .as_array()
        .with_context(|| format!("the cluster description has no {key:?} list"))?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).context("not a string"))
        .collect()
}

impl Cluster {
    /// Reads the description at `path`.
    pub(crate) fn read(path: &str) -> anyhow::Result<Self> {
        let raw = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        let value: Value = serde_json::from_str(&raw).with_context(|| format!("parsing {path}"))?;
        let url = text(&value, "url")?;
        let addr = url
            .strip_prefix("http://")
            .context("the cluster's url is not http://host:port")?
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("the cluster's url {url} is not an IP address and port"))?;
        let pids = value["pids"]
            .as_object()
            .context("the cluster description has no pids")?;
        let mut named: Vec<(String, u32)> = pids
            .iter()
            .filter_map(|(name, pid)| Some((name.clone(), u32::try_from(pid.as_u64()?).ok()?)))
            .collect();
        let missing: Vec<&String> = pids
            .iter()
            .filter(|(_, pid)| pid.as_u64().is_none())
            .map(|(name, _)| name)
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "the cluster description has no process id for {missing:?} (not running?)"
        );
        let order = |name: &str| match name {
            "nginx" => (0, String::new()),
            n if n.starts_with("edge-") => (1, format!("{:>8}", &n[5..])),
            "control-plane" => (2, String::new()),
            "postgres" => (3, String::new()),
            "redis" => (4, String::new()),
            other => (5, other.to_owned()),
        };
        named.sort_by_key(|(name, _)| order(name));
        Ok(Self {
            url,
            addr,
            admin_url: text(&value, "admin_url")?,
            admin_key: text(&value, "admin_key")?,
            server_key: text(&value, "server_key")?,
            client_key: text(&value, "client_key")?,
            edges: texts(&value, "edges")?,
            edge_metrics: texts(&value, "edge_metrics")?,
            pids: named,
        })
    }
}

/// The legacy admin API's flag body.
pub(crate) fn legacy_flag(key: &str, description: &str) -> Value {
    json!({
        "key": key,
        "description": description,
        "enabled": true,
        "rollout_percentage": 50,
        "targeted_users": ["user-1", "user-2"],
    })
}

/// The admin API of the control plane.
pub(crate) struct Admin {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Admin {
    pub(crate) fn new(cluster: &Cluster) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            url: cluster.admin_url.clone(),
            key: cluster.admin_key.clone(),
        })
    }

    /// Creates a legacy flag; returns its id.
    pub(crate) async fn create(&self, key: &str, description: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .post(format!("{}/api/admin/flags", self.url))
            .header("X-Admin-API-Key", &self.key)
            .json(&legacy_flag(key, description))
            .send()
            .await
            .with_context(|| format!("creating flag {key}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(
            status == reqwest::StatusCode::CREATED,
            "creating flag {key}: {status} {body}"
        );
        body["id"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("creating flag {key}: no id in {body}"))
    }

    /// Replaces a legacy flag (`PUT`); returns how long the write took.
    pub(crate) async fn update(
        &self,
        id: &str,
        key: &str,
        description: &str,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let response = self
            .http
            .put(format!("{}/api/admin/flags/{id}", self.url))
            .header("X-Admin-API-Key", &self.key)
            .json(&legacy_flag(key, description))
            .send()
            .await
            .with_context(|| format!("updating flag {key}"))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        anyhow::ensure!(
            status == reqwest::StatusCode::OK,
            "updating flag {key}: {status} {body}"
        );
        Ok(started.elapsed())
    }
}

/// Waits until every edge serves all of `keys` in its full configuration.
pub(crate) async fn wait_for_flags(
    cluster: &Cluster,
    keys: &[String],
    timeout: Duration,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let started = Instant::now();
    for edge in &cluster.edges {
        loop {
            let missing = match held_flags(&http, edge, &cluster.server_key).await {
                Ok(held) => keys.iter().filter(|k| !held.contains(k)).count(),
                Err(_) => keys.len(),
            };
            if missing == 0 {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < timeout,
                "edge {edge} still misses {missing} of the {} seeded flags after {timeout:?}",
                keys.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

async fn held_flags(http: &reqwest::Client, edge: &str, key: &str) -> anyhow::Result<Vec<String>> {
    let body: Value = http
        .get(format!("{edge}/api/client/flags?format=full"))
        .header("X-SDK-Key", key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(body["flags"]
        .as_array()
        .context("no flags")?
        .iter()
        .filter_map(|f| f["flag"]["key"].as_str().map(str::to_owned))
        .collect())
}

/// An edge's counters, from its `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EdgeMetrics {
    pub(crate) v2_streams: i64,
    pub(crate) legacy_streams: i64,
    /// `halyard_edge_http_requests_total`, all labels.
    pub(crate) requests: u64,
}

/// Reads an edge's metrics (zeros when they cannot be read: informational).
pub(crate) async fn edge_metrics(http: &reqwest::Client, url: &str) -> EdgeMetrics {
    let Ok(response) = http.get(url).send().await else {
        return EdgeMetrics::default();
    };
    let text = response.text().await.unwrap_or_default();
    let mut metrics = EdgeMetrics::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(0.0);
        if series.starts_with("halyard_edge_http_requests_total") {
            metrics.requests += value as u64;
        } else if series == "halyard_edge_sse_open_streams{dialect=\"v2\"}" {
            metrics.v2_streams = value as i64;
        } else if series == "halyard_edge_sse_open_streams{dialect=\"legacy\"}" {
            metrics.legacy_streams = value as i64;
        }
    }
    metrics
}
