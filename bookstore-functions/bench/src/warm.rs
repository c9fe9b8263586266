//! Warm latency: the router in-process (`router.oneshot(request)`, body collected), beside
//! the same statements on one bare connection, and a trace of the SQL each sends.
//!
//! Two series per endpoint, interleaved call by call:
//! - `app`: the request through `app(state, Function::…)` on a pool of 1, as a Lambda
//!   container runs it (`block_in_place`, pool checkout, the schema gate, the unit of
//!   work, JSON, the request log line);
//! - `raw`: the model function the handler calls, on the app's own pooled connection
//!   (taken out of the pool before the clock starts): the same SQL through diesel and
//!   libpq to the same server process, nothing else (the issue's baseline).
//!
//! `app − raw` is what HTTP, JSON, logging, the pool and the unit of work cost; the trace
//! shows that both send the same statements.

// Over 400 lines: each warm series measures a route beside its raw-SQL baseline in the
// same run; the series share the floors and the report rows.

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use bookstore_functions::{Function, app};
use bookstore_kit::{AppState, Dispatch, startup};
use bookstore_schema::{
    Book, DbConnection, DbPool, DbTarget, NewBook, NewReview, PoolConfig, Review, SessionSettings,
    build_pool, transactional,
};
use bookstore_testing::TestDb;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::{
    report::{Row, Section, Verdict},
    sql_trace::{self, Proxy},
    stats::{Samples, fmt_dur, ratio},
};

const TARGET_RATIO: f64 = 1.3;

/// Books and reviews the endpoints read.
pub struct Seeded {
    /// The book `GET /book/{id}` and `GET /review?book_id=` ask for (10 reviews).
    pub book_id: i32,
    /// Lowest and highest seeded book id.
    pub ids: (i32, i32),
}

/// `books` books, and 10 reviews on the first.
pub fn seed(conn: &mut DbConnection, books: usize) -> anyhow::Result<Seeded> {
    transactional(conn, |conn| -> anyhow::Result<Seeded> {
        let mut ids = Vec::with_capacity(books);
        for i in 0..books {
            let title = format!("Seeded book {i}");
            let book = Book::create(
                conn,
                &NewBook {
                    title: &title,
                    author: "Bench Author",
                    publisher: "Bench Press",
                    year: 1990 + i32::try_from(i % 30).unwrap_or(0),
                },
            )?;
            ids.push(book.id);
        }
        let first = *ids.first().context("no books seeded")?;
        for r in 0..10_i16 {
            Review::create(
                conn,
                &NewReview {
                    book_id: first,
                    reviewer: "bench reviewer",
                    rate: 1 + r % 5,
                    review: Some("A seeded review of moderate length, like most reviews are."),
                },
            )?;
        }
        Ok(Seeded {
            book_id: first,
            ids: (first, *ids.last().unwrap_or(&first)),
        })
    })
}

type RawFn = Box<dyn Fn(&mut DbConnection, usize) -> diesel::QueryResult<()>>;
type RequestFn = Box<dyn Fn(usize) -> Request<Body>>;

struct Endpoint {
    name: String,
    function: Function,
    request: RequestFn,
    expect: StatusCode,
    raw: RawFn,
}

fn endpoints(book_id: i32) -> Vec<Endpoint> {
    let put_body = |i: usize| {
        format!(
            r#"{{"title":"Warm latency book {i}","author":"Bench Author","publisher":"Bench Press","year":2001}}"#
        )
    };
    vec![
        Endpoint {
            name: "`GET /book?limit=10`".to_owned(),
            function: Function::Books,
            request: Box::new(|_| get("/book?limit=10")),
            expect: StatusCode::OK,
            raw: Box::new(|c, _| Book::page(c, None, 10).map(|_| ())),
        },
        Endpoint {
            name: "`GET /book/{id}`".to_owned(),
            function: Function::Books,
            request: Box::new(move |_| get(&format!("/book/{book_id}"))),
            expect: StatusCode::OK,
            raw: Box::new(move |c, _| Book::find_with_stats(c, book_id).map(|_| ())),
        },
        Endpoint {
            name: "`PUT /book`".to_owned(),
            function: Function::Books,
            request: Box::new(move |i| {
                Request::put("/book")
                    .header("content-type", "application/json")
                    .body(Body::from(put_body(i)))
                    .unwrap_or_default()
            }),
            expect: StatusCode::OK,
            raw: Box::new(|c, i| {
                let title = format!("Warm latency raw book {i}");
                Book::create(
                    c,
                    &NewBook {
                        title: &title,
                        author: "Bench Author",
                        publisher: "Bench Press",
                        year: 2001,
                    },
                )
                .map(|_| ())
            }),
        },
        Endpoint {
            name: "`GET /review?book_id=`".to_owned(),
            function: Function::Reviews,
            request: Box::new(move |_| get(&format!("/review?book_id={book_id}"))),
            expect: StatusCode::OK,
            // One statement: the page (a second only when it is empty).
            raw: Box::new(move |c, _| Review::book_page(c, book_id, None, 50).map(|_| ())),
        },
    ]
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap_or_default()
}

