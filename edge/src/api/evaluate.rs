//! `POST /api/evaluate` (server and client keys)
//! `{"context": {...}, "flag": "optional"}`: one flag or every flag in
//! Halyard's own result shape (`docs/evaluation.md` §7.3). All-flags
//! responses are cached per revision and exact body ([`crate::cache`]).
//! Also the request body extractor shared with OFREP: at most [`MAX_BODY`]
//! bytes (413).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use halyard_common::{Context, ErrorCode, Evaluation};
use serde_json::{Value, json};

use super::auth::SdkKey;
use super::client::REVISION_HEADER;
use crate::cache::{CachedResponse, CachedRoute};
use crate::error::Error;
use crate::state::Edge;
use crate::store::EdgeEnvironment;

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

/// The routes.
pub fn router() -> Router<Arc<Edge>> {
    Router::new()
        .route("/api/evaluate", post(evaluate))
        .merge(super::ofrep::router())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// A request body of at most [`MAX_BODY`] bytes, not yet parsed.
pub(crate) struct Body(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            let details = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("request body larger than {MAX_BODY} bytes")
            } else {
                rejection.body_text()
            };
            (
                status,
                Json(json!({"errorCode": "PARSE_ERROR", "errorDetails": details})),
            )
                .into_response()
        })?;
        Ok(Body(bytes))
    }
}

impl Body {
    /// The body as JSON, or why it is not.
    pub(crate) fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.0).map_err(|e| format!("the body is not JSON: {e}"))
    }
}

/// Adds the revision a response was computed from.
pub(crate) fn with_revision(mut response: Response, environment: &EdgeEnvironment) -> Response {
    response.headers_mut().insert(
        REVISION_HEADER,
        HeaderValue::from(environment.snapshot.revision()),
    );
    response
}

/// A JSON response from pre-built bytes.
pub(crate) fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Evaluates `flag` and counts the result for the evaluations metric.
pub(crate) fn evaluate_counted<'e>(
    environment: &'e EdgeEnvironment,
    flag: &str,
    context: &'e Context,
) -> Evaluation<'e> {
    let evaluation = environment.snapshot.evaluate(flag, context);
    if let Some(counts) = environment.counts(flag) {
        counts.record(&evaluation);
    }
    evaluation
}

/// Evaluates one flag (`flag`) or every flag for `context`, in Halyard's
/// result shape (docs/evaluation.md §7.3).
#[utoipa::path(post, path = "/api/evaluate", tag = "evaluation",
    request_body = super::openapi::EvaluateRequest,
    responses(
        (status = 200, body = super::openapi::EvaluateResponse),
        (status = 400, description = "The body is not JSON", body = super::openapi::ErrorBody),
        (status = 401, body = super::openapi::ErrorBody),
        (status = 413, description = "Body over 64 KiB"),
        (status = 429, body = super::openapi::ErrorBody), (status = 503, body = super::openapi::ErrorBody)),
    security(("sdk_key" = []), ("bearer" = [])))]
pub(crate) async fn evaluate(
    State(edge): State<Arc<Edge>>,
    SdkKey(key): SdkKey,
    body: Body,
) -> Result<Response, Error> {
    let environment = edge.store.get(&key.environment).ok_or(Error::NotReady)?;
    let cached = edge
        .cache
        .get(environment.generation, CachedRoute::EvaluateAll, &body.0);
    if let Some(hit) = cached {
        return Ok(with_revision(
            json_bytes(StatusCode::OK, hit.body),
            &environment,
        ));
    }
    let mut request = match body.json() {
        Ok(request) => request,
        Err(details) => {
            let response = (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_request", "message": details})),
            );
            return Ok(with_revision(response.into_response(), &environment));
        }
    };
    let raw_context = request
        .get_mut("context")
        .map(Value::take)
        .unwrap_or(Value::Null);
    let context = Context::from_json(raw_context);
    let results = Results {
        environment: &environment,
        context: context.as_ref().ok(),
    };
    let bytes = match request.get("flag").and_then(Value::as_str) {
        Some(flag) => results.write(std::iter::once(flag)),
        None => {
            let bytes = results.write(environment.sorted_flags().map(|(key, _)| key));
            edge.cache.insert(
                environment.generation,
                CachedRoute::EvaluateAll,
                body.0,
                CachedResponse {
                    body: bytes.clone(),
                    etag: None,
                },
            );
            bytes
        }
    };
    Ok(with_revision(
        json_bytes(StatusCode::OK, bytes),
        &environment,
    ))
}

/// `{"revision": N, "results": {flag: result, ...}}`, written straight to
/// bytes (no intermediate JSON tree).
struct Results<'a> {
    environment: &'a EdgeEnvironment,
    /// `None` when the context is invalid: every flag is an error.
    context: Option<&'a Context>,
}

impl Results<'_> {
    fn write<'f>(&self, flags: impl ExactSizeIterator<Item = &'f str>) -> Bytes {
        let mut out = Vec::with_capacity(64 + 128 * flags.len());
        out.extend_from_slice(b"{\"revision\":");
        serde_json::to_writer(&mut out, &self.environment.snapshot.revision())
            .expect("writes to a Vec");
        out.extend_from_slice(b",\"results\":{");
        for (i, flag) in flags.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let evaluation = match self.context {
                Some(context) => evaluate_counted(self.environment, flag, context),
                None => Evaluation::error(ErrorCode::InvalidContext),
            };
            serde_json::to_writer(&mut out, flag).expect("writes to a Vec");
            out.push(b':');
            serde_json::to_writer(&mut out, &evaluation).expect("results serialize");
        }
        out.extend_from_slice(b"}}");
        Bytes::from(out)
    }
}
