//! Halyard control plane: the one writer of flag state.
//!
//! It owns PostgreSQL, serves the admin API and publishes every committed
//! change to the edges. Filled in by the control-plane issue; for now it only
//! pins the crate graph (`control-plane` depends on `common`, never on `edge`).

pub use halyard_common as common;
