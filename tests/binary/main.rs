//! The `halyard` binary, run as a subprocess: the all-in-one node, and the
//! production shape (a control plane on PostgreSQL and two edges on Redis).

#![allow(unreachable_pub, missing_docs)] // a test binary exports nothing

mod all_in_one;
mod backup;
mod flags_as_code;
mod import_legacy;
mod production;
mod support;
mod tls;
