//! Integration tests of bookstore-schema against the real PostgreSQL and SQLite.
#![allow(
    clippy::unwrap_used,
    reason = "a test that cannot set up should panic loudly"
)]

mod facts;
mod models;
mod pool;
mod role;
mod runner;
mod uow;

use bookstore_schema::{DbConnection, with_conn};
use diesel::{QueryableByName, RunQueryDsl, sql_types::BigInt};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs a `SELECT count(*) AS n …` and returns n.
fn count(conn: &mut DbConnection, sql: &str) -> i64 {
    with_conn!(conn, c, _s => diesel::sql_query(sql).get_result::<Count>(c))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}
