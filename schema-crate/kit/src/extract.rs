//! Extractors that turn a request into typed input or an [`ApiError`], never into
//! axum's own plain-text rejections.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, Request},
    http::{HeaderMap, StatusCode, header, request::Parts},
};
use serde::{
    Deserializer,
    de::{DeserializeOwned, Visitor},
};

use crate::error::ApiError;

/// Largest request body accepted, in bytes. A book or a review with every field at its
/// limit, in 4-byte characters, stays under 4 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest `limit` accepted.
pub const MAX_LIMIT: i64 = bookstore_schema::models::MAX_PAGE_SIZE;

/// A JSON body deserialized strictly: `Content-Type` must be JSON, unknown fields are
/// refused, and every failure names the field at fault.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
                    limit: MAX_BODY_BYTES,
                },
                _ => ApiError::InvalidBody {
                    message: "the body could not be read".to_owned(),
                },
            }
        })?;
        parse_json(&bytes).map(Self)
    }
}

/// `application/json`, or any `application/*+json`, with any parameters (`charset`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserializes `bytes` as one JSON object of type `T`, mapping serde's errors to the
/// field they concern.
///
/// The body is parsed into a `Value` first: a syntax error is then told apart from a
/// wrong field, and an array is refused (derived `Deserialize` would take `[…]` as the
/// fields in order).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|error| ApiError::MalformedJson {
            message: error.to_string(),
        })?;
    if !value.is_object() {
        return Err(ApiError::InvalidBody {
            message: "the body must be a JSON object".to_owned(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        field_error(path, error.into_inner().to_string())
    })
}

/// Maps serde's message for a value at `path` to the field at fault.
fn field_error(path: String, message: String) -> ApiError {
    // A field name serde quotes in backticks: "unknown field `x`, expected …".
    let quoted = || {
        message
            .split('`')
            .nth(1)
            .map(|name| qualify(&path, name))
            .unwrap_or_else(|| path.clone())
    };
    if message.starts_with("unknown field") {
        ApiError::UnknownField { field: quoted() }
    } else if message.starts_with("missing field") {
        ApiError::MissingField { field: quoted() }
    } else if path == "." || path.is_empty() {
        ApiError::InvalidBody { message }
    } else {
        ApiError::InvalidField {
            field: path,
            message,
        }
    }
}

/// `name` inside the object at `path` (the root is `.`).
fn qualify(path: &str, name: &str) -> String {
    if path == "." || path.is_empty() || path.ends_with(name) {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Deserializes a JSON integer, refusing strings, floats and booleans (the Python app
/// accepted `"2019"`; this API does not). Use with `#[serde(deserialize_with)]`.
pub fn strict_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct Strict;
    impl Visitor<'_> for Strict {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom("is far too large"))
        }
    }
    deserializer.deserialize_any(Strict)
}

/// The `{id}` of `/book/{id}`: a book id, or `400 invalid_parameter` naming `id`.
#[derive(Debug, Clone, Copy)]
pub struct BookId(pub i32);

impl<S: Send + Sync> FromRequestParts<S> for BookId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::internal(&rejection))?;
        raw.parse()
            .map(Self)
            .map_err(|_| ApiError::InvalidParameter {
                param: "id".to_owned(),
                message: "must be a book id (a whole number)".to_owned(),
            })
    }
}

/// Keyset pagination: `?limit=` (1..=200, default 50) and `?after=<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    /// Rows per page.
    pub limit: i64,
    /// Only rows with a larger id.
    pub after: Option<i32>,
}

/// The query of `GET /book` and `GET /book/{id}/reviews`: pagination only.
#[derive(Debug, Clone, Copy)]
pub struct BookListQuery(pub Pagination);

/// The query of `GET /review`: pagination and an optional `book_id` filter.
#[derive(Debug, Clone, Copy)]
pub struct ReviewListQuery {
    /// Page and cursor.
    pub page: Pagination,
    /// Only this book's reviews.
    pub book_id: Option<i32>,
}

