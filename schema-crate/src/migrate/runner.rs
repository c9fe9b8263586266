//! [`Runner`]: status, plan, migrate, revert and baseline over a set of migrations.

// About 500 lines with its unit tests: the operations share `RunOptions` (its builders are
// a third of the file), the comparison and the step logic; revert, plan, progress and
// structural drift have files of their own.

use std::{
    cmp::Ordering,
    time::{Duration, Instant},
};

use diesel::QueryResult;

use super::{
    retry::{Budget, StepId, retrying},
    *,
};
use crate::{Backend, DbConnection, transactional};

/// One of the runner's own steps (the bookkeeping upgrade, the app role) under the
/// session's timeouts, retried after lock conflicts like a migration.
fn runner_step(
    conn: &mut DbConnection,
    budget: &Budget,
    version: &str,
    name: &str,
    work: impl FnMut(&mut DbConnection) -> Result<(), MigrationError>,
) -> Result<(), MigrationError> {
    let id = StepId {
        version,
        name,
        lock_timeout: None,
        statement_timeout: None,
    };
    retrying(conn, budget, &id, work).map(|((), _)| ())
}

/// Options for the operations that change the schema.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// How long to wait for another runner's lock.
    pub lock_timeout: Duration,
    /// Apply a pending migration even when a newer one is already applied.
    pub allow_out_of_order: bool,
    /// How recently a function must have recorded itself to count as live.
    pub pin_window: Duration,
    /// Apply contract migrations, and revert migrations, that live functions still need:
    /// an operator's explicit override of the compatibility window.
    pub ignore_live_pins: bool,
    /// `lock_timeout` for every statement the runner sends: a migration that waits longer
    /// for a table's lock gives way (the readers queued behind it go on) and is retried.
    /// A migration's `metadata.toml` may set its own.
    pub step_lock_timeout: Duration,
    /// `statement_timeout` for every statement the runner sends (a migration's
    /// `metadata.toml` may set its own).
    pub step_statement_timeout: Duration,
    /// How long the run may spend, in all, retrying steps that could not get their locks
    /// before it fails with [`MigrationError::LockNotAvailable`].
    pub max_lock_wait: Duration,
    /// A hard end for the run (a Lambda invocation's deadline minus a margin): no retry
    /// starts and no statement runs past it, so the run fails typed before its caller
    /// kills it.
    pub deadline: Option<Instant>,
    /// The app role [`Runner::migrate`] ensures, under the lock, after the migrations
    /// ([`ensure_app_role`]), and whose privileges `status` compares with what it grants;
    /// `None` to leave roles alone.
    pub app_role: Option<String>,
    /// Accept a session the server sees coming from a socket this process does not own:
    /// a plain TCP relay (an SSH tunnel, SSM port forwarding, docker-proxy) that keeps
    /// one server session per client. The standby and same-backend checks still apply.
    pub allow_tcp_relay: bool,
    /// Revert although `down.sql` drops tables or columns that hold data: an operator's
    /// explicit decision (after a backup).
    pub allow_data_loss: bool,
    /// The digest of the plan an operator approved: `migrate` refuses
    /// ([`MigrationError::PlanChanged`]) when what it would do differs.
    pub expected_digest: Option<String>,
    /// Apply pending migrations that touch tables whose structure drifted: an operator's
    /// explicit override.
    pub ignore_drift: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            allow_out_of_order: false,
            pin_window: DEFAULT_PIN_WINDOW,
            ignore_live_pins: false,
            step_lock_timeout: DEFAULT_STEP_LOCK_TIMEOUT,
            step_statement_timeout: DEFAULT_STEP_STATEMENT_TIMEOUT,
            max_lock_wait: DEFAULT_MAX_LOCK_WAIT,
            deadline: None,
            app_role: None,
            allow_tcp_relay: false,
            allow_data_loss: false,
            expected_digest: None,
            ignore_drift: false,
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

    /// These options with another window for live functions.
    #[must_use]
    pub fn with_pin_window(mut self, window: Duration) -> Self {
        self.pin_window = window;
        self
    }

    /// These options overriding (or not) the live functions' compatibility window.
    #[must_use]
    pub fn with_ignore_live_pins(mut self, ignore: bool) -> Self {
        self.ignore_live_pins = ignore;
        self
    }

    /// These options with another default `lock_timeout` per step.
    #[must_use]
    pub fn with_step_lock_timeout(mut self, timeout: Duration) -> Self {
        self.step_lock_timeout = timeout;
        self
    }

    /// These options with another default `statement_timeout` per step.
    #[must_use]
    pub fn with_step_statement_timeout(mut self, timeout: Duration) -> Self {
        self.step_statement_timeout = timeout;
        self
    }

    /// These options with another budget for retrying steps that could not get their locks.
    #[must_use]
    pub fn with_max_lock_wait(mut self, budget: Duration) -> Self {
        self.max_lock_wait = budget;
        self
    }

    /// These options with a hard end for the run.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// These options accepting (or not) a session relayed by a plain TCP relay.
    #[must_use]
    pub fn with_allow_tcp_relay(mut self, allow: bool) -> Self {
        self.allow_tcp_relay = allow;
        self
    }

    /// These options ensuring (or not) an app role under the lock after `migrate`.
    #[must_use]
    pub fn with_app_role(mut self, role: Option<String>) -> Self {
        self.app_role = role;
        self
    }

    /// These options allowing (or not) a revert to drop tables or columns holding data.
    #[must_use]
    pub fn with_allow_data_loss(mut self, allow: bool) -> Self {
        self.allow_data_loss = allow;
        self
    }

    /// These options applying only the plan whose digest is `digest` (`None`: any).
    #[must_use]
    pub fn with_expected_digest(mut self, digest: Option<String>) -> Self {
        self.expected_digest = digest;
        self
    }

    /// These options applying (or not) migrations that touch drifted tables.
    #[must_use]
    pub fn with_ignore_drift(mut self, ignore: bool) -> Self {
        self.ignore_drift = ignore;
        self
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// [`run_step`] under the step's timeouts, retried after lock conflicts ([`retry`]).
pub(super) fn run_step_retrying(
    conn: &mut DbConnection,
    budget: &Budget,
    m: &Migration,
    sql: &str,
    guard_data: bool,
    bookkeeping: impl Fn(&mut DbConnection, i64) -> QueryResult<()>,
) -> Result<Step, MigrationError> {
    let started = Instant::now();
    let id = StepId {
        version: m.version,
        name: m.name,
        lock_timeout: m.lock_timeout,
        statement_timeout: m.statement_timeout,
    };
    let (mut step, attempts) = retrying(conn, budget, &id, |conn| {
        run_step(conn, m, sql, guard_data, |c, _| {
            bookkeeping(c, elapsed_ms(started))
        })
    })?;
    step.duration_ms = elapsed_ms(started);
    step.retries = attempts.retries;
    step.lock_wait_ms = i64::try_from(attempts.lock_wait.as_millis()).unwrap_or(i64::MAX);
    Ok(step)
}

/// Why a step's transaction ended early: its SQL failed, or a guard refused it.
enum StepError {
    Sql(diesel::result::Error),
    Refused(MigrationError),
}

impl From<diesel::result::Error> for StepError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Sql(e)
    }
}

