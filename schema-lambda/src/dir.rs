//! Migrations read from a folder at run time (`schema-admin --migrations-dir`), laid out
//! as `migrations/<backend>/` is: `<version>_<name>/{up.sql, down.sql, metadata.toml}`.
//!
//! For rehearsing a set before it is embedded, and for the runner's own tests, which
//! drive the real binary with synthetic sets. The embedded set stays what deploys run.

use std::{fs, path::Path, time::Duration};

use bookstore_schema::migrate::Migration;

#[path = "../../schema-crate/src/migrate/metadata.rs"]
#[allow(
    dead_code,
    reason = "shared with bookstore-schema's build.rs; only the parser is used here"
)]
mod metadata;

/// Reads every migration folder under `dir`, oldest first. The strings are leaked: the
/// process runs one action and exits.
pub fn load(dir: &Path) -> Result<&'static [Migration], String> {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let mut folders: Vec<_> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    let mut set = Vec::new();
    for folder in folders {
        let file_name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (stamp, name) = file_name
            .split_once('_')
            .ok_or_else(|| format!("migration folder `{file_name}` must be `<version>_<name>`"))?;
        let version: String = stamp.chars().filter(|c| *c != '-').collect();
        if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "migration folder `{file_name}`: the version before `_` must be digits and dashes"
            ));
        }
        let read = |file: &str| fs::read_to_string(folder.join(file)).ok();
        let up = read("up.sql").ok_or_else(|| format!("migration `{file_name}` has no up.sql"))?;
        let declared = metadata::parse(read("metadata.toml").as_deref())
            .map_err(|e| format!("{file_name}/metadata.toml: {e}"))?;
        let mut m = Migration::new(leak(version), leak(name.to_owned()), leak(up));
        if let Some(down) = read("down.sql") {
            m = m.with_down(leak(down));
        }
        if !declared.run_in_transaction {
            m = m.non_transactional();
        }
        if let Some(floor) = declared.contract_floor {
            m = m.contract(leak(floor));
        }
        if let Some(ms) = declared.lock_timeout_ms {
            m = m.with_lock_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = declared.statement_timeout_ms {
            m = m.with_statement_timeout(Duration::from_millis(ms));
        }
        set.push(m);
    }
    Ok(Box::leak(set.into_boxed_slice()))
}
