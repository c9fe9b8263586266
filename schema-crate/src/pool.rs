//! A connection pool tuned for Lambda: one request at a time per container.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DB_POOL_SIZE` | maximum connections | `AWS_LAMBDA_MAX_CONCURRENCY`, else `1` |
//! | `DB_CHECKOUT_TIMEOUT_MS` | how long a request waits for a connection | `3000` |
//! | `DB_MAX_LIFETIME_SECS` | recycle connections older than this (under RDS Proxy's idle timeout) | `600` |
//! | `DB_IDLE_TIMEOUT_SECS` | close connections idle this long | `300` |
//! | `DB_PREPARED_STATEMENTS` | `false` turns off diesel's named prepared statements: only for a pooler that cannot carry them (pgbouncer before 1.21, or without `max_prepared_statements`, in transaction mode); RDS Proxy can (they stopped pinning in November 2023) | `true` |
//! | `DB_VALIDATE_AFTER_IDLE_MS` | check a connection with `SELECT 1` at checkout when it has been idle this long | `1000` |
//!
//! r2d2's server defaults (10 connections, all opened at build, 30 s checkout) cost a
//! Lambda cold start and hold connections no request will use.
//!
//! A checkout validates the connection only when it has been idle for
//! `DB_VALIDATE_AFTER_IDLE_MS`: a container thawed after a pause, or a connection
//! the proxy may have closed, pays one `SELECT 1` round trip; back-to-back requests pay
//! none (HikariCP's `aliveBypassWindowMs` and pgxpool's one-second idle check do the same).
//! A connection that fails the check is discarded and the checkout opens a new one. A
//! connection that dies within the window fails its request, and the pool discards it on
//! return ([`DbConnection::connection_lost`]), so the next request gets a new one.

use std::{env, sync::Arc, time::Duration};

use crate::env::Env;

use crate::{
    DbConnection,
    config::{ConfigError, DbTarget, Secret},
    connection::SessionSettings,
};

/// Pool size when neither `DB_POOL_SIZE` nor `AWS_LAMBDA_MAX_CONCURRENCY` is set.
pub const DEFAULT_POOL_SIZE: u32 = 1;
/// Default checkout timeout.
pub const DEFAULT_CHECKOUT_TIMEOUT: Duration = Duration::from_millis(3_000);
/// Default maximum connection lifetime; RDS Proxy's default idle client timeout is 30 min.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(600);
/// Default idle timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default idle time after which a checkout pings the connection first.
pub const DEFAULT_VALIDATE_AFTER_IDLE: Duration = Duration::from_millis(1_000);

/// The pool of [`DbConnection`]s.
pub type DbPool = r2d2::Pool<DbManager>;
/// A connection checked out of a [`DbPool`].
pub type PooledConnection = r2d2::PooledConnection<DbManager>;

/// Supplies the password for each new connection: a fixed one, a secret read once,
/// or a fresh RDS IAM token (tokens expire after 15 minutes, connections outlive them).
pub trait PasswordSource: Send + Sync + std::fmt::Debug + 'static {
    /// The password to use for the next connection, or `None` for the target's own.
    fn password(&self) -> Result<Option<Secret>, String>;
}

/// Pool settings (build with [`PoolConfig::default`], [`PoolConfig::from_env`] and the
/// `with_*` methods; new settings may come in minor versions).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Maximum number of connections.
    pub max_size: u32,
    /// How long a checkout waits before failing.
    pub checkout_timeout: Duration,
    /// Connections older than this are closed when returned.
    pub max_lifetime: Duration,
    /// Connections idle this long are closed.
    pub idle_timeout: Duration,
    /// A checkout pings a connection idle this long before handing it out
    /// (`Duration::ZERO`: every checkout pings).
    pub validate_after_idle: Duration,
    /// Per-session settings for new connections.
    pub session: SessionSettings,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_POOL_SIZE,
            checkout_timeout: DEFAULT_CHECKOUT_TIMEOUT,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            validate_after_idle: DEFAULT_VALIDATE_AFTER_IDLE,
            session: SessionSettings::default(),
        }
    }
}

impl PoolConfig {
    /// These settings with at most `n` connections.
    #[must_use]
    pub fn with_max_size(mut self, n: u32) -> Self {
        self.max_size = n;
        self
    }

    /// These settings with another checkout timeout.
    #[must_use]
    pub fn with_checkout_timeout(mut self, timeout: Duration) -> Self {
        self.checkout_timeout = timeout;
        self
    }

    /// These settings with another idle time after which a checkout pings.
    #[must_use]
    pub fn with_validate_after_idle(mut self, idle: Duration) -> Self {
        self.validate_after_idle = idle;
        self
    }

    /// These settings with other per-session settings.
    #[must_use]
    pub fn with_session(mut self, session: SessionSettings) -> Self {
        self.session = session;
        self
    }

