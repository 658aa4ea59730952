//! `/api/admin/session`: the dashboard's sign-in (see [`crate::session`]).

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::StrictJson;
use crate::error::Error;
use crate::session::{self, SessionView};
use crate::state::AppState;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/admin/session",
        get(current).post(sign_in).delete(sign_out),
    )
}

/// A sign-in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    /// An admin token (`hal_adm_…` or the bootstrap key).
    pub token: String,
}

/// Exchange an admin token for a session cookie.
#[utoipa::path(post, path = "/api/admin/session", tag = "session", request_body = SignIn,
    responses(
        (status = 201, body = SessionView, description = "Signed in; `Set-Cookie: halyard_session=…; HttpOnly; SameSite=Strict`"),
        (status = 401, body = crate::error::ErrorBody, description = "Not a valid admin token"),
        (status = 403, body = crate::error::ErrorBody, description = "An SDK or edge key")))]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    StrictJson(body): StrictJson<SignIn>,
) -> Result<impl IntoResponse, Error> {
    let (secret, view) = session::open(&state, body.token.trim()).await?;
    Ok((
        StatusCode::CREATED,
        [(SET_COOKIE, session::set_cookie(&secret, &headers))],
        Json(view),
    ))
}

/// The signed-in session (with its CSRF token), from the cookie.
#[utoipa::path(get, path = "/api/admin/session", tag = "session",
    responses((status = 200, body = SessionView), (status = 401, body = crate::error::ErrorBody)))]
pub async fn current(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<SessionView>, Error> {
    let secret = session::cookie_secret(&headers).ok_or(Error::Unauthorized)?;
    let (principal, record) = session::resolve(&state, secret).await?;
    Ok(Json(session::view(secret, principal, &record)))
}

/// Sign out: end the session and clear the cookie (needs `X-CSRF-Token`).
#[utoipa::path(delete, path = "/api/admin/session", tag = "session",
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses((status = 204), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "`csrf_token_invalid`")))]
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, Error> {
    let secret = session::cookie_secret(&headers).ok_or(Error::Unauthorized)?;
    session::check_csrf(&Method::DELETE, &headers, secret)?;
    session::close(&state, secret).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, session::set_cookie("", &headers))],
    ))
}
