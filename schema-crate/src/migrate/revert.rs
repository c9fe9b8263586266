//! [`Runner::revert`] and [`Runner::revert_to`]: `down.sql`, newest first, refused when it
//! changed since its migration was applied, when live functions need the migration, or
//! when it would drop data that is not explicitly allowed to go.

use super::{runner::run_step_retrying, *};
use crate::DbConnection;

impl Runner<'_> {
    /// Reverts the newest `count` applied migrations with their `down.sql`, newest first.
    pub fn revert(
        &self,
        conn: &mut DbConnection,
        count: usize,
    ) -> Result<RunReport, MigrationError> {
        self.revert_newest(conn, |recorded| {
            if count > recorded.len() {
                return Err(MigrationError::Refused(format!(
                    "cannot revert {count} migrations: only {} are applied",
                    recorded.len()
                )));
            }
            Ok(count)
        })
    }

    /// Reverts every applied migration newer than `version`, newest first, leaving
    /// `version` the newest applied one.
    pub fn revert_to(
        &self,
        conn: &mut DbConnection,
        version: &str,
    ) -> Result<RunReport, MigrationError> {
        self.revert_newest(conn, |recorded| {
            let at = recorded
                .iter()
                .position(|r| r.version == version)
                .ok_or_else(|| {
                    MigrationError::Refused(format!(
                        "cannot revert to {version}: it is not applied (status lists the applied versions)"
                    ))
                })?;
            Ok(recorded.len() - at - 1)
        })
    }

    /// Reverts the newest `how_many(recorded)` applied migrations under the lock.
    fn revert_newest(
        &self,
        conn: &mut DbConnection,
        how_many: impl FnOnce(&[AppliedMigration]) -> Result<usize, MigrationError>,
    ) -> Result<RunReport, MigrationError> {
        locked(conn, &self.options, |conn, budget| {
            let backend = conn.backend();
            let recorded = applied(conn).context("reading the applied migrations")?;
            let count = how_many(&recorded)?;
            let before = recorded.last().map(|r| r.version.clone());
            if !self.options.ignore_live_pins {
                let pins = live_pins(conn, self.options.pin_window)
                    .context("reading the live functions")?;
                for row in recorded.iter().rev().take(count) {
                    let needed_by = compat::needing(row.crate_version.as_deref(), &pins);
                    if !needed_by.is_empty() {
                        return Err(MigrationError::RevertBlocked {
                            version: row.version.clone(),
                            name: row.name.clone(),
                            needed_by,
                        });
                    }
                }
            }
            // Every migration is checked before the first is reverted.
            let mut plan = Vec::new();
            for row in recorded.iter().rev().take(count) {
                plan.push(self.checked_down(backend, row)?);
            }
            let guard = !self.options.allow_data_loss;
            if guard
                && let Some((n, losses)) = data_loss::first_loss(conn, &plan)
                    .context("rehearsing the revert for data loss")?
            {
                return Err(MigrationError::DataLoss {
                    version: plan[n].0.version.to_owned(),
                    name: plan[n].0.name.to_owned(),
                    losses,
                });
            }
            let mut steps = Vec::new();
            for (m, down) in plan {
                // Checked again as it runs: rows may have arrived since the rehearsal.
                steps.push(run_step_retrying(conn, budget, m, down, guard, |c, _| {
                    unrecord(c, m.version)
                })?);
            }
            let after = applied_after(conn)?;
            let cmp = compare(
                self.set(backend),
                &applied(conn).context("reading the applied migrations")?,
            );
            Ok(RunReport {
                version_before: before,
                version_after: after,
                steps,
                pending: cmp.pending.iter().map(|m| MigrationRef::from(*m)).collect(),
                drift: cmp.drift,
                plan_digest: None,
            })
        })
    }

    /// The embedded migration `row` records and its `down.sql`, when both are the ones
    /// that were applied.
    fn checked_down(
        &self,
        backend: crate::Backend,
        row: &AppliedMigration,
    ) -> Result<(&Migration, &'static str), MigrationError> {
        let m = self.set(backend).iter().find(|m| m.version == row.version).ok_or_else(|| {
            MigrationError::Refused(format!(
                "cannot revert {} ({}): this crate version does not embed it; revert with the crate version that applied it",
                row.version, row.name
            ))
        })?;
        if m.checksum() != row.checksum.trim() {
            return Err(MigrationError::ChecksumMismatch {
                version: row.version.clone(),
                name: m.name.to_owned(),
                recorded: row.checksum.trim().to_owned(),
                embedded: m.checksum(),
            });
        }
        let down = m.down.ok_or_else(|| {
            MigrationError::Refused(format!(
                "cannot revert {} ({}): it has no down.sql",
                m.version, m.name
            ))
        })?;
        let embedded = m.down_checksum().unwrap_or_default();
        match row.down_checksum.as_deref().map(str::trim) {
            Some(recorded) if recorded != embedded => {
                return Err(MigrationError::DownChecksumMismatch {
                    version: row.version.clone(),
                    name: m.name.to_owned(),
                    recorded: recorded.to_owned(),
                    embedded,
                });
            }
            Some(_) => {}
            None => tracing::warn!(
                migration.version = %m.version,
                "no down.sql checksum recorded (applied by an older runner, no migrate since): reverting unchecked"
            ),
        }
        Ok((m, down))
    }
}
