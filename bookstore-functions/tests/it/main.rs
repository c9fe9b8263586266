//! The API suite of bookstore-functions, in-process (`router.oneshot`) on PostgreSQL,
//! SQLite and (the `mysql` feature) MariaDB, plus real API Gateway events through `lambda_http`.
#![allow(
    clippy::unwrap_used,
    reason = "a test that cannot set up should panic loudly"
)]

mod books;
mod bounded;
mod compat;
mod cors;
mod docs;
mod edits;
mod errors;
mod idempotency;
mod lambda_edge;
mod lifecycle;
#[cfg(feature = "mysql")]
mod local_mysql;
mod logs;
mod openapi;
mod pinning;
mod replica;
mod reviews;
mod support;
