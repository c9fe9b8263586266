//! A migration's `metadata.toml`, and the static check that keeps an `expand` migration
//! from breaking the functions still running on the schema before it.
//!
//! `build.rs` includes this file (`#[path]`), so a migration that declares no phase, or
//! an expand migration that drops, renames or tightens, fails the build; the crate's
//! own tests exercise the same code.
//!
//! ```toml
//! # every migration declares its phase:
//! phase = "expand"           # adds; every older crate version keeps working
//! # or
//! phase = "contract"         # removes or tightens something older versions relied on
//! floor = "2.1.0"            # the oldest bookstore-schema version that works after it
//! run_in_transaction = false # optional (default true)
//! lock_timeout = "10s"       # optional: this migration's lock wait per attempt
//! statement_timeout = "30min" # optional: this migration's longest statement
//! ```
//!
//! The two timeouts override the runner's defaults for this migration only (units `ms`,
//! `s`, `min`, `h`); the runner sets them before the step and restores its defaults after.

/// What a migration's `metadata.toml` declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// `run_in_transaction` (default `true`).
    pub run_in_transaction: bool,
    /// `None` for `expand`; for `contract`, the floor version.
    pub contract_floor: Option<String>,
    /// `lock_timeout`, in milliseconds, when declared.
    pub lock_timeout_ms: Option<u64>,
    /// `statement_timeout`, in milliseconds, when declared.
    pub statement_timeout_ms: Option<u64>,
}

/// Parses `metadata.toml` (`None`: the file is missing).
pub fn parse(text: Option<&str>) -> Result<Declared, String> {
    let text = text.ok_or(
        "metadata.toml is missing: every migration declares `phase = \"expand\"` or \
         `phase = \"contract\"` with `floor = \"X.Y.Z\"` (see docs/migrations.md)",
    )?;
    let mut run_in_transaction = true;
    let mut phase = None;
    let mut floor = None;
    let mut lock_timeout_ms = None;
    let mut statement_timeout_ms = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.split('#').next().unwrap_or_default().trim()))
            .ok_or_else(|| format!("`{line}` is not `key = value`"))?;
        let string = || {
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_owned)
                .ok_or_else(|| format!("`{key}` takes a quoted string, got `{value}`"))
        };
        match key {
            "run_in_transaction" => {
                run_in_transaction = match value {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(format!(
                            "`run_in_transaction` is true or false, got `{value}`"
                        ));
                    }
                }
            }
            "phase" => phase = Some(string()?),
            "floor" => floor = Some(string()?),
            "lock_timeout" => lock_timeout_ms = Some(timeout(key, &string()?)?),
            "statement_timeout" => statement_timeout_ms = Some(timeout(key, &string()?)?),
            _ => {
                return Err(format!(
                    "unknown key `{key}` (known: phase, floor, run_in_transaction, lock_timeout, statement_timeout)"
                ));
            }
        }
    }
    let contract_floor = match (phase.as_deref(), floor) {
        (None, _) => return Err("`phase` is missing: declare `expand` or `contract`".into()),
        (Some("expand"), None) => None,
        (Some("expand"), Some(_)) => {
            return Err("an expand migration has no `floor`: every version keeps working".into());
        }
        (Some("contract"), None) => {
            return Err(
                "a contract migration declares `floor`, the oldest crate version that works after it"
                    .into(),
            );
        }
        (Some("contract"), Some(floor)) => {
            if parse_version(&floor).is_none() {
                return Err(format!("`floor = \"{floor}\"` is not a version X.Y.Z"));
            }
            Some(floor)
        }
        (Some(other), _) => {
            return Err(format!(
                "`phase = \"{other}\"`: expected expand or contract"
            ));
        }
    };
    Ok(Declared {
        run_in_transaction,
        contract_floor,
        lock_timeout_ms,
        statement_timeout_ms,
    })
}

