//! Admin write throughput and publish lag, end to end.
//!
//! Against a running control plane (and the Redis its relay publishes to):
//! 1. baseline: `GET /readyz` round trips (HTTP plus one database query) at
//!    the same concurrency, for a same-run ratio;
//! 2. creates `--flags` legacy flags, subscribes to the change channel, then
//!    toggles them `--updates` times with `--concurrency` workers;
//! 3. reports acknowledged updates per second, the rate at which changes
//!    were published, and publish lag (receive time minus `committed_at`).
//!
//! Bounded in count and time: every phase stops at `--seconds`.
//! `benches/scripts/admin-load.sh` starts a private control plane and runs this.
#![allow(clippy::print_stdout)] // a command-line report

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use halyard_common::ChangeMessage;
use serde_json::{Value, json};
use time::OffsetDateTime;

struct Args {
    url: String,
    admin_key: String,
    redis: String,
    prefix: String,
    flags: usize,
    updates: usize,
    concurrency: usize,
    seconds: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        url: "http://127.0.0.1:8080".into(),
        admin_key: std::env::var("HALYARD_ADMIN_API_KEY").unwrap_or_default(),
        redis: "redis://127.0.0.1:6379".into(),
        prefix: "halyard".into(),
        flags: 20,
        updates: 2000,
        concurrency: 8,
        seconds: 60,
    };
    let mut it = std::env::args();
    it.next(); // the program name
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value(),
            "--admin-key" => args.admin_key = value(),
            "--redis" => args.redis = value(),
            "--prefix" => args.prefix = value(),
            "--flags" => args.flags = value().parse().expect("--flags is a number"),
            "--updates" => args.updates = value().parse().expect("--updates is a number"),
            "--concurrency" => {
                args.concurrency = value().parse().expect("--concurrency is a number")
            }
            "--seconds" => args.seconds = value().parse().expect("--seconds is a number"),
            other => panic!("unknown argument {other}; see the module docs"),
        }
    }
    assert!(
        !args.admin_key.is_empty(),
        "pass --admin-key or set HALYARD_ADMIN_API_KEY"
    );
    args
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Runs `total` requests made by `make` with `concurrency` workers; returns
/// (completed, elapsed).
async fn hammer<F, Fut>(
    total: usize,
    concurrency: usize,
    deadline: Instant,
    make: F,
) -> (usize, Duration)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (make, next, done) = (Arc::clone(&make), Arc::clone(&next), Arc::clone(&done));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total || Instant::now() >= deadline {
                        return;
                    }
                    if make(i).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker does not panic");
    }
    (done.load(Ordering::Relaxed), started.elapsed())
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .expect("client");
    let deadline = |seconds: u64| Instant::now() + Duration::from_secs(seconds);

    // 1. Baseline.
    let (url, c) = (args.url.clone(), client.clone());
    let (baseline_done, baseline_time) = hammer(
        args.updates,
        args.concurrency,
        deadline(args.seconds),
        move |_| {
            let (url, c) = (url.clone(), c.clone());
            async move {
                c.get(format!("{url}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        },
    )
    .await;
    let baseline_rate = baseline_done as f64 / baseline_time.as_secs_f64();

    // 2. Flags to toggle.
    let run = OffsetDateTime::now_utc().unix_timestamp();
    let mut ids = Vec::with_capacity(args.flags);
    for i in 0..args.flags {
        let response = client
            .post(format!("{}/api/admin/flags", args.url))
            .header("X-Admin-API-Key", &args.admin_key)
            .json(&json!({"key": format!("load-{run}-{i}"), "rollout_percentage": 50}))
            .send()
            .await
            .expect("control plane reachable");
        assert_eq!(
            response.status(),
            201,
            "creating flag {i}: {}",
            response.text().await.unwrap_or_default()
        );
        let body: Value = response.json().await.expect("JSON");
        ids.push(body["id"].as_str().expect("id").to_owned());
    }

    // Subscribe before writing, and count the toggles' messages as they arrive.
    let redis = redis::Client::open(args.redis.as_str()).expect("valid Redis URL");
    let mut pubsub = redis.get_async_pubsub().await.expect("Redis reachable");
    pubsub
        .subscribe(format!("{}:changes", args.prefix))
        .await
        .expect("subscribe");
    let expected = args.updates;
    let collector = tokio::spawn(async move {
        let mut lags = Vec::with_capacity(expected);
        let mut last = None;
        let mut stream = pubsub.on_message();
        let stop = tokio::time::sleep(Duration::from_secs(args.seconds));
        tokio::pin!(stop);
        while lags.len() < expected {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { break };
                    let payload: String = message.get_payload().unwrap_or_default();
                    let Ok(change) = serde_json::from_str::<ChangeMessage>(&payload) else { continue };
                    let is_toggle = change.changes.iter().any(|c| matches!(c,
                        halyard_common::Change::FlagUpserted { flag } if flag.flag.key.as_str().starts_with(&format!("load-{run}-"))));
                    if is_toggle && change.environment.as_str() == "production" {
                        let lag = OffsetDateTime::now_utc() - change.committed_at;
                        lags.push(lag.as_seconds_f64() * 1000.0);
                        last = Some(Instant::now());
                    }
                }
                () = &mut stop => break,
            }
        }
        (lags, last)
    });
    // Let the creations' messages drain before timing writes.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 3. Toggle.
    let ids = Arc::new(ids);
    let (url, key, c) = (args.url.clone(), args.admin_key.clone(), client.clone());
    let write_start = Instant::now();
    let (acknowledged, write_time) = hammer(
        args.updates,
        args.concurrency,
        deadline(args.seconds),
        move |i| {
            let (url, key, c, ids) = (url.clone(), key.clone(), c.clone(), Arc::clone(&ids));
            async move {
                let id = &ids[i % ids.len()];
                c.patch(format!("{url}/api/admin/flags/{id}/toggle"))
                    .header("X-Admin-API-Key", key)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        },
    )
    .await;
    let (mut lags, last) = collector.await.expect("collector does not panic");
    lags.sort_by(f64::total_cmp);
    let write_rate = acknowledged as f64 / write_time.as_secs_f64();
    let published_rate = last.map_or(f64::NAN, |last| {
        lags.len() as f64 / (last - write_start).as_secs_f64()
    });

    println!(
        "admin write load: {} flags, {} workers",
        args.flags, args.concurrency
    );
    println!("  baseline GET /readyz:      {baseline_rate:>8.0} req/s ({baseline_done} requests)");
    println!(
        "  flag updates acknowledged: {write_rate:>8.0} updates/s ({acknowledged} in {:.2} s), {:.2}x baseline time per request",
        write_time.as_secs_f64(),
        baseline_rate / write_rate
    );
    println!(
        "  flag updates published:    {published_rate:>8.0} updates/s ({} of {acknowledged} received on Redis)",
        lags.len()
    );
    println!(
        "  publish lag (commit -> Redis subscriber): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&lags, 0.50),
        percentile(&lags, 0.95),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or(f64::NAN)
    );
    if lags.len() < acknowledged {
        println!(
            "  WARNING: {} acknowledged updates were not seen on Redis within {} s",
            acknowledged - lags.len(),
            args.seconds
        );
        std::process::exit(1);
    }
}
