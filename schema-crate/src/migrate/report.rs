//! What the runner reports: the record, the plan, the steps, the schema check.

use diesel::{
    QueryableByName,
    sql_types::{BigInt, Nullable, Text},
};
use serde::Serialize;

use super::{BlockedContract, Migration};
use crate::Backend;

/// A migration as the database recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, QueryableByName)]
#[non_exhaustive]
pub struct AppliedMigration {
    /// Version.
    #[diesel(sql_type = Text)]
    pub version: String,
    /// Name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// SHA-256 of the `up.sql` that ran.
    #[diesel(sql_type = Text)]
    pub checksum: String,
    /// When it was applied (database clock, UTC).
    #[diesel(sql_type = Text)]
    pub applied_at: String,
    /// How long it took.
    #[diesel(sql_type = BigInt)]
    pub duration_ms: i64,
    /// `expand` or `contract`; `None` when recorded before phases were (1.x runners).
    #[diesel(sql_type = Nullable<Text>)]
    pub phase: Option<String>,
    /// A contract migration's floor: the oldest crate version that works after it.
    #[diesel(sql_type = Nullable<Text>)]
    pub floor: Option<String>,
    /// The `bookstore-schema` version whose runner applied it (`None` before 2.0.0).
    #[diesel(sql_type = Nullable<Text>)]
    pub crate_version: Option<String>,
    /// SHA-256 of the `down.sql` embedded beside it when it was applied (`None`: it had
    /// none, or an older runner applied it and no newer one has migrated since).
    #[diesel(sql_type = Nullable<Text>)]
    pub down_checksum: Option<String>,
}

/// A migration by version and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MigrationRef {
    /// Version.
    pub version: String,
    /// Name.
    pub name: String,
}

impl From<&PlannedMigration> for MigrationRef {
    fn from(m: &PlannedMigration) -> Self {
        Self {
            version: m.version.clone(),
            name: m.name.clone(),
        }
    }
}

impl From<&Migration> for MigrationRef {
    fn from(m: &Migration) -> Self {
        Self {
            version: m.version.to_owned(),
            name: m.name.to_owned(),
        }
    }
}

/// A difference between the database's record and the embedded migrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Drift {
    /// An applied migration's SQL changed since.
    ChecksumMismatch {
        /// Version.
        version: String,
        /// Name.
        name: String,
    },
    /// The database has a migration this crate does not know (it is ahead).
    UnknownApplied {
        /// Version.
        version: String,
        /// Name as recorded.
        name: String,
    },
    /// A pending migration is older than the newest applied one.
    OutOfOrder {
        /// Version.
        version: String,
        /// Name.
        name: String,
    },
    /// An index a failed `CREATE INDEX CONCURRENTLY` left INVALID: not used by queries,
    /// yet updated on every write. A rerun of the migration that builds it drops it and
    /// builds it again; an index built out of band is for its owner to drop or rebuild.
    InvalidIndex {
        /// The index.
        index: String,
        /// Its table.
        table: String,
    },
    /// The live schema differs from what the applied migrations make (an out-of-band
    /// change), or the app role's privileges from what the runner grants.
    Structure {
        /// What differs: `column book.x`, `index book_title_idx`, `constraint review_rate_range`,
        /// `sequence book_id_seq`, `table t`, `grants of bookstore_app on book`.
        object: String,
        /// The table it belongs to (empty when none).
        table: String,
        /// How: `missing`, `not made by the applied migrations`, `NOT VALID, expected
        /// validated`, the live and the expected definitions.
        difference: String,
    },
}

/// What [`Runner::status`](super::Runner::status) reports.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// The backend.
    pub backend: Backend,
    /// Newest applied version, `None` for an empty database.
    pub current_version: Option<String>,
    /// Newest embedded version.
    pub head_version: String,
    /// Applied migrations, oldest first.
    pub applied: Vec<AppliedMigration>,
    /// Embedded migrations not yet applied.
    pub pending: Vec<MigrationRef>,
    /// Differences between the record and the embedded set.
    pub drift: Vec<Drift>,
    /// Pending contract migrations `migrate` will refuse while live functions need the
    /// schema before them.
    pub blocked: Vec<BlockedContract>,
}

/// A migration [`Runner::plan`](super::Runner::plan) would apply.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct PlannedMigration {
    /// Version.
    pub version: String,
    /// Name.
    pub name: String,
    /// Whether it runs in one transaction.
    pub run_in_transaction: bool,
    /// Its `up.sql`.
    pub sql: String,
}

/// What [`Runner::plan`](super::Runner::plan) reports.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// Newest applied version.
    pub current_version: Option<String>,
    /// What `migrate` would apply, in order.
    pub pending: Vec<PlannedMigration>,
    /// Differences that would make `migrate` refuse or warn.
    pub drift: Vec<Drift>,
    /// Pending contract migrations `migrate` will refuse, and the live functions why.
    pub blocked: Vec<BlockedContract>,
    /// The digest of what `migrate` would do from here: give it to `migrate` (the event's
    /// `expected_digest`, `schema-admin migrate --expect-digest`) to apply exactly this.
    pub digest: String,
    /// What a rehearsal found (`plan --rehearse`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rehearsal: Option<super::Rehearsal>,
}

/// A migration applied or reverted, with how long it took.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Step {
    /// Version.
    pub version: String,
    /// Name.
    pub name: String,
    /// Duration.
    pub duration_ms: i64,
    /// Attempts after the first: each earlier one gave up on a lock (`lock_timeout`) or
    /// lost a deadlock, and was rolled back.
    pub retries: u32,
    /// Time spent in those attempts and the pauses after them (included in `duration_ms`).
    pub lock_wait_ms: i64,
    /// Statements of a non-transactional migration an earlier, failed run completed,
    /// which this run skipped (0 otherwise).
    pub statements_skipped: usize,
}

impl Step {
    pub(crate) fn new(version: &str, name: &str, duration_ms: i64) -> Self {
        Self {
            version: version.to_owned(),
            name: name.to_owned(),
            duration_ms,
            retries: 0,
            lock_wait_ms: 0,
            statements_skipped: 0,
        }
    }
}

/// What [`Runner::migrate`](super::Runner::migrate) and [`Runner::revert`](super::Runner::revert) report.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RunReport {
    /// Newest applied version before the run.
    pub version_before: Option<String>,
    /// Newest applied version after it.
    pub version_after: Option<String>,
    /// Migrations applied (or reverted) in this run, in order.
    pub steps: Vec<Step>,
    /// Embedded migrations still pending.
    pub pending: Vec<MigrationRef>,
    /// Differences found (e.g. migrations the database has and this crate does not).
    pub drift: Vec<Drift>,
    /// `migrate`: the digest of the plan it carried out (what `plan` showed beforehand).
    pub plan_digest: Option<String>,
}

/// Whether a database has every migration this crate embeds (checked by functions at cold start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SchemaCheck {
    /// Every embedded migration is applied (the database may have newer ones too).
    Current {
        /// Newest applied version.
        database_version: String,
    },
    /// Some embedded migrations are missing.
    Behind {
        /// Newest applied version, `None` when nothing is applied.
        database_version: Option<String>,
        /// The version this crate requires.
        required_version: String,
        /// Missing versions.
        missing: Vec<String>,
    },
    /// A contract migration applied to the database removed or tightened something this
    /// crate version relies on: it is older than the migration's floor.
    Incompatible {
        /// Newest applied version.
        database_version: String,
        /// The contract migration.
        contract_version: String,
        /// Its floor: the oldest crate version that works after it.
        floor: String,
        /// This crate's version.
        crate_version: String,
    },
}
