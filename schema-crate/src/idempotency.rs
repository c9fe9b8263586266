//! Idempotency keys: the `idempotency_key` table of 2.1.0, which makes a create run at
//! most once per client key (`bookstore_kit::idempotency` is the HTTP side).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::{DbConnection, backend::with_conn, schema::idempotency_key, sql_types::At};

/// A stored idempotency key: a create that ran under it, and what it answered.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = idempotency_key, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
#[non_exhaustive]
pub struct IdempotencyRecord {
    /// The operation (`POST /book`): a key is unique per scope.
    pub scope: String,
    /// The client's key.
    pub key: String,
    /// A hash of the request the key was first used with.
    pub request_hash: String,
    /// The status answered; `None` until the create finished (never visible to others:
    /// the create and its record commit together).
    pub status_code: Option<i32>,
    /// The body answered.
    pub response_body: Option<String>,
    /// The id of the row created.
    pub resource_id: Option<i32>,
    /// When the key was first used (UTC).
    pub created_at: NaiveDateTime,
    /// When it may be forgotten (UTC).
    pub expires_at: NaiveDateTime,
}

/// A key to claim.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct NewIdempotencyKey<'a> {
    /// The operation.
    pub scope: &'a str,
    /// The client's key (1 to 255 characters).
    pub key: &'a str,
    /// A hash of the request (at most 128 characters).
    pub request_hash: &'a str,
    /// Now (UTC).
    pub created_at: NaiveDateTime,
    /// When the key may be forgotten (UTC).
    pub expires_at: NaiveDateTime,
}

impl<'a> NewIdempotencyKey<'a> {
    /// `key` in `scope` for the request hashed `request_hash`, claimed at `now` until
    /// `expires_at`.
    pub fn new(
        scope: &'a str,
        key: &'a str,
        request_hash: &'a str,
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> Self {
        Self {
            scope,
            key,
            request_hash,
            created_at: now,
            expires_at,
        }
    }
}

/// [`NewIdempotencyKey`] as inserted (its times bound as `Timestamptz`).
#[derive(Insertable)]
#[diesel(table_name = idempotency_key, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct IdempotencyKeyRow<'a> {
    scope: &'a str,
    key: &'a str,
    request_hash: &'a str,
    created_at: At,
    expires_at: At,
}

/// Inserts `row` on MySQL: 1 when inserted, 0 when the key is held.
///
/// MySQL has no "do nothing" that tells a duplicate from an insert: diesel's (`ON
/// DUPLICATE KEY UPDATE key = key`) counts the row it found as affected too (its
/// connections set CLIENT_FOUND_ROWS), and `INSERT IGNORE` turns every error into a
/// warning, so a key too long was stored truncated and a failed CHECK read as "held". So
/// a plain INSERT, whose duplicate-key error on the primary key (the table's only unique
/// key) means "held": MySQL undoes only the failed statement and the transaction goes on.
#[cfg(feature = "mysql")]
fn insert_unless_held(
    conn: &mut MysqlConnection,
    row: &IdempotencyKeyRow<'_>,
) -> QueryResult<usize> {
    use diesel::result::{DatabaseErrorKind, Error};
    match diesel::insert_into(idempotency_key::table)
        .values(row)
        .execute(conn)
    {
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
            if info.message().ends_with("PRIMARY'") =>
        {
            Ok(0)
        }
        other => other,
    }
}

impl IdempotencyRecord {
    /// Claims `new.key` in `new.scope` for this transaction: `true` when it was free (or
    /// only held by an expired record, which is replaced), `false` when a live record holds
    /// it. Run it in the transaction of the create it guards: a concurrent claim of the same
    /// key waits for that transaction (PostgreSQL's `ON CONFLICT` on the primary key,
    /// SQLite's single writer), then finds the record committed with it.
    pub fn claim(conn: &mut DbConnection, new: &NewIdempotencyKey<'_>) -> QueryResult<bool> {
        with_conn!(conn, c => diesel::delete(
            idempotency_key::table
                .filter(idempotency_key::scope.eq(new.scope))
                .filter(idempotency_key::key.eq(new.key))
                .filter(idempotency_key::expires_at.le(At(new.created_at))),
        )
        .execute(c))?;
        let row = IdempotencyKeyRow {
            scope: new.scope,
            key: new.key,
            request_hash: new.request_hash,
            created_at: At(new.created_at),
            expires_at: At(new.expires_at),
        };
        let inserted = with_conn!(conn, c => diesel::insert_into(idempotency_key::table)
            .values(&row)
            .on_conflict_do_nothing()
            .execute(c),
            mysql c => insert_unless_held(c, &row))?;
        Ok(inserted == 1)
    }

    /// The record of `key` in `scope`, if any.
    pub fn find(conn: &mut DbConnection, scope: &str, key: &str) -> QueryResult<Option<Self>> {
        with_conn!(conn, c => idempotency_key::table
            .filter(idempotency_key::scope.eq(scope))
            .filter(idempotency_key::key.eq(key))
            .select(Self::as_select())
            .first(c)
            .optional())
    }

    /// Records what the create under `key` answered.
    pub fn complete(
        conn: &mut DbConnection,
        scope: &str,
        key: &str,
        status_code: i32,
        response_body: &str,
        resource_id: i32,
    ) -> QueryResult<()> {
        with_conn!(conn, c => diesel::update(
            idempotency_key::table
                .filter(idempotency_key::scope.eq(scope))
                .filter(idempotency_key::key.eq(key)),
        )
        .set((
            idempotency_key::status_code.eq(status_code),
            idempotency_key::response_body.eq(response_body),
            idempotency_key::resource_id.eq(resource_id),
        ))
        .execute(c))?;
        Ok(())
    }

    /// Deletes the records that expired by `now` (one statement, on the `expires_at`
    /// index); returns how many.
    pub fn purge_expired(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
        with_conn!(conn, c => diesel::delete(
            idempotency_key::table.filter(idempotency_key::expires_at.le(At(now))),
        )
        .execute(c))
    }
}
