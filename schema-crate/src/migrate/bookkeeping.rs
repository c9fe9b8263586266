//! The runner's own table: what was applied, when, with which checksum, and the
//! comparison with an embedded set.

use std::cmp::Ordering;

use diesel::{
    QueryResult, QueryableByName, RunQueryDsl,
    sql_types::{BigInt, Bool, Text},
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
            duration_ms bigint NOT NULL
        )"
    )
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    present: bool,
}

pub(crate) fn bookkeeping_exists(conn: &mut DbConnection) -> QueryResult<bool> {
    fn exists<C: Dialect>(c: &mut C) -> QueryResult<bool>
    where
        Exists: QueryableByName<C::Backend>,
        diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Exists>,
    {
        diesel::sql_query(C::table_exists_sql(BOOKKEEPING_TABLE))
            .get_result::<Exists>(c)
            .map(|e| e.present)
    }
    with_conn!(conn, c => exists(c))
}

/// The migrations the database recorded, oldest first (empty when it never ran one).
pub fn applied(conn: &mut DbConnection) -> QueryResult<Vec<AppliedMigration>> {
    if !bookkeeping_exists(conn)? {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT version, name, checksum, CAST(applied_at AS TEXT) AS applied_at, duration_ms FROM {BOOKKEEPING_TABLE}"
    );
    let mut rows = with_conn!(conn, c => diesel::sql_query(sql).load::<AppliedMigration>(c))?;
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

/// Whether the database has every migration this crate embeds.
pub fn check_schema(conn: &mut DbConnection) -> QueryResult<SchemaCheck> {
    let backend = conn.backend();
    let applied = applied(conn)?;
    let missing: Vec<String> = embedded(backend)
        .iter()
        .filter(|m| !applied.iter().any(|r| r.version == m.version))
        .map(|m| m.version.to_owned())
        .collect();
    let database_version = applied.last().map(|r| r.version.clone());
    Ok(match (missing.is_empty(), database_version) {
        (true, Some(database_version)) => SchemaCheck::Current { database_version },
        (_, database_version) => SchemaCheck::Behind {
            database_version,
            required_version: head_version(backend).to_owned(),
            missing,
        },
    })
}

pub(crate) fn record_sql<C: Dialect>(_: &C) -> String {
    let p = C::param;
    format!(
        "INSERT INTO {BOOKKEEPING_TABLE} (version, name, checksum, duration_ms) VALUES ({}, {}, {}, {})",
        p(1),
        p(2),
        p(3),
        p(4)
    )
}

pub(crate) fn record(conn: &mut DbConnection, m: &Migration, duration_ms: i64) -> QueryResult<()> {
    with_conn!(conn, c => diesel::sql_query(record_sql(c))
        .bind::<Text, _>(m.version)
        .bind::<Text, _>(m.name)
        .bind::<Text, _>(m.checksum())
        .bind::<BigInt, _>(duration_ms)
        .execute(c))
    .map(|_| ())
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
