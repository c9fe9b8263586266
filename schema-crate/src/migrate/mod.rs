//! The migration runner shared by the schema Lambda, `schema-admin` and the local server.
//!
//! What it adds to diesel's harness:
//! - **A lock.** On PostgreSQL a session advisory lock serialises runners across
//!   processes; the applied set is read again once the lock is held. Run it on a
//!   *direct* connection: a transaction-pooling proxy does not keep a session lock.
//! - **Checksums.** The SHA-256 of each `up.sql` is recorded; an applied migration whose
//!   SQL changed is refused by [`Runner::migrate`] and reported by [`Runner::status`].
//! - **Order.** A pending migration older than the newest applied one is refused unless
//!   [`RunOptions::allow_out_of_order`] is set.
//! - **Atomic steps.** A migration and its bookkeeping row commit together. A migration
//!   marked `run_in_transaction = false` runs statement by statement and is recorded
//!   only when every statement succeeded; such migrations are written to be re-run.
//! - **Adoption.** [`Runner::baseline`] records migration 1 on a database the Python app built,
//!   after checking its tables column by column.

mod baseline;
mod role;

use std::{
    cmp::Ordering,
    time::{Duration, Instant},
};

use diesel::{
    QueryResult, QueryableByName, RunQueryDsl,
    sql_types::{BigInt, Bool, Text},
};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use self::role::{DEFAULT_APP_ROLE, ensure_app_role};
use crate::{
    Backend, DbConnection,
    backend::{Dialect, with_conn},
    transactional,
};

/// The table where the runner records applied migrations.
pub const BOOKKEEPING_TABLE: &str = "bookstore_schema_migrations";

/// Key of the PostgreSQL advisory lock that serialises runners (`"bookstor"` in ASCII).
pub const ADVISORY_LOCK_KEY: i64 = 0x626f_6f6b_7374_6f72;

/// How long [`Runner::migrate`], [`Runner::revert`] and [`Runner::baseline`] wait for the lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// One migration as embedded in this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Migration {
    /// The folder's leading timestamp, digits only (`20240101000000`).
    pub version: &'static str,
    /// The folder's name after the version.
    pub name: &'static str,
    /// `up.sql`.
    pub up: &'static str,
    /// `down.sql`, if present.
    pub down: Option<&'static str>,
    /// `false` when `metadata.toml` says `run_in_transaction = false`.
    pub run_in_transaction: bool,
}

impl Migration {
    /// A transactional migration with no `down.sql` (synthetic sets in tests; the
    /// embedded ones come from `build.rs`).
    pub const fn new(version: &'static str, name: &'static str, up: &'static str) -> Self {
        Self {
            version,
            name,
            up,
            down: None,
            run_in_transaction: true,
        }
    }

    /// This migration with `down` as its `down.sql`.
    #[must_use]
    pub const fn with_down(mut self, down: &'static str) -> Self {
        self.down = Some(down);
        self
    }

    /// This migration run statement by statement, outside a transaction
    /// (`run_in_transaction = false`).
    #[must_use]
    pub const fn non_transactional(mut self) -> Self {
        self.run_in_transaction = false;
        self
    }

