//! Environments (`/api/admin/environments`): list and read for every admin
//! token; create, rename and delete for the admin role.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use halyard_common::EnvironmentKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::environment_or_404;
use super::extract::{Admin, Administrator, StrictJson, sent_version};
use crate::error::{Error, ErrorBody};
use crate::service::Actor;
use crate::state::AppState;
use crate::store::EnvironmentRecord;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/environments", get(list).post(create))
        .route(
            "/api/admin/environments/{env}",
            get(read).patch(rename).delete(remove),
        )
}

/// An environment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnvironmentView {
    /// Its key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// The current revision history.
    pub epoch: String,
    /// The current revision.
    pub revision: u64,
    /// Optimistic-concurrency version (of the name).
    pub version: u64,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<EnvironmentRecord> for EnvironmentView {
    fn from(env: EnvironmentRecord) -> Self {
        Self {
            key: env.key.to_string(),
            name: env.name,
            epoch: env.epoch.to_string(),
            revision: env.revision,
            version: env.version,
            created_at: env.created_at,
            updated_at: env.updated_at,
        }
    }
}

/// Body of `POST /api/admin/environments`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateEnvironmentBody {
    /// The key.
    #[schema(value_type = String)]
    pub key: EnvironmentKey,
    /// Display name (the key when absent).
    pub name: Option<String>,
}

/// Body of `PATCH /api/admin/environments/{env}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RenameEnvironmentBody {
    /// New display name.
    pub name: String,
    /// The version this update is based on (or send `If-Match`).
    pub version: Option<u64>,
}

/// List environments.
#[utoipa::path(get, path = "/api/admin/environments", tag = "environments",
    responses((status = 200, body = Vec<EnvironmentView>)), security(("admin_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<EnvironmentView>>, Error> {
    let environments = state.service.store().environments().await?;
    Ok(Json(
        environments
            .into_iter()
            .map(EnvironmentView::from)
            .collect(),
    ))
}

/// Create an environment (admin role); every flag starts disabled in it.
#[utoipa::path(post, path = "/api/admin/environments", tag = "environments", request_body = CreateEnvironmentBody,
    responses((status = 201, body = EnvironmentView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    StrictJson(body): StrictJson<CreateEnvironmentBody>,
) -> Result<impl IntoResponse, Error> {
    let env = state
        .service
        .create_environment(&Actor::from(&principal), body.key, body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(EnvironmentView::from(env))))
}

/// Read an environment.
#[utoipa::path(get, path = "/api/admin/environments/{env}", tag = "environments",
    params(("env" = String, Path, description = "Environment key")),
    responses((status = 200, body = EnvironmentView), (status = 404, body = ErrorBody)), security(("admin_key" = [])))]
pub async fn read(
    State(state): State<AppState>,
    _admin: Admin,
    Path(env): Path<String>,
) -> Result<Json<EnvironmentView>, Error> {
    Ok(Json(environment_or_404(&state, &env).await?.into()))
}

/// Rename an environment (admin role).
#[utoipa::path(patch, path = "/api/admin/environments/{env}", tag = "environments", request_body = RenameEnvironmentBody,
    params(("env" = String, Path, description = "Environment key")),
    responses((status = 200, body = EnvironmentView), (status = 409, body = ErrorBody), (status = 428, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn rename(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    Path(env): Path<String>,
    headers: HeaderMap,
    StrictJson(body): StrictJson<RenameEnvironmentBody>,
) -> Result<Json<EnvironmentView>, Error> {
    let version = sent_version(&headers, body.version)?;
    let env = state
        .service
        .rename_environment(&Actor::from(&principal), &env, version, body.name)
        .await?;
    Ok(Json(env.into()))
}

/// Delete an environment with its configurations, segments and SDK keys (admin role).
#[utoipa::path(delete, path = "/api/admin/environments/{env}", tag = "environments",
    params(("env" = String, Path, description = "Environment key")),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("admin_key" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    Path(env): Path<String>,
) -> Result<StatusCode, Error> {
    state
        .service
        .delete_environment(&Actor::from(&principal), &env)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
