//! Server-side evaluation (server and client keys):
//!
//! - `POST /api/evaluate` `{"context": {...}, "flag": "optional"}`:
//!   Halyard's own result shape (`docs/evaluation.md` §7.3) per flag.
//! - `POST /ofrep/v1/evaluate/flags/{key}` and `POST /ofrep/v1/evaluate/flags`:
//!   OpenFeature's OFREP (`shared/specs/ofrep-openapi.yaml`) with the reason
//!   and error mapping of `docs/evaluation.md` §7.4. The bulk response's
//!   ETag is a hash of the epoch, the revision and the canonical context, so
//!   every edge computes the same one; `If-None-Match` gets 304.
//!
//! Bodies are limited to [`MAX_BODY`] bytes (413).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header::{CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use halyard_common::{Context, ErrorCode, Evaluation, Reason};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::auth::SdkKey;
use super::client::{REVISION_HEADER, if_none_match};
use crate::error::Error;
use crate::state::Edge;
use crate::store::EdgeEnvironment;

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

/// The routes.
pub fn router() -> Router<Arc<Edge>> {
    Router::new()
        .route("/api/evaluate", post(evaluate))
        .route("/ofrep/v1/evaluate/flags/{key}", post(ofrep_single))
        .route("/ofrep/v1/evaluate/flags", post(ofrep_bulk))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// A request body read as JSON; `Err` carries why it is not usable.
pub(crate) struct Body(Result<Value, String>);

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
        Ok(Body(
            serde_json::from_slice(&bytes).map_err(|e| format!("the body is not JSON: {e}")),
        ))
    }
}

/// The context of a `{"context": {...}}` body, or the OFREP error code and details.
fn context_of(body: Result<Value, String>) -> Result<(Context, Value), (&'static str, String)> {
    let body = body.map_err(|details| ("PARSE_ERROR", details))?;
    let Some(raw) = body.get("context").cloned() else {
        return Err(("PARSE_ERROR", "the body needs a \"context\" object".into()));
    };
    let context =
        Context::from_json(raw.clone()).map_err(|e| ("INVALID_CONTEXT", e.to_string()))?;
    Ok((context, raw))
}

fn with_revision(mut response: Response, environment: &EdgeEnvironment) -> Response {
    response.headers_mut().insert(
        REVISION_HEADER,
        HeaderValue::from(environment.snapshot.revision()),
    );
    response
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
    Body(body): Body,
) -> Result<Response, Error> {
    let environment = edge.store.get(&key.environment).ok_or(Error::NotReady)?;
    let body = match body {
        Ok(body) => body,
        Err(details) => {
            let response = (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_request", "message": details})),
            );
            return Ok(with_revision(response.into_response(), &environment));
        }
    };
    let context = Context::from_json(body.get("context").cloned().unwrap_or(Value::Null));
    let result = |flag: &str| -> Value {
        let evaluation = match &context {
            Ok(context) => evaluate_counted(&environment, flag, context),
            Err(_) => Evaluation::error(ErrorCode::InvalidContext),
        };
        serde_json::to_value(evaluation).expect("results serialize")
    };
    let mut results = Map::new();
    match body.get("flag").and_then(Value::as_str) {
        Some(flag) => {
            results.insert(flag.to_owned(), result(flag));
        }
        None => {
            for (key, _) in environment.sorted_flags() {
                results.insert(key.to_owned(), result(key));
            }
        }
    }
    let revision = environment.snapshot.revision();
    let response = Json(json!({"revision": revision, "results": results})).into_response();
    Ok(with_revision(response, &environment))
}

/// Evaluates `flag` and counts the result for the evaluations metric.
fn evaluate_counted<'e>(
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

/// One flag's OFREP item: `Ok` is an evaluationSuccess, `Err` an
/// evaluationFailure (or flagNotFound) with its status.
fn ofrep_item(key: &str, evaluation: &Evaluation<'_>) -> Result<Value, (StatusCode, Value)> {
    let failure = |status: StatusCode, code: &str, details: &str| {
        (
            status,
            json!({"key": key, "errorCode": code, "errorDetails": details}),
        )
    };
    let (reason, metadata) = match evaluation.reason {
        Reason::Disabled => ("DISABLED", json!({})),
        Reason::PrerequisiteFailed { flag } => (
            "DISABLED",
            json!({"halyardReason": "PREREQUISITE_FAILED", "prerequisite": flag}),
        ),
        Reason::TargetingMatch(_) => ("TARGETING_MATCH", json!({})),
        Reason::Split => ("SPLIT", json!({})),
        // OFREP has no DEFAULT: a fixed default variation is static.
        Reason::Default => ("STATIC", json!({})),
        Reason::Error(ErrorCode::FlagNotFound) => {
            return Err(failure(
                StatusCode::NOT_FOUND,
                "FLAG_NOT_FOUND",
                "no flag with this key in the environment",
            ));
        }
        Reason::Error(ErrorCode::TargetingKeyMissing) => {
            return Err(failure(
                StatusCode::BAD_REQUEST,
                "TARGETING_KEY_MISSING",
                "this flag needs a targetingKey",
            ));
        }
        Reason::Error(ErrorCode::InvalidContext) => {
            return Err(failure(
                StatusCode::BAD_REQUEST,
                "INVALID_CONTEXT",
                "the context lacks a string attribute this flag needs",
            ));
        }
        Reason::Error(ErrorCode::TypeMismatch | ErrorCode::General) => {
            return Err(failure(
                StatusCode::BAD_REQUEST,
                "GENERAL",
                "the flag could not be evaluated",
            ));
        }
    };
    Ok(json!({
        "key": key,
        "reason": reason,
        "variant": evaluation.variation_key(),
        "value": evaluation.value(),
        "metadata": metadata,
    }))
}

