//! Edge load benchmark: the edge against a minimal hyper baseline, in the
//! same run, on the shared 200-flag fixture (`benches/README.md`).
//!
//! `edge-load` (no subcommand) seeds the fixture under a unique prefix on
//! Redis, starts two child processes of this binary — an edge
//! (`serve-edge`) and a plain hyper server (`serve-baseline`) — and loads
//! them from this process:
//!
//! 1. request/response scenarios, each paired with the baseline route that
//!    does the least work producing a comparable response, run back to back
//!    (`--rounds` times, the median round reported): req/s, p50, p99 and the
//!    ratio edge / baseline against its target;
//! 2. SSE fan-out: `--streams` v2 streams on the edge, memory per stream
//!    (the edge's RSS growth divided by the stream count) and the time from
//!    publishing a change to its arrival on every stream (`--changes` times).
//!
//! Every phase is bounded in time and request count. A response with an
//! unexpected status makes the run invalid (exit status 1).
//! `benches/scripts/edge-load.sh` builds in release mode and runs this.
#![allow(clippy::print_stdout)] // a command-line report

mod servers;
mod setup;
mod sse;

/// The same allocator as the `halyard` binary, for the edge and the baseline.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, ETAG, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use halyard_benches::load::{self as client, Measured, Target};

/// Edge load benchmark (see benches/README.md).
#[derive(Debug, Parser)]
#[command(name = "edge-load", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Internal: runs an edge in this process.
    #[command(hide = true)]
    ServeEdge(servers::EdgeArgs),
    /// Internal: runs the hyper baseline in this process.
    #[command(hide = true)]
    ServeBaseline(servers::BaselineArgs),
}

/// Options of the benchmark run.
#[derive(Debug, Clone, clap::Args)]
struct RunArgs {
    /// Redis the edge syncs from; the run's keys (a unique prefix) are deleted afterwards.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Concurrent keep-alive connections per request/response scenario.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured seconds per scenario and round.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Warm-up seconds before each measured window.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Rounds of (baseline, edge) per scenario; the median round (by req/s) is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Most requests per scenario run (warm-up included), a bound besides the time.
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: usize,
    /// Scenarios to run (all by default).
    #[arg(long, value_enum, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// SSE streams to open on the edge (0 skips the fan-out).
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// Streams being opened (and receiving their `put`) at once.
    #[arg(long, default_value_t = 200)]
    open_concurrency: usize,
    /// Changes published, one at a time, to the open streams.
    #[arg(long, default_value_t = 10)]
    changes: usize,
    /// Seconds to wait for the streams to open, and for each change to arrive everywhere.
    #[arg(long, default_value_t = 120)]
    stream_timeout: u64,
    /// `Accept-Encoding` sent with every request (none by default); the
    /// baseline answers with the bytes and `Content-Encoding` the edge chose.
    #[arg(long)]
    accept_encoding: Option<String>,
    /// Flag for the single-flag scenarios (default: the fixture's first flag
    /// with rules that OFREP evaluates successfully for the context).
    #[arg(long)]
    flag: Option<String>,
}

/// The request/response scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// `GET /api/client/flags?format=full` vs the same bytes.
    Config,
    /// The same with `If-None-Match` (304) vs `GET /hello`.
    NotModified,
    /// `POST /api/evaluate` for one flag vs the small-JSON POST.
    Evaluate,
    /// `POST /api/evaluate` for every flag vs the pre-built-bytes POST.
    EvaluateAll,
    /// `POST /ofrep/v1/evaluate/flags/{key}` vs the small-JSON POST.
    OfrepSingle,
    /// `POST /ofrep/v1/evaluate/flags` vs pre-built bytes of its size.
    OfrepBulk,
}

