//! JSON bodies: [`ApiJson`] over [`axum::Json`].

use axum::{
    Json,
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
};
use serde::{
    Deserialize, Deserializer,
    de::{DeserializeOwned, Visitor},
};
use serde_json::Value;

use super::{serde_cause, serde_name};
use crate::error::ApiError;

/// Largest request body accepted, in bytes. A book or a review with every field at its
/// limit, in 4-byte characters, stays under 4 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A JSON body deserialized strictly: `Content-Type` must be JSON (`application/json` or
/// `application/*+json`), the body must be one object, unknown fields are refused (with
/// `#[serde(deny_unknown_fields)]` on `T`), and every failure names the field at fault.
///
/// The body goes through `axum::Json<serde_json::Value>` first, then into `T`: derived
/// `Deserialize` would take an array `[…]` as the fields in order, and a syntax error is
/// told apart from a wrong field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<Value>::from_request(req, state).await?;
        from_object(value).map(Self)
    }
}

/// `value`, which must be a JSON object, as a `T`.
fn from_object<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::invalid_body("the body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value)
        .map_err(|error| field_error(&error.path().to_string(), &error.into_inner().to_string()))
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let cause = serde_cause::<serde_json::Error>(&rejection);
        match (&rejection, cause) {
            (JsonRejection::MissingJsonContentType(_), _) => Self::unsupported_media_type(),
            (JsonRejection::JsonSyntaxError(_), cause) => Self::malformed_json(
                cause.map_or_else(|| "a syntax error".to_owned(), |(_, message)| message),
            ),
            (JsonRejection::JsonDataError(_), Some((path, message))) => {
                field_error(&path, &message)
            }
            (JsonRejection::BytesRejection(bytes), _)
                if bytes.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Self::payload_too_large(MAX_BODY_BYTES)
            }
            (JsonRejection::BytesRejection(_), _) => {
                Self::invalid_body("the body could not be read")
            }
            _ => Self::internal(&rejection),
        }
    }
}

