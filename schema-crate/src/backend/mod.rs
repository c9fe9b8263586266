//! Everything that differs between the database products, in one place.
//!
//! Each backend implements `Dialect` once, on diesel's connection type for it
//! (`postgres.rs` for `PgConnection`, `sqlite.rs` for `SqliteConnection`): how a session is
//! opened and prepared, how a write transaction starts, the runner's bookkeeping SQL and
//! lock, the app role, which errors are worth a retry. [`DbConnection`] holds one of
//! them, and the crate-private `with_conn!` macro is the only `match` on the backend: it
//! runs the same expression against whichever connection it holds, so a query written
//! once is type-checked once per backend against the one `schema.rs`. A third backend is
//! one more module and one more arm here, not edits across the crate.
//!
//! Why not diesel's `MultiConnection`: it would give one connection type too, but every
//! custom SQL type (our [`Timestamptz`](crate::sql_types::Timestamptz)) then needs a
//! third set of impls for its `MultiBackend`, its transaction manager wraps the inner
//! ones (so no `BEGIN IMMEDIATE` for SQLite writers), and the inner connection is no
//! longer reachable for backend-only statements (advisory locks, `PRAGMA`s). The enum
//! keeps each backend's own connection, with the same compile-time checking.
//! (docs/architecture.md records the decision.)

#[cfg(feature = "mysql")]
mod mysql;
mod postgres;
mod sqlite;

use std::time::Duration;

use diesel::{
    Connection, ConnectionError, PgConnection, QueryResult, SqliteConnection,
    connection::SimpleConnection,
    result::{DatabaseErrorKind, Error as DieselError},
};

use crate::{
    config::{DbTarget, Secret},
    connection::{DbConnection, SessionSettings},
};

/// The database products this crate supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Backend {
    /// PostgreSQL (Aurora PostgreSQL in production).
    Postgres,
    /// SQLite, bundled: the embedded default for local runs.
    Sqlite,
    /// MySQL 8 / MariaDB (Aurora MySQL in production); connections need the `mysql`
    /// feature, the embedded migrations do not.
    Mysql,
}

impl Backend {
    /// Whether a rollback undoes DDL (MySQL commits every DDL statement on its own).
    pub fn has_transactional_ddl(self) -> bool {
        !matches!(self, Self::Mysql)
    }

    /// The folder under `migrations/` holding this backend's migrations.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
            Self::Mysql => "mysql",
        }
    }
}

/// What one backend does its own way. Implemented once per backend, on diesel's
/// connection type; nothing outside this module names a backend.
pub(crate) trait Dialect: Connection + SimpleConnection + Sized {
    /// The column type of a "when" column in the runner's bookkeeping table.
    const TIMESTAMP_DDL: &'static str;
    /// The type a `CAST(… AS …)` to text names.
    const TEXT_TYPE: &'static str = "TEXT";
    /// The current time, as a column default or in an `UPDATE`.
    const NOW: &'static str = "CURRENT_TIMESTAMP";
    /// Whether `INSERT`/`UPDATE … RETURNING` exists: without it a write that returns its
    /// row sends two statements (the write, then a read of the row).
    const RETURNING: bool = true;