    /// SHA-256 of `up.sql`, hex-encoded: what the bookkeeping table records.
    pub fn checksum(&self) -> String {
        hex(&Sha256::digest(self.up.as_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

mod embedded {
    use super::Migration;
    include!(concat!(env!("OUT_DIR"), "/embedded_migrations.rs"));
}

/// The migrations this crate version carries for `backend`, oldest first.
pub fn embedded(backend: Backend) -> &'static [Migration] {
    embedded::SETS
        .iter()
        .find(|(folder, _)| *folder == backend.as_str())
        .map_or(&[], |(_, set)| set)
}

/// The newest embedded version: the schema version this crate requires.
pub fn head_version(backend: Backend) -> &'static str {
    embedded(backend).last().map_or("0", |m| m.version)
}

fn cmp_versions(a: &str, b: &str) -> Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

/// Why a runner operation failed; each variant names what a person must act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// Another runner held the lock for longer than the timeout.
    #[error(
        "another migration run holds the schema lock; gave up after {waited_ms} ms (retry when it has finished)"
    )]
    LockTimeout {
        /// How long this run waited.
        waited_ms: u128,
    },
    /// An applied migration's SQL differs from what was applied.
    #[error(
        "migration {version} ({name}) was edited after it was applied (recorded checksum {recorded}, embedded {embedded}); restore it and write a new migration instead"
    )]
    ChecksumMismatch {
        /// The migration's version.
        version: String,
        /// Its name.
        name: String,
        /// The checksum the database recorded.
        recorded: String,
        /// The checksum of the embedded SQL.
        embedded: String,
    },
    /// A pending migration is older than the newest applied one.
    #[error(
        "migration {version} ({name}) is pending but older than the newest applied migration {newest_applied}; rename it to a newer version or allow out-of-order migrations explicitly"
    )]
    OutOfOrder {
        /// The pending migration's version.
        version: String,
        /// Its name.
        name: String,
        /// The newest applied version.
        newest_applied: String,
    },
    /// A migration's SQL failed.
    #[error("migration {version} ({name}) failed: {message}{}", if *transactional { "; the database is as it was before this migration" } else { "; it runs outside a transaction, so statements before the failing one stay applied; fix the cause and run migrate again" })]
    MigrationFailed {
        /// The migration's version.
        version: String,
        /// Its name.
        name: String,
        /// The database's message.
        message: String,
        /// Whether it ran in a transaction (and so was rolled back whole).
        transactional: bool,
    },
    /// `baseline` found tables that do not match migration 1.
    #[error("the live tables do not match migration {version}: {}", differences.join("; "))]
    BaselineMismatch {
        /// Migration 1's version.
        version: String,
        /// Each difference, e.g. `review.rate: type integer, expected smallint`.
        differences: Vec<String>,
    },
    /// `baseline` or `revert` cannot run in this state.
    #[error("{0}")]
    Refused(String),
    /// The database failed outside any migration's SQL.
    #[error("database error while {context}: {source}")]
    Database {
        /// What the runner was doing.
        context: &'static str,
        /// The database's error.
        #[source]
        source: diesel::result::Error,
    },
}

impl MigrationError {
    /// The error's type name, as the schema Lambda reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::LockTimeout { .. } => "LockTimeout",
            Self::ChecksumMismatch { .. } => "ChecksumMismatch",
            Self::OutOfOrder { .. } => "OutOfOrder",
            Self::MigrationFailed { .. } => "MigrationFailed",
            Self::BaselineMismatch { .. } => "BaselineMismatch",
            Self::Refused(_) => "Refused",
            Self::Database { .. } => "DatabaseError",
        }
    }
}

trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, MigrationError>;
}

impl<T> Context<T> for QueryResult<T> {
    fn context(self, context: &'static str) -> Result<T, MigrationError> {
        self.map_err(|source| MigrationError::Database { context, source })
    }
}

/// Options for the operations that change the schema.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// How long to wait for another runner's lock.
    pub lock_timeout: Duration,
    /// Apply a pending migration even when a newer one is already applied.
    pub allow_out_of_order: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            allow_out_of_order: false,
        }
    }
}

impl RunOptions {
    /// These options with another lock timeout.
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// These options allowing (or not) a migration older than the newest applied one.
    #[must_use]
    pub fn with_allow_out_of_order(mut self, allow: bool) -> Self {
        self.allow_out_of_order = allow;
        self
    }
}

/// A migration as the database recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, QueryableByName)]
#[non_exhaustive]
pub struct AppliedMigration {
    /// Version.
    #[diesel(sql_type = Text)]
    pub version: String,
    /// Name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// SHA-256 of the `up.sql` that ran.
    #[diesel(sql_type = Text)]
    pub checksum: String,
    /// When it was applied (database clock, UTC).
    #[diesel(sql_type = Text)]
    pub applied_at: String,
    /// How long it took.
    #[diesel(sql_type = BigInt)]
    pub duration_ms: i64,
}

