//! Structured logs: JSON lines on Lambda, plain lines locally, every field escaped.
//!
//! A client controls some logged values (a query parameter's name, a JSON key, both
//! decoded from `%0A`): a newline in one must not start a forged log line. The JSON
//! format escapes by construction (serde); the plain format writes every field through
//! an escaping field formatter, so one event is always one line.
//!
//! A JSON line is one flat object, as CloudWatch Logs Insights and Powertools for AWS
//! Lambda expect: `timestamp`, `level`, `target`, `message`, the event's fields, and the
//! fields of every span it is in (a request's `request_id`, `cold_start`, `function_name`,
//! `function_version`, `xray_trace_id`, `service`) at the top level, not nested. An event
//! of target [`EMF_TARGET`] is a CloudWatch Embedded Metric Format record: its `record`
//! field is written as the line itself (JSON only; plain logs leave metrics out).

use std::fmt::{self, Write as _};

use bookstore_schema::env::Env;
use serde_json::{Map, Value};
use tracing::{Event, Subscriber, field::Field};
use tracing_subscriber::{
    EnvFilter,
    field::MakeExt as _,
    fmt::{
        FmtContext, FormatEvent, FormatFields, FormattedFields,
        format::{self, JsonFields, Writer},
    },
    registry::LookupSpan,
};

/// The target of events that carry one Embedded Metric Format record (field `record`).
pub const EMF_TARGET: &str = "bookstore_kit::emf";

/// Log filter when `RUST_LOG` is unset.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// One JSON object per line (Lambda, CloudWatch).
    Json,
    /// Human-readable lines (the local server).
    Plain,
}

/// Installs the global `tracing` subscriber on stdout, filtered by `RUST_LOG`
/// (default [`DEFAULT_LOG_FILTER`]). Keeps a subscriber that is already installed.
pub fn init_tracing(format: LogFormat) {
    let filter = Env::from_env()
        .non_empty("RUST_LOG")
        .unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned());
    // Fails only if a subscriber is already set: keep that one.
    let _ = tracing::subscriber::set_global_default(subscriber(format, &filter, std::io::stdout));
}

/// The subscriber [`init_tracing`] installs: `filter` in `RUST_LOG` syntax (an invalid
/// one falls back to `info`), lines written to `writer` (tests capture them).
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    match format {
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(writer)
                .fmt_fields(JsonFields::new())
                .event_format(FlatJson)
                .finish(),
        ),
        LogFormat::Plain => Box::new(
            tracing_subscriber::fmt()
                .with_env_filter(
                    filter.add_directive(format!("{EMF_TARGET}=off").parse().unwrap_or_default()),
                )
                .with_writer(writer)
                .fmt_fields(
                    format::debug_fn(|writer, field, value| {
                        let value = Escaped(format!("{value:?}"));
                        if field.name() == "message" {
                            write!(writer, "{value}")
                        } else {
                            write!(writer, "{field}={value}")
                        }
                    })
                    .delimited(" "),
                )
                .finish(),
        ),
    }
}

/// The JSON line format: one flat object per event (see the module docs).
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        event.record(&mut JsonVisitor(&mut fields));
        if event.metadata().target() == EMF_TARGET {
            // The record is already the whole line.
            if let Some(Value::String(record)) = fields.get("record") {
                return writeln!(writer, "{record}");
            }
        }
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        line.insert("level".into(), event.metadata().level().as_str().into());
        line.insert("target".into(), event.metadata().target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(stored) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(span_fields)) = serde_json::from_str(stored) {
                    line.extend(span_fields);
                }
            }
        }
        line.extend(fields);
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Collects an event's fields as JSON values.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl tracing::field::Visit for JsonVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }
}

/// A value with every control character (newline, carriage return, escape…) written as
/// its Rust escape (`\n`, `\r`, `\u{1b}`), so it stays on its line and cannot drive a
/// terminal.
struct Escaped<T>(T);

impl<T: AsRef<str>> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for ch in self.0.as_ref().chars() {
            if ch.is_control() {
                write!(f, "{}", ch.escape_debug())?;
            } else {
                f.write_char(ch)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        let escape_controls = |text: &str| Escaped(text).to_string();
        assert_eq!(
            escape_controls("a\nb\r\u{1b}[31mc\td"),
            "a\\nb\\r\\u{1b}[31mc\\td"
        );
        assert_eq!(escape_controls("é ✓ `x`"), "é ✓ `x`");
    }
}
