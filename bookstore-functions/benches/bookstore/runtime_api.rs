//! A minimal Lambda Runtime API on 127.0.0.1, enough to run the real `books` binary:
//! `GET …/invocation/next` hands out queued events (long-polling like the real one),
//! `POST …/invocation/{id}/response|error` and `…/init/error` are recorded with the
//! instant they arrived. One fixture serves one process: a process killed while it
//! waits on `next` leaves a handler behind, and dropping the fixture ends it.

use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context as _, bail};
use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

/// What the function sent back.
#[derive(Debug)]
pub struct Outcome {
    /// When the fixture received it.
    pub at: Instant,
    /// `response`, `error` or `init-error`.
    pub kind: &'static str,
    /// The body as sent.
    pub body: Bytes,
}

impl Outcome {
    /// The HTTP status in an API Gateway proxy response, if this is one.
    pub fn status_code(&self) -> Option<u16> {
        if self.kind != "response" {
            return None;
        }
        let value: Value = serde_json::from_slice(&self.body).ok()?;
        value
            .get("statusCode")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
    }

    /// The API Gateway response body (a string), if any.
    pub fn response_body(&self) -> Option<String> {
        let value: Value = serde_json::from_slice(&self.body).ok()?;
        value.get("body").and_then(Value::as_str).map(str::to_owned)
    }
}

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
}

/// A running Runtime API.
pub struct Fixture {
    addr: SocketAddr,
    events: mpsc::UnboundedSender<(String, Bytes)>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    server: tokio::task::JoinHandle<()>,
    counter: u64,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Fixture {
    /// Starts a fixture on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(|s, p, b| outcome(s, p, b, "response")),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(|s, p, b| outcome(s, p, b, "error")),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the Runtime API fixture")?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            addr,
            events: events_tx,
            outcomes: outcomes_rx,
            server,
            counter: 0,
        })
    }

    /// `AWS_LAMBDA_RUNTIME_API`.
    pub fn api(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an invocation.
    pub fn invoke(&mut self, event: &Value) {
        self.counter += 1;
        let id = format!("bench-{:08}", self.counter);
        let _ = self
            .events
            .send((id, Bytes::from(event.to_string().into_bytes())));
    }

    /// The next response, error or init error.
    pub async fn outcome(&mut self, timeout: Duration) -> anyhow::Result<Outcome> {
        match tokio::time::timeout(timeout, self.outcomes.recv()).await {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => bail!("the Runtime API fixture stopped"),
            Err(_) => bail!("no response from the function within {timeout:?}"),
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let mut events = shared.events.lock().await;
    let Some((id, body)) = events.recv().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + 30_000;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:books".to_owned(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
    );
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, body).into_response()
}

async fn outcome(
    State(shared): State<Arc<Shared>>,
    Path(_id): Path<String>,
    body: Bytes,
    kind: &'static str,
) -> StatusCode {
    let at = Instant::now();
    let _ = shared.outcomes.send(Outcome { at, kind, body });
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let _ = shared.outcomes.send(Outcome {
        at,
        kind: "init-error",
        body,
    });
    StatusCode::ACCEPTED
}

/// An API Gateway REST proxy event, as the `Prod` stage sends it.
pub fn rest_event(method: &str, path: &str, query: &[(&str, &str)], body: Option<&Value>) -> Value {
    let query_map: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    let multi_query: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!([v])))
        .collect();
    let has_query = !query.is_empty();
    json!({
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Accept": "application/json", "Content-Type": "application/json", "Host": "bench.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Accept": ["application/json"], "Content-Type": ["application/json"], "Host": ["bench.execute-api.us-east-1.amazonaws.com"]},
        "queryStringParameters": if has_query { Value::Object(query_map) } else { Value::Null },
        "multiValueQueryStringParameters": if has_query { Value::Object(multi_query) } else { Value::Null },
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourceId": "bench1",
            "resourcePath": path,
            "httpMethod": method,
            "requestTime": "10/Mar/2020:00:03:59 +0000",
            "path": format!("/Prod{path}"),
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "Prod",
            "domainPrefix": "bench",
            "requestTimeEpoch": 1_583_798_639_428_u64,
            "requestId": "bench-request",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "bench"},
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "apiId": "bench"
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
}

/// Starts `exe` (a Lambda binary) against `fixture` with only the variables Lambda sets
/// and `extra`: the harness's own environment (PG*, DB_*) does not leak in.
pub fn spawn_lambda(
    exe: &std::path::Path,
    fixture: &Fixture,
    extra: &[(&str, &str)],
) -> anyhow::Result<Child> {
    let mut cmd = Command::new(exe);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_FUNCTION_NAME", "books")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/books")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_RUNTIME_API", fixture.api())
        .env("AWS_REGION", "us-east-1")
        .stdin(Stdio::null())
        // JSON logs, one line per request: Lambda ships them; here they go nowhere.
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn()
        .with_context(|| format!("starting {}", exe.display()))
}

/// Kills and reaps a child; what it wrote to stderr, if anything.
pub fn stop(mut child: Child) -> String {
    let _ = child.kill();
    let output = child.wait_with_output();
    output
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_default()
}
