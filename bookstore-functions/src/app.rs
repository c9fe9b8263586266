//! The route table: one router for every function and for the local server.

use std::time::Instant;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::{Method, Uri},
    middleware::{self, Next},
    response::Response,
};
use lambda_http::RequestExt;
use tracing::Instrument;

use crate::{book, error::ApiError, extract::MAX_BODY_BYTES, review, state::AppState};

/// Which routes a router serves: one function per resource, as API Gateway routes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `GET /book`, `POST /book`, `PUT /book`, `GET /book/{id}`.
    Books,
    /// `GET /review`, `POST /review`, `PUT /review`, `GET /book/{id}/reviews`.
    Reviews,
    /// Both: the local server.
    All,
}

/// The application: the routes of `function` over `state`, with JSON errors for unknown
/// routes and methods, the body limit and request logs.
pub fn app(state: AppState, function: Function) -> Router {
    let routes = match function {
        Function::Books => book::routes(),
        Function::Reviews => review::routes(),
        Function::All => book::routes().merge(review::routes()),
    };
    routes
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn route_not_found(uri: Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::RouteNotFound { path }
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
    }
}

/// One structured line per request: request id, method, path, status, duration.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // Lambda's request id; none locally.
    let request_id = request
        .lambda_context_ref()
        .map(|context| context.request_id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = request_id.as_deref(),
        method = %method,
        path = %path
    );
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        tracing::info!(
            request_id = request_id.as_deref(),
            method = %method,
            path = %path,
            status,
            duration_ms,
            "request finished"
        );
    });
    response
}
