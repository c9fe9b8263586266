//! The Runtime API server: HTTP/1.1 on 127.0.0.1, std threads, one per connection.
//!
//! It speaks the part of the [Lambda Runtime API] a custom runtime uses: `GET
//! …/invocation/next` long-polls for the next queued event and answers it with the
//! `Lambda-Runtime-*` headers; `POST …/invocation/{id}/response`, `…/invocation/{id}/error`
//! and `…/init/error` are recorded as [`Outcome`]s with the instant they arrived.
//!
//! [Lambda Runtime API]: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html

// Over 400 lines: a Runtime API server is one protocol (next, response, error, init error)
// and its unit tests drive it with a hand-written client beside it.

use std::{
    io::{self, BufRead as _, BufReader, Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{self, Receiver, Sender},
    },
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

/// The path prefix of every Runtime API route.
pub const PREFIX: &str = "/2018-06-01/runtime";

/// How long a function has for one invocation (`Lambda-Runtime-Deadline-Ms`).
const DEADLINE: Duration = Duration::from_secs(30);

/// What the function posted back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// `POST /runtime/invocation/{id}/response`.
    Response,
    /// `POST /runtime/invocation/{id}/error`.
    Error,
    /// `POST /runtime/init/error`: initialisation failed.
    InitError,
}

/// One post from the function.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Outcome {
    /// Which route it posted to.
    pub kind: Kind,
    /// The invocation it answers (`None` for an init error).
    pub request_id: Option<String>,
    /// `Lambda-Runtime-Function-Error-Type`, sent with errors.
    pub error_type_header: Option<String>,
    /// The body: its JSON, or a JSON string holding the text when it is not JSON.
    pub body: Value,
    /// When the server received it.
    pub at: Instant,
}

impl Outcome {
    /// `errorType` of an error body.
    pub fn error_type(&self) -> Option<&str> {
        self.body.get("errorType").and_then(Value::as_str)
    }

    /// `errorMessage` of an error body (empty when there is none).
    pub fn error_message(&self) -> &str {
        self.body
            .get("errorMessage")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The `statusCode` of an API Gateway proxy response; `None` for errors and for
    /// responses that are not proxy responses.
    pub fn status_code(&self) -> Option<u16> {
        if self.kind != Kind::Response {
            return None;
        }
        self.body
            .get("statusCode")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
    }

    /// The `body` of an API Gateway proxy response: its JSON, a JSON string when it is
    /// not JSON, `Null` when it is absent or empty.
    pub fn response_body(&self) -> Value {
        match self.body.get("body") {
            Some(Value::String(text)) if !text.is_empty() => {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
            }
            _ => Value::Null,
        }
    }

    /// Status and body of an API Gateway proxy response; panics, showing the outcome,
    /// when this is not one (for tests).
    pub fn api_response(&self) -> (u16, Value) {
        let status = self
            .status_code()
            .unwrap_or_else(|| panic!("expected an API Gateway proxy response, got {self:?}"));
        (status, self.response_body())
    }
}

struct Shared {
    events: Mutex<Receiver<(String, String)>>,
    outcomes: Sender<Outcome>,
    function_arn: String,
}

/// A Runtime API on a free port of 127.0.0.1 for one function process; dropping it stops
/// it (a `next` still waiting is answered `410 Gone`).
pub struct RuntimeApi {
    addr: SocketAddr,
    events: Option<Sender<(String, String)>>,
    outcomes: Receiver<Outcome>,
    next_id: AtomicU64,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Listens on a free port; `function_name` goes into the invoked function's ARN.
    pub fn start(function_name: &str) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (events_tx, events_rx) = mpsc::channel();
        let (outcomes_tx, outcomes_rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        thread::Builder::new()
            .name("runtime-api".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = shared.clone();
                    // A connection ends when the function process closes it.
                    let _ = thread::Builder::new()
                        .name("runtime-api-conn".into())
                        .spawn(move || serve(stream, &shared));
                }
            })?;
        Ok(Self {
            addr,
            events: Some(events_tx),
            outcomes: outcomes_rx,
            next_id: AtomicU64::new(1),
            stop,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues an event for the next `GET …/invocation/next`; returns its request id.
    pub fn send(&self, event: &Value) -> String {
        let id = format!(
            "00000000-0000-4000-8000-{:012}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        if let Some(events) = &self.events {
            // The receiver lives as long as `self`: this cannot fail.
            let _ = events.send((id.clone(), event.to_string()));
        }
        id
    }

    /// The next post from the function, or `None` after `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Outcome> {
        self.outcomes.recv_timeout(timeout).ok()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Closing the queue ends a `next` that waits; the connection wakes the accept loop.
        self.events = None;
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(100));
    }
}

/// One HTTP/1.1 request: method, path, the error-type header and the body.
struct Request {
    method: String,
    path: String,
    error_type: Option<String>,
    body: Vec<u8>,
}

/// Reads one request; `None` when the client closed the connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let (method, path) = (method.to_owned(), path.to_owned());
    let (mut length, mut chunked, mut error_type) = (0, false, None);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = value
                    .parse()
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "content-length"))?;
            }
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "lambda-runtime-function-error-type" => error_type = Some(value.to_owned()),
            _ => {}
        }
    }
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some(Request {
        method,
        path,
        error_type,
        body,
    }))
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        reader.read_line(&mut line)?;
    }
}

