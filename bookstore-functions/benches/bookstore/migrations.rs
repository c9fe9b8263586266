//! Migrations: the runner taking an empty database to head, and `status` on an
//! up-to-date one; the connection is opened before the clock starts.

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use bookstore_schema::{
    Backend, DbConnection, DbTarget, SessionSettings,
    migrate::{self, RunOptions, Runner},
};
use bookstore_testing::TestDb;

use crate::{
    report::{Row, Section, Verdict},
    stats::{Samples, fmt_dur},
};

const TARGET_MIGRATE: Duration = Duration::from_millis(150);
const TARGET_STATUS: Duration = Duration::from_millis(5);

fn connect(db: &TestDb) -> anyhow::Result<DbConnection> {
    let target = DbTarget::from_url(&format!("{}?sslmode=require", db.url()))?;
    Ok(DbConnection::establish(
        &target,
        None,
        SessionSettings::default(),
    )?)
}

struct Measured {
    migrate: Samples,
    steps: usize,
    status: Samples,
    first_status: Duration,
    check: Samples,
}

fn measure(migrate_runs: usize, status_runs: usize) -> anyhow::Result<Measured> {
    let mut migrate = Vec::with_capacity(migrate_runs);
    let mut steps = 0;
    for _ in 0..migrate_runs {
        let db = TestDb::empty("bench_migrate");
        let mut conn = connect(&db)?;
        let started = Instant::now();
        let report = Runner::new(RunOptions::default())
            .migrate(&mut conn)
            .context("migrating an empty database")?;
        migrate.push(started.elapsed());
        steps = report.steps.len();
        if report.version_after.as_deref() != Some(migrate::head_version(Backend::Postgres)) {
            bail!("migrate stopped at {:?}", report.version_after);
        }
    }
    let db = TestDb::migrated("bench_status");
    let mut conn = connect(&db)?;
    let runner = Runner::new(RunOptions::default());
    let started = Instant::now();
    let first = runner.status(&mut conn).context("status")?;
    let first_status = started.elapsed();
    if !first.pending.is_empty() {
        bail!("status on a migrated database lists pending migrations");
    }
    let mut status = Vec::with_capacity(status_runs);
    let mut check = Vec::with_capacity(status_runs);
    for _ in 0..status_runs {
        let started = Instant::now();
        runner.status(&mut conn).context("status")?;
        status.push(started.elapsed());
        let started = Instant::now();
        migrate::check_schema(&mut conn).context("check_schema")?;
        check.push(started.elapsed());
    }
    Ok(Measured {
        migrate: Samples::new(migrate),
        steps,
        status: Samples::new(status),
        first_status,
        check: Samples::new(check),
    })
}

/// The two rows.
pub fn run(migrate_runs: usize, status_runs: usize) -> Section {
    let mut section = Section::default();
    match measure(migrate_runs, status_runs) {
        Ok(m) => {
            section.rows.push(Row::new(
                format!("migrations, empty database → head ({} migrations)", m.steps),
                format!(
                    "median {} (max {}, n={})",
                    fmt_dur(m.migrate.p50()),
                    fmt_dur(m.migrate.quantile(1.0)),
                    m.migrate.len()
                ),
                "—",
                "≤ 150 ms",
                Verdict::from_ok(m.migrate.p50() <= TARGET_MIGRATE),
            ));
            section.rows.push(Row::new(
                "migrations, `status` on an up-to-date database",
                format!(
                    "median {} (p99 {}, n={})",
                    fmt_dur(m.status.p50()),
                    fmt_dur(m.status.p99()),
                    m.status.len()
                ),
                format!(
                    "— (first call on the connection: {})",
                    fmt_dur(m.first_status)
                ),
                "≤ 5 ms",
                Verdict::from_ok(m.status.p50() <= TARGET_STATUS),
            ));
            let _ = writeln!(
                section.notes,
                "`Runner::new(RunOptions::default())` on a `DbConnection` over TLS, opened before the clock starts. \
                 Empty → head: a fresh `CREATE DATABASE` each run (lock, bookkeeping table, every migration in its own \
                 transaction, each `COMMIT` flushed to disk). `status`: the same connection, repeated. The schema check \
                 the functions run at cold start (`migrate::check_schema`) on the same connection: median {}.",
                fmt_dur(m.check.p50())
            );
        }
        Err(e) => section.rows.push(Row::new(
            "migrations",
            "—",
            "—",
            "≤ 150 ms; ≤ 5 ms",
            Verdict::Broken(format!("{e:#}")),
        )),
    }
    section
}
