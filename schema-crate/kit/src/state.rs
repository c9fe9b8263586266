//! Per-container state: the pool, the schema gate, and the unit of work that is the
//! only way a handler reaches the database.

use std::{
    any::Any,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bookstore_schema::{
    DbConnection, DbPool, ReadConnection,
    migrate::{self, SchemaCheck},
    one_statement, transactional,
};

use tokio::sync::oneshot;

use crate::{error::ApiError, workers::Workers};

/// How long a request may wait for the database, everything included (checkout, schema
/// check, the work), when `REQUEST_DEADLINE_MS` is unset: under a function's 15 s timeout
/// and API Gateway's 29 s, so the client gets a `503` rather than a gateway timeout.
pub const DEFAULT_REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// Where a unit of work ran its blocking database calls, before every request got a
/// deadline. Kept so that code naming it still compiles: since the deadline, every unit of
/// work runs on a thread of the state's own, one per pool connection at most (named
/// `db-writer-N`, `db-reader-N`), because neither a call blocking the polling thread
/// (`Inline`) nor `block_in_place` (`Offload`) can be abandoned when the database stops
/// answering. Measured cost: docs/benchmarks.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dispatch {
    /// Was: on the thread that polls the request (a Lambda container serving one request
    /// at a time).
    Inline,
    /// Was: off the async worker with `block_in_place` (a server with concurrent requests).
    Offload,
}

impl Dispatch {
    /// `Inline` for a pool of one connection (one unit of work at a time), else `Offload`.
    pub fn for_pool_size(max_size: u32) -> Self {
        if max_size <= 1 {
            Self::Inline
        } else {
            Self::Offload
        }
    }
}

/// What every request shares: built once per container, before the first request.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    /// The writer's pool and threads.
    writer: Side,
    /// Set once the database has every migration the pinned schema crate embeds. A
    /// database never loses migrations under a running function, so it is never unset.
    schema_current: AtomicBool,
    dispatch: Dispatch,
    /// The name this function records its pin under once the schema is current (the
    /// compatibility window); `None` records nothing.
    function_name: Option<String>,
    /// How long a request may wait for the database (see [`AppState::with_request_deadline`]).
    deadline: Duration,
    /// The replicas' pool and threads, for [`AppState::read`]; `None` reads on the writer.
    reader: Option<Side>,
    /// Until when reads skip a reader that just failed to answer (it is not asked on
    /// every request while it is down).
    reader_resting_until: std::sync::Mutex<Option<Instant>>,
}

/// How long reads go straight to the writer after the reader failed to answer.
const READER_REST: Duration = Duration::from_secs(5);

impl Inner {
    /// The pool and threads a unit of work runs on: the reader's when asked for and
    /// present, else the writer's.
    fn side(&self, on: Pool) -> &Side {
        match (on, &self.reader) {
            (Pool::Reader, Some(reader)) => reader,
            _ => &self.writer,
        }
    }

    fn cloned(&self) -> Self {
        Self {
            writer: self.writer.clone(),
            schema_current: AtomicBool::new(self.schema_current.load(Ordering::Acquire)),
            dispatch: self.dispatch,
            function_name: self.function_name.clone(),
            deadline: self.deadline,
            reader: self.reader.clone(),
            reader_resting_until: std::sync::Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("pool", &self.inner.writer.pool.state())
            .field(
                "schema_current",
                &self.inner.schema_current.load(Ordering::Relaxed),
            )
            .field("dispatch", &self.inner.dispatch)
            .finish()
    }
}

impl AppState {
    /// State over `pool`, running units of work as `dispatch` says; the schema is checked
    /// on first use (or by [`AppState::check_schema`]).
    pub fn new(pool: DbPool, dispatch: Dispatch) -> Self {
        Self::build(pool, dispatch, None)
    }

    /// [`AppState::new`] for a deployed function: once the schema check passes, the
    /// function records `function_name` and its `bookstore-schema` version in the pins
    /// table (one statement per container), so the schema team's runner knows which
    /// versions are live and holds back contract migrations they still need.
    pub fn for_function(
        pool: DbPool,
        dispatch: Dispatch,
        function_name: impl Into<String>,
    ) -> Self {
        Self::build(pool, dispatch, Some(function_name.into()))
    }

