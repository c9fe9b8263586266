//! A fresh app per test on either backend, and helpers to drive it in-process.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use bookstore_functions::{Function, app};
use bookstore_kit::{AppState, Dispatch, startup};
use bookstore_schema::{Backend, DbConnection, DbTarget, PoolConfig};
use bookstore_testing::TestDb;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::AbortHandle};
use tower::ServiceExt;

/// Runs each named `async fn name(app: TestApp)` once per backend, as the tests
/// `name::on_postgres`, `name::on_sqlite` and, with the `mysql` feature, `name::on_mysql`
/// (MariaDB), each on its own fresh database.
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let app = $crate::support::TestApp::new(bookstore_schema::Backend::Postgres, module_path!());
                super::$name(app).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let app = $crate::support::TestApp::new(bookstore_schema::Backend::Sqlite, module_path!());
                super::$name(app).await
            }

            #[cfg(feature = "mysql")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_mysql() {
                let app = $crate::support::TestApp::new(bookstore_schema::Backend::Mysql, module_path!());
                super::$name(app).await
            }
        }
    )+};
}
pub(crate) use backend_tests;

/// Pool settings for tests: small, with a checkout timeout short enough for 503 tests
/// and long enough for 16 concurrent writers on SQLite.
pub fn pool_config(max_size: u32) -> PoolConfig {
    PoolConfig::default()
        .with_max_size(max_size)
        .with_checkout_timeout(Duration::from_secs(5))
}

/// Installs a global subscriber that records nothing, once per test binary.
///
/// `tracing` caches each callsite's interest process-wide, computed by the first thread
/// that reaches it: a test thread without a subscriber caches "never", and the log tests'
/// scoped subscribers then miss that line. With a global subscriber every thread asks a
/// real one, and the scoped subscriber's own filter decides.
pub fn global_subscriber() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
}

/// A migrated database of one backend, named after the test.
pub fn test_db(backend: Backend, test: &str) -> TestDb {
    global_subscriber();
    TestDb::migrated_on(backend, test)
}

/// A test's database, state and router over the whole API.
pub struct TestApp {
    /// The database (dropped after the test).
    pub db: TestDb,
    /// The state the router runs on.
    pub state: AppState,
    /// `app(state, Function::All)`.
    pub router: Router,
}

impl TestApp {
    /// A fresh migrated database and the app over it (pool of 2).
    pub fn new(backend: Backend, test: &str) -> Self {
        Self::with_pool(test_db(backend, test), &pool_config(2))
    }

    /// The app over `db` with these pool settings. Builds the state through the same
    /// library function the binaries use.
    pub fn with_pool(db: TestDb, config: &PoolConfig) -> Self {
        let target = db.target();
        Self::with_target(db, target, config)
    }

    /// The app over `target` (a proxy, a closed port…), keeping `db` for direct access.
    /// Units of work dispatch as a deployed function's would for this pool size.
    pub fn with_target(db: TestDb, target: DbTarget, config: &PoolConfig) -> Self {
        Self::with_dispatch(db, target, config, Dispatch::for_pool_size(config.max_size))
    }

    /// [`TestApp::with_target`] with the units of work dispatched as `dispatch` says.
    pub fn with_dispatch(
        db: TestDb,
        target: DbTarget,
        config: &PoolConfig,
        dispatch: Dispatch,
    ) -> Self {
        global_subscriber();
        let state = startup::build_state(target, config, dispatch).expect("build the state");
        let router = app(state.clone(), Function::All);
        Self { db, state, router }
    }

    /// The backend under test.
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Sends a request through the router.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        send(&self.router, request).await
    }

    /// `GET uri`.
    pub async fn get(&self, uri: &str) -> TestResponse {
        self.send(request(Method::GET, uri, None)).await
    }

    /// `POST uri` with a JSON body.
    pub async fn post(&self, uri: &str, body: Value) -> TestResponse {
        self.send(request(Method::POST, uri, Some(body))).await
    }

    /// `PUT uri` with a JSON body.
    pub async fn put(&self, uri: &str, body: Value) -> TestResponse {
        self.send(request(Method::PUT, uri, Some(body))).await
    }

    /// `PATCH uri` with a JSON body and, when given, `If-Match`.
    pub async fn patch(&self, uri: &str, if_match: Option<&str>, body: Value) -> TestResponse {
        self.send(with_if_match(
            request(Method::PATCH, uri, Some(body)),
            if_match,
        ))
        .await
    }

    /// `DELETE uri` with `If-Match`, when given.
    pub async fn delete(&self, uri: &str, if_match: Option<&str>) -> TestResponse {
        self.send(with_if_match(request(Method::DELETE, uri, None), if_match))
            .await
    }

    /// Creates a book through the API and returns its id.
    pub async fn create_book(&self, title: &str) -> i32 {
        let response = self.post("/book", book_json(title)).await;
        response.assert_status(StatusCode::CREATED);
        id_of(&response.body)
    }

    /// Creates a review through the API and returns its id.
    pub async fn create_review(&self, book_id: i32, rate: i64) -> i32 {
        let response = self
            .post(
                "/review",
                json!({"book_id": book_id, "reviewer": "Ann", "rate": rate}),
            )
            .await;
        response.assert_status(StatusCode::CREATED);
        id_of(&response.body)
    }

    /// A direct connection to the test database, outside the app's pool.
    pub fn connect(&self) -> DbConnection {
        self.db.connect()
    }

    /// `SELECT count(*) FROM table`, read directly.
    pub fn count(&self, table: &str) -> i64 {
        count(&mut self.connect(), table)
    }
}

