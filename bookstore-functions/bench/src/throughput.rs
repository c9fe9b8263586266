//! Throughput: `bookstore-local` (release) on PostgreSQL under `wrk`, `GET /book/{id}` on
//! random seeded ids, beside the reference server (`src/bin/reference-server.rs`: axum +
//! tokio-postgres, the same answer) and `pgbench` running the single-row select behind it
//! with the same number of clients. All over TLS (`sslmode=require`), on the same
//! database, run in turn.

use std::{
    fmt::Write as _,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, bail};

use crate::{
    report::{Row, Section, Verdict},
    stats::{Samples, fmt_dur},
    system,
};

/// The app's rate as a share of the reference server's (issue 14).
const TARGET_SHARE: f64 = 0.8;
/// The app's p99 at either client count.
const TARGET_P99: Duration = Duration::from_millis(5);

struct Load {
    rate: f64,
    p50: Duration,
    p99: Duration,
    requests: u64,
    /// What the server process spent over the run (pgbench: none).
    cost: Option<Cost>,
}

/// A server's own cost over a run, per request, from `/proc/<pid>`.
#[derive(Clone, Copy)]
struct Cost {
    /// User + system CPU time.
    cpu: Duration,
    /// Times one of its threads went to sleep (a wait for the database, a lock, an
    /// empty queue): each is a thread switch.
    sleeps: f64,
    /// Its threads at the end of the run.
    threads: usize,
}

/// CPU ticks (user + system) and voluntary context switches of every thread of `pid` so
/// far, from `/proc`; `None` where `/proc` cannot tell.
fn usage(pid: u32) -> Option<(u64, u64, usize)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let mut switches = 0;
    let mut threads = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        threads += 1;
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        switches += status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some((ticks, switches, threads))
}

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

fn parse_wrk_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (num, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let value: f64 = num.parse().ok()?;
    let secs = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

fn wrk(port: u16, connections: usize, secs: u64, script: &Path) -> anyhow::Result<Load> {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{secs}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}"))
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    if let Some(errors) = field("Non-2xx or 3xx responses:") {
        bail!("wrk saw {errors} error responses");
    }
    if let Some(errors) = field("Socket errors:") {
        bail!("wrk saw socket errors: {errors}");
    }
    let rate = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    let p50 = field("50%")
        .and_then(parse_wrk_duration)
        .context("no p50 from wrk")?;
    let p99 = field("99%")
        .and_then(parse_wrk_duration)
        .context("no p99 from wrk")?;
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok(Load {
        rate,
        p50,
        p99,
        requests,
        cost: None,
    })
}

