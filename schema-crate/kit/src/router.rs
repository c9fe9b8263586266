//! What every function's router gets around its routes: JSON 404/405 fallbacks, the
//! body limit, one structured log line and one metric record per request.

use std::time::Instant;

use axum::{
    Router,
    extract::MatchedPath,
    extract::{DefaultBodyLimit, Request},
    http::{Method, Uri},
    middleware::{self, Next},
    response::Response,
};
use lambda_http::RequestExt;
use tracing::Instrument;

use crate::{
    error::ApiError, extract::MAX_BODY_BYTES, logging::EMF_TARGET, observe, state::AppState,
};

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

/// One structured line per request (request id, method, path, status, duration, and the
/// Powertools keys on the request's span for every line inside it), and one EMF record.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let info = observe::FunctionInfo::get();
    let cold_start = observe::take_cold_start();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || "unmatched".to_owned(),
        |p| format!("{method} {}", p.as_str()),
    );
    // Lambda's request id and X-Ray trace id; none locally.
    let context = request.lambda_context_ref();
    let request_id = context.map(|c| c.request_id.clone());
    let xray_trace_id = context.and_then(|c| c.xray_trace_id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = request_id.as_deref(),
        method = %method,
        path = %path,
        cold_start,
        function_name = %info.function_name,
        function_version = %info.function_version,
        xray_trace_id = xray_trace_id.as_deref(),
        service = %info.service,
    );
    let (response, checkout) =
        observe::counting_checkouts(next.run(request).instrument(span.clone())).await;
    let status = response.status().as_u16();
    let latency = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = latency.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    // Built only where a subscriber writes it (JSON logs; plain local logs leave metrics out).
    if tracing::enabled!(target: EMF_TARGET, tracing::Level::INFO) {
        let record = observe::emf_record(
            info,
            &observe::RequestMetrics {
                route: &route,
                status,
                latency,
                checkout,
                cold_start,
                request_id: request_id.as_deref(),
            },
        );
        tracing::info!(target: EMF_TARGET, record = %record);
    }
    response
}
