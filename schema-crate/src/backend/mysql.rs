//! MySQL 8 (Aurora MySQL 3) and MariaDB 10.11: the `mysql` feature.
//!
//! What differs from PostgreSQL: DDL commits on its own (every `migrations/mysql` folder
//! runs statement by statement), there is no `RETURNING` (the models read the row back in
//! the same transaction), the runner's lock is `GET_LOCK` (server-wide, so its name
//! carries the database's), users are server-wide and have no per-user session settings,
//! and the statement timeout is `max_statement_time` on MariaDB but `max_execution_time`
//! (reads only) on MySQL.

use std::time::Duration;

use diesel::{
    MysqlConnection, QueryResult, RunQueryDsl,
    connection::{AnsiTransactionManager, SimpleConnection, TransactionManager},
    sql_types::{BigInt, Bool, Text},
};

use super::{AppRole, CatalogQueries, Dialect, RunnerSession, ServerSession};
use crate::connection::SessionSettings;

mod catalog;

impl Dialect for MysqlConnection {
    const TIMESTAMP_DDL: &'static str = "datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)";

    const TEXT_TYPE: &'static str = "CHAR";

    /// No `INSERT`/`UPDATE … RETURNING`: the models' `create` and `update_if_unchanged`
    /// read the row back, so `one_statement` is a transaction here.
    const RETURNING: bool = false;

    /// From `information_schema` (`mysql/catalog.rs`).
    const CATALOG: Option<CatalogQueries> = Some(catalog::QUERIES);

    /// DDL commits on its own: the replay gets a database of its own, dropped afterwards.
    fn open_probe_database(&mut self, live: &str) -> QueryResult<Option<String>> {
        catalog::open(self, live).map(Some)
    }

    fn close_probe_database(&mut self, probe: &str, live: &str) -> QueryResult<()> {
        catalog::close(self, probe, live)
    }

    /// InnoDB builds an index in one piece: a failed build leaves nothing behind.
    const INVALID_INDEXES: Option<&'static str> = None;

    /// `performance_schema.metadata_locks` is off on many servers; not reported yet.
    const LOCKS_HELD: Option<&'static str> = None;

    /// MySQL commits DDL on its own: nothing can be rehearsed in a rolled-back
    /// transaction (`Runner::rehearse` refuses).
    fn rehearsal_setup(_lock_timeout_ms: u32) -> Option<String> {
        None
    }

    /// diesel's MySQL connection already sets `time_zone = '+00:00'` and utf8mb4 on connect.
    /// Units of work here are written for PostgreSQL's READ COMMITTED; InnoDB's default,
    /// REPEATABLE READ, takes gap locks on reads for update and deletes that find nothing
    /// (the idempotency claim's purge of an expired key), so concurrent claims of one key
    /// deadlocked instead of queueing. (A cluster parameter group can set
    /// `transaction_isolation` instead; this costs one statement per new connection.)
    fn prepare_session(&mut self, _settings: &SessionSettings) -> QueryResult<()> {
        self.batch_execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    }

    fn begin_write(&mut self) -> QueryResult<()> {
        AnsiTransactionManager::begin_transaction(self)
    }

