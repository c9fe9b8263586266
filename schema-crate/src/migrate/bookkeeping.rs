//! The runner's own table: what was applied, when, with which checksum, and the
//! comparison with an embedded set.

use std::cmp::Ordering;

use diesel::{
    QueryResult, QueryableByName, RunQueryDsl,
    sql_types::{BigInt, Bool, Nullable, Text},
};

use super::*;
use crate::{
    DbConnection,
    backend::{Dialect, with_conn},
};

pub(crate) fn bookkeeping_ddl<C: Dialect>(_: &C) -> String {
    let ts = C::TIMESTAMP_DDL;
    format!(
        "CREATE TABLE IF NOT EXISTS {BOOKKEEPING_TABLE} (
            version varchar(50) PRIMARY KEY NOT NULL,
            name text NOT NULL,
            checksum char(64) NOT NULL,
            applied_at {ts},
            duration_ms bigint NOT NULL,
            phase varchar(16),
            floor varchar(40),
            crate_version varchar(40),
            down_checksum char(64)
        )"
    )
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    present: bool,
}

pub(crate) fn bookkeeping_exists(conn: &mut DbConnection) -> QueryResult<bool> {
    table_exists(conn, BOOKKEEPING_TABLE)
}

/// Whether `table` exists.
pub(crate) fn table_exists(conn: &mut DbConnection, table: &str) -> QueryResult<bool> {
    fn exists<C: Dialect>(c: &mut C, table: &str) -> QueryResult<bool>
    where
        Exists: QueryableByName<C::Backend>,
        diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Exists>,
    {
        diesel::sql_query(C::table_exists_sql(table))
            .get_result::<Exists>(c)
            .map(|e| e.present)
    }
    with_conn!(conn, c => exists(c, table))
}

/// The columns 2.0.0 added to the bookkeeping table (1.x runners created it without them).
pub(crate) const PHASE_COLUMNS: [(&str, &str); 3] = [
    ("phase", "varchar(16)"),
    ("floor", "varchar(40)"),
    ("crate_version", "varchar(40)"),
];

/// The SHA-256 of `down.sql` as applied (2.0.0 runners created the table without it);
/// `revert` refuses a `down.sql` that changed since.
pub(crate) const DOWN_CHECKSUM_COLUMN: (&str, &str) = ("down_checksum", "char(64)");

/// The migrations the database recorded, oldest first (empty when it never ran one).
///
/// One statement on a current record. A record an older runner kept lacks the newer
/// columns; it is read again without them (and its database is behind this crate, whose
/// runner adds them).
pub(crate) fn applied(conn: &mut DbConnection) -> QueryResult<Vec<AppliedMigration>> {
    fn text<C: Dialect>(_: &C) -> &'static str {
        C::TEXT_TYPE
    }
    let text = with_conn!(&mut *conn, c => text(c));
    let base = format!(
        "SELECT version, name, checksum, CAST(applied_at AS {text}) AS applied_at, duration_ms"
    );
    let shapes = [
        "phase, floor, crate_version, down_checksum",
        // 2.0.0
        "phase, floor, crate_version, NULL AS down_checksum",
        // 1.x
        "NULL AS phase, NULL AS floor, NULL AS crate_version, NULL AS down_checksum",
    ];
    let read = |conn: &mut DbConnection, columns: &str| {
        let sql = format!("{base}, {columns} FROM {BOOKKEEPING_TABLE}");
        with_conn!(conn, c => diesel::sql_query(&sql).load::<AppliedMigration>(c))
    };
    let mut rows = match read(conn, shapes[0]) {
        Ok(rows) => rows,
        Err(error) => {
            if !bookkeeping_exists(conn)? {
                return Ok(Vec::new());
            }
            shapes[1..]
                .iter()
                .find_map(|columns| read(conn, columns).ok())
                .ok_or(error)?
        }
    };
    rows.sort_by(|a, b| cmp_versions(&a.version, &b.version));
    Ok(rows)
}

/// Compares the record with the embedded set.
pub(crate) struct Comparison<'m> {
    pub(crate) pending: Vec<&'m Migration>,
    pub(crate) drift: Vec<Drift>,
    pub(crate) mismatches: Vec<MigrationError>,
    pub(crate) current_version: Option<String>,
}

pub(crate) fn compare<'m>(
    embedded: &'m [Migration],
    applied: &[AppliedMigration],
) -> Comparison<'m> {
    let mut drift = Vec::new();
    let mut mismatches = Vec::new();
    for row in applied {
        match embedded.iter().find(|m| m.version == row.version) {
            Some(m) => {
                let checksum = m.checksum();
                if checksum != row.checksum.trim() {
                    drift.push(Drift::ChecksumMismatch {
                        version: row.version.clone(),
                        name: m.name.to_owned(),
                    });
                    mismatches.push(MigrationError::ChecksumMismatch {
                        version: row.version.clone(),
                        name: m.name.to_owned(),
                        recorded: row.checksum.trim().to_owned(),
                        embedded: checksum,
                    });
                }
            }
            None => drift.push(Drift::UnknownApplied {
                version: row.version.clone(),
                name: row.name.clone(),
            }),
        }
    }
    let current_version = applied.last().map(|r| r.version.clone());
    let pending: Vec<_> = embedded
        .iter()
        .filter(|m| !applied.iter().any(|r| r.version == m.version))
        .collect();
    if let Some(newest) = &current_version {
        for m in &pending {
            if cmp_versions(m.version, newest) == Ordering::Less {
                drift.push(Drift::OutOfOrder {
                    version: m.version.to_owned(),
                    name: m.name.to_owned(),
                });
            }
        }
    }
    Comparison {
        pending,
        drift,
        mismatches,
        current_version,
    }
}