    fn build(pool: DbPool, dispatch: Dispatch, function_name: Option<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                writer: Side::new("db-writer", pool),
                schema_current: AtomicBool::new(false),
                dispatch,
                function_name,
                deadline: DEFAULT_REQUEST_DEADLINE,
                reader: None,
                reader_resting_until: std::sync::Mutex::new(None),
            }),
        }
    }

    /// This state with every request's database work bounded by `deadline` (default
    /// [`DEFAULT_REQUEST_DEADLINE`]; `REQUEST_DEADLINE_MS` for the binaries). Past it the
    /// request answers `503 database_unavailable` at once, whatever the database does (a
    /// frozen server, a partition); the work, on a thread of its own, finishes or fails
    /// later, and a [`AppState::unit_of_work`] that finishes late rolls back instead of
    /// committing.
    #[must_use]
    pub fn with_request_deadline(self, deadline: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                deadline,
                ..self.inner.cloned()
            }),
        }
    }

    /// This state with `reader` (a pool on the replicas, RDS Proxy's read-only endpoint)
    /// for [`AppState::read`]. Without one, reads run on the writer.
    #[must_use]
    pub fn with_reader(self, reader: DbPool) -> Self {
        Self {
            inner: Arc::new(Inner {
                reader: Some(Side::new("db-reader", reader)),
                ..self.inner.cloned()
            }),
        }
    }

    /// Whether reads go to a reader pool.
    pub fn has_reader(&self) -> bool {
        self.inner.reader.is_some()
    }

    /// The deadline every request's database work runs under.
    pub fn request_deadline(&self) -> Duration {
        self.inner.deadline
    }

    /// Runs `work` as one unit of work: with a pooled connection, after the schema gate,
    /// inside one transaction that commits when `work` returns `Ok` and rolls back on
    /// `Err` or a panic. For work that sends more than one statement.
    ///
    /// A connection that cannot be had answers `503 database_unavailable`; a database
    /// behind the pinned schema answers `503 schema_behind`. Either way the next request
    /// tries again: nothing is cached but success.
    ///
    /// Work that finishes after the request's deadline (the client was already answered
    /// `503`) rolls back rather than commit: a write the client gave up on never commits
    /// later unnoticed. (A `COMMIT` already sent when the database froze is the one
    /// outcome no client can know; the `503` says "unknown", as any timeout does.)
    pub async fn unit_of_work<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.with_connection(|conn, deadline| {
            transactional(conn, |conn| {
                let value = work(conn)?;
                if Instant::now() >= deadline {
                    tracing::warn!(
                        "a unit of work finished after the request deadline; rolled back (the client was answered 503)"
                    );
                    return Err(ApiError::unavailable(&DeadlineExceeded));
                }
                Ok(value)
            })
        })
        .await
    }

    /// [`AppState::unit_of_work`] for work that sends exactly one statement: the
    /// database runs it as a transaction of its own, so no `BEGIN`/`COMMIT` round trips
    /// (see [`bookstore_schema::one_statement`]; debug builds panic on a second statement).
    pub async fn one_statement<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.with_connection(|conn, deadline| {
            let result = one_statement(conn, work);
            if Instant::now() >= deadline && result.is_ok() {
                // A lone statement commits by itself: too late to roll it back.
                tracing::warn!(
                    "a one-statement unit of work finished after the request deadline: if it wrote, the write committed though the client was answered 503; use unit_of_work for writes that must not"
                );
            }
            result
        })
        .await
    }

    /// Runs `work`, a read, on the reader pool when there is one, else on the writer.
    /// `work` gets a [`ReadConnection`], on which the schema crate's writes do not
    /// compile. No `BEGIN`/`COMMIT`: each statement sees the latest committed data, as it
    /// would in a `READ COMMITTED` transaction, so a read of several statements needs none.
    ///
    /// A replica lags the writer: a `404` from the reader (a row created a moment ago) is
    /// asked once more of the writer, so a client reads its own writes. A reader that
    /// cannot answer (`503`: stopped, refusing, past half the request's deadline) is left
    /// for the writer too, within the same deadline, and is not asked again for 5 s. The schema gate is the writer's: until it has
    /// passed, reads go to the writer.
    pub async fn read<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: Fn(&mut ReadConnection<'_>) -> Result<T, ApiError> + Send + Sync + 'static,
        T: Send + 'static,
    {
        let work = Arc::new(work);
        // One deadline for the request; the reader gets half of it, so that the writer
        // still has time when the reader does not answer.
        let started = Instant::now();
        let deadline = started + self.inner.deadline;
        if self.inner.reader.is_some() && self.schema_is_current() && !self.reader_resting() {
            let on_reader = Arc::clone(&work);
            let result = self
                .with_connection_on(
                    Pool::Reader,
                    started + self.inner.deadline / 2,
                    move |conn, _| on_reader(&mut ReadConnection::new(conn)),
                )
                .await;
            match result {
                Err(error) if error.status() == axum::http::StatusCode::NOT_FOUND => {
                    tracing::debug!("not found on the reader; asking the writer");
                }
                Err(error) if error.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE => {
                    tracing::warn!(
                        error.cause = %error,
                        rest_secs = READER_REST.as_secs(),
                        "the reader could not answer; reading from the writer, and not asking the reader for a while"
                    );
                    if let Ok(mut until) = self.inner.reader_resting_until.lock() {
                        *until = Some(Instant::now() + READER_REST);
                    }
                }
                other => return other,
            }
        }
        self.with_connection_on(Pool::Writer, deadline, move |conn, _| {
            work(&mut ReadConnection::new(conn))
        })
        .await
    }

    fn reader_resting(&self) -> bool {
        self.inner
            .reader_resting_until
            .lock()
            .ok()
            .and_then(|until| *until)
            .is_some_and(|until| Instant::now() < until)
    }

    /// Checks the schema now (at cold start), so the first request does not pay for it.
    /// Failure is not fatal: requests keep checking until the database is current.
    pub async fn check_schema(&self) -> Result<(), ApiError> {
        self.with_connection(|_, _| Ok(())).await
    }

    /// Checks out a connection, passes the schema gate and runs `work` (given the
    /// request's deadline) on a blocking thread, answering `503` at the deadline if it has
    /// not finished. A panic in `work` answers `500 internal`; the pool discards a
    /// connection left in a transaction, so the container stays healthy.
    async fn with_connection<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection, Instant) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let deadline = Instant::now() + self.inner.deadline;
        self.with_connection_on(Pool::Writer, deadline, work).await
    }

    /// [`AppState::with_connection`] on the writer or the reader pool; the reader skips
    /// the schema gate (the writer's decides).
    async fn with_connection_on<T, F>(
        &self,
        on: Pool,
        deadline: Instant,
        work: F,
    ) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection, Instant) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let side = self.inner.side(on);
        let asked = Instant::now();
        // The work must start within the pool's checkout timeout, as a checkout would wait
        // (every connection busy that long answers 503), and end by the deadline.
        let start_by = (asked + side.pool.connection_timeout()).min(deadline);
        let state = self.clone();
        let waited = Arc::new(AtomicU64::new(0));
        let waited_in_run = Arc::clone(&waited);
        let run = move || {
            let conn = bookstore_schema::pool::checkout(&state.inner.side(on).pool);
            let micros = u64::try_from(asked.elapsed().as_micros()).unwrap_or(u64::MAX);
            waited_in_run.store(micros, Ordering::Relaxed);
            let mut conn = conn?;
            if on == Pool::Writer {
                state.ensure_schema(&mut conn)?;
            }
            if Instant::now() >= deadline {
                return Err(ApiError::unavailable(&DeadlineExceeded));
            }
            let result = work(&mut conn, deadline);
            if matches!(result, Err(ApiError::Internal { .. })) {
                // An unexpected database error in a container that found the schema
                // current: the schema may have moved past this version since (a contract
                // forced through with `ignore_live_pins`). Check again, so the answer is
                // `503 schema_incompatible` rather than a 500 on every request.
                // On the reader, the next request checks again, on the writer.
                state.inner.schema_current.store(false, Ordering::Release);
                if on == Pool::Writer {
                    state.ensure_schema(&mut conn)?;
                }
            }
            result
        };
        let progress = Arc::new(AtomicU8::new(QUEUED));
        let mut answer = Self::submit(&side.workers, Arc::clone(&progress), run)?;
        let outcome = match tokio::time::timeout_at(start_by.into(), &mut answer).await {
            Ok(outcome) => Some(outcome),
            Err(_)
                if progress
                    .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok() =>
            {
                // Never started: no thread (and no connection) came free in time.
                crate::observe::add_checkout(asked.elapsed());
                return Err(if Instant::now() >= deadline {
                    ApiError::unavailable(&DeadlineExceeded)
                } else {
                    ApiError::unavailable(&PoolBusy(start_by.saturating_duration_since(asked)))
                });
            }
            Err(_) => tokio::time::timeout_at(deadline.into(), answer).await.ok(),
        };
        crate::observe::add_checkout(Duration::from_micros(waited.load(Ordering::Relaxed)));
        match outcome {
            Some(Ok(result)) => result,
            // The thread dropped the answer: the workers are gone (never while `self` lives).
            Some(Err(dropped)) => Err(ApiError::internal(&dropped)),
            None => {
                tracing::warn!(
                    deadline_ms = self.inner.deadline.as_millis(),
                    "the database did not answer within the request deadline; answering 503"
                );
                Err(ApiError::unavailable(&DeadlineExceeded))
            }
        }
    }

    /// Queues `run` on `workers`, so that the request can be answered at its deadline
    /// while `run` is stuck on a database that does not answer (no blocking call can be
    /// interrupted); the answer comes back on the returned channel. The request's span and
    /// this thread's subscriber (a test's scoped one) go along; a panic in `run` answers
    /// `500 internal`. A thread that takes the work after the request gave up on it
    /// (`progress` is [`ABANDONED`]) skips it.
    fn submit<T, F>(
        workers: &Workers,
        progress: Arc<AtomicU8>,
        run: F,
    ) -> Result<oneshot::Receiver<Result<T, ApiError>>, ApiError>
    where
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let span = tracing::Span::current();
        let subscriber = tracing::dispatcher::get_default(Clone::clone);
        workers
            .submit(move || {
                if progress
                    .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    return;
                }
                let result = tracing::dispatcher::with_default(&subscriber, || {
                    let _entered = span.enter();
                    catching_panics(run)
                });
                // The request may have stopped waiting (its deadline): nobody to tell.
                let _ = answer.send(result);
            })
            .map_err(|error| ApiError::unavailable(&error))?;
        Ok(answered)
    }

    /// Whether the database was found to have every migration this function needs.
    pub fn schema_is_current(&self) -> bool {
        self.inner.schema_current.load(Ordering::Acquire)
    }

    fn ensure_schema(&self, conn: &mut DbConnection) -> Result<(), ApiError> {
        if self.schema_is_current() {
            return Ok(());
        }
        match migrate::check_schema(conn)? {
            SchemaCheck::Current { database_version } => {
                self.inner.schema_current.store(true, Ordering::Release);
                tracing::info!(
                    schema.database_version = %database_version,
                    schema.crate_version = bookstore_schema::VERSION,
                    "database schema is current"
                );
                if let Some(name) = &self.inner.function_name {
                    // Best effort: a function that cannot record itself still serves;
                    // the schema team's window then does not see it (logged).
                    match migrate::record_pin(conn, name, bookstore_schema::VERSION) {
                        Ok(()) => tracing::info!(function = %name, "recorded this function's pin"),
                        Err(error) => tracing::warn!(
                            function = %name,
                            error = %error,
                            "could not record this function's pin; the runner will not see it as live"
                        ),
                    }
                }
                Ok(())
            }
            SchemaCheck::Incompatible {
                database_version,
                contract_version,
                floor,
                crate_version,
            } => {
                tracing::error!(
                    schema.database_version = %database_version,
                    schema.contract_version = %contract_version,
                    schema.floor = %floor,
                    schema.crate_version = %crate_version,
                    "a contract migration removed what this function's schema version relies on; answering 503 until it runs a version at or above the floor"
                );
                Err(ApiError::schema_incompatible(contract_version, floor))
            }
            SchemaCheck::Behind {
                database_version,
                required_version,
                missing,
            } => {
                tracing::warn!(
                    schema.database_version = database_version.as_deref().unwrap_or("none"),
                    schema.required_version = %required_version,
                    schema.missing = ?missing,
                    "database schema is behind this function; answering 503 until it is migrated"
                );
                Err(ApiError::SchemaBehind {
                    database_version,
                    required_version,
                    crate_version: bookstore_schema::VERSION,
                })
            }
            other => Err(ApiError::internal(&UnknownSchemaCheck(format!(
                "{other:?}"
            )))),
        }
    }
}

