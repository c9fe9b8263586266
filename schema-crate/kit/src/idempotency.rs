//! Idempotent creates: a client that may retry a `POST` or `PUT` (a timeout, a `503`, a
//! Lambda retry) sends an `Idempotency-Key`, and the create runs at most once per key.
//!
//! The key, a hash of the request and the response are stored in the `idempotency_key`
//! table in the same transaction as the row created, so either both commit or neither
//! does. A repeat with the same key and the same request answers the stored response
//! (same status, same id; the header `Idempotent-Replayed: true`) and creates nothing; the
//! same key with another request is `422 idempotency_key_reused`. Concurrent duplicates
//! wait for the first (PostgreSQL's primary key under `ON CONFLICT DO NOTHING`, SQLite's
//! single writer), then replay it: exactly one row. A failed create stores nothing, so a
//! retry runs it again.
//!
//! Keys are scoped by operation (`POST /book`), live [`KEY_TTL_HOURS`] hours, and are then
//! forgotten: an expired key is replaced when used again, and each create under a new key
//! deletes every expired key afterwards (best effort, its own statement).

use axum::{
    extract::FromRequestParts,
    http::{HeaderName, HeaderValue, StatusCode, request::Parts},
    response::{IntoResponseParts, ResponseParts},
};
use bookstore_schema::{DbConnection, IdempotencyRecord, NewIdempotencyKey};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use crate::{error::ApiError, state::AppState};

/// The request header's name as errors and documents spell it.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// The response header that marks a replayed response.
pub const REPLAYED: &str = "Idempotent-Replayed";
/// Longest key accepted, in characters (the column's CHECK).
pub const KEY_MAX_CHARS: usize = 255;
/// How long a key is remembered.
pub const KEY_TTL_HOURS: i64 = 24;

/// The `Idempotency-Key` of a request, if it sent one: 1 to 255 visible ASCII characters,
/// else `400 invalid_header` naming `Idempotency-Key` (as is sending it twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let name = HeaderName::from_static("idempotency-key");
        let mut values = parts.headers.get_all(&name).iter();
        let Some(value) = values.next() else {
            return Ok(Self(None));
        };
        if values.next().is_some() {
            return Err(ApiError::invalid_header(
                IDEMPOTENCY_KEY,
                "must be sent once",
            ));
        }
        let bytes = value.as_bytes();
        if bytes.is_empty()
            || bytes.len() > KEY_MAX_CHARS
            || !bytes.iter().all(|b| (0x21..=0x7e).contains(b))
        {
            return Err(ApiError::invalid_header(
                IDEMPOTENCY_KEY,
                format!("must be 1 to {KEY_MAX_CHARS} visible ASCII characters (a UUID, say)"),
            ));
        }
        Ok(Self(Some(String::from_utf8_lossy(bytes).into_owned())))
    }
}

/// What an idempotent create answers: the created value, and whether it is a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Created<T> {
    /// The created resource as first answered.
    pub value: T,
    /// `true` when this is the stored response of an earlier request with the same key.
    pub replayed: bool,
}

/// Adds `Idempotent-Replayed: true` to a replayed response.
#[derive(Debug, Clone, Copy)]
pub struct Replayed(pub bool);

impl IntoResponseParts for Replayed {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if self.0 {
            res.headers_mut().insert(
                HeaderName::from_static("idempotent-replayed"),
                HeaderValue::from_static("true"),
            );
        }
        Ok(res)
    }
}

