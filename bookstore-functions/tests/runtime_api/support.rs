//! The artifacts, the function processes and the API Gateway events.

use std::{
    fs,
    io::Write as _,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::fixture::{Kind, Outcome, RuntimeApi};

/// How long one invocation may take before the test gives up.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf()
}

static SCRATCH: AtomicU32 = AtomicU32::new(0);

/// A fresh folder under `target/runtime-api/` for one test's files.
pub fn scratch_dir(what: &str) -> PathBuf {
    let dir = workspace_root().join("target/runtime-api").join(format!(
        "{what}-{}-{}",
        std::process::id(),
        SCRATCH.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// The `bootstrap` inside `target/lambda/<name>/bootstrap.zip`, unzipped into `dir`:
/// the very file Lambda would run. A missing zip fails the test, saying how to build it.
pub fn unzip_bootstrap(name: &str, dir: &Path) -> PathBuf {
    let zip = workspace_root().join(format!("target/lambda/{name}/bootstrap.zip"));
    assert!(
        zip.is_file(),
        "{} is missing: the end-to-end tests run the built Lambda artifacts. \
         Build them first with `bash scripts/build-lambdas.sh` (then `bash scripts/check-artifacts.sh`).",
        zip.display()
    );
    let status = Command::new("unzip")
        .args(["-q", "-o"])
        .arg(&zip)
        .arg("bootstrap")
        .arg("-d")
        .arg(dir)
        .status()
        .expect("run unzip (apt-get install unzip)");
    assert!(status.success(), "unzip {} failed", zip.display());
    let bootstrap = dir.join("bootstrap");
    assert!(bootstrap.is_file(), "{} holds no bootstrap", zip.display());
    bootstrap
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER` of a `postgres://user@host:port/name` URL:
/// the functions get the parts, as on AWS.
pub fn db_parts(url: &str) -> Vec<(String, String)> {
    let rest = url.split_once("://").expect("a URL").1;
    let (userinfo, rest) = rest.rsplit_once('@').expect("a user in the test URL");
    let user = userinfo.split(':').next().unwrap_or(userinfo);
    let (hostport, name) = rest.split_once('/').expect("a database in the test URL");
    let name = name.split('?').next().unwrap_or(name);
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    [
        ("DB_HOST", host),
        ("DB_PORT", port),
        ("DB_NAME", name),
        ("DB_USER", user),
        ("DB_SSLMODE", "prefer"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Figures of one function process, printed by [`Lambda::finish`].
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Process spawn → the first response (or error) the Runtime API received.
    pub cold_start: Option<Duration>,
    /// `VmHWM`: the peak resident set size, in KiB.
    pub peak_rss_kib: Option<u64>,
}

/// One function process (a built bootstrap) served by its own [`RuntimeApi`].
pub struct Lambda {
    pub name: String,
    api: RuntimeApi,
    child: Child,
    spawned: Instant,
    log: PathBuf,
    first_outcome: Option<Instant>,
}

impl Lambda {
    /// Unzips `target/lambda/<name>/bootstrap.zip` and starts it against a new Runtime
    /// API, with a Lambda-like environment plus `env`.
    pub async fn start(name: &str, env: &[(String, String)]) -> Self {
        let dir = scratch_dir(name);
        let bootstrap = unzip_bootstrap(name, &dir);
        let api = RuntimeApi::start().await;
        let log = dir.join("output.log");
        let out = fs::File::create(&log).expect("create the log file");
        let err = out.try_clone().expect("clone the log file");
        let mut command = Command::new(&bootstrap);
        command
            .env_clear()
            .current_dir(&dir)
            .envs([
                ("AWS_LAMBDA_RUNTIME_API", api.addr.to_string()),
                ("AWS_LAMBDA_FUNCTION_NAME", format!("bookstore-{name}")),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
                (
                    "AWS_LAMBDA_LOG_GROUP_NAME",
                    format!("/aws/lambda/bookstore-{name}"),
                ),
                (
                    "AWS_LAMBDA_LOG_STREAM_NAME",
                    "2026/11/21/[$LATEST]e2e".into(),
                ),
                ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
                ("AWS_REGION", "us-east-1".into()),
                ("AWS_DEFAULT_REGION", "us-east-1".into()),
                ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".into()),
                ("LAMBDA_TASK_ROOT", dir.display().to_string()),
                ("_HANDLER", "bootstrap".into()),
                ("TZ", ":UTC".into()),
                ("LANG", "en_US.UTF-8".into()),
                ("PATH", "/usr/local/bin:/usr/bin/:/bin".into()),
                ("RUST_LOG", "info".into()),
            ])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let spawned = Instant::now();
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bootstrap.display()));
        Self {
            name: name.to_owned(),
            api,
            child,
            spawned,
            log,
            first_outcome: None,
        }
    }

    /// What the function has written so far (its JSON log lines).
    pub fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `event` and waits for the answer to it (or an init error).
    pub async fn invoke(&mut self, event: Value) -> Outcome {
        let id = self.api.send(event);
        self.wait_for(Some(&id)).await
    }

    /// Waits for the next post answering `id` (any post when `None`).
    pub async fn wait_for(&mut self, id: Option<&str>) -> Outcome {
        let deadline = Instant::now() + INVOKE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(outcome) = self.api.recv(left.min(Duration::from_millis(200))).await else {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!(
                        "{} exited ({status}) without answering; its output:\n{}",
                        self.name,
                        self.output()
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "{} did not answer within {INVOKE_TIMEOUT:?}; its output:\n{}",
                    self.name,
                    self.output()
                );
                continue;
            };
            self.first_outcome.get_or_insert(outcome.at);
            if outcome.kind == Kind::InitError
                || id.is_none()
                || outcome.request_id.as_deref() == id
            {
                return outcome;
            }
        }
    }

    /// Waits for the process to exit (after an init error) and returns its exit code.
    pub async fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the process") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.name);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the process and prints (not asserts) its cold start and peak RSS.
    pub fn finish(mut self, label: &str) -> Figures {
        let peak_rss_kib = fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status.lines().find_map(|line| {
                    line.strip_prefix("VmHWM:")
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                })
            });
        let _ = self.child.kill();
        let _ = self.child.wait();
        let figures = Figures {
            cold_start: self.first_outcome.map(|at| at - self.spawned),
            peak_rss_kib,
        };
        // Straight to stderr, past the test harness's capture: the figures are the report.
        let _ = writeln!(
            std::io::stderr(),
            "runtime-api e2e: {:<14} {:<44} cold start {:>9}  peak RSS {:>10}",
            self.name,
            label,
            figures
                .cold_start
                .map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3)),
            figures
                .peak_rss_kib
                .map_or("-".into(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0)),
        );
        figures
    }
}

