//! The edge's OpenAPI 3.1 document, generated from the handlers'
//! annotations and served at `/api/openapi.json`. OFREP's own shapes are
//! those of `shared/specs/ofrep-openapi.yaml`; Halyard's are here.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{client, evaluate, health, ofrep, stream};
use crate::state::Edge;

/// The edge's API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Halyard edge",
        description = "SDK-facing API: configurations, SSE streams, evaluation and OpenFeature OFREP. \
                       Every response of an authenticated request carries X-Halyard-Revision; while the \
                       edge is out of sync it adds X-Halyard-Snapshot-Age (seconds). Model: \
                       docs/evaluation.md; streams: docs/protocol.md §7.",
    ),
    paths(
        client::flags, stream::stream, stream::events,
        evaluate::evaluate, ofrep::ofrep_single, ofrep::ofrep_bulk,
        health::healthz, health::readyz,
    ),
    components(schemas(ErrorBody, LegacyConfig, LegacyFlagView, EvaluateRequest, EvaluateResponse, EvaluationResult, OfrepRequest)),
    modifiers(&Security),
    tags(
        (name = "configuration", description = "Server keys"),
        (name = "streams", description = "Server-sent events"),
        (name = "evaluation", description = "Server and client keys"),
        (name = "ofrep", description = "OpenFeature Remote Evaluation Protocol"),
        (name = "health"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "sdk_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-SDK-Key",
                "An SDK key (also accepted as X-API-Key, or ?key= for EventSource)",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes.
pub fn router() -> Router<Arc<Edge>> {
    Router::new().route(
        "/api/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}

/// An error: `{"error": code, "message": text}` (OFREP routes use OFREP's
/// `errorCode` / `errorDetails` instead).
#[derive(ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code: `unauthorized`, `forbidden`, `rate_limited`
    /// (with `Retry-After`), `invalid_format`, `invalid_dialect`,
    /// `invalid_request`, `not_ready`.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
}

/// `GET /api/client/flags` (legacy format).
#[derive(ToSchema)]
pub struct LegacyConfig {
    /// The legacy-representable flags.
    pub flags: Vec<LegacyFlagView>,
}

/// A flag in the legacy shape.
#[derive(ToSchema)]
pub struct LegacyFlagView {
    /// The control plane's id.
    pub id: Option<String>,
    /// Key.
    pub key: String,
    /// Description.
    pub description: String,
    /// On or off.
    pub enabled: bool,
    /// 0 to 100: users whose FNV-1a bucket of `key:userId` is below it get `true`.
    pub rollout_percentage: u8,
    /// Users who always get `true` while enabled.
    pub targeted_users: Vec<String>,
}

/// `POST /api/evaluate`.
#[derive(ToSchema)]
pub struct EvaluateRequest {
    /// The evaluation context: `targetingKey` (or `userId`) and attributes.
    #[schema(value_type = Object)]
    pub context: Value,
    /// One flag's key; all flags when absent.
    pub flag: Option<String>,
}

/// The results, by flag key.
#[derive(ToSchema)]
pub struct EvaluateResponse {
    /// The revision evaluated.
    pub revision: u64,
    /// Flag key to result.
    pub results: BTreeMap<String, EvaluationResult>,
}

/// One flag's result (docs/evaluation.md §7.3).
#[derive(ToSchema)]
pub struct EvaluationResult {
    /// The value served; null on error.
    #[schema(value_type = Object)]
    pub value: Value,
    /// The variation's key; null on error.
    pub variation: Option<String>,
    /// `DISABLED`, `TARGET_MATCH`, `RULE_MATCH`, `PREREQUISITE_FAILED`,
    /// `SPLIT`, `DEFAULT` or `ERROR`.
    pub reason: String,
    /// With `ERROR`: `FLAG_NOT_FOUND`, `TARGETING_KEY_MISSING`,
    /// `INVALID_CONTEXT`, `TYPE_MISMATCH`, `GENERAL`.
    pub error_code: Option<String>,
    /// With `RULE_MATCH`: the rule's index.
    pub rule_index: Option<u32>,
    /// With `RULE_MATCH`: the rule's id, when it has one.
    pub rule_id: Option<String>,
    /// With `PREREQUISITE_FAILED`: the prerequisite's key.
    pub prerequisite: Option<String>,
}

/// An OFREP request: `{"context": {...}}`.
#[derive(ToSchema)]
pub struct OfrepRequest {
    /// The evaluation context (`targetingKey` and attributes).
    #[schema(value_type = Object)]
    pub context: Value,
}
