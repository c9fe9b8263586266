//! Cross-origin requests from browsers: off unless `CORS_ALLOWED_ORIGINS` names origins.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `CORS_ALLOWED_ORIGINS` | comma-separated origins allowed to call the API from a browser (`https://shop.example.com,http://localhost:5173`), or `*` for any | unset: no CORS headers, preflights are not answered |
//!
//! With origins set, a request whose `Origin` is one of them gets
//! `Access-Control-Allow-Origin` with that origin (`Vary: Origin`), and a preflight
//! (`OPTIONS` with `Access-Control-Request-Method`) is answered `200` before routing, for
//! the API's methods and the headers it reads (`Content-Type`, `If-Match`,
//! `Idempotency-Key`), cached for [`MAX_AGE_SECS`]. Responses expose `ETag`, `Location`
//! and `Retry-After` to scripts. No credentials: the API has no cookies. An origin not in
//! the list gets no CORS headers, so the browser refuses the response; the request itself
//! is served as any other (CORS protects browser users, not the API).

use std::time::Duration;

use axum::{
    Router,
    http::{HeaderName, HeaderValue, Method, header},
};
use bookstore_schema::{ConfigError, env::Env};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The variable that lists the allowed origins.
pub const CORS_ALLOWED_ORIGINS: &str = "CORS_ALLOWED_ORIGINS";
/// How long a browser may cache a preflight answer.
pub const MAX_AGE_SECS: u64 = 600;

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsConfig {
    /// Any origin (`*`).
    AnyOrigin,
    /// These origins exactly (`scheme://host[:port]`).
    Origins(Vec<String>),
}

impl CorsConfig {
    /// `CORS_ALLOWED_ORIGINS` from the process environment; `None` when unset or empty.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_vars(&Env::from_env())
    }

    /// [`CorsConfig::from_env`] over any [`Env`]. Each origin must be
    /// `http://` or `https://` followed by a host (and a port), with no path: a browser
    /// sends exactly that, so anything else could never match and is a mistake.
    pub fn from_vars(env: &Env<'_>) -> Result<Option<Self>, ConfigError> {
        let Some(raw) = env.non_empty(CORS_ALLOWED_ORIGINS) else {
            return Ok(None);
        };
        let origins: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect();
        if origins.iter().any(|o| o == "*") {
            if origins.len() > 1 {
                return Err(ConfigError::invalid(
                    CORS_ALLOWED_ORIGINS,
                    "`*` allows every origin and cannot be combined with others",
                ));
            }
            return Ok(Some(Self::AnyOrigin));
        }
        for origin in &origins {
            if !is_origin(origin) {
                return Err(ConfigError::invalid(
                    CORS_ALLOWED_ORIGINS,
                    format!(
                        "`{origin}` is not an origin (http:// or https://, a host, an optional port, no path)"
                    ),
                ));
            }
        }
        if origins.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self::Origins(origins)))
    }

    /// The layer that answers preflights and adds the CORS headers.
    pub fn layer(&self) -> CorsLayer {
        let origin = match self {
            Self::AnyOrigin => AllowOrigin::any(),
            Self::Origins(origins) => AllowOrigin::list(
                origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok())
                    .collect::<Vec<_>>(),
            ),
        };
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::CONTENT_TYPE,
                header::IF_MATCH,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER])
            .max_age(Duration::from_secs(MAX_AGE_SECS))
    }

    /// `router` with the layer, or as it is when `config` is `None`.
    pub fn apply(config: Option<&Self>, router: Router) -> Router {
        match config {
            Some(config) => router.layer(config.layer()),
            None => router,
        }
    }
}

fn is_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: &'static str) -> Result<Option<CorsConfig>, ConfigError> {
        CorsConfig::from_vars(&Env::from_pairs([(CORS_ALLOWED_ORIGINS, value)]))
    }

    #[test]
    fn cors_is_off_unless_origins_are_listed() {
        assert_eq!(
            CorsConfig::from_vars(&Env::from_pairs::<_, &str, &str>([])).unwrap(),
            None
        );
        assert_eq!(config("").unwrap(), None);
        assert_eq!(config(" , ").unwrap(), None);
        assert_eq!(config("*").unwrap(), Some(CorsConfig::AnyOrigin));
        assert_eq!(
            config("https://shop.example.com, http://localhost:5173").unwrap(),
            Some(CorsConfig::Origins(vec![
                "https://shop.example.com".into(),
                "http://localhost:5173".into()
            ]))
        );
    }

    #[test]
    fn values_that_are_not_origins_name_the_variable() {
        for value in [
            "shop.example.com",
            "https://shop.example.com/",
            "https://a.example/path",
            "ftp://a.example",
            "*, https://a.example",
            "https://",
        ] {
            let e = config(value).unwrap_err();
            assert!(
                e.to_string().starts_with("CORS_ALLOWED_ORIGINS is invalid"),
                "{value}: {e}"
            );
        }
    }
}
