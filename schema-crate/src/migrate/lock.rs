//! The runner lock: one runner at a time per database.

use std::time::{Duration, Instant};

use super::*;
use crate::{
    DbConnection,
    backend::{Dialect as _, with_conn},
};

/// Runs `work` while holding the runner lock (a no-op lock on SQLite, whose local
/// server is the only runner), with the bookkeeping table in place.
pub(crate) fn locked<T>(
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
