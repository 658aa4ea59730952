//! The audit log (`GET /api/admin/audit`): newest first, filterable by flag,
//! actor and time range, paginated by `before` (the last id of the previous page).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::extract::{Admin, Query};
use super::{DEFAULT_PAGE, MAX_PAGE};
use crate::error::{Error, ErrorBody};
use crate::state::AppState;
use crate::store::{AuditEntry, AuditFilter};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/admin/audit", get(list))
}

/// Audit query parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this flag key.
    pub flag: Option<String>,
    /// Only entries by this actor (key name).
    pub actor: Option<String>,
    /// From this instant (RFC 3339, inclusive).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<OffsetDateTime>,
    /// Until this instant (RFC 3339, exclusive).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<OffsetDateTime>,
    /// Entries older than this id (the previous page's `next_before`).
    pub before: Option<i64>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// A page of audit entries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditEntry>,
    /// Pass as `before` for the next page; absent when this page is not full
    /// (a full last page is followed by one empty page).
    pub next_before: Option<i64>,
}

/// Read the audit log.
#[utoipa::path(get, path = "/api/admin/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody)), security(("admin_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, Error> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let filter = AuditFilter {
        flag_key: query.flag,
        actor: query.actor,
        since: query.since,
        until: query.until,
        before_id: query.before,
        limit,
    };
    let items = state.service.store().audit(&filter).await?;
    let next_before = (items.len() == limit as usize)
        .then(|| items.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage { items, next_before }))
}
