//! The one error type of the API and its one mapping to HTTP.
//!
//! Every failure a handler, an extractor or the unit of work can meet is an [`ApiError`].
//! One table, [`ApiError::row`], gives each variant its status, code, field and public
//! message; `IntoResponse` writes them as `{"error": {"code", "message", "field"?}}`.
//! Causes (database messages, SQL states, constraint names, panics) are logged there and
//! never sent.
//!
//! Nothing here is specific to one resource: a missing row is
//! [`ApiError::not_found`]`("book", id)`, code `book_not_found`, and a foreign key from
//! `bookstore_schema::facts` names the referencing column and the referenced table's
//! `…_not_found` code. Names and values a client sent are echoed at most
//! [`ECHO_MAX_CHARS`] characters long (longer ones end in `…`), messages at most
//! [`MESSAGE_MAX_CHARS`].

mod database;

use std::{borrow::Cow, error::Error as StdError, fmt::Display};

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

pub use database::cause_chain;

/// The body of a 500: fixed, whatever went wrong.
pub const INTERNAL_MESSAGE: &str = "internal server error";

/// Longest name or value a client sent that an error echoes, in characters.
pub const ECHO_MAX_CHARS: usize = 64;
/// Longest message (which may quote a value, as serde's do) an error sends, in characters.
pub const MESSAGE_MAX_CHARS: usize = 160;

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECS: &str = "1";

/// Everything that can go wrong in a request, as the client is told.
///
/// Build one with its constructor ([`ApiError::invalid_field`], [`ApiError::not_found`]…);
/// match on it with `..`: variants and fields may be added in a minor release.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No route matches the path (`404 route_not_found`).
    #[error("no route for {path}")]
    #[non_exhaustive]
    RouteNotFound {
        /// The request path (clipped).
        path: String,
    },
    /// The route exists but not for this method (`405`; `Allow` is added by the router).
    #[error("method {method} is not allowed here")]
    #[non_exhaustive]
    MethodNotAllowed {
        /// The request method (clipped).
        method: String,
    },
    /// The resource addressed by the path or query does not exist (`404 {resource}_not_found`).
    #[error("{resource} {id} does not exist")]
    #[non_exhaustive]
    NotFound {
        /// What was asked for (`book`): the code is `{resource}_not_found`.
        resource: &'static str,
        /// Its id as the client sent it (clipped).
        id: String,
    },
    /// The body refers to a row that does not exist (`422 {resource}_not_found` naming
    /// the field): a foreign key refused the write.
    #[error("the {resource} in {field} does not exist")]
    #[non_exhaustive]
    UnknownReference {
        /// The referenced table (`book`): the code is `{resource}_not_found`.
        resource: &'static str,
        /// The body field that refers to it (`book_id`).
        field: &'static str,
        /// The id the body named, when known (clipped).
        id: Option<String>,
    },
    /// The body is not JSON at all (syntax error, empty body).
    #[error("malformed JSON: {message}")]
    #[non_exhaustive]
    MalformedJson {
        /// Where the parser gave up (line and column, never the body).
        message: String,
    },
    /// `Content-Type` is missing or not JSON.
    #[error("unsupported content type")]
    UnsupportedMediaType,
    /// The body is larger than the limit.
    #[error("body larger than {limit} bytes")]
    #[non_exhaustive]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body has a field the endpoint does not know.
    #[error("unknown field {field}")]
    #[non_exhaustive]
    UnknownField {
        /// The field's name, its path for nested values (clipped).
        field: String,
    },
    /// A required field is missing.
    #[error("missing field {field}")]
    #[non_exhaustive]
    MissingField {
        /// The field's name (clipped).
        field: String,
    },
    /// A field has the wrong type or an unacceptable value.
    #[error("invalid field {field}: {message}")]
    #[non_exhaustive]
    InvalidField {
        /// The field's name (clipped).
        field: String,
        /// What is wrong, for a person (clipped).
        message: String,
    },
    /// The body is JSON but not what the endpoint takes (e.g. an array).
    #[error("invalid body: {message}")]
    #[non_exhaustive]
    InvalidBody {
        /// What is wrong (clipped).
        message: String,
    },
    /// A query or path parameter is malformed or out of range.
    #[error("invalid parameter {param}: {message}")]
    #[non_exhaustive]
    InvalidParameter {
        /// The parameter's name (`limit`, `id`), clipped.
        param: String,
        /// What is wrong (clipped).
        message: String,
    },
    /// A query parameter the endpoint does not take.
    #[error("unknown parameter {param}")]
    #[non_exhaustive]
    UnknownParameter {
        /// The parameter's name (clipped).
        param: String,
    },
    /// A unique constraint refused the write (`409 conflict`).
    #[error("unique violation on {constraint:?}")]
    #[non_exhaustive]
    Conflict {
        /// The constraint's name, for the log only.
        constraint: Option<String>,
    },
    /// A CHECK, NOT NULL or foreign-key rule refused the write (`422 constraint_violation`).
    #[error("constraint violation on {constraint:?}")]
    #[non_exhaustive]
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
    #[non_exhaustive]
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
    #[non_exhaustive]
    DatabaseUnavailable {
        /// The cause, for the log only.
        cause: String,
    },
    /// Anything else: a bug or an unexpected database error.
    #[error("internal error: {cause}")]
    #[non_exhaustive]
    Internal {
        /// The cause chain, for the log only.
        cause: String,
    },
}

