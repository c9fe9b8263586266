//! The one error type of the API and its one mapping to HTTP.
//!
//! Every failure a handler, an extractor or the unit of work can meet is an [`ApiError`];
//! [`ApiError`]'s `IntoResponse` is the only place that picks a status code and writes
//! the `{"error": {"code", "message", "field"?}}` body. Causes (database messages, SQL
//! states, constraint names, panics) are logged there and never sent.

use std::{error::Error as StdError, fmt::Write as _};

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

/// The foreign key from `review.book_id` to `book.id` (PostgreSQL's name; SQLite names none).
pub const REVIEW_BOOK_FKEY: &str = "review_book_id_fkey";
/// The CHECK that keeps `review.rate` within 1..=5.
pub const REVIEW_RATE_CHECK: &str = "review_rate_range";

/// The body of a 500: fixed, whatever went wrong.
pub const INTERNAL_MESSAGE: &str = "internal server error";

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECS: &str = "1";

/// Everything that can go wrong in a request, as the client is told.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route matches the path.
    #[error("no route for {path}")]
    RouteNotFound {
        /// The request path.
        path: String,
    },
    /// The route exists but not for this method (`Allow` is added by the router).
    #[error("method {method} is not allowed here")]
    MethodNotAllowed {
        /// The request method.
        method: String,
    },
    /// The book addressed by the path or query does not exist.
    #[error("book {id} does not exist")]
    BookNotFound {
        /// The id asked for.
        id: i32,
    },
    /// The body refers to a book that does not exist (`None` when only the database knew).
    #[error("the book in book_id does not exist")]
    UnknownBook {
        /// The id the body named, when known.
        id: Option<i32>,
    },
    /// The body is not JSON at all (syntax error, empty body).
    #[error("malformed JSON: {message}")]
    MalformedJson {
        /// Where the parser gave up (line and column, never the body).
        message: String,
    },
    /// `Content-Type` is missing or not JSON.
    #[error("unsupported content type")]
    UnsupportedMediaType,
    /// The body is larger than the limit.
    #[error("body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body has a field the endpoint does not know.
    #[error("unknown field {field}")]
    UnknownField {
        /// The field's name (its path for nested values).
        field: String,
    },
    /// A required field is missing.
    #[error("missing field {field}")]
    MissingField {
        /// The field's name.
        field: String,
    },
    /// A field has the wrong type or an unacceptable value.
    #[error("invalid field {field}: {message}")]
    InvalidField {
        /// The field's name.
        field: String,
        /// What is wrong, for a person.
        message: String,
    },
    /// The body is JSON but not what the endpoint takes (e.g. an array).
    #[error("invalid body: {message}")]
    InvalidBody {
        /// What is wrong.
        message: String,
    },
    /// A query or path parameter is malformed or out of range.
    #[error("invalid parameter {param}: {message}")]
    InvalidParameter {
        /// The parameter's name (`limit`, `after`, `book_id`, `id`).
        param: String,
        /// What is wrong.
        message: String,
    },
    /// A query parameter the endpoint does not take.
    #[error("unknown parameter {param}")]
    UnknownParameter {
        /// The parameter's name.
        param: String,
    },
    /// A unique constraint refused the write.
    #[error("unique violation on {constraint:?}")]
    Conflict {
        /// The constraint's name, for the log only.
        constraint: Option<String>,
    },
    /// A CHECK, NOT NULL or foreign-key rule refused the write.
    #[error("constraint violation on {constraint:?}")]
    ConstraintViolation {
        /// The constraint's name, for the log only.
        constraint: Option<String>,
        /// The field at fault, when the constraint is known.
        field: Option<&'static str>,
    },
    /// The database lacks migrations this function's pinned `bookstore-schema` embeds.
    #[error(
        "the database schema is at {}, this function (bookstore-schema {crate_version}) needs {required_version}",
        database_version.as_deref().unwrap_or("no version")
    )]
    SchemaBehind {
        /// Newest migration the database has, `None` when it has none.
        database_version: Option<String>,
        /// Newest migration this function needs.
        required_version: String,
        /// The pinned schema crate's version.
        crate_version: &'static str,
    },
    /// No connection could be had, or it broke: retrying later may work.
    #[error("database unavailable: {cause}")]
    DatabaseUnavailable {
        /// The cause, for the log only.
        cause: String,
    },
    /// Anything else: a bug or an unexpected database error.
    #[error("internal error: {cause}")]
    Internal {
        /// The cause chain, for the log only.
        cause: String,
    },
}

