//! The schema Lambda's CloudWatch metrics, as Embedded Metric Format records in its log
//! stream (the HTTP functions' way, `bookstore_kit::logging::EMF_TARGET`): one record per
//! run and one per migration step, so an operator graphs lock waits and retries per
//! deploy and alarms on `LockNotAvailable` without parsing messages.
//!
//! Namespace `POWERTOOLS_METRICS_NAMESPACE` (default `Bookstore`), dimension sets
//! `[service, action, outcome]` (run) and `[service, action]` (step), `service` from
//! `POWERTOOLS_SERVICE_NAME`, else the function's name.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::Report;

/// Who writes the records.
#[derive(Debug, Clone)]
pub struct Emitter {
    namespace: String,
    service: String,
}

impl Emitter {
    /// From the environment, as the kit's HTTP edge reads it.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        Self {
            namespace: non_empty("POWERTOOLS_METRICS_NAMESPACE")
                .unwrap_or_else(|| bookstore_kit::lambda::DEFAULT_NAMESPACE.to_owned()),
            service: non_empty("POWERTOOLS_SERVICE_NAME")
                .or_else(|| non_empty("AWS_LAMBDA_FUNCTION_NAME"))
                .unwrap_or_else(|| "schema-lambda".to_owned()),
        }
    }

    /// The records of one run: `outcome` is `ok` or the error's kind (`LockNotAvailable`, …);
    /// `report` is `None` when the run failed.
    pub fn records(
        &self,
        action: &str,
        outcome: &str,
        took: Duration,
        report: Option<&Report>,
    ) -> Vec<Value> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let directive = |dimensions: &[&str], metrics: &[(&str, &str)]| {
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dimensions],
                    "Metrics": metrics
                        .iter()
                        .map(|(name, unit)| json!({"Name": name, "Unit": unit}))
                        .collect::<Vec<_>>(),
                }],
            })
        };
        let steps = report.map_or(&[][..], |r| r.applied.as_slice());
        let mut records = vec![json!({
            "_aws": directive(
                &["service", "action", "outcome"],
                &[
                    ("runs", "Count"),
                    ("run_duration", "Milliseconds"),
                    ("migrations_applied", "Count"),
                    ("step_retries", "Count"),
                    ("lock_wait", "Milliseconds"),
                    ("blocked_contracts", "Count"),
                    ("drift", "Count"),
                ],
            ),
            "service": self.service,
            "action": action,
            "outcome": outcome,
            "runs": 1,
            "run_duration": took.as_secs_f64() * 1000.0,
            "migrations_applied": steps.len(),
            "step_retries": steps.iter().map(|s| u64::from(s.retries)).sum::<u64>(),
            "lock_wait": steps.iter().map(|s| s.lock_wait_ms).sum::<i64>(),
            "blocked_contracts": report.map_or(0, |r| r.blocked.len()),
            "drift": report.map_or(0, |r| r.drift.len()),
            "schema_version": report.and_then(|r| r.schema_version_after.clone()),
        })];
        for step in steps {
            records.push(json!({
                "_aws": directive(
                    &["service", "action"],
                    &[
                        ("migration_duration", "Milliseconds"),
                        ("migration_retries", "Count"),
                        ("migration_lock_wait", "Milliseconds"),
                    ],
                ),
                "service": self.service,
                "action": action,
                "migration_duration": step.duration_ms,
                "migration_retries": step.retries,
                "migration_lock_wait": step.lock_wait_ms,
                // Properties: searchable in Logs Insights, not dimensions.
                "migration_version": step.version,
                "migration_name": step.name,
            }));
        }
        records
    }

    /// Writes the records of one run to the log stream (when a JSON subscriber takes them).
    pub fn emit(&self, action: &str, outcome: &str, took: Duration, report: Option<&Report>) {
        if !tracing::enabled!(target: bookstore_kit::logging::EMF_TARGET, tracing::Level::INFO) {
            return;
        }
        for record in self.records(action, outcome, took, report) {
            tracing::info!(target: bookstore_kit::logging::EMF_TARGET, record = %record);
        }
    }
}