/// What a client is told about one error: a row of [`ApiError::row`].
struct Row<'a> {
    status: StatusCode,
    code: Cow<'static, str>,
    field: Option<&'a str>,
    message: String,
}

impl ApiError {
    /// The one table: status, code, field and public message of every variant. The
    /// message says what was wrong with the request, never why the server failed.
    fn row(&self) -> Row<'_> {
        use StatusCode as S;
        let (status, code, field, message): (_, Cow<'static, str>, Option<&str>, String) =
            match self {
                Self::RouteNotFound { path } => (
                    S::NOT_FOUND,
                    "route_not_found".into(),
                    None,
                    format!("no route matches {path}"),
                ),
                Self::MethodNotAllowed { method } => (
                    S::METHOD_NOT_ALLOWED,
                    "method_not_allowed".into(),
                    None,
                    format!(
                        "{method} is not allowed on this route; the Allow header lists what is"
                    ),
                ),
                Self::NotFound { resource, id } => (
                    S::NOT_FOUND,
                    not_found_code(resource),
                    None,
                    format!("{resource} {id} does not exist"),
                ),
                Self::UnknownReference {
                    resource,
                    field,
                    id,
                } => (
                    S::UNPROCESSABLE_ENTITY,
                    not_found_code(resource),
                    Some(field),
                    match id {
                        Some(id) => format!("{resource} {id} does not exist"),
                        None => format!("the {resource} in {field} does not exist"),
                    },
                ),
                Self::MalformedJson { message } => (
                    S::BAD_REQUEST,
                    "malformed_json".into(),
                    None,
                    format!("the body is not valid JSON: {message}"),
                ),
                Self::UnsupportedMediaType => (
                    S::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type".into(),
                    None,
                    "send the body as JSON with Content-Type: application/json".into(),
                ),
                Self::PayloadTooLarge { limit } => (
                    S::PAYLOAD_TOO_LARGE,
                    "payload_too_large".into(),
                    None,
                    format!("the body is larger than {limit} bytes"),
                ),
                Self::UnknownField { field } => (
                    S::BAD_REQUEST,
                    "unknown_field".into(),
                    Some(field),
                    format!("unknown field `{field}`"),
                ),
                Self::MissingField { field } => (
                    S::BAD_REQUEST,
                    "missing_field".into(),
                    Some(field),
                    format!("missing field `{field}`"),
                ),
                Self::InvalidField { field, message } => (
                    S::BAD_REQUEST,
                    "invalid_field".into(),
                    Some(field),
                    format!("`{field}` {message}"),
                ),
                Self::InvalidBody { message } => {
                    (S::BAD_REQUEST, "invalid_body".into(), None, message.clone())
                }
                Self::InvalidParameter { param, message } => (
                    S::BAD_REQUEST,
                    "invalid_parameter".into(),
                    Some(param),
                    format!("`{param}` {message}"),
                ),
                Self::UnknownParameter { param } => (
                    S::BAD_REQUEST,
                    "unknown_parameter".into(),
                    Some(param),
                    format!("unknown query parameter `{param}`"),
                ),
                Self::Conflict { .. } => (
                    S::CONFLICT,
                    "conflict".into(),
                    None,
                    "the request conflicts with existing data".into(),
                ),
                Self::ConstraintViolation { field, .. } => (
                    S::UNPROCESSABLE_ENTITY,
                    "constraint_violation".into(),
                    *field,
                    match field {
                        Some(field) => format!("`{field}` breaks a rule of the database"),
                        None => "the request breaks a rule of the database".into(),
                    },
                ),
                Self::SchemaBehind { .. } => (
                    S::SERVICE_UNAVAILABLE,
                    "schema_behind".into(),
                    None,
                    format!("{self}; the schema migration has not run yet, retry after it has"),
                ),
                Self::DatabaseUnavailable { .. } => (
                    S::SERVICE_UNAVAILABLE,
                    "database_unavailable".into(),
                    None,
                    "the database is unavailable; retry shortly".into(),
                ),
                Self::Internal { .. } => (
                    S::INTERNAL_SERVER_ERROR,
                    "internal".into(),
                    None,
                    INTERNAL_MESSAGE.into(),
                ),
            };
        Row {
            status,
            code,
            field,
            message,
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.row().status
    }

    /// The stable, machine-readable code clients switch on.
    pub fn code(&self) -> Cow<'static, str> {
        self.row().code
    }

