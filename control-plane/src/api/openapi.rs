//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! served at `/api/openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    audit, edge, environments, evaluate, events, flags, health, keys, legacy, segments, session,
};
use crate::state::AppState;

/// The control plane's API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Halyard control plane",
        description = "Admin API: legacy flag routes, the full model (flags, environments, segments), keys, \
                       audit log, live events and evaluation. Model shapes: docs/evaluation.md; change \
                       messages: docs/protocol.md.",
    ),
    paths(
        legacy::list, legacy::create, legacy::read, legacy::update, legacy::remove, legacy::toggle,
        flags::create, flags::list_definitions, flags::read_definition, flags::patch_definition, flags::remove,
        flags::list_in_environment, flags::read_in_environment, flags::put_config,
        environments::list, environments::create, environments::read, environments::rename, environments::remove,
        segments::list, segments::create, segments::read, segments::replace, segments::remove,
        keys::list, keys::create, keys::rotate, keys::revoke,
        audit::list, events::events, evaluate::evaluate,
        session::sign_in, session::current, session::sign_out,
        edge::environments, edge::snapshot,
        health::healthz, health::readyz,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "legacy", description = "The old system's routes, unchanged (production environment)"),
        (name = "flags", description = "Flags addressed by key: definitions and per-environment configurations"),
        (name = "session", description = "Dashboard sign-in: an admin token exchanged for an HttpOnly session cookie; \
            state-changing requests signed in this way send X-CSRF-Token"),
        (name = "environments"), (name = "segments"), (name = "keys"), (name = "audit"), (name = "events"),
        (name = "evaluation"), (name = "internal", description = "For edges (edge tokens)"), (name = "health"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Admin-API-Key",
                "An admin token (or send it as Authorization: Bearer)",
            ))),
        );
        components.add_security_scheme(
            "edge_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The route serving the document.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}
