//! Memory: one warm `books` process (release) driven through `bookstore_testing::lambda`,
//! its peak resident set (`VmHWM` in `/proc/<pid>/status`) after the first request and
//! after all of them. Requests cycle through list, get, create and get-the-new-one.

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use bookstore_testing::lambda::{Instance, rest_event};
use serde_json::json;

use crate::{
    report::{Row, Section, Verdict},
    stats::{Samples, fmt_dur, fmt_mib},
    system,
};

const TARGET_BYTES: u64 = 12 * 1024 * 1024;

struct Measured {
    first_hwm: u64,
    hwm: u64,
    rss: u64,
    latencies: Samples,
}

fn measure(url: &str, ids: (i32, i32), requests: usize) -> anyhow::Result<Measured> {
    let log = system::scratch_dir("memory")?.join("books.log");
    let mut books = Instance::builder(system::books_exe()?)
        .name("books")
        .env("DATABASE_URL", url)
        .log_file(&log)
        .start()?;
    let kib = |books: &Instance, field: &str| {
        books
            .status_kib(field)
            .map(|kib| kib * 1024)
            .with_context(|| format!("no {field} in /proc/{}/status", books.pid()))
    };
    let mut first_hwm = 0;
    let mut latencies = Vec::with_capacity(requests);
    let mut last_created: Option<i64> = None;
    let span = i64::from(ids.1 - ids.0 + 1);
    for i in 0..requests {
        let id = i64::from(ids.0) + i64::try_from(i * 7919).unwrap_or(0) % span;
        let event = match i % 4 {
            0 => rest_event("GET", "/book?limit=10", "/book", None),
            1 => rest_event("GET", &format!("/book/{id}"), "/book/{id}", None),
            2 => rest_event(
                "PUT",
                "/book",
                "/book",
                Some(
                    &json!({"title": format!("Memory book {i}"), "author": "Bench Author", "publisher": "Bench Press", "year": 2020}),
                ),
            ),
            _ => rest_event(
                "GET",
                &format!("/book/{}", last_created.unwrap_or(id)),
                "/book/{id}",
                None,
            ),
        };
        let sent = Instant::now();
        let outcome = books.try_invoke(&event, Duration::from_secs(10))?;
        latencies.push(outcome.at.duration_since(sent));
        if outcome.status_code() != Some(200) {
            bail!(
                "request {i} answered {:?} {:?}: {}",
                outcome.kind,
                outcome.status_code(),
                outcome.body
            );
        }
        if i % 4 == 2 {
            last_created = outcome
                .response_body()
                .get("id")
                .and_then(serde_json::Value::as_i64);
        }
        if i == 0 {
            first_hwm = kib(&books, "VmHWM")?;
        }
    }
    Ok(Measured {
        first_hwm,
        hwm: kib(&books, "VmHWM")?,
        rss: kib(&books, "VmRSS")?,
        latencies: Samples::new(latencies),
    })
}

/// The row.
pub fn run(db_url: &str, ids: (i32, i32), requests: usize) -> Section {
    let mut section = Section::default();
    let url = format!("{db_url}?sslmode=require");
    match measure(&url, ids, requests) {
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
                "The real `books` binary (release), one process, {requests} invocations through `bookstore_testing::lambda`'s Runtime API \
                 (TLS to PostgreSQL, JSON logs to a file): `GET /book?limit=10`, `GET /book/{{id}}`, `PUT /book`, \
                 `GET` of the book just created, in turn, each checked for 200. Peak RSS is the kernel's `VmHWM`. \
                 Invocation round trip through the Runtime API (queue → response received): p50 {}, p99 {}.",
                fmt_dur(m.latencies.p50()),
                fmt_dur(m.latencies.p99()),
            );
        }
        Err(e) => section.rows.push(Row::broken("memory", "≤ 12 MiB", &e)),
    }
    section
}
