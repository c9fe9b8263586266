//! Plans a person can approve: what `migrate` would run, its digest, and a rehearsal.
//!
//! The digest is the SHA-256 of what `migrate` would do from the database's current state:
//! the backend, the newest applied version, and each pending migration's version, name,
//! `up.sql` checksum and transaction mode. `migrate` given the digest of an approved plan
//! recomputes it under the lock and refuses when anything differs
//! ([`MigrationError::PlanChanged`]): another migration applied meanwhile, a file changed, a
//! new one arrived.
//!
//! A rehearsal runs the pending transactional migrations, statement by statement, in one
//! transaction that is always rolled back, under the runner lock and a short
//! `lock_timeout` (so it never queues traffic behind it for long), and reports for each
//! statement how long it took, the locks it added and the size of the tables it locked.
//! Migrations that run outside a transaction cannot be rehearsed; they are listed as such.

use std::time::Instant;

use diesel::{
    QueryableByName, RunQueryDsl,
    sql_types::{BigInt, Text},
};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::{migration::hex, runner::up_to, *};
use crate::{
    Backend, DbConnection,
    backend::{Dialect, with_conn},
    transactional,
};

/// How long a rehearsed statement waits for a lock before the rehearsal reports it.
pub const REHEARSAL_LOCK_TIMEOUT_MS: u32 = 2000;

/// The digest of a plan: see the module doc.
pub(crate) fn digest(backend: Backend, from: Option<&str>, pending: &[&Migration]) -> String {
    let mut text = format!(
        "bookstore-schema plan v1\nbackend {}\nfrom {}\n",
        backend.as_str(),
        from.unwrap_or("none")
    );
    for m in pending {
        let mode = if m.runs_in_transaction_on(backend) {
            "transaction"
        } else {
            "statements"
        };
        text.push_str(&format!(
            "{} {} {} {mode}\n",
            m.version,
            m.name,
            m.checksum()
        ));
    }
    hex(&Sha256::digest(text.as_bytes()))
}

/// What a rehearsal found.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Rehearsal {
    /// Each pending migration, in order.
    pub migrations: Vec<RehearsedMigration>,
    /// How long the whole rehearsal took, rollback included.
    pub duration_ms: i64,
}

/// One migration of a rehearsal.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RehearsedMigration {
    /// Version.
    pub version: String,
    /// Name.
    pub name: String,
    /// `rehearsed`, `failed` (a statement failed: see its `error`), `not_rehearsed` (it
    /// runs outside a transaction) or `not_reached` (an earlier migration failed).
    pub outcome: &'static str,
    /// Its statements, as far as they ran.
    pub statements: Vec<RehearsedStatement>,
}

/// One statement of a rehearsal.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RehearsedStatement {
    /// The statement.
    pub sql: String,
    /// How long it took.
    pub duration_ms: i64,
    /// The locks it added (on PostgreSQL; none are reported on SQLite, which locks the
    /// whole database for a write transaction).
    pub locks: Vec<LockTaken>,
    /// The database's message when it failed (a lock it could not get within
    /// [`REHEARSAL_LOCK_TIMEOUT_MS`] included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A lock a rehearsed statement added, with the size of what it locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, QueryableByName)]
#[non_exhaustive]
pub struct LockTaken {
    /// The table, index or sequence.
    #[diesel(sql_type = Text)]
    pub relation: String,
    /// `table`, `index`, `sequence`, `view` or another kind.
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// PostgreSQL's name of the lock mode (`AccessExclusiveLock` blocks every reader).
    #[diesel(sql_type = Text)]
    pub mode: String,
    /// Its size on disk, indexes and TOAST included, at that point of the rehearsal.
    #[diesel(sql_type = BigInt)]
    pub bytes: i64,
    /// The planner's estimate of its rows (-1: never analysed).
    #[diesel(sql_type = BigInt)]
    pub rows_estimate: i64,
}