    /// The field or parameter at fault, if any.
    pub fn field(&self) -> Option<&str> {
        self.row().field
    }

    /// The message a client sees.
    pub fn public_message(&self) -> String {
        self.row().message
    }
}

/// Constructors: the only way to build an [`ApiError`] outside this crate. Names and
/// values the client sent are clipped here, so no error carries them whole.
impl ApiError {
    /// `404 route_not_found` for `path`.
    pub fn route_not_found(path: &str) -> Self {
        Self::RouteNotFound { path: clip(path) }
    }

    /// `405 method_not_allowed` for `method`.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::MethodNotAllowed {
            method: clip(method),
        }
    }

    /// `404 {resource}_not_found`: the `resource` with this `id` does not exist.
    pub fn not_found(resource: &'static str, id: impl Display) -> Self {
        Self::NotFound {
            resource,
            id: clip(&id.to_string()),
        }
    }

    /// `422 {resource}_not_found` naming `field`: the body's `field` names a `resource`
    /// with this `id` that does not exist.
    pub fn unknown_reference(
        resource: &'static str,
        field: &'static str,
        id: impl Display,
    ) -> Self {
        Self::UnknownReference {
            resource,
            field,
            id: Some(clip(&id.to_string())),
        }
    }

    /// `400 malformed_json`: the parser's `message` (a position, never the body).
    pub fn malformed_json(message: impl Display) -> Self {
        Self::MalformedJson {
            message: clip_message(&message.to_string()),
        }
    }

    /// `415 unsupported_media_type`.
    pub fn unsupported_media_type() -> Self {
        Self::UnsupportedMediaType
    }

    /// `413 payload_too_large` for a body over `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::PayloadTooLarge { limit }
    }

    /// `400 unknown_field` naming `field`.
    pub fn unknown_field(field: &str) -> Self {
        Self::UnknownField { field: clip(field) }
    }

    /// `400 missing_field` naming `field`.
    pub fn missing_field(field: &str) -> Self {
        Self::MissingField { field: clip(field) }
    }

    /// `400 invalid_field` naming `field`; the message reads "`field` {message}".
    pub fn invalid_field(field: &str, message: impl Display) -> Self {
        Self::InvalidField {
            field: clip(field),
            message: clip_message(&message.to_string()),
        }
    }

    /// `400 invalid_body`: the body as a whole is wrong.
    pub fn invalid_body(message: impl Display) -> Self {
        Self::InvalidBody {
            message: clip_message(&message.to_string()),
        }
    }

    /// `400 invalid_parameter` naming `param`; the message reads "`param` {message}".
    pub fn invalid_parameter(param: &str, message: impl Display) -> Self {
        Self::InvalidParameter {
            param: clip(param),
            message: clip_message(&message.to_string()),
        }
    }

    /// `400 unknown_parameter` naming `param`.
    pub fn unknown_parameter(param: &str) -> Self {
        Self::UnknownParameter { param: clip(param) }
    }

    /// `409 conflict`: the write conflicts with existing data.
    pub fn conflict() -> Self {
        Self::Conflict { constraint: None }
    }

    /// `422 constraint_violation`, naming `field` when known.
    pub fn constraint_violation(field: Option<&'static str>) -> Self {
        Self::ConstraintViolation {
            constraint: None,
            field,
        }
    }

    /// `503 schema_behind`: the database is at `database_version`, this function needs
    /// `required_version`.
    pub fn schema_behind(database_version: Option<String>, required_version: String) -> Self {
        Self::SchemaBehind {
            database_version,
            required_version,
            crate_version: bookstore_schema::VERSION,
        }
    }

    /// `500 internal` from any error, keeping its cause chain for the log.
    pub fn internal(error: &(dyn StdError + 'static)) -> Self {
        Self::Internal {
            cause: cause_chain(error),
        }
    }

    /// `503 database_unavailable` from any error, keeping its cause chain for the log.
    pub fn unavailable(error: &(dyn StdError + 'static)) -> Self {
        Self::DatabaseUnavailable {
            cause: cause_chain(error),
        }
    }
}

fn not_found_code(resource: &str) -> Cow<'static, str> {
    format!("{resource}_not_found").into()
}

