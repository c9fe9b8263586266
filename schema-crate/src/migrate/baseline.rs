//! Adopting a database the Python bookstore created (PostgreSQL), or one built by hand
//! (MySQL / MariaDB).
//!
//! The expected shape is not written down twice: migration 1 runs in a probe and the
//! live tables are compared with what it created, column by column (type, length,
//! nullability, default, collation) and key by key. The probe is a throwaway schema in a
//! transaction that is always rolled back; where DDL commits on its own (MySQL) it is a
//! database of its own instead, created on the runner's session, used, and dropped
//! whatever happens ([`Dialect::open_probe_database`]). The same probe, over every
//! applied migration, is how `status` finds structural drift (`structure.rs`).

use std::collections::BTreeMap;

use diesel::{
    QueryableByName, RunQueryDsl,
    sql_types::{BigInt, Bool, Text},
};

use super::{
    Context, Migration, MigrationError, MigrationRef, RunOptions, RunReport, Step, applied,
    compare, locked, record,
};
use crate::{
    DbConnection,
    backend::{CatalogQueries, Dialect, with_conn},
    transactional,
};

const PROBE_SCHEMA: &str = "bookstore_baseline_probe";

#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub(super) struct Column {
    #[diesel(sql_type = Text)]
    pub(super) table_name: String,
    #[diesel(sql_type = Text)]
    pub(super) column_name: String,
    #[diesel(sql_type = Text)]
    pub(super) data_type: String,
    #[diesel(sql_type = BigInt)]
    pub(super) max_length: i64,
    #[diesel(sql_type = Bool)]
    pub(super) nullable: bool,
    #[diesel(sql_type = Text)]
    pub(super) column_default: String,
    /// Empty when the catalog names none.
    #[diesel(sql_type = Text)]
    pub(super) collation: String,
}

/// A constraint, an index or a sequence, as `CatalogQueries::objects` reads it.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
pub(super) struct Object {
    /// `constraint`, `index` or `sequence`.
    #[diesel(sql_type = Text)]
    pub(super) kind: String,
    /// Its table (a sequence's owning table; empty when none).
    #[diesel(sql_type = Text)]
    pub(super) table_name: String,
    #[diesel(sql_type = Text)]
    pub(super) name: String,
    /// Its definition, schema names left out.
    #[diesel(sql_type = Text)]
    pub(super) definition: String,
    /// A constraint's `convalidated`, an index's `indisvalid`.
    #[diesel(sql_type = Bool)]
    pub(super) valid: bool,
}

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = Text)]
    description: String,
}

#[derive(Default)]
pub(super) struct Shape {
    pub(super) columns: Vec<Column>,
    pub(super) keys: Vec<String>,
    pub(super) objects: Vec<Object>,
}

/// The catalog queries of `conn`'s backend; `None` where it has none (SQLite).
pub(super) fn catalog(conn: &mut DbConnection) -> Option<CatalogQueries> {
    fn of<C: Dialect>(_: &C) -> Option<CatalogQueries> {
        C::CATALOG
    }
    with_conn!(conn, c => of(c))
}

/// The schema (MySQL: the database) the session's tables are in.
pub(super) fn live_schema(
    conn: &mut DbConnection,
    queries: CatalogQueries,
) -> diesel::QueryResult<String> {
    #[derive(QueryableByName)]
    struct Schema {
        #[diesel(sql_type = Text)]
        name: String,
    }
    with_conn!(conn, c => diesel::sql_query(queries.current_schema).get_result::<Schema>(c))
        .map(|s| s.name)
}

/// The tables of `schema` as the catalog describes them; `None` on a backend with no
/// catalog queries (SQLite).
pub(super) fn read_shape(
    conn: &mut DbConnection,
    schema: &str,
) -> diesel::QueryResult<Option<Shape>> {
    let Some(queries) = catalog(conn) else {
        return Ok(None);
    };
    let columns = with_conn!(&mut *conn, c => diesel::sql_query(queries.columns)
        .bind::<Text, _>(schema)
        .load::<Column>(c))?;
    let keys = with_conn!(&mut *conn, c => diesel::sql_query(queries.keys)
        .bind::<Text, _>(schema)
        .load::<Key>(c))?
    .into_iter()
    .map(|k| k.description)
    .collect();
    let objects = with_conn!(&mut *conn, c => diesel::sql_query(queries.objects)
        .bind::<Text, _>(schema)
        .load::<Object>(c))?;
    Ok(Some(Shape {
        columns,
        keys,
        objects,
    }))
}