/// The wire shape of an error.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// An internal error from any error, keeping its cause chain for the log.
    pub fn internal(error: &(dyn StdError + 'static)) -> Self {
        Self::Internal {
            cause: cause_chain(error),
        }
    }

    /// A database-unavailable error from any error, keeping its cause chain for the log.
    pub fn unavailable(error: &(dyn StdError + 'static)) -> Self {
        Self::DatabaseUnavailable {
            cause: cause_chain(error),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::RouteNotFound { .. } | Self::BookNotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::MalformedJson { .. }
            | Self::UnknownField { .. }
            | Self::MissingField { .. }
            | Self::InvalidField { .. }
            | Self::InvalidBody { .. }
            | Self::InvalidParameter { .. }
            | Self::UnknownParameter { .. } => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::UnknownBook { .. } | Self::ConstraintViolation { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::SchemaBehind { .. } | Self::DatabaseUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RouteNotFound { .. } => "route_not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::BookNotFound { .. } | Self::UnknownBook { .. } => "book_not_found",
            Self::MalformedJson { .. } => "malformed_json",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnknownField { .. } => "unknown_field",
            Self::MissingField { .. } => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
            Self::InvalidBody { .. } => "invalid_body",
            Self::InvalidParameter { .. } => "invalid_parameter",
            Self::UnknownParameter { .. } => "unknown_parameter",
            Self::Conflict { .. } => "conflict",
            Self::ConstraintViolation { .. } => "constraint_violation",
            Self::SchemaBehind { .. } => "schema_behind",
            Self::DatabaseUnavailable { .. } => "database_unavailable",
            Self::Internal { .. } => "internal",
        }
    }

    /// The field or parameter at fault, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::UnknownField { field }
            | Self::MissingField { field }
            | Self::InvalidField { field, .. } => Some(field),
            Self::InvalidParameter { param, .. } | Self::UnknownParameter { param } => Some(param),
            Self::UnknownBook { .. } => Some("book_id"),
            Self::ConstraintViolation { field, .. } => *field,
            _ => None,
        }
    }

    /// The message a client sees: what was wrong with the request, never why the server failed.
    fn public_message(&self) -> String {
        match self {
            Self::RouteNotFound { path } => format!("no route matches {path}"),
            Self::MethodNotAllowed { method } => {
                format!("{method} is not allowed on this route; the Allow header lists what is")
            }
            Self::BookNotFound { id } => format!("book {id} does not exist"),
            Self::UnknownBook { id: Some(id) } => format!("book {id} does not exist"),
            Self::UnknownBook { id: None } => "the book in book_id does not exist".to_owned(),
            Self::MalformedJson { message } => format!("the body is not valid JSON: {message}"),
            Self::UnsupportedMediaType => {
                "send the body as JSON with Content-Type: application/json".to_owned()
            }
            Self::PayloadTooLarge { limit } => {
                format!("the body is larger than {limit} bytes")
            }
            Self::UnknownField { field } => format!("unknown field `{field}`"),
            Self::MissingField { field } => format!("missing field `{field}`"),
            Self::InvalidField { field, message } => format!("`{field}` {message}"),
            Self::InvalidBody { message } => message.clone(),
            Self::InvalidParameter { param, message } => format!("`{param}` {message}"),
            Self::UnknownParameter { param } => format!("unknown query parameter `{param}`"),
            Self::Conflict { .. } => "the request conflicts with existing data".to_owned(),
            Self::ConstraintViolation {
                field: Some(field), ..
            } => format!("`{field}` breaks a rule of the database"),
            Self::ConstraintViolation { field: None, .. } => {
                "the request breaks a rule of the database".to_owned()
            }
            Self::SchemaBehind { .. } => {
                format!("{self}; the schema migration has not run yet, retry after it has")
            }
            Self::DatabaseUnavailable { .. } => {
                "the database is unavailable; retry shortly".to_owned()
            }
            Self::Internal { .. } => INTERNAL_MESSAGE.to_owned(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error.code = self.code(), error.cause = %self, "request failed");
        } else {
            tracing::info!(error.code = self.code(), error = %self, "request rejected");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.public_message(),
                field: self.field(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        let DieselError::DatabaseError(kind, info) = &error else {
            return Self::internal(&error);
        };
        let constraint = info.constraint_name().map(str::to_owned);
        match kind {
            DatabaseErrorKind::UniqueViolation => Self::Conflict { constraint },
            // SQLite names no constraint; the only foreign key a request can break is this one.
            DatabaseErrorKind::ForeignKeyViolation
                if constraint.as_deref().is_none_or(|c| c == REVIEW_BOOK_FKEY) =>
            {
                Self::UnknownBook { id: None }
            }
            DatabaseErrorKind::CheckViolation
                if constraint.as_deref() == Some(REVIEW_RATE_CHECK) =>
            {
                Self::ConstraintViolation {
                    constraint,
                    field: Some("rate"),
                }
            }
            DatabaseErrorKind::ForeignKeyViolation
            | DatabaseErrorKind::CheckViolation
            | DatabaseErrorKind::NotNullViolation
            | DatabaseErrorKind::RestrictViolation
            | DatabaseErrorKind::ExclusionViolation => Self::ConstraintViolation {
                constraint,
                field: None,
            },
            // A dropped socket, a terminated backend, an Aurora writer that just became
            // a reader during failover: retrying on a fresh connection can work.
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::ReadOnlyTransaction
            | DatabaseErrorKind::SerializationFailure => Self::unavailable(&error),
            // SQLite's busy timeout ran out behind another writer.
            _ if info.message().contains("database is locked") => Self::unavailable(&error),
            _ => Self::internal(&error),
        }
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
    use diesel::result::DatabaseErrorInformation;

    use super::*;

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
    fn unique_violations_are_conflicts_and_other_rules_are_unprocessable() {
        let unique = db_error(DatabaseErrorKind::UniqueViolation, "dup", Some("book_pkey"));
        assert_eq!(unique.status(), StatusCode::CONFLICT);
        let rate = db_error(
            DatabaseErrorKind::CheckViolation,
            "check",
            Some(REVIEW_RATE_CHECK),
        );
        assert_eq!(
            (rate.status(), rate.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("rate"))
        );
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
        assert_eq!(
            db_error(DatabaseErrorKind::Unknown, "database is locked", None).code(),
            "database_unavailable"
        );
        let unknown = db_error(
            DatabaseErrorKind::Unknown,
            "relation \"book\" does not exist",
            None,
        );
        assert_eq!(unknown.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(unknown.public_message(), INTERNAL_MESSAGE);
        assert_eq!(ApiError::from(DieselError::NotFound).code(), "internal");
    }

    #[test]
    fn server_errors_never_show_their_cause() {
        let secret = "password=hunter2 SELECT * FROM book";
        for error in [
            ApiError::Internal {
                cause: secret.into(),
            },
            ApiError::DatabaseUnavailable {
                cause: secret.into(),
            },
            ApiError::Conflict {
                constraint: Some(secret.into()),
            },
            ApiError::ConstraintViolation {
                constraint: Some(secret.into()),
                field: None,
            },
        ] {
            assert!(!error.public_message().contains("hunter2"), "{error:?}");
        }
    }
}