const ALL_SCENARIOS: [Scenario; 6] = [
    Scenario::Config,
    Scenario::NotModified,
    Scenario::Evaluate,
    Scenario::EvaluateAll,
    Scenario::OfrepSingle,
    Scenario::OfrepBulk,
];

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::ServeEdge(args)) => servers::serve_edge(args),
        Some(Command::ServeBaseline(args)) => servers::serve_baseline(args),
        None => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            // On Ctrl-C the run is dropped, and with it the children and the Redis keys.
            let valid = runtime.block_on(async {
                tokio::select! {
                    valid = Box::pin(run(cli.run)) => valid,
                    _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
                }
            })?;
            if !valid {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// One row of the request/response table.
struct Row {
    name: &'static str,
    edge_route: String,
    baseline_route: &'static str,
    edge: Measured,
    baseline: Measured,
    target: Option<f64>,
}

/// The whole run; `Ok(false)` when some response was unexpected.
async fn run(args: RunArgs) -> anyhow::Result<bool> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).context("raising the open files limit")?;
    let needed = args.streams as u64 + args.connections as u64 + 256;
    anyhow::ensure!(
        limit >= needed,
        "the open files limit is {limit}; {needed} are needed (raise the hard limit, or lower --streams)"
    );
    let fixture: Value = serde_json::from_str(&halyard_benches::fixture_json())?;
    let context: Value = serde_json::from_str(&std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/typical-context.json"),
    )?)?;

    let prefix = format!("halyard-bench-{}", std::process::id());
    let mut world = setup::World::new(&args.redis_url, &prefix).await?;
    let keys = world.seed(&fixture).await?;

    // The edge.
    let edge_addr = setup::free_addr()?;
    let edge_pid = world.spawn(&[
        "serve-edge",
        "--listen",
        &edge_addr.to_string(),
        "--redis-url",
        &args.redis_url,
        "--redis-prefix",
        &prefix,
    ])?;
    world
        .wait_for(edge_addr, "/readyz", Duration::from_secs(30))
        .await
        .context("the edge did not become ready")?;

    // Headers every request carries; the responses the baseline mirrors.
    let mut common = Vec::new();
    if let Some(encoding) = &args.accept_encoding {
        common.push((
            hyper::header::ACCEPT_ENCODING,
            HeaderValue::from_str(encoding)?,
        ));
    }
    let with = |key: &str| {
        let mut headers = common.clone();
        headers.push((
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_str(key).expect("keys are ASCII"),
        ));
        headers
    };
    let json_post = |key: &str| {
        let mut headers = with(key);
        headers.push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        headers
    };
    let server_headers = with(&keys.server);
    let client_post = json_post(&keys.client);

    let config = Target::new(
        edge_addr,
        Method::GET,
        "/api/client/flags?format=full",
        server_headers.clone(),
        Bytes::new(),
        StatusCode::OK,
    );
    let config_response = config.fetch().await?;
    anyhow::ensure!(
        config_response.status == StatusCode::OK,
        "the configuration answered {}",
        config_response.status
    );
    let etag = config_response
        .headers
        .get(ETAG)
        .context("the configuration has no ETag")?
        .clone();
    let mut not_modified_headers = server_headers.clone();
    not_modified_headers.push((hyper::header::IF_NONE_MATCH, etag));
    let not_modified = Target::new(
        edge_addr,
        Method::GET,
        "/api/client/flags?format=full",
        not_modified_headers,
        Bytes::new(),
        StatusCode::NOT_MODIFIED,
    );
    anyhow::ensure!(
        not_modified.fetch().await?.status == StatusCode::NOT_MODIFIED,
        "If-None-Match with the ETag did not give 304"
    );

    let context_body = Bytes::from(serde_json::to_vec(&json!({"context": context}))?);
    let evaluate_all = Target::new(
        edge_addr,
        Method::POST,
        "/api/evaluate",
        client_post.clone(),
        context_body.clone(),
        StatusCode::OK,
    );
    let all_response = evaluate_all.fetch().await?;
    anyhow::ensure!(
        all_response.status == StatusCode::OK,
        "all-flags evaluate answered {}",
        all_response.status
    );
    let ofrep_bulk = Target::new(
        edge_addr,
        Method::POST,
        "/ofrep/v1/evaluate/flags",
        client_post.clone(),
        context_body.clone(),
        StatusCode::OK,
    );
    let bulk_response = ofrep_bulk.fetch().await?;
    anyhow::ensure!(
        bulk_response.status == StatusCode::OK,
        "OFREP bulk answered {}",
        bulk_response.status
    );

    let ofrep_single_for = |flag: &str| {
        Target::new(
            edge_addr,
            Method::POST,
            &format!("/ofrep/v1/evaluate/flags/{flag}"),
            client_post.clone(),
            context_body.clone(),
            StatusCode::OK,
        )
    };
    let flag = match &args.flag {
        Some(flag) => flag.clone(),
        None => pick_flag(&fixture, &ofrep_single_for).await?,
    };
    let ofrep_single = ofrep_single_for(&flag);
    let single_response = ofrep_single.fetch().await?;
    anyhow::ensure!(
        single_response.status == StatusCode::OK,
        "OFREP single for {flag} answered {}",
        single_response.status
    );
    let evaluate = Target::new(
        edge_addr,
        Method::POST,
        "/api/evaluate",
        client_post.clone(),
        Bytes::from(serde_json::to_vec(
            &json!({"context": context, "flag": flag}),
        )?),
        StatusCode::OK,
    );
    let evaluate_response = evaluate.fetch().await?;
    anyhow::ensure!(
        evaluate_response.status == StatusCode::OK,
        "single-flag evaluate answered {}",
        evaluate_response.status
    );

    // The baseline, serving the edge's own bytes where sizes matter.
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir)?;
    world.remove_on_exit(dir.clone());
    let mut baseline_args: Vec<String> = Vec::new();
    for (name, response) in [
        ("config", &config_response),
        ("all-flags", &all_response),
        ("ofrep-bulk", &bulk_response),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, &response.body)?;
        baseline_args.push(format!("--{name}"));
        baseline_args.push(path.display().to_string());
        if let Some(encoding) = response.headers.get(CONTENT_ENCODING) {
            baseline_args.push(format!("--{name}-encoding"));
            baseline_args.push(encoding.to_str()?.to_owned());
        }
    }
    let baseline_addr = setup::free_addr()?;
    let mut spawn_args = vec![
        "serve-baseline".to_owned(),
        "--listen".to_owned(),
        baseline_addr.to_string(),
    ];
    spawn_args.extend(baseline_args);
    world.spawn(&spawn_args.iter().map(String::as_str).collect::<Vec<_>>())?;
    world
        .wait_for(baseline_addr, "/hello", Duration::from_secs(30))
        .await
        .context("the baseline did not start")?;
    let baseline =
        |method: Method, path: &str, headers: &[(HeaderName, HeaderValue)], body: &Bytes| {
            Target::new(
                baseline_addr,
                method,
                path,
                headers.to_vec(),
                body.clone(),
                StatusCode::OK,
            )
        };
    let small = baseline(Method::POST, "/small", &client_post, &context_body);
    let encoding = |r: &client::Fetched| {
        r.headers
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_owned()
    };

    println!(
        "edge load: 200-flag fixture, flag {flag:?}; {} connections, {} s measured after {} s warm-up, median of {} round(s); {} cores",
        args.connections,
        args.duration,
        args.warmup,
        args.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  bodies: configuration {} B ({}), all-flags evaluate {} B ({}), OFREP bulk {} B ({}), single evaluate {} B, OFREP single {} B",
        config_response.body.len(),
        encoding(&config_response),
        all_response.body.len(),
        encoding(&all_response),
        bulk_response.body.len(),
        encoding(&bulk_response),
        evaluate_response.body.len(),
        single_response.body.len(),
    );

    let scenarios = if args.scenarios.is_empty() {
        ALL_SCENARIOS.to_vec()
    } else {
        args.scenarios.clone()
    };
    let mut rows = Vec::new();
    for scenario in scenarios {
        let (name, edge, base, baseline_route, target) = match scenario {
            Scenario::Config => (
                "full configuration",
                config.clone(),
                baseline(Method::GET, "/config", &server_headers, &Bytes::new()),
                "GET same bytes",
                Some(0.8),
            ),
            Scenario::NotModified => (
                "conditional 304",
                not_modified.clone(),
                baseline(Method::GET, "/hello", &server_headers, &Bytes::new()),
                "GET hello (13 B)",
                Some(0.5),
            ),
            Scenario::Evaluate => (
                "evaluate, one flag",
                evaluate.clone(),
                small.clone(),
                "POST small JSON",
                Some(0.6),
            ),
            Scenario::EvaluateAll => (
                "evaluate, all flags",
                evaluate_all.clone(),
                baseline(Method::POST, "/all-flags", &client_post, &context_body),
                "POST pre-built bytes",
                Some(0.5),
            ),
            Scenario::OfrepSingle => (
                "OFREP single",
                ofrep_single.clone(),
                small.clone(),
                "POST small JSON",
                Some(0.6),
            ),
            Scenario::OfrepBulk => (
                "OFREP bulk",
                ofrep_bulk.clone(),
                baseline(Method::POST, "/ofrep-bulk", &client_post, &context_body),
                "POST pre-built bytes",
                None,
            ),
        };
        let (edge, base) = (Arc::new(edge), Arc::new(base));
        let mut edge_rounds = Vec::new();
        let mut base_rounds = Vec::new();
        for _ in 0..args.rounds.max(1) {
            base_rounds.push(client::load(Arc::clone(&base), &args.load()).await);
            edge_rounds.push(client::load(Arc::clone(&edge), &args.load()).await);
        }
        let row = Row {
            name,
            edge_route: format!("{} {}", edge.method, edge.path),
            baseline_route,
            edge: Measured::median(edge_rounds),
            baseline: Measured::median(base_rounds),
            target,
        };
        print_row(&row);
        rows.push(row);
    }
    let mut valid = true;
    if !rows.is_empty() {
        println!();
        print_table(&rows);
        for row in &rows {
            for (side, measured) in [("edge", &row.edge), ("baseline", &row.baseline)] {
                if measured.errors > 0 {
                    valid = false;
                    println!(
                        "  INVALID: {} ({side}): {} unexpected responses; first: {}",
                        row.name,
                        measured.errors,
                        measured.first_error.as_deref().unwrap_or("?")
                    );
                }
            }
        }
    }

    if args.streams > 0 {
        let report = sse::fan_out(
            &sse::FanOut {
                edge: edge_addr,
                edge_pid,
                key: keys.server.clone(),
                streams: args.streams,
                open_concurrency: args.open_concurrency,
                changes: args.changes,
                timeout: Duration::from_secs(args.stream_timeout),
            },
            &mut world,
        )
        .await?;
        println!();
        report.print();
        valid &= report.valid();
    }
    if !valid {
        println!("\nthe run is INVALID: some responses were unexpected (see above)");
    }
    world.shutdown().await;
    Ok(valid)
}

