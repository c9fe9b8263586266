//! The benchmark harness: cold start, warm latency, throughput, memory, artifact size,
//! migrations and connections, each figure beside the baseline it is measured against in
//! the same run, printed as one table and written with the machine, the versions and the
//! command to `docs/benchmarks.md` (full mode) or `target/bench/benchmarks-quick.md`.
//!
//! ```sh
//! bash scripts/bench.sh --quick   # small counts, a few minutes: what CI runs
//! bash scripts/bench.sh --full    # the figures in docs/benchmarks.md
//! cargo run --release -p bookstore-bench -- --quick [--only warm,cold] [--out FILE]
//! ```
//!
//! Timing never fails a run; errors, failed requests and missing writes do (exit 1).

mod artifacts;
mod cold_start;
mod connections;
mod memory;
mod migrations;
mod report;
mod reviews;
mod sql_trace;
mod stats;
mod system;
mod throughput;
mod warm;

use std::{io::Write as _, path::PathBuf, process::ExitCode, time::Instant};

use anyhow::{Context as _, bail};
use bookstore_testing::TestDb;
use diesel::Connection as _;
use diesel::{QueryableByName, RunQueryDsl, sql_types::Text};

use crate::report::{Report, Section};

/// How much of everything to do.
#[derive(Debug, Clone, Copy)]
struct Counts {
    full: bool,
    cold_runs: usize,
    warm_warmup: usize,
    warm_calls: usize,
    load_secs: u64,
    memory_requests: usize,
    migrate_runs: usize,
    status_runs: usize,
    instances: usize,
    rounds: usize,
    seeded_books: usize,
    reviews: usize,
    review_runs: usize,
}

/// Reviews of one book in quick mode (the full run has the issue's 1M).
const REVIEWS_QUICK: usize = 20_000;

const QUICK: Counts = Counts {
    full: false,
    cold_runs: 5,
    warm_warmup: 20,
    warm_calls: 200,
    load_secs: 2,
    memory_requests: 1_000,
    migrate_runs: 3,
    status_runs: 20,
    instances: 200,
    rounds: 2,
    seeded_books: 1_000,
    reviews: REVIEWS_QUICK,
    review_runs: 20,
};

const FULL: Counts = Counts {
    full: true,
    cold_runs: 30,
    warm_warmup: 200,
    warm_calls: 3_000,
    load_secs: 15,
    memory_requests: 10_000,
    migrate_runs: 15,
    status_runs: 200,
    instances: 200,
    rounds: 10,
    seeded_books: 1_000,
    reviews: 1_000_000,
    review_runs: 50,
};

const SECTIONS: [&str; 8] = [
    "cold",
    "warm",
    "throughput",
    "memory",
    "artifacts",
    "migrations",
    "connections",
    "reviews",
];

struct Args {
    counts: Counts,
    out: PathBuf,
    only: Vec<String>,
    command: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut counts = QUICK;
    let mut out = None;
    let mut only: Vec<String> = SECTIONS.iter().map(|s| (*s).to_owned()).collect();
    let mut it = raw.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => counts = QUICK,
            "--full" => counts = FULL,
            "--out" => out = Some(PathBuf::from(it.next().context("--out needs a path")?)),
            "--only" => {
                only = it
                    .next()
                    .context("--only needs a list")?
                    .split(',')
                    .map(str::to_owned)
                    .collect();
                if let Some(bad) = only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    bail!(
                        "--only: unknown section `{bad}` (known: {})",
                        SECTIONS.join(", ")
                    );
                }
            }
            other => {
                bail!("unknown argument `{other}`: use --quick | --full [--only LIST] [--out FILE]")
            }
        }
    }
    let out = out.unwrap_or_else(|| {
        if counts.full {
            system::workspace_root().join("docs").join("benchmarks.md")
        } else {
            system::release_dir()
                .parent()
                .map_or_else(|| PathBuf::from("target"), std::path::Path::to_path_buf)
                .join("bench")
                .join("benchmarks-quick.md")
        }
    });
    let command = std::env::var("BENCH_COMMAND").unwrap_or_else(|_| {
        format!(
            "cargo run --release -p bookstore-bench -- {}",
            raw.join(" ")
        )
    });
    Ok(Args {
        counts,
        out,
        only,
        command,
    })
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    v: String,
}

