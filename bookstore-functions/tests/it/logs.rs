//! What the functions log: one JSON line per request with the Lambda request id, and
//! error causes that stay in the log.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use axum::http::StatusCode;
use bookstore_functions::{Function, app as build_app};
use bookstore_kit::{
    error::INTERNAL_MESSAGE,
    lambda_service,
    startup::{self, LogFormat},
};
use bookstore_schema::{Backend, DbTarget};
use lambda_http::{Context, LambdaEvent, request::LambdaRequest};
use serde_json::Value;
use tower::ServiceExt;

use crate::support::{TestApp, book_json, closed_port, replace_host_port, test_db};

/// Log lines written by a subscriber, in memory.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    fn json(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures this thread's logs (the test runs on a current-thread runtime, so every
/// async step of a request is on it) as the Lambda binaries write them.
fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
    capture_as(LogFormat::Json)
}

/// Captures this thread's logs in `format`.
fn capture_as(format: LogFormat) -> (Logs, tracing::subscriber::DefaultGuard) {
    crate::support::global_subscriber();
    let logs = Logs::default();
    let buffer = logs.0.clone();
    let subscriber = startup::subscriber(format, "info", move || LogWriter(buffer.clone()));
    (logs, tracing::subscriber::set_default(subscriber))
}

/// Requests whose parameter name and JSON key decode to a newline followed by a line
/// that looks like a log entry.
async fn send_forging_requests(app: &TestApp) {
    app.get("/book?x%0A2026-01-01T00:00:00Z%20ERROR%20forged=1")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "unknown_parameter");
    let mut body = book_json("Dune");
    body["k\n2026-01-01T00:00:00Z ERROR forged"] = serde_json::json!(1);
    app.post("/book", body)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "unknown_field");
}

#[tokio::test]
async fn a_newline_in_a_parameter_name_or_json_key_forges_no_plain_log_line() {
    let app = TestApp::new(Backend::Sqlite, "logs_plain_escaped");
    let (logs, _guard) = capture_as(LogFormat::Plain);
    send_forging_requests(&app).await;
    let text = logs.text();
    let rejected: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("request rejected"))
        .collect();
    assert_eq!(rejected.len(), 2, "{text}");
    for line in text.lines() {
        assert!(!line.starts_with("2026-01-01"), "a forged line: {text}");
    }
    assert!(
        rejected[0].contains("x\\n2026-01-01T00:00:00Z ERROR forged"),
        "{text}"
    );
    assert!(
        rejected[1].contains("k\\n2026-01-01T00:00:00Z ERROR forged"),
        "{text}"
    );
}

