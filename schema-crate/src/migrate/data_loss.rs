//! The revert guard: a `down.sql` that would drop a table or a column holding data is
//! refused unless the operator allows data loss explicitly.
//!
//! In a transaction the guard looks at the outcome, not at the words: before `down.sql`
//! it notes which of the tables the file drops or alters hold rows and which of their
//! columns hold values; after it (same transaction, not yet committed) it reads which of
//! those tables and columns are gone. So a file that moves rows elsewhere before dropping
//! their table's column is judged by what is left, and SQLite's table rebuilds (rename,
//! create, copy, drop) lose only the columns the new table no longer has. A file run
//! outside a transaction cannot be undone, so there the guard reads its `DROP TABLE` and
//! `DROP COLUMN` statements before running any of them.

use std::collections::BTreeMap;

use diesel::{
    QueryResult, QueryableByName, RunQueryDsl,
    sql_types::{Bool, Text},
};

use super::sql::{self, Dropped};
use crate::{
    DbConnection,
    backend::{Dialect, with_conn},
};

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Present {
    #[diesel(sql_type = Bool)]
    present: bool,
}

/// A table's data before the revert: whether it has rows, and its columns holding values.
#[derive(Debug)]
struct Held {
    rows: bool,
    columns: Vec<String>,
}

/// What the tables a `down.sql` drops or alters held before it ran.
#[derive(Debug)]
pub(crate) struct Snapshot {
    tables: BTreeMap<String, Held>,
    renamed: Vec<(String, String)>,
}

/// `name` quoted as an identifier the way `conn`'s backend quotes one.
fn quote(conn: &mut DbConnection, name: &str) -> String {
    fn q<C: Dialect>(_: &C, name: &str) -> String {
        C::quote(name)
    }
    with_conn!(conn, c => q(c, name))
}

/// The columns of `table` in the current schema (empty: no such table).
fn columns(conn: &mut DbConnection, table: &str) -> QueryResult<Vec<String>> {
    fn sql<C: Dialect>(_: &C) -> String {
        C::table_columns_sql()
    }
    let query = with_conn!(&mut *conn, c => sql(c));
    Ok(
        with_conn!(conn, c => diesel::sql_query(&query).bind::<Text, _>(table).load::<Name>(c))?
            .into_iter()
            .map(|n| n.name)
            .collect(),
    )
}

fn exists(conn: &mut DbConnection, query: &str) -> QueryResult<bool> {
    let sql = format!("SELECT EXISTS ({query}) AS present");
    with_conn!(conn, c => diesel::sql_query(&sql).get_result::<Present>(c)).map(|p| p.present)
}

fn has_rows(conn: &mut DbConnection, table: &str) -> QueryResult<bool> {
    let table = quote(conn, table);
    exists(conn, &format!("SELECT 1 FROM {table}"))
}

fn has_values(conn: &mut DbConnection, table: &str, column: &str) -> QueryResult<bool> {
    let (table, column) = (quote(conn, table), quote(conn, column));
    exists(
        conn,
        &format!("SELECT 1 FROM {table} WHERE {column} IS NOT NULL"),
    )
}

/// What the tables `down` drops or alters hold now (run it before `down`).
pub(crate) fn snapshot(conn: &mut DbConnection, down: &str) -> QueryResult<Snapshot> {
    let mut tables = BTreeMap::new();
    let mut renamed = Vec::new();
    for statement in sql::split_statements(down) {
        let effects = sql::table_effects(statement);
        renamed.extend(effects.renamed);
        for table in effects.touched {
            if tables.contains_key(&table) {
                continue;
            }
            let all = columns(conn, &table)?;
            let rows = !all.is_empty() && has_rows(conn, &table)?;
            let mut held = Vec::new();
            if rows {
                for column in all {
                    if has_values(conn, &table, &column)? {
                        held.push(column);
                    }
                }
            }
            tables.insert(
                table,
                Held {
                    rows,
                    columns: held,
                },
            );
        }
    }
    Ok(Snapshot { tables, renamed })
}

/// The tables and columns that held data in `before` and are gone now (run it after
/// `down`, in the same transaction).
pub(crate) fn lost(conn: &mut DbConnection, before: &Snapshot) -> QueryResult<Vec<String>> {
    let mut out = Vec::new();
    for (table, held) in before.tables.iter().filter(|(_, held)| held.rows) {
        let mut now = columns(conn, table)?;
        if now.is_empty() {
            // Renamed away (and not dropped after): its data lives on under the new name.
            let to = before.renamed.iter().find(|(from, _)| from == table);
            if let Some((_, to)) = to {
                now = columns(conn, to)?;
            }
        }
        if now.is_empty() {
            out.push(format!("table {table}"));
            continue;
        }
        for column in held.columns.iter().filter(|c| !now.contains(c)) {
            out.push(format!("column {table}.{column}"));
        }
    }
    Ok(out)
}

/// The tables with rows and the columns with values that the `DROP TABLE` and
/// `DROP COLUMN` statements of `down` would drop (for a file run outside a transaction).
pub(crate) fn would_lose(conn: &mut DbConnection, down: &str) -> QueryResult<Vec<String>> {
    let mut dropped: Vec<Dropped> = sql::split_statements(down)
        .into_iter()
        .flat_map(|s| sql::table_effects(s).dropped)
        .collect();
    dropped.sort();
    dropped.dedup();
    let mut out = Vec::new();
    for d in dropped {
        match d {
            Dropped::Table(table) => {
                if !columns(conn, &table)?.is_empty() && has_rows(conn, &table)? {
                    out.push(format!("table {table}"));
                }
            }
            Dropped::Column(table, column) => {
                if columns(conn, &table)?.contains(&column) && has_values(conn, &table, &column)? {
                    out.push(format!("column {table}.{column}"));
                }
            }
        }
    }
    Ok(out)
}

/// Why a rehearsal of a revert stopped.
enum Rehearsal {
    /// Step `.0` would drop data.
    Loses(usize, Vec<String>),
    /// Every step ran, or one failed (the real run reports the failure).
    Done,
    Failed(diesel::result::Error),
}

impl From<diesel::result::Error> for Rehearsal {
    fn from(e: diesel::result::Error) -> Self {
        Self::Failed(e)
    }
}

/// Runs the `down.sql` of each step, in order, in one transaction that is always rolled
/// back, and answers the first step that would drop data, with what it would drop: so a
/// refused `revert` changes nothing, not even the newer migrations it would have reverted
/// first. A step outside a transaction is not run; its drops are read instead.
pub(crate) fn first_loss(
    conn: &mut DbConnection,
    steps: &[(&super::Migration, &str)],
) -> QueryResult<Option<(usize, Vec<String>)>> {
    let outcome = crate::transactional(conn, |c| -> Result<(), Rehearsal> {
        for (n, (m, down)) in steps.iter().enumerate() {
            let losses = if m.runs_in_transaction_on(c.backend()) {
                let before = snapshot(c, down)?;
                if c.batch_execute(down).is_err() {
                    return Err(Rehearsal::Done);
                }
                lost(c, &before)?
            } else {
                would_lose(c, down)?
            };
            if !losses.is_empty() {
                return Err(Rehearsal::Loses(n, losses));
            }
        }
        Err(Rehearsal::Done)
    });
    match outcome {
        Err(Rehearsal::Loses(n, losses)) => Ok(Some((n, losses))),
        Err(Rehearsal::Done) | Ok(()) => Ok(None),
        Err(Rehearsal::Failed(e)) => Err(e),
    }
}