impl RunArgs {
    fn load(&self) -> client::LoadOptions {
        client::LoadOptions {
            connections: self.connections,
            warmup: Duration::from_secs_f64(self.warmup),
            duration: Duration::from_secs_f64(self.duration),
            max_requests: self.max_requests,
        }
    }
}

/// The fixture's first flag with rules that OFREP evaluates successfully.
async fn pick_flag<F>(fixture: &Value, target_for: &F) -> anyhow::Result<String>
where
    F: Fn(&str) -> Target,
{
    let flags = fixture["flags"].as_array().context("fixture flags")?;
    for flag in flags {
        let has_rules = flag["config"]["rules"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        let Some(key) = flag["flag"]["key"].as_str() else {
            continue;
        };
        if has_rules && target_for(key).fetch().await?.status == StatusCode::OK {
            return Ok(key.to_owned());
        }
    }
    anyhow::bail!("no fixture flag with rules evaluates successfully; pass --flag")
}

fn print_row(row: &Row) {
    println!(
        "  {:<20} edge {:>8.0} req/s (p99 {:>6.2} ms, {} requests) | baseline {:>8.0} req/s (p99 {:>6.2} ms, {} requests) | {:.2}x",
        row.name,
        row.edge.rps,
        row.edge.p99_ms,
        row.edge.requests,
        row.baseline.rps,
        row.baseline.p99_ms,
        row.baseline.requests,
        row.edge.rps / row.baseline.rps
    );
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<20} {:>9} {:>8} {:>8} | {:<20} {:>9} {:>8} {:>8} | {:>6} {:>7} {:>6}",
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "baseline",
        "req/s",
        "p50 ms",
        "p99 ms",
        "ratio",
        "target",
        "result"
    );
    for row in rows {
        let ratio = row.edge.rps / row.baseline.rps;
        let (target, verdict) = match row.target {
            Some(t) if ratio >= t => (format!(">={t:.1}x"), "PASS"),
            Some(t) => (format!(">={t:.1}x"), "BELOW"),
            None => ("-".to_owned(), "info"),
        };
        println!(
            "{:<20} {:>9.0} {:>8.2} {:>8.2} | {:<20} {:>9.0} {:>8.2} {:>8.2} | {:>5.2}x {:>7} {:>6}",
            row.name,
            row.edge.rps,
            row.edge.p50_ms,
            row.edge.p99_ms,
            row.baseline_route,
            row.baseline.rps,
            row.baseline.p50_ms,
            row.baseline.p99_ms,
            ratio,
            target,
            verdict
        );
    }
    println!("edge routes:");
    for row in rows {
        println!("  {:<20} {}", row.name, row.edge_route);
    }
}
