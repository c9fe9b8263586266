//! The runner lock: one runner at a time per database.

use std::time::{Duration, Instant};

use super::{retry::Budget, session, *};
use crate::{
    DbConnection,
    backend::{Dialect as _, with_conn},
};

/// Runs `work` while holding the runner lock (a no-op lock on SQLite, whose local
/// server is the only runner), with the bookkeeping table in place, on the runner's own
/// session ([`session`]): checked to be a direct session to a writer, with the run's
/// timeouts, put back afterwards.
pub(crate) fn locked<T>(
    conn: &mut DbConnection,
    options: &RunOptions,
    work: impl FnOnce(&mut DbConnection, &Budget) -> Result<T, MigrationError>,
) -> Result<T, MigrationError> {
    let budget = Budget::new(options);
    session::prepare(conn, &budget)?;
    let result = session::check_direct_writer(conn, options.allow_tcp_relay)
        .and_then(|()| locked_session(conn, options, &budget, work));
    session::reset(conn);
    result
}

fn locked_session<T>(
    conn: &mut DbConnection,
    options: &RunOptions,
    budget: &Budget,
    work: impl FnOnce(&mut DbConnection, &Budget) -> Result<T, MigrationError>,
) -> Result<T, MigrationError> {
    let started = Instant::now();
    // Another runner's lock is waited for at most `lock_timeout`, and never past the deadline.
    let wait = match options.deadline {
        Some(deadline) => options
            .lock_timeout
            .min(deadline.saturating_duration_since(started)),
        None => options.lock_timeout,
    };
    loop {
        let got = with_conn!(&mut *conn, c => c.try_lock(ADVISORY_LOCK_KEY))
            .context("taking the schema lock")?;
        if got {
            break;
        }
        if started.elapsed() >= wait {
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
        .and_then(|()| work(conn, budget));
    // Closing the session would release it too; unlock so a pooled caller can go on.
    if let Err(error) = with_conn!(&mut *conn, c => c.unlock(ADVISORY_LOCK_KEY)) {
        tracing::warn!(error = %error, "could not release the schema lock; it goes with the session");
    }
    result
}
