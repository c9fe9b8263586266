//! Integration tests of bookstore-schema against the real PostgreSQL and SQLite.
#![allow(
    clippy::unwrap_used,
    reason = "a test that cannot set up should panic loudly"
)]

mod compat;
mod drift;
mod facts;
mod models;
#[cfg(feature = "mysql")]
mod mysql_client;
mod plan;
mod pool;
mod resume;
mod revert;
mod role;
mod runner;
mod stats;
mod timeouts;
mod uow;
mod walk;

use bookstore_schema::DbConnection;

/// The backends a test runs on when its behaviour holds on each.
const BACKENDS: [bookstore_schema::Backend; 2] = [
    bookstore_schema::Backend::Postgres,
    bookstore_schema::Backend::Sqlite,
];

/// Runs a `SELECT count(*) AS n …` and returns n.
fn count(conn: &mut DbConnection, sql: &str) -> i64 {
    bookstore_testing::scalar(conn, sql)
}