/// Why the probe gave no shape.
pub(super) enum ProbeError {
    /// The probe database could not be made; nothing was left behind.
    Open(diesel::result::Error),
    /// The migrations, or reading what they made, failed in the probe (which is gone).
    Replay(diesel::result::Error),
    /// The session could not go back to the live database, or the probe database could
    /// not be dropped.
    Close(diesel::result::Error),
}

impl ProbeError {
    /// As the runner reports it, `replaying` saying what the probe ran.
    pub(super) fn into_error(self, replaying: &'static str) -> MigrationError {
        let (context, source) = match self {
            Self::Open(source) => ("creating the probe database", source),
            Self::Replay(source) => (replaying, source),
            Self::Close(source) => ("leaving and dropping the probe database", source),
        };
        MigrationError::Database { context, source }
    }
}

/// Runs the migrations whose SQL is `ups`, in order, statement by statement.
/// `CONCURRENTLY` is left out (it refuses a transaction; the probe's tables are empty
/// anyway).
fn replay(conn: &mut DbConnection, ups: &[&str]) -> diesel::QueryResult<()> {
    for up in ups {
        for statement in super::sql::split_statements(up) {
            conn.batch_execute(&super::sql::without_concurrently(statement))?;
        }
    }
    Ok(())
}

/// What the migrations whose SQL is `ups` create, in order, read from a probe: a schema
/// that is rolled back at once, or a database of its own that is dropped (the session,
/// whose tables are in `live`, goes back there first).
pub(super) fn expected_shape(
    conn: &mut DbConnection,
    live: &str,
    ups: &[&str],
) -> Result<Shape, ProbeError> {
    let probe =
        with_conn!(&mut *conn, c => c.open_probe_database(live)).map_err(ProbeError::Open)?;
    let Some(name) = probe else {
        return rolled_back(conn, ups).map_err(ProbeError::Replay);
    };
    let mut probe = ProbeDatabase {
        conn,
        name,
        live,
        open: true,
    };
    let shape = replay(probe.conn, ups).and_then(|()| read_shape(probe.conn, &probe.name));
    let closed = probe.close();
    match (shape, closed) {
        (Ok(shape), Ok(())) => Ok(shape.unwrap_or_default()),
        (Err(error), Ok(())) => Err(ProbeError::Replay(error)),
        (shape, Err(error)) => {
            if let Err(replay) = shape {
                tracing::warn!(error = %replay, "the replay failed in the probe database too");
            }
            Err(ProbeError::Close(error))
        }
    }
}

/// An open probe database: closed by [`ProbeDatabase::close`], or when dropped (a panic
/// in the replay).
struct ProbeDatabase<'c> {
    conn: &'c mut DbConnection,
    name: String,
    live: &'c str,
    open: bool,
}

impl ProbeDatabase<'_> {
    fn close(&mut self) -> diesel::QueryResult<()> {
        self.open = false;
        let (name, live) = (&self.name, self.live);
        with_conn!(&mut *self.conn, c => c.close_probe_database(name, live))
    }
}

impl Drop for ProbeDatabase<'_> {
    fn drop(&mut self) {
        if self.open
            && let Err(error) = self.close()
        {
            tracing::warn!(database = %self.name, error = %error, "could not drop the probe database");
        }
    }
}

/// [`expected_shape`] in a schema created inside a transaction that is always rolled back.
fn rolled_back(conn: &mut DbConnection, ups: &[&str]) -> diesel::QueryResult<Shape> {
    enum Probe {
        Done(Shape),
        Failed(diesel::result::Error),
    }
    impl From<diesel::result::Error> for Probe {
        fn from(e: diesel::result::Error) -> Self {
            Self::Failed(e)
        }
    }
    let outcome = transactional(conn, |c| -> Result<(), Probe> {
        c.batch_execute(&format!(
            "CREATE SCHEMA {PROBE_SCHEMA}; SET LOCAL search_path TO {PROBE_SCHEMA};"
        ))?;
        replay(c, ups)?;
        Err(Probe::Done(
            read_shape(c, PROBE_SCHEMA)?.unwrap_or_default(),
        ))
    });
    match outcome {
        Err(Probe::Done(shape)) => Ok(shape),
        Err(Probe::Failed(source)) => Err(source),
        Ok(()) => unreachable!("the probe always rolls back"),
    }
}

pub(super) fn normalise_default(default: &str) -> &str {
    // A serial's default names its sequence, which lives in another schema in the probe.
    if default.starts_with("nextval(") {
        "nextval(<sequence>)"
    } else {
        default
    }
}

