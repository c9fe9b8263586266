//! Database errors as [`ApiError`]s, by the schema facts of `bookstore_schema::facts`.

use std::{error::Error as StdError, fmt::Write as _};

use bookstore_schema::facts::{self, ForeignKey};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::ApiError;

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        let DieselError::DatabaseError(kind, info) = &error else {
            return Self::internal(&error);
        };
        let constraint = info.constraint_name().map(str::to_owned);
        match kind {
            DatabaseErrorKind::UniqueViolation => Self::Conflict { constraint },
            DatabaseErrorKind::ForeignKeyViolation => {
                match violated_foreign_key(constraint.as_deref()) {
                    Some(fk) => Self::UnknownReference {
                        resource: fk.references,
                        field: fk.column,
                        id: None,
                    },
                    None => Self::ConstraintViolation {
                        constraint,
                        field: None,
                    },
                }
            }
            DatabaseErrorKind::CheckViolation => Self::ConstraintViolation {
                field: constraint
                    .as_deref()
                    .and_then(facts::check)
                    .map(|c| c.column),
                constraint,
            },
            DatabaseErrorKind::NotNullViolation
            | DatabaseErrorKind::RestrictViolation
            | DatabaseErrorKind::ExclusionViolation => Self::ConstraintViolation {
                constraint,
                field: None,
            },
            // A dropped socket, a failover, a serialization failure, a deadlock, the app
            // role's statement or lock timeout, SQLite's busy timeout: the schema crate
            // knows each backend's transient errors; a retry later can work.
            _ if bookstore_schema::is_transient(&error) => Self::unavailable(&error),
            _ => Self::internal(&error),
        }
    }
}

/// The foreign key a violation broke: found by name on PostgreSQL. SQLite names no
/// constraint, so there it is the schema's only foreign key a request can break, and
/// unknown when the schema has several.
fn violated_foreign_key(name: Option<&str>) -> Option<&'static ForeignKey> {
    match name {
        Some(name) => facts::foreign_key(name),
        None => match facts::FOREIGN_KEYS {
            [only] => Some(only),
            _ => None,
        },
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(error: r2d2::Error) -> Self {
        Self::unavailable(&error)
    }
}

/// `error: cause: cause…`, with the database's detail where diesel keeps it apart.
pub fn cause_chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = error.to_string();
    if let Some(DieselError::DatabaseError(kind, info)) = error.downcast_ref::<DieselError>() {
        let _ = write!(out, " (kind {kind:?}");
        if let Some(constraint) = info.constraint_name() {
            let _ = write!(out, ", constraint {constraint}");
        }
        if let Some(table) = info.table_name() {
            let _ = write!(out, ", table {table}");
        }
        out.push(')');
    }
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(out, ": {cause}");
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use bookstore_schema::facts::{CHECKS, FOREIGN_KEYS, REVIEW_BOOK_FKEY, REVIEW_RATE_CHECK};
    use diesel::result::DatabaseErrorInformation;

    use super::*;
    use crate::error::INTERNAL_MESSAGE;

    #[derive(Debug)]
    struct Info {
        message: &'static str,
        constraint: Option<&'static str>,
    }

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.message
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            self.constraint
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn db_error(
        kind: DatabaseErrorKind,
        message: &'static str,
        constraint: Option<&'static str>,
    ) -> ApiError {
        DieselError::DatabaseError(
            kind,
            Box::new(Info {
                message,
                constraint,
            }),
        )
        .into()
    }

    #[test]
    fn the_review_foreign_key_becomes_book_not_found_on_both_backends() {
        let pg = db_error(
            DatabaseErrorKind::ForeignKeyViolation,
            "insert or update on table \"review\" violates foreign key constraint",
            Some(REVIEW_BOOK_FKEY),
        );
        let sqlite = db_error(
            DatabaseErrorKind::ForeignKeyViolation,
            "FOREIGN KEY constraint failed",
            None,
        );
        for error in [pg, sqlite] {
            assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(error.code(), "book_not_found");
            assert_eq!(error.field(), Some("book_id"));
        }
    }

    #[test]
    fn every_foreign_key_names_its_column_and_the_referenced_tables_code() {
        for fk in FOREIGN_KEYS {
            let name: &'static str = fk.name;
            let error = db_error(DatabaseErrorKind::ForeignKeyViolation, "fk", Some(name));
            assert_eq!(error.code(), format!("{}_not_found", fk.references));
            assert_eq!(error.field(), Some(fk.column));
        }
        let other = db_error(
            DatabaseErrorKind::ForeignKeyViolation,
            "fk",
            Some("some_other_fkey"),
        );
        assert_eq!(
            (other.code(), other.field()),
            ("constraint_violation".into(), None)
        );
    }

    #[test]
    fn every_check_names_its_column() {
        for check in CHECKS {
            let name: &'static str = check.name;
            let error = db_error(DatabaseErrorKind::CheckViolation, "check", Some(name));
            assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(error.field(), Some(check.column));
        }
        let rate = db_error(
            DatabaseErrorKind::CheckViolation,
            "check",
            Some(REVIEW_RATE_CHECK),
        );
        assert_eq!(rate.field(), Some("rate"));
    }

    #[test]
    fn unique_violations_are_conflicts_and_other_rules_are_unprocessable() {
        let unique = db_error(DatabaseErrorKind::UniqueViolation, "dup", Some("book_pkey"));
        assert_eq!(unique.status(), StatusCode::CONFLICT);
        let other = db_error(DatabaseErrorKind::CheckViolation, "check", Some("x"));
        assert_eq!(
            (other.status(), other.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, None)
        );
    }

    #[test]
    fn connection_failures_are_503_and_everything_else_is_500() {
        for kind in [
            DatabaseErrorKind::ClosedConnection,
            DatabaseErrorKind::ReadOnlyTransaction,
        ] {
            assert_eq!(db_error(kind, "gone", None).code(), "database_unavailable");
        }
        for busy in [
            "database is locked",
            "deadlock detected",
            "canceling statement due to statement timeout",
            "canceling statement due to lock timeout",
        ] {
            assert_eq!(
                db_error(DatabaseErrorKind::Unknown, busy, None).code(),
                "database_unavailable",
                "{busy}"
            );
        }
        let unknown = db_error(
            DatabaseErrorKind::Unknown,
            "relation \"book\" does not exist",
            None,
        );
        assert_eq!(unknown.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(unknown.public_message(), INTERNAL_MESSAGE);
        assert_eq!(ApiError::from(DieselError::NotFound).code(), "internal");
    }
}
