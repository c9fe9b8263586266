//! The one table from [`ApiError`] to what a client is told, and the response.

use std::borrow::Cow;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::{ApiError, INTERNAL_MESSAGE};

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECS: &str = "1";

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
                Self::InvalidHeader { header, message } => (
                    S::BAD_REQUEST,
                    "invalid_header".into(),
                    Some(header),
                    format!("`{header}` {message}"),
                ),
                Self::IdempotencyKeyReused => (
                    S::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused".into(),
                    Some("Idempotency-Key"),
                    "this Idempotency-Key was used with a different request; send a new key for a new request".into(),
                ),
                Self::PreconditionFailed => (
                    S::PRECONDITION_FAILED,
                    "precondition_failed".into(),
                    None,
                    "If-Match does not match the current version; read it again (GET) and retry with its ETag".into(),
                ),
                Self::PreconditionRequired => (
                    S::PRECONDITION_REQUIRED,
                    "precondition_required".into(),
                    None,
                    "send If-Match with the ETag you read (or `*` to change whatever version is current)".into(),
                ),
                Self::InUse {
                    resource,
                    id,
                    dependents,
                } => (
                    S::CONFLICT,
                    format!("{resource}_has_{dependents}").into(),
                    None,
                    format!("{resource} {id} still has {dependents}; delete them first"),
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
                Self::SchemaIncompatible { .. } => (
                    S::SERVICE_UNAVAILABLE,
                    "schema_incompatible".into(),
                    None,
                    format!("{self}; deploy a version at or above the floor"),
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

fn not_found_code(resource: &str) -> Cow<'static, str> {
    format!("{resource}_not_found").into()
}

// Public so that an API document (the `openapi` feature) describes exactly what
// `IntoResponse` writes.
/// Every error response: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Error))]
#[non_exhaustive]
pub struct ErrorBody<'a> {
    /// What went wrong.
    pub error: ErrorDetail<'a>,
}

/// What went wrong: the `error` object of every error response.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[non_exhaustive]
pub struct ErrorDetail<'a> {
    /// The stable, machine-readable code to switch on (`invalid_field`, `book_not_found`…).
    #[cfg_attr(feature = "openapi", schema(example = "invalid_field"))]
    pub code: &'a str,
    /// What was wrong, for a person; never SQL, causes or secrets.
    pub message: String,
    /// The body field, parameter or header at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "year"))]
    pub field: Option<&'a str>,
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
