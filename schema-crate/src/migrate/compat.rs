//! The compatibility window: which crate versions the functions on a database pin, and
//! which contract migrations must wait for them.
//!
//! Every function records its name and `bookstore-schema` version at cold start
//! ([`record_pin`], one upsert). A contract migration declares a floor, the oldest crate
//! version that works after it; `migrate` refuses it while a function pinned below the
//! floor was seen within [`RunOptions::pin_window`](super::RunOptions), and `revert` refuses
//! to undo a migration that a live function's version needs. An operator may override
//! both, explicitly.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::{prelude::*, sql_types::Text};
use serde::Serialize;

use super::{Migration, metadata::parse_version};
use crate::{
    DbConnection,
    backend::{Dialect, with_conn},
    schema::bookstore_function_pins as pins,
};

/// The table functions record themselves in.
pub const PINS_TABLE: &str = "bookstore_function_pins";
/// How recently a function must have been seen to count as live, by default. Lambda
/// recycles execution environments within hours; a day leaves margin.
pub const DEFAULT_PIN_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// A function seen within the window, and the crate version it pins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LivePin {
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// Its `bookstore-schema` version.
    pub crate_version: String,
    /// When it last recorded itself (UTC).
    pub last_seen: NaiveDateTime,
}

/// A pending contract migration that live functions still need the schema before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BlockedContract {
    /// The migration's version.
    pub version: String,
    /// Its name.
    pub name: String,
    /// Its floor.
    pub floor: String,
    /// The live functions pinned below the floor.
    pub pinned_below: Vec<LivePin>,
}

/// Records that `function_name`, pinned to `crate_version`, is running now: one
/// statement (an upsert), which the functions' DML-only role may run.
pub fn record_pin(
    conn: &mut DbConnection,
    function_name: &str,
    crate_version: &str,
) -> QueryResult<()> {
    fn upsert_sql<C: Dialect>(_: &C) -> String {
        format!(
            "INSERT INTO {PINS_TABLE} (function_name, crate_version) VALUES ({}, {}) {}",
            C::param(1),
            C::param(2),
            C::on_conflict_update(
                "function_name, crate_version",
                &format!("last_seen = {}", C::NOW)
            )
        )
    }
    with_conn!(conn, c => diesel::sql_query(upsert_sql(c))
        .bind::<Text, _>(function_name)
        .bind::<Text, _>(crate_version)
        .execute(c))
    .map(|_| ())
}

/// The functions seen within `window`, newest first; none when the table does not exist
/// yet (a database before the migration that creates it).
pub fn live_pins(conn: &mut DbConnection, window: Duration) -> QueryResult<Vec<LivePin>> {
    if !super::bookkeeping::table_exists(conn, PINS_TABLE)? {
        return Ok(Vec::new());
    }
    // A window too long to subtract (a huge SCHEMA_PIN_WINDOW_SECS) counts every pin.
    let cutoff = chrono::Duration::from_std(window)
        .ok()
        .and_then(|window| chrono::Utc::now().naive_utc().checked_sub_signed(window))
        .unwrap_or(NaiveDateTime::MIN);
    // A handful of rows (functions × versions): filter here, with no time arithmetic in
    // either dialect's SQL.
    let rows: Vec<(String, String, NaiveDateTime)> = with_conn!(conn, c => pins::table
        .order(pins::last_seen.desc())
        .select((pins::function_name, pins::crate_version, pins::last_seen))
        .load(c))?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, last_seen)| *last_seen > cutoff)
        .map(|(function_name, crate_version, last_seen)| LivePin {
            function_name,
            crate_version,
            last_seen,
        })
        .collect())
}

/// Whether `version` is older than `floor` (a version that does not parse counts as
/// older: it cannot be shown to be new enough).
pub fn below(version: &str, floor: &str) -> bool {
    match (parse_version(version), parse_version(floor)) {
        (Some(v), Some(f)) => v < f,
        _ => true,
    }
}

/// The pending contract migrations that `pins` block.
pub(crate) fn blocked(pending: &[&Migration], pins: &[LivePin]) -> Vec<BlockedContract> {
    pending
        .iter()
        .filter_map(|m| {
            let floor = m.phase.floor()?;
            let pinned_below: Vec<LivePin> = pins
                .iter()
                .filter(|p| below(&p.crate_version, floor))
                .cloned()
                .collect();
            (!pinned_below.is_empty()).then(|| BlockedContract {
                version: m.version.to_owned(),
                name: m.name.to_owned(),
                floor: floor.to_owned(),
                pinned_below,
            })
        })
        .collect()
}

/// The live functions that need a migration the runner of `applied_by` applied: those
/// pinned to that version or newer embed it. Unknown (`None`, a 1.x record): every live
/// function may need it.
pub(crate) fn needing(applied_by: Option<&str>, pins: &[LivePin]) -> Vec<LivePin> {
    pins.iter()
        .filter(|p| applied_by.is_none_or(|v| !below(&p.crate_version, v)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(name: &str, version: &str) -> LivePin {
        LivePin {
            function_name: name.into(),
            crate_version: version.into(),
            last_seen: NaiveDateTime::default(),
        }
    }

    #[test]
    fn a_contract_is_blocked_only_by_live_pins_below_its_floor() {
        let contract =
            Migration::new("20990101000000", "drop_legacy", "SELECT 1").contract("2.1.0");
        let expand = Migration::new("20990101000001", "add_index", "SELECT 1");
        let pins = [
            pin("books", "2.0.0"),
            pin("reviews", "2.1.0"),
            pin("authors", "2.10.0"),
        ];
        let blocked = blocked(&[&contract, &expand], &pins);
        assert_eq!(blocked.len(), 1);
        assert_eq!(blocked[0].version, "20990101000000");
        assert_eq!(blocked[0].pinned_below, vec![pin("books", "2.0.0")]);
        assert!(super::blocked(&[&contract], &pins[1..]).is_empty());
    }

    #[test]
    fn a_migration_is_needed_by_pins_at_or_above_the_version_that_applied_it() {
        let pins = [pin("books", "2.0.0"), pin("reviews", "2.1.0")];
        assert_eq!(needing(Some("2.1.0"), &pins), vec![pin("reviews", "2.1.0")]);
        assert_eq!(needing(None, &pins).len(), 2);
        assert!(below("2.0.0", "2.0.1") && !below("2.0.1", "2.0.1") && below("x", "1.0.0"));
    }
}