/// A collation as reports show it.
pub(super) fn collation(name: &str) -> &str {
    if name.is_empty() { "default" } else { name }
}

fn differences(expected: &Shape, live: &Shape) -> Vec<String> {
    let tables: Vec<&str> = {
        let mut t: Vec<&str> = expected
            .columns
            .iter()
            .map(|c| c.table_name.as_str())
            .collect();
        t.dedup();
        t
    };
    let index = |shape: &Shape| -> BTreeMap<(String, String), Column> {
        shape
            .columns
            .iter()
            .filter(|c| tables.contains(&c.table_name.as_str()))
            .map(|c| ((c.table_name.clone(), c.column_name.clone()), c.clone()))
            .collect()
    };
    let (want, have) = (index(expected), index(live));
    let mut out = Vec::new();
    for table in &tables {
        if !have.keys().any(|(t, _)| t == table) {
            out.push(format!("table {table}: missing"));
        }
    }
    for ((table, column), w) in &want {
        if !have.keys().any(|(t, _)| t == table) {
            continue;
        }
        let Some(h) = have.get(&(table.clone(), column.clone())) else {
            out.push(format!("{table}.{column}: missing"));
            continue;
        };
        if h.data_type != w.data_type {
            out.push(format!(
                "{table}.{column}: type {}, expected {}",
                h.data_type, w.data_type
            ));
        }
        if h.max_length != w.max_length {
            out.push(format!(
                "{table}.{column}: length {}, expected {}",
                h.max_length, w.max_length
            ));
        }
        if h.nullable != w.nullable {
            let word = |n: bool| if n { "nullable" } else { "NOT NULL" };
            out.push(format!(
                "{table}.{column}: {}, expected {}",
                word(h.nullable),
                word(w.nullable)
            ));
        }
        let (hd, wd) = (
            normalise_default(&h.column_default),
            normalise_default(&w.column_default),
        );
        if hd != wd {
            out.push(format!("{table}.{column}: default `{hd}`, expected `{wd}`"));
        }
        if h.collation != w.collation {
            out.push(format!(
                "{table}.{column}: collation {}, expected {}",
                collation(&h.collation),
                collation(&w.collation)
            ));
        }
    }
    for (table, column) in have.keys().filter(|k| !want.contains_key(*k)) {
        out.push(format!("{table}.{column}: not in migration 1"));
    }
    for key in expected.keys.iter().filter(|k| !live.keys.contains(k)) {
        out.push(format!("{key}: missing"));
    }
    out
}

/// See [`super::Runner::baseline`].
pub(super) fn baseline(
    conn: &mut DbConnection,
    set: &[Migration],
    options: &RunOptions,
) -> Result<RunReport, MigrationError> {
    let Some(queries) = catalog(conn) else {
        return Err(MigrationError::Refused(format!(
            "baseline adopts PostgreSQL and MySQL/MariaDB databases only, not {}",
            conn.backend().as_str()
        )));
    };
    locked(conn, options, |conn, _| {
        let already = applied(conn).context("reading the applied migrations")?;
        if let Some(newest) = already.last() {
            return Err(MigrationError::Refused(format!(
                "baseline refused: {} migrations are already recorded (newest {}); use migrate",
                already.len(),
                newest.version
            )));
        }
        let first = set
            .first()
            .ok_or_else(|| MigrationError::Refused("no migrations to baseline".into()))?;
        let schema = live_schema(conn, queries).context("reading the current schema")?;
        let expected = expected_shape(conn, &schema, &[first.up])
            .map_err(|e| e.into_error("running migration 1 in a probe"))?;
        let live = read_shape(conn, &schema)
            .context("reading the live tables")?
            .unwrap_or_default();
        let diff = differences(&expected, &live);
        if !diff.is_empty() {
            return Err(MigrationError::BaselineMismatch {
                version: first.version.to_owned(),
                differences: diff,
            });
        }
        record(conn, first, 0).context("recording the baseline")?;
        tracing::info!(migration.version = first.version, "baseline recorded");
        let cmp = compare(
            set,
            &applied(conn).context("reading the applied migrations")?,
        );
        Ok(RunReport {
            version_before: None,
            version_after: Some(first.version.to_owned()),
            steps: vec![Step::new(first.version, first.name, 0)],
            pending: cmp.pending.iter().map(|m| MigrationRef::from(*m)).collect(),
            drift: cmp.drift,
            plan_digest: None,
        })
    })
}