/// Runs one migration's SQL (`up` or `down`) and its bookkeeping change as one step.
/// With `guard_data` (a revert not allowed to lose data), a step that would drop a table
/// or a column holding data is refused, and in a transaction nothing of it stays.
pub(super) fn run_step(
    conn: &mut DbConnection,
    m: &Migration,
    sql: &str,
    guard_data: bool,
    bookkeeping: impl Fn(&mut DbConnection, i64) -> QueryResult<()>,
) -> Result<Step, MigrationError> {
    let started = Instant::now();
    let in_transaction = m.runs_in_transaction_on(conn.backend());
    let failed = |message: String| MigrationError::MigrationFailed {
        version: m.version.to_owned(),
        name: m.name.to_owned(),
        message,
        transactional: in_transaction,
    };
    let refuse = |losses: Vec<String>| MigrationError::DataLoss {
        version: m.version.to_owned(),
        name: m.name.to_owned(),
        losses,
    };
    let mut statements_skipped = 0;
    if in_transaction {
        transactional(conn, |c| -> Result<(), StepError> {
            let before = guard_data
                .then(|| data_loss::snapshot(c, sql))
                .transpose()
                .context("reading what the revert would drop")
                .map_err(StepError::Refused)?;
            c.batch_execute(sql)?;
            if let Some(before) = before {
                let losses = data_loss::lost(c, &before)
                    .context("reading what the revert dropped")
                    .map_err(StepError::Refused)?;
                if !losses.is_empty() {
                    return Err(StepError::Refused(refuse(losses)));
                }
            }
            Ok(bookkeeping(c, elapsed_ms(started))?)
        })
        .map_err(|e| match e {
            StepError::Sql(e) => failed(e.to_string()),
            StepError::Refused(e) => e,
        })?;
    } else {
        if guard_data {
            let losses =
                data_loss::would_lose(conn, sql).context("reading what the revert would drop")?;
            if !losses.is_empty() {
                return Err(refuse(losses));
            }
        }
        // PostgreSQL runs a multi-statement string as one implicit transaction, which
        // `CONCURRENTLY` refuses: one statement at a time, cut by the tokenizer, each
        // recorded so that a rerun continues where this one stopped.
        statements_skipped = progress::run_resumable(
            conn,
            m,
            sql,
            |e, note| failed(format!("{e}{note}")),
            |c| bookkeeping(c, elapsed_ms(started)),
        )?;
    }
    let mut step = Step::new(m.version, m.name, elapsed_ms(started));
    step.statements_skipped = statements_skipped;
    tracing::info!(migration.version = %step.version, migration.name = %step.name, duration_ms = step.duration_ms, "migration step done");
    Ok(step)
}

