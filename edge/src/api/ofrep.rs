//! OpenFeature's OFREP (`shared/specs/ofrep-openapi.yaml`), server and
//! client keys: `POST /ofrep/v1/evaluate/flags/{key}` and
//! `POST /ofrep/v1/evaluate/flags`, with the reason and error mapping of
//! `docs/evaluation.md` §7.4. The bulk response's ETag is a hash of the
//! epoch, the revision and the canonical context, so every edge computes
//! the same one; `If-None-Match` gets 304. Bulk responses are cached per
//! revision and exact body ([`crate::cache`]).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::ETAG;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use halyard_common::{Context, ErrorCode, Evaluation, Reason};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::auth::SdkKey;
use super::client::if_none_match;
use super::evaluate::{Body, evaluate_counted, json_bytes, with_revision};
use crate::cache::{CachedResponse, CachedRoute};
use crate::error::Error;
use crate::state::Edge;
use crate::store::EdgeEnvironment;

/// The routes.
pub fn router() -> Router<Arc<Edge>> {
    Router::new()
        .route("/ofrep/v1/evaluate/flags/{key}", post(ofrep_single))
        .route("/ofrep/v1/evaluate/flags", post(ofrep_bulk))
}

/// An evaluationSuccess.
#[derive(Serialize)]
struct Success<'a> {
    key: &'a str,
    reason: &'static str,
    variant: Option<&'a str>,
    value: Option<&'a Value>,
    metadata: Metadata<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    halyard_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prerequisite: Option<&'a str>,
}

/// An evaluationFailure (or flagNotFound).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Failure<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    error_code: &'static str,
    error_details: &'a str,
}

/// One flag's item: `Ok` a success, `Err` a failure with its status.
fn item<'a>(
    key: &'a str,
    evaluation: &Evaluation<'a>,
) -> Result<Success<'a>, (StatusCode, Failure<'a>)> {
    let failure = |status, error_code, error_details| {
        Err((
            status,
            Failure {
                key: Some(key),
                error_code,
                error_details,
            },
        ))
    };
    let mut metadata = Metadata {
        halyard_reason: None,
        prerequisite: None,
    };
    let reason = match evaluation.reason {
        Reason::Disabled => "DISABLED",
        Reason::PrerequisiteFailed { flag } => {
            metadata.halyard_reason = Some("PREREQUISITE_FAILED");
            metadata.prerequisite = Some(flag.as_str());
            "DISABLED"
        }
        Reason::TargetingMatch(_) => "TARGETING_MATCH",
        Reason::Split => "SPLIT",
        // OFREP has no DEFAULT: a fixed default variation is static.
        Reason::Default => "STATIC",
        Reason::Error(ErrorCode::FlagNotFound) => {
            return failure(
                StatusCode::NOT_FOUND,
                "FLAG_NOT_FOUND",
                "no flag with this key in the environment",
            );
        }
        Reason::Error(ErrorCode::TargetingKeyMissing) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "TARGETING_KEY_MISSING",
                "this flag needs a targetingKey",
            );
        }
        Reason::Error(ErrorCode::InvalidContext) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "INVALID_CONTEXT",
                "the context lacks a string attribute this flag needs",
            );
        }
        Reason::Error(ErrorCode::TypeMismatch | ErrorCode::General) => {
            return failure(
                StatusCode::BAD_REQUEST,
                "GENERAL",
                "the flag could not be evaluated",
            );
        }
    };
    Ok(Success {
        key,
        reason,
        variant: evaluation.variation_key(),
        value: evaluation.value(),
        metadata,
    })
}

fn to_json(value: &impl Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("OFREP items serialize"))
}

/// The context of a `{"context": {...}}` body, with its canonical JSON when
/// `canonical`, or the failure (PARSE_ERROR, INVALID_CONTEXT).
fn context_of(
    body: &Body,
    canonical: bool,
) -> Result<(Context, Option<String>), (&'static str, String)> {
    let mut request = body.json().map_err(|details| ("PARSE_ERROR", details))?;
    let Some(raw) = request.get_mut("context").map(Value::take) else {
        return Err(("PARSE_ERROR", "the body needs a \"context\" object".into()));
    };
    // serde_json objects keep keys sorted, so this is a canonical form.
    let canonical = canonical.then(|| raw.to_string());
    let context = Context::from_json(raw).map_err(|e| ("INVALID_CONTEXT", e.to_string()))?;
    Ok((context, canonical))
}

