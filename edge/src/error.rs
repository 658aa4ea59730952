//! The edge's error enum and its one mapping to HTTP
//! (`{"error": code, "message": text}`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Everything an edge request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No SDK key, or one no environment has (or revoked, or expired).
    #[error(
        "missing or unknown SDK key: send X-SDK-Key, X-API-Key, Authorization: Bearer or ?key="
    )]
    Unauthorized,
    /// A client key on a server-key route.
    #[error("this route needs a server SDK key; client keys may only evaluate")]
    ServerKeyRequired,
    /// The key's environment has no snapshot yet.
    #[error("the edge has no snapshot of this environment yet; retry shortly")]
    NotReady,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::ServerKeyRequired => (StatusCode::FORBIDDEN, "forbidden"),
            Error::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
        };
        (
            status,
            Json(Body {
                error: code,
                message: self.to_string(),
            }),
        )
            .into_response()
    }
}
