//! The edge's error enum and its one mapping to HTTP
//! (`{"error": code, "message": text}`).

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::api::client::REVISION_HEADER;

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
    /// The key is over its rate limit; retry after the duration.
    #[error("rate limit exceeded for this SDK key; retry after the Retry-After seconds")]
    RateLimited(std::time::Duration),
    /// `?dialect=` names no stream dialect.
    #[error("unknown dialect: the stream's dialect parameter must be legacy or v2")]
    UnknownDialect,
    /// `?format=` names no configuration format.
    #[error("unknown format: the format parameter must be legacy or full")]
    UnknownFormat,
    /// The key's environment has no snapshot yet.
    #[error("the edge has no snapshot of this environment yet; retry shortly")]
    NotReady,
    /// An error of an authenticated request, answered with the revision of
    /// the caller's environment (`X-Halyard-Revision`).
    #[error("{error}")]
    AtRevision {
        /// The error.
        error: Box<Error>,
        /// The revision held.
        revision: u64,
    },
}

impl Error {
    /// This error, answered with `revision` in `X-Halyard-Revision`.
    pub fn at(self, revision: Option<u64>) -> Self {
        match revision {
            Some(revision) => Error::AtRevision {
                error: Box::new(self),
                revision,
            },
            None => self,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::AtRevision { error, revision } = self {
            let mut response = error.into_response();
            response
                .headers_mut()
                .insert(REVISION_HEADER, HeaderValue::from(revision));
            return response;
        }
        let (status, code) = match &self {
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::ServerKeyRequired => (StatusCode::FORBIDDEN, "forbidden"),
            Error::UnknownFormat => (StatusCode::BAD_REQUEST, "invalid_format"),
            Error::UnknownDialect => (StatusCode::BAD_REQUEST, "invalid_dialect"),
            Error::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Error::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            Error::AtRevision { .. } => unreachable!("answered above"),
        };
        let mut response = (
            status,
            Json(Body {
                error: code,
                message: self.to_string(),
            }),
        )
            .into_response();
        if let Error::RateLimited(wait) = self {
            // Whole seconds, rounded up, at least 1.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}
