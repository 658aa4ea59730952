//! Halyard edge: serves SDK configurations, SSE streams, evaluation and
//! OFREP from in-memory snapshots kept in step with the control plane
//! through Redis.
//!
//! # Layout
//! - [`config`]: settings (flags and `HALYARD_*` variables).
//! - [`store`]: every environment's snapshot and the SDK key index, swapped
//!   whole; bodies built once per revision.
//! - [`sync`]: subscribe, load, apply by revision, resync, reconnect.
//! - [`stream`]: per-environment broadcast of SSE frames and replay log.
//! - [`frames`], [`encoded`]: bytes built once per revision (SSE frames of
//!   every dialect; bodies and their gzip and brotli forms).
//! - [`cache`]: whole all-flags responses per revision and request body.
//! - [`persist`]: the last snapshots on disk, to start without Redis.
//! - [`state`]: what handlers share (store, metrics, rate limit, shutdown).
//! - [`metrics`]: Prometheus, on its own listener.
//! - [`api`]: the routes (configuration, streams, evaluation, OFREP,
//!   health) and SDK key checks.
//! - [`error`]: the error enum and its mapping to HTTP.
//! - [`serve`]: HTTP/1.1 connections (hyper, and streams written
//!   directly) and graceful shutdown.
//! - [`startup`]: wiring and shutdown.

pub mod api;
pub mod cache;
pub mod config;
pub mod encoded;
pub mod error;
pub mod frames;
pub mod metrics;
pub mod persist;
pub mod serve;
pub mod startup;
pub mod state;
pub mod store;
pub mod stream;
pub mod sync;
