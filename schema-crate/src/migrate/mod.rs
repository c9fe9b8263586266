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
//!   marked `run_in_transaction = false` runs statement by statement and is recorded
//!   only when every statement succeeded; such migrations are written to be re-run.
//! - **Adoption.** [`Runner::baseline`] records migration 1 on a database the Python app built,
//!   after checking its tables column by column.

mod baseline;
mod bookkeeping;
mod compat;
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
mod report;
mod role;
mod runner;

use std::time::Duration;

pub(crate) use self::{
    bookkeeping::{
        applied, applied_after, bookkeeping_ddl, compare, record, unrecord, upgrade_bookkeeping,
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
    report::{
        AppliedMigration, Drift, MigrationRef, Plan, PlannedMigration, RunReport, SchemaCheck,
        Status, Step,
    },
    role::{APP_ROLE_SETTINGS, DEFAULT_APP_ROLE, ensure_app_role},
    runner::{RunOptions, Runner},
};

/// The table where the runner records applied migrations.
pub const BOOKKEEPING_TABLE: &str = "bookstore_schema_migrations";

/// Key of the PostgreSQL advisory lock that serialises runners (`"bookstor"` in ASCII).
pub const ADVISORY_LOCK_KEY: i64 = 0x626f_6f6b_7374_6f72;

/// How long [`Runner::migrate`], [`Runner::revert`] and [`Runner::baseline`] wait for the lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);
