//! The unit of work: one transaction around a piece of work.
//!
//! [`transactional`] has the semantics app developers know from Spring's and
//! FastAPI users' `@transactional`: the outermost call opens the transaction and
//! commits it on `Ok`; `Err` or a panic rolls it back; a nested call *joins* the outer
//! transaction (no savepoint), so the work commits or rolls back as one.
//!
//! [`one_statement`] is the same unit of work for work that sends a single statement.
//! PostgreSQL and SQLite run a lone statement as a transaction of its own, all or
//! nothing, so `BEGIN` and `COMMIT` would only add two round trips. Use it for a read
//! that is one query or a write that is one `INSERT … RETURNING`; anything that sends two
//! statements belongs in [`transactional`].
//!
//! A connection whose transaction state diesel lost (a failed `ROLLBACK`, say) is an
//! error for both, never a transaction to join: work run there would run without the
//! `BEGIN` it believes it has.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use diesel::{
    QueryResult,
    connection::{AnsiTransactionManager, TransactionManager, TransactionManagerStatus},
    result::Error as DieselError,
};

use crate::{
    DbConnection,
    backend::{Dialect, with_conn},
};

/// Runs `work` in a transaction on `conn`, or inside the one already open.
///
/// Commits when `work` returns `Ok` (and this call opened the transaction); rolls back
/// when it returns `Err` or panics (the panic then continues). On SQLite the
/// transaction starts with `BEGIN IMMEDIATE`, so concurrent writers queue on the busy
/// timeout instead of failing on a lock upgrade.
///
/// A nested call that fails should let its error propagate: the outer call rolls back.
/// An outer closure that swallows an inner error commits what the inner call wrote.
///
/// # Errors
/// `work`'s own error; a failed `BEGIN` or `COMMIT`; and
/// [`DieselError::BrokenTransactionManager`] when the connection's transaction state is
/// lost, without running `work`.
pub fn transactional<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    if in_transaction(conn)? {
        return work(conn);
    }
    with_conn!(conn, c => c.begin_write())?;
    match catch_unwind(AssertUnwindSafe(|| work(&mut *conn))) {
        Ok(Ok(value)) => {
            with_conn!(&mut *conn, c => AnsiTransactionManager::commit_transaction(c))?;
            Ok(value)
        }
        Ok(Err(error)) => {
            rollback(conn);
            Err(error)
        }
        Err(panic) => {
            rollback(conn);
            resume_unwind(panic)
        }
    }
}

/// Runs `work`, which must send exactly one statement, as its own transaction: no
/// `BEGIN`/`COMMIT`, because the database runs a lone statement atomically. Inside an
/// open transaction it joins it, like [`transactional`].
///
/// The connection counts what `work` sends (see [`DbConnection::statements_sent`]).
/// Sending more than one statement is a bug, because those statements were not atomic. Debug
/// builds panic on it, so tests catch it. Release builds log it as an error and return
/// the result.
///
/// On MySQL, which has no `RETURNING`, a write that returns its row sends two statements
/// (the models' `create` and `update_if_unchanged`), so there this is [`transactional`].
///
/// # Errors
/// `work`'s own error, and [`DieselError::BrokenTransactionManager`] when the
/// connection's transaction state is lost, without running `work`.
pub fn one_statement<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    if in_transaction(conn)? {
        return work(conn);
    }
    fn returning<C: Dialect>(_: &C) -> bool {
        C::RETURNING
    }
    if !with_conn!(&mut *conn, c => returning(c)) {
        return transactional(conn, work);
    }
    let before = conn.statements_sent();
    let result = work(conn);
    if let (Some(before), Some(after)) = (before, conn.statements_sent()) {
        let sent = after - before;
        if sent > 1 {
            tracing::error!(
                statements = sent,
                "a one-statement unit of work sent several statements outside a transaction; use `transactional`"
            );
            debug_assert!(
                sent <= 1,
                "one_statement sent {sent} statements: use `transactional`"
            );
        }
    }
    result
}

/// Rolls back; if even that fails, diesel marks the connection broken and the pool
/// discards it instead of handing a half-open transaction to the next request.
fn rollback(conn: &mut DbConnection) {
    if let Err(error) = with_conn!(conn, c => AnsiTransactionManager::rollback_transaction(c)) {
        tracing::warn!(error = %error, "rollback failed; the connection will be discarded");
    }
}

/// Whether `conn` has a transaction open.
///
/// # Errors
/// [`DieselError::BrokenTransactionManager`] when diesel lost track of the connection's
/// transaction state: nobody knows whether a transaction is open, so none may be joined.
pub fn in_transaction(conn: &mut DbConnection) -> QueryResult<bool> {
    fn depth<C: Dialect<TransactionManager = AnsiTransactionManager>>(
        c: &mut C,
    ) -> QueryResult<bool> {
        match AnsiTransactionManager::transaction_manager_status_mut(c) {
            TransactionManagerStatus::Valid(status) => Ok(status.transaction_depth().is_some()),
            TransactionManagerStatus::InError => Err(DieselError::BrokenTransactionManager),
        }
    }
    with_conn!(conn, c => depth(c))
}

/// Whether diesel gave up on this connection's transaction state.
pub fn is_broken(conn: &mut DbConnection) -> bool {
    with_conn!(conn, c => AnsiTransactionManager::is_broken_transaction_manager(c))
}
