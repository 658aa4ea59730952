//! Request extractors shared by the routes: who is calling, and bodies in the
//! two dialects (lenient for the legacy routes, strict for the full model).

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use halyard_common::{ValidationError, ValidationErrorKind};
use serde::de::DeserializeOwned;

use crate::auth::{Audience, Principal};
use crate::error::Error;
use crate::session;
use crate::state::AppState;
use crate::store::Role;

/// The legacy admin header.
pub const ADMIN_KEY_HEADER: &str = "x-admin-api-key";

/// The key a request presents: `X-Admin-API-Key`, else `Authorization: Bearer`.
/// (`Authorization` headers of other schemes are not keys.)
fn presented_key(parts: &Parts) -> Option<&str> {
    if let Some(value) = parts.headers.get(ADMIN_KEY_HEADER) {
        return value.to_str().ok().map(str::trim);
    }
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn authenticate<S>(parts: &Parts, state: &S, audience: Audience) -> Result<Principal, Error>
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    let state = AppState::from_ref(state);
    let presented = presented_key(parts);
    // A key header wins; without one, an admin request may be signed in
    // with the dashboard's session cookie (and then needs its CSRF token).
    if presented.is_none()
        && audience == Audience::Admin
        && let Some(secret) = session::cookie_secret(&parts.headers)
    {
        let (principal, _) = session::resolve(&state, secret).await?;
        session::check_csrf(&parts.method, &parts.headers, secret)?;
        return Ok(principal);
    }
    state
        .auth
        .authenticate(state.service.store(), presented, audience)
        .await
}

/// Declares an extractor for a kind of caller. Authentication and the role
/// check run on the request head, before any body is read, so a caller
/// without the right learns nothing about validation.
macro_rules! caller {
    ($(#[$doc:meta])* $name:ident, $audience:expr, $required:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Principal);

        impl<S> FromRequestParts<S> for $name
        where
            AppState: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = Error;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
                let principal = authenticate(parts, state, $audience).await?;
                let required: Option<(Role, &'static str)> = $required;
                if let Some((role, action)) = required {
                    principal.require(role, action)?;
                }
                Ok($name(principal))
            }
        }
    };
}

caller!(
    /// An authenticated admin token of any role (reads).
    Admin, Audience::Admin, None
);
caller!(
    /// An admin token with at least the editor role.
    Editor, Audience::Admin, Some((Role::Editor, "change flags or segments"))
);
caller!(
    /// An admin token with the admin role.
    Administrator, Audience::Admin, Some((Role::Admin, "manage environments or keys"))
);
caller!(
    /// An authenticated edge token.
    Edge, Audience::Edge, None
);

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Error>
where
    AppState: FromRef<S>,
{
    let limit = AppState::from_ref(state).body_limit;
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge(limit)
        } else {
            Error::InvalidRequest {
                message: rejection.body_text(),
                path: None,
            }
        }
    })
}

/// A legacy JSON body: any (or no) content type, unknown fields ignored,
/// malformed input -> 400 `invalid_request`.
#[derive(Debug)]
pub struct LenientJson<T>(pub T);

impl<S, T> FromRequest<S> for LenientJson<T>
where
    T: DeserializeOwned,
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let bytes = body_bytes(req, state).await?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
            let message = match field_path(&err) {
                Some(path) => format!("invalid JSON body at {path}: {}", err.inner()),
                None => format!("invalid JSON body: {}", err.inner()),
            };
            // The legacy error body is exactly {error, message}: no path.
            Error::InvalidRequest {
                message,
                path: None,
            }
        })?;
        de.end().map_err(|err| Error::InvalidRequest {
            message: format!("invalid JSON body: {err}"),
            path: None,
        })?;
        Ok(LenientJson(value))
    }
}

/// A full-model JSON body: `Content-Type: application/json` required (415),
/// unknown fields rejected (400 `unknown_field`), other problems 400 with
/// the validation code and the field's path.
#[derive(Debug)]
pub struct StrictJson<T>(pub T);

impl<S, T> FromRequest<S> for StrictJson<T>
where
    T: DeserializeOwned,
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        if !is_json(req.headers()) {
            return Err(Error::UnsupportedMediaType);
        }
        let bytes = body_bytes(req, state).await?;
        parse_strict(&bytes).map(StrictJson)
    }
}

