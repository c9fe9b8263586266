//! Runner-owned timeouts: every step runs under a lock timeout and a statement timeout,
//! and a step that gave up on a lock (or lost a deadlock) is retried after a pause with
//! jitter, until the run's lock-wait budget or deadline is spent.
//!
//! Why: DDL waiting for a lock queues every later reader of the table behind it. With a
//! short `lock_timeout` the step gives way (readers go on) and tries again, pgroll's way;
//! without one, a long transaction elsewhere turns a deploy into an outage.

use std::{
    hash::{BuildHasher, RandomState},
    time::{Duration, Instant},
};

use super::{MigrationError, RunOptions};
use crate::{
    DbConnection,
    backend::{Dialect as _, is_lock_conflict, with_conn},
};

/// The first pause after a lock conflict; each further one doubles, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// The longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_secs(5);
/// An attempt with less time than this left before the deadline is not started.
const LEAST_ATTEMPT: Duration = Duration::from_millis(100);

/// How one step went with the lock: what the report shows per step.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Attempts {
    /// Attempts after the first.
    pub(crate) retries: u32,
    /// Time spent in attempts that gave up on a lock, and in the pauses after them.
    pub(crate) lock_wait: Duration,
}

/// The run's limits: when retrying stops, and the hard end a statement must not outlive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// No attempt starts (nor waits for a lock) past this.
    retry_until: Instant,
    /// The caller's hard end (a Lambda invocation's deadline minus a margin).
    deadline: Option<Instant>,
    lock_timeout: Duration,
    statement_timeout: Duration,
}

impl Budget {
    pub(crate) fn new(options: &RunOptions) -> Self {
        let by_budget = Instant::now() + options.max_lock_wait;
        Self {
            retry_until: options.deadline.map_or(by_budget, |d| d.min(by_budget)),
            deadline: options.deadline,
            lock_timeout: options.step_lock_timeout,
            statement_timeout: options.step_statement_timeout,
        }
    }

    /// The session's defaults: the options' timeouts, the statement timeout cut to the deadline.
    pub(crate) fn defaults(&self) -> (Duration, Duration) {
        self.timeouts(None, None)
    }

    /// The timeouts for one attempt: a migration's own (or the defaults), the lock wait
    /// cut to what is left of the retry budget and the statement to the deadline, so that
    /// the run ends, typed, before whoever runs it gives up on it.
    fn timeouts(
        &self,
        lock: Option<Duration>,
        statement: Option<Duration>,
    ) -> (Duration, Duration) {
        let now = Instant::now();
        // Nine tenths of what is left, so that near the deadline the lock wait gives up
        // (typed, retried or reported) before the statement timeout cut to the deadline.
        let lock = lock
            .unwrap_or(self.lock_timeout)
            .min(self.retry_until.saturating_duration_since(now).mul_f64(0.9));
        let statement = statement.unwrap_or(self.statement_timeout);
        let statement = match self.deadline {
            Some(deadline) => statement.min(deadline.saturating_duration_since(now)),
            None => statement,
        };
        // 0 means "no timeout" to PostgreSQL: never send it.
        let floor = Duration::from_millis(1);
        (lock.max(floor), statement.max(floor))
    }
}

/// What a step is, for the report and the error.
pub(crate) struct StepId<'a> {
    pub(crate) version: &'a str,
    pub(crate) name: &'a str,
    pub(crate) lock_timeout: Option<Duration>,
    pub(crate) statement_timeout: Option<Duration>,
}

