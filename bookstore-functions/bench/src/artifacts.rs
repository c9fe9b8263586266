//! Artifacts: the zipped size of each Lambda bootstrap that `scripts/build-lambdas.sh`
//! writes to `target/lambda/<name>/bootstrap.zip`.

use std::fmt::Write as _;

use crate::{
    report::{Row, Section, Verdict},
    stats::{fmt_mb, fmt_mib},
    system,
};

const TARGET_BYTES: u64 = 4_000_000;
const FUNCTIONS: [&str; 3] = ["schema-lambda", "books", "reviews"];

/// One row per function. `require`: a missing zip is broken (full mode) rather than
/// "not built" (quick mode).
pub fn run(require: bool) -> Section {
    let mut section = Section::default();
    let dir = system::release_dir()
        .parent()
        .map_or_else(
            || system::workspace_root().join("target"),
            std::path::Path::to_path_buf,
        )
        .join("lambda");
    for name in FUNCTIONS {
        let zip = dir.join(name).join("bootstrap.zip");
        let what = format!("artifact, `{name}` bootstrap.zip");
        match std::fs::metadata(&zip) {
            Ok(meta) => {
                let size = meta.len();
                let unzipped = std::fs::metadata(dir.join(name).join("bootstrap"))
                    .map(|m| format!(" (bootstrap unzipped: {})", fmt_mb(m.len())))
                    .unwrap_or_default();
                let age = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .map(|d| format!("; built {} min ago", d.as_secs() / 60))
                    .unwrap_or_default();
                section.rows.push(Row::new(
                    what,
                    format!("{} = {}{unzipped}{age}", fmt_mb(size), fmt_mib(size)),
                    "—",
                    format!(
                        "≤ 4 MB (4,000,000 bytes): {:.0}% of it",
                        100.0 * size as f64 / TARGET_BYTES as f64
                    ),
                    Verdict::from_ok(size <= TARGET_BYTES),
                ));
            }
            Err(_) => section.rows.push(Row::new(
                what,
                "not built (run scripts/build-lambdas.sh)",
                "—",
                "≤ 4 MB",
                if require {
                    Verdict::Broken(format!("{} is missing", zip.display()))
                } else {
                    Verdict::NotRun("quick mode does not build the zips".to_owned())
                },
            )),
        }
    }
    let _ = writeln!(
        section.notes,
        "Sizes of `target/lambda/<function>/bootstrap.zip` as `scripts/build-lambdas.sh` leaves them (the full run \
         builds them first). MB here is 10^6 bytes."
    );
    section
}
