//! Dashboard sign-in: an admin token exchanged for a session cookie.
//!
//! The browser never keeps the token. `POST /api/admin/session` checks it
//! and answers with a random session secret in an `HttpOnly`,
//! `SameSite=Strict` cookie, so no script (an injected one included) can
//! read it and no other site can make the browser send it. The store keeps
//! only hashes: the secret's, and the token's, so a session is exactly as
//! good as its token (revoking or expiring the token ends the session) and
//! every control plane on the same database honours it.
//!
//! State-changing requests authenticated by the cookie must also carry the
//! session's CSRF token in `X-CSRF-Token`. The token is derived from the
//! secret (`SHA-256("halyard-csrf:" + secret)`), so it needs no storage, and
//! the page reads it from `GET /api/admin/session` after a reload. Requests
//! that present a key header (`X-Admin-API-Key`, `Authorization: Bearer`)
//! are not cookie-authenticated and need no CSRF token.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue, Method};
use serde::Serialize;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::auth::{Audience, Principal, random_secret, sha256_hex};
use crate::error::Error;
use crate::state::AppState;
use crate::store::{Role, SessionRecord};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "halyard_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts (it never outlives its token).
pub const LIFETIME: time::Duration = time::Duration::hours(12);

/// The signed-in session, as the dashboard sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// The admin token's name (recorded in the audit log as the actor).
    pub name: String,
    /// Its role: what the dashboard lets the user do.
    pub role: Role,
    /// Send as `X-CSRF-Token` on every state-changing request.
    pub csrf_token: String,
    /// When the session ends.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// The CSRF token of the session with this secret.
pub fn csrf_token(secret: &str) -> String {
    sha256_hex(&format!("halyard-csrf:{secret}"))
}

/// The session secret the request's cookies carry, if any.
pub fn cookie_secret(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// Checks `token` as an admin token and opens a session for it: the secret
/// (for the cookie) and the view.
pub async fn open(state: &AppState, token: &str) -> Result<(String, SessionView), Error> {
    let store = state.service.store();
    let principal = state
        .auth
        .authenticate(store, Some(token), Audience::Admin)
        .await?;
    let now = crate::service::now();
    // Sign-ins are rare: a good moment to forget sessions that ended.
    store.purge_sessions(now).await?;
    let secret = random_secret();
    let record = SessionRecord {
        sha256: sha256_hex(&secret),
        key_sha256: sha256_hex(token),
        created_at: now,
        expires_at: now + LIFETIME,
    };
    store.insert_session(&record).await?;
    tracing::info!(actor = %principal.name, "dashboard session opened");
    let view = view(&secret, principal, &record);
    Ok((secret, view))
}

/// Who the session with `secret` belongs to: 401 when it is unknown or has
/// ended, or its token no longer authenticates.
pub async fn resolve(state: &AppState, secret: &str) -> Result<(Principal, SessionRecord), Error> {
    let store = state.service.store();
    let record = store
        .session(&sha256_hex(secret))
        .await?
        .filter(|record| record.expires_at > OffsetDateTime::now_utc())
        .ok_or(Error::Unauthorized)?;
    let principal = state
        .auth
        .authenticate_digest(store, &record.key_sha256, Audience::Admin)
        .await?;
    Ok((principal, record))
}

/// The view of a resolved session.
pub fn view(secret: &str, principal: Principal, record: &SessionRecord) -> SessionView {
    SessionView {
        name: principal.name,
        role: principal.role,
        csrf_token: csrf_token(secret),
        expires_at: record.expires_at,
    }
}

/// 403 unless a state-changing request carries the session's CSRF token.
pub fn check_csrf(method: &Method, headers: &HeaderMap, secret: &str) -> Result<(), Error> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if bool::from(sent.as_bytes().ct_eq(csrf_token(secret).as_bytes())) {
        Ok(())
    } else {
        Err(Error::CsrfTokenMismatch)
    }
}

/// Ends the session with `secret`.
pub async fn close(state: &AppState, secret: &str) -> Result<(), Error> {
    state
        .service
        .store()
        .delete_session(&sha256_hex(secret))
        .await?;
    Ok(())
}

/// Whether the request reached us over HTTPS (through a proxy that says so):
/// the cookie is then marked `Secure`.
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value carrying `secret` (empty: one that clears it).
pub fn set_cookie(secret: &str, request: &HeaderMap) -> HeaderValue {
    let max_age = if secret.is_empty() {
        0
    } else {
        LIFETIME.whole_seconds()
    };
    let secure = if over_https(request) { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE_NAME}={secret}; Path=/api; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&cookie).expect("session cookies are ASCII")
}
