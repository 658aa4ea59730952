//! What every request handler and the sync task share: the store, the
//! metrics, the optional per-key rate limit and the shutdown signal.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::watch;

use crate::cache::ResponseCache;
use crate::metrics::Metrics;
use crate::store::EdgeStore;

/// The edge's shared state.
#[derive(Debug)]
pub struct Edge {
    /// Every environment's snapshot and the key index.
    pub store: EdgeStore,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// All-flags evaluation responses.
    pub cache: ResponseCache,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    closing: watch::Sender<bool>,
}

impl Edge {
    /// A new edge state; `rate_limit` is requests per second per SDK key
    /// (with bursts of one second's worth), `None` for no limit;
    /// `cache_bytes` bounds the response cache (0 disables it).
    pub fn new(rate_limit: Option<NonZeroU32>, cache_bytes: u64) -> Self {
        Self {
            store: EdgeStore::new(),
            metrics: Metrics::new(),
            cache: ResponseCache::new(cache_bytes),
            limiter: rate_limit.map(|per_second| RateLimiter::keyed(Quota::per_second(per_second))),
            closing: watch::Sender::new(false),
        }
    }

    /// Counts one request of the key with id `key_id`: `Err` with how long
    /// to wait when it is over its limit.
    pub fn check_rate(&self, key_id: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&key_id.to_owned()).map_err(|not_until| {
            self.metrics.rate_limited.inc();
            not_until.wait_time_from(DefaultClock::default().now())
        })
    }

    /// Tells open streams to send `retry:` and close (shutdown).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Completes when the edge starts shutting down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}
