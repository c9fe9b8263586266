//! The migration runner shared by the schema Lambda, `schema-admin` and the local server.
//!
//! What it adds to diesel's harness:
//! - **A lock.** On PostgreSQL a session advisory lock serialises runners across
//!   processes; the applied set is read again once the lock is held. Run it on a
//!   *direct* connection: a transaction-pooling proxy does not keep a session lock.
//! - **Checksums.** The SHA-256 of each `up.sql` is recorded; an applied migration whose
//!   SQL changed is refused by [`Runner::migrate`] and reported by [`Runner::status`].
//! - **Order.** A pending migration older than the newest applied one is refused unless
//!   [`RunOptions::allow_out_of_order`] is set.
//! - **Atomic steps.** A migration and its bookkeeping row commit together. A migration
//!   marked `run_in_transaction = false` runs statement by statement (cut by a SQL
//!   tokenizer that knows strings, quoted identifiers, dollar-quoted bodies and nested
//!   comments) and is recorded only when every statement succeeded.
//! - **Adoption.** [`Runner::baseline`] records migration 1 on a database the Python app built,
//!   after checking its tables column by column.
//! - **Timeouts it owns.** Every statement runs under [`RunOptions::step_lock_timeout`]
//!   and [`RunOptions::step_statement_timeout`] (a migration's `metadata.toml` may set its
//!   own); a step that gives up on a lock or loses a deadlock is retried with backoff and
//!   jitter until [`RunOptions::max_lock_wait`] or [`RunOptions::deadline`], then fails
//!   with [`MigrationError::LockNotAvailable`].
//! - **A session it can trust.** Named [`RUNNER_APPLICATION_NAME`], watched for a dead
//!   client (`client_connection_check_interval`, TCP keepalives) so a killed runner's lock
//!   is freed in seconds, and checked to be a direct session to a writer
//!   ([`MigrationError::WrongConnection`]) before the lock is taken.

mod baseline;
mod bookkeeping;
mod compat;
mod data_loss;
mod error;
mod lock;
#[cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "build.rs uses the parser and the lint; the crate tests them"
    )
)]
mod metadata;
mod migration;
mod plan;
mod progress;
mod report;
mod retry;
mod revert;
mod role;
mod runner;
mod session;
mod sql;
mod structure;

use std::time::Duration;

pub(crate) use self::{
    bookkeeping::{
        Comparison, applied, applied_after, bookkeeping_ddl, compare, record, unrecord,
        upgrade_bookkeeping,
    },
    error::Context,
    lock::locked,
    migration::cmp_versions,
};
pub use self::{
    bookkeeping::{check_schema, check_schema_against},
    compat::{BlockedContract, DEFAULT_PIN_WINDOW, LivePin, PINS_TABLE, live_pins, record_pin},
    error::MigrationError,
    migration::{Migration, Phase, embedded, head_version},
    plan::{
        LockTaken, REHEARSAL_LOCK_TIMEOUT_MS, Rehearsal, RehearsedMigration, RehearsedStatement,
    },
    progress::PROGRESS_TABLE,
    report::{
        AppliedMigration, Drift, MigrationRef, Plan, PlannedMigration, RunReport, SchemaCheck,
        Status, Step,
    },
    role::{APP_ROLE_CONNECTION_SETTINGS, APP_ROLE_SETTINGS, DEFAULT_APP_ROLE, ensure_app_role},
    runner::{RunOptions, Runner},
};

/// The table where the runner records applied migrations.
pub const BOOKKEEPING_TABLE: &str = "bookstore_schema_migrations";

/// Key of the PostgreSQL advisory lock that serialises runners (`"bookstor"` in ASCII).
pub const ADVISORY_LOCK_KEY: i64 = 0x626f_6f6b_7374_6f72;

/// How long [`Runner::migrate`], [`Runner::revert`] and [`Runner::baseline`] wait for the lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// The runner's `lock_timeout` per statement by default ([`RunOptions::step_lock_timeout`]):
/// what a reader queued behind a migration's DDL waits at most.
pub const DEFAULT_STEP_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// The runner's `statement_timeout` per statement by default
/// ([`RunOptions::step_statement_timeout`]): a Lambda invocation's longest life.
pub const DEFAULT_STEP_STATEMENT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// How long a run may spend retrying steps that could not get their locks by default
/// ([`RunOptions::max_lock_wait`]).
pub const DEFAULT_MAX_LOCK_WAIT: Duration = Duration::from_secs(5 * 60);

/// The `application_name` of the runner's sessions (in `pg_stat_activity`): the runner
/// and the crate version that runs it.
pub const RUNNER_APPLICATION_NAME: &str =
    concat!("bookstore-schema-runner/", env!("CARGO_PKG_VERSION"));
