//! Connections: 200 function instances at once through pgbouncer in transaction pooling
//! mode (the RDS Proxy stand-in), each the real router over its own pool of 1 with
//! prepared statements off, writing and reading. Server connections are sampled from
//! `pg_stat_activity` and pgbouncer's `SHOW POOLS`; every acknowledged write is looked
//! up afterwards on a direct connection.

// Over 400 lines: the pgbouncer fixture, the load loop and the verification of every
// acknowledged write form one measurement; splitting them would hide how it is made.

use std::{
    collections::HashMap,
    fmt::Write as _,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use bookstore_functions::{Function, app};
use bookstore_kit::{Dispatch, startup};
use bookstore_schema::{DbTarget, PoolConfig};
use bookstore_testing::TestDb;
use diesel::Connection as _;
use diesel::{QueryableByName, RunQueryDsl, sql_types::BigInt};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::{
    report::{Row, Section, Verdict},
    stats::{Samples, fmt_dur},
    system,
};

/// pgbouncer's server connections for the database: the most the target allows.
pub const POOL_SIZE: usize = 20;

struct Bouncer {
    child: Child,
    port: u16,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_pgbouncer(dir: &Path, db_name: &str) -> anyhow::Result<Bouncer> {
    let port = system::free_port()?;
    let ini = dir.join("pgbouncer.ini");
    std::fs::write(dir.join("userlist.txt"), "\"postgres\" \"\"\n")?;
    std::fs::write(
        &ini,
        format!(
            "[databases]\n\
             bench = host=127.0.0.1 port=5432 dbname={db_name} user=postgres pool_size={POOL_SIZE}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             listen_backlog = 1024\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {dir}/userlist.txt\n\
             admin_users = postgres\n\
             pool_mode = transaction\n\
             default_pool_size = {POOL_SIZE}\n\
             max_db_connections = {POOL_SIZE}\n\
             max_client_conn = 1000\n\
             ignore_startup_parameters = extra_float_digits,options\n\
             logfile = {dir}/pgbouncer.log\n\
             pidfile = {dir}/pgbouncer.pid\n",
            dir = dir.display()
        ),
    )?;
    let mut cmd = Command::new("pgbouncer");
    if system::is_root() {
        // pgbouncer refuses to run as root.
        let _ = Command::new("chown")
            .arg("-R")
            .arg("postgres:")
            .arg(dir)
            .status();
        cmd.args(["-u", "postgres"]);
    }
    let child = cmd
        .arg(&ini)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting pgbouncer (apt-get install pgbouncer)")?;
    let bouncer = Bouncer { child, port };
    system::wait_for_port(port, Duration::from_secs(10)).with_context(|| {
        format!(
            "pgbouncer did not start; see {}",
            dir.join("pgbouncer.log").display()
        )
    })?;
    Ok(bouncer)
}

/// One pgbouncer admin command as CSV rows keyed by column (psql speaks the admin
/// console's simple protocol).
fn admin(port: u16, command: &str) -> anyhow::Result<Vec<HashMap<String, String>>> {
    let output = Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={port} user=postgres dbname=pgbouncer sslmode=disable"
        ))
        .args(["--csv", "-c", command])
        .output()
        .context("running psql")?;
    if !output.status.success() {
        bail!("{command}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    Ok(lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
                .collect()
        })
        .collect())
}

fn num(row: &HashMap<String, String>, key: &str) -> i64 {
    row.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(Default)]
struct Acks {
    books: Vec<(i32, String)>,
    reviews: Vec<i32>,
    errors: Vec<String>,
    requests: usize,
    latencies: Vec<Duration>,
}