impl<S: Send + Sync> FromRequestParts<S> for BookListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let params = QueryParams::parse(parts.uri.query(), &["limit", "after"])?;
        Ok(Self(params.pagination()?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ReviewListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let params = QueryParams::parse(parts.uri.query(), &["limit", "after", "book_id"])?;
        Ok(Self {
            page: params.pagination()?,
            book_id: params.int("book_id")?,
        })
    }
}

/// Decoded query pairs, each name at most once and from an allowed list.
struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
            .map_err(|_| ApiError::InvalidParameter {
                param: "query".to_owned(),
                message: "is not a valid query string".to_owned(),
            })?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::UnknownParameter {
                    param: name.clone(),
                });
            }
            if pairs[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(ApiError::InvalidParameter {
                    param: name.clone(),
                    message: "is given more than once".to_owned(),
                });
            }
        }
        Ok(Self(pairs))
    }

    /// An integer parameter; an empty value counts as absent (`?after=` on a first page).
    fn int<N: std::str::FromStr>(&self, name: &str) -> Result<Option<N>, ApiError> {
        let Some((_, raw)) = self.0.iter().find(|(n, _)| n == name) else {
            return Ok(None);
        };
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse()
            .map(Some)
            .map_err(|_| ApiError::InvalidParameter {
                param: name.to_owned(),
                message: "must be a whole number".to_owned(),
            })
    }

    fn pagination(&self) -> Result<Pagination, ApiError> {
        let limit = self.int::<i64>("limit")?.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::InvalidParameter {
                param: "limit".to_owned(),
                message: format!("must be between 1 and {MAX_LIMIT}"),
            });
        }
        Ok(Pagination {
            limit,
            after: self.int("after")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only deserialized")]
    struct Body {
        name: String,
        #[serde(deserialize_with = "strict_integer")]
        year: i64,
        note: Option<String>,
    }

    fn err(json: &str) -> ApiError {
        parse_json::<Body>(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        for json in ["", "{", "{\"name\": }", "{\"name\": \"a\", \"year\": 1} x"] {
            assert_eq!(err(json).code(), "malformed_json", "{json}");
        }
    }

    #[test]
    fn an_unknown_field_is_named() {
        let e = err(r#"{"name": "a", "year": 1, "colour": "red"}"#);
        assert_eq!(
            (e.code(), e.field()),
            ("unknown_field".into(), Some("colour")),
            "{e:?}"
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let e = err(r#"{"name": "a"}"#);
        assert_eq!(
            (e.code(), e.field()),
            ("missing_field".into(), Some("year"))
        );
    }

    #[test]
    fn strings_floats_and_booleans_are_not_integers() {
        for year in [r#""2019""#, "2019.0", "2019.5", "true", "null"] {
            let e = err(&format!(r#"{{"name": "a", "year": {year}}}"#));
            assert_eq!(
                (e.code(), e.field()),
                ("invalid_field".into(), Some("year")),
                "{year}: {e:?}"
            );
        }
        let ok: Body = parse_json(br#"{"name": "a", "year": -3, "note": null}"#).unwrap();
        assert_eq!(ok.year, -3);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_invalid() {
        for json in ["[]", "[\"a\", 1]", "3", "\"x\"", "null"] {
            assert_eq!(err(json).code(), "invalid_body", "{json}");
        }
    }

    #[test]
    fn query_parameters_are_checked_by_name() {
        let page = |q| QueryParams::parse(Some(q), &["limit", "after"])?.pagination();
        assert_eq!(
            page("").unwrap(),
            Pagination {
                limit: 50,
                after: None
            }
        );
        assert_eq!(
            page("limit=2&after=7").unwrap(),
            Pagination {
                limit: 2,
                after: Some(7)
            }
        );
        assert_eq!(page("after=").unwrap().after, None);
        for (q, param) in [
            ("limit=abc", "limit"),
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("after=1.5", "after"),
            ("after=99999999999", "after"),
            ("limit=1&limit=2", "limit"),
            ("colour=red", "colour"),
        ] {
            let e = page(q).unwrap_err();
            assert_eq!(e.field(), Some(param), "{q}: {e:?}");
            assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn json_content_types_are_recognised() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
