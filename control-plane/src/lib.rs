//! Halyard control plane: the one writer of flag state.
//!
//! It owns PostgreSQL, serves the admin API (the legacy routes and the full
//! model), records an audit log, and publishes every committed change to
//! Redis through a transactional outbox so that edges converge.
//!
//! # Layout
//! - [`config`]: the typed configuration (flags and `HALYARD_*` variables).
//! - [`store`]: persistence behind the [`store::Store`] interface (PostgreSQL).
//! - [`service`]: the use-cases; each owns its write transaction, checks
//!   versions, validates with `halyard-common`, bumps revisions and writes
//!   outbox and audit rows in the same commit.
//! - [`auth`]: admin tokens, roles and key generation.
//! - [`session`]: dashboard sign-in: session cookies and CSRF tokens.
//! - [`api`]: HTTP routes, one module per resource, and the OpenAPI document.
//! - [`error`]: the crate's error enum and its single mapping to HTTP.
//! - [`outbox`]: the relay that publishes the outbox to Redis in order.
//! - [`startup`], [`telemetry`], [`metrics`]: wiring, logs and Prometheus.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod outbox;
pub mod service;
pub mod session;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
