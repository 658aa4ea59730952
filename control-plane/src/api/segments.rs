//! Segments of one environment (`/api/admin/environments/{env}/segments`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use halyard_common::model::Segment;

use super::extract::{Admin, Editor, Query, StrictJson, sent_version};
use super::{ListQuery, PageView, environment_or_404};
use crate::error::{Error, ErrorBody};
use crate::service::Actor;
use crate::state::AppState;
use crate::store::FlagFilter;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/admin/environments/{env}/segments",
            get(list).post(create),
        )
        .route(
            "/api/admin/environments/{env}/segments/{key}",
            get(read).put(replace).delete(remove),
        )
}

/// List segments (paginated; `q` searches keys).
#[utoipa::path(get, path = "/api/admin/environments/{env}/segments", tag = "segments",
    params(("env" = String, Path, description = "Environment key"), ListQuery),
    responses((status = 200, description = "A page of Segments (docs/evaluation.md §1.7)", body = Object)),
    security(("admin_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Path(env): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<PageView<Segment>>, Error> {
    let environment = environment_or_404(&state, &env).await?;
    let filter = FlagFilter {
        query: query.q.clone(),
        tag: None,
        limit: query.limit(),
        offset: query.offset(),
    };
    let page = state
        .service
        .store()
        .segments(environment.id, &filter)
        .await?;
    let items = page.items.into_iter().map(|r| r.segment).collect();
    Ok(Json(PageView::new(items, page.total, &query)))
}

/// Create a segment.
#[utoipa::path(post, path = "/api/admin/environments/{env}/segments", tag = "segments",
    request_body(content = Object, description = "A Segment (docs/evaluation.md §1.7)"),
    params(("env" = String, Path, description = "Environment key")),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Editor(principal): Editor,
    Path(env): Path<String>,
    StrictJson(segment): StrictJson<Segment>,
) -> Result<impl IntoResponse, Error> {
    let record = state
        .service
        .create_segment(&Actor::from(&principal), &env, segment)
        .await?;
    Ok((StatusCode::CREATED, Json(record.segment)))
}

/// Read a segment.
#[utoipa::path(get, path = "/api/admin/environments/{env}/segments/{key}", tag = "segments",
    params(("env" = String, Path, description = "Environment key"), ("key" = String, Path, description = "Segment key")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn read(
    State(state): State<AppState>,
    _admin: Admin,
    Path((env, key)): Path<(String, String)>,
) -> Result<Json<Segment>, Error> {
    let environment = environment_or_404(&state, &env).await?;
    let record = state
        .service
        .store()
        .segment(environment.id, &key)
        .await?
        .ok_or_else(|| Error::NotFound(format!("segment {key} in {env}")))?;
    Ok(Json(record.segment))
}

/// Replace a segment (its `version` or `If-Match` is the version it replaces).
#[utoipa::path(put, path = "/api/admin/environments/{env}/segments/{key}", tag = "segments",
    request_body(content = Object, description = "A Segment"),
    params(("env" = String, Path, description = "Environment key"), ("key" = String, Path, description = "Segment key")),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 428, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    Editor(principal): Editor,
    Path((env, key)): Path<(String, String)>,
    headers: HeaderMap,
    StrictJson(segment): StrictJson<Segment>,
) -> Result<Json<Segment>, Error> {
    if segment.key.as_str() != key {
        return Err(Error::InvalidRequest {
            message: format!("key {} does not match the path's {key}", segment.key),
            path: Some("key".into()),
        });
    }
    let version = sent_version(&headers, Some(segment.version))?;
    let record = state
        .service
        .update_segment(&Actor::from(&principal), &env, &key, version, segment)
        .await?;
    Ok(Json(record.segment))
}

/// Delete a segment (409 `in_use` while a rule names it).
#[utoipa::path(delete, path = "/api/admin/environments/{env}/segments/{key}", tag = "segments",
    params(("env" = String, Path, description = "Environment key"), ("key" = String, Path, description = "Segment key")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Editor(principal): Editor,
    Path((env, key)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    state
        .service
        .delete_segment(&Actor::from(&principal), &env, &key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
