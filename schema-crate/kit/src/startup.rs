//! What the binaries do before serving: logs, configuration, the pool, the schema.
//!
//! | variable | read by | meaning | default |
//! |---|---|---|---|
//! | `DATABASE_URL` | all | `postgres://…` or `sqlite://path`; wins over `DB_*` | local: `sqlite://bookstore.db`; Lambda: required unless `DB_HOST` |
//! | `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER`, `DB_PASSWORD`, `DB_SSLMODE`, `DB_SSLROOTCERT`, `DB_CONNECT_TIMEOUT_SECS` | all | PostgreSQL from parts (see `bookstore_schema::config`) | — |
//! | `DB_POOL_SIZE` | all | connections per container | `AWS_LAMBDA_MAX_CONCURRENCY`, else 1 (local: 4) |
//! | `DB_CHECKOUT_TIMEOUT_MS`, `DB_MAX_LIFETIME_SECS`, `DB_IDLE_TIMEOUT_SECS`, `DB_PREPARED_STATEMENTS` | all | pool tuning (see `bookstore_schema::pool`) | 3000, 600, 300, `true` |
//! | `DATABASE_READER_URL` or `DB_READER_HOST` (+ `DB_READER_PORT`) | functions | the replicas (RDS Proxy's read-only endpoint) for list and get routes; the other `DB_*` parts are the writer's | unset: reads on the writer |
//! | `REQUEST_DEADLINE_MS` | all | a request's whole database work (checkout included); past it, `503` at once and a late unit of work rolls back | 10000 |
//! | `PORT` | local | port on 127.0.0.1 | 3000 |
//! | `CORS_ALLOWED_ORIGINS` | all | origins browsers may call the API from, comma-separated, or `*` (see [`crate::cors`]) | unset: CORS off |
//! | `RUST_LOG` | all | log filter (`tracing_subscriber::EnvFilter`) | `info` |
//!
//! The API Gateway stage needs no variable: [`crate::stage`] handles it.
//!
//! Deployed functions never migrate: they check the schema at cold start and answer
//! `503 schema_behind` until the schema Lambda has run. The local server migrates at start.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use axum::Router;
use bookstore_schema::{
    ConfigError, DbPool, DbTarget, PoolConfig, build_pool,
    env::Env,
    migrate::{RunOptions, Runner},
    pool::PasswordSource,
};

use crate::{
    cors::CorsConfig,
    router,
    stage::lambda_service,
    state::{AppState, DEFAULT_REQUEST_DEADLINE, Dispatch},
};

pub use crate::logging::{DEFAULT_LOG_FILTER, LogFormat, init_tracing, subscriber};

/// Port of the local server when `PORT` is unset.
pub const DEFAULT_PORT: u16 = 3000;
/// The local server's database when neither `DATABASE_URL` nor `DB_HOST` is set.
pub const DEFAULT_SQLITE_URL: &str = "sqlite://bookstore.db";
/// The local server's pool size when `DB_POOL_SIZE` is unset (browsers open several connections).
pub const LOCAL_DEFAULT_POOL_SIZE: u32 = 4;
/// The seam for database credentials: a password per new connection (a Secrets Manager
/// secret, an RDS IAM token). `None` uses the target's own password. Every binary builds
/// its pool through [`build_state`], so this is the one place to plug a source in.
pub fn password_source_from_env() -> anyhow::Result<Option<Arc<dyn PasswordSource>>> {
    // `DB_IAM_AUTH=true`: a fresh RDS IAM token per new connection.
    Ok(bookstore_credentials::password_source_from_env()?)
}

/// Builds the pool (opening no connection) and the state over it.
pub fn build_state(
    target: DbTarget,
    config: &PoolConfig,
    dispatch: Dispatch,
) -> anyhow::Result<AppState> {
    Ok(AppState::new(build_db_pool(target, config)?, dispatch))
}

fn build_db_pool(target: DbTarget, config: &PoolConfig) -> anyhow::Result<DbPool> {
    let passwords = password_source_from_env().context("setting up database credentials")?;
    build_db_pool_with(target, passwords, config, "writer")
}

fn build_db_pool_with(
    target: DbTarget,
    passwords: Option<Arc<dyn PasswordSource>>,
    config: &PoolConfig,
    role: &str,
) -> anyhow::Result<DbPool> {
    tracing::info!(
        pool.role = role,
        database = %target,
        pool.max_size = config.max_size,
        pool.checkout_timeout_ms = config.checkout_timeout.as_millis(),
        "database pool configured"
    );
    build_pool(target, passwords, config).context("building the database pool")
}

