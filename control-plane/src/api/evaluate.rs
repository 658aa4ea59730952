//! `POST /api/admin/environments/{env}/evaluate`: evaluates every flag (or
//! one) for a context with the engine, against a fresh build of the
//! environment, so the dashboard's playground works without an edge.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use halyard_common::{Context, ErrorCode, Evaluation, Snapshot};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::extract::{Admin, StrictJson};
use crate::error::{Error, ErrorBody};
use crate::state::AppState;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/admin/environments/{env}/evaluate", post(evaluate))
}

/// Body of the evaluate call.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EvaluateBody {
    /// The evaluation context (`targetingKey` plus attributes).
    #[schema(value_type = Object)]
    pub context: Value,
    /// Only this flag (every flag when absent).
    pub flag: Option<String>,
}

/// Results by flag key (see docs/evaluation.md §7.3 for each result's form).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvaluateResponse {
    /// The environment's revision the results come from.
    pub revision: u64,
    /// One result per flag, sorted by key.
    #[schema(value_type = Object)]
    pub results: serde_json::Map<String, Value>,
}

/// Evaluate flags for a context.
#[utoipa::path(post, path = "/api/admin/environments/{env}/evaluate", tag = "evaluation", request_body = EvaluateBody,
    params(("env" = String, Path, description = "Environment key")),
    responses((status = 200, body = EvaluateResponse), (status = 404, body = ErrorBody)), security(("admin_key" = [])))]
pub async fn evaluate(
    State(state): State<AppState>,
    _admin: Admin,
    Path(env): Path<String>,
    StrictJson(body): StrictJson<EvaluateBody>,
) -> Result<Json<EvaluateResponse>, Error> {
    let data = state
        .service
        .store()
        .snapshot(&env)
        .await?
        .ok_or_else(|| Error::NotFound(format!("environment {env}")))?;
    let snapshot = Snapshot::build(data)
        .map_err(|e| anyhow::anyhow!("stored environment {env} does not build: {e}"))?;
    let context = Context::from_json(body.context);
    let result = |key: &str| -> Value {
        let evaluation = match &context {
            Ok(context) => snapshot.evaluate(key, context),
            Err(_) => Evaluation::error(ErrorCode::InvalidContext),
        };
        serde_json::to_value(evaluation).expect("results serialize")
    };
    let mut results = serde_json::Map::new();
    match &body.flag {
        Some(key) => {
            results.insert(key.clone(), result(key));
        }
        None => {
            let mut keys: Vec<&str> = snapshot.flags().map(|f| f.key().as_str()).collect();
            keys.sort_unstable();
            for key in keys {
                results.insert(key.to_owned(), result(key));
            }
        }
    }
    Ok(Json(EvaluateResponse {
        revision: snapshot.revision(),
        results,
    }))
}
