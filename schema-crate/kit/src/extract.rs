//! Extractors that turn a request into typed input or an [`ApiError`](crate::ApiError),
//! never into axum's own plain-text rejections.
//!
//! Each is a thin wrapper over axum's own extractor ([`axum::Json`],
//! [`axum::extract::Query`], [`axum::extract::Path`]) whose rejection is mapped to the
//! project's codes: `unsupported_media_type`, `malformed_json`, `invalid_body`,
//! `unknown_field`, `missing_field`, `invalid_field`, `payload_too_large` for bodies;
//! `unknown_parameter`, `invalid_parameter` for queries and paths. The mappings are
//! public (`From<JsonRejection> for ApiError`…), so a function can also write
//! `#[derive(FromRequest)] #[from_request(via(axum::Json), rejection(ApiError))]`.

mod json;
mod path;
mod query;

pub use json::{
    ApiJson, MAX_BODY_BYTES, non_null, nullable, strict_integer, strict_integer_non_null,
};
pub use path::ApiPath;
#[cfg(feature = "openapi")]
pub use query::openapi as query_schema;
pub use query::{ApiQuery, DEFAULT_LIMIT, MAX_LIMIT, Pagination, optional_int};

/// The serde error behind an axum rejection: the path to the value at fault (`.` for
/// the whole input) and serde's message, when the rejection came from deserializing.
fn serde_cause<E>(rejection: &(dyn std::error::Error + 'static)) -> Option<(String, String)>
where
    E: std::error::Error + 'static,
{
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = cause {
        if let Some(error) = error.downcast_ref::<serde_path_to_error::Error<E>>() {
            return Some((error.path().to_string(), error.inner().to_string()));
        }
        if let Some(error) = error.downcast_ref::<E>() {
            return Some((".".to_owned(), error.to_string()));
        }
        cause = error.source();
    }
    None
}

/// The name in serde's message `{prefix} `name`…` ("unknown field `x`, expected …"
/// gives `x`), or `None` when the message is not that one.
fn serde_name<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(prefix)?.strip_prefix(" `")?;
    let end = rest.find("`, ").or_else(|| rest.rfind('`'))?;
    Some(&rest[..end])
}
