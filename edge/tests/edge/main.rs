//! The edge against a real control plane (fresh PostgreSQL database per
//! test), its real outbox relay, and Redis (the machine's, under a unique
//! key prefix per test, or a private `redis-server` a test may kill).
//! One test binary; each module covers one area of the edge.
#![allow(missing_docs, unreachable_pub)]

#[path = "../../../control-plane/tests/support/redis.rs"]
mod redis_server;

mod evaluation;
mod operations;
mod streams;
mod support;
mod sync;
