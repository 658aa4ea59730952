//! The legacy admin routes, unchanged for existing scripts and the old
//! dashboard: `/api/admin/flags[/{id}[/toggle]]` on the `production`
//! environment, with the old fields, statuses, error bodies and leniency
//! (unknown fields ignored, any Content-Type accepted).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{Admin, Editor, LenientJson};
use crate::error::Error;
use crate::service::Actor;
use crate::service::legacy::{LegacyInput, LegacyView};
use crate::state::AppState;

/// The legacy routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/flags", get(list).post(create))
        .route(
            "/api/admin/flags/{id}",
            get(read).put(update).delete(remove),
        )
        .route("/api/admin/flags/{id}/toggle", patch(toggle))
}

/// The legacy body: every field optional here; `key` is required on create.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct LegacyBody {
    key: Option<String>,
    description: Option<String>,
    enabled: Option<bool>,
    rollout_percentage: Option<i64>,
    targeted_users: Option<Vec<String>>,
}

impl From<LegacyBody> for LegacyInput {
    fn from(body: LegacyBody) -> Self {
        LegacyInput {
            key: body.key,
            description: body.description,
            enabled: body.enabled,
            rollout_percentage: body.rollout_percentage,
            targeted_users: body.targeted_users,
        }
    }
}

/// The legacy list body.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LegacyList {
    flags: Vec<LegacyView>,
}

fn parse_id(id: &str) -> Result<Uuid, Error> {
    // The old API answered 404 for ids that are not UUIDs.
    Uuid::parse_str(id).map_err(|_| Error::NotFound(format!("flag {id}")))
}

/// List legacy flags (production).
#[utoipa::path(get, path = "/api/admin/flags", tag = "legacy",
    responses((status = 200, body = LegacyList), (status = 401, body = crate::error::ErrorBody)),
    security(("admin_key" = [])))]
pub async fn list(State(state): State<AppState>, _admin: Admin) -> Result<Json<LegacyList>, Error> {
    Ok(Json(LegacyList {
        flags: state.service.legacy_list().await?,
    }))
}

/// Create a legacy flag (on in production as given, disabled elsewhere).
#[utoipa::path(post, path = "/api/admin/flags", tag = "legacy", request_body = LegacyBody,
    responses((status = 201, body = LegacyView), (status = 400, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)),
    security(("admin_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Editor(principal): Editor,
    LenientJson(body): LenientJson<LegacyBody>,
) -> Result<impl IntoResponse, Error> {
    let view = state
        .service
        .legacy_create(&Actor::from(&principal), body.into())
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Read one legacy flag.
#[utoipa::path(get, path = "/api/admin/flags/{id}", tag = "legacy",
    params(("id" = Uuid, Path, description = "The flag's id")),
    responses((status = 200, body = LegacyView), (status = 404, body = crate::error::ErrorBody)),
    security(("admin_key" = [])))]
pub async fn read(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<LegacyView>, Error> {
    Ok(Json(state.service.legacy_get(parse_id(&id)?).await?))
}

/// Partially update a legacy flag (absent fields stay unchanged).
#[utoipa::path(put, path = "/api/admin/flags/{id}", tag = "legacy", request_body = LegacyBody,
    params(("id" = Uuid, Path, description = "The flag's id")),
    responses((status = 200, body = LegacyView), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("admin_key" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Editor(principal): Editor,
    Path(id): Path<String>,
    LenientJson(body): LenientJson<LegacyBody>,
) -> Result<Json<LegacyView>, Error> {
    let id = parse_id(&id)?;
    Ok(Json(
        state
            .service
            .legacy_update(&Actor::from(&principal), id, body.into())
            .await?,
    ))
}

/// Delete a legacy flag.
#[utoipa::path(delete, path = "/api/admin/flags/{id}", tag = "legacy",
    params(("id" = Uuid, Path, description = "The flag's id")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("admin_key" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Editor(principal): Editor,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let id = parse_id(&id)?;
    state
        .service
        .legacy_delete(&Actor::from(&principal), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Flip a legacy flag's `enabled`.
#[utoipa::path(patch, path = "/api/admin/flags/{id}/toggle", tag = "legacy",
    params(("id" = Uuid, Path, description = "The flag's id")),
    responses((status = 200, body = LegacyView), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("admin_key" = [])))]
pub async fn toggle(
    State(state): State<AppState>,
    Editor(principal): Editor,
    Path(id): Path<String>,
) -> Result<Json<LegacyView>, Error> {
    let id = parse_id(&id)?;
    Ok(Json(
        state
            .service
            .legacy_toggle(&Actor::from(&principal), id)
            .await?,
    ))
}
