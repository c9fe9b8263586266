//! One connection type for every backend.
//!
//! A [`DbConnection`] holds diesel's own connection for the backend its target names
//! (see [`crate::backend`] for why it is not diesel's `MultiConnection`). Queries in this
//! crate are written once against `schema.rs` and checked by the compiler for each
//! backend. The backend itself is private: [`DbConnection::backend_connection`] hands out
//! diesel's connection for statements this crate does not offer.

use std::time::{Duration, Instant, SystemTime};

use diesel::{
    Connection as _, ConnectionError, RunQueryDsl,
    connection::{
        Instrumentation, InstrumentationEvent, SimpleConnection, get_default_instrumentation,
    },
};

use crate::{
    backend::{self, Dialect, Inner, with_conn},
    config::{DbTarget, Secret, scrub_url_from},
};

/// How a new connection is prepared before first use.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct SessionSettings {
    /// Keep diesel's named prepared-statement cache (measured: a read takes about half
    /// the time, docs/benchmarks.md). Turn off only behind a pooler that cannot carry
    /// named statements across server connections: pgbouncer in transaction mode before
    /// 1.21 (or without `max_prepared_statements`). RDS Proxy carries them without pinning
    /// since November 2023.
    pub prepared_statements: bool,
    /// SQLite `busy_timeout`, in milliseconds.
    pub sqlite_busy_timeout_ms: u32,
    /// PostgreSQL: turn on TCP keepalives on the client's socket (libpq `keepalives`,
    /// first probe after 5 s idle, every 2 s, 3 lost: a vanished server is noticed in about
    /// 11 s instead of the kernel's 2 hours). The migration runner's direct session uses it.
    pub tcp_keepalives: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            prepared_statements: true,
            sqlite_busy_timeout_ms: 5_000,
            tcp_keepalives: false,
        }
    }
}

impl SessionSettings {
    /// These settings with diesel's named prepared statements on or off.
    #[must_use]
    pub fn with_prepared_statements(mut self, on: bool) -> Self {
        self.prepared_statements = on;
        self
    }

    /// These settings with the client's TCP keepalives on or off.
    #[must_use]
    pub fn with_tcp_keepalives(mut self, on: bool) -> Self {
        self.tcp_keepalives = on;
        self
    }

    /// These settings with another SQLite busy timeout.
    #[must_use]
    pub fn with_sqlite_busy_timeout_ms(mut self, ms: u32) -> Self {
        self.sqlite_busy_timeout_ms = ms;
        self
    }
}

/// A live connection to one of the supported backends.
pub struct DbConnection {
    inner: Inner,
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbConnection({})", self.inner.backend().as_str())
    }
}

impl DbConnection {
    /// Opens a connection to `target`. `password` overrides the target's own (an IAM
    /// token or a secret fetched at run time); only a target given as parts (PostgreSQL's
    /// or MySQL's) takes one: a URL carries its own and SQLite has none, so one given with
    /// them is refused rather than dropped.
    pub fn establish(
        target: &DbTarget,
        password: Option<&Secret>,
        settings: SessionSettings,
    ) -> Result<Self, ConnectionError> {
        if password.is_some() && target.login().is_none() {
            return Err(ConnectionError::BadConnection(
                "a password source needs the database as DB_HOST, DB_PORT, DB_NAME and DB_USER \
                 (a DATABASE_URL carries its own password; SQLite takes none)"
                    .to_owned(),
            ));
        }
        let inner =
            backend::establish(target, password, &settings).map_err(|error| match target {
                // libpq quotes what it could not parse: keep no piece of a URL's secrets.
                DbTarget::PostgresUrl(url) => scrub(error, url.expose()),
                #[cfg(feature = "mysql")]
                DbTarget::MysqlUrl(url) => scrub(error, url.expose()),
                _ => error,
            })?;
        let mut conn = Self { inner };
        with_conn!(&mut conn, c => c.prepare_session(&settings))
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
        let activity = Activity::new();
        with_conn!(&mut conn, c => c.set_instrumentation(activity));
        Ok(conn)
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    pub(crate) fn inner_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }

    /// Runs SQL text with no parameters (several statements allowed).
    pub fn batch_execute(&mut self, sql: &str) -> diesel::QueryResult<()> {
        with_conn!(self, c => c.batch_execute(sql))
    }

    /// A cheap round trip, used to validate pooled connections after a Lambda thaw.
    pub fn ping(&mut self) -> diesel::QueryResult<()> {
        with_conn!(self, c => diesel::sql_query("SELECT 1").execute(c).map(|_| ()))
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

    /// Whether a statement on this connection failed because the connection itself was
    /// lost (the server ended the session, the socket closed). The pool then discards it
    /// on return, whichever step failed first: diesel marks its transaction state broken
    /// for most such failures, but not when a statement's first use (its `PREPARE`)
    /// fails, so this does not rely on that. Stays `false` when the instrumentation was
    /// replaced after [`DbConnection::establish`].
    pub fn connection_lost(&mut self) -> bool {
        self.activity().is_some_and(|a| a.lost)
    }

    fn activity(&mut self) -> Option<&mut Activity> {
        with_conn!(self, c => c.instrumentation().downcast_mut::<Activity>())
    }
}

/// `error` with every secret piece of `url` scrubbed from its message.
pub(crate) fn scrub(error: ConnectionError, url: &str) -> ConnectionError {
    match error {
        ConnectionError::BadConnection(message) => {
            ConnectionError::BadConnection(scrub_url_from(&message, url))
        }
        ConnectionError::InvalidConnectionUrl(message) => {
            ConnectionError::InvalidConnectionUrl(scrub_url_from(&message, url))
        }
        other => other,
    }
}

/// The diesel instrumentation every [`DbConnection`] carries: it counts statements and
/// remembers when the server last answered one, then hands each event on to diesel's
/// default instrumentation, if the application set one.
struct Activity {
    statements: u64,
    lost: bool,
    last_answer: (Instant, SystemTime),
    inner: Option<Box<dyn Instrumentation>>,
}

impl Activity {
    fn new() -> Self {
        Self {
            statements: 0,
            lost: false,
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
            InstrumentationEvent::FinishQuery {
                error: Some(error), ..
            } => self.lost |= is_connection_loss(error),
            _ => {}
        }
        if let Some(inner) = self.inner.as_mut() {
            inner.on_connection_event(event);
        }
    }
}

/// Whether `error` says the connection itself is gone, rather than the statement failed:
/// diesel's closed-connection kinds, or libpq's and PostgreSQL's words for it (a session
/// the server terminated reports SQLSTATE 57P01, which diesel maps to `Unknown`).
fn is_connection_loss(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    let Error::DatabaseError(kind, info) = error else {
        return false;
    };
    if matches!(
        kind,
        DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand
    ) {
        return true;
    }
    let message = info.message();
    [
        "terminating connection",
        "server closed the connection",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
        "SSL connection has been closed unexpectedly",
        "SSL SYSCALL error",
        "connection to server was lost",
    ]
    .iter()
    .any(|words| message.contains(words))
}
