//! A Lambda function's real `bootstrap` run as Lambda runs it, on this machine (feature
//! `lambda`).
//!
//! [`Instance`] starts the binary with the variables Lambda sets (and yours) against its
//! own [`RuntimeApi`], a local server that hands out the events you queue and records
//! what the function posts back: responses, invocation errors and init errors, each with
//! the instant it arrived, so a test can check answers and typed failures and a
//! benchmark can time a cold start (spawn → first answer). Nothing is mocked: the
//! process is the artifact you deploy, its runtime client the one inside it.
//!
//! ```no_run
//! use bookstore_testing::lambda::{Instance, Kind, rest_event, unzip_bootstrap};
//!
//! // Your zip, unzipped the way Lambda does it (needs `unzip`).
//! let dir = std::env::temp_dir().join("my-function");
//! std::fs::create_dir_all(&dir).unwrap();
//! let bootstrap = unzip_bootstrap("target/lambda/books/bootstrap.zip".as_ref(), &dir);
//!
//! let mut books = Instance::builder(&bootstrap)
//!     .name("books")
//!     .env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
//!     .log_file(dir.join("output.log"))
//!     .start()
//!     .expect("start the bootstrap");
//! let outcome = books.invoke(&rest_event("GET", "/book?limit=10", "/book", None));
//! assert_eq!(outcome.kind, Kind::Response);
//! assert_eq!(outcome.api_response().0, 200, "{}", books.output());
//! books.finish("list books"); // prints the cold start and peak RSS to stderr
//! ```
//!
//! Dependencies stay std and `serde_json`: the server is plain HTTP/1.1 on threads, so
//! it serves synchronous tests and async ones alike (its calls block the calling thread
//! for at most their timeout).

mod event;
mod runtime_api;

use std::{
    fmt, fs,
    io::{self, Write as _},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

pub use event::rest_event;
pub use runtime_api::{Kind, Outcome, PREFIX, RuntimeApi};

/// How long [`Instance::invoke`] and [`Instance::next_outcome`] wait for an answer.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Unzips the `bootstrap` of a Lambda zip into `dir` (with the `unzip` program) and
/// returns its path: the very file Lambda would run. Panics, naming the zip, when it is
/// missing or holds no `bootstrap`.
pub fn unzip_bootstrap(zip: &Path, dir: &Path) -> PathBuf {
    assert!(zip.is_file(), "{} is missing", zip.display());
    let status = Command::new("unzip")
        .args(["-q", "-o"])
        .arg(zip)
        .arg("bootstrap")
        .arg("-d")
        .arg(dir)
        .status()
        .unwrap_or_else(|e| panic!("run unzip ({e}; apt-get install unzip)"));
    assert!(status.success(), "unzip {} failed", zip.display());
    let bootstrap = dir.join("bootstrap");
    assert!(bootstrap.is_file(), "{} holds no bootstrap", zip.display());
    bootstrap
}

/// Why an invocation got no answer.
#[derive(Debug)]
pub struct Error {
    message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Figures of one function process.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Figures {
    /// Process spawn → the first post (response or error) the Runtime API received.
    pub cold_start: Option<Duration>,
    /// `VmHWM`: the peak resident set size, in KiB.
    pub peak_rss_kib: Option<u64>,
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cold = self
            .cold_start
            .map_or("-".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3));
        #[expect(
            clippy::cast_precision_loss,
            reason = "a process's RSS is far below 2^52 KiB"
        )]
        let rss = self
            .peak_rss_kib
            .map_or("-".into(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0));
        write!(f, "cold start {cold:>9}  peak RSS {rss:>10}")
    }
}

/// How to start an [`Instance`]: from [`Instance::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct InstanceBuilder {
    bootstrap: PathBuf,
    name: String,
    env: Vec<(String, String)>,
    log: Option<PathBuf>,
}