/// A deployed function's whole `main`: JSON logs, the state from the environment (the
/// schema checked at cold start, an init error reported to Lambda), `routes` finished by
/// [`router::finish`], served on the Lambda runtime until it stops.
///
/// ```no_run
/// # use axum::{Router, routing::get};
/// # fn routes() -> Router<bookstore_kit::AppState> { Router::new().route("/ping", get(|| async { "pong" })) }
/// #[tokio::main]
/// async fn main() -> anyhow::Result<()> {
///     bookstore_kit::run_function(routes()).await
/// }
/// ```
pub async fn run_function(routes: Router<AppState>) -> anyhow::Result<()> {
    init_tracing(LogFormat::Json);
    let cors = CorsConfig::from_env()
        .context("reading the CORS configuration")
        .inspect_err(report_init_error)?;
    let state = build_state_from_env().await?;
    run_lambda(CorsConfig::apply(
        cors.as_ref(),
        router::finish(routes, state),
    ))
    .await
}

/// The local server's whole `main`: plain logs, [`LocalConfig`] from the environment, the
/// database migrated, `routes` finished by [`router::finish`], served on `127.0.0.1:$PORT`
/// until Ctrl-C.
pub async fn run_local(routes: Router<AppState>) -> anyhow::Result<()> {
    init_tracing(LogFormat::Plain);
    let config = LocalConfig::from_env()?;
    let state = build_local_state(&config).await?;
    let router = CorsConfig::apply(config.cors.as_ref(), router::finish(routes, state));
    serve_local(router, config.addr).await
}

/// A deployed function's state: configuration from the environment (failing fast,
/// naming the variable), the pool built once, the schema checked at cold start.
/// Refuses to run outside Lambda, before touching the database.
pub async fn build_state_from_env() -> anyhow::Result<AppState> {
    ensure_on_lambda()?;
    let state = state_from_env().inspect_err(report_init_error)?;
    check_schema_at_start(&state).await;
    Ok(state)
}

fn state_from_env() -> anyhow::Result<AppState> {
    // `DB_*` parts completed by the `DB_SECRET_ARN` secret (read once, here) when set.
    let target =
        bookstore_credentials::target_from_env().context("reading the database configuration")?;
    let config = PoolConfig::from_env().context("reading the pool configuration")?;
    // One connection per container unless `AWS_LAMBDA_MAX_CONCURRENCY` (or
    // `DB_POOL_SIZE`) says the container serves several requests at once.
    let dispatch = Dispatch::for_pool_size(config.max_size);
    let function_name = Env::from_env()
        .non_empty("AWS_LAMBDA_FUNCTION_NAME")
        .unwrap_or_else(|| "unnamed-function".to_owned());
    let state = AppState::for_function(build_db_pool(target, &config)?, dispatch, function_name)
        .with_request_deadline(request_deadline(&Env::from_env())?);
    with_reader_from_env(state, &config)
}

/// `state` with a reader pool when `DATABASE_READER_URL` or `DB_READER_HOST` is set (the
/// replicas: RDS Proxy's read-only endpoint). `DB_READER_HOST` takes every other `DB_*`
/// part from the writer's (`DB_READER_PORT` overrides the port), and IAM tokens are
/// signed for it.
pub fn with_reader_from_env(state: AppState, config: &PoolConfig) -> anyhow::Result<AppState> {
    with_reader_from_lookup(state, config, |name| std::env::var(name).ok())
}

