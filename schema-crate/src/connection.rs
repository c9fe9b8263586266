//! One connection type for both backends.
//!
//! diesel's `MultiConnection` only speaks the SQL types every backend shares, and
//! `timestamptz` is not among them. So a [`DbConnection`] is a plain enum, and
//! [`with_conn!`](crate::with_conn) runs the same query text against the schema
//! module of whichever backend it holds: the compiler checks the query once per backend.

use std::time::{Duration, Instant, SystemTime};

use diesel::{
    Connection, ConnectionError, PgConnection, RunQueryDsl, SqliteConnection,
    connection::{
        CacheSize, Instrumentation, InstrumentationEvent, SimpleConnection,
        get_default_instrumentation,
    },
};

use crate::config::{DbTarget, Secret};

/// The database products this crate supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// PostgreSQL (Aurora PostgreSQL in production).
    Postgres,
    /// SQLite, bundled: the embedded default for local runs.
    Sqlite,
}

impl Backend {
    /// The folder under `migrations/` holding this backend's migrations.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// A live connection to either backend.
pub enum DbConnection {
    /// A PostgreSQL connection.
    Postgres(PgConnection),
    /// A SQLite connection.
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbConnection({:?})", self.backend())
    }
}

/// Runs `$body` with `$c` bound to the concrete connection and `$schema` to that
/// backend's generated schema module (`schema` or `schema_sqlite`).
///
/// ```
/// use bookstore_schema::{DbConnection, with_conn};
/// use diesel::prelude::*;
/// # fn count(conn: &mut DbConnection) -> QueryResult<i64> {
/// with_conn!(conn, c, s => s::book::table.count().get_result(c))
/// # }
/// ```
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, $c:ident, $schema:ident => $body:expr) => {
        match $conn {
            $crate::DbConnection::Postgres($c) => {
                #[allow(unused_imports)]
                use $crate::schema as $schema;
                $body
            }
            $crate::DbConnection::Sqlite($c) => {
                #[allow(unused_imports)]
                use $crate::schema_sqlite as $schema;
                $body
            }
        }
    };
}

/// How a new connection is prepared before first use.
#[derive(Clone, Copy, Debug)]
pub struct SessionSettings {
    /// Keep diesel's named prepared-statement cache. Turn off behind RDS Proxy or
    /// pgbouncer in transaction mode: named statements pin or break there.
    pub prepared_statements: bool,
    /// SQLite `busy_timeout`, in milliseconds.
    pub sqlite_busy_timeout_ms: u32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            prepared_statements: true,
            sqlite_busy_timeout_ms: 5_000,
        }
    }
}

impl DbConnection {
    /// Opens a connection to `target`. `password` overrides the target's own
    /// (an IAM token or a secret fetched at run time).
    pub fn establish(
        target: &DbTarget,
        password: Option<&Secret>,
        settings: SessionSettings,
    ) -> Result<Self, ConnectionError> {
        let mut conn = match target {
            DbTarget::PostgresUrl(url) => Self::Postgres(PgConnection::establish(url.expose())?),
            DbTarget::Postgres(parts) => {
                let password = password.or(parts.password.as_ref()).map(Secret::expose);
                Self::Postgres(PgConnection::establish(parts.conninfo(password).expose())?)
            }
            DbTarget::Sqlite(path) => Self::Sqlite(SqliteConnection::establish(path)?),
        };
        conn.prepare_session(settings)
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        let activity = Activity::new();
        with_conn!(&mut conn, c, _s => c.set_instrumentation(activity));
        Ok(conn)
    }

    fn prepare_session(&mut self, settings: SessionSettings) -> diesel::QueryResult<()> {
        match self {
            Self::Postgres(c) => {
                if !settings.prepared_statements {
                    c.set_prepared_statement_cache_size(CacheSize::Disabled);
                }
                Ok(())
            }
            // Foreign keys are off by default in SQLite; WAL lets readers run beside a writer.
            Self::Sqlite(c) => c.batch_execute(&format!(
                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
                settings.sqlite_busy_timeout_ms
            )),
        }
    }

    /// Which backend this connection speaks.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Runs SQL text with no parameters (several statements allowed).
    pub fn batch_execute(&mut self, sql: &str) -> diesel::QueryResult<()> {
        match self {
            Self::Postgres(c) => c.batch_execute(sql),
            Self::Sqlite(c) => c.batch_execute(sql),
        }
    }

    /// A cheap round trip, used to validate pooled connections after a Lambda thaw.
    pub fn ping(&mut self) -> diesel::QueryResult<()> {
        with_conn!(self, c, _s => diesel::sql_query("SELECT 1").execute(c).map(|_| ()))
    }

    /// How many statements this connection has sent since it was opened (`BEGIN`,
    /// `COMMIT` and pings included). `None` if someone replaced the connection's diesel
    /// instrumentation after [`DbConnection::establish`].
    pub fn statements_sent(&mut self) -> Option<u64> {
        self.activity().map(|a| a.statements)
    }

    /// How long since the server last answered a statement on this connection (or the
    /// connection was opened): the longer of the monotonic and the wall-clock reading,
    /// because a frozen Lambda container's monotonic clock may not count the freeze.
    /// `None` when unknown (the instrumentation was replaced, or a clock went backwards).
    pub fn idle_for(&mut self) -> Option<Duration> {
        let activity = self.activity()?;
        let wall = SystemTime::now()
            .duration_since(activity.last_answer.1)
            .ok()?;
        Some(activity.last_answer.0.elapsed().max(wall))
    }

    fn activity(&mut self) -> Option<&mut Activity> {
        with_conn!(self, c, _s => c.instrumentation().downcast_mut::<Activity>())
    }
}

/// The diesel instrumentation every [`DbConnection`] carries: it counts statements and
/// remembers when the server last answered one, then hands each event on to diesel's
/// default instrumentation, if the application set one.
struct Activity {
    statements: u64,
    last_answer: (Instant, SystemTime),
    inner: Option<Box<dyn Instrumentation>>,
}

impl Activity {
    fn new() -> Self {
        Self {
            statements: 0,
            last_answer: (Instant::now(), SystemTime::now()),
            inner: get_default_instrumentation(),
        }
    }
}

impl Instrumentation for Activity {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match &event {
            InstrumentationEvent::StartQuery { .. } => self.statements += 1,
            InstrumentationEvent::FinishQuery { error: None, .. } => {
                self.last_answer = (Instant::now(), SystemTime::now());
            }
            _ => {}
        }
        if let Some(inner) = self.inner.as_mut() {
            inner.on_connection_event(event);
        }
    }
}
