//! What a function says about each request: the log keys operators search by and one
//! CloudWatch Embedded Metric Format record.
//!
//! The keys follow Powertools for AWS Lambda: `cold_start`, `function_name`,
//! `function_version`, `xray_trace_id`, `service` (from `POWERTOOLS_SERVICE_NAME`, else the
//! function's name), on the request's span, so every line logged inside the request
//! carries them. The EMF record (namespace `POWERTOOLS_METRICS_NAMESPACE`, default
//! `Bookstore`) has the dimensions `service`, `route` and `status_class` and the metrics
//! `latency`, `checkout` (time spent waiting for a pooled connection), `cold_start` and
//! `requests`; it travels in the log stream, so the isolated VPC needs no CloudWatch
//! endpoint (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).

use std::{
    cell::Cell,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};

pub(crate) use crate::lambda::{FunctionInfo, take_cold_start};
#[cfg(test)]
use bookstore_schema::env::Env;

#[cfg(test)]
use crate::lambda::DEFAULT_NAMESPACE;

tokio::task_local! {
    /// Time this request spent checking connections out, in microseconds.
    static CHECKOUT_MICROS: Cell<u64>;
}

/// Runs `request` counting the connection checkouts its units of work wait for.
pub(crate) async fn counting_checkouts<F: Future>(request: F) -> (F::Output, Duration) {
    CHECKOUT_MICROS
        .scope(Cell::new(0), async {
            let output = request.await;
            let micros = CHECKOUT_MICROS.with(Cell::get);
            (output, Duration::from_micros(micros))
        })
        .await
}

/// Adds `waited` to the current request's checkout time (nothing outside a request).
pub(crate) fn add_checkout(waited: Duration) {
    let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
    let _ = CHECKOUT_MICROS.try_with(|total| total.set(total.get().saturating_add(micros)));
}

/// One request as the metrics record it.
pub(crate) struct RequestMetrics<'a> {
    pub(crate) route: &'a str,
    pub(crate) status: u16,
    pub(crate) latency: Duration,
    pub(crate) checkout: Duration,
    pub(crate) cold_start: bool,
    pub(crate) request_id: Option<&'a str>,
}

/// The EMF record of one request, as one JSON object.
pub(crate) fn emf_record(info: &FunctionInfo, request: &RequestMetrics<'_>) -> Value {
    let millis = |d: Duration| d.as_secs_f64() * 1000.0;
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": info.namespace,
                "Dimensions": [["service", "route", "status_class"]],
                "Metrics": [
                    {"Name": "latency", "Unit": "Milliseconds"},
                    {"Name": "checkout", "Unit": "Milliseconds"},
                    {"Name": "cold_start", "Unit": "Count"},
                    {"Name": "requests", "Unit": "Count"},
                ],
            }],
        },
        "service": info.service,
        "route": request.route,
        "status_class": format!("{}xx", request.status / 100),
        "latency": millis(request.latency),
        "checkout": millis(request.checkout),
        "cold_start": u8::from(request.cold_start),
        "requests": 1,
        // Properties: searchable in Logs Insights, not dimensions.
        "function_name": info.function_name,
        "function_version": info.function_version,
        "request_id": request.request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_record_follows_the_emf_specification() {
        let info = FunctionInfo::from_vars(&Env::from_pairs([
            ("AWS_LAMBDA_FUNCTION_NAME", "books"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
        ]));
        assert_eq!(
            (info.service.as_str(), info.namespace.as_str()),
            ("books", DEFAULT_NAMESPACE)
        );
        let record = emf_record(
            &info,
            &RequestMetrics {
                route: "GET /book/{id}",
                status: 404,
                latency: Duration::from_micros(1_500),
                checkout: Duration::from_micros(200),
                cold_start: true,
                request_id: Some("r-1"),
            },
        );
        bookstore_testing::assert_emf(&record);
        assert_eq!(record["status_class"], "4xx");
        assert_eq!(
            (record["latency"].as_f64(), record["cold_start"].as_u64()),
            (Some(1.5), Some(1))
        );
        assert_eq!(record["function_version"], "7");
    }

    #[test]
    fn the_service_and_namespace_follow_powertools_variables() {
        let info = FunctionInfo::from_vars(&Env::from_pairs([
            ("POWERTOOLS_SERVICE_NAME", "bookstore"),
            ("POWERTOOLS_METRICS_NAMESPACE", "Shop"),
        ]));
        assert_eq!(
            (
                info.function_name.as_str(),
                info.service.as_str(),
                info.namespace.as_str()
            ),
            ("bookstore-local", "bookstore", "Shop")
        );
    }
}
