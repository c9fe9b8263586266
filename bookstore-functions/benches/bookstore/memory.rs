//! Memory: one warm `books` process (release) driven through the Runtime API fixture,
//! its peak resident set (`VmHWM` in `/proc/<pid>/status`) after the first request and
//! after all of them. Requests cycle through list, get, create and get-the-new-one.

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::{
    report::{Row, Section, Verdict},
    runtime_api::{self, Fixture},
    stats::{Samples, fmt_dur, fmt_mib},
    system,
};

const TARGET_BYTES: u64 = 12 * 1024 * 1024;

fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

struct Measured {
    first_hwm: u64,
    hwm: u64,
    rss: u64,
    latencies: Samples,
}

async fn measure(url: &str, ids: (i32, i32), requests: usize) -> anyhow::Result<Measured> {
    let mut fixture = Fixture::start().await?;
    let child =
        runtime_api::spawn_lambda(&system::books_exe(), &fixture, &[("DATABASE_URL", url)])?;
    let pid = child.id();
    let result = async {
        let mut first_hwm = 0;
        let mut latencies = Vec::with_capacity(requests);
        let mut last_created: Option<i64> = None;
        let span = i64::from(ids.1 - ids.0 + 1);
        for i in 0..requests {
            let id = i64::from(ids.0) + i64::try_from(i * 7919).unwrap_or(0) % span;
            let event = match i % 4 {
                0 => runtime_api::rest_event("GET", "/book", &[("limit", "10")], None),
                1 => runtime_api::rest_event("GET", &format!("/book/{id}"), &[], None),
                2 => runtime_api::rest_event(
                    "PUT",
                    "/book",
                    &[],
                    Some(&json!({"title": format!("Memory book {i}"), "author": "Bench Author", "publisher": "Bench Press", "year": 2020})),
                ),
                _ => runtime_api::rest_event(
                    "GET",
                    &format!("/book/{}", last_created.unwrap_or(id)),
                    &[],
                    None,
                ),
            };
            let sent = Instant::now();
            fixture.invoke(&event);
            let outcome = fixture.outcome(Duration::from_secs(10)).await?;
            latencies.push(outcome.at.duration_since(sent));
            match outcome.status_code() {
                Some(200) => {}
                other => bail!(
                    "request {i} answered {} {other:?}: {}",
                    outcome.kind,
                    String::from_utf8_lossy(&outcome.body)
                ),
            }
            if i % 4 == 2 {
                last_created = outcome
                    .response_body()
                    .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                    .and_then(|v| v.get("id").and_then(serde_json::Value::as_i64));
            }
            if i == 0 {
                first_hwm = status_kib(pid, "VmHWM:")?;
            }
        }
        Ok(Measured {
            first_hwm: first_hwm * 1024,
            hwm: status_kib(pid, "VmHWM:")? * 1024,
            rss: status_kib(pid, "VmRSS:")? * 1024,
            latencies: Samples::new(latencies),
        })
    }
    .await;
    let stderr = runtime_api::stop(child);
    result.with_context(|| format!("books stderr: {stderr}"))
}

/// The row.
pub async fn run(db_url: &str, ids: (i32, i32), requests: usize) -> Section {
    let mut section = Section::default();
    let url = format!("{db_url}?sslmode=require");
    match measure(&url, ids, requests).await {
        Ok(m) => {
            section.rows.push(Row::new(
                format!("memory, peak RSS of a warm `books` after {requests} requests"),
                format!("VmHWM {} (VmRSS now {})", fmt_mib(m.hwm), fmt_mib(m.rss)),
                format!("— (after its first request: {})", fmt_mib(m.first_hwm)),
                format!(
                    "≤ 12 MiB: {:.0}% of it",
                    100.0 * m.hwm as f64 / TARGET_BYTES as f64
                ),
                Verdict::from_ok(m.hwm <= TARGET_BYTES),
            ));
            let _ = writeln!(
                section.notes,
                "The real `books` binary (release), one process, {requests} invocations through the Runtime API fixture \
                 (TLS to PostgreSQL, JSON logs to /dev/null): `GET /book?limit=10`, `GET /book/{{id}}`, `PUT /book`, \
                 `GET` of the book just created, in turn, each checked for 200. Peak RSS is the kernel's `VmHWM`. \
                 Invocation round trip through the fixture (queue → response received): p50 {}, p99 {}.",
                fmt_dur(m.latencies.p50()),
                fmt_dur(m.latencies.p99()),
            );
        }
        Err(e) => section.rows.push(Row::new(
            "memory",
            "—",
            "—",
            "≤ 12 MiB",
            Verdict::Broken(format!("{e:#}")),
        )),
    }
    section
}
