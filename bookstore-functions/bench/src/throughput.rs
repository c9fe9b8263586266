//! Throughput: `bookstore-local` (release) on PostgreSQL under `wrk`, `GET /book/{id}` on
//! random seeded ids, beside `pgbench` running the single-row select behind it with the
//! same number of clients. Both over TLS (`sslmode=require`), on the same database, run
//! back to back.

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

const TARGET_SHARE: f64 = 0.5;

struct Load {
    rate: f64,
    p50: Duration,
    p99: Duration,
    requests: u64,
}

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

fn start_local(url: &str, pool: usize) -> anyhow::Result<Server> {
    let port = system::free_port()?;
    let child = Command::new(system::local_exe()?)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .env("PORT", port.to_string())
        .env("DB_POOL_SIZE", pool.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting bookstore-local")?;
    let server = Server { child, port };
    system::wait_for_port(port, Duration::from_secs(30))?;
    for _ in 0..100 {
        if system::http_get_status(port, "/book?limit=1").is_ok_and(|s| s == 200) {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("bookstore-local never answered GET /book with 200")
}

/// The rows, one per client count.
pub fn run(db_url: &str, db_name: &str, ids: (i32, i32), secs: u64) -> Section {
    let mut section = Section::default();
    let mut notes = String::new();
    let _ = writeln!(
        notes,
        "`bookstore-local` (release) serves `GET /book/{{id}}` on ids drawn at random from the {} seeded books; \
         `wrk -t2 -cN -d{secs}s --latency` drives it, with the pool as large as the client count (`DB_POOL_SIZE=N`), \
         plain-text request logs to /dev/null. Baseline: `pgbench -n -M prepared -cN -j2 -T{secs}` running \
         `SELECT id, title, author, publisher, year, created_at FROM book WHERE id = :id` on the same random ids, \
         p99 from its per-transaction log. Both over TLS. wrk, pgbench, the server and PostgreSQL share the same 2 \
         cores, so each side's load generator takes CPU from what it measures.\n",
        ids.1 - ids.0 + 1
    );
    let result = (|| -> anyhow::Result<()> {
        for tool in ["wrk", "pgbench"] {
            if !system::have(tool) {
                bail!("{tool} is not installed (scripts/bench.sh installs it)");
            }
        }
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
        let _ = writeln!(
            notes,
            "| clients | app req/s | app p50 / p99 | pgbench tps | pgbench p50 / p99 | app ÷ pgbench |\n|---|---|---|---|---|---|"
        );
        for (i, clients) in [8_usize, 32].into_iter().enumerate() {
            let run_app = || -> anyhow::Result<Load> {
                let server = start_local(&url, clients)?;
                // Warm the pool and the statement caches.
                wrk(server.port, clients, 1, &lua)?;
                wrk(server.port, clients, secs, &lua)
            };
            let run_base = || pgbench(db_name, clients, secs, &sql, &dir);
            let (app, base) = if i % 2 == 0 {
                let base = run_base()?;
                (run_app()?, base)
            } else {
                let app = run_app()?;
                (app, run_base()?)
            };
            let share = app.rate / base.rate;
            section.rows.push(Row::new(
                format!(
                    "throughput, {clients} connections, `GET /book/{{id}}` on `bookstore-local`"
                ),
                format!("{:.0} req/s, p99 {}", app.rate, fmt_dur(app.p99)),
                format!(
                    "pgbench single-row select: {:.0} tps, p99 {}",
                    base.rate,
                    fmt_dur(base.p99)
                ),
                format!("≥ 50% of baseline: {:.0}%", share * 100.0),
                Verdict::from_ok(share >= TARGET_SHARE),
            ));
            let _ = writeln!(
                notes,
                "| {clients} | {:.0} ({} requests) | {} / {} | {:.0} ({} transactions) | {} / {} | {:.0}% |",
                app.rate,
                app.requests,
                fmt_dur(app.p50),
                fmt_dur(app.p99),
                base.rate,
                base.requests,
                fmt_dur(base.p50),
                fmt_dur(base.p99),
                share * 100.0
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    })();
    if let Err(e) = result {
        section
            .rows
            .push(Row::broken("throughput", "≥ 50% of baseline", &e));
    }
    section.notes = notes;
    section
}
