//! Halyard edge: serves SDK configurations (and, as this crate grows,
//! streams, evaluation and OFREP) from in-memory snapshots kept in step with
//! the control plane through Redis.
//!
//! # Layout
//! - [`config`]: settings (flags and `HALYARD_*` variables).
//! - [`store`]: every environment's snapshot and the SDK key index, swapped
//!   whole; bodies built once per revision.
//! - [`sync`]: subscribe, load, apply by revision, resync, reconnect.
//! - [`stream`]: per-environment broadcast of SSE frames and replay log.
//! - [`api`]: routes (`/api/client/flags`, health) and SDK key checks.
//! - [`error`]: the error enum and its mapping to HTTP.
//! - [`startup`]: wiring and shutdown.

pub mod api;
pub mod config;
pub mod error;
pub mod startup;
pub mod store;
pub mod stream;
pub mod sync;
