//! The schema-provisioning Lambda: applies the embedded migrations on deploy.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use schema_lambda::{Config, SchemaLambdaError, handle_until, report_init_error};
use serde_json::Value;
use tracing::Instrument as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // JSON lines, as every function of this stack logs.
    bookstore_kit::logging::init_tracing(bookstore_kit::logging::LogFormat::Json);
    // A bad configuration fails the init phase, naming the variable, reported to Lambda typed.
    let config = match Config::from_env() {
        Ok(config) => Arc::new(config),
        Err(error) => {
            let error = SchemaLambdaError::from(error);
            report_init_error(&error);
            return Err(error.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let config = Arc::clone(&config);
        // Powertools' keys on every line of the invocation, as the HTTP functions log.
        let span = bookstore_kit::lambda::invocation_span(
            &event.context.request_id,
            event.context.xray_trace_id.as_deref(),
        );
        // Lambda's deadline is wall-clock milliseconds; the runner keeps a monotonic one.
        let deadline = invocation_deadline(event.context.deadline);
        async move {
            // Migrations are blocking work: keep them off the runtime's thread.
            let blocking_span = tracing::Span::current();
            let outcome = tokio::task::spawn_blocking(move || {
                blocking_span.in_scope(|| handle_until(&config, &event.payload, deadline))
            })
            .await
            .map_err(|e| Diagnostic {
                error_type: "Panic".into(),
                error_message: e.to_string(),
            })?;
            outcome.map_err(|e| {
                tracing::error!(error.kind = e.kind(), error = %e, "schema action failed");
                Diagnostic::from(e)
            })
        }
        .instrument(span)
    }))
    .await
}

/// The invocation's deadline (milliseconds since the epoch) as an `Instant`; `None` when
/// the runtime sent none.
fn invocation_deadline(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis();
    let left = u64::try_from(u128::from(deadline_ms).saturating_sub(now_ms)).ok()?;
    Some(Instant::now() + Duration::from_millis(left))
}
