//! Cold start: the real `books` binary through `bookstore_testing::lambda`, from spawn to its
//! first `GET /book` answer (200), beside a process that opens one connection with the
//! same libpq and runs `SELECT 1`. Runs alternate (baseline, books, books, baseline, …)
//! so that drift on the shared machine hits both alike.

use std::{
    fmt::Write as _,
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

use bookstore_testing::lambda::{Instance, rest_event};

use crate::{
    report::{Row, Section, Verdict},
    stats::{Samples, fmt_dur, ratio},
    system,
};

/// The targets.
const TARGET_ABS: Duration = Duration::from_millis(15);
const TARGET_RATIO: f64 = 2.0;

/// Spawn → the baseline's `ok` line.
fn run_select1(exe: &Path, url: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut child = Command::new(exe)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting select1")?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    let elapsed = started.elapsed();
    let output = child.wait_with_output()?;
    if line.trim() != "ok" || !output.status.success() {
        bail!(
            "select1 failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(elapsed)
}

/// Spawn → the Runtime API receives `books`' answer to a `GET /book?limit=10`.
fn run_books(exe: &Path, url: &str) -> anyhow::Result<Duration> {
    let log = system::scratch_dir("cold-start")?.join("books.log");
    let mut books = Instance::builder(exe)
        .name("books")
        .env("DATABASE_URL", url)
        .log_file(log)
        .start()?;
    let event = rest_event("GET", "/book?limit=10", "/book", None);
    let outcome = books.try_invoke(&event, Duration::from_secs(20))?;
    let elapsed = books.cold_start().context("no answer timed")?;
    match outcome.status_code() {
        Some(200) => Ok(elapsed),
        other => bail!(
            "books answered {:?} {other:?}: {}",
            outcome.kind,
            outcome.body
        ),
    }
}

/// One pair of series (books, baseline) over `url`.
fn measure(
    books: &Path,
    select1: &Path,
    url: &str,
    runs: usize,
) -> anyhow::Result<(Samples, Samples)> {
    // Page cache and the server's first-connection work, for both.
    for _ in 0..2 {
        run_select1(select1, url)?;
        run_books(books, url)?;
    }
    let mut app = Vec::with_capacity(runs);
    let mut base = Vec::with_capacity(runs);
    for i in 0..runs {
        if i % 2 == 0 {
            base.push(run_select1(select1, url)?);
            app.push(run_books(books, url)?);
        } else {
            app.push(run_books(books, url)?);
            base.push(run_select1(select1, url)?);
        }
    }
    Ok((Samples::new(app), Samples::new(base)))
}

/// hyperfine's view of the baseline and of `true` (the cost of a process at all), as a
/// cross-check of the harness's own clock.
fn hyperfine(select1: &Path, url: &str, runs: usize) -> Option<String> {
    if !system::have("hyperfine") {
        return None;
    }
    let dir = system::scratch_dir("hyperfine").ok()?;
    let json = dir.join("select1.json");
    let output = Command::new("hyperfine")
        .env("DATABASE_URL", url)
        .args(["-N", "--style", "none", "--warmup", "3", "--runs"])
        .arg(runs.to_string())
        .arg("--export-json")
        .arg(&json)
        .arg(select1)
        .arg("true")
        .output()
        .ok()?;
    if !output.status.success() {
        return Some(format!(
            "hyperfine failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).ok()?).ok()?;
    let results = value.get("results")?.as_array()?;
    let median = |i: usize| {
        results
            .get(i)
            .and_then(|r| r.get("median"))
            .and_then(serde_json::Value::as_f64)
            .map_or_else(|| "?".to_owned(), |s| fmt_dur(Duration::from_secs_f64(s)))
    };
    let _ = std::fs::remove_dir_all(&dir);
    Some(format!(
        "hyperfine (`-N`, {runs} runs, whole process including exit): `select1` median {}, `true` median {}",
        median(0),
        median(1)
    ))
}

/// The rows: with TLS (`sslmode=require`, what production uses) and without.
pub fn run(base_url: &str, runs: usize) -> Section {
    let mut section = Section::default();
    let exes = system::select1_exe().and_then(|select1| Ok((select1, system::books_exe()?)));
    let (select1, books) = match exes {
        Ok(exes) => exes,
        Err(e) => {
            section
                .rows
                .push(Row::broken("cold start", "≤ 15 ms, ≤ 2× baseline", &e));
            return section;
        }
    };
    let mut notes = String::new();
    let _ = writeln!(
        notes,
        "`books` (release build: LTO, one codegen unit, stripped) is started as Lambda starts it: only the \
         Lambda variables and `DATABASE_URL`, against `bookstore_testing::lambda`'s Runtime API (its output to a file), \
         with a `GET /book?limit=10` REST event queued. The clock runs from `spawn` to the fixture receiving the response (status 200 \
         checked): process start, tokio, logs, configuration, the pool (no connection), the schema check at \
         start (connect + 2 queries), the Runtime API round trip, the request (one select: the connection was used a moment ago, so no ping, and one statement needs no `BEGIN`/`COMMIT`). \
         The baseline (`examples/select1.rs`) runs from `spawn` to its `ok` line after `SELECT 1` on one \
         connection opened the same way (`DbConnection::establish`: libpq, then diesel's two `SET`s). {runs} runs each, \
         alternating, after 2 warm-up runs each; medians."
    );
    for (label, mode) in [("TLS", "require"), ("no TLS", "disable")] {
        let url = format!("{base_url}?sslmode={mode}");
        match measure(&books, &select1, &url, runs) {
            Ok((app, base)) => {
                let r = ratio(app.p50(), base.p50());
                let ok = app.p50() <= TARGET_ABS && r <= TARGET_RATIO;
                section.rows.push(Row::new(
                    format!(
                        "cold start, {label} (`sslmode={mode}`), spawn → first `GET /book` 200"
                    ),
                    format!(
                        "median {} (p90 {}, n={})",
                        fmt_dur(app.p50()),
                        fmt_dur(app.quantile(0.9)),
                        app.len()
                    ),
                    format!(
                        "`select1`: median {} (p90 {})",
                        fmt_dur(base.p50()),
                        fmt_dur(base.quantile(0.9))
                    ),
                    format!("≤ 15 ms and ≤ 2× baseline: {r:.2}×"),
                    Verdict::from_ok(ok),
                ));
                let _ = writeln!(
                    notes,
                    "\n- {label}: books min {} / median {} / max {}; select1 min {} / median {} / max {}; \
                     books − select1 at the median: {}.",
                    fmt_dur(app.quantile(0.0)),
                    fmt_dur(app.p50()),
                    fmt_dur(app.quantile(1.0)),
                    fmt_dur(base.quantile(0.0)),
                    fmt_dur(base.p50()),
                    fmt_dur(base.quantile(1.0)),
                    fmt_dur(app.p50().saturating_sub(base.p50())),
                );
                if mode == "require"
                    && let Some(line) = hyperfine(&select1, &url, runs)
                {
                    let _ = writeln!(notes, "- Cross-check, TLS: {line}.");
                }
                // The deployed bootstrap is the same code linked by cargo-lambda (zig, glibc
                // 2.34); when scripts/build-lambdas.sh has left it, time it too.
                let artifact = system::release_dir()
                    .parent()
                    .map(|t| t.join("lambda").join("books").join("bootstrap"));
                if mode == "require"
                    && let Some(artifact) = artifact.filter(|a| a.exists())
                {
                    match measure(&artifact, &select1, &url, runs) {
                        Ok((app, base)) => {
                            let _ = writeln!(
                                notes,
                                "- The zip's own `target/lambda/books/bootstrap`, TLS: median {} beside `select1` {} \
                                 ({:.2}×).",
                                fmt_dur(app.p50()),
                                fmt_dur(base.p50()),
                                ratio(app.p50(), base.p50())
                            );
                        }
                        Err(e) => {
                            let _ = writeln!(notes, "- The zip's own bootstrap failed: {e:#}");
                        }
                    }
                }
            }
            Err(e) => section.rows.push(Row::broken(
                format!("cold start, {label}"),
                "≤ 15 ms, ≤ 2× baseline",
                &e,
            )),
        }
    }
    section.notes = notes;
    section
}
