//! Prometheus metrics, served on their own listener at `/metrics`:
//! requests by route (the matched pattern), method and status with latency;
//! open SSE streams by dialect; snapshot revision, age and staleness per
//! environment; propagation lag (commit at the control plane to applied
//! here); resyncs; rate-limited requests; and evaluations by flag and
//! variation, with a bounded number of series (evaluations done; responses
//! served from the response cache count as cache hits instead).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use halyard_common::Evaluation;
use halyard_common::model::EnvironmentFlag;
use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::cache::ResponseCache;
use crate::store::EdgeStore;

/// Evaluation series (environment x flag x variation) exported at most;
/// the rest are summed into `flag="_other"`.
pub const MAX_EVALUATION_SERIES: usize = 2000;

/// The edge's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Distinguishes registries in one process (per-thread series caches).
    id: u64,
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Open SSE streams by dialect.
    pub open_streams: IntGaugeVec,
    revision: IntGaugeVec,
    age: GaugeVec,
    stale: prometheus::Gauge,
    /// Seconds from commit at the control plane to applied on this edge.
    pub propagation: Histogram,
    /// Full reloads of an environment, by reason.
    pub resyncs: IntCounterVec,
    /// Requests refused by the per-key rate limit.
    pub rate_limited: IntCounter,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

const PREFIX: &str = "halyard_edge";

