//! Structural drift: the live schema compared with what the applied migrations make.
//!
//! The applied migrations (and the statements a failed non-transactional run completed)
//! run in a probe, as `baseline` does with migration 1: a schema inside a transaction
//! that is always rolled back, or on MySQL a database of its own that is dropped
//! afterwards. The live schema's tables, columns (type, length, nullability, default,
//! collation), constraints (definition, and NOT VALID where the migrations validated
//! them), indexes, sequences (PostgreSQL) and triggers (MySQL) are
//! compared with the probe's, and the app role's table privileges with what
//! [`ensure_app_role`] grants. Each difference is a [`Drift::Structure`]. INVALID indexes
//! are left to [`Drift::InvalidIndex`]. `migrate` refuses a pending migration that names a
//! table with structural drift unless [`RunOptions::ignore_drift`] is set.

use std::collections::{BTreeMap, BTreeSet};

use diesel::{QueryableByName, RunQueryDsl, sql_types::Text};

use super::{
    baseline::{
        Object, ProbeError, Shape, catalog, collation, expected_shape, live_schema,
        normalise_default, read_shape,
    },
    *,
};
use crate::{
    DbConnection,
    backend::{CatalogQueries, with_conn},
};

/// The tables the runner keeps for itself: not made by migrations.
const RUNNER_TABLES: [&str; 2] = [BOOKKEEPING_TABLE, PROGRESS_TABLE];

#[derive(QueryableByName)]
struct Grant {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    privileges: String,
}

fn grants(
    conn: &mut DbConnection,
    queries: CatalogQueries,
    schema: &str,
    role: &str,
) -> diesel::QueryResult<BTreeMap<String, String>> {
    let rows = with_conn!(conn, c => diesel::sql_query(queries.grants)
        .bind::<Text, _>(schema)
        .bind::<Text, _>(role)
        .load::<Grant>(c))?;
    Ok(rows
        .into_iter()
        .map(|g| (g.table_name, g.privileges))
        .collect())
}

fn drift(object: String, table: &str, difference: impl Into<String>) -> Drift {
    Drift::Structure {
        object,
        table: table.to_owned(),
        difference: difference.into(),
    }
}

