//! One migration, and the sets this crate embeds.

use std::{cmp::Ordering, time::Duration};

use sha2::{Digest, Sha256};

use crate::Backend;

/// One migration as embedded in this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Migration {
    /// The folder's leading timestamp, digits only (`20240101000000`).
    pub version: &'static str,
    /// The folder's name after the version.
    pub name: &'static str,
    /// `up.sql`.
    pub up: &'static str,
    /// `down.sql`, if present.
    pub down: Option<&'static str>,
    /// `false` when `metadata.toml` says `run_in_transaction = false`.
    pub run_in_transaction: bool,
    /// Whether older crate versions keep working after it (`metadata.toml`'s `phase`).
    pub phase: Phase,
    /// `metadata.toml`'s `lock_timeout`: this migration's lock wait per attempt, over
    /// [`RunOptions::step_lock_timeout`](super::RunOptions::step_lock_timeout).
    pub lock_timeout: Option<Duration>,
    /// `metadata.toml`'s `statement_timeout`: this migration's longest statement, over
    /// [`RunOptions::step_statement_timeout`](super::RunOptions::step_statement_timeout).
    pub statement_timeout: Option<Duration>,
}

/// A migration's place in expand/contract, as its `metadata.toml` declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// Adds; every older crate version keeps working after it.
    Expand,
    /// Removes or tightens something older versions relied on.
    Contract {
        /// The oldest `bookstore-schema` version that still works after it.
        floor: &'static str,
    },
}

impl Phase {
    /// `"expand"` or `"contract"`, as recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expand => "expand",
            Self::Contract { .. } => "contract",
        }
    }

    /// The floor of a contract migration.
    pub fn floor(self) -> Option<&'static str> {
        match self {
            Self::Expand => None,
            Self::Contract { floor } => Some(floor),
        }
    }
}

impl Migration {
    /// A transactional migration with no `down.sql` (synthetic sets in tests; the
    /// embedded ones come from `build.rs`).
    pub const fn new(version: &'static str, name: &'static str, up: &'static str) -> Self {
        Self {
            version,
            name,
            up,
            down: None,
            run_in_transaction: true,
            phase: Phase::Expand,
            lock_timeout: None,
            statement_timeout: None,
        }
    }

    /// This migration with its own lock timeout (`metadata.toml`'s `lock_timeout`).
    #[must_use]
    pub const fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// This migration with its own statement timeout (`metadata.toml`'s `statement_timeout`).
    #[must_use]
    pub const fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = Some(timeout);
        self
    }

    /// This migration as a contract whose floor is `floor`.
    #[must_use]
    pub const fn contract(mut self, floor: &'static str) -> Self {
        self.phase = Phase::Contract { floor };
        self
    }

    /// This migration with `down` as its `down.sql`.
    #[must_use]
    pub const fn with_down(mut self, down: &'static str) -> Self {
        self.down = Some(down);
        self
    }

    /// This migration run statement by statement, outside a transaction
    /// (`run_in_transaction = false`).
    #[must_use]
    pub const fn non_transactional(mut self) -> Self {
        self.run_in_transaction = false;
        self
    }

    /// Whether the runner runs this migration in one transaction on `backend`: as declared,
    /// except on a backend whose DDL commits on its own (MySQL), where every migration runs
    /// statement by statement (a rollback could not undo its DDL).
    pub fn runs_in_transaction_on(&self, backend: Backend) -> bool {
        self.run_in_transaction && backend.has_transactional_ddl()
    }

    /// SHA-256 of `up.sql`, hex-encoded: what the bookkeeping table records.
    pub fn checksum(&self) -> String {
        hex(&Sha256::digest(self.up.as_bytes()))
    }

    /// SHA-256 of `down.sql`, hex-encoded, when there is one: recorded at apply time so
    /// that `revert` refuses a `down.sql` that changed since.
    pub fn down_checksum(&self) -> Option<String> {
        self.down.map(|down| hex(&Sha256::digest(down.as_bytes())))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

mod embedded {
    use super::{Migration, Phase};
    include!(concat!(env!("OUT_DIR"), "/embedded_migrations.rs"));
}

/// The migrations this crate version carries for `backend`, oldest first.
pub fn embedded(backend: Backend) -> &'static [Migration] {
    embedded::SETS
        .iter()
        .find(|(folder, _)| *folder == backend.as_str())
        .map_or(&[], |(_, set)| set)
}

/// The newest embedded version: the schema version this crate requires.
pub fn head_version(backend: Backend) -> &'static str {
    embedded(backend).last().map_or("0", |m| m.version)
}

pub(crate) fn cmp_versions(a: &str, b: &str) -> Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}
