//! Cluster load run: the whole production-shaped cluster (`scripts/cluster`:
//! PostgreSQL, Redis, the control plane, the edges and nginx in front of
//! them) under mixed SDK traffic, SSE fan-out and admin changes at once
//! (`benches/README.md`, "Cluster load run").
//!
//! Reads the cluster description from `HALYARD_CLUSTER`, seeds `--flags`
//! legacy flags through the admin API, opens `--streams` SSE streams through
//! nginx (half v2, half legacy), then for `--duration` seconds (after a
//! `--warmup`), concurrently:
//!
//! - sends a mix of configuration fetches (legacy and `?format=full`),
//!   single-flag evaluations and OFREP bulk evaluations through nginx on
//!   `--connections` keep-alive connections;
//! - changes a flag `--changes` times, evenly spaced, and times each change
//!   from just before the admin write to its arrival on every stream;
//! - samples every node's CPU time and memory (`/proc`) at the window's start
//!   and end.
//!
//! Prints a Markdown report. A request that does not answer 200, a stream
//! that does not open or fails, a change the admin API refuses, and a change
//! that does not arrive on every stream make the run invalid (exit status 1).
//! Every phase is bounded in time (and the requests in number).
//! `benches/scripts/cluster-load.sh` builds everything and runs this inside
//! `scripts/cluster run`.
#![allow(clippy::print_stdout)] // a command-line report

mod cluster;
mod report;
mod streams;

/// The same allocator as the `halyard` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::os::unix::process::CommandExt as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use halyard_benches::load::{self, Kind, LoadOptions, Target};
use halyard_benches::proc_stats::{self, Machine, TreeSample};
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::json;

use crate::cluster::{Admin, Cluster, EdgeMetrics};
use crate::streams::{StreamOptions, Streams};

/// Cluster load run (see benches/README.md).
#[derive(Debug, Clone, Parser)]
#[command(name = "cluster-load")]
struct Args {
    /// The cluster description written by `scripts/cluster` (cluster.json).
    #[arg(long, env = "HALYARD_CLUSTER")]
    cluster: String,
    /// Measured seconds of load (requests, streams and changes at once).
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Seconds of requests before the measured window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Concurrent keep-alive connections sending requests, one at a time each.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Weights of legacy configuration, full configuration, single-flag
    /// evaluation and OFREP bulk evaluation requests.
    #[arg(long, value_delimiter = ',', num_args = 4, default_values_t = [20, 20, 30, 30])]
    mix: Vec<usize>,
    /// Most requests sent (warm-up included), a bound besides the time.
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: usize,
    /// Legacy flags seeded through the admin API.
    #[arg(long, default_value_t = 50)]
    flags: usize,
    /// SSE streams through nginx: half v2 (rounded up), half legacy.
    #[arg(long, default_value_t = 1000)]
    streams: usize,
    /// Streams being opened (receiving their initial state) at once.
    #[arg(long, default_value_t = 100)]
    open_concurrency: usize,
    /// Admin changes (PUT of a flag), evenly spaced over the measured window.
    #[arg(long, default_value_t = 50)]
    changes: usize,
    /// Seconds allowed for seeding to reach the edges, for opening the
    /// streams, and after the last change for its arrivals.
    #[arg(long, default_value_t = 60)]
    stream_timeout: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let valid = runtime.block_on(async {
        tokio::select! {
            valid = Box::pin(run(args)) => valid,
            _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
        }
    })?;
    // The streams' tasks may still be reading: do not wait for them.
    runtime.shutdown_background();
    if !valid {
        std::process::exit(1);
    }
    Ok(())
}

/// The request kinds, in `--mix` order.
const KINDS: [(&str, &str); 4] = [
    ("legacy configuration", "GET /api/client/flags"),
    ("full configuration", "GET /api/client/flags?format=full"),
    ("evaluate, one flag", "POST /api/evaluate"),
    ("OFREP bulk", "POST /ofrep/v1/evaluate/flags"),
];

/// Different contexts (and flags) per evaluation kind, sent in turn.
const VARIANTS: usize = 64;

/// Every node at one moment.
pub(crate) struct NodeSample {
    pub(crate) at: Instant,
    pub(crate) nodes: Vec<TreeSample>,
    /// This process (the load generator).
    pub(crate) client: TreeSample,
    /// The machine's (busy, total) CPU ticks.
    pub(crate) machine: (u64, u64),
    pub(crate) edges: Vec<EdgeMetrics>,
}

async fn sample_nodes(cluster: &Cluster, http: &reqwest::Client) -> anyhow::Result<NodeSample> {
    let at = Instant::now();
    let nodes = cluster
        .pids
        .iter()
        .map(|&(_, pid)| proc_stats::sample_tree(pid))
        .collect();
    let me = std::process::id();
    let client = TreeSample {
        processes: 1,
        ticks: proc_stats::cpu_ticks(me)?,
        rss: proc_stats::rss(me)?,
    };
    let machine = proc_stats::machine_ticks()?;
    let mut edges = Vec::new();
    for url in &cluster.edge_metrics {
        edges.push(cluster::edge_metrics(http, url).await);
    }
    Ok(NodeSample {
        at,
        nodes,
        client,
        machine,
        edges,
    })
}