    /// Reads the variables in the module docs.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// [`PoolConfig::from_env`] over any lookup.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_vars(&Env::from_lookup(get))
    }

    /// [`PoolConfig::from_env`] over an [`Env`].
    pub fn from_vars(env: &Env<'_>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let max_size = match env.u64_at_least("DB_POOL_SIZE", 1)? {
            Some(n) => n,
            None => env
                .u64_at_least("AWS_LAMBDA_MAX_CONCURRENCY", 1)?
                .unwrap_or(u64::from(DEFAULT_POOL_SIZE)),
        };
        let prepared_statements = env.bool("DB_PREPARED_STATEMENTS")?.unwrap_or(true);
        Ok(Self {
            max_size: u32::try_from(max_size).map_err(|_| ConfigError::Invalid {
                name: "DB_POOL_SIZE",
                reason: "too large".into(),
            })?,
            checkout_timeout: env
                .millis("DB_CHECKOUT_TIMEOUT_MS", 1)?
                .unwrap_or(defaults.checkout_timeout),
            max_lifetime: env
                .secs("DB_MAX_LIFETIME_SECS", 1)?
                .unwrap_or(defaults.max_lifetime),
            idle_timeout: env
                .secs("DB_IDLE_TIMEOUT_SECS", 1)?
                .unwrap_or(defaults.idle_timeout),
            validate_after_idle: env
                .millis("DB_VALIDATE_AFTER_IDLE_MS", 0)?
                .unwrap_or(defaults.validate_after_idle),
            session: defaults
                .session
                .with_prepared_statements(prepared_statements),
        })
    }
}

/// Opens, validates and recycles [`DbConnection`]s for r2d2.
#[derive(Debug)]
pub struct DbManager {
    target: DbTarget,
    passwords: Option<Arc<dyn PasswordSource>>,
    session: SessionSettings,
    validate_after_idle: Duration,
}

impl DbManager {
    /// A manager for `target`; `passwords` supplies a password per new connection.
    ///
    /// # Errors
    /// A password source with a `DATABASE_URL` target is refused, naming the variable: the
    /// URL carries its own password, and one of the two would be silently dropped.
    pub fn new(
        target: DbTarget,
        passwords: Option<Arc<dyn PasswordSource>>,
        session: SessionSettings,
    ) -> Result<Self, ConfigError> {
        if passwords.is_some() && target.login().is_none() {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "a password source (an IAM token or a secret) needs the database as \
                         DB_HOST, DB_PORT, DB_NAME and DB_USER, not a URL"
                    .into(),
            });
        }
        Ok(Self {
            target,
            passwords,
            session,
            validate_after_idle: Duration::ZERO,
        })
    }

    /// Opens one connection outside any pool (the migration runner's direct connection).
    pub fn connect(&self) -> Result<DbConnection, ManagerError> {
        let password = match &self.passwords {
            Some(source) => source.password().map_err(ManagerError::Credentials)?,
            None => None,
        };
        Ok(DbConnection::establish(
            &self.target,
            password.as_ref(),
            self.session,
        )?)
    }

    /// The target this manager connects to.
    pub fn target(&self) -> &DbTarget {
        &self.target
    }
}