/// [`with_reader_from_env`] over any lookup.
pub fn with_reader_from_lookup(
    state: AppState,
    config: &PoolConfig,
    get: impl Fn(&str) -> Option<String> + Clone,
) -> anyhow::Result<AppState> {
    let non_empty = |name: &str| get(name).filter(|v| !v.is_empty());
    let (target, passwords) = if let Some(url) = non_empty("DATABASE_READER_URL") {
        (
            DbTarget::from_url(&url).map_err(|e| reader_error(&e))?,
            None,
        )
    } else if let Some(host) = non_empty("DB_READER_HOST") {
        let port = |name| non_empty(name).or_else(|| non_empty("DB_PORT"));
        if non_empty("DB_HOST").as_deref() == Some(host.as_str())
            && port("DB_READER_PORT") == port("DB_PORT")
        {
            // The writer itself (a cluster without replicas): no second pool.
            return Ok(state);
        }
        let reader_get = {
            let get = get.clone();
            move |name: &str| match name {
                "DATABASE_URL" => None,
                "DB_HOST" => Some(host.clone()),
                "DB_PORT" => get("DB_READER_PORT").or_else(|| get("DB_PORT")),
                _ => get(name),
            }
        };
        let target = bookstore_credentials::target_from_lookup(reader_get.clone())
            .context("reading the reader's configuration")?;
        let passwords = bookstore_credentials::password_source_from_lookup(reader_get)
            .context("setting up the reader's credentials")?;
        (target, passwords)
    } else {
        return Ok(state);
    };
    Ok(state.with_reader(build_db_pool_with(target, passwords, config, "reader")?))
}

fn reader_error(error: &ConfigError) -> ConfigError {
    ConfigError::invalid("DATABASE_READER_URL", error.to_string())
}

/// `REQUEST_DEADLINE_MS`, else [`DEFAULT_REQUEST_DEADLINE`].
fn request_deadline(env: &Env<'_>) -> Result<std::time::Duration, ConfigError> {
    Ok(env
        .millis("REQUEST_DEADLINE_MS", 1)?
        .unwrap_or(DEFAULT_REQUEST_DEADLINE))
}

/// Tells Lambda why init failed (`POST /runtime/init/error`, typed `ConfigError` when the
/// configuration is at fault), so the failure shows as that error rather than as an exit
/// status. Best effort: the caller still returns the error and the process exits.
fn report_init_error(error: &anyhow::Error) {
    let error_type = if error.chain().any(|cause| cause.is::<ConfigError>()) {
        "ConfigError"
    } else {
        "InitError"
    };
    crate::lambda::report_init_error(error_type, &format!("{error:#}"));
}

/// Checks the schema before the first request. A database that is down or behind is
/// logged, not fatal: requests answer 503 and keep checking until it is fixed.
pub async fn check_schema_at_start(state: &AppState) {
    match state.check_schema().await {
        Ok(()) => {}
        Err(error) => tracing::warn!(
            error.code = %error.code(),
            error.cause = %error,
            "schema check at start failed; requests will retry it"
        ),
    }
}

/// Runs `router` on the Lambda runtime. Outside Lambda this is an error, not the
/// runtime's panic.
pub async fn run_lambda(router: Router) -> anyhow::Result<()> {
    ensure_on_lambda()?;
    // One invocation at a time: `run_concurrent` needs a `Sync` response body, which
    // axum's is not.
    lambda_http::run(lambda_service(router))
        .await
        .map_err(anyhow::Error::from_boxed)
        .context("the Lambda runtime stopped")
}

/// Fails unless this process runs on Lambda (the runtime panics without its variables).
fn ensure_on_lambda() -> anyhow::Result<()> {
    if !crate::lambda::on_lambda() {
        anyhow::bail!(
            "AWS_LAMBDA_FUNCTION_NAME is not set: this binary runs on AWS Lambda only; \
             run `cargo run -p bookstore-functions --bin bookstore-local` to serve the API locally"
        );
    }
    Ok(())
}

/// The local server's configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LocalConfig {
    /// Where to listen (127.0.0.1 and `PORT`).
    pub addr: SocketAddr,
    /// The database: `DATABASE_URL` or `DB_*`, else `./bookstore.db`.
    pub target: DbTarget,
    /// Pool settings (`DB_POOL_SIZE` defaults to 4 here).
    pub pool: PoolConfig,
    /// Origins browsers may call from (`CORS_ALLOWED_ORIGINS`); `None`: CORS off.
    pub cors: Option<CorsConfig>,
}

impl LocalConfig {
    /// Reads the process environment (see the module docs).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Env::from_env())
    }

    /// [`LocalConfig::from_env`] over any [`Env`] (tests pass `Env::from_pairs`).
    pub fn from_vars(env: &Env<'_>) -> Result<Self, ConfigError> {
        let port = env
            .parse::<u16>("PORT", "a port number")?
            .unwrap_or(DEFAULT_PORT);
        let target = if env.is_set("DATABASE_URL") || env.is_set("DB_HOST") {
            DbTarget::from_lookup(env.lookup())?
        } else {
            DbTarget::from_url(DEFAULT_SQLITE_URL)?
        };
        let mut pool = PoolConfig::from_lookup(env.lookup())?;
        if env.string("DB_POOL_SIZE").is_none() {
            pool.max_size = LOCAL_DEFAULT_POOL_SIZE;
        }
        Ok(Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            target,
            pool,
            cors: CorsConfig::from_vars(env)?,
        })
    }
}

