//! The one error type of the API and its one mapping to HTTP.
//!
//! Every failure a handler, an extractor or the unit of work can meet is an [`ApiError`].
//! One table (`ApiError::row`, private) gives each variant its status, code, field and
//! public message, read through [`ApiError::status`], [`ApiError::code`],
//! [`ApiError::field`] and [`ApiError::public_message`]; `IntoResponse` writes them as
//! `{"error": {"code", "message", "field"?}}`. Causes (database messages, SQL states, constraint names, panics) are logged there and
//! never sent.
//!
//! Nothing here is specific to one resource: a missing row is
//! [`ApiError::not_found`]`("book", id)`, code `book_not_found`, and a foreign key from
//! `bookstore_schema::facts` names the referencing column and the referenced table's
//! `…_not_found` code. Names and values a client sent are echoed at most
//! [`ECHO_MAX_CHARS`] characters long (longer ones end in `…`), and a message that quotes
//! a value (serde's) at most [`MESSAGE_MAX_CHARS`].

mod database;
mod response;

use std::{error::Error as StdError, fmt::Display};

pub use database::cause_chain;
pub use response::{ErrorBody, ErrorDetail};

/// The body of a 500: fixed, whatever went wrong.
pub const INTERNAL_MESSAGE: &str = "internal server error";

/// Longest name or value a client sent that an error echoes, in characters.
pub const ECHO_MAX_CHARS: usize = 64;
/// Longest message (which may quote a value, as serde's do) an error sends, in characters.
pub const MESSAGE_MAX_CHARS: usize = 160;

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
    /// An `Idempotency-Key` was first used with another request
    /// (`422 idempotency_key_reused`, naming the header).
    #[error("the idempotency key was used with another request")]
    IdempotencyKeyReused,
    /// A request header is malformed (`400 invalid_header` naming the header).
    #[error("invalid header {header}: {message}")]
    #[non_exhaustive]
    InvalidHeader {
        /// The header's name as documented (`If-Match`).
        header: &'static str,
        /// What is wrong (clipped).
        message: String,
    },
    /// A conditional request's `If-Match` names no current version of the resource
    /// (`412 precondition_failed`): someone changed it since the client read it.
    #[error("If-Match does not match the current version")]
    PreconditionFailed,
    /// A write that must be conditional came without `If-Match` (`428 precondition_required`).
    #[error("If-Match is required")]
    PreconditionRequired,
    /// The resource cannot be removed while others refer to it (`409 {resource}_has_{dependents}`).
    #[error("{resource} {id} still has {dependents}")]
    #[non_exhaustive]
    InUse {
        /// What was to be removed (`book`).
        resource: &'static str,
        /// Its id as the client sent it (clipped).
        id: String,
        /// What still refers to it, plural (`reviews`).
        dependents: &'static str,
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
    /// A contract migration applied to the database is past this function's pinned
    /// `bookstore-schema`: the database no longer has what this version reads.
    #[error(
        "the database applied contract migration {contract_version}, which needs bookstore-schema {floor} or newer; this function runs {crate_version}"
    )]
    #[non_exhaustive]
    SchemaIncompatible {
        /// The contract migration.
        contract_version: String,
        /// The oldest crate version that works after it.
        floor: String,
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

    /// `400 invalid_header` naming `header`; the message reads "`header` {message}".
    pub fn invalid_header(header: &'static str, message: impl Display) -> Self {
        Self::InvalidHeader {
            header,
            message: clip_message(&message.to_string()),
        }
    }

    /// `422 idempotency_key_reused`: the `Idempotency-Key` was first used with another
    /// request.
    pub fn idempotency_key_reused() -> Self {
        Self::IdempotencyKeyReused
    }

    /// `412 precondition_failed`: `If-Match` names no current version of the resource.
    pub fn precondition_failed() -> Self {
        Self::PreconditionFailed
    }

    /// `428 precondition_required`: the write needs `If-Match`.
    pub fn precondition_required() -> Self {
        Self::PreconditionRequired
    }

    /// `409 {resource}_has_{dependents}`: the `resource` with this `id` cannot be removed
    /// while `dependents` (plural: `reviews`) refer to it.
    pub fn in_use(resource: &'static str, id: impl Display, dependents: &'static str) -> Self {
        Self::InUse {
            resource,
            id: clip(&id.to_string()),
            dependents,
        }
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

    /// `503 schema_incompatible`: the database applied `contract_version`, whose floor
    /// is above this function's pinned version.
    pub fn schema_incompatible(contract_version: String, floor: String) -> Self {
        Self::SchemaIncompatible {
            contract_version,
            floor,
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

/// `text` cut to [`ECHO_MAX_CHARS`] characters, ending in `…` when cut.
pub(crate) fn clip(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

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
}
