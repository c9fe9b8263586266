//! The Lambda edge: what `lambda_http::run` is given.
//!
//! API Gateway REST APIs put the stage in front of every path (`/prod/book`) unless
//! `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true` is set, and some events carry it in
//! `path` itself. [`lambda_service`] strips one leading `/{requestContext.stage}`
//! segment before routing, so the routes match with or without that variable. Do not
//! name a stage after a resource (`book`, `review`): its paths would lose a segment.

use axum::{
    Router,
    http::{Uri, uri::PathAndQuery},
};
use lambda_http::{RequestExt, request::RequestContext};
use tower::ServiceExt;

/// The stage segment stripped from the path (`/prod`), kept so `Location` headers point
/// where the client can follow them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagePrefix(pub String);

/// The router as the Lambda runtime calls it: stage stripped, then routed.
pub type LambdaService =
    tower::util::MapRequest<Router, fn(lambda_http::Request) -> lambda_http::Request>;

/// Wraps `router` for `lambda_http::run`; tests drive the same service with real events.
pub fn lambda_service(router: Router) -> LambdaService {
    router.map_request(strip_stage as fn(lambda_http::Request) -> lambda_http::Request)
}

/// Removes a leading `/{stage}` from the path of an API Gateway request.
pub fn strip_stage(mut request: lambda_http::Request) -> lambda_http::Request {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.clone(),
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.clone(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") else {
        return request;
    };
    let prefix = format!("/{stage}");
    let Some(rest) = request.uri().path().strip_prefix(&prefix) else {
        return request;
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return request;
    }
    let path = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = request.uri().clone().into_parts();
    let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) else {
        return request;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
        request.extensions_mut().insert(StagePrefix(prefix));
    }
    request
}