/// Maps serde's `message` for the value at `path` to the field at fault.
fn field_error(path: &str, message: &str) -> ApiError {
    let root = path == "." || path.is_empty();
    let qualify = |name: &str| {
        if root || path.ends_with(name) {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = serde_name(message, "unknown field") {
        ApiError::unknown_field(&qualify(name))
    } else if let Some(name) = serde_name(message, "missing field") {
        ApiError::missing_field(&qualify(name))
    } else if root {
        ApiError::invalid_body(message)
    } else {
        ApiError::invalid_field(path, message)
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

/// For a partial update: a field that may be omitted but not `null` (a column that
/// cannot be emptied). Use with `#[serde(default, deserialize_with = "non_null")]` on an
/// `Option<T>`: absent is `None`, `null` is `invalid_field` naming the field.
pub fn non_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(deserializer)? {
        Some(value) => Ok(Some(value)),
        None => Err(serde::de::Error::custom("must not be null")),
    }
}

/// [`non_null`] for a JSON integer read as [`strict_integer`] does.
pub fn strict_integer_non_null<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    strict_integer(deserializer).map(Some)
}

/// For a partial update of a nullable column: absent is `None` (leave it), `null` is
/// `Some(None)` (empty it), a value is `Some(Some(value))`. Use with
/// `#[serde(default, deserialize_with = "nullable")]` on an `Option<Option<T>>`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::header};
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only deserialized")]
    struct Book {
        name: String,
        #[serde(deserialize_with = "strict_integer")]
        year: i64,
        note: Option<String>,
    }

    async fn extract(content_type: Option<&str>, body: &str) -> Result<Book, ApiError> {
        let mut request = Request::builder().method("POST").uri("/");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request
            .body(Body::from(body.to_owned()))
            .expect("a valid request");
        ApiJson::<Book>::from_request(request, &())
            .await
            .map(|ApiJson(book)| book)
    }

    async fn err(json: &str) -> ApiError {
        extract(Some("application/json"), json)
            .await
            .expect_err("a rejected body")
    }

    #[tokio::test]
    async fn syntax_errors_are_malformed_json() {
        for json in ["", "{", "{\"name\": }", "{\"name\": \"a\", \"year\": 1} x"] {
            assert_eq!(err(json).await.code(), "malformed_json", "{json}");
        }
    }

    #[tokio::test]
    async fn unknown_and_missing_fields_are_named() {
        let e = err(r#"{"name": "a", "year": 1, "colour": "red"}"#).await;
        assert_eq!(
            (e.code(), e.field()),
            ("unknown_field".into(), Some("colour"))
        );
        let e = err(r#"{"name": "a"}"#).await;
        assert_eq!(
            (e.code(), e.field()),
            ("missing_field".into(), Some("year"))
        );
        let long = "k".repeat(65_000);
        let e = err(&format!(r#"{{"name": "a", "year": 1, "{long}": 1}}"#)).await;
        assert_eq!(e.field().map(|f| f.chars().count()), Some(65), "{e:?}");
    }

    #[tokio::test]
    async fn strings_floats_and_booleans_are_not_integers() {
        for year in [r#""2019""#, "2019.0", "2019.5", "true", "null"] {
            let e = err(&format!(r#"{{"name": "a", "year": {year}}}"#)).await;
            assert_eq!(
                (e.code(), e.field()),
                ("invalid_field".into(), Some("year")),
                "{year}: {e:?}"
            );
        }
        let ok = extract(
            Some("application/json"),
            r#"{"name": "a", "year": -3, "note": null}"#,
        )
        .await
        .expect("a valid body");
        assert_eq!(ok.year, -3);
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Patch {
        #[serde(default, deserialize_with = "non_null")]
        name: Option<String>,
        #[serde(default, deserialize_with = "strict_integer_non_null")]
        year: Option<i64>,
        #[serde(default, deserialize_with = "nullable")]
        note: Option<Option<String>>,
    }

    #[test]
    fn a_patch_tells_absent_from_null_and_refuses_null_where_a_value_is_required() {
        let patch: Patch = from_object(serde_json::json!({})).unwrap();
        assert_eq!((patch.name, patch.year, patch.note), (None, None, None));
        let patch: Patch = from_object(serde_json::json!({"note": null, "year": 2})).unwrap();
        assert_eq!((patch.year, patch.note), (Some(2), Some(None)));
        for (field, body) in [
            ("name", serde_json::json!({"name": null})),
            ("year", serde_json::json!({"year": null})),
            ("year", serde_json::json!({"year": "2"})),
        ] {
            let e = from_object::<Patch>(body).unwrap_err();
            assert_eq!((e.code(), e.field()), ("invalid_field".into(), Some(field)));
        }
    }

    #[tokio::test]
    async fn a_body_that_is_not_an_object_is_invalid_even_when_its_items_would_fit() {
        for json in ["[]", r#"["a", 1, null]"#, "3", "\"x\"", "null"] {
            assert_eq!(err(json).await.code(), "invalid_body", "{json}");
        }
    }

    #[test]
    fn axums_own_json_rejections_map_to_the_same_codes_for_derive_users() {
        let data = Json::<Book>::from_bytes(br#"{"name": 1, "year": 1}"#).unwrap_err();
        let e = ApiError::from(data);
        assert_eq!(
            (e.code(), e.field()),
            ("invalid_field".into(), Some("name"))
        );
        let unknown = Json::<Book>::from_bytes(br#"{"name": "a", "year": 1, "x": 1}"#);
        let e = ApiError::from(unknown.unwrap_err());
        assert_eq!((e.code(), e.field()), ("unknown_field".into(), Some("x")));
        let syntax = Json::<Book>::from_bytes(br#"{"name": "#).unwrap_err();
        let e = ApiError::from(syntax);
        assert_eq!(e.code(), "malformed_json");
        assert!(e.public_message().contains("line 1"), "{e:?}");
        let trailing = Json::<Book>::from_bytes(br#"{"name": "a", "year": 1} x"#).unwrap_err();
        assert_eq!(ApiError::from(trailing).code(), "malformed_json");
    }

    #[tokio::test]
    async fn json_content_types_are_recognised() {
        let body = r#"{"name": "a", "year": 1}"#;
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(extract(Some(ok), body).await.is_ok(), "{ok}");
        }
        for refused in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let e = extract(refused, body).await.expect_err("refused");
            assert_eq!(e.code(), "unsupported_media_type", "{refused:?}");
        }
    }
}