    /// `name` as a quoted identifier.
    fn quote(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
    /// The tail of an `INSERT` that updates the row whose key `keys` (a column list)
    /// already exists instead, with `set` (`column = value, …`).
    fn on_conflict_update(keys: &str, set: &str) -> String {
        format!("ON CONFLICT ({keys}) DO UPDATE SET {set}")
    }

    /// Applies `settings` to a new connection before its first use.
    fn prepare_session(&mut self, settings: &SessionSettings) -> QueryResult<()>;
    /// Starts a write transaction (diesel's transaction manager tracks it).
    fn begin_write(&mut self) -> QueryResult<()>;
    /// A query answering one boolean column `present`: does `table` exist?
    fn table_exists_sql(table: &str) -> String;
    /// The `n`th (1-based) bind parameter in SQL text.
    fn param(n: usize) -> String;
    /// Tries once to take the runner's session lock `key`; `true` when taken.
    fn try_lock(&mut self, key: i64) -> QueryResult<bool>;
    /// Adds `column` (of type `ddl`) to `table` unless it is there.
    fn add_column_if_missing(&mut self, table: &str, column: &str, ddl: &str) -> QueryResult<()>;
    /// A query answering one text column `name` per column of the table named by its one
    /// bind parameter, in the current schema (no rows: no such table).
    fn table_columns_sql() -> String;
    /// Releases the runner's session lock `key`.
    fn unlock(&mut self, key: i64) -> QueryResult<()>;
    /// The catalog queries `baseline` compares shapes with, or `None` when the backend
    /// cannot be baselined.
    const CATALOG: Option<CatalogQueries>;
    /// Where DDL commits on its own, the migrations `baseline` and structural drift
    /// replay run in a database of their own instead of a rolled-back schema: this
    /// creates one for `live` (the session's database; a stale one is dropped first),
    /// moves the session into it and returns its name, leaving nothing behind when it
    /// fails. `None`: the replay runs in a schema inside a rolled-back transaction.
    fn open_probe_database(&mut self, _live: &str) -> QueryResult<Option<String>> {
        Ok(None)
    }
    /// Moves the session back into `live` and drops the probe database `probe`.
    fn close_probe_database(&mut self, _probe: &str, _live: &str) -> QueryResult<()> {
        Ok(())
    }
    /// A query listing the indexes of the current schema that a failed concurrent build
    /// left INVALID (`index_name`, `table_name`), or `None` when the backend builds no
    /// index concurrently.
    const INVALID_INDEXES: Option<&'static str>;
    /// A query listing the locks this session holds on relations of user schemas, with
    /// the size of each (`relation`, `kind`, `mode`, `bytes`, `rows_estimate`), or `None`
    /// when the backend does not report locks.
    const LOCKS_HELD: Option<&'static str>;
    /// What a rehearsal transaction runs first: a `lock_timeout` of `lock_timeout_ms`
    /// where the backend has one.
    fn rehearsal_setup(lock_timeout_ms: u32) -> Option<String>;
    /// The SQL that leaves the app role with exactly DML on its tables (each with a
    /// serial `id`), read access to the bookkeeping table, read, insert and update on the
    /// later tables once they exist, and its settings as the role's own session defaults; or
    /// `None` when the backend has no roles.
    fn app_role_sql(role: &AppRole<'_>) -> Option<String>;
    /// Whether users sign in with RDS IAM tokens through a plugin named when the user is
    /// created (Aurora MySQL's `AWSAuthenticationPlugin`). PostgreSQL grants a role
    /// (`rds_iam`) instead, in its [`Dialect::app_role_sql`]; SQLite has no users.
    fn has_aws_iam_plugin(&mut self) -> QueryResult<bool> {
        Ok(false)
    }
    /// Prepares the migration runner's own session: its `application_name`, a server
    /// that notices a dead client within seconds, and the lock and statement timeouts.
    fn prepare_runner_session(&mut self, session: &RunnerSession<'_>) -> QueryResult<()>;
    /// Sets the lock and statement timeouts for what this session runs next.
    fn set_timeouts(&mut self, lock: Duration, statement: Duration) -> QueryResult<()>;
    /// Puts back what [`Dialect::prepare_runner_session`] changed (a pooled caller goes on).
    fn reset_runner_session(&mut self) -> QueryResult<()>;
    /// Facts about the server end of this session, for the runner's connection check:
    /// `None` when the backend has no server (SQLite).
    fn server_session(&mut self) -> QueryResult<Option<ServerSession>>;
}

/// The runner's session settings, for [`Dialect::prepare_runner_session`].
pub(crate) struct RunnerSession<'a> {
    pub(crate) application_name: &'a str,
    pub(crate) lock_timeout: Duration,
    pub(crate) statement_timeout: Duration,
}

/// One transaction's view of the server end of a session.
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub(crate) struct ServerSession {
    /// `pg_is_in_recovery()`: a standby (or a writer that just failed over).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub(crate) in_recovery: bool,
    /// `pg_backend_pid()`.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub(crate) backend_pid: i32,
    /// `inet_client_addr()` as text, `None` over a Unix socket.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub(crate) client_addr: Option<String>,
    /// `inet_client_port()`, `None` over a Unix socket.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    pub(crate) client_port: Option<i32>,
}

/// What the app role may do, for [`Dialect::app_role_sql`].
pub(crate) struct AppRole<'a> {
    pub(crate) name: &'a str,
    pub(crate) tables: &'a [&'a str],
    pub(crate) bookkeeping: &'a str,
    /// Tables a later migration adds, each with the privileges the role gets on it once
    /// it exists (a database at an older migration lacks them).
    pub(crate) later_tables: &'a [(&'a str, &'a str)],
    pub(crate) settings: &'a [(&'a str, &'a str)],
    /// The server signs users in with RDS IAM tokens through a plugin the role must be
    /// created with (Aurora MySQL's `AWSAuthenticationPlugin`; see
    /// [`Dialect::has_aws_iam_plugin`]). Only the MySQL dialect reads it.
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    pub(crate) aws_iam_plugin: bool,
}

