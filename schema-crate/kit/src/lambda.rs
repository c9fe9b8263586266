//! The Lambda Runtime API calls a function makes outside its handler, for every kind of
//! function (the HTTP functions and the schema Lambda alike).

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    time::Duration,
};

use bookstore_schema::env::Env;

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
