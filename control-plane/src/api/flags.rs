//! Full-model flags, addressed by key.
//!
//! - `/api/admin/flag-definitions`: create and list definitions (shared by
//!   every environment); `/{key}`: read (with every environment's
//!   configuration), patch, delete.
//! - `/api/admin/environments/{env}/flags`: the flags as one environment sees
//!   them (paginated, searchable by key and tag); `/{key}`: read, and `PUT`
//!   to replace the configuration.
//!
//! Strict input: JSON only, unknown fields rejected. Updates carry the
//! version they are based on (`If-Match` or `version`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use halyard_common::FlagKey;
use halyard_common::model::{EnvironmentFlag, Flag, FlagConfig, FlagKind, Variation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{Admin, Editor, Query, StrictJson, sent_version};
use super::{ListQuery, PageView, environment_or_404};
use crate::error::{Error, ErrorBody};
use crate::service::Actor;
use crate::service::flags::{FlagUpdate, NewFlag};
use crate::state::AppState;
use crate::store::{FlagFilter, FlagRecord};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/admin/flag-definitions",
            get(list_definitions).post(create),
        )
        .route(
            "/api/admin/flag-definitions/{key}",
            get(read_definition).patch(patch_definition).delete(remove),
        )
        .route(
            "/api/admin/environments/{env}/flags",
            get(list_in_environment),
        )
        .route(
            "/api/admin/environments/{env}/flags/{key}",
            get(read_in_environment).put(put_config),
        )
}

/// A flag definition with its configuration in every environment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DefinitionView {
    /// Internal id (the legacy API's `id`).
    pub id: Uuid,
    /// The definition (`docs/evaluation.md` §1.3).
    #[schema(value_type = Object)]
    pub flag: Flag,
    /// Configuration per environment key (`docs/evaluation.md` §1.4).
    #[schema(value_type = Object)]
    pub environments: BTreeMap<String, FlagConfig>,
}

/// A flag as one environment sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnvironmentFlagView {
    /// Internal id.
    pub id: Uuid,
    /// The definition.
    #[schema(value_type = Object)]
    pub flag: Flag,
    /// This environment's configuration.
    #[schema(value_type = Object)]
    pub config: FlagConfig,
    /// Whether the legacy API and SDK can represent it.
    pub legacy_representable: bool,
}

fn environment_view(record: FlagRecord, config: FlagConfig) -> EnvironmentFlagView {
    let full = EnvironmentFlag {
        flag: record.flag,
        config,
    };
    EnvironmentFlagView {
        id: record.id,
        legacy_representable: full.is_legacy_representable(),
        flag: full.flag,
        config: full.config,
    }
}

/// Body of `POST /api/admin/flag-definitions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateFlagBody {
    /// The key (`^[A-Za-z0-9._-]{1,128}$`).
    #[schema(value_type = String)]
    pub key: FlagKey,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// `boolean`, `string`, `number` or `json`.
    #[schema(value_type = String)]
    pub kind: FlagKind,
    /// Required except for booleans.
    #[schema(value_type = Option<Vec<Object>>)]
    pub variations: Option<Vec<Variation>>,
    /// Labels.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Body of `PATCH /api/admin/flag-definitions/{key}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PatchFlagBody {
    /// New description.
    pub description: Option<String>,
    /// New variations (the kind cannot change).
    #[schema(value_type = Option<Vec<Object>>)]
    pub variations: Option<Vec<Variation>>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// The version this update is based on (or send `If-Match`).
    pub version: Option<u64>,
}

/// Create a flag (disabled in every environment).
#[utoipa::path(post, path = "/api/admin/flag-definitions", tag = "flags", request_body = CreateFlagBody,
    responses((status = 201, body = DefinitionView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 415, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Editor(principal): Editor,
    StrictJson(body): StrictJson<CreateFlagBody>,
) -> Result<impl IntoResponse, Error> {
    let new = NewFlag {
        key: body.key,
        description: body.description,
        kind: body.kind,
        variations: body.variations,
        tags: body.tags,
    };
    let record = state
        .service
        .create_flag(&Actor::from(&principal), new, Vec::new())
        .await?;
    let view = definition_view(&state, record).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn definition_view(state: &AppState, record: FlagRecord) -> Result<DefinitionView, Error> {
    let store = state.service.store();
    let mut environments = BTreeMap::new();
    for environment in store.environments().await? {
        if let Some(config) = store.config(record.id, environment.id).await? {
            environments.insert(environment.key.to_string(), config.config);
        }
    }
    Ok(DefinitionView {
        id: record.id,
        flag: record.flag,
        environments,
    })
}

/// List flag definitions (paginated; `q` searches keys, `tag` filters).
#[utoipa::path(get, path = "/api/admin/flag-definitions", tag = "flags", params(ListQuery),
    responses((status = 200, body = PageView<EnvironmentFlagView>)),
    security(("admin_key" = [])))]
pub async fn list_definitions(
    State(state): State<AppState>,
    _admin: Admin,
    Query(query): Query<ListQuery>,
) -> Result<Json<PageView<EnvironmentFlagView>>, Error> {
    // Every environment has a configuration for every flag, so any one of
    // them enumerates the definitions.
    let environments = state.service.store().environments().await?;
    let Some(first) = environments.first() else {
        return Ok(Json(PageView::empty(&query)));
    };
    list_flags(&state, first.id, &query).await.map(Json)
}

