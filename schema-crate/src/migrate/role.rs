//! The application role: the database, not code review, keeps the functions to DML.

use super::{BOOKKEEPING_TABLE, Context, MigrationError};
use crate::DbConnection;

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
/// read access to the migration record (for the functions' schema check), and nothing
/// else: it cannot create, alter or drop. On RDS it is also granted `rds_iam`.
/// A no-op on SQLite, which has no roles.
pub fn ensure_app_role(conn: &mut DbConnection, role: &str) -> Result<(), MigrationError> {
    if !valid_role_name(role) {
        return Err(MigrationError::Refused(format!(
            "invalid app role name `{role}`: use lowercase letters, digits and _ (at most 63)"
        )));
    }
    let DbConnection::Postgres(_) = conn else {
        return Ok(());
    };
    let tables = APP_TABLES.join(", ");
    let sequences: String = APP_TABLES
        .iter()
        .map(|t| format!("EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO {role}', pg_get_serial_sequence('{t}', 'id'));"))
        .collect();
    // Roles are cluster-wide: two databases provisioning at once may race on CREATE ROLE.
    let sql = format!(
        "DO $$ BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                 BEGIN CREATE ROLE {role} LOGIN;
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
             END IF;
             IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN GRANT rds_iam TO {role}; END IF;
             EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database());
             {sequences}
         END $$;
         REVOKE CREATE ON SCHEMA public FROM PUBLIC;
         REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role};
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {role};
         GRANT SELECT ON {BOOKKEEPING_TABLE} TO {role};"
    );
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