/// Two catalog queries, each taking a schema name as its one bind parameter: the
/// columns (`table_name`, `column_name`, `data_type`, `max_length`, `nullable`,
/// `column_default`) and the keys (`description`) of the tables in that schema.
#[derive(Clone, Copy)]
pub(crate) struct CatalogQueries {
    /// The columns, each also with its `collation` (empty when the catalog names none).
    pub(crate) columns: &'static str,
    pub(crate) keys: &'static str,
    /// Constraints, indexes and sequences (`kind`, `table_name`, `name`, `definition`
    /// without schema names, `valid`).
    pub(crate) objects: &'static str,
    /// The table privileges of a role (second bind parameter) on the schema's tables
    /// (`table_name`, `privileges` as `SELECT, INSERT, …` in that order); no rows when the
    /// role does not exist.
    pub(crate) grants: &'static str,
    /// The schema the session's tables are in (`name`; no bind parameter).
    pub(crate) current_schema: &'static str,
}

/// Runs `$body` with `$c` bound to the concrete diesel connection inside a
/// [`DbConnection`]: the one `match` on the backend.
///
/// `with_conn!(conn, c => body, mysql m => other)` runs `other` on MySQL instead, for what
/// MySQL cannot say the same way (`RETURNING`).
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        $crate::backend::with_conn!($conn, $c => $body, mysql $c => $body)
    };
    ($conn:expr, $c:ident => $body:expr, mysql $m:ident => $mysql:expr) => {
        match $crate::connection::DbConnection::inner_mut($conn) {
            $crate::backend::Inner::Postgres($c) => $body,
            $crate::backend::Inner::Sqlite($c) => $body,
            #[cfg(feature = "mysql")]
            $crate::backend::Inner::Mysql($m) => $mysql,
        }
    };
}
pub(crate) use with_conn;

/// A [`DbConnection`]'s own diesel connection, for statements this crate does not offer
/// (a query only PostgreSQL runs, say). New backends add variants, hence
/// `#[non_exhaustive]`: match with a fallback arm.
#[non_exhaustive]
pub enum BackendConnection<'a> {
    /// PostgreSQL.
    Postgres(&'a mut PgConnection),
    /// SQLite.
    Sqlite(&'a mut SqliteConnection),
    /// MySQL or MariaDB (the `mysql` feature).
    #[cfg(feature = "mysql")]
    Mysql(&'a mut diesel::MysqlConnection),
}

/// The backend's own connection inside a [`DbConnection`]; private so that a new backend
/// is not a breaking change.
pub(crate) enum Inner {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
    #[cfg(feature = "mysql")]
    Mysql(diesel::MysqlConnection),
}

impl Inner {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "mysql")]
            Self::Mysql(_) => Backend::Mysql,
        }
    }
}

