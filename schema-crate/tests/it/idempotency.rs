//! Claiming idempotency keys: a key is claimed once, and a claim the table cannot hold
//! as given fails instead of storing something else (MySQL's `INSERT IGNORE` truncated an
//! over-long key and claimed that).

use bookstore_schema::{IdempotencyRecord, NewIdempotencyKey, transactional};
use bookstore_testing::TestDb;
use chrono::{NaiveDateTime, TimeDelta, Utc};

use crate::{BACKENDS, count};

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn claim(
    conn: &mut bookstore_schema::DbConnection,
    key: &str,
    request_hash: &str,
) -> diesel::QueryResult<bool> {
    let now = now();
    let new = NewIdempotencyKey::new(
        "POST /book",
        key,
        request_hash,
        now,
        now + TimeDelta::hours(1),
    );
    transactional(conn, |c| IdempotencyRecord::claim(c, &new))
}

#[test]
fn a_key_is_claimed_once_and_a_value_the_table_cannot_hold_fails_the_claim() {
    for backend in BACKENDS {
        let db = TestDb::migrated_on(backend, "idem_claim");
        let mut conn = db.connect();
        assert!(claim(&mut conn, "k1", "h").unwrap(), "{backend:?}: free");
        assert!(!claim(&mut conn, "k1", "h").unwrap(), "{backend:?}: held");

        let long_key = "k".repeat(256);
        let err = claim(&mut conn, &long_key, "h");
        assert!(err.is_err(), "{backend:?}: a 256-character key: {err:?}");
        let long_hash = "h".repeat(129);
        let err = claim(&mut conn, "k2", &long_hash);
        assert!(err.is_err(), "{backend:?}: a 129-character hash: {err:?}");
        let err = claim(&mut conn, "", "h");
        assert!(err.is_err(), "{backend:?}: an empty key: {err:?}");
        assert_eq!(
            count(&mut conn, "SELECT count(*) AS n FROM idempotency_key"),
            1,
            "{backend:?}: nothing but the first claim stored"
        );
        assert!(
            claim(&mut conn, "k2", "h").unwrap(),
            "{backend:?}: the session goes on after a failed claim"
        );
    }
}