/// One admin change as sent.
pub(crate) struct Change {
    pub(crate) sent: Instant,
    /// How long the write took, or why it failed.
    pub(crate) result: Result<Duration, String>,
}

/// The whole run; `Ok(false)` when it is invalid.
async fn run(args: Args) -> anyhow::Result<bool> {
    anyhow::ensure!(args.flags > 0, "--flags must be at least 1");
    anyhow::ensure!(
        args.mix.iter().any(|&w| w > 0),
        "--mix needs a positive weight"
    );
    let limit = rlimit::increase_nofile_limit(u64::MAX).context("raising the open files limit")?;
    let needed = args.streams as u64 + args.connections as u64 + 256;
    anyhow::ensure!(
        limit >= needed,
        "the open files limit is {limit}; {needed} are needed (raise the hard limit, or lower --streams)"
    );
    let cluster = Cluster::read(&args.cluster)?;
    let machine = Machine::read();
    let started = Instant::now();
    let nonce = format!(
        "{:x}",
        (u64::from(std::process::id()) << 20)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .subsec_nanos() as u64
    );
    let marker = format!("load-change-{nonce}-");
    eprintln!(
        "cluster-load: seeding {} flags through {}",
        args.flags, cluster.admin_url
    );

    // Seed the flags and wait until every edge serves them.
    let admin = Admin::new(&cluster)?;
    let keys: Vec<String> = (0..args.flags)
        .map(|i| format!("load-{nonce}-{i:03}"))
        .collect();
    let seeding = Instant::now();
    let mut ids = Vec::with_capacity(keys.len());
    for key in &keys {
        ids.push(admin.create(key, "cluster-load seed").await?);
    }
    cluster::wait_for_flags(&cluster, &keys, Duration::from_secs(args.stream_timeout)).await?;
    let seeded = seeding.elapsed();

    // The requests, each checked once before the load.
    let kinds = request_kinds(&cluster, &keys, &args.mix)?;
    let mut body_sizes = Vec::new();
    for kind in &kinds {
        let response = tokio::time::timeout(Duration::from_secs(10), kind.targets[0].fetch())
            .await
            .with_context(|| format!("{}: no response within 10 s", kind.name))??;
        anyhow::ensure!(
            response.status == StatusCode::OK,
            "{}: {} {}",
            kind.name,
            response.status,
            String::from_utf8_lossy(&response.body[..response.body.len().min(300)])
        );
        body_sizes.push(response.body.len());
    }

    // The streams.
    eprintln!(
        "cluster-load: opening {} SSE streams through {}",
        args.streams, cluster.url
    );
    let mut streams = Streams::open(&StreamOptions {
        addr: cluster.addr,
        server_key: cluster.server_key.clone(),
        streams: args.streams,
        open_concurrency: args.open_concurrency,
        marker: marker.clone(),
    });
    let total = args.streams;
    streams
        .pump_until(
            |c| c.settled() >= total,
            tokio::time::Instant::now() + Duration::from_secs(args.stream_timeout),
        )
        .await;
    let opened = streams.collected.opened;

    // The load phase.
    eprintln!(
        "cluster-load: {} s of load ({} s warm-up), {} changes",
        args.duration, args.warmup, args.changes
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let options = LoadOptions {
        connections: args.connections,
        warmup: Duration::from_secs_f64(args.warmup),
        duration: Duration::from_secs_f64(args.duration),
        max_requests: args.max_requests,
    };
    let measure_from = Instant::now() + options.warmup;
    let end = measure_from + options.duration;
    let requests = load::load_mix(kinds.clone(), &options);
    let changer = async {
        let mut changes = Vec::with_capacity(args.changes);
        for change in 0..args.changes {
            let offset = options
                .duration
                .mul_f64((change as f64 + 0.5) / args.changes as f64);
            tokio::time::sleep_until((measure_from + offset).into()).await;
            let flag = change % keys.len();
            let description = format!("{marker}{change}");
            let sent = Instant::now();
            let result = admin
                .update(&ids[flag], &keys[flag], &description)
                .await
                .map_err(|e| format!("{e:#}"));
            changes.push(Change { sent, result });
        }
        changes
    };
    let sampler = async {
        tokio::time::sleep_until(measure_from.into()).await;
        let first = sample_nodes(&cluster, &http).await;
        tokio::time::sleep_until(end.into()).await;
        let last = sample_nodes(&cluster, &http).await;
        (first, last)
    };
    let (mixed, changes, (first, last), ()) = tokio::join!(
        requests,
        changer,
        sampler,
        streams.pump_until(|_| false, end.into())
    );
    let (first, last) = (first?, last?);

    // The last arrivals.
    let sent_ok = changes.iter().filter(|c| c.result.is_ok()).count();
    let expected = (opened[0] + opened[1]) * sent_ok;
    let last_sent = changes.iter().map(|c| c.sent).max().unwrap_or(end);
    let deadline = last_sent.max(end) + Duration::from_secs(args.stream_timeout);
    streams
        .pump_until(|c| c.arrivals.len() >= expected, deadline.into())
        .await;
    let collected = streams.close();

    let run = report::Run {
        command: std::env::var("CLUSTER_LOAD_COMMAND")
            .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" ")),
        machine,
        versions: versions(&cluster),
        cluster: &cluster,
        settings: report::settings(&args),
        flags: args.flags,
        seeded,
        kinds: &kinds,
        routes: KINDS.iter().map(|(_, route)| *route).collect(),
        body_sizes,
        mixed: &mixed,
        connections: args.connections,
        collected: &collected,
        opened,
        changes: &changes,
        samples: (&first, &last),
        clock_ticks: proc_stats::clock_ticks(),
        elapsed: started.elapsed(),
    };
    let (text, valid) = report::render(&run);
    println!("{text}");
    Ok(valid)
}