    fn table_exists_sql(table: &str) -> String {
        format!(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = '{table}') AS present"
        )
    }

    fn param(_: usize) -> String {
        "?".to_owned()
    }

    fn quote(name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }

    fn on_conflict_update(_keys: &str, set: &str) -> String {
        format!("ON DUPLICATE KEY UPDATE {set}")
    }

    const NOW: &'static str = "CURRENT_TIMESTAMP(6)";

    /// `GET_LOCK` with no wait. Its names are server-wide, so the name carries the
    /// database's: runners of two databases on one server do not wait for each other.
    fn try_lock(&mut self, key: i64) -> QueryResult<bool> {
        diesel::select(diesel::dsl::sql::<Bool>(&format!(
            "COALESCE(GET_LOCK({}, 0), 0) = 1",
            lock_name(key)
        )))
        .get_result(self)
    }

    fn add_column_if_missing(&mut self, table: &str, column: &str, ddl: &str) -> QueryResult<()> {
        #[derive(diesel::QueryableByName)]
        struct Present {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let present: Present = diesel::sql_query(
            "SELECT count(*) AS n FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?",
        )
        .bind::<Text, _>(table)
        .bind::<Text, _>(column)
        .get_result(self)?;
        if present.n == 0 {
            self.batch_execute(&format!("ALTER TABLE {table} ADD COLUMN {column} {ddl}"))?;
        }
        Ok(())
    }

    fn table_columns_sql() -> String {
        "SELECT CAST(column_name AS CHAR) AS name FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position"
            .to_owned()
    }

    fn unlock(&mut self, key: i64) -> QueryResult<()> {
        diesel::select(diesel::dsl::sql::<Bool>(&format!(
            "COALESCE(RELEASE_LOCK({}), 0) = 1",
            lock_name(key)
        )))
        .get_result::<bool>(self)
        .map(|_| ())
    }

    /// A MySQL user (server-wide, like a PostgreSQL role) with DML on this database's
    /// tables. MySQL refuses a grant on a table that does not exist, so the later tables
    /// the caller lists are the ones that exist now. MySQL keeps no session settings per
    /// user: the app's timeouts are the server's (parameter group) settings.
    fn app_role_sql(app: &AppRole<'_>) -> Option<String> {
        let AppRole {
            name: role,
            tables,
            bookkeeping,
            later_tables,
            settings: _,
            aws_iam_plugin,
        } = app;
        let user = format!("'{role}'@'%'");
        // Aurora MySQL: the user signs in with IAM tokens only (also when it existed).
        let identified = if *aws_iam_plugin {
            format!("ALTER USER {user} IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';")
        } else {
            String::new()
        };
        let later: String = later_tables
            .iter()
            .map(|(t, privileges)| format!("GRANT {privileges} ON {t} TO {user};\n"))
            .collect();
        let dml: String = tables
            .iter()
            .map(|t| format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {user};\n"))
            .collect();
        Some(format!(
            "CREATE USER IF NOT EXISTS {user};
             {identified}
             {dml}
             GRANT SELECT ON {bookkeeping} TO {user};
             {later}"
        ))
    }

    fn has_aws_iam_plugin(&mut self) -> QueryResult<bool> {
        diesel::select(diesel::dsl::sql::<Bool>(
            "EXISTS (SELECT 1 FROM information_schema.plugins \
             WHERE plugin_name = 'AWSAuthenticationPlugin' AND plugin_status = 'ACTIVE')",
        ))
        .get_result(self)
    }

    fn prepare_runner_session(&mut self, session: &RunnerSession<'_>) -> QueryResult<()> {
        self.set_timeouts(session.lock_timeout, session.statement_timeout)
    }

    /// `lock_wait_timeout` (metadata locks: what DDL waits for) and
    /// `innodb_lock_wait_timeout` (row locks) in whole seconds, at least 1; the statement
    /// timeout as MariaDB's `max_statement_time` (MySQL's `max_execution_time` bounds
    /// only reads, so there none is set).
    fn set_timeouts(&mut self, lock: Duration, statement: Duration) -> QueryResult<()> {
        let lock = lock.as_secs().max(1);
        let mut sql = format!(
            "SET SESSION lock_wait_timeout = {lock}, SESSION innodb_lock_wait_timeout = {lock}"
        );
        if is_mariadb(self)? {
            sql.push_str(&format!(
                ", SESSION max_statement_time = {:.3}",
                statement.as_secs_f64()
            ));
        }
        self.batch_execute(&sql)
    }

    fn reset_runner_session(&mut self) -> QueryResult<()> {
        let mut sql = "SET SESSION lock_wait_timeout = DEFAULT, \
                       SESSION innodb_lock_wait_timeout = DEFAULT"
            .to_owned();
        if is_mariadb(self)? {
            sql.push_str(", SESSION max_statement_time = DEFAULT");
        }
        self.batch_execute(&sql)
    }

    /// A read-only server (an Aurora reader, a replica) counts as a standby; the session
    /// id is `CONNECTION_ID()`; the client's port is the server's view of this socket.
    fn server_session(&mut self) -> QueryResult<Option<ServerSession>> {
        diesel::sql_query(
            "SELECT (@@global.read_only <> 0 OR @@global.innodb_read_only <> 0) AS in_recovery, \
             CAST(CONNECTION_ID() AS SIGNED) AS backend_pid, \
             CAST(NULLIF(SUBSTRING_INDEX(host, ':', 1), '') AS CHAR) AS client_addr, \
             CASE WHEN host LIKE '%:%' THEN CAST(SUBSTRING_INDEX(host, ':', -1) AS SIGNED) END AS client_port \
             FROM information_schema.processlist WHERE id = CONNECTION_ID()",
        )
        .get_result(self)
        .map(Some)
    }
}

/// The `GET_LOCK` name for `key` in the current database, as a SQL expression.
fn lock_name(key: i64) -> String {
    format!("CONCAT('bookstore:', DATABASE(), ':', '{key}')")
}

fn is_mariadb(conn: &mut MysqlConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::sql::<Bool>("VERSION() LIKE '%MariaDB%'")).get_result(conn)
}

/// A row-lock or metadata-lock wait that gave up (1205), a deadlock (1213), or MariaDB's
/// statement timeout (1969): diesel reports these as `Unknown`, told by the message.
pub(super) fn is_busy(message: &str) -> bool {
    is_lock_conflict(message) || message.contains("Query execution was interrupted")
}

/// A lock wait that gave up or a deadlock.
pub(super) fn is_lock_conflict(message: &str) -> bool {
    message.contains("Lock wait timeout exceeded") || message.contains("Deadlock found")
}

#[cfg(test)]
mod tests {
    use super::{AppRole, Dialect};

    fn role_sql(aws_iam_plugin: bool) -> String {
        <diesel::MysqlConnection as Dialect>::app_role_sql(&AppRole {
            name: "bookstore_app",
            tables: &["book"],
            bookkeeping: "bookstore_schema_migrations",
            later_tables: &[],
            settings: &[],
            aws_iam_plugin,
        })
        .expect("MySQL has users")
    }

    /// Aurora MySQL signs IAM users in through a plugin named when the user is made; the
    /// servers without it (MariaDB, MySQL elsewhere) never see the clause.
    #[test]
    fn the_app_user_is_identified_with_the_iam_plugin_only_where_there_is_one() {
        let iam = role_sql(true);
        assert!(
            iam.contains(
                "ALTER USER 'bookstore_app'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';"
            ),
            "{iam}"
        );
        assert!(!role_sql(false).contains("AWSAuthenticationPlugin"));
    }
}
