//! Resumable non-transactional steps, and the INVALID indexes a failed concurrent build
//! leaves behind.
//!
//! A migration that runs outside a transaction records each statement as it succeeds
//! (its position and checksum, in [`PROGRESS_TABLE`]); a rerun after a failure, a timeout
//! or a killed runner skips the statements already done (while they are unchanged) and
//! continues at the first one that is not. The migration is recorded as applied, and its
//! progress cleared, in one transaction once its last statement succeeded.
//!
//! A `CREATE INDEX CONCURRENTLY` that fails leaves its index behind, INVALID: unused by
//! queries, yet maintained on every write, and skipped by `IF NOT EXISTS` on a rerun.
//! `status` and `migrate` report every INVALID index; before a step builds an index
//! concurrently, an INVALID one of the same name (left by an earlier attempt, since the
//! runner lock keeps any other run of ours from building it now) is dropped and built
//! again.

use diesel::{
    QueryResult, QueryableByName, RunQueryDsl,
    sql_types::{Integer, Text},
};
use sha2::{Digest, Sha256};

use super::{Context, Drift, Migration, MigrationError, migration::hex, sql};
use crate::{
    DbConnection,
    backend::{Dialect, with_conn},
    transactional,
};

/// The table where the runner records the statements of a non-transactional step done so
/// far (empty between runs that succeeded).
pub const PROGRESS_TABLE: &str = "bookstore_schema_progress";

fn progress_ddl<C: Dialect>(_: &C) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (
            version varchar(50) NOT NULL,
            direction varchar(4) NOT NULL,
            statement integer NOT NULL,
            checksum char(64) NOT NULL,
            done_at {},
            PRIMARY KEY (version, direction, statement)
        )",
        C::TIMESTAMP_DDL
    )
}

#[derive(QueryableByName)]
struct Done {
    #[diesel(sql_type = Integer)]
    statement: i32,
    #[diesel(sql_type = Text)]
    checksum: String,
}

#[derive(QueryableByName)]
struct Invalid {
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Text)]
    table_name: String,
}

/// The INVALID indexes of the current schema, as drift.
pub(crate) fn invalid_indexes(conn: &mut DbConnection) -> QueryResult<Vec<Drift>> {
    fn query<C: Dialect>(_: &C) -> Option<&'static str> {
        C::INVALID_INDEXES
    }
    let Some(sql) = with_conn!(&mut *conn, c => query(c)) else {
        return Ok(Vec::new());
    };
    let rows = with_conn!(conn, c => diesel::sql_query(sql).load::<Invalid>(c))?;
    Ok(rows
        .into_iter()
        .map(|r| Drift::InvalidIndex {
            index: r.index_name,
            table: r.table_name,
        })
        .collect())
}

fn is_invalid(conn: &mut DbConnection, index: &str) -> QueryResult<bool> {
    Ok(invalid_indexes(conn)?
        .iter()
        .any(|d| matches!(d, Drift::InvalidIndex { index: i, .. } if i == index)))
}

fn statement_checksum(statement: &str) -> String {
    hex(&Sha256::digest(statement.as_bytes()))
}

/// The `$n`th parameter in the connection's dialect, for a statement built here.
fn params(conn: &mut DbConnection, n: usize) -> Vec<String> {
    fn p<C: Dialect>(_: &C, n: usize) -> String {
        C::param(n)
    }
    (1..=n)
        .map(|i| with_conn!(&mut *conn, c => p(c, i)))
        .collect()
}

/// How many leading `statements` of `version` (`direction`) an earlier run recorded as
/// done, each unchanged since.
fn done_prefix(
    conn: &mut DbConnection,
    version: &str,
    direction: &str,
    statements: &[&str],
) -> Result<usize, MigrationError> {
    let p = params(conn, 2);
    let select = format!(
        "SELECT statement, checksum FROM {PROGRESS_TABLE} WHERE version = {} AND direction = {} ORDER BY statement",
        p[0], p[1]
    );
    let done = with_conn!(&mut *conn, c => diesel::sql_query(&select)
        .bind::<Text, _>(version)
        .bind::<Text, _>(direction)
        .load::<Done>(c))
    .context("reading the progress of a non-transactional migration")?;
    Ok(statements
        .iter()
        .zip(0..)
        .zip(&done)
        .take_while(|((s, n), d)| d.statement == *n && d.checksum.trim() == statement_checksum(s))
        .count())
}