#[tokio::test]
async fn a_newline_in_a_parameter_name_or_json_key_stays_inside_its_json_log_line() {
    let app = TestApp::new(Backend::Sqlite, "logs_json_escaped");
    let (logs, _guard) = capture();
    send_forging_requests(&app).await;
    // Every line parses as one JSON object (`Logs::json` panics otherwise).
    let lines = logs.json();
    let rejected: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "request rejected")
        .collect();
    assert_eq!(rejected.len(), 2, "{lines:?}");
    assert!(
        rejected[0]["error"]
            .as_str()
            .unwrap()
            .contains("x\n2026-01-01T00:00:00Z ERROR forged"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_path_id_that_is_not_utf8_is_a_client_error_and_logs_no_error() {
    let app = TestApp::new(Backend::Sqlite, "logs_invalid_utf8_id");
    let (logs, _guard) = capture();
    app.get("/book/%FF").await.assert_field_error(
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        "id",
    );
    let lines = logs.json();
    assert!(
        lines.iter().all(|line| line["level"] != "ERROR"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line["message"] == "request rejected"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_lambda_request_logs_a_json_line_with_request_id_method_path_status_and_duration() {
    let app = TestApp::new(Backend::Sqlite, "logs_request_line");
    let (logs, _guard) = capture();
    let fixture = std::fs::read_to_string(format!(
        "{}/tests/fixtures/rest-get-books-staged.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let event: LambdaRequest = serde_json::from_str(&fixture).unwrap();
    let mut context = Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
    context.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".to_owned());
    let adapter = lambda_http::Adapter::from(lambda_service(build_app(
        app.state.clone(),
        Function::Books,
    )));
    let response = adapter
        .oneshot(LambdaEvent::new(event, context))
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(response).unwrap()["statusCode"], 200);

    let lines = logs.json();
    let finished = lines
        .iter()
        .find(|line| line["message"] == "request finished")
        .unwrap_or_else(|| panic!("no request line in {lines:?}"));
    assert_eq!(
        finished["request_id"],
        "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
    );
    assert_eq!(finished["method"], "GET");
    assert_eq!(
        finished["path"], "/book",
        "the stage is not part of the path"
    );
    assert_eq!(finished["status"], 200);
    assert!(finished["duration_ms"].is_f64(), "{finished}");
    assert_eq!(finished["level"], "INFO");
    // Powertools' keys, at the top level of the line.
    for key in ["function_name", "function_version", "service"] {
        assert!(finished[key].is_string(), "{key}: {finished}");
    }
    assert!(finished["cold_start"].is_boolean(), "{finished}");
    assert!(
        finished.get("xray_trace_id").is_some() || finished["request_id"].is_string(),
        "{finished}"
    );

    // One Embedded Metric Format record for the request, as the specification shapes it.
    let records: Vec<&Value> = lines
        .iter()
        .filter(|line| line.get("_aws").is_some())
        .collect();
    assert_eq!(records.len(), 1, "{lines:?}");
    bookstore_testing::assert_emf(records[0]);
    assert_eq!(records[0]["route"], "GET /book", "{}", records[0]);
    assert_eq!(records[0]["status_class"], "2xx");
    assert_eq!(
        records[0]["request_id"],
        "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
    );
    assert!(
        records[0]["checkout"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{}",
        records[0]
    );
}

#[tokio::test]
async fn every_request_writes_exactly_one_metric_record_and_plain_logs_none() {
    let app = TestApp::new(Backend::Sqlite, "logs_emf_per_request");
    let (logs, guard) = capture();
    app.get("/book").await;
    app.get("/book/%FF").await;
    app.get("/no/such/route").await;
    drop(guard);
    let records: Vec<Value> = logs
        .json()
        .into_iter()
        .filter(|line| line.get("_aws").is_some())
        .collect();
    let routes: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["route"].as_str().unwrap(),
                r["status_class"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("GET /book", "2xx"),
            ("GET /book/{id}", "4xx"),
            ("unmatched", "4xx")
        ]
    );
    for record in &records {
        bookstore_testing::assert_emf(record);
    }
    let (plain, _guard) = capture_as(LogFormat::Plain);
    app.get("/book").await;
    assert!(!plain.text().contains("_aws"), "{}", plain.text());
}

#[tokio::test]
async fn a_server_error_logs_its_cause_and_answers_without_it() {
    let app = TestApp::new(Backend::Postgres, "logs_server_error");
    app.connect().batch_execute("DROP TABLE review").unwrap();
    let (logs, _guard) = capture();
    let response = app.get("/review").await;
    let error = response.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "internal");
    assert_eq!(error["message"], INTERNAL_MESSAGE);
    assert!(!response.text.contains("relation"), "{}", response.text);

    let lines = logs.json();
    let failed = lines
        .iter()
        .find(|line| line["message"] == "request failed")
        .unwrap_or_else(|| panic!("no error line in {lines:?}"));
    let cause = failed["error.cause"].as_str().unwrap();
    assert!(
        cause.contains("relation \"review\" does not exist"),
        "{cause}"
    );
    assert_eq!(failed["level"], "ERROR");
    assert_eq!(
        failed["path"], "/review",
        "the request's fields are on every line: {failed}"
    );
}

#[tokio::test]
async fn the_database_password_appears_in_no_log_line_and_no_response() {
    let (logs, _guard) = capture();
    let db = test_db(Backend::Postgres, "logs_no_password");
    let url = replace_host_port(
        &db.url()
            .replacen("postgres@", "postgres:hunter2-secret@", 1),
        &format!("127.0.0.1:{}", closed_port()),
    );
    let config =
        crate::support::pool_config(1).with_checkout_timeout(std::time::Duration::from_millis(300));
    let app = TestApp::with_target(db, DbTarget::from_url(&url).unwrap(), &config);
    startup::check_schema_at_start(&app.state).await;
    let response = app.post("/book", book_json("Dune")).await;
    response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable");
    assert!(!response.text.contains("hunter2"));
    let text = logs.text();
    assert!(text.contains("database pool configured"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

/// Every URL form libpq accepts or rejects, the password (`hunter2`) cut by each character
/// libpq may take for a delimiter, through every output of a function: the start-up log
/// line, the connect error in the request's error log, the response, the state's
/// `Debug`.
#[tokio::test]
async fn no_url_form_puts_the_password_in_any_log_line_response_or_debug_output() {
    let closed = format!("127.0.0.1:{}", closed_port());
    let forms = [
        format!("postgres://app:hunter2@{closed}/x"),
        format!("postgres://app:hun/ter2@{closed}/x"),
        format!("postgres://app:hun?ter2@{closed}/x"),
        format!("postgres://app:hun@ter2@{closed}/x"),
        format!("postgres://app:hun#ter2@{closed}/x"),
        format!("postgres://app:hunter2%zz@{closed}/x"),
        format!("postgres://{closed}/x?user=app&password=hun@ter2"),
        format!("postgresql://app:hunter2@/x?host={closed}"),
    ];
    for url in forms {
        let (logs, _guard) = capture();
        let db = test_db(Backend::Postgres, "logs_url_forms");
        let config = crate::support::pool_config(1)
            .with_checkout_timeout(std::time::Duration::from_millis(300));
        let target = DbTarget::from_url(&url).unwrap();
        let shown_target = format!("{target} {target:?}");
        let app = TestApp::with_target(db, target, &config);
        startup::check_schema_at_start(&app.state).await;
        let response = app.post("/book", book_json("Dune")).await;
        response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable");
        let text = logs.text();
        assert!(text.contains("database pool configured"), "{text}");
        // The connect error itself (r2d2 logs it on its own thread, outside this capture)
        // is in the request's `error.cause`.
        assert!(text.contains("error.cause"), "{url}: {text}");
        let everything = format!("{text}\n{}\n{shown_target}\n{:?}", response.text, app.state);
        assert!(
            !everything.contains("hun") && !everything.contains("ter2"),
            "{url}: {everything}"
        );
    }
}