/// `text` cut to [`ECHO_MAX_CHARS`] characters, ending in `…` when cut.
pub fn clip(text: &str) -> String {
    clip_to(text, ECHO_MAX_CHARS)
}

fn clip_message(text: &str) -> String {
    clip_to(text, MESSAGE_MAX_CHARS)
}

fn clip_to(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Row {
            status,
            code,
            field,
            message,
        } = self.row();
        if status.is_server_error() {
            tracing::error!(error.code = %code, error.cause = %self, "request failed");
        } else {
            tracing::info!(error.code = %code, error = %self, "request rejected");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: &code,
                message,
                field,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_names_are_clipped_to_64_characters_with_an_ellipsis() {
        let long = "é".repeat(65_000);
        for error in [
            ApiError::unknown_parameter(&long),
            ApiError::unknown_field(&long),
            ApiError::invalid_parameter(&long, &long),
            ApiError::route_not_found(&long),
        ] {
            let message = error.public_message();
            assert!(message.chars().count() < 2 * MESSAGE_MAX_CHARS, "{message}");
            assert!(message.contains('…'), "{message}");
            if let Some(field) = error.field() {
                assert_eq!(field.chars().count(), ECHO_MAX_CHARS + 1, "{field}");
                assert!(field.ends_with('…'));
            }
        }
        assert_eq!(clip("limit"), "limit");
        assert_eq!(clip(&"x".repeat(64)), "x".repeat(64));
        assert_eq!(clip(&"x".repeat(65)), format!("{}…", "x".repeat(64)));
    }

    #[test]
    fn resources_give_their_not_found_codes() {
        let missing = ApiError::not_found("book", 7);
        assert_eq!(
            (missing.status(), missing.code(), missing.field()),
            (StatusCode::NOT_FOUND, "book_not_found".into(), None)
        );
        assert_eq!(missing.public_message(), "book 7 does not exist");
        let reference = ApiError::unknown_reference("book", "book_id", 42);
        assert_eq!(
            (reference.status(), reference.code(), reference.field()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "book_not_found".into(),
                Some("book_id")
            )
        );
        assert_eq!(reference.public_message(), "book 42 does not exist");
    }

    #[test]
    fn server_errors_never_show_their_cause_and_503s_say_when_to_retry() {
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
            let status = error.status();
            let response = error.into_response();
            assert_eq!(
                response.headers().contains_key(header::RETRY_AFTER),
                status == StatusCode::SERVICE_UNAVAILABLE
            );
        }
    }
}
