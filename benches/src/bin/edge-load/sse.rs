//! SSE fan-out: many v2 streams on one edge, the edge's memory per stream,
//! and the time from publishing a change to its arrival on every stream.
//!
//! Each stream is a bare TCP connection that writes the request and reads
//! continuously, decoding just enough (the chunked body and the `id:` and
//! `event:` lines, with `halyard_benches::event_stream`) to tell `put` and
//! `patch` events apart; data lines are skipped without being kept.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};

use halyard_benches::event_stream::Decoder;
use halyard_benches::proc_stats;

use crate::setup::World;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct FanOut {
    pub(crate) edge: SocketAddr,
    pub(crate) edge_pid: u32,
    pub(crate) key: String,
    pub(crate) streams: usize,
    pub(crate) open_concurrency: usize,
    pub(crate) changes: usize,
    pub(crate) timeout: Duration,
}

/// What a stream reports.
enum Event {
    /// Its initial `put` arrived, after this many bytes on the connection.
    Put { bytes: usize },
    /// A `patch` of `revision` arrived at `at`.
    Patch { revision: u64, at: Instant },
    /// Any other event (`ping`, `delete`, or a `put` after the first).
    Other { name: String },
    /// The stream failed or ended (after its `put`, if `opened`).
    Failed { message: String, opened: bool },
}

/// One change's delivery.
struct Delivery {
    revision: u64,
    /// Milliseconds from just before `PUBLISH` to arrival, one per stream, sorted.
    latencies: Vec<f64>,
    /// Streams expected to receive it.
    expected: usize,
}

/// The fan-out's results.
pub(crate) struct Report {
    streams: usize,
    opened: usize,
    open_time: Duration,
    put_bytes: usize,
    rss_before: u64,
    rss_after: u64,
    rss_peak: u64,
    deliveries: Vec<Delivery>,
    failures: usize,
    /// Streams that failed after their `put`.
    closed: usize,
    first_failure: Option<String>,
    unexpected: Vec<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

const MIB: f64 = 1024.0 * 1024.0;
/// Target memory per stream.
const TARGET_PER_STREAM: f64 = 16.0 * 1024.0;
/// Target time for a change to reach every stream, at p99.
const TARGET_ALL_MS: f64 = 250.0;

impl Report {
    /// Bytes of edge RSS per open stream.
    fn per_stream(&self) -> f64 {
        (self.rss_after as f64 - self.rss_before as f64) / self.opened.max(1) as f64
    }

    /// Milliseconds until every expected stream had each change, sorted
    /// (infinite when some stream never got it).
    fn to_all(&self) -> Vec<f64> {
        let mut all: Vec<f64> = self
            .deliveries
            .iter()
            .map(|d| {
                if d.latencies.len() >= d.expected {
                    d.latencies.last().copied().unwrap_or(0.0)
                } else {
                    f64::INFINITY
                }
            })
            .collect();
        all.sort_by(f64::total_cmp);
        all
    }

    /// Whether every stream opened and got every change.
    pub(crate) fn valid(&self) -> bool {
        self.opened == self.streams
            && self.failures == 0
            && self
                .deliveries
                .iter()
                .all(|d| d.latencies.len() == d.expected)
    }