/// How many statements of `m`'s `up.sql` a failed run completed (0 when none, or when no
/// non-transactional migration ever ran here).
pub(crate) fn completed(conn: &mut DbConnection, m: &Migration) -> Result<usize, MigrationError> {
    if !super::bookkeeping::table_exists(conn, PROGRESS_TABLE)
        .context("looking for the progress table")?
    {
        return Ok(0);
    }
    done_prefix(conn, m.version, "up", &sql::split_statements(m.up))
}

/// Runs the statements of `sql` (`m`'s `up.sql` or `down.sql`, as `direction` says) one by
/// one outside a transaction, skipping those a failed earlier run completed, then
/// `finish` (the bookkeeping change) in a transaction that also clears the progress.
/// Answers how many statements were skipped.
pub(crate) fn run_resumable(
    conn: &mut DbConnection,
    m: &Migration,
    sql: &str,
    failed: impl Fn(diesel::result::Error, String) -> MigrationError,
    finish: impl FnOnce(&mut DbConnection) -> QueryResult<()>,
) -> Result<usize, MigrationError> {
    let direction = if sql == m.up { "up" } else { "down" };
    let ddl = with_conn!(&mut *conn, c => progress_ddl(c));
    conn.batch_execute(&ddl)
        .context("creating the progress table")?;
    let p = params(conn, 4);
    let statements = sql::split_statements(sql);
    let skip = done_prefix(conn, m.version, direction, &statements)?;
    let forget = format!(
        "DELETE FROM {PROGRESS_TABLE} WHERE version = {} AND direction = {} AND statement >= {}",
        p[0], p[1], p[2]
    );
    let from = i32::try_from(skip).unwrap_or(i32::MAX);
    with_conn!(&mut *conn, c => diesel::sql_query(&forget)
        .bind::<Text, _>(m.version)
        .bind::<Text, _>(direction)
        .bind::<Integer, _>(from)
        .execute(c))
    .context("clearing stale progress")?;
    if skip > 0 {
        tracing::info!(migration.version = %m.version, skipped = skip, "resuming a non-transactional migration after the statements an earlier run completed");
    }
    let insert = format!(
        "INSERT INTO {PROGRESS_TABLE} (version, direction, statement, checksum) VALUES ({}, {}, {}, {})",
        p[0], p[1], p[2], p[3]
    );
    for (n, statement) in statements.iter().enumerate().skip(skip) {
        let index = sql::concurrent_index(statement);
        if let Some(index) = &index
            && is_invalid(conn, index).context("looking for an INVALID index")?
        {
            tracing::warn!(index = %index, migration.version = %m.version, "dropping the INVALID index an earlier concurrent build left, to build it again");
            conn.batch_execute(&format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {}",
                quote(index)
            ))
            .context("dropping an INVALID index")?;
        }
        if let Err(error) = conn.batch_execute(statement) {
            let left = match &index {
                Some(index) if is_invalid(conn, index).unwrap_or(false) => format!(
                    "; it left the INVALID index {index}, which the next run drops and builds again"
                ),
                _ => String::new(),
            };
            return Err(failed(error, left));
        }
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        with_conn!(&mut *conn, c => diesel::sql_query(&insert)
            .bind::<Text, _>(m.version)
            .bind::<Text, _>(direction)
            .bind::<Integer, _>(n)
            .bind::<Text, _>(statement_checksum(statement))
            .execute(c))
        .context("recording a statement's progress")?;
    }
    let clear = format!(
        "DELETE FROM {PROGRESS_TABLE} WHERE version = {} AND direction = {}",
        p[0], p[1]
    );
    transactional(conn, |c| {
        finish(c)?;
        with_conn!(c, c => diesel::sql_query(&clear)
            .bind::<Text, _>(m.version)
            .bind::<Text, _>(direction)
            .execute(c))
        .map(|_| ())
    })
    .context("recording a non-transactional migration")?;
    Ok(skip)
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