/// The request kinds of the mix, through nginx.
fn request_kinds(cluster: &Cluster, keys: &[String], mix: &[usize]) -> anyhow::Result<Vec<Kind>> {
    let header = |name: &'static str, value: &str| -> anyhow::Result<(HeaderName, HeaderValue)> {
        Ok((HeaderName::from_static(name), HeaderValue::from_str(value)?))
    };
    let json_type = (CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let server = header("x-sdk-key", &cluster.server_key)?;
    let client = header("x-api-key", &cluster.client_key)?;
    let get = |path: &str| {
        Target::new(
            cluster.addr,
            Method::GET,
            path,
            vec![server.clone()],
            Bytes::new(),
            StatusCode::OK,
        )
    };
    let post = |path: &str, key: &(HeaderName, HeaderValue), body: serde_json::Value| {
        Target::new(
            cluster.addr,
            Method::POST,
            path,
            vec![key.clone(), json_type.clone()],
            Bytes::from(body.to_string()),
            StatusCode::OK,
        )
    };
    let user = |v: usize| format!("user-{}", (v * 37) % 1000);
    let targets = [
        vec![get("/api/client/flags")],
        vec![get("/api/client/flags?format=full")],
        (0..VARIANTS)
            .map(|v| {
                post(
                    "/api/evaluate",
                    &server,
                    json!({"flag": keys[v % keys.len()], "context": {"targetingKey": user(v)}}),
                )
            })
            .collect(),
        (0..VARIANTS)
            .map(|v| {
                post(
                    "/ofrep/v1/evaluate/flags",
                    &client,
                    json!({"context": {"targetingKey": user(v)}}),
                )
            })
            .collect(),
    ];
    Ok(KINDS
        .iter()
        .zip(targets)
        .zip(mix)
        .map(|(((name, _), targets), &weight)| Kind {
            name: (*name).to_owned(),
            weight,
            targets,
        })
        .collect())
}

/// What `<executable of node's process> <flag>` prints (stdout and stderr).
fn version_output(cluster: &Cluster, node: &str, flag: &str) -> Option<String> {
    let pid = cluster.pids.iter().find(|(name, _)| name == node)?.1;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    // Its own argv[0]: some programs are links to one binary that acts by
    // its name (Debian's redis-server is redis-check-rdb).
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv0 = String::from_utf8_lossy(cmdline.split(|&b| b == 0).next()?).into_owned();
    let output = std::process::Command::new(exe)
        .arg0(argv0)
        .arg(flag)
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// The versions of the cluster's third-party programs, from their running
/// executables (`/proc/<pid>/exe`); "?" where unknown.
fn versions(cluster: &Cluster) -> Vec<(&'static str, String)> {
    // "nginx version: nginx/1.22.1"
    let nginx = version_output(cluster, "nginx", "-v")
        .and_then(|t| Some(t.trim().rsplit_once('/')?.1.to_owned()));
    // "postgres (PostgreSQL) 15.14 (Debian …)"
    let postgres = version_output(cluster, "postgres", "--version")
        .and_then(|t| t.split_whitespace().nth(2).map(str::to_owned));
    // "Redis server v=7.0.15 sha=… malloc=jemalloc-5.3.0 bits=64 build=…"
    let redis = version_output(cluster, "redis", "--version").and_then(|t| {
        t.split_whitespace()
            .find_map(|w| w.strip_prefix("v="))
            .map(str::to_owned)
    });
    [("nginx", nginx), ("PostgreSQL", postgres), ("Redis", redis)]
        .into_iter()
        .map(|(program, version)| (program, version.unwrap_or_else(|| "?".to_owned())))
        .collect()
}