/// Runs `attempt` under its timeouts, again after each lock conflict, until it succeeds,
/// fails otherwise, or the budget runs out ([`MigrationError::LockNotAvailable`]). The
/// session's default timeouts are put back after every attempt. `attempt` must leave
/// nothing behind when it fails on a lock: a transactional step is rolled back whole; a
/// non-transactional one resumes at the statement that gave up (`progress.rs`).
pub(crate) fn retrying<T>(
    conn: &mut DbConnection,
    budget: &Budget,
    step: &StepId<'_>,
    mut attempt: impl FnMut(&mut DbConnection) -> Result<T, MigrationError>,
) -> Result<(T, Attempts), MigrationError> {
    let mut attempts = Attempts::default();
    loop {
        let (lock, statement) = budget.timeouts(step.lock_timeout, step.statement_timeout);
        with_conn!(&mut *conn, c => c.set_timeouts(lock, statement)).map_err(|source| {
            MigrationError::Database {
                context: "setting the step's timeouts",
                source,
            }
        })?;
        let started = Instant::now();
        let outcome = attempt(conn);
        let (lock_default, statement_default) = budget.defaults();
        with_conn!(&mut *conn, c => c.set_timeouts(lock_default, statement_default)).map_err(
            |source| MigrationError::Database {
                context: "restoring the runner's timeouts",
                source,
            },
        )?;
        match outcome {
            Ok(value) => return Ok((value, attempts)),
            Err(error) if lock_conflict(&error) => {
                attempts.lock_wait += started.elapsed();
                let pause = pause(attempts.retries);
                let left = budget.retry_until.saturating_duration_since(Instant::now());
                if left < pause + LEAST_ATTEMPT {
                    return Err(MigrationError::LockNotAvailable {
                        version: step.version.to_owned(),
                        name: step.name.to_owned(),
                        retries: attempts.retries,
                        waited_ms: attempts.lock_wait.as_millis(),
                        message: error_message(&error),
                    });
                }
                tracing::info!(
                    migration.version = step.version,
                    migration.name = step.name,
                    retry = attempts.retries + 1,
                    pause_ms = pause.as_millis(),
                    error = %error,
                    "a lock was not available; retrying the step"
                );
                std::thread::sleep(pause);
                attempts.lock_wait += pause;
                attempts.retries += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

fn lock_conflict(error: &MigrationError) -> bool {
    match error {
        MigrationError::Database { source, .. } => is_lock_conflict(source),
        MigrationError::MigrationFailed { message, .. } => {
            crate::backend::is_lock_conflict_message(message)
        }
        _ => false,
    }
}

fn error_message(error: &MigrationError) -> String {
    match error {
        MigrationError::Database { source, .. } => source.to_string(),
        MigrationError::MigrationFailed { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The pause before retry `n` (0-based): exponential, capped, with "equal jitter" (half
/// fixed, half random) so that runners that collided do not collide again in step.
fn pause(n: u32) -> Duration {
    let full = FIRST_PAUSE.saturating_mul(1 << n.min(16)).min(MAX_PAUSE);
    let half = full / 2;
    half + half.mul_f64(unit_random())
}

/// A number in [0, 1) from the standard library's per-process random hash keys.
fn unit_random() -> f64 {
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_a_cap_and_keep_at_least_half_their_length() {
        for n in 0..20 {
            let full = FIRST_PAUSE.saturating_mul(1 << n.min(16)).min(MAX_PAUSE);
            let p = pause(n);
            assert!(p >= full / 2 && p <= full, "{n}: {p:?} of {full:?}");
        }
        assert!(pause(30) <= MAX_PAUSE);
    }

    #[test]
    fn a_step_never_waits_past_the_budget_nor_runs_past_the_deadline() {
        let options = RunOptions::default()
            .with_step_lock_timeout(Duration::from_secs(5))
            .with_max_lock_wait(Duration::from_secs(2))
            .with_deadline(Instant::now() + Duration::from_secs(3));
        let budget = Budget::new(&options);
        let (lock, statement) = budget.timeouts(None, Some(Duration::from_secs(600)));
        assert!(lock <= Duration::from_secs(2), "{lock:?}");
        assert!(statement <= Duration::from_secs(3), "{statement:?}");
        let spent = Budget::new(&RunOptions::default().with_deadline(Instant::now()));
        assert_eq!(
            spent.defaults().0,
            Duration::from_millis(1),
            "never 0 (off)"
        );
    }
}
