//! HTTP routes, one module per resource, and the OpenAPI document.
//!
//! Handlers are thin: extract, call a service, map the result. Every error
//! goes through [`crate::error::Error`]'s single `IntoResponse`.

pub mod audit;
pub mod dashboard;
pub mod edge;
pub mod environments;
pub mod evaluate;
pub mod events;
pub mod extract;
pub mod flags;
pub mod health;
pub mod keys;
pub mod legacy;
pub mod openapi;
pub mod segments;
pub mod session;

use axum::Router;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::state::AppState;
use crate::store::EnvironmentRecord;

/// Every route of the control plane.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(legacy::router())
        .merge(flags::router())
        .merge(environments::router())
        .merge(segments::router())
        .merge(keys::router())
        .merge(audit::router())
        .merge(session::router())
        .merge(events::router())
        .merge(evaluate::router())
        .merge(edge::router())
        .merge(health::router())
        .merge(openapi::router());
    dashboard::router(api).with_state(state)
}

/// Largest page size.
pub const MAX_PAGE: u32 = 500;
/// Default page size.
pub const DEFAULT_PAGE: u32 = 50;

/// Pagination and search parameters of list routes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Keys containing this text (case-insensitive).
    pub q: Option<String>,
    /// Only items with this tag (flags).
    pub tag: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
    /// Items to skip (default 0).
    pub offset: Option<u64>,
}

impl ListQuery {
    /// The page size, clamped.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
    }

    /// The offset.
    pub fn offset(&self) -> u64 {
        self.offset.unwrap_or(0)
    }
}

/// A page of results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PageView<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many match in all.
    pub total: u64,
    /// The page size used.
    pub limit: u32,
    /// The offset used.
    pub offset: u64,
}

impl<T> PageView<T> {
    /// A page.
    pub fn new(items: Vec<T>, total: u64, query: &ListQuery) -> Self {
        Self {
            items,
            total,
            limit: query.limit(),
            offset: query.offset(),
        }
    }

    /// No results.
    pub fn empty(query: &ListQuery) -> Self {
        Self::new(Vec::new(), 0, query)
    }
}

/// The environment `key`, or 404.
pub async fn environment_or_404(state: &AppState, key: &str) -> Result<EnvironmentRecord, Error> {
    state
        .service
        .store()
        .environment(key)
        .await?
        .ok_or_else(|| Error::NotFound(format!("environment {key}")))
}