/// OFREP single-flag evaluation (shared/specs/ofrep-openapi.yaml).
#[utoipa::path(post, path = "/ofrep/v1/evaluate/flags/{key}", tag = "ofrep",
    params(("key" = String, Path, description = "Flag key")),
    request_body = super::openapi::OfrepRequest,
    responses(
        (status = 200, description = "OFREP evaluationSuccess (always with `variant`)", body = Object),
        (status = 400, description = "OFREP evaluationFailure: PARSE_ERROR, INVALID_CONTEXT, TARGETING_KEY_MISSING, GENERAL", body = Object),
        (status = 401, body = super::openapi::ErrorBody),
        (status = 404, description = "OFREP flagNotFound", body = Object),
        (status = 413, description = "Body over 64 KiB", body = Object),
        (status = 429, body = super::openapi::ErrorBody), (status = 503, body = super::openapi::ErrorBody)),
    security(("sdk_key" = []), ("bearer" = [])))]
pub(crate) async fn ofrep_single(
    State(edge): State<Arc<Edge>>,
    SdkKey(key): SdkKey,
    Path(flag): Path<String>,
    Body(body): Body,
) -> Result<Response, Error> {
    let environment = edge.store.get(&key.environment).ok_or(Error::NotReady)?;
    let response = match context_of(body) {
        Err((code, details)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"key": flag, "errorCode": code, "errorDetails": details})),
        )
            .into_response(),
        Ok((context, _)) => {
            match ofrep_item(&flag, &evaluate_counted(&environment, &flag, &context)) {
                Ok(item) => Json(item).into_response(),
                Err((status, item)) => (status, Json(item)).into_response(),
            }
        }
    };
    Ok(with_revision(response, &environment))
}

/// Where OFREP providers hear of changes: the client event stream, on the
/// same origin (a relative `endpoint.requestUri`).
fn event_streams() -> Value {
    json!([{
        "type": "sse",
        "endpoint": {"requestUri": "/api/client/events"},
        "inactivityDelaySec": 120,
    }])
}

/// The bulk ETag: identical on every edge for the same epoch, revision and context.
fn bulk_etag(environment: &EdgeEnvironment, context: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(environment.snapshot.epoch().as_str().as_bytes());
    hasher.update(b"\0");
    hasher.update(environment.snapshot.revision().to_string().as_bytes());
    hasher.update(b"\0");
    // serde_json objects keep keys sorted, so this is a canonical form.
    hasher.update(context.to_string().as_bytes());
    format!("\"{}\"", hex::encode(&hasher.finalize()[..16]))
}

/// OFREP bulk evaluation: every flag for the context, with `eventStreams`
/// pointing at `/api/client/events`. The ETag is a hash of the epoch, the
/// revision and the context, the same on every edge.
#[utoipa::path(post, path = "/ofrep/v1/evaluate/flags", tag = "ofrep",
    params(("If-None-Match" = Option<String>, Header, description = "A previous ETag")),
    request_body = super::openapi::OfrepRequest,
    responses(
        (status = 200, description = "OFREP bulkEvaluationSuccess", body = Object),
        (status = 304, description = "Nothing changed for this context"),
        (status = 400, description = "OFREP bulkEvaluationFailure", body = Object),
        (status = 401, body = super::openapi::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = Object),
        (status = 429, body = super::openapi::ErrorBody), (status = 503, body = super::openapi::ErrorBody)),
    security(("sdk_key" = []), ("bearer" = [])))]
pub(crate) async fn ofrep_bulk(
    State(edge): State<Arc<Edge>>,
    SdkKey(key): SdkKey,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, Error> {
    let environment = edge.store.get(&key.environment).ok_or(Error::NotReady)?;
    let (context, raw) = match context_of(body) {
        Ok(parsed) => parsed,
        Err((code, details)) => {
            let response = (
                StatusCode::BAD_REQUEST,
                Json(json!({"errorCode": code, "errorDetails": details})),
            );
            return Ok(with_revision(response.into_response(), &environment));
        }
    };
    let etag = bulk_etag(&environment, &raw);
    let matches = if_none_match(&headers, &etag);
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let flags: Vec<Value> = environment
            .sorted_flags()
            .map(|(flag, counts)| {
                let evaluation = environment.snapshot.evaluate(flag, &context);
                counts.record(&evaluation);
                match ofrep_item(flag, &evaluation) {
                    Ok(item) | Err((_, item)) => item,
                }
            })
            .collect();
        let mut response =
            Json(json!({"flags": flags, "eventStreams": event_streams()})).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    };
    response.headers_mut().insert(
        ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header"),
    );
    Ok(with_revision(response, &environment))
}
