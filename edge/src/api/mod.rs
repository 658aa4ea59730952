//! The edge's HTTP routes.

pub mod auth;
pub mod client;
pub mod evaluate;
pub mod health;

use std::sync::Arc;

use axum::Router;

use crate::store::EdgeStore;

/// Every route of the edge.
pub fn router(store: Arc<EdgeStore>) -> Router {
    Router::new()
        .merge(client::router())
        .merge(evaluate::router())
        .merge(health::router())
        .with_state(store)
}
