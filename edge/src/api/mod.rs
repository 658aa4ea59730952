//! The edge's HTTP routes.

pub mod auth;
pub mod client;
pub mod evaluate;
pub mod health;
pub mod ofrep;
pub mod openapi;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::metrics;
use crate::state::Edge;

/// Sent while the edge is out of touch with Redis: seconds since it last
/// was in sync (how stale the snapshot may be).
pub const SNAPSHOT_AGE_HEADER: &str = "x-halyard-snapshot-age";

/// Every route of the edge. Browsers call the edge from any origin with
/// SDK keys in headers (never cookies), so CORS allows every origin; a
/// preflight needs no key, and `ETag`, `X-Halyard-Revision`,
/// `X-Halyard-Snapshot-Age` and `Retry-After` are exposed.
pub fn router(edge: Arc<Edge>) -> Router {
    Router::new()
        .merge(client::router())
        .merge(evaluate::router())
        .merge(stream::router())
        .merge(health::router())
        .merge(openapi::router())
        .layer(middleware::from_fn_with_state(
            Arc::clone(&edge),
            revision_headers,
        ))
        .layer(cors())
        .layer(middleware::from_fn_with_state(
            Arc::clone(&edge),
            metrics::track,
        ))
        .with_state(edge)
}

/// Adds `X-Halyard-Revision` to responses of an authenticated caller that
/// lack it (errors after authentication), and `X-Halyard-Snapshot-Age`
/// to every response while the edge is out of sync.
async fn revision_headers(
    State(edge): State<Arc<Edge>>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = auth::CallerSlot::default();
    request.extensions_mut().insert(caller.clone());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(client::REVISION_HEADER)
        && let Some(key) = caller.get()
        && let Some(environment) = edge.store.get(&key.environment)
    {
        headers.insert(
            client::REVISION_HEADER,
            HeaderValue::from(environment.snapshot.revision()),
        );
    }
    if let Some(stale) = edge.store.stale_for() {
        headers.insert(SNAPSHOT_AGE_HEADER, HeaderValue::from(stale.as_secs()));
    }
    response
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
}
