//! Path parameters: [`ApiPath`] over [`axum::extract::Path`].

use axum::extract::{
    FromRequestParts, Path, RawPathParams, path::ErrorKind, rejection::PathRejection,
};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The route's path parameters as `T` (`ApiPath<i32>` for `/book/{id}`, a tuple or a
/// struct for several). A value that does not parse, or that decodes to invalid UTF-8
/// (`/book/%FF`), is `400 invalid_parameter` naming the parameter as the route does.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => {
                // axum names no key when the route has one parameter (`ParseError`) or
                // by position for a tuple (`ParseErrorAtIndex`): the route's keys do.
                let keys: Vec<String> = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|params| params.iter().map(|(key, _)| key.to_owned()).collect())
                    .unwrap_or_default();
                Err(path_error(rejection, &keys))
            }
        }
    }
}

/// Names the parameter as `path` where axum's rejection does not say which it is; use
/// [`ApiPath`], which does.
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        path_error(rejection, &[])
    }
}

/// `rejection` as an error naming the parameter; `keys` are the route's, in order.
fn path_error(rejection: PathRejection, keys: &[String]) -> ApiError {
    let PathRejection::FailedToDeserializePathParams(failed) = &rejection else {
        // No parameters at all: the route and the handler disagree, a bug.
        return ApiError::internal(&rejection);
    };
    let key_at = |index: usize| keys.get(index).map_or("path", String::as_str);
    match failed.kind() {
        ErrorKind::InvalidUtf8InPathParam { key } => {
            ApiError::invalid_parameter(key, "is not valid UTF-8 once percent-decoded")
        }
        ErrorKind::ParseErrorAtKey {
            key, expected_type, ..
        } => ApiError::invalid_parameter(key, expectation(expected_type)),
        ErrorKind::ParseError { expected_type, .. } => {
            ApiError::invalid_parameter(key_at(0), expectation(expected_type))
        }
        ErrorKind::ParseErrorAtIndex {
            index,
            expected_type,
            ..
        } => ApiError::invalid_parameter(key_at(*index), expectation(expected_type)),
        ErrorKind::DeserializeError { key, message, .. } => {
            ApiError::invalid_parameter(key, message)
        }
        _ => ApiError::internal(&rejection),
    }
}

/// What a value of the Rust type `expected_type` must look like, for a person.
fn expectation(expected_type: &str) -> String {
    let integer = [
        "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
    ];
    if integer.contains(&expected_type) {
        "must be a whole number".to_owned()
    } else {
        format!("must be a valid {expected_type}")
    }
}

#[cfg(test)]
mod tests {
    use axum::{
        Router,
        body::{Body, to_bytes},
        http::{Request, StatusCode},
        routing::get,
    };
    use tower::ServiceExt;

    use super::*;

    async fn get_book(uri: &str) -> (StatusCode, serde_json::Value) {
        let router = Router::new().route(
            "/book/{id}",
            get(|ApiPath(id): ApiPath<i32>| async move { id.to_string() }),
        );
        let request = Request::get(uri).body(Body::empty()).expect("a request");
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("a body");
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn a_parameter_that_does_not_parse_or_is_not_utf8_is_a_400_naming_it() {
        assert_eq!(get_book("/book/5").await.0, StatusCode::OK);
        for uri in [
            "/book/abc",
            "/book/1.5",
            "/book/99999999999",
            "/book/%FF",
            "/book/%C3%28",
        ] {
            let (status, body) = get_book(uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert_eq!(body["error"]["code"], "invalid_parameter", "{uri}: {body}");
            assert_eq!(body["error"]["field"], "id", "{uri}: {body}");
        }
    }
}
