//! A bounded cache of whole evaluation responses (all flags for one
//! context), keyed by the environment revision and the exact request body.
//!
//! Evaluating every flag and serializing the result costs tens of
//! microseconds; many clients send the same context (anonymous visitors,
//! polling SDKs, OFREP providers re-fetching after a change notice). A
//! response depends only on the snapshot and the body, so for the same
//! revision and the same bytes it is served from here. A new revision has a
//! new generation: its entries are never confused with older ones, which
//! age out (least recently used first, within the size bound).

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderValue;
use bytes::Bytes;

/// Which response an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CachedRoute {
    /// `POST /api/evaluate` without `flag`.
    EvaluateAll,
    /// `POST /ofrep/v1/evaluate/flags`.
    OfrepBulk,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    generation: u64,
    route: CachedRoute,
    body: Bytes,
}

/// A cached response: its body and, for OFREP bulk, its ETag.
#[derive(Debug, Clone)]
pub struct CachedResponse {
    /// The JSON body.
    pub body: Bytes,
    /// The ETag, where the route has one.
    pub etag: Option<HeaderValue>,
}

/// The cache (disabled with a capacity of 0).
#[derive(Debug)]
pub struct ResponseCache {
    entries: Option<moka::sync::Cache<Key, CachedResponse>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ResponseCache {
    /// A cache holding at most about `capacity_bytes` of keys and bodies.
    pub fn new(capacity_bytes: u64) -> Self {
        let entries = (capacity_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|key: &Key, value: &CachedResponse| {
                    u32::try_from(key.body.len() + value.body.len() + 128).unwrap_or(u32::MAX)
                })
                .build()
        });
        Self {
            entries,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The response for `body` at `generation`, if cached.
    pub fn get(&self, generation: u64, route: CachedRoute, body: &Bytes) -> Option<CachedResponse> {
        let entries = self.entries.as_ref()?;
        let key = Key {
            generation,
            route,
            body: body.clone(),
        };
        let found = entries.get(&key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Remembers a response.
    pub fn insert(
        &self,
        generation: u64,
        route: CachedRoute,
        body: Bytes,
        response: CachedResponse,
    ) {
        if let Some(entries) = &self.entries {
            entries.insert(
                Key {
                    generation,
                    route,
                    body,
                },
                response,
            );
        }
    }

    /// (hits, misses) so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_per_generation_route_and_exact_body() {
        let cache = ResponseCache::new(1 << 20);
        let body = Bytes::from_static(br#"{"context":{"targetingKey":"u1"}}"#);
        let response = CachedResponse {
            body: Bytes::from_static(b"{}"),
            etag: None,
        };
        cache.insert(1, CachedRoute::OfrepBulk, body.clone(), response);
        assert!(cache.get(1, CachedRoute::OfrepBulk, &body).is_some());
        assert!(
            cache.get(2, CachedRoute::OfrepBulk, &body).is_none(),
            "a new revision"
        );
        assert!(
            cache.get(1, CachedRoute::EvaluateAll, &body).is_none(),
            "another route"
        );
        let other = Bytes::from_static(br#"{"context":{"targetingKey":"u2"}}"#);
        assert!(cache.get(1, CachedRoute::OfrepBulk, &other).is_none());
        assert_eq!(cache.counts(), (1, 3));
        let disabled = ResponseCache::new(0);
        disabled.insert(
            1,
            CachedRoute::OfrepBulk,
            body.clone(),
            CachedResponse {
                body: Bytes::new(),
                etag: None,
            },
        );
        assert!(disabled.get(1, CachedRoute::OfrepBulk, &body).is_none());
    }
}