fn locks_held(conn: &mut DbConnection) -> diesel::QueryResult<Vec<LockTaken>> {
    fn query<C: Dialect>(_: &C) -> Option<&'static str> {
        C::LOCKS_HELD
    }
    let Some(sql) = with_conn!(&mut *conn, c => query(c)) else {
        return Ok(Vec::new());
    };
    let mut locks = with_conn!(conn, c => diesel::sql_query(sql).load::<LockTaken>(c))?;
    locks.retain(|l| l.relation != BOOKKEEPING_TABLE);
    Ok(locks)
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Rehearses `pending` in a transaction that is always rolled back.
fn rehearse(conn: &mut DbConnection, pending: &[&Migration]) -> Result<Rehearsal, MigrationError> {
    enum Stop {
        Done(Vec<RehearsedMigration>),
        Db(diesel::result::Error),
    }
    impl From<diesel::result::Error> for Stop {
        fn from(e: diesel::result::Error) -> Self {
            Self::Db(e)
        }
    }
    fn setup<C: Dialect>(_: &C) -> Option<String> {
        C::rehearsal_setup(REHEARSAL_LOCK_TIMEOUT_MS)
    }
    let started = Instant::now();
    let outcome = transactional(conn, |c| -> Result<(), Stop> {
        if let Some(sql) = with_conn!(&mut *c, c => setup(c)) {
            c.batch_execute(&sql)?;
        }
        let mut out = Vec::new();
        let mut failed = false;
        for m in pending {
            let mut rehearsed = RehearsedMigration {
                version: m.version.to_owned(),
                name: m.name.to_owned(),
                outcome: "rehearsed",
                statements: Vec::new(),
            };
            if failed {
                rehearsed.outcome = "not_reached";
            } else if !m.runs_in_transaction_on(c.backend()) {
                rehearsed.outcome = "not_rehearsed";
            } else {
                for statement in sql::split_statements(m.up) {
                    let before = locks_held(c)?;
                    let t0 = Instant::now();
                    let result = c.batch_execute(statement);
                    let duration_ms = elapsed_ms(t0);
                    let error = result.err().map(|e| e.to_string());
                    let locks = match error {
                        None => locks_held(c)?
                            .into_iter()
                            .filter(|l| {
                                !before
                                    .iter()
                                    .any(|b| b.relation == l.relation && b.mode == l.mode)
                            })
                            .collect(),
                        Some(_) => Vec::new(),
                    };
                    let stop = error.is_some();
                    rehearsed.statements.push(RehearsedStatement {
                        sql: statement.to_owned(),
                        duration_ms,
                        locks,
                        error,
                    });
                    if stop {
                        // The transaction is aborted: nothing after this can run.
                        rehearsed.outcome = "failed";
                        failed = true;
                        break;
                    }
                }
            }
            out.push(rehearsed);
        }
        Err(Stop::Done(out))
    });
    match outcome {
        Err(Stop::Done(migrations)) => Ok(Rehearsal {
            migrations,
            duration_ms: elapsed_ms(started),
        }),
        Err(Stop::Db(source)) => Err(MigrationError::Database {
            context: "rehearsing the plan",
            source,
        }),
        Ok(()) => unreachable!("a rehearsal always rolls back"),
    }
}

impl Runner<'_> {
    /// What [`Runner::migrate_to`] would apply, like [`Runner::plan`].
    pub fn plan_to(&self, conn: &mut DbConnection, version: &str) -> Result<Plan, MigrationError> {
        self.plan_until(conn, Some(version), false)
    }

    /// [`Runner::plan`] (up to `version`, if given) with a rehearsal: the pending
    /// transactional migrations run in a transaction that is rolled back, under the lock.
    /// Refused on MySQL, which commits every DDL statement on its own: nothing could be
    /// rolled back.
    pub fn rehearse(
        &self,
        conn: &mut DbConnection,
        version: Option<&str>,
    ) -> Result<Plan, MigrationError> {
        if !conn.backend().has_transactional_ddl() {
            return Err(MigrationError::Refused(format!(
                "no rehearsal on {}: it commits every DDL statement on its own, so nothing could be rolled back; use plan without a rehearsal (and try the migrations on a copy of the database)",
                conn.backend().as_str()
            )));
        }
        self.plan_until(conn, version, true)
    }

    pub(super) fn plan_until(
        &self,
        conn: &mut DbConnection,
        target: Option<&str>,
        rehearsal: bool,
    ) -> Result<Plan, MigrationError> {
        let plan = |conn: &mut DbConnection| {
            let backend = conn.backend();
            let applied = applied(conn).context("reading the applied migrations")?;
            let mut cmp = compare(self.set(backend), &applied);
            if let Some(target) = target {
                cmp.pending = up_to(self.set(backend), &cmp, target)?;
            }
            let blocked = self.blocked(conn, &cmp.pending)?;
            let rehearsal = match rehearsal {
                true => Some(rehearse(conn, &cmp.pending)?),
                false => None,
            };
            Ok(Plan {
                digest: digest(backend, cmp.current_version.as_deref(), &cmp.pending),
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
                blocked,
                rehearsal,
            })
        };
        match rehearsal {
            true => locked(conn, &self.options, |conn, _| plan(conn)),
            false => plan(conn),
        }
    }
}
