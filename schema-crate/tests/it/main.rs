//! Integration tests of bookstore-schema against the real PostgreSQL and SQLite.
#![allow(
    clippy::unwrap_used,
    reason = "a test that cannot set up should panic loudly"
)]

mod compat;
mod drift;
mod facts;
mod idempotency;
mod models;
#[cfg(feature = "mysql")]
mod mysql_client;
#[cfg(feature = "mysql")]
mod mysql_drift;
#[cfg(feature = "mysql")]
mod mysql_runner;
#[cfg(feature = "mysql")]
mod mysql_tls;
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
#[cfg(not(feature = "mysql"))]
const BACKENDS: [bookstore_schema::Backend; 2] = [
    bookstore_schema::Backend::Postgres,
    bookstore_schema::Backend::Sqlite,
];

/// The backends a test runs on when its behaviour holds on each: with the `mysql`
/// feature, MariaDB too (127.0.0.1:3306, `TEST_MYSQL_URL`).
#[cfg(feature = "mysql")]
const BACKENDS: [bookstore_schema::Backend; 3] = [
    bookstore_schema::Backend::Postgres,
    bookstore_schema::Backend::Sqlite,
    bookstore_schema::Backend::Mysql,
];

/// Runs a `SELECT count(*) AS n …` and returns n.
fn count(conn: &mut DbConnection, sql: &str) -> i64 {
    bookstore_testing::scalar(conn, sql)
}
