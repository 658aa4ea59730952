//! Structured logs: `tracing` with an env filter (`RUST_LOG`, default
//! `info`), JSON lines when `HALYARD_LOG_FORMAT=json`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;

/// Installs the global subscriber once; later calls do nothing.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("HALYARD_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let result = if json {
        fmt()
            .with_env_filter(filter)
            .json()
            .with_current_span(false)
            .try_init()
    } else {
        fmt().with_env_filter(filter).try_init()
    };
    // Already installed (tests start several apps): keep the first.
    drop(result);
}