/// Like [`StrictJson`], but an empty body means `T::default()`.
#[derive(Debug)]
pub struct OptionalStrictJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalStrictJson<T>
where
    T: DeserializeOwned + Default,
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let json = is_json(req.headers());
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalStrictJson(T::default()));
        }
        if !json {
            return Err(Error::UnsupportedMediaType);
        }
        parse_strict(&bytes).map(OptionalStrictJson)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

/// The path of a deserialization error: `None` when the document itself is
/// broken (a syntax error or a truncated body is no field's fault) or the
/// error concerns the whole document.
fn field_path(err: &serde_path_to_error::Error<serde_json::Error>) -> Option<String> {
    if err.inner().is_syntax() || err.inner().is_eof() {
        return None;
    }
    let path = err.path().to_string();
    (path != "." && !path.contains('?')).then_some(path)
}

/// Writes an ignored field's path in the error-path syntax (`a.b[0].c`).
fn ignored_path(path: &serde_ignored::Path<'_>, out: &mut String) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            ignored_path(parent, out);
            out.push_str(&format!("[{index}]"));
        }
        Path::Map { parent, key } => {
            ignored_path(parent, out);
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => {
            ignored_path(parent, out);
        }
    }
}

/// Parses `bytes` as `T`, refusing unknown fields anywhere in the document
/// and anything after it.
pub fn parse_strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let mut unknown: Option<String> = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut record = |path: serde_ignored::Path<'_>| {
        if unknown.is_none() {
            let mut text = String::new();
            ignored_path(&path, &mut text);
            unknown = Some(text);
        }
    };
    let malformed = |path: Option<String>, message: String| {
        Error::Validation(ValidationError::new(
            path.unwrap_or_default(),
            ValidationErrorKind::Malformed(message),
        ))
    };
    let ignoring = serde_ignored::Deserializer::new(&mut de, &mut record);
    let value: T = serde_path_to_error::deserialize(ignoring)
        .map_err(|err| malformed(field_path(&err), err.into_inner().to_string()))?;
    de.end().map_err(|err| malformed(None, err.to_string()))?;
    match unknown {
        Some(path) => Err(Error::UnknownField(path)),
        None => Ok(value),
    }
}

/// Query parameters, with a JSON 400 naming the problem when they do not parse.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| Error::InvalidRequest {
                message: rejection.body_text(),
                path: None,
            })
    }
}

/// The version an update is based on: `If-Match` (`"3"`, `W/"3"` or `3`),
/// else the body's `version` field (0 or absent means "not sent").
pub fn sent_version(headers: &HeaderMap, body: Option<u64>) -> Result<Option<u64>, Error> {
    if let Some(value) = headers.get(IF_MATCH) {
        let text = value.to_str().unwrap_or_default().trim();
        let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
        return text.parse().map(Some).map_err(|_| Error::InvalidRequest {
            message: format!("If-Match must be a version number, got {text:?}"),
            path: Some("If-Match".into()),
        });
    }
    Ok(body.filter(|v| *v > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        a: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Vec<Inner>,
    }

    #[test]
    fn strict_parsing_names_unknown_and_bad_fields() {
        let err = parse_strict::<Outer>(br#"{"inner": [{"a": 1}, {"a": 2, "b": 3}]}"#).unwrap_err();
        assert!(
            matches!(&err, Error::UnknownField(p) if p == "inner[1].b"),
            "{err:?}"
        );
        let err = parse_strict::<Outer>(br#"{"inner": [{"a": "x"}]}"#).unwrap_err();
        assert!(
            matches!(&err, Error::Validation(v) if v.path == "inner[0].a"),
            "{err:?}"
        );
    }

    #[test]
    fn versions_come_from_if_match_or_the_body() {
        let mut headers = HeaderMap::new();
        assert_eq!(sent_version(&headers, Some(4)).unwrap(), Some(4));
        assert_eq!(sent_version(&headers, Some(0)).unwrap(), None);
        headers.insert(IF_MATCH, "W/\"7\"".parse().unwrap());
        assert_eq!(sent_version(&headers, Some(4)).unwrap(), Some(7));
        headers.insert(IF_MATCH, "\"x\"".parse().unwrap());
        assert!(sent_version(&headers, None).is_err());
    }
}
