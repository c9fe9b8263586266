//! Adopting a database the Python bookstore created.
//!
//! The expected shape is not written down twice: migration 1 runs inside a throwaway
//! schema in a transaction that is always rolled back, and the live tables are compared
//! with what it created, column by column (type, length, nullability, default) and key
//! by key.

use std::collections::BTreeMap;

use diesel::{
    QueryableByName, RunQueryDsl,
    sql_types::{BigInt, Bool, Text},
};

use super::{
    Context, Migration, MigrationError, MigrationRef, RunOptions, RunReport, Step, applied,
    compare, locked, record,
};
use crate::{Backend, DbConnection, transactional};

const PROBE_SCHEMA: &str = "bookstore_baseline_probe";

#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = BigInt)]
    max_length: i64,
    #[diesel(sql_type = Bool)]
    nullable: bool,
    #[diesel(sql_type = Text)]
    column_default: String,
}

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = Text)]
    description: String,
}

#[derive(Default)]
struct Shape {
    columns: Vec<Column>,
    keys: Vec<String>,
}

fn read_shape(conn: &mut DbConnection, schema: &str) -> diesel::QueryResult<Shape> {
    let DbConnection::Postgres(c) = conn else {
        return Ok(Shape::default());
    };
    let columns = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type,
                COALESCE(character_maximum_length, 0)::bigint AS max_length, is_nullable = 'YES' AS nullable,
                COALESCE(column_default, '')::text AS column_default
         FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position",
    )
    .bind::<Text, _>(schema)
    .load::<Column>(c)?;
    let keys = diesel::sql_query(
        "SELECT format('%s %s(%s)%s', CASE con.contype WHEN 'p' THEN 'primary key' ELSE 'foreign key' END,
                       cl.relname, a.attname,
                       CASE WHEN con.contype = 'f' THEN format(' -> %s(%s)', rcl.relname, ra.attname) ELSE '' END) AS description
         FROM pg_constraint con
         JOIN pg_class cl ON cl.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = cl.relnamespace
         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
         LEFT JOIN pg_class rcl ON rcl.oid = con.confrelid
         LEFT JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = ANY (con.confkey)
         WHERE n.nspname = $1 AND con.contype IN ('p', 'f') ORDER BY 1",
    )
    .bind::<Text, _>(schema)
    .load::<Key>(c)?
    .into_iter()
    .map(|k| k.description)
    .collect();
    Ok(Shape { columns, keys })
}

/// What migration 1 creates, read from a schema that is rolled back at once.
fn expected_shape(conn: &mut DbConnection, up: &str) -> Result<Shape, MigrationError> {
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
        c.batch_execute(up)?;
        Err(Probe::Done(read_shape(c, PROBE_SCHEMA)?))
    });
    match outcome {
        Err(Probe::Done(shape)) => Ok(shape),
        Err(Probe::Failed(source)) => Err(MigrationError::Database {
            context: "running migration 1 in a probe schema",
            source,
        }),
        Ok(()) => unreachable!("the probe always rolls back"),
    }
}

fn normalise_default(default: &str) -> &str {
    // A serial's default names its sequence, which lives in another schema in the probe.
    if default.starts_with("nextval(") {
        "nextval(<sequence>)"
    } else {
        default
    }
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
    if conn.backend() != Backend::Postgres {
        return Err(MigrationError::Refused(
            "baseline adopts PostgreSQL databases only".into(),
        ));
    }
    locked(conn, options, |conn| {
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
        let expected = expected_shape(conn, first.up)?;
        let live = read_shape(conn, "public").context("reading the live tables")?;
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
            steps: vec![Step {
                version: first.version.to_owned(),
                name: first.name.to_owned(),
                duration_ms: 0,
            }],
            pending: cmp.pending.iter().map(|m| MigrationRef::from(*m)).collect(),
            drift: cmp.drift,
        })
    })
}
