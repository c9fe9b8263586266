//! What every function's router gets around its routes: JSON 404/405 fallbacks, the
//! body limit and one structured log line per request.

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

use crate::{error::ApiError, extract::MAX_BODY_BYTES, state::AppState};

/// `routes` as a function serves them: unknown routes and methods answer the project's
/// JSON errors, bodies over [`MAX_BODY_BYTES`] are refused, and every request logs one line.
pub fn finish(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn route_not_found(uri: Uri) -> ApiError {
    ApiError::route_not_found(uri.path())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::method_not_allowed(method.as_str())
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