fn pgbench(
    db_name: &str,
    clients: usize,
    secs: u64,
    script: &Path,
    dir: &Path,
) -> anyhow::Result<Load> {
    let prefix = dir.join(format!("pgbench-c{clients}"));
    let output = Command::new("pgbench")
        .env("PGSSLMODE", "require")
        .args([
            "-n",
            "-M",
            "prepared",
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
        ])
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &secs.to_string(),
            "-l",
        ])
        .arg(format!("--log-prefix={}", prefix.display()))
        .arg("-f")
        .arg(script)
        .arg(db_name)
        .output()
        .context("running pgbench")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "pgbench failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    if let Some(failed) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("number of failed transactions:"))
        .and_then(|v| v.split_whitespace().next())
        .filter(|v| *v != "0")
    {
        bail!("pgbench saw {failed} failed transactions");
    }
    let rate: f64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no tps in pgbench's output:\n{text}"))?;
    // Per-transaction logs: client, transaction, latency in µs, …
    let mut latencies = Vec::new();
    let stem = prefix
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    for entry in std::fs::read_dir(dir)?.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&stem) {
            continue;
        }
        let body = std::fs::read_to_string(entry.path())?;
        latencies.extend(
            body.lines()
                .filter_map(|l| l.split_whitespace().nth(2))
                .filter_map(|us| us.parse::<u64>().ok())
                .map(Duration::from_micros),
        );
        let _ = std::fs::remove_file(entry.path());
    }
    if latencies.is_empty() {
        bail!("pgbench wrote no transaction log");
    }
    let requests = latencies.len() as u64;
    let samples = Samples::new(latencies);
    Ok(Load {
        rate,
        p50: samples.p50(),
        p99: samples.p99(),
        requests,
        cost: None,
    })
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `exe` (`bookstore-local` or the reference server) on a free port with `envs`,
/// and waits until it answers `probe` with 200.
fn start_server(
    exe: &Path,
    url: &str,
    envs: &[(&str, String)],
    probe: &str,
) -> anyhow::Result<Server> {
    let port = system::free_port()?;
    let mut command = Command::new(exe);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .env("PORT", port.to_string());
    for (name, value) in envs {
        command.env(name, value);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let server = Server { child, port };
    system::wait_for_port(port, Duration::from_secs(30))?;
    for _ in 0..100 {
        if system::http_get_status(port, probe).is_ok_and(|s| s == 200) {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{} never answered GET {probe} with 200", exe.display())
}

/// `41 µs, 0.92 sleeps; 11 threads`, or `n/a` where `/proc` could not tell.
fn fmt_cost(cost: Option<Cost>) -> String {
    cost.map_or_else(
        || "n/a".to_owned(),
        |c| {
            format!(
                "{}, {:.2} sleeps; {} threads",
                fmt_dur(c.cpu),
                c.sleeps,
                c.threads
            )
        },
    )
}

/// Who serves (or, for pgbench, stands in for) `GET /book/{id}`.
#[derive(Clone, Copy)]
enum Party {
    App,
    Reference,
    Pgbench,
    /// Another build of `bookstore-local` (`BENCH_BEFORE_EXE`), for a before/after.
    Before,
}

/// The run of `party` with the median rate among `runs` (each party's rounds).
fn median(mut runs: Vec<Load>) -> anyhow::Result<Load> {
    runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let middle = runs.len() / 2;
    runs.into_iter()
        .nth(middle)
        .context("no run to take the median of")
}

/// The rows, one per client count: `bookstore-local` beside the reference server (axum +
/// tokio-postgres) and pgbench, `rounds` runs of each in rotating order, medians reported.
pub fn run(db_url: &str, db_name: &str, ids: (i32, i32), secs: u64, rounds: usize) -> Section {
    let mut section = Section::default();
    let mut notes = String::new();
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let _ = writeln!(
        notes,
        "`GET /book/{{id}}` on ids drawn at random from the {} seeded books, driven by `wrk -t2 -cN -d{secs}s --latency`, \
         the parties in turn, {rounds} round(s) each in rotating order, each figure the run with the median rate:\n\n\
         - **app:** `bookstore-local` (release) with its default pool (`DB_POOL_SIZE` unset: {}), request logs as plain text to /dev/null;\n\
         - **reference:** `bench/src/bin/reference-server.rs` (release), axum + tokio-postgres, the same SQL, JSON and `ETag`, \
         {cores} connections (one per core; tokio-postgres pipelines the requests that share one, and more connections measured slower here), no logs;\n\
         - **pgbench:** `pgbench -n -M prepared -cN -j2 -T{secs}` running `SELECT … FROM book WHERE id = :id` on the same ids, \
         p99 from its per-transaction log: the database alone, no HTTP.\n\n\
         All over TLS. wrk, pgbench, the servers and PostgreSQL share this machine's {cores} cores, so each load generator \
         takes CPU from what it measures. Target: the app at ≥ {:.0}% of the reference's rate, p99 ≤ {} ms.\n",
        ids.1 - ids.0 + 1,
        bookstore_kit::startup::LOCAL_DEFAULT_POOL_SIZE,
        TARGET_SHARE * 100.0,
        TARGET_P99.as_millis(),
    );
    let result = (|| -> anyhow::Result<()> {
        for tool in ["wrk", "pgbench"] {
            if !system::have(tool) {
                bail!("{tool} is not installed (scripts/bench.sh installs it)");
            }
        }
        let local = system::local_exe()?;
        // An earlier build of the local server to run beside this one, in the same rounds.
        let before = std::env::var_os("BENCH_BEFORE_EXE").map(std::path::PathBuf::from);
        let reference = system::reference_exe()?;
        let dir = system::scratch_dir("throughput")?;
        let lua = dir.join("random-book.lua");
        std::fs::write(
            &lua,
            format!(
                "math.randomseed(42)\nrequest = function()\n  return wrk.format(\"GET\", \"/book/\" .. math.random({}, {}))\nend\n",
                ids.0, ids.1
            ),
        )?;
        let sql = dir.join("select-book.sql");
        std::fs::write(
            &sql,
            format!(
                "\\set id random({}, {})\nSELECT id, title, author, publisher, year, created_at FROM book WHERE id = :id;\n",
                ids.0, ids.1
            ),
        )?;
        let url = format!("{db_url}?sslmode=require");
        let probe = format!("/book/{}", ids.0);
        let _ = writeln!(
            notes,
            "| clients | app req/s | app p50 / p99 | app CPU, sleeps per request; threads | reference req/s | reference p50 / p99 | reference CPU, sleeps per request; threads | pgbench tps | pgbench p50 / p99 | app ÷ reference |\n|---|---|---|---|---|---|---|---|---|---|"
        );
        let mut before_lines = String::new();
        for clients in [8_usize, 32] {
            let serve = |exe: &Path, envs: &[(&str, String)]| -> anyhow::Result<Load> {
                let server = start_server(exe, &url, envs, &probe)?;
                // Warm the pool and the statement caches.
                wrk(server.port, clients, 1, &lua)?;
                let before = usage(server.child.id());
                let mut load = wrk(server.port, clients, secs, &lua)?;
                if let (Some(before), Some(after)) = (before, usage(server.child.id()))
                    && load.requests > 0
                {
                    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
                    let per_request = |n: u64| n as f64 / load.requests as f64;
                    load.cost = Some(Cost {
                        cpu: Duration::from_secs_f64(
                            per_request(after.0.saturating_sub(before.0)) / TICKS_PER_SEC,
                        ),
                        sleeps: per_request(after.1.saturating_sub(before.1)),
                        threads: after.2,
                    });
                }
                Ok(load)
            };
            let (mut apps, mut references, mut bases) = (Vec::new(), Vec::new(), Vec::new());
            let mut befores = Vec::new();
            let mut order = vec![Party::Pgbench, Party::Reference, Party::App];
            if before.is_some() {
                order.push(Party::Before);
            }
            for round in 0..rounds {
                for k in 0..order.len() {
                    match order[(round + k) % order.len()] {
                        Party::App => apps.push(serve(&local, &[])?),
                        Party::Before => {
                            if let Some(exe) = &before {
                                befores.push(serve(exe, &[])?);
                            }
                        }
                        Party::Reference => references
                            .push(serve(&reference, &[("DB_POOL_SIZE", cores.to_string())])?),
                        Party::Pgbench => bases.push(pgbench(db_name, clients, secs, &sql, &dir)?),
                    }
                }
            }
            let (app, reference, base) = (median(apps)?, median(references)?, median(bases)?);
            if !befores.is_empty() {
                let then = median(befores)?;
                let _ = writeln!(
                    before_lines,
                    "| {clients} | {:.0} ({} requests) | {} / {} | {} | {:.0}% |",
                    then.rate,
                    then.requests,
                    fmt_dur(then.p50),
                    fmt_dur(then.p99),
                    fmt_cost(then.cost),
                    then.rate / reference.rate * 100.0
                );
            }
            let share = app.rate / reference.rate;
            section.rows.push(Row::new(
                format!(
                    "throughput, {clients} connections, `GET /book/{{id}}` on `bookstore-local`"
                ),
                format!("{:.0} req/s, p99 {}", app.rate, fmt_dur(app.p99)),
                format!(
                    "reference (axum + tokio-postgres): {:.0} req/s, p99 {}; pgbench: {:.0} tps",
                    reference.rate,
                    fmt_dur(reference.p99),
                    base.rate,
                ),
                format!(
                    "≥ {:.0}% of the reference, p99 ≤ {} ms: {:.0}%",
                    TARGET_SHARE * 100.0,
                    TARGET_P99.as_millis(),
                    share * 100.0
                ),
                Verdict::from_ok(share >= TARGET_SHARE && app.p99 <= TARGET_P99),
            ));
            let _ = writeln!(
                notes,
                "| {clients} | {:.0} ({} requests) | {} / {} | {} | {:.0} ({} requests) | {} / {} | {} | {:.0} ({} transactions) | {} / {} | {:.0}% |",
                app.rate,
                app.requests,
                fmt_dur(app.p50),
                fmt_dur(app.p99),
                fmt_cost(app.cost),
                reference.rate,
                reference.requests,
                fmt_dur(reference.p50),
                fmt_dur(reference.p99),
                fmt_cost(reference.cost),
                base.rate,
                base.requests,
                fmt_dur(base.p50),
                fmt_dur(base.p99),
                share * 100.0
            );
        }
        if !before_lines.is_empty() {
            let _ = writeln!(
                notes,
                "\nBeside them in the same rounds, `BENCH_BEFORE_EXE` (another build of `bookstore-local`):\n\n\
                 | clients | before req/s | before p50 / p99 | before CPU, sleeps per request; threads | before ÷ reference |\n|---|---|---|---|---|\n{before_lines}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    })();
    if let Err(e) = result {
        section.rows.push(Row::broken(
            "throughput",
            "≥ 80% of the reference, p99 ≤ 5 ms",
            &e,
        ));
    }
    section.notes = notes;
    section
}
