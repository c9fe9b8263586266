//! Why a runner operation failed.

use diesel::QueryResult;

use super::{BlockedContract, LivePin};

/// Why a runner operation failed; each variant names what a person must act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// Another runner held the lock for longer than the timeout.
    #[error(
        "another migration run holds the schema lock; gave up after {waited_ms} ms (retry when it has finished)"
    )]
    #[non_exhaustive]
    LockTimeout {
        /// How long this run waited.
        waited_ms: u128,
    },
    /// A step kept finding its locks taken (or kept losing deadlocks) and was retried
    /// until the run's lock-wait budget or deadline ran out; nothing of it stayed applied
    /// (a non-transactional step: only what re-running it redoes).
    #[error(
        "migration {version} ({name}) could not get its locks: {retries} retries, {waited_ms} ms waiting ({message}); find the long transaction holding them (pg_stat_activity, pg_locks) and run migrate again, or give it a longer lock-wait budget"
    )]
    #[non_exhaustive]
    LockNotAvailable {
        /// The step's version (`bookkeeping` or `app_role` for the runner's own steps).
        version: String,
        /// Its name.
        name: String,
        /// Attempts after the first.
        retries: u32,
        /// Time spent waiting for locks and pausing between attempts.
        waited_ms: u128,
        /// The database's last message (a lock timeout or a deadlock).
        message: String,
    },
    /// The connection cannot hold the runner's session lock, or cannot write.
    #[error("{reason}; {fix}")]
    #[non_exhaustive]
    WrongConnection {
        /// What the check found.
        reason: String,
        /// What to change.
        fix: &'static str,
    },
    /// An applied migration's SQL differs from what was applied.
    #[error(
        "migration {version} ({name}) was edited after it was applied (recorded checksum {recorded}, embedded {embedded}); restore it and write a new migration instead"
    )]
    #[non_exhaustive]
    ChecksumMismatch {
        /// The migration's version.
        version: String,
        /// Its name.
        name: String,
        /// The checksum the database recorded.
        recorded: String,
        /// The checksum of the embedded SQL.
        embedded: String,
    },
    /// A pending migration is older than the newest applied one.
    #[error(
        "migration {version} ({name}) is pending but older than the newest applied migration {newest_applied}; rename it to a newer version or allow out-of-order migrations explicitly"
    )]
    #[non_exhaustive]
    OutOfOrder {
        /// The pending migration's version.
        version: String,
        /// Its name.
        name: String,
        /// The newest applied version.
        newest_applied: String,
    },
    /// A migration's SQL failed.
    #[error("migration {version} ({name}) failed: {message}{}", if *transactional { "; the database is as it was before this migration" } else { "; it runs outside a transaction, so statements before the failing one stay applied (and recorded): fix the cause and run migrate again, which continues at the failing statement" })]
    #[non_exhaustive]
    MigrationFailed {
        /// The migration's version.
        version: String,
        /// Its name.
        name: String,
        /// The database's message.
        message: String,
        /// Whether it ran in a transaction (and so was rolled back whole).
        transactional: bool,
    },
    /// `baseline` found tables that do not match migration 1.
    #[error("the live tables do not match migration {version}: {}", differences.join("; "))]
    #[non_exhaustive]
    BaselineMismatch {
        /// Migration 1's version.
        version: String,
        /// Each difference, e.g. `review.rate: type integer, expected smallint`.
        differences: Vec<String>,
    },
    /// Pending contract migrations would break functions that are still live.
    #[error(
        "contract migration{} blocked while live functions pin a version below the floor: {}; deploy newer functions (or wait until these age out of the window), or override explicitly",
        if blocked.len() == 1 { "" } else { "s" },
        blocked.iter().map(|b| format!(
            "{} ({}, floor {}) needed by {}",
            b.version,
            b.name,
            b.floor,
            b.pinned_below.iter().map(|p| format!("{} at {}", p.function_name, p.crate_version)).collect::<Vec<_>>().join(", ")
        )).collect::<Vec<_>>().join("; ")
    )]
    #[non_exhaustive]
    ContractBlocked {
        /// Each blocked migration, with the live functions below its floor.
        blocked: Vec<BlockedContract>,
    },
    /// Reverting would take away a migration that live functions need.
    #[error(
        "cannot revert {version} ({name}): live functions need it: {}; retire them first, or override explicitly",
        needed_by.iter().map(|p| format!("{} at {}", p.function_name, p.crate_version)).collect::<Vec<_>>().join(", ")
    )]
    #[non_exhaustive]
    RevertBlocked {
        /// The migration's version.
        version: String,
        /// Its name.
        name: String,
        /// The live functions whose version embeds it.
        needed_by: Vec<LivePin>,
    },
    /// A pending migration names a table whose live structure drifted from what the
    /// applied migrations made.
    #[error(
        "migration {version} ({name}) touches objects that drifted from what the applied migrations made: {}; reconcile them (status lists every difference), or override explicitly",
        drift.join("; ")
    )]
    #[non_exhaustive]
    DriftBlocked {
        /// The pending migration's version.
        version: String,
        /// Its name.
        name: String,
        /// Each difference, e.g. `column book.x: not made by the applied migrations`.
        drift: Vec<String>,
    },
    /// `migrate` was given the digest of an approved plan, and what it would do differs.
    #[error(
        "the plan changed since it was approved (approved digest {expected}, now {actual}): another run applied migrations, or the pending set changed; run plan again, review it, and migrate with its digest"
    )]
    #[non_exhaustive]
    PlanChanged {
        /// The digest given.
        expected: String,
        /// The digest of what `migrate` would do now.
        actual: String,
    },
    /// A `down.sql` differs from the one embedded when its migration was applied.
    #[error(
        "cannot revert {version} ({name}): its down.sql changed since it was applied (recorded checksum {recorded}, embedded {embedded}); revert with the crate version that applied it, or restore its down.sql"
    )]
    #[non_exhaustive]
    DownChecksumMismatch {
        /// The migration's version.
        version: String,
        /// Its name.
        name: String,
        /// The checksum recorded when it was applied.
        recorded: String,
        /// The checksum of the embedded `down.sql`.
        embedded: String,
    },
    /// A revert would drop tables or columns that hold data.
    #[error(
        "cannot revert {version} ({name}): it would drop data: {}; the revert stopped before it (status shows what is applied); take a backup, then allow data loss explicitly",
        losses.join(", ")
    )]
    #[non_exhaustive]
    DataLoss {
        /// The migration's version.
        version: String,
        /// Its name.
        name: String,
        /// Each table (`table review_quarantine`) or column (`column book.created_at`)
        /// that holds data and would be dropped.
        losses: Vec<String>,
    },
    /// `baseline` or `revert` cannot run in this state.
    #[error("{0}")]
    Refused(String),
    /// The database failed outside any migration's SQL.
    #[error("database error while {context}: {source}")]
    #[non_exhaustive]
    Database {
        /// What the runner was doing.
        context: &'static str,
        /// The database's error.
        #[source]
        source: diesel::result::Error,
    },
}

impl MigrationError {
    /// The error's type name, as the schema Lambda reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::LockTimeout { .. } => "LockTimeout",
            Self::LockNotAvailable { .. } => "LockNotAvailable",
            Self::WrongConnection { .. } => "WrongConnection",
            Self::ChecksumMismatch { .. } => "ChecksumMismatch",
            Self::OutOfOrder { .. } => "OutOfOrder",
            Self::MigrationFailed { .. } => "MigrationFailed",
            Self::BaselineMismatch { .. } => "BaselineMismatch",
            Self::ContractBlocked { .. } => "ContractBlocked",
            Self::RevertBlocked { .. } => "RevertBlocked",
            Self::PlanChanged { .. } => "PlanChanged",
            Self::DriftBlocked { .. } => "DriftBlocked",
            Self::DownChecksumMismatch { .. } => "DownChecksumMismatch",
            Self::DataLoss { .. } => "DataLoss",
            Self::Refused(_) => "Refused",
            Self::Database { .. } => "DatabaseError",
        }
    }
}

pub(crate) trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, MigrationError>;
}

impl<T> Context<T> for QueryResult<T> {
    fn context(self, context: &'static str) -> Result<T, MigrationError> {
        self.map_err(|source| MigrationError::Database { context, source })
    }
}
