//! Optimistic concurrency: an [`ETag`] on every representation of a resource, and
//! [`IfMatch`] on the writes that change or remove it (RFC 9110 §8.8.3, §13.1.1).
//!
//! The ETag is a hash of the representation, so it needs no version column: two reads
//! of the same fields give the same tag, and any change to them gives another. A write
//! reads the row, compares its tag with `If-Match` (`412 precondition_failed` when none
//! matches), and then changes the row only if it still holds the values it read (a
//! compare-and-swap in the `WHERE` clause), all in one unit of work, so a concurrent
//! writer between the read and the write also ends in `412`, never in a lost update.
//!
//! `If-Match` is required on such writes: without it a client would overwrite whatever
//! version is current, which is what the header exists to prevent. A client that means
//! that sends `If-Match: *`. Absent, the request answers `428 precondition_required`.

use axum::{
    extract::FromRequestParts,
    http::{HeaderValue, header, request::Parts},
    response::{IntoResponseParts, ResponseParts},
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A strong entity tag: the first 128 bits of the SHA-256 of a representation's JSON, in
/// hex, quoted (`"3f…"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag(String);

impl ETag {
    /// The tag of `representation` as this API serializes it.
    pub fn of<T: Serialize>(representation: &T) -> Self {
        // Serializing a derived struct into memory cannot fail; an empty hash would still
        // be a valid (if useless) tag, so no panic path is needed.
        let bytes = serde_json::to_vec(representation).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("\"{hex}\""))
    }

    /// The tag as sent in the `ETag` header, quotes included.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Puts the tag in the response's `ETag` header: `(StatusCode::OK, etag, Json(body))`.
impl IntoResponseParts for ETag {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if let Ok(value) = HeaderValue::from_str(&self.0) {
            res.headers_mut().insert(header::ETAG, value);
        }
        Ok(res)
    }
}

/// The `If-Match` header of a request that changes or removes a resource; required.
///
/// As an extractor: absent is `428 precondition_required`; a value that is neither `*`
/// nor a comma-separated list of quoted entity tags is `400 invalid_header` naming
/// `If-Match`. Weak tags (`W/"…"`) are accepted but never match: `If-Match` compares
/// strongly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version.
    Any,
    /// These tags, quotes included; weak ones are left out (they cannot match).
    Tags(Vec<String>),
}

/// The header's name as errors and documents spell it.
pub const IF_MATCH: &str = "If-Match";

impl IfMatch {
    /// Parses the header's values (several headers count as one list).
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, ApiError> {
        let invalid =
            || ApiError::invalid_header(IF_MATCH, "must be `*` or a list of quoted entity tags");
        let mut tags = Vec::new();
        let mut any = false;
        let mut seen = 0;
        for value in values {
            let text = std::str::from_utf8(value).map_err(|_| invalid())?;
            let mut rest = text.trim_matches(is_space);
            while !rest.is_empty() {
                seen += 1;
                if let Some(after) = rest.strip_prefix('*') {
                    any = true;
                    rest = after;
                } else {
                    let (weak, quoted) = match rest.strip_prefix("W/") {
                        Some(after) => (true, after),
                        None => (false, rest),
                    };
                    let body = quoted.strip_prefix('"').ok_or_else(invalid)?;
                    let end = body.find('"').ok_or_else(invalid)?;
                    let tag = &body[..end];
                    if !tag.bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b)) {
                        return Err(invalid());
                    }
                    if !weak {
                        tags.push(format!("\"{tag}\""));
                    }
                    rest = &body[end + 1..];
                }
                rest = rest.trim_start_matches(is_space);
                match rest.strip_prefix(',') {
                    Some(after) => rest = after.trim_start_matches(is_space),
                    None if rest.is_empty() => {}
                    None => return Err(invalid()),
                }
            }
        }
        match (any, seen) {
            (_, 0) => Err(invalid()),
            (true, 1) => Ok(Self::Any),
            // `*` is only valid alone.
            (true, _) => Err(invalid()),
            (false, _) => Ok(Self::Tags(tags)),
        }
    }

    /// `Ok` when `current` (the tag of the resource as it is now) satisfies this header,
    /// else `412 precondition_failed`.
    pub fn check(&self, current: &ETag) -> Result<(), ApiError> {
        match self {
            Self::Any => Ok(()),
            Self::Tags(tags) if tags.iter().any(|t| t == current.as_str()) => Ok(()),
            Self::Tags(_) => Err(ApiError::precondition_failed()),
        }
    }
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let values = parts.headers.get_all(header::IF_MATCH);
        if values.iter().next().is_none() {
            return Err(ApiError::precondition_required());
        }
        Self::parse(values.iter().map(HeaderValue::as_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<IfMatch, ApiError> {
        IfMatch::parse([value.as_bytes()])
    }

    #[test]
    fn a_tag_is_stable_for_equal_values_and_changes_with_them() {
        let a = ETag::of(&serde_json::json!({"id": 1, "title": "Dune"}));
        assert_eq!(a, ETag::of(&serde_json::json!({"id": 1, "title": "Dune"})));
        assert_ne!(a, ETag::of(&serde_json::json!({"id": 1, "title": "Emma"})));
        assert_eq!(a.as_str().len(), 34);
        assert!(a.as_str().starts_with('"') && a.as_str().ends_with('"'));
    }

    #[test]
    fn star_and_lists_of_strong_tags_parse_and_weak_tags_never_match() {
        let tag = ETag::of(&1);
        assert_eq!(parse("*").unwrap(), IfMatch::Any);
        assert!(parse("*").unwrap().check(&tag).is_ok());
        let list = format!("\"x\", {tag} ,W/\"y\"");
        assert!(parse(&list).unwrap().check(&tag).is_ok());
        assert_eq!(
            parse(&format!("W/{tag}"))
                .unwrap()
                .check(&tag)
                .unwrap_err()
                .code(),
            "precondition_failed"
        );
        let e = parse("\"other\"").unwrap().check(&tag).unwrap_err();
        assert_eq!(e.status().as_u16(), 412);
        // Two headers are one list.
        let two = IfMatch::parse([&b"\"a\""[..], tag.as_str().as_bytes()]).unwrap();
        assert!(two.check(&tag).is_ok());
    }

    #[test]
    fn malformed_values_name_the_header() {
        for value in ["", "abc", "\"open", "*, \"a\"", "\"a\" \"b\"", "\"a b\""] {
            let e = parse(value).unwrap_err();
            assert_eq!(
                (e.code(), e.field(), e.status().as_u16()),
                ("invalid_header".into(), Some(IF_MATCH), 400),
                "{value:?}"
            );
        }
    }
}
