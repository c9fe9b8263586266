//! The machine, the tools and the binaries: where things are and what versions they are.

use std::{
    fmt::Write as _,
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

/// The workspace root (two levels above this package).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The directory the release binaries are in (`target/release`, or wherever
/// `CARGO_TARGET_DIR` put them): the harness's own, as `cargo run --release` built it.
pub fn release_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| workspace_root().join("target").join("release"))
}

/// `books`, as `cargo build --release` built it beside the harness (LTO, one codegen
/// unit, stripped).
pub fn books_exe() -> anyhow::Result<PathBuf> {
    built(&["books"], "books", FUNCTIONS_BUILD)
}

/// `bookstore-local`, likewise.
pub fn local_exe() -> anyhow::Result<PathBuf> {
    built(&["bookstore-local"], "bookstore-local", FUNCTIONS_BUILD)
}

/// The throughput baseline (`bench/src/bin/reference-server.rs`), likewise.
pub fn reference_exe() -> anyhow::Result<PathBuf> {
    built(&["reference-server"], "reference-server", REFERENCE_BUILD)
}

/// `cargo build` arguments that build the functions and the cold-start baseline.
const FUNCTIONS_BUILD: &[&str] = &[
    "build",
    "--release",
    "-p",
    "bookstore-functions",
    "--bins",
    "--example",
    "select1",
];

/// `cargo build` arguments that build the throughput baseline.
const REFERENCE_BUILD: &[&str] = &[
    "build",
    "--release",
    "-p",
    "bookstore-bench",
    "--bin",
    "reference-server",
];

/// The cold-start baseline (`bookstore-functions/examples/select1.rs`), likewise.
pub fn select1_exe() -> anyhow::Result<PathBuf> {
    built(&["examples", "select1"], "select1", FUNCTIONS_BUILD)
}

/// `path` under the release directory; when it is missing, built first with `cargo
/// <build>` (`scripts/bench.sh` builds every one before the harness, so that the binaries
/// are current).
fn built(path: &[&str], what: &str, build: &[&str]) -> anyhow::Result<PathBuf> {
    let exe = path.iter().fold(release_dir(), |dir, p| dir.join(p));
    if !exe.exists() {
        let command = format!("cargo {}", build.join(" "));
        eprintln!("bench: {what} is missing; {command}");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .current_dir(workspace_root())
            .args(build)
            .status()
            .with_context(|| format!("running {command}"))?;
        if !status.success() || !exe.exists() {
            bail!("could not build {}; run `{command}`", exe.display());
        }
    }
    Ok(exe)
}

/// Where the harness keeps its scratch files (pgbench logs, the pgbouncer config).
pub fn scratch_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = release_dir()
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("bench")
        .join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A fresh directory under the system's temporary directory, for a tool that runs as
/// another user (pgbouncer runs as `postgres` when we are root): a checkout may sit
/// below a directory only its owner can enter, as `mktemp -d` makes them.
pub fn shared_scratch_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("bookstore-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A TCP port on 127.0.0.1 nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while started.elapsed() < timeout {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("nothing listens on 127.0.0.1:{port} after {timeout:?}")
}

/// A bare HTTP/1.1 `GET` on 127.0.0.1: the status code, or an error.
pub fn http_get_status(port: u16, path: &str) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head)?;
    let text = std::str::from_utf8(&head[9..12])?;
    Ok(text.parse()?)
}

/// Whether `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// The first line a command prints (stdout or stderr), or `?`.
pub fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// Whether this process runs as root (pgbouncer then needs `-u postgres`).
pub fn is_root() -> bool {
    first_line("id", &["-u"]).trim() == "0"
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The load average now (`1 5 15` minutes), to show how busy the shared machine was.
pub fn loadavg() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The version of `name` in the workspace's `Cargo.lock`.
fn locked_version(lock: &str, name: &str) -> String {
    let needle = format!("name = \"{name}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|i| {
            let rest = &lock[i + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// Markdown lines: machine, OS, toolchain, crate and tool versions, git commit.
pub fn describe(server_version: &str, database_url_note: &str) -> String {
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(|| "?".to_owned(), |m| m.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mem = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or_else(|| "?".to_owned(), |kb| format!("{} GiB", kb / 1024 / 1024));
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map_or_else(|| "?".to_owned(), |v| v.trim_matches('"').to_owned());
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
    let lock = read(&workspace_root().join("Cargo.lock").to_string_lossy());
    let crates: Vec<String> = [
        "diesel",
        "pq-sys",
        "r2d2",
        "axum",
        "tokio",
        "lambda_runtime",
        "lambda_http",
    ]
    .iter()
    .map(|c| format!("{c} {}", locked_version(&lock, c)))
    .collect();
    let commit = first_line(
        "git",
        &[
            "-C",
            &workspace_root().to_string_lossy(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    let dirty = Command::new("git")
        .args([
            "-C",
            &workspace_root().to_string_lossy(),
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    let wrk = first_line("wrk", &["-v"]);
    let wrk = wrk.split(" [").next().unwrap_or("?");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "- machine: {cpu}, {cores} cores, {mem} RAM, shared with other work (load averages below)"
    );
    let _ = writeln!(out, "- OS: {os}, kernel {kernel}");
    let _ = writeln!(out, "- toolchain: {}", first_line("rustc", &["-V"]));
    let _ = writeln!(
        out,
        "- crates: {} (libpq is pq-sys's bundled build)",
        crates.join(", ")
    );
    let _ = writeln!(out, "- PostgreSQL: {server_version}; {database_url_note}");
    let _ = writeln!(
        out,
        "- tools: {}, {}, {}, {}",
        wrk,
        first_line("pgbench", &["--version"]),
        first_line("pgbouncer", &["--version"]),
        first_line("hyperfine", &["--version"])
    );
    let _ = writeln!(
        out,
        "- commit: {commit}{}",
        if dirty {
            " (with uncommitted changes in the working tree)"
        } else {
            ""
        }
    );
    out
}