async fn list_flags(
    state: &AppState,
    environment_id: Uuid,
    query: &ListQuery,
) -> Result<PageView<EnvironmentFlagView>, Error> {
    let filter = FlagFilter {
        query: query.q.clone(),
        tag: query.tag.clone(),
        limit: query.limit(),
        offset: query.offset(),
    };
    let page = state.service.store().flags(environment_id, &filter).await?;
    let items = page
        .items
        .into_iter()
        .map(|(flag, config)| environment_view(flag, config.config))
        .collect();
    Ok(PageView::new(items, page.total, query))
}

/// Read a flag definition with every environment's configuration.
#[utoipa::path(get, path = "/api/admin/flag-definitions/{key}", tag = "flags",
    params(("key" = String, Path, description = "Flag key")),
    responses((status = 200, body = DefinitionView), (status = 404, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn read_definition(
    State(state): State<AppState>,
    _admin: Admin,
    Path(key): Path<String>,
) -> Result<Json<DefinitionView>, Error> {
    let record = state
        .service
        .store()
        .flag(&key)
        .await?
        .ok_or_else(|| Error::NotFound(format!("flag {key}")))?;
    definition_view(&state, record).await.map(Json)
}

/// Change a flag's description, variations or tags.
#[utoipa::path(patch, path = "/api/admin/flag-definitions/{key}", tag = "flags", request_body = PatchFlagBody,
    params(("key" = String, Path, description = "Flag key")),
    responses((status = 200, body = DefinitionView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 428, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn patch_definition(
    State(state): State<AppState>,
    Editor(principal): Editor,
    Path(key): Path<String>,
    headers: HeaderMap,
    StrictJson(body): StrictJson<PatchFlagBody>,
) -> Result<Json<DefinitionView>, Error> {
    let version = sent_version(&headers, body.version)?;
    let update = FlagUpdate {
        description: body.description,
        variations: body.variations,
        tags: body.tags,
    };
    let record = state
        .service
        .update_flag(&Actor::from(&principal), &key, version, update)
        .await?;
    definition_view(&state, record).await.map(Json)
}

/// Delete a flag from every environment (409 `in_use` while another flag requires it).
#[utoipa::path(delete, path = "/api/admin/flag-definitions/{key}", tag = "flags",
    params(("key" = String, Path, description = "Flag key")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Editor(principal): Editor,
    Path(key): Path<String>,
) -> Result<StatusCode, Error> {
    state
        .service
        .delete_flag(&Actor::from(&principal), &key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List the flags of one environment with their configurations.
#[utoipa::path(get, path = "/api/admin/environments/{env}/flags", tag = "flags",
    params(("env" = String, Path, description = "Environment key"), ListQuery),
    responses((status = 200, body = PageView<EnvironmentFlagView>), (status = 404, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn list_in_environment(
    State(state): State<AppState>,
    _admin: Admin,
    Path(env): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<PageView<EnvironmentFlagView>>, Error> {
    let environment = environment_or_404(&state, &env).await?;
    list_flags(&state, environment.id, &query).await.map(Json)
}

/// Read one flag as an environment sees it.
#[utoipa::path(get, path = "/api/admin/environments/{env}/flags/{key}", tag = "flags",
    params(("env" = String, Path, description = "Environment key"), ("key" = String, Path, description = "Flag key")),
    responses((status = 200, body = EnvironmentFlagView), (status = 404, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn read_in_environment(
    State(state): State<AppState>,
    _admin: Admin,
    Path((env, key)): Path<(String, String)>,
) -> Result<Json<EnvironmentFlagView>, Error> {
    let environment = environment_or_404(&state, &env).await?;
    let store = state.service.store();
    let record = store
        .flag(&key)
        .await?
        .ok_or_else(|| Error::NotFound(format!("flag {key}")))?;
    let config = store
        .config(record.id, environment.id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("flag {key} in {env}")))?;
    Ok(Json(environment_view(record, config.config)))
}

/// Replace a flag's configuration in one environment (targets, rules,
/// rollouts, prerequisites). The body is a FlagConfig; its `version` (or
/// `If-Match`) is the version it replaces.
#[utoipa::path(put, path = "/api/admin/environments/{env}/flags/{key}", tag = "flags",
    request_body(content = Object, description = "A FlagConfig (docs/evaluation.md §1.4)"),
    params(("env" = String, Path, description = "Environment key"), ("key" = String, Path, description = "Flag key")),
    responses((status = 200, body = EnvironmentFlagView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 428, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn put_config(
    State(state): State<AppState>,
    Editor(principal): Editor,
    Path((env, key)): Path<(String, String)>,
    headers: HeaderMap,
    StrictJson(config): StrictJson<FlagConfig>,
) -> Result<Json<EnvironmentFlagView>, Error> {
    let version = sent_version(&headers, Some(config.version))?;
    let (record, saved) = state
        .service
        .update_config(&Actor::from(&principal), &env, &key, version, config)
        .await?;
    Ok(Json(environment_view(record, saved.config)))
}