/// Whether this crate version can work on the database: [`SchemaCheck::Behind`] when it
/// lacks migrations this crate embeds, [`SchemaCheck::Incompatible`] when a contract
/// migration applied there has a floor above this crate's version, else
/// [`SchemaCheck::Current`] (the database may be ahead by expand migrations). One
/// statement; a function runs it at cold start, as its DML-only role.
pub fn check_schema(conn: &mut DbConnection) -> QueryResult<SchemaCheck> {
    let backend = conn.backend();
    check_schema_against(conn, embedded(backend), crate::VERSION)
}

/// [`check_schema`] for another migration set and crate version (tooling and tests).
pub fn check_schema_against(
    conn: &mut DbConnection,
    set: &[Migration],
    crate_version: &str,
) -> QueryResult<SchemaCheck> {
    let applied = applied(conn)?;
    let missing: Vec<String> = set
        .iter()
        .filter(|m| !applied.iter().any(|r| r.version == m.version))
        .map(|m| m.version.to_owned())
        .collect();
    let database_version = applied.last().map(|r| r.version.clone());
    let Some(database_version) = database_version.filter(|_| missing.is_empty()) else {
        return Ok(SchemaCheck::Behind {
            database_version: applied.last().map(|r| r.version.clone()),
            required_version: set.last().map_or("0", |m| m.version).to_owned(),
            missing,
        });
    };
    let past = applied.iter().find_map(|row| {
        let floor = row
            .floor
            .as_deref()
            .filter(|_| row.phase.as_deref() == Some("contract"))?;
        compat::below(crate_version, floor).then(|| (row.version.clone(), floor.to_owned()))
    });
    Ok(match past {
        Some((contract_version, floor)) => SchemaCheck::Incompatible {
            database_version,
            contract_version,
            floor,
            crate_version: crate_version.to_owned(),
        },
        None => SchemaCheck::Current { database_version },
    })
}

pub(crate) fn record_sql<C: Dialect>(_: &C) -> String {
    let p = C::param;
    format!(
        "INSERT INTO {BOOKKEEPING_TABLE} (version, name, checksum, duration_ms, phase, floor, crate_version, down_checksum) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {})",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        p(8)
    )
}

pub(crate) fn record(conn: &mut DbConnection, m: &Migration, duration_ms: i64) -> QueryResult<()> {
    with_conn!(conn, c => diesel::sql_query(record_sql(c))
        .bind::<Text, _>(m.version)
        .bind::<Text, _>(m.name)
        .bind::<Text, _>(m.checksum())
        .bind::<BigInt, _>(duration_ms)
        .bind::<Text, _>(m.phase.as_str())
        .bind::<Nullable<Text>, _>(m.phase.floor())
        .bind::<Text, _>(crate::VERSION)
        .bind::<Nullable<Text>, _>(m.down_checksum())
        .execute(c))
    .map(|_| ())
}

/// Brings a bookkeeping table an older runner created up to this version: the phase
/// columns and the down checksum, each known migration's phase and floor where none is
/// recorded, and its `down.sql` checksum where none is recorded and its `up.sql` is the
/// one applied (the `down.sql` this first run of a newer runner sees is taken as the
/// applied one: there is no older record to check it against).
pub(crate) fn upgrade_bookkeeping(conn: &mut DbConnection, set: &[Migration]) -> QueryResult<()> {
    for (column, ddl) in PHASE_COLUMNS.into_iter().chain([DOWN_CHECKSUM_COLUMN]) {
        with_conn!(&mut *conn, c => c.add_column_if_missing(BOOKKEEPING_TABLE, column, ddl))?;
    }
    let (phase, down) = with_conn!(&mut *conn, c => (backfill_sql(c), backfill_down_sql(c)));
    for m in set {
        with_conn!(&mut *conn, c => diesel::sql_query(&phase)
            .bind::<Text, _>(m.phase.as_str())
            .bind::<Nullable<Text>, _>(m.phase.floor())
            .bind::<Text, _>(m.version)
            .execute(c))?;
        if let Some(checksum) = m.down_checksum() {
            with_conn!(&mut *conn, c => diesel::sql_query(&down)
                .bind::<Text, _>(checksum)
                .bind::<Text, _>(m.version)
                .bind::<Text, _>(m.checksum())
                .execute(c))?;
        }
    }
    Ok(())
}

fn backfill_sql<C: Dialect>(_: &C) -> String {
    format!(
        "UPDATE {BOOKKEEPING_TABLE} SET phase = {}, floor = {} WHERE version = {} AND phase IS NULL",
        C::param(1),
        C::param(2),
        C::param(3)
    )
}

fn backfill_down_sql<C: Dialect>(_: &C) -> String {
    format!(
        "UPDATE {BOOKKEEPING_TABLE} SET down_checksum = {} \
         WHERE version = {} AND down_checksum IS NULL AND checksum = {}",
        C::param(1),
        C::param(2),
        C::param(3)
    )
}

pub(crate) fn unrecord_sql<C: Dialect>(_: &C) -> String {
    format!(
        "DELETE FROM {BOOKKEEPING_TABLE} WHERE version = {}",
        C::param(1)
    )
}

pub(crate) fn unrecord(conn: &mut DbConnection, version: &str) -> QueryResult<()> {
    with_conn!(conn, c => diesel::sql_query(unrecord_sql(c)).bind::<Text, _>(version).execute(c))
        .map(|_| ())
}

pub(crate) fn applied_after(conn: &mut DbConnection) -> Result<Option<String>, MigrationError> {
    Ok(applied(conn)
        .context("reading the applied migrations")?
        .last()
        .map(|r| r.version.clone()))
}
