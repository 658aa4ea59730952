//! The control plane's one error enum and its one mapping to HTTP.
//!
//! Services return [`Error`]; only [`IntoResponse`] below knows status codes.
//! Bodies are `{"error": code, "message": text}` (the legacy shape), plus
//! `"path"` naming the offending field when there is one. A 500 says nothing
//! about its cause; the cause is logged.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use halyard_common::ValidationError;
use serde::Serialize;

use crate::store::StoreError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is not JSON of the expected shape (the legacy `invalid_request`).
    #[error("{message}")]
    InvalidRequest {
        /// What is wrong, naming the field.
        message: String,
        /// The offending field, if known.
        path: Option<String>,
    },
    /// A value is invalid (the full model: the validation code; legacy routes
    /// report `validation_error`).
    #[error(transparent)]
    Validation(ValidationError),
    /// A legacy route's validation failure (`validation_error`).
    #[error("{0}")]
    LegacyValidation(String),
    /// No such thing.
    #[error("{0} not found")]
    NotFound(String),
    /// A key that must be unique is taken.
    #[error("{0} already exists")]
    Duplicate(String),
    /// An update without the version it is based on.
    #[error("the current version is required: send If-Match or a \"version\" field")]
    VersionRequired,
    /// An update based on a version that is no longer current.
    #[error(
        "version conflict: you sent version {sent}, the current version is {current}; reload and retry"
    )]
    VersionConflict {
        /// The version sent.
        sent: u64,
        /// The version stored.
        current: u64,
    },
    /// Deleting something still referenced.
    #[error("{what} is still used by {users}")]
    InUse {
        /// What was to be deleted.
        what: String,
        /// Who uses it.
        users: String,
    },
    /// A legacy write to a flag the legacy shape cannot represent.
    #[error(
        "flag {0} has targeting the legacy API cannot represent; use /api/admin/environments/{{env}}/flags/{0}"
    )]
    NotLegacyRepresentable(String),
    /// No credentials or unknown ones.
    #[error("missing or unknown API key or session")]
    Unauthorized,
    /// Known credentials without the right.
    #[error("this key may not {0}")]
    Forbidden(&'static str),
    /// A state-changing request authenticated by the session cookie without
    /// the session's CSRF token.
    #[error(
        "a state-changing request signed in with a session cookie must send the session's X-CSRF-Token header (from GET /api/admin/session)"
    )]
    CsrfTokenMismatch,
    /// A field the full model does not have (strict input).
    #[error("unknown field {0}")]
    UnknownField(String),
    /// The body's content type is not JSON (full model only).
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body is larger than allowed.
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The database is unreachable.
    #[error("the database is unavailable; retry shortly")]
    Unavailable,
    /// A bug or an unexpected failure (logged, never shown).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Duplicate(what) => Error::Duplicate(what.to_owned()),
            StoreError::Unavailable(_) => Error::Unavailable,
            other => Error::Unexpected(anyhow::Error::new(other)),
        }
    }
}

impl From<ValidationError> for Error {
    fn from(err: ValidationError) -> Self {
        Error::Validation(err)
    }
}

impl Error {
    /// The status and machine-readable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::InvalidRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            Error::Validation(err) => (StatusCode::BAD_REQUEST, err.code()),
            Error::LegacyValidation(_) => (StatusCode::BAD_REQUEST, "validation_error"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Duplicate(_) => (StatusCode::CONFLICT, "duplicate_key"),
            Error::VersionRequired => (StatusCode::PRECONDITION_REQUIRED, "version_required"),
            Error::VersionConflict { .. } => (StatusCode::CONFLICT, "version_conflict"),
            Error::InUse { .. } => (StatusCode::CONFLICT, "in_use"),
            Error::NotLegacyRepresentable(_) => (StatusCode::CONFLICT, "not_legacy_representable"),
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::CsrfTokenMismatch => (StatusCode::FORBIDDEN, "csrf_token_invalid"),
            Error::UnknownField(_) => (StatusCode::BAD_REQUEST, "unknown_field"),
            Error::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Error::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Error::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Error::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The same error as a legacy route reports it: validation failures all
    /// become `validation_error`.
    #[must_use]
    pub fn legacy(self) -> Self {
        match self {
            Error::Validation(err) => Error::LegacyValidation(err.to_string()),
            other => other,
        }
    }
}

/// The JSON error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `validation_error`, `version_conflict`.
    pub error: &'static str,
    /// Human-readable message naming the field.
    pub message: String,
    /// The offending field's path, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let (message, path) = match &self {
            Error::Unexpected(err) => {
                tracing::error!(error = ?err, "request failed unexpectedly");
                ("internal error".to_owned(), None)
            }
            Error::Validation(err) => (
                err.to_string(),
                (!err.path.is_empty()).then(|| err.path.clone()),
            ),
            Error::InvalidRequest { message, path } => (message.clone(), path.clone()),
            Error::UnknownField(path) => (self.to_string(), Some(path.clone())),
            other => (other.to_string(), None),
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: code,
                message,
                path,
            }),
        )
            .into_response();
        if matches!(self, Error::Unauthorized) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
