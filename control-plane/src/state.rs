//! Shared application state: cheap to clone (`Arc`s and handles only).

use std::sync::Arc;

use tokio::sync::watch;

use crate::auth::Authenticator;
use crate::service::Service;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The use-cases (and, through them, the store).
    pub service: Service,
    /// Resolves API keys.
    pub auth: Arc<Authenticator>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// The newest committed outbox id, as last seen (wakes event feeds).
    pub outbox_head: watch::Receiver<i64>,
}
