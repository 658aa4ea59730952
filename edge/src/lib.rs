//! Halyard edge: serves SDK configurations, streams, evaluation and OFREP
//! from in-memory snapshots.
//!
//! Filled in by the edge issue; for now it only pins the crate graph (`edge`
//! depends on `common`, never on `control-plane`).

pub use halyard_common as common;
