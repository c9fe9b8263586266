//! Structured logs: JSON lines on Lambda, plain lines locally, every field escaped.
//!
//! A client controls some logged values (a query parameter's name, a JSON key, both
//! decoded from `%0A`): a newline in one must not start a forged log line. The JSON
//! format escapes by construction (serde); the plain format writes every field through
//! an escaping field formatter, so one event is always one line.

use std::fmt::{self, Write as _};

use bookstore_schema::env::Env;
use tracing_subscriber::{EnvFilter, field::MakeExt as _, fmt::format};

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
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                // The request span (request id, method, path) on every line inside a request.
                .with_current_span(true)
                .with_span_list(false)
                .with_ansi(false)
                .finish(),
        ),
        LogFormat::Plain => Box::new(
            builder
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
