//! The edge's HTTP routes.

pub mod auth;
pub mod client;
pub mod evaluate;
pub mod health;
pub mod observe;
pub mod ofrep;
pub mod openapi;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use axum::http::{HeaderName, Method};
use tower::Layer as _;
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};

use crate::state::Edge;

/// Sent while the edge is out of touch with Redis: seconds since it last
/// was in sync (how stale the snapshot may be).
pub const SNAPSHOT_AGE_HEADER: &str = "x-halyard-snapshot-age";

/// Every route of the edge, each observed (metrics, staleness header).
pub fn router(edge: Arc<Edge>) -> Router {
    sdk()
        .merge(health::router())
        .merge(openapi::router())
        .layer(observe::ObserveLayer::new(Arc::clone(&edge)))
        .with_state(edge)
}

/// The SDK routes alone (configuration, streams, evaluation, OFREP),
/// observed and behind CORS: what the all-in-one node serves beside the
/// admin API, which brings its own health and OpenAPI routes.
pub fn sdk_router(edge: Arc<Edge>) -> Router {
    sdk()
        .layer(observe::ObserveLayer::new(Arc::clone(&edge)))
        .layer(cors())
        .with_state(edge)
}

fn sdk() -> Router<Arc<Edge>> {
    Router::new()
        .merge(client::router())
        .merge(evaluate::router())
        .merge(stream::router())
}

/// The edge's HTTP service: [`router`] behind CORS. Browsers call the edge
/// from any origin with SDK keys in headers (never cookies), so CORS allows
/// every origin; a preflight needs no key, and `ETag`,
/// `X-Halyard-Revision`, `X-Halyard-Snapshot-Age` and `Retry-After` are
/// exposed. (Around the router rather than per route, so the layer is not
/// cloned per request.)
pub fn app(edge: Arc<Edge>) -> Cors<Router> {
    cors().layer(router(edge))
}

fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            CONTENT_TYPE,
            AUTHORIZATION,
            IF_NONE_MATCH,
            HeaderName::from_static("x-sdk-key"),
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            ETAG,
            RETRY_AFTER,
            HeaderName::from_static(client::REVISION_HEADER),
            HeaderName::from_static(SNAPSHOT_AGE_HEADER),
        ])
        .max_age(Duration::from_secs(600))
        // Every origin gets the same answer (`*`), so caches need no Vary.
        .vary([])
}