/// A book body with valid fields.
pub fn book_json(title: &str) -> Value {
    json!({"title": title, "author": "Frank Herbert", "publisher": "Chilton", "year": 1965})
}

/// The `id` field of a JSON object.
pub fn id_of(body: &Value) -> i32 {
    body["id"]
        .as_i64()
        .and_then(|id| i32::try_from(id).ok())
        .unwrap_or_else(|| panic!("no id in {body}"))
}

/// `SELECT count(*) FROM table` on `conn`.
pub fn count(conn: &mut DbConnection, table: &str) -> i64 {
    count_sql(conn, &format!("SELECT count(*) AS n FROM {table}"))
}

/// Runs `SELECT … AS n` and returns `n`.
pub fn count_sql(conn: &mut DbConnection, sql: &str) -> i64 {
    bookstore_testing::scalar(conn, sql)
}

/// A request with an optional JSON body.
pub fn request(method: Method, uri: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder().method(method).uri(uri);
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("a valid request")
}

/// `request` with an `If-Match` header, when given.
pub fn with_if_match(mut request: Request<Body>, if_match: Option<&str>) -> Request<Body> {
    if let Some(value) = if_match {
        request.headers_mut().insert(
            header::IF_MATCH,
            value.parse().expect("a valid header value"),
        );
    }
    request
}

/// A response, its body read and parsed when it is JSON.
#[derive(Debug)]
pub struct TestResponse {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body parsed as JSON, `Value::Null` when empty or not JSON.
    pub body: Value,
    /// The raw body.
    pub text: String,
}

impl TestResponse {
    /// Panics with the body unless the status is `status`.
    pub fn assert_status(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.text);
        self
    }

    /// Asserts the error shape, code and status; returns the error object.
    pub fn assert_error(&self, status: StatusCode, code: &str) -> &Value {
        self.assert_status(status);
        assert_eq!(
            self.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "{}",
            self.text
        );
        let error = &self.body["error"];
        assert_eq!(error["code"], code, "body: {}", self.text);
        assert!(error["message"].is_string(), "body: {}", self.text);
        let keys: Vec<&String> = self.body.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["error"], "only `error` at the top: {}", self.text);
        error
    }

    /// The `ETag` header; panics without one.
    pub fn etag(&self) -> String {
        self.headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no ETag: {:?}", self.headers))
            .to_owned()
    }

    /// Like [`TestResponse::assert_error`], also checking the `field`.
    pub fn assert_field_error(&self, status: StatusCode, code: &str, field: &str) -> &Value {
        let error = self.assert_error(status, code);
        assert_eq!(error["field"], field, "body: {}", self.text);
        error
    }
}

/// Sends `request` through `service` (a router, or the Lambda service).
pub async fn send(router: &Router, request: Request<Body>) -> TestResponse {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("routers are infallible");
    read(response).await
}

/// Reads an axum response.
pub async fn read(response: axum::response::Response) -> TestResponse {
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("read the body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    TestResponse {
        status: parts.status,
        headers: parts.headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// A TCP proxy in front of the test PostgreSQL server that can be taken down (every
/// connection through it cut, new ones refused) and brought back on the same port.
pub struct Proxy {
    /// The port it listens on.
    pub port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    /// Starts a proxy to the server behind `TEST_DATABASE_URL`.
    pub async fn start(up: bool) -> Self {
        let upstream = upstream_addr();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(AtomicBool::new(up));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (flag, conns) = (state.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !flag.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().expect("proxy lock").push(task.abort_handle());
            }
        })
        .abort_handle();
        Self {
            port,
            up: state,
            connections,
            accept,
        }
    }

    /// Cuts every connection and refuses new ones.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().expect("proxy lock").drain(..) {
            connection.abort();
        }
    }

    /// Accepts connections again.
    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// `db`'s URL with the proxy as host and port.
    pub fn target_for(&self, db: &TestDb) -> DbTarget {
        DbTarget::from_url(&replace_host_port(
            &db.url(),
            &format!("127.0.0.1:{}", self.port),
        ))
        .expect("a valid URL")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.down();
        self.accept.abort();
    }
}

/// The `host:port` of `TEST_DATABASE_URL`'s server.
fn upstream_addr() -> SocketAddr {
    let url = bookstore_testing::admin_url();
    let authority = authority(&url);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port
        .parse()
        .unwrap_or_else(|e| panic!("TEST_DATABASE_URL host {host_port} is not an address: {e}"))
}

fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// `url` with its `host[:port]` replaced, keeping any user and password.
pub fn replace_host_port(url: &str, host_port: &str) -> String {
    let authority = authority(url);
    let new_authority = match authority.rsplit_once('@') {
        Some((user, _)) => format!("{user}@{host_port}"),
        None => host_port.to_owned(),
    };
    url.replacen(authority, &new_authority, 1)
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}
