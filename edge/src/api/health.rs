//! `/healthz` (alive) and `/readyz` (every environment has a snapshot).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::Edge;

/// The routes.
pub fn router() -> Router<Arc<Edge>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Object)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready once every environment has a snapshot (from Redis, the control
/// plane or the snapshot directory); lists the revisions held.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, body = Object), (status = 503, body = Object)))]
pub async fn readyz(State(edge): State<Arc<Edge>>) -> (StatusCode, Json<Value>) {
    if edge.store.is_ready() {
        (
            StatusCode::OK,
            Json(json!({"status": "ready", "revisions": edge.store.revisions()})),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "loading snapshots"})),
        )
    }
}
