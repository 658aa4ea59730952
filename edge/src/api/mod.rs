//! The edge's HTTP routes.

pub mod auth;
pub mod client;
pub mod evaluate;
pub mod health;
pub mod stream;

use std::sync::Arc;

use std::time::Duration;

use axum::Router;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderName, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::store::EdgeStore;

/// Every route of the edge. Browsers call the edge from any origin with
/// SDK keys in headers (never cookies), so CORS allows every origin; a
/// preflight needs no key, and `ETag` and `X-Halyard-Revision` are exposed.
pub fn router(store: Arc<EdgeStore>) -> Router {
    Router::new()
        .merge(client::router())
        .merge(evaluate::router())
        .merge(stream::router())
        .merge(health::router())
        .with_state(store)
        .layer(cors())
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
        .expose_headers([ETAG, HeaderName::from_static(client::REVISION_HEADER)])
        .max_age(Duration::from_secs(600))
}