/// The hash a key's request is compared by: SHA-256 of the scope and the request's JSON
/// (its values as deserialized, so spacing and field order do not matter).
pub fn request_hash<R: Serialize>(scope: &str, request: &R) -> String {
    let mut hasher = Sha256::new();
    hasher.update(scope.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(request).unwrap_or_default());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs `create` at most once per `key` in `scope`, answering `status` (see the module).
///
/// Without a key, `create` runs alone in a unit of work ([`AppState::unit_of_work`]: a
/// create that finishes after the request's deadline rolls back instead of committing
/// unseen); with one, in a unit of work with the key's record. `create` gets `request` (the validated input,
/// which the key's request hash is computed from) and returns the value to answer and the
/// created row's id.
pub async fn create_once<T, R, F>(
    state: &AppState,
    key: IdempotencyKey,
    scope: &'static str,
    status: StatusCode,
    request: R,
    create: F,
) -> Result<Created<T>, ApiError>
where
    T: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: FnOnce(&mut DbConnection, R) -> Result<(T, i32), ApiError> + Send + 'static,
{
    let Some(key) = key.0 else {
        let (value, _) = state
            .unit_of_work(move |conn| create(conn, request))
            .await?;
        return Ok(Created {
            value,
            replayed: false,
        });
    };
    let hash = request_hash(scope, &request);
    let now = chrono::Utc::now().naive_utc();
    let expires_at = now + chrono::Duration::hours(KEY_TTL_HOURS);
    let created = state
        .unit_of_work(move |conn| {
            let new = NewIdempotencyKey::new(scope, &key, &hash, now, expires_at);
            if IdempotencyRecord::claim(conn, &new)? {
                let (value, id) = create(conn, request)?;
                let body = serde_json::to_string(&value).map_err(|e| ApiError::internal(&e))?;
                IdempotencyRecord::complete(
                    conn,
                    scope,
                    &key,
                    i32::from(status.as_u16()),
                    &body,
                    id,
                )?;
                return Ok(Created {
                    value,
                    replayed: false,
                });
            }
            replay(conn, scope, &key, &hash, status)
        })
        .await?;
    if !created.replayed {
        // Best effort, after the create committed: a failure here changes nothing answered.
        if let Err(error) = state
            .one_statement(move |conn| Ok(IdempotencyRecord::purge_expired(conn, now)?))
            .await
        {
            tracing::warn!(error = %error, "could not purge expired idempotency keys");
        }
    }
    Ok(created)
}

/// The stored response of `key`, if its request was the same.
fn replay<T: DeserializeOwned>(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
    hash: &str,
    status: StatusCode,
) -> Result<Created<T>, ApiError> {
    let record = IdempotencyRecord::find(conn, scope, key)?.ok_or_else(|| {
        ApiError::internal(&MissingRecord("a claimed idempotency key has no record"))
    })?;
    if record.request_hash != hash {
        return Err(ApiError::idempotency_key_reused());
    }
    match (record.status_code, record.response_body) {
        (Some(code), Some(body)) if code == i32::from(status.as_u16()) => {
            let value = serde_json::from_str(&body).map_err(|e| ApiError::internal(&e))?;
            tracing::info!(idempotency.scope = scope, "replayed an idempotent create");
            Ok(Created {
                value,
                replayed: true,
            })
        }
        _ => Err(ApiError::internal(&MissingRecord(
            "an idempotency key's record has no response",
        ))),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct MissingRecord(&'static str);

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    async fn key(values: &[&str]) -> Result<IdempotencyKey, ApiError> {
        let mut request = Request::builder();
        for v in values {
            request = request.header("Idempotency-Key", *v);
        }
        let (mut parts, ()) = request.body(()).expect("a request").into_parts();
        IdempotencyKey::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn keys_are_visible_ascii_of_at_most_255_characters_sent_once() {
        assert_eq!(key(&[]).await.unwrap(), IdempotencyKey(None));
        let uuid = "0b9f6c1e-51e4-4a43-9f0e-3b2b8c1f6a7d";
        assert_eq!(
            key(&[uuid]).await.unwrap(),
            IdempotencyKey(Some(uuid.into()))
        );
        let longest = "k".repeat(255);
        assert!(key(&[&longest]).await.is_ok());
        for bad in [
            vec!["k".repeat(256)],
            vec!["a b".into()],
            vec!["a".into(), "b".into()],
        ] {
            let refs: Vec<&str> = bad.iter().map(String::as_str).collect();
            let e = key(&refs).await.unwrap_err();
            assert_eq!(
                (e.code(), e.field()),
                ("invalid_header".into(), Some(IDEMPOTENCY_KEY))
            );
        }
    }

    #[test]
    fn the_request_hash_depends_on_the_scope_and_the_values() {
        let a = request_hash("POST /book", &serde_json::json!({"title": "Dune"}));
        assert_eq!(
            a,
            request_hash("POST /book", &serde_json::json!({"title": "Dune"}))
        );
        assert_ne!(
            a,
            request_hash("PUT /book", &serde_json::json!({"title": "Dune"}))
        );
        assert_ne!(
            a,
            request_hash("POST /book", &serde_json::json!({"title": "Emma"}))
        );
        assert_eq!(a.len(), 64);
    }
}