/// A migration by version and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MigrationRef {
    /// Version.
    pub version: String,
    /// Name.
    pub name: String,
}

impl From<&PlannedMigration> for MigrationRef {
    fn from(m: &PlannedMigration) -> Self {
        Self {
            version: m.version.clone(),
            name: m.name.clone(),
        }
    }
}

impl From<&Migration> for MigrationRef {
    fn from(m: &Migration) -> Self {
        Self {
            version: m.version.to_owned(),
            name: m.name.to_owned(),
        }
    }
}

/// A difference between the database's record and the embedded migrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Drift {
    /// An applied migration's SQL changed since.
    ChecksumMismatch {
        /// Version.
        version: String,
        /// Name.
        name: String,
    },
    /// The database has a migration this crate does not know (it is ahead).
    UnknownApplied {
        /// Version.
        version: String,
        /// Name as recorded.
        name: String,
    },
    /// A pending migration is older than the newest applied one.
    OutOfOrder {
        /// Version.
        version: String,
        /// Name.
        name: String,
    },
}

/// What [`Runner::status`] reports.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// The backend.
    pub backend: Backend,
    /// Newest applied version, `None` for an empty database.
    pub current_version: Option<String>,
    /// Newest embedded version.
    pub head_version: String,
    /// Applied migrations, oldest first.
    pub applied: Vec<AppliedMigration>,
    /// Embedded migrations not yet applied.
    pub pending: Vec<MigrationRef>,
    /// Differences between the record and the embedded set.
    pub drift: Vec<Drift>,
}

/// A migration [`Runner::plan`] would apply.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct PlannedMigration {
    /// Version.
    pub version: String,
    /// Name.
    pub name: String,
    /// Whether it runs in one transaction.
    pub run_in_transaction: bool,
    /// Its `up.sql`.
    pub sql: String,
}

/// What [`Runner::plan`] reports.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// Newest applied version.
    pub current_version: Option<String>,
    /// What `migrate` would apply, in order.
    pub pending: Vec<PlannedMigration>,
    /// Differences that would make `migrate` refuse or warn.
    pub drift: Vec<Drift>,
}

/// A migration applied or reverted, with how long it took.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Step {
    /// Version.
    pub version: String,
    /// Name.
    pub name: String,
    /// Duration.
    pub duration_ms: i64,
}

/// What [`Runner::migrate`] and [`Runner::revert`] report.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RunReport {
    /// Newest applied version before the run.
    pub version_before: Option<String>,
    /// Newest applied version after it.
    pub version_after: Option<String>,
    /// Migrations applied (or reverted) in this run, in order.
    pub steps: Vec<Step>,
    /// Embedded migrations still pending.
    pub pending: Vec<MigrationRef>,
    /// Differences found (e.g. migrations the database has and this crate does not).
    pub drift: Vec<Drift>,
}

/// Whether a database has every migration this crate embeds (checked by functions at cold start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SchemaCheck {
    /// Every embedded migration is applied (the database may have newer ones too).
    Current {
        /// Newest applied version.
        database_version: String,
    },
    /// Some embedded migrations are missing.
    Behind {
        /// Newest applied version, `None` when nothing is applied.
        database_version: Option<String>,
        /// The version this crate requires.
        required_version: String,
        /// Missing versions.
        missing: Vec<String>,
    },
}

fn bookkeeping_ddl<C: Dialect>(_: &C) -> String {
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

fn bookkeeping_exists(conn: &mut DbConnection) -> QueryResult<bool> {
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
struct Comparison<'m> {
    pending: Vec<&'m Migration>,
    drift: Vec<Drift>,
    mismatches: Vec<MigrationError>,
    current_version: Option<String>,
}

fn compare<'m>(embedded: &'m [Migration], applied: &[AppliedMigration]) -> Comparison<'m> {
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