impl Metrics {
    /// Creates and registers every metric in a new registry.
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some(PREFIX.into()), None).expect("valid prefix");
        let requests = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "http_requests_total",
                    "HTTP requests by route, method and status",
                ),
                &["route", "method", "status"],
            )
            .expect("valid metric"),
        );
        let latency = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "HTTP request latency by route and method (SSE: until the response starts)",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    1.0,
                ]),
                &["route", "method"],
            )
            .expect("valid metric"),
        );
        let open_streams = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("sse_open_streams", "Open SSE streams by dialect"),
                &["dialect"],
            )
            .expect("valid metric"),
        );
        let revision = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("snapshot_revision", "Revision held per environment"),
                &["environment"],
            )
            .expect("valid metric"),
        );
        let age = register(
            &registry,
            GaugeVec::new(
                Opts::new(
                    "snapshot_age_seconds",
                    "Seconds since the held revision was installed, per environment",
                ),
                &["environment"],
            )
            .expect("valid metric"),
        );
        let stale = register(
            &registry,
            prometheus::Gauge::new(
                "stale_seconds",
                "Seconds since the edge was last in sync with Redis (0 while in sync)",
            )
            .expect("valid metric"),
        );
        let propagation = register(
            &registry,
            Histogram::with_opts(
                HistogramOpts::new(
                    "propagation_lag_seconds",
                    "From commit at the control plane to applied on this edge",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
            )
            .expect("valid metric"),
        );
        let resyncs = register(
            &registry,
            IntCounterVec::new(
                Opts::new("resyncs_total", "Full reloads of an environment, by reason"),
                &["reason"],
            )
            .expect("valid metric"),
        );
        let rate_limited = register(
            &registry,
            IntCounter::new(
                "rate_limited_total",
                "Requests refused by the per-key rate limit",
            )
            .expect("valid metric"),
        );
        static IDS: AtomicU64 = AtomicU64::new(0);
        Self {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            registry,
            requests,
            latency,
            open_streams,
            revision,
            age,
            stale,
            propagation,
            resyncs,
            rate_limited,
        }
    }

    /// The text exposition format, sampling the store and cache first.
    pub fn render(&self, store: &EdgeStore, cache: &ResponseCache) -> String {
        self.revision.reset();
        self.age.reset();
        let environments = store.all();
        for (name, environment) in &environments {
            self.revision
                .with_label_values(&[name.as_str()])
                .set(i64::try_from(environment.snapshot.revision()).unwrap_or(i64::MAX));
            self.age
                .with_label_values(&[name.as_str()])
                .set(environment.installed_at.elapsed().as_secs_f64());
        }
        self.stale
            .set(store.stale_for().map_or(0.0, |d| d.as_secs_f64()));
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("encoding to memory cannot fail");
        let mut text = String::from_utf8(buffer).expect("the text format is UTF-8");
        render_evaluations(&mut text, &environments, MAX_EVALUATION_SERIES);
        let (hits, misses) = cache.counts();
        for (name, value, help) in [
            (
                "response_cache_hits_total",
                hits,
                "All-flags responses served from the cache",
            ),
            (
                "response_cache_misses_total",
                misses,
                "All-flags responses computed",
            ),
        ] {
            let _ = writeln!(text, "# HELP {PREFIX}_{name} {help}");
            let _ = writeln!(text, "# TYPE {PREFIX}_{name} counter");
            let _ = writeln!(text, "{PREFIX}_{name} {value}");
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Evaluation counts of one flag: one counter per variation, plus errors.
#[derive(Debug)]
pub struct FlagCounts {
    variations: Vec<(String, AtomicU64)>,
    errors: AtomicU64,
}

impl FlagCounts {
    /// Counters for `flag`'s variations, continuing `previous` when the
    /// variations are the same.
    pub fn for_flag(flag: &EnvironmentFlag, previous: Option<&Arc<FlagCounts>>) -> Arc<Self> {
        if let Some(previous) = previous
            && previous.variations.iter().map(|(k, _)| k.as_str()).eq(flag
                .flag
                .variations
                .iter()
                .map(|v| v.key.as_str()))
        {
            return Arc::clone(previous);
        }
        Arc::new(Self {
            variations: flag
                .flag
                .variations
                .iter()
                .map(|v| (v.key.as_str().to_owned(), AtomicU64::new(0)))
                .collect(),
            errors: AtomicU64::new(0),
        })
    }

    /// Counts one evaluation.
    pub fn record(&self, evaluation: &Evaluation<'_>) {
        let counter = evaluation
            .variation_key()
            .and_then(|key| self.variations.iter().find(|(k, _)| k == key))
            .map_or(&self.errors, |(_, c)| c);
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends `halyard_edge_evaluations_total`: the `limit` busiest
/// (environment, flag, variation) series, the rest summed into `_other`.
fn render_evaluations(
    text: &mut String,
    environments: &[(String, Arc<crate::store::EdgeEnvironment>)],
    limit: usize,
) {
    let mut series: Vec<(&str, &str, &str, u64)> = Vec::new();
    for (name, environment) in environments {
        for (flag, counts) in environment.sorted_flags() {
            for (variation, count) in &counts.variations {
                series.push((name, flag, variation, count.load(Ordering::Relaxed)));
            }
            series.push((name, flag, "_error", counts.errors.load(Ordering::Relaxed)));
        }
    }
    series.retain(|s| s.3 > 0);
    series.sort_by(|a, b| {
        b.3.cmp(&a.3)
            .then_with(|| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)))
    });
    let other: u64 = series.iter().skip(limit).map(|s| s.3).sum();
    series.truncate(limit);
    let name = format!("{PREFIX}_evaluations_total");
    let _ = writeln!(
        text,
        "# HELP {name} Evaluations by environment, flag and variation (_error: failed; at most {limit} series, the rest in flag=\"_other\")"
    );
    let _ = writeln!(text, "# TYPE {name} counter");
    for (environment, flag, variation, count) in series {
        let _ = writeln!(
            text,
            "{name}{{environment=\"{}\",flag=\"{}\",variation=\"{}\"}} {count}",
            escape(environment),
            escape(flag),
            escape(variation)
        );
    }
    if other > 0 {
        let _ = writeln!(
            text,
            "{name}{{environment=\"_other\",flag=\"_other\",variation=\"_other\"}} {other}"
        );
    }
}

/// A request series: (registry, route, method, status).
type SeriesKey = (u64, usize, Method, u16);

thread_local! {
    /// Each worker thread's resolved request series, so recording a request
    /// is a local hash lookup rather than two label lookups under a lock.
    static SERIES: RefCell<HashMap<SeriesKey, (Histogram, IntCounter), foldhash::fast::RandomState>> =
        RefCell::new(HashMap::default());
}

impl Metrics {
    /// Records one request. `route` is a matched route pattern (a string
    /// that lives as long as the router) or a `'static` one.
    pub fn record(&self, route: &str, method: &Method, status: StatusCode, took: Duration) {
        let key = (
            self.id,
            route.as_ptr() as usize,
            method.clone(),
            status.as_u16(),
        );
        SERIES.with_borrow_mut(|series| {
            let (latency, requests) = series.entry(key).or_insert_with(|| {
                (
                    self.latency.with_label_values(&[route, method.as_str()]),
                    self.requests
                        .with_label_values(&[route, method.as_str(), status.as_str()]),
                )
            });
            latency.observe(took.as_secs_f64());
            requests.inc();
        });
    }
}