/// Runs `run`, turning a panic into `500 internal` (the panic's message goes to the log).
fn catching_panics<T>(run: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    catch_unwind(AssertUnwindSafe(run))
        .map_err(|panic| ApiError::internal(&Panicked(panic_message(panic.as_ref()))))?
}

/// Which of the state's pools a unit of work runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pool {
    Writer,
    Reader,
}

/// Every connection of the pool stayed in use for the whole checkout timeout.
#[derive(Debug, thiserror::Error)]
#[error("every connection of the pool stayed in use for {0:?} (the checkout timeout)")]
struct PoolBusy(Duration);

/// A pool and the threads its units of work run on, one per connection at most.
#[derive(Clone)]
struct Side {
    /// Private: handlers get a connection only through [`AppState::unit_of_work`].
    pool: DbPool,
    workers: Arc<Workers>,
}

impl Side {
    /// `pool` with its threads, named `name-N`.
    fn new(name: &'static str, pool: DbPool) -> Self {
        let threads = usize::try_from(pool.max_size()).unwrap_or(usize::MAX);
        Self {
            pool,
            workers: Arc::new(Workers::new(name, threads)),
        }
    }
}

/// Where a queued unit of work is: [`QUEUED`] until a thread takes it ([`RUNNING`]), or
/// [`ABANDONED`] by a request that stopped waiting first (the thread then skips it).
const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const ABANDONED: u8 = 2;

/// The request's deadline passed before its database work finished.
#[derive(Debug, thiserror::Error)]
#[error("the request deadline passed before the database answered")]
struct DeadlineExceeded;

/// A schema check outcome this kit version does not know (a newer schema crate).
#[derive(Debug, thiserror::Error)]
#[error("unknown schema check outcome: {0}")]
struct UnknownSchemaCheck(String);

/// A panic caught in a unit of work, as an error for the log.
#[derive(Debug, thiserror::Error)]
#[error("the unit of work panicked: {0}")]
struct Panicked(String);

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned())
}
