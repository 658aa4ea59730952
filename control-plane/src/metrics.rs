//! Prometheus metrics, served on their own listener at `/metrics`:
//! requests by route (the matched pattern, never the raw path), method and
//! status; request latency; outbox backlog and oldest pending age; database
//! pool use. The relay adds its own publish counters to the same registry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use time::OffsetDateTime;

use crate::store::Store;

/// The control plane's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    outbox_backlog: IntGauge,
    outbox_oldest_seconds: Gauge,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

impl Metrics {
    /// Creates and registers every metric in a new registry.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("halyard_control_plane".into()), None).expect("valid prefix");
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
                    "HTTP request latency by route and method",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
                &["route", "method"],
            )
            .expect("valid metric"),
        );
        let outbox_backlog = register(
            &registry,
            IntGauge::new("outbox_backlog", "Change messages not yet published").expect("valid"),
        );
        let outbox_oldest_seconds = register(
            &registry,
            Gauge::new(
                "outbox_oldest_pending_seconds",
                "Age of the oldest unpublished change message",
            )
            .expect("valid"),
        );
        let pool_connections = register(
            &registry,
            IntGauge::new("db_pool_connections", "Open database connections").expect("valid"),
        );
        let pool_idle = register(
            &registry,
            IntGauge::new("db_pool_idle", "Idle database connections").expect("valid"),
        );
        Self {
            registry,
            requests,
            latency,
            outbox_backlog,
            outbox_oldest_seconds,
            pool_connections,
            pool_idle,
        }
    }

    /// The registry (the relay registers its metrics here).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("encoding to memory cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }

    /// Samples the outbox backlog and pool use every `every`, forever.
    pub async fn sample(self, store: Arc<dyn Store>, pool: Option<sqlx::PgPool>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match store.outbox_backlog().await {
                Ok((count, oldest)) => {
                    self.outbox_backlog
                        .set(i64::try_from(count).unwrap_or(i64::MAX));
                    let age = oldest.map_or(0.0, |at| {
                        (OffsetDateTime::now_utc() - at).as_seconds_f64().max(0.0)
                    });
                    self.outbox_oldest_seconds.set(age);
                }
                Err(err) => tracing::debug!(error = %err, "cannot sample the outbox backlog"),
            }
            if let Some(pool) = &pool {
                self.pool_connections.set(i64::from(pool.size()));
                self.pool_idle
                    .set(i64::try_from(pool.num_idle()).unwrap_or(i64::MAX));
            }
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware recording every request.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .latency
        .with_label_values(&[&route, &method])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[&route, &method, response.status().as_str()])
        .inc();
    response
}
