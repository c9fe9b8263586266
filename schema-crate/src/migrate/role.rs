//! The application role: the database, not code review, keeps the functions to DML.

use super::{BOOKKEEPING_TABLE, Context, MigrationError, PINS_TABLE};
use crate::{
    DbConnection,
    backend::{Dialect, with_conn},
};

/// The app role's name when `APP_DB_ROLE` is not set.
pub const DEFAULT_APP_ROLE: &str = "bookstore_app";

/// Tables the functions read and write.
const APP_TABLES: [&str; 2] = ["book", "review"];

fn valid_role_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// Creates `role` (LOGIN, no password: it signs in with an RDS IAM token or trust auth)
/// if missing, and leaves it exactly DML on the bookstore tables and their sequences,
/// read access to the migration record (for the functions' schema check), the right to
/// record itself in the pins table (the compatibility window), and nothing
/// else: it cannot create, alter or drop. On RDS it is also granted `rds_iam`.
/// A no-op on SQLite, which has no roles.
pub fn ensure_app_role(conn: &mut DbConnection, role: &str) -> Result<(), MigrationError> {
    if !valid_role_name(role) {
        return Err(MigrationError::Refused(format!(
            "invalid app role name `{role}`: use lowercase letters, digits and _ (at most 63)"
        )));
    }
    fn sql<C: Dialect>(_: &C, role: &str) -> Option<String> {
        C::app_role_sql(role, &APP_TABLES, BOOKKEEPING_TABLE, PINS_TABLE)
    }
    let Some(sql) = with_conn!(&mut *conn, c => sql(c, role)) else {
        return Ok(());
    };
    conn.batch_execute(&sql)
        .context("granting the app role its privileges")?;
    tracing::info!(role, "app role ensured");
    Ok(())
}

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