/// The local server's state: the pool, every migration applied, the schema checked.
pub async fn build_local_state(config: &LocalConfig) -> anyhow::Result<AppState> {
    let pool = build_db_pool(config.target.clone(), &config.pool)?;
    let migrating = pool.clone();
    let report = tokio::task::spawn_blocking(move || {
        let mut conn = migrating.get().context("connecting to the database")?;
        Runner::new(RunOptions::default())
            .migrate(&mut conn)
            .context("migrating the database")
    })
    .await
    .context("the migration task failed")??;
    tracing::info!(
        version_before = report.version_before.as_deref().unwrap_or("none"),
        version_after = report.version_after.as_deref().unwrap_or("none"),
        applied = report.steps.len(),
        "database migrated"
    );
    // A server: many requests at once, each unit of work off the async workers.
    let state = AppState::for_function(pool, Dispatch::Offload, "bookstore-local")
        .with_request_deadline(request_deadline(&Env::from_env())?);
    check_schema_at_start(&state).await;
    Ok(state)
}

/// Serves `router` on `addr` until Ctrl-C.
pub async fn serve_local(router: Router, addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    tracing::info!(%addr, "bookstore API listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(pairs: &[(&'static str, &'static str)]) -> Result<LocalConfig, ConfigError> {
        LocalConfig::from_vars(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn with_no_environment_the_local_server_uses_sqlite_on_port_3000() {
        let c = local(&[]).unwrap();
        assert_eq!(c.addr.to_string(), "127.0.0.1:3000");
        assert!(matches!(&c.target, DbTarget::Sqlite(p) if p == "bookstore.db"));
        assert_eq!(c.pool.max_size, LOCAL_DEFAULT_POOL_SIZE);
        assert_eq!(c.cors, None);
    }

    #[test]
    fn database_url_and_port_override_the_local_defaults() {
        let c = local(&[
            ("PORT", "8080"),
            ("DATABASE_URL", "postgres://u@h/db"),
            ("DB_POOL_SIZE", "2"),
        ])
        .unwrap();
        assert_eq!(c.addr.port(), 8080);
        assert!(matches!(c.target, DbTarget::PostgresUrl(_)));
        assert_eq!(c.pool.max_size, 2);
    }

    #[test]
    fn a_reader_host_that_is_the_writer_adds_no_pool_and_another_one_does() {
        let state = || {
            let pool = build_pool(
                DbTarget::from_url("postgres://u@writer/db").unwrap(),
                None,
                &PoolConfig::default(),
            )
            .unwrap();
            AppState::new(pool, Dispatch::Inline)
        };
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let config = PoolConfig::default();
        let none = with_reader_from_lookup(state(), &config, lookup(&[("DB_HOST", "w")])).unwrap();
        assert!(!none.has_reader());
        let same = with_reader_from_lookup(
            state(),
            &config,
            lookup(&[("DB_HOST", "w"), ("DB_READER_HOST", "w")]),
        )
        .unwrap();
        assert!(!same.has_reader());
        let other = with_reader_from_lookup(
            state(),
            &config,
            lookup(&[("DB_HOST", "w"), ("DB_READER_HOST", "r")]),
        )
        .unwrap();
        assert!(other.has_reader());
        let url = with_reader_from_lookup(
            state(),
            &config,
            lookup(&[("DATABASE_READER_URL", "postgres://u@r/db")]),
        )
        .unwrap();
        assert!(url.has_reader());
        let bad = with_reader_from_lookup(
            state(),
            &config,
            lookup(&[("DATABASE_READER_URL", "mongodb://u:hunter2@r/db")]),
        )
        .unwrap_err();
        let shown = format!("{bad:#}");
        assert!(
            shown.contains("DATABASE_READER_URL") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = local(&[("PORT", "http")]).unwrap_err();
        assert!(err.to_string().starts_with("PORT is invalid"), "{err}");
        let err = local(&[("DB_POOL_SIZE", "0")]).unwrap_err();
        assert!(
            err.to_string().starts_with("DB_POOL_SIZE is invalid"),
            "{err}"
        );
    }
}