/// Every difference between `live` and `expected`, object by object.
fn compare(expected: &Shape, live: &Shape) -> Vec<Drift> {
    let mut out = Vec::new();
    let tables = |shape: &Shape| -> BTreeSet<String> {
        shape
            .columns
            .iter()
            .map(|c| c.table_name.clone())
            .filter(|t| !RUNNER_TABLES.contains(&t.as_str()))
            .collect()
    };
    let (want_tables, have_tables) = (tables(expected), tables(live));
    for t in want_tables.difference(&have_tables) {
        out.push(drift(format!("table {t}"), t, "missing"));
    }
    for t in have_tables.difference(&want_tables) {
        out.push(drift(
            format!("table {t}"),
            t,
            "not made by the applied migrations",
        ));
    }
    let columns = |shape: &Shape| {
        shape
            .columns
            .iter()
            .filter(|c| want_tables.contains(&c.table_name) && have_tables.contains(&c.table_name))
            .map(|c| ((c.table_name.clone(), c.column_name.clone()), c.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let (want, have) = (columns(expected), columns(live));
    for ((t, c), w) in &want {
        let object = format!("column {t}.{c}");
        let Some(h) = have.get(&(t.clone(), c.clone())) else {
            out.push(drift(object, t, "missing"));
            continue;
        };
        if h.data_type != w.data_type || h.max_length != w.max_length {
            out.push(drift(
                object.clone(),
                t,
                format!(
                    "type {}({}), expected {}({})",
                    h.data_type, h.max_length, w.data_type, w.max_length
                ),
            ));
        }
        if h.nullable != w.nullable {
            let word = |n: bool| if n { "nullable" } else { "NOT NULL" };
            out.push(drift(
                object.clone(),
                t,
                format!("{}, expected {}", word(h.nullable), word(w.nullable)),
            ));
        }
        let (hd, wd) = (
            normalise_default(&h.column_default),
            normalise_default(&w.column_default),
        );
        if hd != wd {
            out.push(drift(
                object.clone(),
                t,
                format!("default `{hd}`, expected `{wd}`"),
            ));
        }
        if h.collation != w.collation {
            out.push(drift(
                object,
                t,
                format!(
                    "collation {}, expected {}",
                    collation(&h.collation),
                    collation(&w.collation)
                ),
            ));
        }
    }
    for (t, c) in have.keys().filter(|k| !want.contains_key(*k)) {
        out.push(drift(
            format!("column {t}.{c}"),
            t,
            "not made by the applied migrations",
        ));
    }
    let objects = |shape: &Shape| {
        shape
            .objects
            .iter()
            // INVALID indexes are reported as such; runner tables are not the migrations'.
            .filter(|o| o.kind != "index" || o.valid)
            .filter(|o| !RUNNER_TABLES.contains(&o.table_name.as_str()))
            .map(|o| ((o.kind.clone(), o.name.clone()), o.clone()))
            .collect::<BTreeMap<_, Object>>()
    };
    let (want, have) = (objects(expected), objects(live));
    for ((kind, name), w) in &want {
        let object = format!("{kind} {name}");
        let Some(h) = have.get(&(kind.clone(), name.clone())) else {
            out.push(drift(object, &w.table_name, "missing"));
            continue;
        };
        if h.definition != w.definition {
            out.push(drift(
                object.clone(),
                &w.table_name,
                format!("`{}`, expected `{}`", h.definition, w.definition),
            ));
        }
        // Validated where the migrations leave it NOT VALID is stricter, not drift (a
        // constraint cannot be made NOT VALID again, so a revert leaves it so).
        if kind == "constraint" && !h.valid && w.valid {
            out.push(drift(
                object,
                &w.table_name,
                "NOT VALID, expected validated",
            ));
        }
    }
    for ((kind, name), h) in have.iter().filter(|(k, _)| !want.contains_key(*k)) {
        out.push(drift(
            format!("{kind} {name}"),
            &h.table_name,
            "not made by the applied migrations",
        ));
    }
    out
}

/// The app role's privileges compared with what [`ensure_app_role`] grants (when the
/// role exists).
fn compare_grants(role: &str, have: &BTreeMap<String, String>, tables: &[String]) -> Vec<Drift> {
    if have.is_empty() {
        return Vec::new();
    }
    let want = role::expected_grants();
    let mut out = Vec::new();
    for table in tables {
        let expected = want
            .iter()
            .find(|(t, _)| t == table)
            .map_or("", |(_, p)| *p);
        let actual = have.get(table).map_or("", String::as_str);
        if actual != expected {
            let show = |p: &str| {
                if p.is_empty() {
                    "none".to_owned()
                } else {
                    p.to_owned()
                }
            };
            out.push(drift(
                format!("grants of {role} on {table}"),
                table,
                format!("{}, expected {}", show(actual), show(expected)),
            ));
        }
    }
    out
}

/// The structural drift of the live schema against the migrations of `set` that are
/// applied (plus what failed non-transactional runs completed), and of `app_role`'s
/// privileges. Empty on a backend without catalog queries. A probe that fails is
/// reported as one drift entry rather than an error: the record may hold migrations this
/// crate cannot replay.
pub(crate) fn structural_drift(
    conn: &mut DbConnection,
    set: &[Migration],
    applied: &[AppliedMigration],
    app_role: Option<&str>,
) -> Result<Vec<Drift>, MigrationError> {
    let Some(queries) = catalog(conn) else {
        return Ok(Vec::new());
    };
    if applied.is_empty() {
        return Ok(Vec::new());
    }
    let mut ups = Vec::new();
    let mut partial = Vec::new();
    for m in set {
        if applied.iter().any(|r| r.version == m.version) {
            ups.push(m.up);
        } else if !m.runs_in_transaction_on(conn.backend()) {
            let done = progress::completed(conn, m)?;
            if done > 0 {
                partial.push(sql::split_statements(m.up)[..done].join("\n"));
            }
        }
    }
    ups.extend(partial.iter().map(String::as_str));
    let schema = live_schema(conn, queries).context("reading the current schema")?;
    let not_compared = |why: String| Ok(vec![drift("schema".into(), "", why)]);
    let expected = match expected_shape(conn, &schema, &ups) {
        Ok(shape) => shape,
        Err(ProbeError::Replay(source)) => {
            return not_compared(format!(
                "not compared: the applied migrations fail in a probe schema ({source})"
            ));
        }
        Err(ProbeError::Open(source)) => {
            return not_compared(format!(
                "not compared: could not create the probe database ({source}); the runner's user needs CREATE and DROP on it"
            ));
        }
        Err(close) => return Err(close.into_error("running the applied migrations in a probe")),
    };
    let live = read_shape(conn, &schema)
        .context("reading the live schema")?
        .unwrap_or_default();
    let mut out = compare(&expected, &live);
    if let Some(role) = app_role {
        let have = grants(conn, queries, &schema, role).context("reading the app role's grants")?;
        let mut tables: Vec<String> = live.columns.iter().map(|c| c.table_name.clone()).collect();
        tables.dedup();
        out.extend(compare_grants(role, &have, &tables));
    }
    Ok(out)
}

/// The structural drift that a pending migration's SQL names a table of (the app role's
/// grants aside: `migrate` grants them again).
pub(crate) fn touched<'d>(m: &Migration, drift: &'d [Drift]) -> Vec<&'d Drift> {
    let names: BTreeSet<String> = sql::tokens(m.up)
        .iter()
        .filter_map(sql::Token::name)
        .collect();
    drift
        .iter()
        .filter(|d| {
            matches!(d, Drift::Structure { table, object, .. }
                if names.contains(table) && !object.starts_with("grants of "))
        })
        .collect()
}
