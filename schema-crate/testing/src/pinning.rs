//! Statements that pin an RDS Proxy session to one database connection, as AWS lists
//! them for PostgreSQL (November 2026): `SET` (and `RESET`), `set_config`, SQL-level
//! `PREPARE`/`EXECUTE`/`DEALLOCATE`, `DISCARD`, temporary tables, sequences and views,
//! cursors, `LISTEN`, `LOAD`, sequence functions and advisory locks. A statement's text is
//! what the proxy sees; a column `DEFAULT nextval(…)` runs inside the server and is not in
//! it. Protocol-level (extended query) prepared statements stopped pinning in November
//! 2023 and are not on the list.
//!
//! Use it over a statement log ([`crate::cluster::Cluster::statements_of`]):
//!
//! ```
//! let found = bookstore_testing::pinning::pinning_statements(&[
//!     "SELECT 1".to_owned(),
//!     "SET TIME ZONE 'UTC'".to_owned(),
//!     "UPDATE t SET a = 1".to_owned(),
//! ]);
//! assert_eq!(found, vec![("SET TIME ZONE 'UTC'".to_owned(), "SET")]);
//! ```

/// Each statement of `statements` that pins, with the rule it hit.
pub fn pinning_statements(statements: &[String]) -> Vec<(String, &'static str)> {
    statements
        .iter()
        .filter_map(|sql| pinning_rule(sql).map(|rule| (sql.clone(), rule)))
        .collect()
}

/// The pinning rule `sql` hits, if any (each `;`-separated statement is checked).
pub fn pinning_rule(sql: &str) -> Option<&'static str> {
    let lower = sql.to_ascii_lowercase();
    for statement in lower.split(';') {
        let words: Vec<&str> = statement.split_whitespace().collect();
        let first = words.first().copied().unwrap_or("");
        let rule = match first {
            "set" | "reset" => Some("SET"),
            "prepare" | "execute" | "deallocate" => Some("PREPARE/EXECUTE/DEALLOCATE"),
            "discard" => Some("DISCARD"),
            "listen" => Some("LISTEN"),
            "load" => Some("LOAD"),
            "declare" => Some("cursor"),
            "create"
                if words
                    .get(1)
                    .is_some_and(|w| matches!(*w, "temp" | "temporary"))
                    || words.get(1..3) == Some(&["local", "temporary"][..])
                    || words.get(1..3) == Some(&["global", "temporary"][..]) =>
            {
                Some("temporary object")
            }
            _ => None,
        };
        if rule.is_some() {
            return rule;
        }
        let called = |name: &str| {
            statement.match_indices(name).any(|(at, _)| {
                let before = statement[..at].chars().next_back();
                let after = statement[at + name.len()..].trim_start().starts_with('(');
                after && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        };
        if called("set_config") {
            return Some("set_config");
        }
        if ["nextval", "setval", "currval", "lastval"]
            .iter()
            .any(|f| called(f))
        {
            return Some("sequence function");
        }
        if statement.contains("pg_advisory") || statement.contains("pg_try_advisory") {
            return Some("advisory lock");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::pinning_rule;

    #[test]
    fn every_rule_fires_and_ordinary_dml_does_not() {
        for (sql, rule) in [
            ("SET TIME ZONE 'UTC'", "SET"),
            ("set client_encoding to 'UTF8'", "SET"),
            ("SET LOCAL statement_timeout = 1", "SET"),
            ("RESET ALL", "SET"),
            ("SELECT set_config('a', 'b', false)", "set_config"),
            ("PREPARE p AS SELECT 1", "PREPARE/EXECUTE/DEALLOCATE"),
            ("EXECUTE p", "PREPARE/EXECUTE/DEALLOCATE"),
            ("DEALLOCATE ALL", "PREPARE/EXECUTE/DEALLOCATE"),
            ("DISCARD ALL", "DISCARD"),
            ("LISTEN x", "LISTEN"),
            ("LOAD 'auto_explain'", "LOAD"),
            ("DECLARE c CURSOR WITH HOLD FOR SELECT 1", "cursor"),
            ("CREATE TEMP TABLE t (a int)", "temporary object"),
            ("CREATE TEMPORARY SEQUENCE s", "temporary object"),
            ("SELECT nextval('s')", "sequence function"),
            ("SELECT pg_try_advisory_lock(1)", "advisory lock"),
            ("BEGIN; SET LOCAL x = 1; COMMIT", "SET"),
        ] {
            assert_eq!(pinning_rule(sql), Some(rule), "{sql}");
        }
        for sql in [
            "UPDATE book SET title = $1 WHERE id = $2",
            "INSERT INTO pins VALUES (1) ON CONFLICT (a) DO UPDATE SET last_seen = now()",
            "SELECT 1",
            "BEGIN",
            "COMMIT",
            "CREATE TABLE offset_table (a int)",
            "SELECT mynextval(1)",
        ] {
            assert_eq!(pinning_rule(sql), None, "{sql}");
        }
    }
}