impl InstanceBuilder {
    /// `AWS_LAMBDA_FUNCTION_NAME` (default `function`), also used in messages.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// One more variable; it wins over Lambda's own and over earlier ones.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// More variables, as [`env`](Self::env).
    pub fn envs<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Where stdout and stderr go (Lambda sends both to CloudWatch); without it, nowhere.
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.log = Some(path.into());
        self
    }

    /// Starts a [`RuntimeApi`] and the process against it, with only the variables Lambda
    /// sets (the caller's environment does not leak in) plus those given here.
    pub fn start(self) -> io::Result<Instance> {
        let api = RuntimeApi::start(&self.name)?;
        let task_root = self
            .bootstrap
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."))
            .to_path_buf();
        let (stdout, stderr) = match &self.log {
            Some(path) => {
                let file = fs::File::create(path)?;
                (Stdio::from(file.try_clone()?), Stdio::from(file))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let name = &self.name;
        let mut command = Command::new(&self.bootstrap);
        command
            .env_clear()
            .current_dir(&task_root)
            .envs([
                ("AWS_LAMBDA_RUNTIME_API", api.addr().to_string()),
                ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
                ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
                (
                    "AWS_LAMBDA_LOG_STREAM_NAME",
                    "2026/01/01/[$LATEST]local".into(),
                ),
                ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
                ("AWS_REGION", "us-east-1".into()),
                ("AWS_DEFAULT_REGION", "us-east-1".into()),
                ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".into()),
                ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
                ("_HANDLER", "bootstrap".into()),
                ("TZ", ":UTC".into()),
                ("LANG", "en_US.UTF-8".into()),
                ("PATH", "/usr/local/bin:/usr/bin/:/bin".into()),
            ])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let spawned = Instant::now();
        let child = command.spawn().map_err(|e| {
            io::Error::new(e.kind(), format!("start {}: {e}", self.bootstrap.display()))
        })?;
        Ok(Instance {
            name: self.name,
            api,
            child,
            spawned,
            log: self.log,
            first_outcome: None,
        })
    }
}

/// One function process (a built bootstrap) served by its own [`RuntimeApi`]; dropping
/// it kills the process.
#[derive(Debug)]
pub struct Instance {
    name: String,
    api: RuntimeApi,
    child: Child,
    spawned: Instant,
    log: Option<PathBuf>,
    first_outcome: Option<Instant>,
}

impl Instance {
    /// How to start `bootstrap`.
    pub fn builder(bootstrap: impl Into<PathBuf>) -> InstanceBuilder {
        InstanceBuilder {
            bootstrap: bootstrap.into(),
            name: "function".to_owned(),
            env: Vec::new(),
            log: None,
        }
    }

    /// The function name it was started with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the function has written so far (empty without a log file).
    pub fn output(&self) -> String {
        self.log
            .as_ref()
            .and_then(|log| fs::read_to_string(log).ok())
            .unwrap_or_default()
    }

    /// Sends `event` and waits up to [`INVOKE_TIMEOUT`] for the answer to it (or an
    /// init error); panics with the function's output when none comes.
    pub fn invoke(&mut self, event: &Value) -> Outcome {
        self.try_invoke(event, INVOKE_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sends `event` and waits up to `timeout` for the answer to it (or an init error).
    pub fn try_invoke(&mut self, event: &Value, timeout: Duration) -> Result<Outcome, Error> {
        let id = self.api.send(event);
        self.wait(Some(&id), timeout)
    }

    /// The next post, whatever it answers (an init error, typically); panics with the
    /// function's output when none comes within [`INVOKE_TIMEOUT`].
    pub fn next_outcome(&mut self) -> Outcome {
        self.wait(None, INVOKE_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits for the post answering `id` (any post when `None`; an init error always).
    fn wait(&mut self, id: Option<&str>, timeout: Duration) -> Result<Outcome, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(outcome) = self.api.recv(left.min(Duration::from_millis(200))) else {
                if let Ok(Some(status)) = self.child.try_wait() {
                    return Err(self.error(&format!("exited ({status}) without answering")));
                }
                if Instant::now() >= deadline {
                    return Err(self.error(&format!("did not answer within {timeout:?}")));
                }
                continue;
            };
            self.first_outcome.get_or_insert(outcome.at);
            if outcome.kind == Kind::InitError
                || id.is_none()
                || outcome.request_id.as_deref() == id
            {
                return Ok(outcome);
            }
        }
    }

    fn error(&self, what: &str) -> Error {
        let output = self.output();
        Error {
            message: if output.is_empty() {
                format!("{} {what}", self.name)
            } else {
                format!("{} {what}; its output:\n{output}", self.name)
            },
        }
    }

    /// Waits (up to 10 s, else panics) for the process to exit, as it must after an
    /// init error, and returns its exit code.
    pub fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the process") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "{} did not exit", self.name);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// A `/proc/<pid>/status` figure in KiB, e.g. `VmHWM` (peak RSS) or `VmRSS`.
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status.lines().find_map(|line| {
            line.strip_prefix(field)?
                .strip_prefix(':')?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
    }

    /// Spawn → the first post the Runtime API received, once there was one.
    pub fn cold_start(&self) -> Option<Duration> {
        self.first_outcome.map(|at| at - self.spawned)
    }

    /// Stops the process; its cold start and peak RSS.
    pub fn stop(mut self) -> Figures {
        let figures = Figures {
            cold_start: self.cold_start(),
            peak_rss_kib: self.status_kib("VmHWM"),
        };
        let _ = self.child.kill();
        let _ = self.child.wait();
        figures
    }

    /// [`stop`](Self::stop), and prints the figures to stderr (past a test harness's
    /// capture: they are a report, not an assertion) after `label`.
    pub fn finish(self, label: &str) -> Figures {
        let name = self.name.clone();
        let figures = self.stop();
        let _ = writeln!(io::stderr(), "lambda: {name:<14} {label:<44} {figures}");
        figures
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