/// A timeout key's value in milliseconds: a positive whole number with a unit.
fn timeout(key: &str, value: &str) -> Result<u64, String> {
    parse_duration_ms(value)
        .filter(|ms| *ms > 0)
        .ok_or_else(|| {
            format!("`{key} = \"{value}\"` is not a duration such as \"500ms\", \"5s\", \"2min\" or \"1h\"")
        })
}

/// `"500ms"`, `"5s"`, `"2min"`, `"1h"` as milliseconds.
pub fn parse_duration_ms(value: &str) -> Option<u64> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().ok()?;
    let scale = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    number.checked_mul(scale)
}

/// `X.Y.Z` as numbers (a pre-release or build suffix is ignored).
pub fn parse_version(version: &str) -> Option<(u64, u64, u64)> {
    let core = version.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// What in `sql` an expand migration must not do (drop, rename, retype, tighten), one
/// phrase per finding; empty when nothing was found. A heuristic over the SQL's words
/// (comments and string literals removed), for PostgreSQL: it keeps honest mistakes out
/// of an expand migration, it is not a proof.
pub fn contract_statements(sql: &str) -> Vec<&'static str> {
    let words = words(sql);
    let has = |phrase: &[&str]| words.windows(phrase.len()).any(|w| w == phrase);
    let mut found = Vec::new();
    for (phrase, what) in [
        (&["DROP", "TABLE"][..], "drops a table"),
        (&["DROP", "COLUMN"][..], "drops a column"),
        (&["DROP", "VIEW"][..], "drops a view"),
        (&["DROP", "DEFAULT"][..], "drops a default"),
        (&["DROP", "CONSTRAINT"][..], "drops a constraint"),
        (&["RENAME"][..], "renames"),
        (&["SET", "NOT", "NULL"][..], "tightens a column to NOT NULL"),
        (&["VALIDATE", "CONSTRAINT"][..], "validates a constraint"),
        (
            &["ADD", "CONSTRAINT"][..],
            "adds a constraint to an existing table",
        ),
        (&["SET", "DATA", "TYPE"][..], "changes a column's type"),
    ] {
        if has(phrase) {
            found.push(what);
        }
    }
    // ALTER COLUMN x TYPE …
    if words
        .windows(4)
        .any(|w| w[0] == "ALTER" && w[1] == "COLUMN" && w[3] == "TYPE")
    {
        found.push("changes a column's type");
    }
    // ADD COLUMN … NOT NULL without a DEFAULT: older versions' inserts would fail.
    let mut i = 0;
    while let Some(start) = words[i..].windows(2).position(|w| w == ["ADD", "COLUMN"]) {
        let clause: Vec<&str> = words[i + start..]
            .iter()
            .take_while(|w| *w != "," && *w != ";")
            .map(String::as_str)
            .collect();
        let not_null = clause.windows(2).any(|w| w == ["NOT", "NULL"]);
        if not_null && !clause.contains(&"DEFAULT") {
            found.push("adds a NOT NULL column without a default");
        }
        i += start + 2;
    }
    found.dedup();
    found
}

