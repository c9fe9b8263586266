//! The application role: the database, not code review, keeps the functions to DML.

use super::{BOOKKEEPING_TABLE, Context, MigrationError, PINS_TABLE};
use crate::{
    DbConnection,
    backend::{AppRole, Dialect, with_conn},
};

/// The app role's name when `APP_DB_ROLE` is not set.
pub const DEFAULT_APP_ROLE: &str = "bookstore_app";

/// The app role's session defaults, set on the role (`ALTER ROLE … SET`) so that every
/// function session has them from login, with no `SET` to pin an RDS Proxy session: a
/// statement may run 5 s (well inside a function's 15 s timeout and API Gateway's 29 s), a
/// lock wait 2 s, and a transaction left idle (a frozen or killed function) is ended after
/// 10 s, releasing its locks.
pub const APP_ROLE_SETTINGS: [(&str, &str); 3] = [
    ("statement_timeout", "5s"),
    ("lock_timeout", "2s"),
    ("idle_in_transaction_session_timeout", "10s"),
];

/// The app role's `TimeZone` and `client_encoding`, also set on the role: the values
/// diesel wants. The server reports both at login, so diesel (as patched in
/// `vendor/diesel`) sends no `SET` for them, whatever the cluster's defaults.
pub const APP_ROLE_CONNECTION_SETTINGS: [(&str, &str); 2] =
    [("timezone", "UTC"), ("client_encoding", "UTF8")];

/// Tables the functions read and write.
const APP_TABLES: [&str; 2] = ["book", "review"];

/// Tables later migrations add, and what the role may do on each once it exists: record
/// itself in the pins table; read the review statistics (only their trigger writes them);
/// keep idempotency keys (the purge deletes them).
const LATER_TABLES: [(&str, &str); 3] = [
    (PINS_TABLE, "SELECT, INSERT, UPDATE"),
    ("book_review_stats", "SELECT"),
    ("idempotency_key", "SELECT, INSERT, UPDATE, DELETE"),
];

/// The table privileges [`ensure_app_role`] leaves the role with, per table, in the order
/// `SELECT, INSERT, UPDATE, DELETE` (what structural drift compares the live ones with).
pub(crate) fn expected_grants() -> Vec<(&'static str, &'static str)> {
    APP_TABLES
        .iter()
        .map(|t| (*t, "SELECT, INSERT, UPDATE, DELETE"))
        .chain([(BOOKKEEPING_TABLE, "SELECT")])
        .chain(LATER_TABLES)
        .collect()
}

fn valid_role_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// Creates `role` (LOGIN, no password: it signs in with an RDS IAM token or trust auth)
/// if missing, and leaves it exactly DML on the bookstore tables and their sequences,
/// read access to the migration record (for the functions' schema check), the right to
/// record itself in the pins table (the compatibility window), read the review
/// statistics, keep idempotency keys, and nothing
/// else: it cannot create, alter or drop. On RDS PostgreSQL it is also granted `rds_iam`;
/// on Aurora MySQL it is identified with `AWSAuthenticationPlugin` (IAM tokens only).
/// A no-op on SQLite, which has no roles.
pub fn ensure_app_role(conn: &mut DbConnection, role: &str) -> Result<(), MigrationError> {
    if !valid_role_name(role) {
        return Err(MigrationError::Refused(format!(
            "invalid app role name `{role}`: use lowercase letters, digits and _ (at most 63)"
        )));
    }
    // MySQL refuses a grant on a table that does not exist: only those that do are
    // offered (PostgreSQL's SQL checks again itself).
    let mut later = Vec::new();
    for (table, privileges) in LATER_TABLES {
        if super::bookkeeping::table_exists(conn, table)
            .context("looking for the tables later migrations add")?
        {
            later.push((table, privileges));
        }
    }
    fn sql<C: Dialect>(
        c: &mut C,
        role: &str,
        later: &[(&str, &str)],
    ) -> diesel::QueryResult<Option<String>> {
        let aws_iam_plugin = c.has_aws_iam_plugin()?;
        let settings: Vec<(&str, &str)> = APP_ROLE_SETTINGS
            .iter()
            .chain(&APP_ROLE_CONNECTION_SETTINGS)
            .copied()
            .collect();
        Ok(C::app_role_sql(&AppRole {
            name: role,
            tables: &APP_TABLES,
            bookkeeping: BOOKKEEPING_TABLE,
            later_tables: later,
            settings: &settings,
            aws_iam_plugin,
        }))
    }
    let Some(sql) = with_conn!(&mut *conn, c => sql(c, role, &later))
        .context("looking for the server's IAM authentication plugin")?
    else {
        return Ok(());
    };
    // The role and `GRANT CONNECT` live in cluster-wide catalogs, which the per-database
    // runner lock does not cover: two databases provisioning at once (a deploy of two
    // stages, parallel tests) can collide with "tuple concurrently updated". The SQL is
    // idempotent, so a collision is retried after a short, growing pause.
    let mut attempt = 0;
    loop {
        match conn.batch_execute(&sql) {
            Ok(()) => break,
            Err(error)
                if attempt < ROLE_RETRIES && error.to_string().contains("concurrently updated") =>
            {
                attempt += 1;
                tracing::info!(
                    role,
                    attempt,
                    "app role: a concurrent update of the role; retrying"
                );
                std::thread::sleep(std::time::Duration::from_millis(50 * u64::from(attempt)));
            }
            Err(error) => return Err(error).context("granting the app role its privileges"),
        }
    }
    tracing::info!(role, "app role ensured");
    Ok(())
}

/// How often [`ensure_app_role`] retries a collision with another database's run.
const ROLE_RETRIES: u32 = 8;

#[cfg(test)]
mod tests {
    use super::valid_role_name;

    #[test]
    fn role_names_are_plain_identifiers() {
        assert!(valid_role_name("bookstore_app"));
        assert!(!valid_role_name("Bookstore"));
        assert!(!valid_role_name("app; DROP TABLE book"));
        assert!(!valid_role_name("1app"));
        assert!(!valid_role_name(""));
    }
}
