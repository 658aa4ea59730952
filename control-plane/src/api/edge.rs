//! The edge-internal snapshot endpoint (edge tokens only): an environment's
//! current snapshot, key hashes included, read consistently from the
//! database. Edges fall back to it when Redis lacks a snapshot.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use halyard_common::SnapshotData;
use serde::Serialize;

use super::extract::Edge;
use crate::error::{Error, ErrorBody};
use crate::state::AppState;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/internal/environments", get(environments))
        .route("/api/internal/environments/{env}/snapshot", get(snapshot))
}

/// An environment as edges discover it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EdgeEnvironment {
    /// Key.
    pub key: String,
    /// Revision history.
    pub epoch: String,
    /// Current revision.
    pub revision: u64,
}

/// Every environment with its epoch and revision.
#[utoipa::path(get, path = "/api/internal/environments", tag = "internal",
    responses((status = 200, body = Vec<EdgeEnvironment>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("edge_token" = [])))]
pub async fn environments(
    State(state): State<AppState>,
    _edge: Edge,
) -> Result<Json<Vec<EdgeEnvironment>>, Error> {
    let environments = state.service.store().environments().await?;
    Ok(Json(
        environments
            .into_iter()
            .map(|e| EdgeEnvironment {
                key: e.key.to_string(),
                epoch: e.epoch.to_string(),
                revision: e.revision,
            })
            .collect(),
    ))
}

/// One environment's current edge snapshot (docs/protocol.md §1).
#[utoipa::path(get, path = "/api/internal/environments/{env}/snapshot", tag = "internal",
    params(("env" = String, Path, description = "Environment key")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)), security(("edge_token" = [])))]
pub async fn snapshot(
    State(state): State<AppState>,
    _edge: Edge,
    Path(env): Path<String>,
) -> Result<Json<SnapshotData>, Error> {
    let data = state
        .service
        .store()
        .snapshot(&env)
        .await?
        .ok_or_else(|| Error::NotFound(format!("environment {env}")))?;
    Ok(Json(data))
}