async fn call(router: &Router, request: Request<Body>, expect: StatusCode) -> anyhow::Result<()> {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .context("the router failed")?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .context("reading the body")?
        .to_bytes();
    if status != expect {
        bail!("answered {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

fn pool_config(prepared_statements: bool) -> PoolConfig {
    PoolConfig::default().with_session(session(prepared_statements))
}

fn session(prepared_statements: bool) -> SessionSettings {
    SessionSettings::default().with_prepared_statements(prepared_statements)
}

struct Series {
    app: Samples,
    raw: Samples,
}

/// The two series for one endpoint, interleaved call by call (which goes first alternates).
async fn measure(
    endpoint: &Endpoint,
    router: &Router,
    pool: &DbPool,
    warmup: usize,
    calls: usize,
) -> anyhow::Result<Series> {
    let (mut app, mut bare) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
    for i in 0..warmup + calls {
        let mut times = [Duration::ZERO; 2];
        for k in 0..2 {
            let which = (i + k) % 2;
            times[which] = if which == 0 {
                let started = Instant::now();
                call(router, (endpoint.request)(i), endpoint.expect).await?;
                started.elapsed()
            } else {
                // The app's own connection (the pool's only one), taken out before the
                // clock starts: the same server process on the other end, so both series
                // see the same scheduling between client and backend.
                let mut conn = pool.get().context("the pool's connection")?;
                let started = Instant::now();
                (endpoint.raw)(&mut conn, i)?;
                started.elapsed()
            };
        }
        if i >= warmup {
            app.push(times[0]);
            bare.push(times[1]);
        }
    }
    Ok(Series {
        app: Samples::new(app),
        raw: Samples::new(bare),
    })
}

/// Where the in-process time goes besides the database: a request the router answers
/// without one (`GET /book?limit=0`: 400 from the query extractor, logged like any other),
/// and a no-op `block_in_place` (how every unit of work leaves the async worker).
async fn floors(
    router: &Router,
    warmup: usize,
    calls: usize,
) -> anyhow::Result<(Samples, Samples)> {
    let mut http = Vec::with_capacity(calls);
    let mut hop = Vec::with_capacity(calls);
    for i in 0..warmup + calls {
        let started = Instant::now();
        call(router, get("/book?limit=0"), StatusCode::BAD_REQUEST).await?;
        let a = started.elapsed();
        let started = Instant::now();
        tokio::task::block_in_place(|| std::hint::black_box(0));
        let b = started.elapsed();
        if i >= warmup {
            http.push(a);
            hop.push(b);
        }
    }
    Ok((Samples::new(http), Samples::new(hop)))
}

/// What each endpoint sends, through the trace proxy: app and raw.
async fn traces(db: &TestDb, book_id: i32, prepared: bool) -> anyhow::Result<String> {
    let proxy = Proxy::start("127.0.0.1:5432".to_owned()).await?;
    let url = db.url_via(
        &format!("127.0.0.1:{}", proxy.port()),
        "sslmode=disable&gssencmode=disable",
    );
    let target = DbTarget::from_url(&url)?;
    let state = startup::build_state(target.clone(), &pool_config(prepared), Dispatch::Inline)?;
    let mut out = String::new();
    let eps = endpoints(book_id);
    // The first request opens the connection and checks the schema: show that once.
    let first = &eps[0];
    call(
        &app(state.clone(), first.function),
        (first.request)(0),
        first.expect,
    )
    .await?;
    let setup = proxy.take();
    let _ = writeln!(
        out,
        "- a container's first request ({}), {} round trips:\n{}",
        first.name,
        sql_trace::round_trips(&setup),
        sql_trace::render(&setup)
    );
    let mut raw = DbConnection::establish(&target, None, session(prepared))?;
    for ep in &eps {
        let router = app(state.clone(), ep.function);
        // Twice first, so that cached statements show as cached.
        for i in 0..2 {
            call(&router, (ep.request)(1_000_000 + i), ep.expect).await?;
            (ep.raw)(&mut raw, 1_000_000 + i)?;
        }
        let _ = proxy.take();
        call(&router, (ep.request)(2_000_000), ep.expect).await?;
        let app_msgs = proxy.take();
        (ep.raw)(&mut raw, 2_000_000)?;
        let raw_msgs = proxy.take();
        let _ = writeln!(
            out,
            "- {}: app {} round trips, raw {}:\n{}",
            ep.name,
            sql_trace::round_trips(&app_msgs),
            sql_trace::round_trips(&raw_msgs),
            sql_trace::render(&app_msgs)
        );
    }
    Ok(out)
}

/// The rows (prepared statements on, the functions' default) and the notes (both settings).
pub async fn run(db: &TestDb, book_id: i32, warmup: usize, calls: usize) -> Section {
    let mut section = Section::default();
    let mut notes = String::new();
    let _ = writeln!(
        notes,
        "In-process: `app(state, Function::Books|Reviews).oneshot(request)` with the body collected, on a pool of 1 \
         over TLS (`sslmode=require`), JSON request logs formatted into a sink. Baseline (`raw`): the model \
         function the handler calls, on the app's own connection (the pool's only one, taken out before the clock \
         starts; diesel + the same libpq, same TLS): the same SQL to the same server process and nothing else. \
         Sharing the connection matters here: with two connections, each series talks to its own backend \
         process, and where the scheduler puts each backend relative to the client thread moves a series' p50 \
         by up to 2× on this 2-core machine, in either direction. \
         Every handler's work is one statement, so the unit of work sends no `BEGIN`/`COMMIT`, and a \
         connection used in the last second (`DB_VALIDATE_AFTER_IDLE_MS`) is not pinged at checkout: the traces \
         below show app and raw sending the same statements. {calls} calls per series after {warmup} warm-up \
         calls, the two series interleaved call by call.\n"
    );
    let url = format!("{}?sslmode=require", db.url());
    for prepared in [true, false] {
        let result = async {
            let target = DbTarget::from_url(&url)?;
            let config = pool_config(prepared);
            let pool = build_pool(target, None, &config)?;
            let state = AppState::new(pool.clone(), Dispatch::Inline);
            let mut lines = Vec::new();
            let floor = floors(&app(state.clone(), Function::Books), warmup, calls).await?;
            for ep in endpoints(book_id) {
                let router = app(state.clone(), ep.function);
                let series = measure(&ep, &router, &pool, warmup, calls)
                    .await
                    .with_context(|| ep.name.clone())?;
                lines.push((ep.name, series));
            }
            anyhow::Ok((lines, floor))
        }
        .await;
        let label = if prepared {
            "prepared statements on (`DB_PREPARED_STATEMENTS` unset: the functions' default)"
        } else {
            "prepared statements off (`DB_PREPARED_STATEMENTS=false`, as behind RDS Proxy or pgbouncer)"
        };
        match result {
            Ok((lines, (http, hop))) => {
                let _ = writeln!(
                    notes,
                    "\n{label}:\n\n| endpoint | app p50 / p99 | raw p50 / p99 | app ÷ raw (p50) | app − raw (p50) |\n|---|---|---|---|---|"
                );
                for (name, s) in &lines {
                    let r = ratio(s.app.p50(), s.raw.p50());
                    let _ = writeln!(
                        notes,
                        "| {name} | {} / {} | {} / {} | {r:.2}× | {} |",
                        fmt_dur(s.app.p50()),
                        fmt_dur(s.app.p99()),
                        fmt_dur(s.raw.p50()),
                        fmt_dur(s.raw.p99()),
                        fmt_dur(s.app.p50().saturating_sub(s.raw.p50())),
                    );
                    if prepared {
                        section.rows.push(Row::new(
                            format!("warm latency, {name}, in-process"),
                            format!(
                                "p50 {} / p99 {} (n={})",
                                fmt_dur(s.app.p50()),
                                fmt_dur(s.app.p99()),
                                s.app.len()
                            ),
                            format!(
                                "raw: p50 {} / p99 {}",
                                fmt_dur(s.raw.p50()),
                                fmt_dur(s.raw.p99())
                            ),
                            format!("≤ 1.3× raw at p50: {r:.2}×"),
                            Verdict::from_ok(r <= TARGET_RATIO),
                        ));
                    }
                }
                let _ = writeln!(
                    notes,
                    "\nWithout the database, same router and runtime: `GET /book?limit=0` (a 400 from the query \
                     extractor: routing, the error body, the log line) p50 {} / p99 {}; a no-op `block_in_place` \
                     p50 {} / p99 {}.",
                    fmt_dur(http.p50()),
                    fmt_dur(http.p99()),
                    fmt_dur(hop.p50()),
                    fmt_dur(hop.p99()),
                );
            }
            Err(e) => section.rows.push(Row::broken(
                format!("warm latency ({label})"),
                "≤ 1.3× raw at p50",
                &e,
            )),
        }
        match traces(db, book_id, prepared).await {
            Ok(text) => {
                let _ = writeln!(
                    notes,
                    "\nWhat goes over the wire, {label} (read off the protocol by a proxy; a round trip is one wait for the server):\n\n{text}"
                );
            }
            Err(e) => {
                let _ = writeln!(notes, "\nSQL trace failed: {e:#}");
            }
        }
    }
    section.notes = notes;
    section
}