fn request_failure(key: Option<&str>, (code, details): (&'static str, String)) -> Response {
    let failure = Failure {
        key,
        error_code: code,
        error_details: &details,
    };
    json_bytes(StatusCode::BAD_REQUEST, to_json(&failure))
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
    body: Body,
) -> Result<Response, Error> {
    let environment = edge.store.get(&key.environment).ok_or(Error::NotReady)?;
    let response = match context_of(&body, false) {
        Err(failure) => request_failure(Some(&flag), failure),
        Ok((context, _)) => match item(&flag, &evaluate_counted(&environment, &flag, &context)) {
            Ok(success) => json_bytes(StatusCode::OK, to_json(&success)),
            Err((status, failure)) => json_bytes(status, to_json(&failure)),
        },
    };
    Ok(with_revision(response, &environment))
}

/// Where OFREP providers hear of changes: the client event stream, on the
/// same origin (a relative `endpoint.requestUri`).
const EVENT_STREAMS: &str =
    r#"[{"type":"sse","endpoint":{"requestUri":"/api/client/events"},"inactivityDelaySec":120}]"#;

/// The bulk ETag: identical on every edge for the same epoch, revision and context.
fn bulk_etag(environment: &EdgeEnvironment, canonical_context: &str) -> HeaderValue {
    let mut hasher = Sha256::new();
    hasher.update(environment.snapshot.epoch().as_str().as_bytes());
    hasher.update(b"\0");
    hasher.update(environment.snapshot.revision().to_string().as_bytes());
    hasher.update(b"\0");
    hasher.update(canonical_context.as_bytes());
    let etag = format!("\"{}\"", hex::encode(&hasher.finalize()[..16]));
    HeaderValue::from_str(&etag).expect("hex is a valid header")
}

/// `{"flags": [...], "eventStreams": [...]}`, written straight to bytes.
fn bulk_body(environment: &EdgeEnvironment, context: &Context) -> Bytes {
    let mut out = Vec::with_capacity(256 + 128 * environment.snapshot.flag_count());
    out.extend_from_slice(b"{\"flags\":[");
    for (i, (flag, counts)) in environment.sorted_flags().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let evaluation = environment.snapshot.evaluate(flag, context);
        counts.record(&evaluation);
        let written = match item(flag, &evaluation) {
            Ok(success) => serde_json::to_writer(&mut out, &success),
            Err((_, failure)) => serde_json::to_writer(&mut out, &failure),
        };
        written.expect("OFREP items serialize");
    }
    out.extend_from_slice(b"],\"eventStreams\":");
    out.extend_from_slice(EVENT_STREAMS.as_bytes());
    out.push(b'}');
    Bytes::from(out)
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
    body: Body,
) -> Result<Response, Error> {
    let environment = edge.store.get(&key.environment).ok_or(Error::NotReady)?;
    let generation = environment.generation;
    let cached = edge.cache.get(generation, CachedRoute::OfrepBulk, &body.0);
    let response = match cached {
        Some(hit) => hit,
        None => {
            let (context, canonical) = match context_of(&body, true) {
                Ok(parsed) => parsed,
                Err(failure) => {
                    return Ok(with_revision(request_failure(None, failure), &environment));
                }
            };
            let response = CachedResponse {
                etag: Some(bulk_etag(&environment, &canonical.expect("asked for"))),
                body: bulk_body(&environment, &context),
            };
            edge.cache
                .insert(generation, CachedRoute::OfrepBulk, body.0, response.clone());
            response
        }
    };
    let etag = response.etag.expect("bulk responses have an ETag");
    let mut reply = if etag.to_str().is_ok_and(|tag| if_none_match(&headers, tag)) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        json_bytes(StatusCode::OK, response.body)
    };
    reply.headers_mut().insert(ETAG, etag);
    Ok(with_revision(reply, &environment))
}