/// Opens a connection of the backend `target` names.
pub(crate) fn establish(
    target: &DbTarget,
    password: Option<&Secret>,
    settings: &SessionSettings,
) -> Result<Inner, ConnectionError> {
    // The runner's keepalives first (they win), then what every connection gets
    // (`config::LIBPQ_DEFAULTS`); a URL also gets a connect timeout. A keyword the target
    // sets itself is never overridden.
    let mut keywords: Vec<(&str, &str)> = Vec::new();
    if settings.tcp_keepalives {
        keywords.extend(postgres::KEEPALIVES);
    }
    if matches!(target, DbTarget::PostgresUrl(_)) {
        keywords.push((
            "connect_timeout",
            crate::config::DEFAULT_CONNECT_TIMEOUT_STR,
        ));
    }
    keywords.extend(crate::config::LIBPQ_DEFAULTS);
    let keywords = keywords.as_slice();
    Ok(match target {
        DbTarget::PostgresUrl(url) => Inner::Postgres(PgConnection::establish(
            &postgres::with_keywords(url.expose(), keywords),
        )?),
        DbTarget::Postgres(parts) => {
            let password = password.or(parts.password.as_ref()).map(Secret::expose);
            Inner::Postgres(PgConnection::establish(&postgres::with_keywords(
                parts.conninfo(password).expose(),
                keywords,
            ))?)
        }
        DbTarget::Sqlite(path) => Inner::Sqlite(SqliteConnection::establish(path)?),
        #[cfg(feature = "mysql")]
        DbTarget::MysqlUrl(url) => Inner::Mysql(diesel::MysqlConnection::establish(url.expose())?),
        #[cfg(feature = "mysql")]
        DbTarget::Mysql(parts) => {
            let password = password.or(parts.password.as_ref()).map(Secret::expose);
            let url = parts.url(password);
            Inner::Mysql(
                diesel::MysqlConnection::establish(url.expose())
                    .map_err(|error| crate::connection::scrub(error, url.expose()))?,
            )
        }
    })
}

/// The backend a target speaks.
pub(crate) fn backend_of(target: &DbTarget) -> Backend {
    match target {
        DbTarget::PostgresUrl(_) | DbTarget::Postgres(_) => Backend::Postgres,
        DbTarget::Sqlite(_) => Backend::Sqlite,
        #[cfg(feature = "mysql")]
        DbTarget::MysqlUrl(_) | DbTarget::Mysql(_) => Backend::Mysql,
    }
}

impl DbConnection {
    /// Which backend this connection speaks.
    pub fn backend(&self) -> Backend {
        self.inner().backend()
    }

    /// This connection's own diesel connection.
    pub fn backend_connection(&mut self) -> BackendConnection<'_> {
        match self.inner_mut() {
            Inner::Postgres(c) => BackendConnection::Postgres(c),
            Inner::Sqlite(c) => BackendConnection::Sqlite(c),
            #[cfg(feature = "mysql")]
            Inner::Mysql(c) => BackendConnection::Mysql(c),
        }
    }
}

/// Whether `error` is a lock wait that gave up (`lock_timeout`, `NOWAIT`: SQLSTATE 55P03)
/// or a deadlock (40P01): worth retrying the whole step after a pause. diesel reports both
/// as `Unknown`, so they are told by the server's message.
pub(crate) fn is_lock_conflict(error: &DieselError) -> bool {
    let DieselError::DatabaseError(_, info) = error else {
        return false;
    };
    is_lock_conflict_message(info.message())
}

/// [`is_lock_conflict`] for an error already turned into its message.
pub(crate) fn is_lock_conflict_message(message: &str) -> bool {
    postgres::is_lock_conflict(message) || mysql_is_lock_conflict(message)
}

#[cfg(feature = "mysql")]
fn mysql_is_lock_conflict(message: &str) -> bool {
    mysql::is_lock_conflict(message)
}

#[cfg(not(feature = "mysql"))]
fn mysql_is_lock_conflict(_: &str) -> bool {
    false
}

#[cfg(feature = "mysql")]
fn mysql_is_busy(message: &str) -> bool {
    mysql::is_busy(message)
}

#[cfg(not(feature = "mysql"))]
fn mysql_is_busy(_: &str) -> bool {
    false
}

/// Whether `error` is worth retrying on a fresh connection or a little later: the
/// connection dropped, the server was shutting down or failing over (a writer that just
/// became a reader), a serialization failure or a deadlock, a statement or lock timeout
/// (the app role has both), or SQLite's busy timeout ran out behind another writer.
/// Constraint violations and bugs are not.
pub fn is_transient(error: &DieselError) -> bool {
    let DieselError::DatabaseError(kind, info) = error else {
        return false;
    };
    matches!(
        kind,
        DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::ReadOnlyTransaction
            | DatabaseErrorKind::SerializationFailure
    ) || postgres::is_busy(info.message())
        || sqlite::is_busy(info.message())
        || mysql_is_busy(info.message())
}
