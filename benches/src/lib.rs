//! Shared helpers for Halyard's benchmarks: loading the committed fixture
//! environment that the criterion benches and the edge load run both use.