/// Why a pooled connection could not be opened or validated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// The server refused or could not be reached.
    #[error("could not connect: {0}")] // CONNECT_FAILED
    Connect(#[from] diesel::ConnectionError),
    /// The validation query failed.
    #[error("connection check failed: {0}")]
    Check(#[from] diesel::result::Error),
    /// The password source failed (the message names the source, never the secret).
    #[error("could not get database credentials: {0}")] // CREDENTIALS_FAILED
    Credentials(String),
}

impl r2d2::ManageConnection for DbManager {
    type Connection = DbConnection;
    type Error = ManagerError;

    fn connect(&self) -> Result<DbConnection, ManagerError> {
        DbManager::connect(self)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ManagerError> {
        // Recently answered: trust it (a dead one fails its request and is discarded).
        if conn
            .idle_for()
            .is_some_and(|idle| idle < self.validate_after_idle)
        {
            return Ok(());
        }
        Ok(conn.ping()?)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // A connection returned mid-transaction (a panic, a failed rollback) is discarded:
        // the server rolls it back when the socket closes.
        // A connection whose socket was lost is discarded on its first failure, whatever
        // failed (diesel does not mark every such failure as a broken transaction state).
        crate::uow::in_transaction(conn).unwrap_or(true)
            || crate::uow::is_broken(conn)
            || conn.connection_lost()
    }
}

/// Logs pool errors through `tracing` (r2d2's default logger uses the `log` crate).
#[derive(Debug)]
struct TracingErrorHandler;

impl r2d2::HandleError<ManagerError> for TracingErrorHandler {
    fn handle_error(&self, error: ManagerError) {
        tracing::warn!(error = %error, "database connection error");
    }
}

/// How often [`checkout`] looks whether opening a connection has just failed.
const CHECKOUT_SLICE: Duration = Duration::from_millis(20);

/// Checks a connection out of `pool`, failing as soon as opening one fails instead of
/// after the whole checkout timeout: a database that refuses connections (stopped,
/// restarting, its port closed) answers in milliseconds. A pool that is only busy (every
/// connection in use) or a server slow to accept still waits up to the checkout timeout.
///
/// # Errors
/// r2d2's error, naming the connect failure when there was one.
pub fn checkout(pool: &DbPool) -> Result<PooledConnection, r2d2::Error> {
    let end = std::time::Instant::now() + pool.connection_timeout();
    loop {
        let left = end.saturating_duration_since(std::time::Instant::now());
        match pool.get_timeout(left.min(CHECKOUT_SLICE)) {
            Ok(conn) => return Ok(conn),
            // r2d2 hands the waiter the last connect or check failure's message, our
            // `ManagerError`: a failed connect (or password source) ends the wait.
            Err(error)
                if left <= CHECKOUT_SLICE
                    || error.to_string().contains(CONNECT_FAILED)
                    || error.to_string().contains(CREDENTIALS_FAILED) =>
            {
                return Err(error);
            }
            Err(_) => {}
        }
    }
}

const CONNECT_FAILED: &str = "could not connect: ";
const CREDENTIALS_FAILED: &str = "could not get database credentials: ";

/// Builds the pool for `target` as `config` says, without opening any connection: the
/// first request opens one. `passwords` supplies a password per new connection.
///
/// # Errors
/// As [`DbManager::new`]: a password source with a URL target is refused.
pub fn build_pool(
    target: DbTarget,
    passwords: Option<Arc<dyn PasswordSource>>,
    config: &PoolConfig,
) -> Result<DbPool, ConfigError> {
    let manager = DbManager {
        validate_after_idle: config.validate_after_idle,
        ..DbManager::new(target, passwords, config.session)?
    };
    Ok(r2d2::Pool::builder()
        .max_size(config.max_size)
        .min_idle(Some(0))
        .connection_timeout(config.checkout_timeout)
        .max_lifetime(Some(config.max_lifetime))
        .idle_timeout(Some(config.idle_timeout))
        // A thawed container may hold a socket the proxy closed long ago; `is_valid`
        // pings only connections idle longer than `validate_after_idle`.
        .test_on_check_out(true)
        .error_handler(Box::new(TracingErrorHandler))
        .build_unchecked(manager))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_concurrency_sets_the_pool_size_unless_overridden() {
        let c = PoolConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c.max_size, 1);
        let c =
            PoolConfig::from_lookup(|k| (k == "AWS_LAMBDA_MAX_CONCURRENCY").then(|| "4".into()))
                .unwrap();
        assert_eq!(c.max_size, 4);
        let c = PoolConfig::from_lookup(|k| match k {
            "AWS_LAMBDA_MAX_CONCURRENCY" => Some("4".into()),
            "DB_POOL_SIZE" => Some("2".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.max_size, 2);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err =
            PoolConfig::from_lookup(|k| (k == "DB_POOL_SIZE").then(|| "0".into())).unwrap_err();
        assert!(
            err.to_string().starts_with("DB_POOL_SIZE is invalid"),
            "{err}"
        );
        let err =
            PoolConfig::from_lookup(|k| (k == "DB_PREPARED_STATEMENTS").then(|| "maybe".into()))
                .unwrap_err();
        assert!(err.to_string().contains("DB_PREPARED_STATEMENTS"), "{err}");
        let c =
            PoolConfig::from_lookup(|k| (k == "DB_PREPARED_STATEMENTS").then(|| "false".into()))
                .unwrap();
        assert!(!c.session.prepared_statements);
    }

    #[test]
    fn the_idle_validation_window_may_be_zero_but_must_be_a_number() {
        let c = PoolConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c.validate_after_idle, DEFAULT_VALIDATE_AFTER_IDLE);
        let c = PoolConfig::from_lookup(|k| (k == "DB_VALIDATE_AFTER_IDLE_MS").then(|| "0".into()))
            .unwrap();
        assert_eq!(c.validate_after_idle, Duration::ZERO);
        let err =
            PoolConfig::from_lookup(|k| (k == "DB_VALIDATE_AFTER_IDLE_MS").then(|| "-1".into()))
                .unwrap_err();
        assert!(
            err.to_string().contains("DB_VALIDATE_AFTER_IDLE_MS")
                && err.to_string().contains("not a whole number"),
            "{err}"
        );
        let err =
            PoolConfig::from_lookup(|k| (k == "DB_POOL_SIZE").then(|| "x".into())).unwrap_err();
        assert!(
            err.to_string().contains("not a positive whole number"),
            "{err}"
        );
    }
}