fn write_response(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &str,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

/// Serves one connection until the client closes it.
fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Ok(Some(request)) = read_request(&mut reader) {
        if handle(&mut writer, shared, request).is_err() {
            return;
        }
    }
}

fn handle(stream: &mut TcpStream, shared: &Shared, request: Request) -> io::Result<()> {
    let route = request.path.strip_prefix(PREFIX).unwrap_or_default();
    let accepted =
        |stream: &mut TcpStream| write_response(stream, "202 Accepted", &[], r#"{"status":"OK"}"#);
    match (request.method.as_str(), route) {
        ("GET", "/invocation/next") => {
            let next = shared
                .events
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .recv();
            let Ok((id, event)) = next else {
                return write_response(stream, "410 Gone", &[], r#"{"message":"stopped"}"#);
            };
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                + DEADLINE;
            let headers = [
                ("lambda-runtime-aws-request-id", id),
                (
                    "lambda-runtime-deadline-ms",
                    deadline.as_millis().to_string(),
                ),
                (
                    "lambda-runtime-invoked-function-arn",
                    shared.function_arn.clone(),
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-5e66d96f-7491f09xmpl79d18acf3d050;Sampled=0".to_owned(),
                ),
            ];
            write_response(stream, "200 OK", &headers, &event)
        }
        ("POST", "/init/error") => {
            record(shared, Kind::InitError, None, request);
            accepted(stream)
        }
        ("POST", route) => {
            let posted = route.strip_prefix("/invocation/").and_then(|rest| {
                rest.strip_suffix("/response")
                    .map(|id| (Kind::Response, id))
                    .or_else(|| rest.strip_suffix("/error").map(|id| (Kind::Error, id)))
            });
            match posted {
                Some((kind, id)) => {
                    let id = id.to_owned();
                    record(shared, kind, Some(id), request);
                    accepted(stream)
                }
                None => write_response(
                    stream,
                    "404 Not Found",
                    &[],
                    r#"{"message":"no such route"}"#,
                ),
            }
        }
        _ => write_response(
            stream,
            "404 Not Found",
            &[],
            r#"{"message":"no such route"}"#,
        ),
    }
}

fn record(shared: &Shared, kind: Kind, request_id: Option<String>, request: Request) {
    let at = Instant::now();
    let body = serde_json::from_slice(&request.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&request.body).into_owned()));
    let _ = shared.outcomes.send(Outcome {
        kind,
        request_id,
        error_type_header: request.error_type,
        body,
        at,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One request on a fresh connection, as a runtime client sends it; the raw answer.
    fn exchange(api: &RuntimeApi, request: &str) -> String {
        let mut stream = TcpStream::connect(api.addr()).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        head + &String::from_utf8(body).unwrap()
    }

    #[test]
    fn next_hands_out_the_queued_event_with_its_headers_and_answers_are_recorded() {
        let api = RuntimeApi::start("books").unwrap();
        let id = api.send(&serde_json::json!({"hello": "world"}));
        let next = exchange(
            &api,
            &format!("GET {PREFIX}/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n"),
        );
        assert!(next.starts_with("HTTP/1.1 200"), "{next}");
        assert!(
            next.contains(&format!("lambda-runtime-aws-request-id: {id}")),
            "{next}"
        );
        assert!(next.contains("function:books"), "{next}");
        assert!(next.ends_with(r#"{"hello":"world"}"#), "{next}");

        let body = r#"{"statusCode":201,"body":"{\"id\":7}"}"#;
        let posted = exchange(
            &api,
            &format!(
                "POST {PREFIX}/invocation/{id}/response HTTP/1.1\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            ),
        );
        assert!(posted.starts_with("HTTP/1.1 202"), "{posted}");
        let outcome = api.recv(Duration::from_secs(5)).expect("an outcome");
        assert_eq!(
            (outcome.kind, outcome.request_id.as_deref()),
            (Kind::Response, Some(id.as_str()))
        );
        assert_eq!(outcome.api_response(), (201, serde_json::json!({"id": 7})));
    }

    #[test]
    fn a_chunked_init_error_is_recorded_with_its_error_type() {
        let api = RuntimeApi::start("books").unwrap();
        let body = r#"{"errorType":"ConfigError","errorMessage":"DB_PORT is invalid"}"#;
        let (a, b) = body.split_at(10);
        exchange(
            &api,
            &format!(
                "POST {PREFIX}/init/error HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: ConfigError\r\n\
                 transfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                a.len(),
                b.len()
            ),
        );
        let outcome = api.recv(Duration::from_secs(5)).expect("an outcome");
        assert_eq!(outcome.kind, Kind::InitError);
        assert_eq!(outcome.error_type_header.as_deref(), Some("ConfigError"));
        assert_eq!(outcome.error_type(), Some("ConfigError"));
        assert_eq!(outcome.error_message(), "DB_PORT is invalid");
        assert_eq!(outcome.status_code(), None);
    }

    #[test]
    fn an_unknown_route_is_404_and_records_nothing() {
        let api = RuntimeApi::start("books").unwrap();
        let answer = exchange(
            &api,
            &format!("POST {PREFIX}/invocation/x/other HTTP/1.1\r\ncontent-length: 0\r\n\r\n"),
        );
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
        assert!(api.recv(Duration::from_millis(200)).is_none());
    }
}
