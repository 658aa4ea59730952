//! API keys (`/api/admin/keys`, admin role): create, list (masked), rotate,
//! revoke. The plaintext appears only in the create and rotate responses.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::extract::{Administrator, OptionalStrictJson, StrictJson};
use crate::error::{Error, ErrorBody};
use crate::service::Actor;
use crate::service::keys::{DEFAULT_ROTATION_GRACE, NewKey};
use crate::state::AppState;
use crate::store::{ApiKeyKind, ApiKeyRecord, Role};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/keys", get(list).post(create))
        .route("/api/admin/keys/{id}", axum::routing::delete(revoke))
        .route("/api/admin/keys/{id}/rotate", post(rotate))
}

/// The longest rotation grace period accepted.
pub const MAX_ROTATION_GRACE: Duration = Duration::from_secs(366 * 24 * 60 * 60);

fn parse_id(id: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| Error::NotFound(format!("key {id}")))
}

/// A key as listed: masked, never the hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// Stable id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// `admin`, `server`, `client` or `edge`.
    pub kind: ApiKeyKind,
    /// Admin tokens: `viewer`, `editor` or `admin`.
    pub role: Option<Role>,
    /// SDK keys: the environment.
    pub environment: Option<String>,
    /// Masked key, e.g. `hal_srv_AbCd…wxyz`.
    pub hint: String,
    /// `active`, `expired` or `revoked`.
    pub status: &'static str,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Refused from (expiry or rotation grace end).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// Revoked at.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
    /// The key that replaced this one.
    pub rotated_to: Option<Uuid>,
}

/// A new key, with its plaintext: shown once, store it now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKeyView {
    /// The key's description.
    #[serde(flatten)]
    pub key: KeyView,
    /// The key itself. It is not stored and cannot be shown again.
    pub plaintext: String,
}

/// A key's public view (never the hash or the plaintext).
pub fn view(key: &ApiKeyRecord, environment: Option<String>) -> KeyView {
    let now = OffsetDateTime::now_utc();
    let status = match (key.revoked_at, key.is_active(now)) {
        (Some(_), _) => "revoked",
        (None, true) => "active",
        (None, false) => "expired",
    };
    KeyView {
        id: key.id,
        name: key.name.clone(),
        kind: key.kind,
        role: key.role,
        environment,
        hint: key.hint.clone(),
        status,
        created_at: key.created_at,
        expires_at: key.expires_at,
        revoked_at: key.revoked_at,
        rotated_to: key.rotated_to,
    }
}

/// Body of `POST /api/admin/keys`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateKeyBody {
    /// Name (shown in the audit log for admin tokens).
    pub name: String,
    /// `admin`, `server`, `client` or `edge`.
    pub kind: ApiKeyKind,
    /// Admin tokens only.
    pub role: Option<Role>,
    /// SDK keys only.
    pub environment: Option<String>,
    /// Optional expiry (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

/// Body of `POST /api/admin/keys/{id}/rotate`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct RotateKeyBody {
    /// How long the old key keeps working, in seconds (default 86400; 0 ends it now).
    pub grace_seconds: Option<u64>,
}

/// List keys (masked).
#[utoipa::path(get, path = "/api/admin/keys", tag = "keys", responses((status = 200, body = Vec<KeyView>)),
    security(("admin_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Administrator,
) -> Result<Json<Vec<KeyView>>, Error> {
    let store = state.service.store();
    let environments = store.environments().await?;
    let name_of = |id: Option<Uuid>| {
        id.and_then(|id| environments.iter().find(|e| e.id == id))
            .map(|e| e.key.to_string())
    };
    let keys = store.api_keys().await?;
    Ok(Json(
        keys.iter()
            .map(|k| view(k, name_of(k.environment_id)))
            .collect(),
    ))
}

/// Create a key; the response holds its plaintext, once.
#[utoipa::path(post, path = "/api/admin/keys", tag = "keys", request_body = CreateKeyBody,
    responses((status = 201, body = CreatedKeyView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    StrictJson(body): StrictJson<CreateKeyBody>,
) -> Result<impl IntoResponse, Error> {
    let new = NewKey {
        name: body.name,
        kind: body.kind,
        role: body.role,
        environment: body.environment,
        expires_at: body.expires_at,
    };
    let (record, environment, plaintext) = state
        .service
        .create_key(&Actor::from(&principal), new)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKeyView {
            key: view(&record, environment),
            plaintext,
        }),
    ))
}

/// Issue a replacement key; the old one keeps working for the grace period.
#[utoipa::path(post, path = "/api/admin/keys/{id}/rotate", tag = "keys", request_body = RotateKeyBody,
    params(("id" = Uuid, Path, description = "Key id")),
    responses((status = 201, body = CreatedKeyView), (status = 404, body = ErrorBody)),
    security(("admin_key" = [])))]
pub async fn rotate(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    Path(id): Path<String>,
    OptionalStrictJson(body): OptionalStrictJson<RotateKeyBody>,
) -> Result<impl IntoResponse, Error> {
    let id = parse_id(&id)?;
    let grace = match body.grace_seconds {
        None => DEFAULT_ROTATION_GRACE,
        Some(seconds) if seconds <= MAX_ROTATION_GRACE.as_secs() => Duration::from_secs(seconds),
        Some(seconds) => {
            return Err(Error::InvalidRequest {
                message: format!(
                    "grace_seconds must be at most {} (366 days), got {seconds}",
                    MAX_ROTATION_GRACE.as_secs()
                ),
                path: Some("grace_seconds".into()),
            });
        }
    };
    let (record, environment, plaintext) = state
        .service
        .rotate_key(&Actor::from(&principal), id, grace)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKeyView {
            key: view(&record, environment),
            plaintext,
        }),
    ))
}

/// Revoke a key at once.
#[utoipa::path(delete, path = "/api/admin/keys/{id}", tag = "keys", params(("id" = Uuid, Path, description = "Key id")),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("admin_key" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    Administrator(principal): Administrator,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let id = parse_id(&id)?;
    state
        .service
        .revoke_key(&Actor::from(&principal), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