    pub(crate) fn print(&self) {
        println!(
            "SSE fan-out: GET /api/client/stream?dialect=v2, {} streams from one client process",
            self.streams
        );
        println!(
            "  opened {} of {} in {:.2} s (initial put {} B each)",
            self.opened,
            self.streams,
            self.open_time.as_secs_f64(),
            self.put_bytes
        );
        let per_stream = self.per_stream();
        println!(
            "  edge RSS {:.1} MiB before, {:.1} MiB with the streams open (peak while opening {:.1} MiB): {:.2} KiB per stream   target <= 16 KiB   {}",
            self.rss_before as f64 / MIB,
            self.rss_after as f64 / MIB,
            self.rss_peak as f64 / MIB,
            per_stream / 1024.0,
            if per_stream <= TARGET_PER_STREAM {
                "PASS"
            } else {
                "ABOVE"
            }
        );
        if !self.deliveries.is_empty() {
            let mut pooled: Vec<f64> = self
                .deliveries
                .iter()
                .flat_map(|d| d.latencies.iter().copied())
                .collect();
            pooled.sort_by(f64::total_cmp);
            println!(
                "  change -> arrival per stream ({} changes, {} arrivals): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                self.deliveries.len(),
                pooled.len(),
                percentile(&pooled, 0.50),
                percentile(&pooled, 0.99),
                pooled.last().copied().unwrap_or(f64::NAN)
            );
            let to_all = self.to_all();
            let p99 = percentile(&to_all, 0.99);
            println!(
                "  change -> arrival on all streams: p50 {:.1} ms, p99 {:.1} ms (of {} changes)   target p99 <= 250 ms   {}",
                percentile(&to_all, 0.50),
                p99,
                to_all.len(),
                if p99 <= TARGET_ALL_MS {
                    "PASS"
                } else {
                    "ABOVE"
                }
            );
            let each: Vec<String> = self
                .deliveries
                .iter()
                .map(|d| {
                    if d.latencies.len() >= d.expected {
                        format!(
                            "r{} {:.0}/{:.0}",
                            d.revision,
                            percentile(&d.latencies, 0.5),
                            d.latencies.last().copied().unwrap_or(f64::NAN)
                        )
                    } else {
                        format!("r{} {} of {}", d.revision, d.latencies.len(), d.expected)
                    }
                })
                .collect();
            println!("  each change (p50/all ms): {}", each.join(", "));
        }
        if self.failures > 0 {
            println!(
                "  INVALID: {} streams failed; first: {}",
                self.failures,
                self.first_failure.as_deref().unwrap_or("?")
            );
        }
        if !self.unexpected.is_empty() {
            println!(
                "  unexpected events: {} (first: {})",
                self.unexpected.len(),
                self.unexpected[0]
            );
        }
    }
}

/// Opens the streams, measures, publishes the changes, closes the streams.
pub(crate) async fn fan_out(config: &FanOut, world: &mut World) -> anyhow::Result<Report> {
    let request: Arc<[u8]> = format!(
        "GET /api/client/stream?dialect=v2 HTTP/1.1\r\nHost: {}\r\nX-API-Key: {}\r\nAccept: text/event-stream\r\n\r\n",
        config.edge, config.key
    )
    .into_bytes()
    .into();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = proc_stats::rss(config.edge_pid)?;
    let mut rss_peak = rss_before;

    let (sender, mut events) = mpsc::unbounded_channel();
    let opening = Arc::new(Semaphore::new(config.open_concurrency.max(1)));
    let started = Instant::now();
    let tasks: Vec<_> = (0..config.streams)
        .map(|_| {
            let (request, opening, sender) =
                (Arc::clone(&request), Arc::clone(&opening), sender.clone());
            let addr = config.edge;
            tokio::spawn(async move {
                let mut opened = false;
                if let Err(e) = stream(addr, &request, opening, &sender, &mut opened).await {
                    let _ = sender.send(Event::Failed {
                        message: format!("{e:#}"),
                        opened,
                    });
                }
            })
        })
        .collect();
    drop(sender);

    let mut report = Report {
        streams: config.streams,
        opened: 0,
        open_time: Duration::ZERO,
        put_bytes: 0,
        rss_before,
        rss_after: 0,
        rss_peak: 0,
        deliveries: Vec::new(),
        failures: 0,
        closed: 0,
        first_failure: None,
        unexpected: Vec::new(),
    };
    let mut put_sizes = Vec::new();
    let deadline = tokio::time::Instant::now() + config.timeout;
    let mut sample = tokio::time::interval(Duration::from_millis(100));
    while report.opened + report.failures < config.streams {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => note(&mut report, event, |bytes| put_sizes.push(bytes)),
                None => break,
            },
            _ = sample.tick() => rss_peak = rss_peak.max(proc_stats::rss(config.edge_pid)?),
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    report.open_time = started.elapsed();
    put_sizes.sort_unstable();
    report.put_bytes = put_sizes.get(put_sizes.len() / 2).copied().unwrap_or(0);
    // Let the last writes and allocations settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.rss_after = proc_stats::rss(config.edge_pid)?;
    report.rss_peak = rss_peak.max(report.rss_after);

    let flag_count = world.snapshot()["flags"].as_array().context("flags")?.len();
    for change in 0..config.changes {
        let expected = report.opened - report.closed;
        let mut flag = world.snapshot()["flags"][change % flag_count].clone();
        flag["flag"]["description"] = json!(format!("edge-load change {change}"));
        // Stray events of the previous change are not this one's.
        while let Ok(event) = events.try_recv() {
            note(&mut report, event, |_| {});
        }
        let sent = Instant::now();
        let revision = world.publish_flag(flag).await?;
        let mut latencies = Vec::with_capacity(expected);
        let deadline = tokio::time::Instant::now() + config.timeout;
        while latencies.len() < expected {
            tokio::select! {
                event = events.recv() => match event {
                    Some(Event::Patch { revision: r, at }) if r == revision => {
                        latencies.push((at - sent).as_secs_f64() * 1000.0);
                    }
                    Some(event) => note(&mut report, event, |_| {}),
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        latencies.sort_by(f64::total_cmp);
        report.deliveries.push(Delivery {
            revision,
            latencies,
            expected,
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for task in tasks {
        task.abort();
    }
    Ok(report)
}

/// Accounts for an event outside a change's delivery.
fn note(report: &mut Report, event: Event, mut on_put: impl FnMut(usize)) {
    match event {
        Event::Put { bytes } => {
            report.opened += 1;
            on_put(bytes);
        }
        Event::Failed { message, opened } => {
            report.failures += 1;
            report.closed += usize::from(opened);
            report.first_failure.get_or_insert(message);
        }
        Event::Patch { revision, .. } => report
            .unexpected
            .push(format!("a late patch of revision {revision}")),
        Event::Other { name } => report.unexpected.push(format!("event {name}")),
    }
}

/// One stream: connects (holding an `opening` permit until its `put`),
/// then reads until aborted.
async fn stream(
    addr: SocketAddr,
    request: &[u8],
    opening: Arc<Semaphore>,
    events: &mpsc::UnboundedSender<Event>,
    opened: &mut bool,
) -> anyhow::Result<()> {
    let mut permit = Some(opening.acquire_owned().await?);
    let mut socket = TcpStream::connect(addr).await.context("connecting")?;
    socket.set_nodelay(true)?;
    socket.write_all(request).await?;
    let mut parser = Decoder::new(0);
    let mut buffer = vec![0u8; 16 * 1024];
    let mut total = 0;
    let mut puts = 0;
    loop {
        let n = socket.read(&mut buffer).await?;
        anyhow::ensure!(n > 0, "the edge closed the stream");
        let at = Instant::now();
        total += n;
        let mut result = Ok(());
        parser.feed(&buffer[..n], &mut |event| {
            let event = match (event.name, event.id) {
                (b"put", _) if puts == 0 => {
                    puts += 1;
                    permit = None;
                    *opened = true;
                    Event::Put { bytes: total }
                }
                (b"patch", Some(revision)) => Event::Patch { revision, at },
                (name, _) => Event::Other {
                    name: String::from_utf8_lossy(name).into_owned(),
                },
            };
            if events.send(event).is_err() {
                result = Err(anyhow::anyhow!("the run is over"));
            }
        })?;
        result?;
        if permit.is_none() && buffer.len() > 4096 {
            // Past the large `put`: the rest are small frames.
            buffer = vec![0u8; 4096];
        }
    }
}
