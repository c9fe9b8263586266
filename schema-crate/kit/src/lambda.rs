//! The Lambda Runtime API calls a function makes outside its handler, for every kind of
//! function (the HTTP functions and the schema Lambda alike).

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bookstore_schema::env::Env;

/// The EMF namespace when `POWERTOOLS_METRICS_NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "Bookstore";

/// Who this function is, read once from Lambda's variables.
#[derive(Debug, Clone)]
pub(crate) struct FunctionInfo {
    pub(crate) function_name: String,
    pub(crate) function_version: String,
    pub(crate) service: String,
    /// The EMF namespace (only the HTTP functions write metrics).
    #[cfg_attr(
        not(feature = "http"),
        allow(dead_code, reason = "read by the HTTP edge's metrics")
    )]
    pub(crate) namespace: String,
}

impl FunctionInfo {
    /// This function's, from the environment, once per process.
    pub(crate) fn get() -> &'static Self {
        static INFO: OnceLock<FunctionInfo> = OnceLock::new();
        INFO.get_or_init(|| Self::from_vars(&Env::from_env()))
    }

    pub(crate) fn from_vars(env: &Env<'_>) -> Self {
        let function_name = env
            .non_empty("AWS_LAMBDA_FUNCTION_NAME")
            .unwrap_or_else(|| "bookstore-local".to_owned());
        Self {
            function_version: env
                .non_empty("AWS_LAMBDA_FUNCTION_VERSION")
                .unwrap_or_else(|| "$LATEST".to_owned()),
            service: env
                .non_empty("POWERTOOLS_SERVICE_NAME")
                .unwrap_or_else(|| function_name.clone()),
            namespace: env
                .non_empty("POWERTOOLS_METRICS_NAMESPACE")
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            function_name,
        }
    }
}

/// Whether this is the first request this process serves (and so paid the cold start).
pub(crate) fn take_cold_start() -> bool {
    static COLD: AtomicBool = AtomicBool::new(true);
    COLD.swap(false, Ordering::Relaxed)
}

/// A span for one invocation of a function that is not behind API Gateway (the schema
/// Lambda), carrying Powertools' keys (`cold_start`, `function_name`, `function_version`,
/// `xray_trace_id`, `service`) and the request id, so every JSON line logged inside it has
/// them at the top level, as the HTTP functions' request lines do.
pub fn invocation_span(request_id: &str, xray_trace_id: Option<&str>) -> tracing::Span {
    let info = FunctionInfo::get();
    tracing::info_span!(
        "invocation",
        request_id,
        cold_start = take_cold_start(),
        function_name = %info.function_name,
        function_version = %info.function_version,
        xray_trace_id,
        service = %info.service,
    )
}

/// How long Lambda's runtime endpoint gets to acknowledge an init error.
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether this process runs on Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set; the runtime
/// crates panic without their variables).
pub fn on_lambda() -> bool {
    Env::from_env().is_set("AWS_LAMBDA_FUNCTION_NAME")
}

/// Tells Lambda why init failed (`POST /runtime/init/error`, typed `error_type`), so the
/// failure shows as that error rather than as an exit status. Best effort: does nothing
/// outside Lambda, and a failed report is logged; the caller still returns its error and
/// the process exits. `message` must already be free of secrets.
pub fn report_init_error(error_type: &str, message: &str) {
    let Some(api) = Env::from_env().non_empty("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body = serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: {error_type}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let sent = (|| -> std::io::Result<()> {
        let mut stream = TcpStream::connect(&api)?;
        stream.set_read_timeout(Some(REPORT_TIMEOUT))?;
        stream.write_all(request.as_bytes())?;
        let mut status = [0_u8; 12];
        stream.read_exact(&mut status)
    })();
    if let Err(e) = sent {
        tracing::error!(error = %e, "could not report the init error to the Lambda Runtime API");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::logging::{LogFormat, subscriber};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_invocation_span_puts_powertools_keys_on_every_json_line() {
        let lines = Lines::default();
        let writer = lines.clone();
        let json = subscriber(LogFormat::Json, "info", move || writer.clone());
        tracing::subscriber::with_default(json, || {
            let span = invocation_span("req-1", Some("Root=1-abc"));
            span.in_scope(|| tracing::info!(step = "migrate", "inside the invocation"));
        });
        let text = String::from_utf8(lines.0.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_default();
        assert_eq!(line["request_id"], "req-1", "{text}");
        assert_eq!(line["xray_trace_id"], "Root=1-abc", "{text}");
        assert!(line["cold_start"].is_boolean(), "{text}");
        for key in ["function_name", "function_version", "service"] {
            assert!(line[key].is_string(), "{key}: {text}");
        }
        assert_eq!(line["step"], "migrate", "{text}");
    }
}
