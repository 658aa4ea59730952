//! The `halyard` command. Subcommands (serve, control-plane, edge, migrate,
//! keys, export/import) arrive with the binary issue; until then it reports
//! its version and what it is.

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    eprintln!(
        "halyard {version}: the evaluation engine is in place; the server subcommands arrive with the binary issue"
    );
}
