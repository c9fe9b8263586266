//! SQLite (bundled): the embedded default for local runs.

use diesel::{
    QueryResult, RunQueryDsl, SqliteConnection,
    connection::{AnsiTransactionManager, SimpleConnection},
};

use std::time::Duration;

use super::{AppRole, CatalogQueries, Dialect, RunnerSession, ServerSession};
use crate::connection::SessionSettings;

impl Dialect for SqliteConnection {
    const TIMESTAMP_DDL: &'static str = "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP";

    /// Baseline adopts the Python app's PostgreSQL databases; there is no SQLite one.
    const CATALOG: Option<CatalogQueries> = None;

    /// SQLite builds every index inside a transaction: none is ever left half built.
    const INVALID_INDEXES: Option<&'static str> = None;

    /// A write transaction locks the whole database file: there is nothing finer to report.
    const LOCKS_HELD: Option<&'static str> = None;

    /// The busy timeout set on the session already bounds every wait.
    fn rehearsal_setup(_lock_timeout_ms: u32) -> Option<String> {
        None
    }

    fn prepare_session(&mut self, settings: &SessionSettings) -> QueryResult<()> {
        // Foreign keys are off by default in SQLite; WAL lets readers run beside a writer.
        self.batch_execute(&format!(
            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
            settings.sqlite_busy_timeout_ms
        ))
    }

    /// `BEGIN IMMEDIATE`: concurrent writers queue on the busy timeout instead of failing
    /// when a read lock cannot be upgraded.
    fn begin_write(&mut self) -> QueryResult<()> {
        AnsiTransactionManager::begin_transaction_sql(self, "BEGIN IMMEDIATE")
    }

    fn table_exists_sql(table: &str) -> String {
        format!(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{table}') AS present"
        )
    }

    fn param(_: usize) -> String {
        "?".to_owned()
    }

    /// The local server is the only runner of a SQLite file, and SQLite serialises
    /// writers itself: there is nothing to lock.
    fn try_lock(&mut self, _key: i64) -> QueryResult<bool> {
        Ok(true)
    }

    /// SQLite has no `ADD COLUMN IF NOT EXISTS`: ask `pragma_table_info` first.
    fn add_column_if_missing(&mut self, table: &str, column: &str, ddl: &str) -> QueryResult<()> {
        #[derive(diesel::QueryableByName)]
        struct Present {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let present: Present = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM pragma_table_info('{table}') WHERE name = '{column}'"
        ))
        .get_result(self)?;
        if present.n == 0 {
            self.batch_execute(&format!("ALTER TABLE {table} ADD COLUMN {column} {ddl}"))?;
        }
        Ok(())
    }

    fn table_columns_sql() -> String {
        "SELECT name FROM pragma_table_info(?)".to_owned()
    }

    fn unlock(&mut self, _key: i64) -> QueryResult<()> {
        Ok(())
    }

    /// SQLite has no roles.
    fn app_role_sql(_role: &AppRole<'_>) -> Option<String> {
        None
    }

    /// One process, one file: no server to tell, no lock queue for DDL to block readers
    /// in (SQLite's own busy timeout bounds a wait for the write lock).
    fn prepare_runner_session(&mut self, _session: &RunnerSession<'_>) -> QueryResult<()> {
        Ok(())
    }

    fn set_timeouts(&mut self, _lock: Duration, _statement: Duration) -> QueryResult<()> {
        Ok(())
    }

    fn reset_runner_session(&mut self) -> QueryResult<()> {
        Ok(())
    }

    fn server_session(&mut self) -> QueryResult<Option<ServerSession>> {
        Ok(None)
    }
}

/// SQLite's busy timeout ran out behind another writer.
pub(super) fn is_busy(message: &str) -> bool {
    message.contains("database is locked")
}