/// The SQL's words, upper-cased, with comments and string literals removed and `,`/`;`
/// kept as words of their own.
fn words(sql: &str) -> Vec<String> {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                out.push(' ');
            }
            '\'' => {
                while let Some(c) = chars.next() {
                    if c == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                out.push_str(" '' ");
            }
            ',' | ';' | '(' | ')' => {
                out.push(' ');
                out.push(c);
                out.push(' ');
            }
            _ => out.push(c.to_ascii_uppercase()),
        }
    }
    out.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_declares_its_phase_and_a_contract_its_floor() {
        assert!(
            parse(None)
                .unwrap_err()
                .contains("metadata.toml is missing")
        );
        assert!(
            parse(Some("run_in_transaction = false"))
                .unwrap_err()
                .contains("`phase` is missing")
        );
        assert!(
            parse(Some("phase = \"contract\""))
                .unwrap_err()
                .contains("declares `floor`")
        );
        assert!(
            parse(Some("phase = \"expand\"\nfloor = \"1.0.0\""))
                .unwrap_err()
                .contains("no `floor`")
        );
        assert!(
            parse(Some("phase = \"contract\"\nfloor = \"two\""))
                .unwrap_err()
                .contains("not a version")
        );
        assert!(
            parse(Some("phase = \"shrink\""))
                .unwrap_err()
                .contains("expected expand or contract")
        );
        assert!(
            parse(Some("phase = \"expand\"\ncolour = \"red\""))
                .unwrap_err()
                .contains("unknown key")
        );
        assert_eq!(
            parse(Some(
                "# why\nphase = \"expand\"\nrun_in_transaction = false"
            ))
            .unwrap(),
            Declared {
                run_in_transaction: false,
                contract_floor: None,
                lock_timeout_ms: None,
                statement_timeout_ms: None,
            }
        );
        assert_eq!(
            parse(Some(
                "phase = \"contract\" # drops review.legacy\nfloor = \"2.1.0\""
            ))
            .unwrap(),
            Declared {
                run_in_transaction: true,
                contract_floor: Some("2.1.0".into()),
                lock_timeout_ms: None,
                statement_timeout_ms: None,
            }
        );
    }

    #[test]
    fn a_migration_may_declare_its_own_lock_and_statement_timeouts() {
        let declared = parse(Some(
            "phase = \"expand\"\nlock_timeout = \"10s\"\nstatement_timeout = \"30min\"",
        ))
        .unwrap();
        assert_eq!(declared.lock_timeout_ms, Some(10_000));
        assert_eq!(declared.statement_timeout_ms, Some(1_800_000));
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("1h"), Some(3_600_000));
        for bad in ["10", "ten s", "5 weeks", "0s", "-1s", "1.5s"] {
            let err = parse(Some(&format!(
                "phase = \"expand\"\nlock_timeout = \"{bad}\""
            )))
            .unwrap_err();
            assert!(err.contains("is not a duration"), "{bad}: {err}");
        }
        assert!(
            parse(Some("phase = \"expand\"\nlock_timeout = 5"))
                .unwrap_err()
                .contains("quoted string")
        );
    }

    #[test]
    fn versions_compare_as_numbers() {
        assert_eq!(parse_version("2.10.0"), Some((2, 10, 0)));
        assert!(parse_version("2.10.0") > parse_version("2.9.1"));
        assert_eq!(parse_version("1.2.3-rc.1"), Some((1, 2, 3)));
        assert_eq!(parse_version("1.2"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
    }

    #[test]
    fn an_expand_migration_may_add_but_not_drop_rename_retype_or_tighten() {
        let additive = "-- DROP TABLE in a comment is fine\n\
            CREATE TABLE pins (id int PRIMARY KEY, note text DEFAULT 'DROP COLUMN x');\n\
            ALTER TABLE book ADD COLUMN isbn varchar(20);\n\
            ALTER TABLE book ADD COLUMN stock int NOT NULL DEFAULT 0;\n\
            CREATE INDEX CONCURRENTLY review_book_id_id_idx ON review (book_id, id);";
        assert_eq!(contract_statements(additive), Vec::<&str>::new());
        for (sql, finding) in [
            ("ALTER TABLE book DROP COLUMN publisher;", "drops a column"),
            ("DROP TABLE review_quarantine;", "drops a table"),
            ("ALTER TABLE book RENAME COLUMN title TO name;", "renames"),
            (
                "ALTER TABLE review ALTER COLUMN rate TYPE int;",
                "changes a column's type",
            ),
            (
                "ALTER TABLE review ALTER COLUMN book_id SET NOT NULL;",
                "tightens a column to NOT NULL",
            ),
            (
                "ALTER TABLE review ADD CONSTRAINT r CHECK (rate > 0) NOT VALID;",
                "adds a constraint to an existing table",
            ),
            (
                "ALTER TABLE book ADD COLUMN isbn text NOT NULL, ADD COLUMN x int;",
                "adds a NOT NULL column without a default",
            ),
        ] {
            assert!(
                contract_statements(sql).contains(&finding),
                "{sql}: {:?}",
                contract_statements(sql)
            );
        }
    }
}