/// The pending migrations up to and including `target`, which must be in `set` and not
/// older than the newest applied migration.
pub(super) fn up_to<'m>(
    set: &[Migration],
    cmp: &Comparison<'m>,
    target: &str,
) -> Result<Vec<&'m Migration>, MigrationError> {
    if !set.iter().any(|m| m.version == target) {
        return Err(MigrationError::Refused(format!(
            "cannot migrate to {target}: this crate version does not embed it (plan lists the pending versions)"
        )));
    }
    if let Some(newest) = cmp.current_version.as_deref()
        && cmp_versions(target, newest) == Ordering::Less
    {
        return Err(MigrationError::Refused(format!(
            "cannot migrate to {target}: it is older than the newest applied migration {newest}; use revert --to"
        )));
    }
    Ok(cmp
        .pending
        .iter()
        .copied()
        .filter(|m| cmp_versions(m.version, target) != Ordering::Greater)
        .collect())
}

/// Runs the operations over a set of migrations: by default the ones embedded for the
/// connection's backend.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Runner<'m> {
    migrations: Option<&'m [Migration]>,
    pub(super) options: RunOptions,
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

    pub(super) fn set(&self, backend: Backend) -> &'m [Migration] {
        self.migrations.unwrap_or_else(|| embedded(backend))
    }

    /// Applied, pending and drift, without taking the lock or changing anything.
    pub fn status(&self, conn: &mut DbConnection) -> Result<Status, MigrationError> {
        let backend = conn.backend();
        let applied = applied(conn).context("reading the applied migrations")?;
        let mut cmp = compare(self.set(backend), &applied);
        let blocked = self.blocked(conn, &cmp.pending)?;
        cmp.drift
            .extend(progress::invalid_indexes(conn).context("reading INVALID indexes")?);
        let structural = self.structural(conn, &cmp, &applied)?;
        cmp.drift.extend(structural);
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
            blocked,
        })
    }

    /// What [`Runner::migrate`] would apply, with the SQL and the plan's digest, without
    /// changing anything.
    pub fn plan(&self, conn: &mut DbConnection) -> Result<Plan, MigrationError> {
        self.plan_until(conn, None, false)
    }

    /// The structural drift, when the record is one this crate can replay (no migration it
    /// does not know, none edited).
    fn structural(
        &self,
        conn: &mut DbConnection,
        cmp: &Comparison<'_>,
        applied: &[AppliedMigration],
    ) -> Result<Vec<Drift>, MigrationError> {
        let replayable = cmp.drift.iter().all(|d| {
            !matches!(
                d,
                Drift::UnknownApplied { .. } | Drift::ChecksumMismatch { .. }
            )
        });
        if !replayable {
            return Ok(Vec::new());
        }
        structure::structural_drift(
            conn,
            self.set(conn.backend()),
            applied,
            self.options.app_role.as_deref(),
        )
    }

    /// The pending contract migrations live functions block (none with the override).
    pub(super) fn blocked(
        &self,
        conn: &mut DbConnection,
        pending: &[&Migration],
    ) -> Result<Vec<BlockedContract>, MigrationError> {
        if self.options.ignore_live_pins || pending.iter().all(|m| m.phase.floor().is_none()) {
            return Ok(Vec::new());
        }
        let pins =
            live_pins(conn, self.options.pin_window).context("reading the live functions")?;
        Ok(compat::blocked(pending, &pins))
    }

    /// Applies every pending migration, in order, under the lock.
    pub fn migrate(&self, conn: &mut DbConnection) -> Result<RunReport, MigrationError> {
        self.migrate_until(conn, None)
    }

    /// Applies the pending migrations up to and including `version`, in order, under the
    /// lock; refused when `version` is not in the set or older than the newest applied.
    pub fn migrate_to(
        &self,
        conn: &mut DbConnection,
        version: &str,
    ) -> Result<RunReport, MigrationError> {
        self.migrate_until(conn, Some(version))
    }

    fn migrate_until(
        &self,
        conn: &mut DbConnection,
        target: Option<&str>,
    ) -> Result<RunReport, MigrationError> {
        locked(conn, &self.options, |conn, budget| {
            let backend = conn.backend();
            // Read again under the lock: another runner may have just finished.
            let applied = applied(conn).context("reading the applied migrations")?;
            let mut cmp = compare(self.set(backend), &applied);
            if let Some(target) = target {
                cmp.pending = up_to(self.set(backend), &cmp, target)?;
            }
            let plan_digest = plan::digest(backend, cmp.current_version.as_deref(), &cmp.pending);
            if let Some(expected) = &self.options.expected_digest
                && *expected != plan_digest
            {
                return Err(MigrationError::PlanChanged {
                    expected: expected.clone(),
                    actual: plan_digest,
                });
            }
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
            runner_step(
                conn,
                budget,
                "bookkeeping",
                "upgrade the bookkeeping table",
                |c| {
                    upgrade_bookkeeping(c, self.set(backend))
                        .context("upgrading the bookkeeping table")
                },
            )?;
            let blocked = self.blocked(conn, &cmp.pending)?;
            if !blocked.is_empty() {
                return Err(MigrationError::ContractBlocked { blocked });
            }
            let structural = match cmp.pending.is_empty() {
                true => Vec::new(),
                false => self.structural(conn, &cmp, &applied)?,
            };
            for m in cmp.pending.iter().filter(|_| !self.options.ignore_drift) {
                let touched = structure::touched(m, &structural);
                if !touched.is_empty() {
                    return Err(MigrationError::DriftBlocked {
                        version: m.version.to_owned(),
                        name: m.name.to_owned(),
                        drift: touched
                            .iter()
                            .filter_map(|d| match d {
                                Drift::Structure {
                                    object, difference, ..
                                } => Some(format!("{object}: {difference}")),
                                _ => None,
                            })
                            .collect(),
                    });
                }
            }
            let mut steps = Vec::new();
            for m in &cmp.pending {
                steps.push(run_step_retrying(conn, budget, m, m.up, false, |c, ms| {
                    record(c, m, ms)
                })?);
            }
            // Under the lock too: two runs granting at once collide ("tuple concurrently
            // updated") and one of them would fail a deploy on a healthy schema.
            if let Some(role) = &self.options.app_role {
                runner_step(conn, budget, "app_role", "ensure the app role", |c| {
                    ensure_app_role(c, role)
                })?;
            }
            let after = applied_after(conn)?;
            let drift = cmp
                .drift
                .into_iter()
                .filter(|d| !matches!(d, Drift::OutOfOrder { .. }))
                .chain(progress::invalid_indexes(conn).context("reading INVALID indexes")?)
                .chain(structural)
                .collect();
            // With a target, what lies beyond it stays pending.
            let pending = self
                .set(backend)
                .iter()
                .filter(|m| {
                    target.is_some_and(|t| cmp_versions(m.version, t) == Ordering::Greater)
                        && !applied.iter().any(|r| r.version == m.version)
                })
                .map(MigrationRef::from)
                .collect();
            Ok(RunReport {
                version_before: cmp.current_version,
                version_after: after,
                steps,
                pending,
                drift,
                plan_digest: Some(plan_digest),
            })
        })
    }

    /// Records migration 1 as applied on a database whose tables match it exactly (a
    /// database the Python bookstore created, or a MySQL one built by hand). Refuses on
    /// SQLite, on a database with any migration recorded, and, listing each difference,
    /// when the tables differ. On MySQL the runner's user must be allowed to create and
    /// drop the probe database `<database>_bookstore_probe_<time>_<session>`.
    pub fn baseline(&self, conn: &mut DbConnection) -> Result<RunReport, MigrationError> {
        baseline::baseline(conn, self.set(conn.backend()), &self.options)
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
        let m = Migration::new("1", "x", "abc");
        assert_eq!(
            m.checksum(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
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
