//! The Lambda edge: what `lambda_http::run` is given, and the one place the API
//! Gateway stage is handled.
//!
//! `lambda_http` puts the stage in front of a REST or HTTP API event's path (`/prod/book`)
//! unless the path already starts with it; some events (a custom domain without a base
//! path mapping) carry it in `path` themselves. [`lambda_service`] routes through
//! [`strip_stage`], which removes one leading `/{requestContext.stage}` segment and
//! records the client's [`BasePath`] for `Location` headers.
//!
//! This is the only stage mechanism. `lambda_http`'s own switch,
//! `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`, is not needed and need not be set: it is a
//! process-wide variable read on every request, which cannot be tested in-process (setting
//! it is `unsafe` in edition 2024), does not help the events that carry the stage in
//! `path`, and still leaves the base path to compute. `strip_stage` is a pure function of
//! the event, tested with real API Gateway events, and gives the same result whether or
//! not the variable is set.
//!
//! Do not name a stage after a resource (`book`, `review`): its paths would lose a segment.

use axum::{
    Router,
    http::{Uri, uri::PathAndQuery},
};
use lambda_http::{RequestExt, request::RequestContext};
use tower::ServiceExt;

/// What comes before the routed path in the URL the client used: the stage on the
/// `execute-api` endpoint (`/prod`), a base path on a custom domain (`/api`). `Location`
/// headers start with it so that clients can follow them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasePath(String);

impl BasePath {
    /// The prefix, `/prod` or `/api` (never empty: a request with none carries no `BasePath`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The router as the Lambda runtime calls it: stage stripped, then routed.
pub type LambdaService =
    tower::util::MapRequest<Router, fn(lambda_http::Request) -> lambda_http::Request>;

/// Wraps `router` for `lambda_http::run`; tests drive the same service with real events.
pub fn lambda_service(router: Router) -> LambdaService {
    router.map_request(strip_stage as fn(lambda_http::Request) -> lambda_http::Request)
}

/// Removes a leading `/{stage}` from the path of an API Gateway request, and records the
/// client's [`BasePath`].
pub fn strip_stage(mut request: lambda_http::Request) -> lambda_http::Request {
    let (stage, client_path) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => {
            (context.stage.clone(), context.path.clone())
        }
        Some(RequestContext::ApiGatewayV2(context)) => (context.stage.clone(), None),
        _ => (None, None),
    };
    let stage_prefix = stage
        .filter(|s| !s.is_empty() && s != "$default")
        .map(|stage| format!("/{stage}"));
    let mut stripped = None;
    if let Some(prefix) = stage_prefix
        && let Some(uri) = without_prefix(request.uri(), &prefix)
    {
        *request.uri_mut() = uri;
        stripped = Some(prefix);
    }
    // REST APIs give the path as the client sent it; what precedes the routed path there
    // is the base path, whatever the stage and domain setup.
    let routed = request.uri().path();
    let base = client_path
        .as_deref()
        .and_then(|client| client.strip_suffix(routed))
        .filter(|base| base.is_empty() || base.starts_with('/'))
        .map(str::to_owned)
        .or(stripped);
    if let Some(base) = base.filter(|base| !base.is_empty()) {
        request.extensions_mut().insert(BasePath(base));
    }
    request
}

/// `uri` without a leading path segment `prefix` (`/prod`), keeping the query.
fn without_prefix(uri: &Uri, prefix: &str) -> Option<Uri> {
    let rest = uri.path().strip_prefix(prefix)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let path = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    Uri::from_parts(parts).ok()
}
