//! The control plane's API tests: one binary, against the machine's real
//! PostgreSQL (a fresh database per test, through `#[sqlx::test]`).
//! `DATABASE_URL` must point at a server where the user may create
//! databases; `scripts/test` sets it and checks the server is up. With
//! `HALYARD_TEST_STORE=sqlite` the same tests run on the SQLite store (a
//! fresh file per test); `scripts/test` runs both.

#![allow(unreachable_pub, missing_docs)] // a test binary exports nothing

mod helpers;

mod audit;
mod events;
mod flags;
mod keys;
mod legacy;
mod misc;
mod roles;
mod segments;
mod session;