impl Drop for Lambda {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An API Gateway REST proxy event (the AWS sample event, stage `prod`) for `method`
/// on `path`, matched by `resource`, with a JSON `body`.
pub fn rest_event(method: &str, path: &str, resource: &str, body: Option<&Value>) -> Value {
    let template = include_str!("fixtures/rest-event-template.json");
    let mut event: Value = serde_json::from_str(template).expect("the template is JSON");
    let (path_only, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let path_parameters = resource
        .split('/')
        .zip(path_only.split('/'))
        .filter_map(|(r, p)| {
            let name = r.strip_prefix('{')?.strip_suffix('}')?;
            Some((name.to_owned(), Value::String(p.to_owned())))
        })
        .collect::<serde_json::Map<_, _>>();
    let (single, multi) = match query {
        None => (Value::Null, Value::Null),
        Some(q) => {
            let mut single = serde_json::Map::new();
            let mut multi = serde_json::Map::new();
            for (k, v) in q.split('&').filter_map(|kv| kv.split_once('=')) {
                single.insert(k.to_owned(), json!(v));
                multi
                    .entry(k.to_owned())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .expect("an array")
                    .push(json!(v));
            }
            (Value::Object(single), Value::Object(multi))
        }
    };
    event["resource"] = json!(resource);
    event["path"] = json!(path_only);
    event["httpMethod"] = json!(method);
    event["pathParameters"] = if path_parameters.is_empty() {
        Value::Null
    } else {
        Value::Object(path_parameters)
    };
    event["queryStringParameters"] = single;
    event["multiValueQueryStringParameters"] = multi;
    event["body"] = body.map_or(Value::Null, |b| json!(b.to_string()));
    event["isBase64Encoded"] = json!(false);
    event["requestContext"]["resourcePath"] = json!(resource);
    event["requestContext"]["httpMethod"] = json!(method);
    event["requestContext"]["path"] = json!(format!("/prod{path_only}"));
    event
}

/// The API Gateway response an [`Outcome`] carries: status and JSON body.
pub fn api_response(outcome: &Outcome) -> (u16, Value) {
    assert_eq!(
        outcome.kind,
        Kind::Response,
        "expected a response, got {outcome:?}"
    );
    let status = outcome.body["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or_else(|| panic!("no statusCode in {}", outcome.body));
    let body = match &outcome.body["body"] {
        Value::String(text) if !text.is_empty() => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
        }
        _ => Value::Null,
    };
    (status, body)
}
