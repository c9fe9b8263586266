//! Query strings: [`ApiQuery`] over [`axum::extract::Query`], and [`Pagination`].

use std::str::FromStr;

use axum::extract::{FromRequestParts, Query, rejection::QueryRejection};
use axum::http::request::Parts;
use serde::{Deserialize, Deserializer, de::DeserializeOwned};

use super::{serde_cause, serde_name};
use crate::error::ApiError;

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest `limit` accepted.
pub const MAX_LIMIT: i64 = bookstore_schema::models::MAX_PAGE_SIZE;

/// A query string deserialized into `T`, a struct with `#[serde(deny_unknown_fields)]`:
/// a parameter `T` does not take is `400 unknown_parameter`, one given twice or with a
/// value that does not parse is `400 invalid_parameter`, each naming the parameter.
/// Numbers are best read with [`optional_int`], which takes an empty value as absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let Some((path, message)) = serde_cause::<serde_urlencoded::de::Error>(&rejection) else {
            return Self::internal(&rejection);
        };
        if let Some(name) = serde_name(&message, "unknown field") {
            Self::unknown_parameter(name)
        } else if let Some(name) = serde_name(&message, "duplicate field") {
            Self::invalid_parameter(name, "is given more than once")
        } else if let Some(name) = serde_name(&message, "missing field") {
            Self::invalid_parameter(name, "is required")
        } else if path == "." || path.is_empty() {
            Self::invalid_parameter("query", "is not a valid query string")
        } else {
            Self::invalid_parameter(&path, message)
        }
    }
}

/// Reads an optional whole number from a query parameter: absent or empty (`?after=` on
/// a first page) is `None`; anything else must parse, or the parameter is invalid. Use
/// with `#[serde(default, deserialize_with = "optional_int")]`.
pub fn optional_int<'de, D, N>(deserializer: D) -> Result<Option<N>, D::Error>
where
    D: Deserializer<'de>,
    N: FromStr,
{
    let raw = String::deserialize(deserializer)?;
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| serde::de::Error::custom("must be a whole number"))
}

/// Keyset pagination, `?limit=` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]) and
/// `?after=<id>`. As an extractor it takes these two parameters and no other; a route
/// with more parameters reads them with [`ApiQuery`] and builds this with
/// [`Pagination::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pagination {
    /// Rows per page.
    pub limit: i64,
    /// Only rows with a larger id.
    pub after: Option<i32>,
}

impl Pagination {
    /// A page of `limit` rows (default [`DEFAULT_LIMIT`]) after `after`; a `limit` out of
    /// range is `400 invalid_parameter` naming `limit`.
    pub fn new(limit: Option<i64>, after: Option<i32>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_parameter(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        Ok(Self { limit, after })
    }
}

/// `?limit=&after=` as sent; [`Pagination`] is what a handler gets.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
struct PageParams {
    /// Rows per page, 1 to 200 (default 50); empty is the default.
    #[serde(default, deserialize_with = "optional_int")]
    #[cfg_attr(feature = "openapi", param(schema_with = openapi::limit))]
    limit: Option<i64>,
    /// Only rows with a larger id: the previous page's `next_after`; empty is none.
    #[serde(default, deserialize_with = "optional_int")]
    #[cfg_attr(feature = "openapi", param(schema_with = openapi::after))]
    after: Option<i32>,
}

/// Schemas of query parameters read with [`optional_int`]: a whole number, or an empty
/// value, which counts as absent (`?after=` on a first page).
#[cfg(feature = "openapi")]
pub mod openapi {
    use utoipa::openapi::{
        RefOr,
        schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type},
    };

    use super::{DEFAULT_LIMIT, MAX_LIMIT};

    /// `number`, or an empty value, described by `description`.
    pub fn whole_or_empty(number: ObjectBuilder, description: &str) -> RefOr<Schema> {
        RefOr::T(Schema::AnyOf(
            AnyOfBuilder::new()
                .item(number)
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([""])),
                )
                .description(Some(description))
                .build(),
        ))
    }

    /// A 32-bit whole number.
    pub fn int32() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
    }

    /// `after`: a 32-bit id, or empty.
    pub fn after() -> RefOr<Schema> {
        whole_or_empty(
            int32(),
            "Only rows with a larger id: the previous page's `next_after`; empty is none.",
        )
    }

    /// `limit`: 1 to [`MAX_LIMIT`] (default [`DEFAULT_LIMIT`]), or empty.
    pub fn limit() -> RefOr<Schema> {
        whole_or_empty(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_LIMIT))
                .default(Some(DEFAULT_LIMIT.into())),
            "Rows per page, 1 to 200 (default 50); empty is the default.",
        )
    }
}

/// The query parameters `Pagination` reads, for documents.
#[cfg(feature = "openapi")]
impl utoipa::IntoParams for Pagination {
    fn into_params(
        parameter_in_provider: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        PageParams::into_params(parameter_in_provider)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Pagination {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiQuery(PageParams { limit, after }) =
            ApiQuery::from_request_parts(parts, state).await?;
        Self::new(limit, after)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{Request, StatusCode};

    use super::*;

    async fn page(query: &str) -> Result<Pagination, ApiError> {
        let request = Request::builder()
            .uri(format!("/book?{query}"))
            .body(())
            .expect("a valid request");
        let (mut parts, ()) = request.into_parts();
        Pagination::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn pagination_defaults_and_reads_limit_and_after() {
        assert_eq!(
            page("").await.unwrap(),
            Pagination::new(None, None).unwrap()
        );
        assert_eq!(page("").await.unwrap().limit, DEFAULT_LIMIT);
        let p = page("limit=2&after=7").await.unwrap();
        assert_eq!((p.limit, p.after), (2, Some(7)));
        assert_eq!(page("after=").await.unwrap().after, None);
        assert_eq!(page("limit=200").await.unwrap().limit, 200);
    }

    #[tokio::test]
    async fn bad_parameters_are_named() {
        for (q, param, code) in [
            ("limit=abc", "limit", "invalid_parameter"),
            ("limit=0", "limit", "invalid_parameter"),
            ("limit=201", "limit", "invalid_parameter"),
            ("after=1.5", "after", "invalid_parameter"),
            ("after=99999999999", "after", "invalid_parameter"),
            ("limit=1&limit=2", "limit", "invalid_parameter"),
            ("colour=red", "colour", "unknown_parameter"),
            ("limit=1&x%0Ay=2", "x\ny", "unknown_parameter"),
        ] {
            let e = page(q).await.unwrap_err();
            assert_eq!(
                (e.code(), e.field()),
                (code.into(), Some(param)),
                "{q}: {e:?}"
            );
            assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        }
        let e = page("limit=1&limit=2").await.unwrap_err();
        assert_eq!(e.public_message(), "`limit` is given more than once");
        let e = page("limit=abc").await.unwrap_err();
        assert_eq!(e.public_message(), "`limit` must be a whole number");
    }
}