async fn send(router: &Router, request: Request<Body>) -> anyhow::Result<(StatusCode, Value)> {
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

fn json_request(method: &str, uri: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap_or_default()
}

/// One instance's rounds: create a book, read it, review it, list its reviews.
async fn instance(id: usize, router: Router, rounds: usize, acks: Arc<Mutex<Acks>>) {
    let mut mine = Acks::default();
    for round in 0..rounds {
        let title = format!("conn-{id}-{round}");
        let started = Instant::now();
        let step = async {
            let (status, book) = send(
                &router,
                json_request(
                    "PUT",
                    "/book",
                    &json!({"title": title, "author": "Instance", "publisher": "Bench Press", "year": 2024}),
                ),
            )
            .await?;
            if status != StatusCode::OK {
                bail!("PUT /book answered {status}: {book}");
            }
            let book_id = book
                .get("id")
                .and_then(Value::as_i64)
                .and_then(|v| i32::try_from(v).ok())
                .context("PUT /book returned no id")?;
            mine.books.push((book_id, title.clone()));
            let (status, read) = send(&router, get(&format!("/book/{book_id}"))).await?;
            if status != StatusCode::OK || read.get("title").and_then(Value::as_str) != Some(&title)
            {
                bail!("GET /book/{book_id} answered {status}: {read}");
            }
            let (status, review) = send(
                &router,
                json_request(
                    "PUT",
                    "/review",
                    &json!({"book_id": book_id, "reviewer": format!("instance {id}"), "rate": 1 + round % 5}),
                ),
            )
            .await?;
            if status != StatusCode::OK {
                bail!("PUT /review answered {status}: {review}");
            }
            let review_id = review
                .get("id")
                .and_then(Value::as_i64)
                .and_then(|v| i32::try_from(v).ok())
                .context("PUT /review returned no id")?;
            mine.reviews.push(review_id);
            let (status, list) = send(&router, get(&format!("/review?book_id={book_id}"))).await?;
            let listed = list
                .get("reviews")
                .and_then(Value::as_array)
                .is_some_and(|r| {
                    r.iter()
                        .any(|x| x.get("id").and_then(Value::as_i64) == Some(i64::from(review_id)))
                });
            if status != StatusCode::OK || !listed {
                bail!(
                    "GET /review?book_id={book_id} answered {status} without review {review_id}: {list}"
                );
            }
            Ok(())
        };
        let result = step.await;
        mine.latencies.push(started.elapsed());
        mine.requests += 4;
        if let Err(e) = result {
            mine.errors
                .push(format!("instance {id} round {round}: {e:#}"));
        }
    }
    let mut all = acks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    all.books.extend(mine.books);
    all.reviews.extend(mine.reviews);
    all.errors.extend(mine.errors);
    all.requests += mine.requests;
    all.latencies.extend(mine.latencies);
}

struct Peaks {
    pg: AtomicI64,
    servers: AtomicI64,
    waiting: AtomicI64,
    maxwait_us: AtomicI64,
}

fn verify(db: &TestDb, acks: &Acks) -> anyhow::Result<(usize, usize)> {
    use bookstore_schema::schema::{book, review};
    use diesel::prelude::*;
    let mut conn = PgConnection::establish(&db.url())?;
    let ids: Vec<i32> = acks.books.iter().map(|(id, _)| *id).collect();
    let found: HashMap<i32, String> = book::table
        .filter(book::id.eq_any(&ids))
        .select((book::id, book::title))
        .load::<(i32, String)>(&mut conn)?
        .into_iter()
        .collect();
    let books = acks
        .books
        .iter()
        .filter(|(id, title)| found.get(id) == Some(title))
        .count();
    let reviews: i64 = review::table
        .filter(review::id.eq_any(&acks.reviews))
        .count()
        .get_result(&mut conn)?;
    Ok((books, usize::try_from(reviews).unwrap_or(0)))
}

/// The row.
pub async fn run(instances: usize, rounds: usize) -> Section {
    let mut section = Section::default();
    match measure(instances, rounds).await {
        Ok((row, notes)) => {
            section.rows.push(row);
            section.notes = notes;
        }
        Err(e) => section.rows.push(Row::broken(
            format!("connections, {instances} instances through pgbouncer"),
            "≤ 20 server connections, 0 errors, every acknowledged write present",
            &e,
        )),
    }
    section
}

async fn measure(instances: usize, rounds: usize) -> anyhow::Result<(Row, String)> {
    if !system::have("pgbouncer") {
        bail!("pgbouncer is not installed (scripts/bench.sh installs it)");
    }
    let db = TestDb::migrated("bench_connections");
    let db_name = db.name().to_owned();
    let dir = system::shared_scratch_dir("pgbouncer")?;
    let bouncer = start_pgbouncer(&dir, &db_name)?;
    let port = bouncer.port;

    let stop = Arc::new(AtomicBool::new(false));
    let peaks = Arc::new(Peaks {
        pg: AtomicI64::new(0),
        servers: AtomicI64::new(0),
        waiting: AtomicI64::new(0),
        maxwait_us: AtomicI64::new(0),
    });
    // Server connections as PostgreSQL sees them, every 10 ms, from the maintenance database.
    let pg_sampler = {
        let (stop, peaks, db_name) = (stop.clone(), peaks.clone(), db_name.clone());
        let admin_url = bookstore_testing::admin_url();
        std::thread::spawn(move || -> anyhow::Result<()> {
            let mut conn = diesel::PgConnection::establish(&admin_url)?;
            while !stop.load(Ordering::Relaxed) {
                let count = diesel::sql_query(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
                )
                .bind::<diesel::sql_types::Text, _>(&db_name)
                .get_result::<Count>(&mut conn)?;
                peaks.pg.fetch_max(count.n, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(())
        })
    };
    // pgbouncer's own view, every 200 ms.
    let pool_sampler = {
        let (stop, peaks) = (stop.clone(), peaks.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(rows) = admin(port, "SHOW POOLS") {
                    for row in rows
                        .iter()
                        .filter(|r| r.get("database").map(String::as_str) == Some("bench"))
                    {
                        let servers = ["sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"]
                            .iter()
                            .map(|k| num(row, k))
                            .sum::<i64>();
                        peaks.servers.fetch_max(servers, Ordering::Relaxed);
                        peaks
                            .waiting
                            .fetch_max(num(row, "cl_waiting"), Ordering::Relaxed);
                        peaks.maxwait_us.fetch_max(
                            num(row, "maxwait") * 1_000_000 + num(row, "maxwait_us"),
                            Ordering::Relaxed,
                        );
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };

    let url = format!("postgres://postgres@127.0.0.1:{port}/bench?sslmode=disable");
    let target = DbTarget::from_url(&url)?;
    let mut config =
        PoolConfig::from_lookup(|k| (k == "DB_PREPARED_STATEMENTS").then(|| "false".to_owned()))?;
    config.max_size = 1;
    let acks = Arc::new(Mutex::new(Acks::default()));
    let barrier = Arc::new(tokio::sync::Barrier::new(instances));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(instances);
    for id in 0..instances {
        // Each instance is a container: its own pool, its own state, its own router.
        let router = app(
            startup::build_state(target.clone(), &config, Dispatch::Offload)?,
            Function::All,
        );
        let (acks, barrier) = (acks.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            instance(id, router, rounds, acks).await;
        }));
    }
    for task in tasks {
        task.await.context("an instance panicked")?;
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let pg_result = pg_sampler.join();
    let _ = pool_sampler.join();
    let stats = admin(port, "SHOW STATS").unwrap_or_default();
    let stats = stats
        .iter()
        .find(|r| r.get("database").map(String::as_str) == Some("bench"))
        .cloned()
        .unwrap_or_default();
    drop(bouncer);
    match pg_result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => bail!("sampling pg_stat_activity: {e:#}"),
        Err(_) => bail!("the pg_stat_activity sampler panicked"),
    }

    let acks = Arc::try_unwrap(acks)
        .map_err(|_| anyhow::anyhow!("instances still hold the results"))?
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (books_present, reviews_present) = verify(&db, &acks)?;
    let peak_pg = peaks.pg.load(Ordering::Relaxed);
    let peak_servers = peaks.servers.load(Ordering::Relaxed);
    let errors = acks.errors.len();
    let all_present = books_present == acks.books.len() && reviews_present == acks.reviews.len();
    let measured = format!(
        "peak {peak_pg} server connections (pg_stat_activity; pgbouncer: {peak_servers}); {errors} failed rounds of {}; \
         {books_present}/{} books and {reviews_present}/{} reviews acknowledged are present",
        instances * rounds,
        acks.books.len(),
        acks.reviews.len()
    );
    let verdict = if errors > 0 || !all_present {
        Verdict::Broken(format!(
            "{errors} errors, {} writes missing{}",
            acks.books.len() + acks.reviews.len() - books_present - reviews_present,
            acks.errors
                .first()
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        ))
    } else {
        Verdict::from_ok(peak_pg <= i64::try_from(POOL_SIZE).unwrap_or(i64::MAX))
    };
    let row = Row::new(
        format!(
            "connections, {instances} instances × pool of 1 through pgbouncer (transaction mode)"
        ),
        measured,
        "—",
        "≤ 20 server connections, 0 errors, every acknowledged write present",
        verdict,
    );
    let rounds_samples = Samples::new(if acks.latencies.is_empty() {
        vec![Duration::ZERO]
    } else {
        acks.latencies.clone()
    });
    let mut notes = String::new();
    let _ = writeln!(
        notes,
        "pgbouncer {} on a free port, `pool_mode = transaction`, `default_pool_size = max_db_connections = {POOL_SIZE}`, \
         no TLS. {instances} instances, each `app(state, Function::All)` over its own r2d2 pool of 1 (the functions' \
         pool settings with `DB_PREPARED_STATEMENTS=false`), started together on a barrier; each runs {rounds} rounds \
         of `PUT /book`, `GET /book/{{id}}` (title checked), `PUT /review`, `GET /review?book_id=` (review checked): \
         {} requests in {}. A round took p50 {} / p99 {}. Peak clients waiting in pgbouncer: {}, longest wait {}. \
         pgbouncer counted {} transactions, {} queries, average wait {} µs per transaction. After the run every acknowledged \
         book (id and title) and review (id) is looked up on a direct connection.",
        system::first_line("pgbouncer", &["--version"]).trim_start_matches("PgBouncer "),
        acks.requests,
        fmt_dur(elapsed),
        fmt_dur(rounds_samples.p50()),
        fmt_dur(rounds_samples.p99()),
        peaks.waiting.load(Ordering::Relaxed),
        fmt_dur(Duration::from_micros(
            u64::try_from(peaks.maxwait_us.load(Ordering::Relaxed)).unwrap_or(0)
        )),
        stats.get("total_xact_count").map_or("?", String::as_str),
        stats.get("total_query_count").map_or("?", String::as_str),
        {
            let xacts = num(&stats, "total_xact_count").max(1);
            num(&stats, "total_wait_time") / xacts
        },
    );
    for e in acks.errors.iter().take(5) {
        let _ = writeln!(notes, "- error: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok((row, notes))
}