fn server_version() -> anyhow::Result<String> {
    let url = bookstore_testing::admin_url();
    let c = &mut diesel::PgConnection::establish(&url).with_context(|| {
        "PostgreSQL is not reachable (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres); \
         scripts/bench.sh starts it"
    })?;
    let row = diesel::sql_query(
        "SELECT current_setting('server_version') || ', ssl=' || current_setting('ssl') AS v",
    )
    .get_result::<Version>(c)?;
    Ok(row.v)
}

fn main() -> ExitCode {
    match run() {
        Ok(broken) if broken.is_empty() => ExitCode::SUCCESS,
        Ok(broken) => {
            eprintln!("\nbench: BROKEN (not a timing: something failed):");
            for b in broken {
                eprintln!("  - {b}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<Vec<String>> {
    let args = parse_args()?;
    let c = args.counts;
    let started = Instant::now();
    let version = server_version()?;
    let load_at_start = system::loadavg();
    // The in-process app formats its JSON request logs as on Lambda, into a sink.
    let _ = tracing::subscriber::set_global_default(bookstore_kit::startup::subscriber(
        bookstore_kit::startup::LogFormat::Json,
        "info",
        std::io::sink,
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting tokio")?;
    let wants = |s: &str| args.only.iter().any(|o| o == s);
    let step = |name: &str| eprintln!("bench: {name} ({:.0} s)", started.elapsed().as_secs_f64());

    // One seeded database for the sections that read books; the others make their own.
    let db = TestDb::migrated("bench_main");
    let seeded = {
        let mut conn = db.connect();
        warm::seed(&mut conn, c.seeded_books)?
    };
    let url = db.url();
    let db_name = db.name().to_owned();

    let mut report = Report::default();
    let mut add = |title: &str, section: Section| report.sections.push((title.to_owned(), section));
    if wants("cold") {
        step("cold start");
        add("Cold start", cold_start::run(&url, c.cold_runs));
    }
    if wants("warm") {
        step("warm latency");
        add(
            "Warm latency",
            rt.block_on(warm::run(&db, seeded.book_id, c.warm_warmup, c.warm_calls)),
        );
    }
    if wants("throughput") {
        step("throughput");
        add(
            "Throughput",
            throughput::run(
                &url,
                &db_name,
                seeded.ids,
                c.load_secs,
                if c.full { 3 } else { 1 },
            ),
        );
    }
    if wants("memory") {
        step("memory");
        add("Memory", memory::run(&url, seeded.ids, c.memory_requests));
    }
    if wants("artifacts") {
        step("artifacts");
        add("Artifacts", artifacts::run(c.full));
    }
    if wants("migrations") {
        step("migrations");
        add("Migrations", migrations::run(c.migrate_runs, c.status_runs));
    }
    if wants("connections") {
        step("connections");
        add(
            "Connections",
            rt.block_on(connections::run(c.instances, c.rounds)),
        );
    }
    if wants("reviews") {
        step("reviews");
        add("Reviews", reviews::run(c.reviews, c.review_runs));
    }
    drop(db);

    report.header = format!(
        "## {} run, {}\n\nCommand: `{}` (took {:.0} s; load average at the end {})\n\n{}",
        if c.full { "Full" } else { "Quick" },
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        args.command,
        started.elapsed().as_secs_f64(),
        system::loadavg(),
        system::describe(
            &version,
            &format!(
                "load average at start {load_at_start}; test databases cloned from a migrated template"
            )
        ),
    );
    let markdown = report.markdown();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "\n{}", report.table())?;
    report::write_between_markers(&args.out, &markdown)?;
    writeln!(stdout, "written to {}", args.out.display())?;
    Ok(report.broken())
}