/// Runs `work` while holding the runner lock (a no-op lock on SQLite, whose local
/// server is the only runner), with the bookkeeping table in place.
fn locked<T>(
    conn: &mut DbConnection,
    options: &RunOptions,
    work: impl FnOnce(&mut DbConnection) -> Result<T, MigrationError>,
) -> Result<T, MigrationError> {
    let started = Instant::now();
    loop {
        let got = with_conn!(&mut *conn, c => c.try_lock(ADVISORY_LOCK_KEY))
            .context("taking the schema lock")?;
        if got {
            break;
        }
        if started.elapsed() >= options.lock_timeout {
            return Err(MigrationError::LockTimeout {
                waited_ms: started.elapsed().as_millis(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ddl = with_conn!(&mut *conn, c => bookkeeping_ddl(c));
    let result = conn
        .batch_execute(&ddl)
        .context("creating the bookkeeping table")
        .and_then(|()| work(conn));
    // Closing the session would release it too; unlock so a pooled caller can go on.
    if let Err(error) = with_conn!(&mut *conn, c => c.unlock(ADVISORY_LOCK_KEY)) {
        tracing::warn!(error = %error, "could not release the schema lock; it goes with the session");
    }
    result
}

fn record_sql<C: Dialect>(_: &C) -> String {
    let p = C::param;
    format!(
        "INSERT INTO {BOOKKEEPING_TABLE} (version, name, checksum, duration_ms) VALUES ({}, {}, {}, {})",
        p(1),
        p(2),
        p(3),
        p(4)
    )
}

fn record(conn: &mut DbConnection, m: &Migration, duration_ms: i64) -> QueryResult<()> {
    with_conn!(conn, c => diesel::sql_query(record_sql(c))
        .bind::<Text, _>(m.version)
        .bind::<Text, _>(m.name)
        .bind::<Text, _>(m.checksum())
        .bind::<BigInt, _>(duration_ms)
        .execute(c))
    .map(|_| ())
}

fn unrecord_sql<C: Dialect>(_: &C) -> String {
    format!(
        "DELETE FROM {BOOKKEEPING_TABLE} WHERE version = {}",
        C::param(1)
    )
}

fn unrecord(conn: &mut DbConnection, version: &str) -> QueryResult<()> {
    with_conn!(conn, c => diesel::sql_query(unrecord_sql(c)).bind::<Text, _>(version).execute(c))
        .map(|_| ())
}

fn applied_after(conn: &mut DbConnection) -> Result<Option<String>, MigrationError> {
    Ok(applied(conn)
        .context("reading the applied migrations")?
        .last()
        .map(|r| r.version.clone()))
}

/// Splits a non-transactional migration into statements: PostgreSQL runs a
/// multi-statement string as one implicit transaction, which `CONCURRENTLY` refuses.
/// Statements end with `;` at the end of a line; no `$$` bodies in such migrations.
fn split_statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            statements.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        statements.push(current);
    }
    statements
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Runs one migration's SQL (`up` or `down`) and its bookkeeping change as one step.
fn run_step(
    conn: &mut DbConnection,
    m: &Migration,
    sql: &str,
    bookkeeping: impl Fn(&mut DbConnection, i64) -> QueryResult<()>,
) -> Result<Step, MigrationError> {
    let started = Instant::now();
    let failed = |source: diesel::result::Error| MigrationError::MigrationFailed {
        version: m.version.to_owned(),
        name: m.name.to_owned(),
        message: source.to_string(),
        transactional: m.run_in_transaction,
    };
    if m.run_in_transaction {
        transactional(conn, |c| {
            c.batch_execute(sql)?;
            bookkeeping(c, elapsed_ms(started))
        })
        .map_err(failed)?;
    } else {
        for statement in split_statements(sql) {
            conn.batch_execute(&statement).map_err(failed)?;
        }
        bookkeeping(conn, elapsed_ms(started))
            .context("recording a non-transactional migration")?;
    }
    let step = Step {
        version: m.version.to_owned(),
        name: m.name.to_owned(),
        duration_ms: elapsed_ms(started),
    };
    tracing::info!(migration.version = %step.version, migration.name = %step.name, duration_ms = step.duration_ms, "migration step done");
    Ok(step)
}

/// Runs the operations over a set of migrations: by default the ones embedded for the
/// connection's backend.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Runner<'m> {
    migrations: Option<&'m [Migration]>,
    options: RunOptions,
}

impl<'m> Runner<'m> {
    /// A runner over the embedded migrations.
    pub fn new(options: RunOptions) -> Self {
        Self {
            migrations: None,
            options,
        }
    }

    /// A runner over another set (tests, or tooling that reads migrations elsewhere).
    pub fn with_migrations(migrations: &'m [Migration], options: RunOptions) -> Self {
        Self {
            migrations: Some(migrations),
            options,
        }
    }

    fn set(&self, backend: Backend) -> &'m [Migration] {
        self.migrations.unwrap_or_else(|| embedded(backend))
    }

    /// Applied, pending and drift, without taking the lock or changing anything.
    pub fn status(&self, conn: &mut DbConnection) -> Result<Status, MigrationError> {
        let backend = conn.backend();
        let applied = applied(conn).context("reading the applied migrations")?;
        let cmp = compare(self.set(backend), &applied);
        Ok(Status {
            backend,
            current_version: cmp.current_version,
            head_version: self
                .set(backend)
                .last()
                .map_or_else(String::new, |m| m.version.to_owned()),
            pending: cmp.pending.iter().map(|m| MigrationRef::from(*m)).collect(),
            drift: cmp.drift,
            applied,
        })
    }

    /// What [`Runner::migrate`] would apply, with the SQL, without changing anything.
    pub fn plan(&self, conn: &mut DbConnection) -> Result<Plan, MigrationError> {
        let applied = applied(conn).context("reading the applied migrations")?;
        let cmp = compare(self.set(conn.backend()), &applied);
        Ok(Plan {
            current_version: cmp.current_version,
            pending: cmp
                .pending
                .iter()
                .map(|m| PlannedMigration {
                    version: m.version.to_owned(),
                    name: m.name.to_owned(),
                    run_in_transaction: m.run_in_transaction,
                    sql: m.up.to_owned(),
                })
                .collect(),
            drift: cmp.drift,
        })
    }

    /// Applies every pending migration, in order, under the lock.
    pub fn migrate(&self, conn: &mut DbConnection) -> Result<RunReport, MigrationError> {
        locked(conn, &self.options, |conn| {
            let backend = conn.backend();
            // Read again under the lock: another runner may have just finished.
            let applied = applied(conn).context("reading the applied migrations")?;
            let mut cmp = compare(self.set(backend), &applied);
            if !cmp.mismatches.is_empty() {
                return Err(cmp.mismatches.remove(0));
            }
            let older = cmp.current_version.as_deref().and_then(|newest| {
                cmp.pending
                    .iter()
                    .find(|m| cmp_versions(m.version, newest) == Ordering::Less)
                    .map(|m| (newest, m))
            });
            if let (false, Some((newest, m))) = (self.options.allow_out_of_order, older) {
                return Err(MigrationError::OutOfOrder {
                    version: m.version.to_owned(),
                    name: m.name.to_owned(),
                    newest_applied: newest.to_owned(),
                });
            }
            let mut steps = Vec::new();
            for m in &cmp.pending {
                steps.push(run_step(conn, m, m.up, |c, ms| record(c, m, ms))?);
            }
            let after = applied_after(conn)?;
            let drift = cmp
                .drift
                .into_iter()
                .filter(|d| !matches!(d, Drift::OutOfOrder { .. }))
                .collect();
            Ok(RunReport {
                version_before: cmp.current_version,
                version_after: after,
                steps,
                pending: Vec::new(),
                drift,
            })
        })
    }

    /// Reverts the newest `count` applied migrations with their `down.sql`, newest first.
    pub fn revert(
        &self,
        conn: &mut DbConnection,
        count: usize,
    ) -> Result<RunReport, MigrationError> {
        locked(conn, &self.options, |conn| {
            let backend = conn.backend();
            let recorded = applied(conn).context("reading the applied migrations")?;
            if count > recorded.len() {
                return Err(MigrationError::Refused(format!(
                    "cannot revert {count} migrations: only {} are applied",
                    recorded.len()
                )));
            }
            let before = recorded.last().map(|r| r.version.clone());
            let mut steps = Vec::new();
            for row in recorded.iter().rev().take(count) {
                let m = self.set(backend).iter().find(|m| m.version == row.version).ok_or_else(|| {
                    MigrationError::Refused(format!(
                        "cannot revert {} ({}): this crate version does not embed it; revert with the crate version that applied it",
                        row.version, row.name
                    ))
                })?;
                if m.checksum() != row.checksum.trim() {
                    return Err(MigrationError::ChecksumMismatch {
                        version: row.version.clone(),
                        name: m.name.to_owned(),
                        recorded: row.checksum.trim().to_owned(),
                        embedded: m.checksum(),
                    });
                }
                let down = m.down.ok_or_else(|| {
                    MigrationError::Refused(format!(
                        "cannot revert {} ({}): it has no down.sql",
                        m.version, m.name
                    ))
                })?;
                steps.push(run_step(conn, m, down, |c, _| unrecord(c, m.version))?);
            }
            let after = applied_after(conn)?;
            let cmp = compare(
                self.set(backend),
                &applied(conn).context("reading the applied migrations")?,
            );
            Ok(RunReport {
                version_before: before,
                version_after: after,
                steps,
                pending: cmp.pending.iter().map(|m| MigrationRef::from(*m)).collect(),
                drift: cmp.drift,
            })
        })
    }

    /// Records migration 1 as applied on a database whose tables match it exactly (a
    /// database the Python bookstore created). Refuses on SQLite, on a database with any
    /// migration recorded, and, listing each difference, when the tables differ.
    pub fn baseline(&self, conn: &mut DbConnection) -> Result<RunReport, MigrationError> {
        baseline::baseline(conn, self.set(Backend::Postgres), &self.options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_embed_the_same_versions_in_order() {
        let versions = |b| embedded(b).iter().map(|m| m.version).collect::<Vec<_>>();
        assert_eq!(versions(Backend::Postgres), versions(Backend::Sqlite));
        let pg = versions(Backend::Postgres);
        assert!(pg.len() >= 4, "{pg:?}");
        assert!(
            pg.windows(2)
                .all(|w| cmp_versions(w[0], w[1]) == Ordering::Less)
        );
        assert_eq!(head_version(Backend::Postgres), *pg.last().unwrap());
    }

    #[test]
    fn the_concurrent_index_migration_is_marked_non_transactional() {
        let m = embedded(Backend::Postgres)
            .iter()
            .find(|m| m.up.contains("CONCURRENTLY"))
            .unwrap();
        assert!(!m.run_in_transaction);
        assert!(embedded(Backend::Postgres)[0].run_in_transaction);
    }

    #[test]
    fn checksums_are_sha256_of_up_sql() {
        let m = Migration {
            version: "1",
            name: "x",
            up: "abc",
            down: None,
            run_in_transaction: true,
        };
        assert_eq!(
            m.checksum(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn statements_split_on_line_ends_skipping_comments() {
        let parts = split_statements(
            "-- note\nDROP INDEX CONCURRENTLY IF EXISTS i;\nCREATE INDEX CONCURRENTLY i\n  ON t (c);\n",
        );
        assert_eq!(
            parts,
            vec![
                "DROP INDEX CONCURRENTLY IF EXISTS i;\n",
                "CREATE INDEX CONCURRENTLY i\n  ON t (c);\n"
            ]
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(cmp_versions("9", "10"), Ordering::Less);
        assert_eq!(
            cmp_versions("20240201000000", "20240101000000"),
            Ordering::Greater
        );
    }
}
