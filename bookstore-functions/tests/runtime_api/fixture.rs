//! A Lambda Runtime API on 127.0.0.1 that serves one function process: `GET next` hands
//! out queued events the way Lambda does (long-polling, with the request-id, deadline
//! and function-ARN headers), and `POST …/response`, `…/error` and `init/error` are
//! recorded with the instant they arrived.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

/// What the function posted back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `POST /runtime/invocation/{id}/response`.
    Response,
    /// `POST /runtime/invocation/{id}/error`.
    Error,
    /// `POST /runtime/init/error`.
    InitError,
}

/// One post from the function.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: Kind,
    /// The invocation it answers (`None` for an init error).
    pub request_id: Option<String>,
    /// `Lambda-Runtime-Function-Error-Type`, for errors.
    pub error_type_header: Option<String>,
    /// The body, as JSON.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

impl Outcome {
    /// `errorType` of an error body.
    pub fn error_type(&self) -> Option<&str> {
        self.body.get("errorType").and_then(Value::as_str)
    }

    /// `errorMessage` of an error body.
    pub fn error_message(&self) -> &str {
        self.body
            .get("errorMessage")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
}

/// The Runtime API server; dropping it stops it.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    events: mpsc::UnboundedSender<(String, Value)>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    next_id: AtomicU64,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

const PREFIX: &str = "/2018-06-01/runtime";

impl RuntimeApi {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
        });
        let router = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{PREFIX}/invocation/{{id}}/error"), post(error))
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            addr,
            events: events_tx,
            outcomes: outcomes_rx,
            next_id: AtomicU64::new(1),
            server,
        }
    }

    /// Queues an event; returns its request id.
    pub fn send(&self, event: Value) -> String {
        let id = format!(
            "00000000-0000-4000-8000-{:012}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        self.events
            .send((id.clone(), event))
            .expect("the Runtime API is running");
        id
    }

    /// The next thing the function posted, or `None` after `timeout`.
    pub async fn recv(&mut self, timeout: Duration) -> Option<Outcome> {
        tokio::time::timeout(timeout, self.outcomes.recv())
            .await
            .ok()
            .flatten()
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let Some((id, event)) = shared.events.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
        + 30_000;
    (
        [
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bookstore-e2e".to_owned(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-5e66d96f-7491f09xmpl79d18acf3d050;Sampled=0".to_owned(),
            ),
            ("content-type", "application/json".to_owned()),
        ],
        event.to_string(),
    )
        .into_response()
}

fn record(shared: &Shared, kind: Kind, id: Option<String>, headers: &HeaderMap, body: &Bytes) {
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    let _ = shared.outcomes.send(Outcome {
        kind,
        request_id: id,
        error_type_header: headers
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
        at: Instant::now(),
    });
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    record(&shared, Kind::Response, Some(id), &headers, &body);
    StatusCode::ACCEPTED
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    record(&shared, Kind::Error, Some(id), &headers, &body);
    StatusCode::ACCEPTED
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    record(&shared, Kind::InitError, None, &headers, &body);
    StatusCode::ACCEPTED
}
