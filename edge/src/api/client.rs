//! `GET /api/client/flags` (server keys): the key's environment's
//! configuration. The default is the legacy shape
//! `{"flags": [{id, key, description, enabled, rollout_percentage,
//! targeted_users}]}` with only legacy-representable flags;
//! `?format=full` gives the full model for new SDKs (the snapshot without
//! key hashes, `docs/protocol.md` §1). Bodies are built once per revision;
//! `If-None-Match` with the current ETag gets 304; `Accept-Encoding` gets
//! brotli or gzip, each compressed once per revision.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::auth::ServerKey;
use crate::encoded::Encoding;
use crate::error::Error;
use crate::state::Edge;

/// Revision of the snapshot a response comes from.
pub const REVISION_HEADER: &str = "x-halyard-revision";

/// Whether `If-None-Match` names `etag` (weak or strong, in a list or alone).
pub fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim().trim_start_matches("W/") == etag)
        })
}

/// The routes.
pub fn router() -> Router<Arc<Edge>> {
    Router::new().route("/api/client/flags", get(flags))
}

/// `?format=legacy|full`.
#[derive(Debug, Default, Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

/// The key's environment's configuration: legacy shape (default) or full.
#[utoipa::path(get, path = "/api/client/flags", tag = "configuration",
    params(("format" = Option<String>, Query, description = "`legacy` (default): `{\"flags\": [...]}` of the legacy-representable flags; `full`: the snapshot without keys (docs/protocol.md §1)")),
    responses(
        (status = 200, description = "The configuration (gzip or brotli on Accept-Encoding); ETag and X-Halyard-Revision", body = super::openapi::LegacyConfig),
        (status = 304, description = "If-None-Match matched the ETag"),
        (status = 400, body = super::openapi::ErrorBody), (status = 401, body = super::openapi::ErrorBody),
        (status = 403, description = "A client key", body = super::openapi::ErrorBody),
        (status = 429, body = super::openapi::ErrorBody), (status = 503, body = super::openapi::ErrorBody)),
    security(("sdk_key" = []), ("bearer" = [])))]
pub async fn flags(
    State(edge): State<Arc<Edge>>,
    ServerKey(key): ServerKey,
    Query(query): Query<FormatQuery>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let environment = edge.store.get(&key.environment).ok_or(Error::NotReady)?;
    let full = match query.format.as_deref() {
        None | Some("legacy") => false,
        Some("full") => true,
        Some(_) => return Err(Error::UnknownFormat.at(Some(environment.snapshot.revision()))),
    };
    let etag = if full {
        &environment.full_etag
    } else {
        &environment.legacy_etag
    };
    let encoding = Encoding::negotiate(&headers);
    let revision = HeaderValue::from(environment.snapshot.revision());
    let matches = etag.to_str().is_ok_and(|tag| if_none_match(&headers, tag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let bodies = environment.bodies();
        let body = if full {
            &bodies.full_body
        } else {
            &bodies.legacy_body
        };
        body.get(encoding).into_response()
    };
    let headers = response.headers_mut();
    if !matches {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(coding) = encoding.header() {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
    }
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(ETAG, etag.clone());
    headers.insert(REVISION_HEADER, revision);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}
