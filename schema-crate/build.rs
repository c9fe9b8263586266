//! Embeds every migration under `migrations/<backend>/` into the crate.
//!
//! diesel's `embed_migrations!` keeps the SQL private and does not notice new folders;
//! the runner needs the SQL (for checksums and `plan`), so this script writes a table
//! of `include_str!`s and tells cargo to rerun whenever the folder changes.

use std::{collections::BTreeMap, env, fmt::Write as _, fs, path::Path};

#[path = "src/migrate/metadata.rs"]
mod metadata;

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("migrations");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::new();
    let mut backends: Vec<String> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.is_dir())
        .map(|path| {
            path.file_name()
                .expect("a folder has a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    backends.sort();
    let mut sets = Vec::new();
    let mut phases: BTreeMap<String, Option<String>> = BTreeMap::new();
    for backend in &backends {
        let konst = backend.to_ascii_uppercase();
        sets.push(format!("({backend:?}, {konst})"));
        let dir = root.join(backend);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut folders: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|entry| entry.expect("readable directory entry").path())
            .filter(|path| path.is_dir())
            .collect();
        folders.sort();
        writeln!(out, "/// The {backend} migrations, oldest first.")
            .expect("writing to a String cannot fail");
        writeln!(out, "pub static {konst}: &[Migration] = &[")
            .expect("writing to a String cannot fail");
        for folder in folders {
            let file_name = folder
                .file_name()
                .expect("a folder has a name")
                .to_string_lossy()
                .into_owned();
            let (stamp, name) = file_name.split_once('_').unwrap_or_else(|| {
                panic!("migration folder `{file_name}` must be `<version>_<name>`")
            });
            let version: String = stamp.chars().filter(|c| *c != '-').collect();
            assert!(
                !version.is_empty() && version.chars().all(|c| c.is_ascii_digit()),
                "migration folder `{file_name}`: the version before `_` must be digits and dashes"
            );
            let up = folder.join("up.sql");
            assert!(up.is_file(), "migration `{file_name}` has no up.sql");
            let down = folder.join("down.sql");
            let down = if down.is_file() {
                format!("Some(include_str!({:?}))", down.display().to_string())
            } else {
                "None".to_owned()
            };
            let meta_path = folder.join("metadata.toml");
            let declared = metadata::parse(fs::read_to_string(&meta_path).ok().as_deref())
                .unwrap_or_else(|e| panic!("{}: {e}", meta_path.display()));
            let run_in_transaction = declared.run_in_transaction;
            let phase = match &declared.contract_floor {
                None => "Phase::Expand".to_owned(),
                Some(floor) => format!("Phase::Contract {{ floor: {floor:?} }}"),
            };
            if let Some(floor) = &declared.contract_floor {
                let own = env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
                assert!(
                    metadata::parse_version(floor) <= metadata::parse_version(&own),
                    "migration `{file_name}`: floor {floor} is above this crate's own version {own}; \
                     release the floor version first (docs/migrations.md)"
                );
            }
            if let Some(other) = phases.insert(version.clone(), declared.contract_floor.clone())
                && other != declared.contract_floor
            {
                panic!("migration {version}: the backends declare different phases or floors");
            }
            // The fleet runs on PostgreSQL: its expand migrations must be additive.
            // (SQLite is the local default; its table rebuilds are how it alters.)
            if backend == "postgres" && declared.contract_floor.is_none() {
                let sql = fs::read_to_string(&up).expect("readable up.sql");
                let found = metadata::contract_statements(&sql);
                assert!(
                    found.is_empty(),
                    "migration `{file_name}` is declared expand but {}: declare `phase = \"contract\"` with a `floor`, or split it (docs/migrations.md)",
                    found.join(", ")
                );
            }
            let ms = |ms: Option<u64>| {
                ms.map_or("None".to_owned(), |ms| {
                    format!("Some(::std::time::Duration::from_millis({ms}))")
                })
            };
            let lock_timeout = ms(declared.lock_timeout_ms);
            let statement_timeout = ms(declared.statement_timeout_ms);
            writeln!(
                out,
                "    Migration {{ version: {version:?}, name: {name:?}, up: include_str!({up:?}), down: {down}, run_in_transaction: {run_in_transaction}, phase: {phase}, lock_timeout: {lock_timeout}, statement_timeout: {statement_timeout} }},",
                up = up.display().to_string(),
            )
            .expect("writing to a String cannot fail");
        }
        writeln!(out, "];").expect("writing to a String cannot fail");
    }
    writeln!(
        out,
        "/// Every backend's migrations, by the folder under `migrations/`.\npub static SETS: &[(&str, &[Migration])] = &[{}];",
        sets.join(", ")
    )
    .expect("writing to a String cannot fail");
    let dest =
        Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_migrations.rs");
    fs::write(dest, out).expect("write embedded_migrations.rs");
}
