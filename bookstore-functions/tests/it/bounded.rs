//! Every request is answered in bounded time, whatever the database does: stopped
//! (refusing connections), frozen (SIGSTOP: connections accepted, nothing answered), or
//! killed under a pooled connection. A throwaway cluster per test, which the harness
//! stops, freezes and resumes.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use bookstore_functions::{Function, app};
use bookstore_kit::{ApiError, AppState, Dispatch, startup};
use bookstore_schema::{
    DbConnection, DbTarget, NewBook, PoolConfig, SessionSettings, build_pool,
    migrate::{RunOptions, Runner},
};
use bookstore_testing::cluster::Cluster;

use crate::support::{book_json, request, send};

fn migrated_cluster() -> Cluster {
    let cluster = Cluster::builder().start();
    let target = DbTarget::from_url(&cluster.url("postgres", "postgres")).unwrap();
    let mut admin = DbConnection::establish(&target, None, SessionSettings::default()).unwrap();
    Runner::new(RunOptions::default())
        .migrate(&mut admin)
        .unwrap();
    cluster
}

/// A deployed function's state over `cluster`, as a `DATABASE_URL` without any timeout
/// (the form that used to have no connect timeout at all).
fn state(cluster: &Cluster, deadline: Duration) -> AppState {
    crate::support::global_subscriber();
    let target = DbTarget::from_url(&cluster.url("postgres", "postgres")).unwrap();
    let pool = build_pool(target, None, &PoolConfig::default()).unwrap();
    AppState::for_function(pool, Dispatch::Inline, "bounded").with_request_deadline(deadline)
}

fn count_titled(cluster: &Cluster, title: &str) -> i64 {
    cluster
        .psql_output(&format!(
            "SELECT count(*) FROM book WHERE title = '{title}'"
        ))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_answers_503_in_milliseconds_warm_and_at_cold_start() {
    let cluster = migrated_cluster();
    let state = state(&cluster, Duration::from_secs(10));
    let router = app(state.clone(), Function::All);
    send(&router, request(Method::GET, "/book", None))
        .await
        .assert_status(StatusCode::OK);
    cluster.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let response = send(&router, request(Method::GET, "/book", None)).await;
        let took = started.elapsed();
        response.assert_status(StatusCode::SERVICE_UNAVAILABLE);
        assert!(took < Duration::from_millis(1_000), "warm: {took:?}");
        println!("figure: stopped database, warm request → 503 in {took:?}");
    }
    // A cold start with the database down: the schema check fails fast, not fatal.
    let cold = self::state(&cluster, Duration::from_secs(10));
    let started = Instant::now();
    startup::check_schema_at_start(&cold).await;
    let took = started.elapsed();
    assert!(!cold.schema_is_current());
    assert!(took < Duration::from_millis(1_000), "cold start: {took:?}");
    println!("figure: stopped database, cold-start schema check gave up in {took:?}");
    cluster.start();
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = send(&router, request(Method::GET, "/book", None))
            .await
            .status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        StatusCode::OK,
        "serves again once the database is back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_answers_503_at_the_deadline_and_a_late_write_rolls_back() {
    let cluster = migrated_cluster();
    let deadline = Duration::from_millis(1_500);
    let state = state(&cluster, deadline);
    let router = app(state.clone(), Function::All);
    send(&router, request(Method::GET, "/book", None))
        .await
        .assert_status(StatusCode::OK);
    cluster.freeze();
    // A read and a write in flight on the frozen server, and a unit of work: each is
    // answered at the deadline.
    let started = Instant::now();
    let read = send(&router, request(Method::GET, "/book", None)).await;
    let took = started.elapsed();
    read.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        took >= deadline && took < deadline + Duration::from_secs(1),
        "read: {took:?}"
    );
    println!("figure: frozen database, in-flight read → 503 in {took:?} (deadline {deadline:?})");
    let started = Instant::now();
    let write = send(
        &router,
        request(Method::POST, "/book", Some(book_json("Frozen"))),
    )
    .await;
    let took = started.elapsed();
    write.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < deadline + Duration::from_secs(1), "write: {took:?}");
    println!("figure: frozen database, POST /book → 503 in {took:?}");
    // A new connection to the frozen server, from a `DATABASE_URL` that sets no
    // timeout: the default connect_timeout (5 s) ends it.
    let url = DbTarget::from_url(&cluster.url("postgres", "postgres")).unwrap();
    let started = Instant::now();
    let connect = DbConnection::establish(&url, None, SessionSettings::default());
    let took = started.elapsed();
    assert!(connect.is_err());
    assert!(took < Duration::from_secs(7), "connect: {took:?}");
    println!(
        "figure: frozen database, connect from a DATABASE_URL without connect_timeout fails in {took:?}"
    );
    let direct = state.clone();
    let started = Instant::now();
    let uow = direct
        .unit_of_work(|conn| {
            Ok::<_, ApiError>(bookstore_schema::Book::create(
                conn,
                &NewBook {
                    title: "Frozen too",
                    author: "A",
                    publisher: "P",
                    year: 2000,
                },
            )?)
        })
        .await;
    assert!(uow.is_err(), "{uow:?}");
    assert!(started.elapsed() < deadline + Duration::from_secs(1));
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.resume();
    // The stuck work runs once the server resumes, finds its deadline passed and rolls
    // back: the clients that were answered 503 see no write appear later.
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..100 {
        status = send(&router, request(Method::GET, "/book", None))
            .await
            .status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK, "serves again after the freeze");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count_titled(&cluster, "Frozen"),
        0,
        "the POST given up on committed"
    );
    assert_eq!(
        count_titled(&cluster, "Frozen too"),
        0,
        "the unit of work committed"
    );
    println!(
        "figure: frozen database, writes answered 503 that committed after the resume: 0 of 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_that_finds_every_connection_busy_answers_503_at_the_checkout_timeout_and_never_runs()
{
    let cluster = migrated_cluster();
    crate::support::global_subscriber();
    let target = DbTarget::from_url(&cluster.url("postgres", "postgres")).unwrap();
    let checkout = Duration::from_millis(300);
    let deadline = Duration::from_secs(4);
    // One connection, so one thread: the second request queues behind the first.
    let config = PoolConfig::default()
        .with_max_size(1)
        .with_checkout_timeout(checkout);
    let pool = build_pool(target, None, &config).unwrap();
    let state =
        AppState::for_function(pool, Dispatch::Inline, "busy").with_request_deadline(deadline);
    let router = app(state, Function::All);
    send(&router, request(Method::GET, "/book", None))
        .await
        .assert_status(StatusCode::OK);
    cluster.freeze();
    let stuck = tokio::spawn({
        let router = router.clone();
        async move { send(&router, request(Method::GET, "/book", None)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let queued = send(
        &router,
        request(Method::POST, "/book", Some(book_json("Queued"))),
    )
    .await;
    let took = started.elapsed();
    queued.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        took >= checkout && took < deadline,
        "answered in {took:?}: not at the checkout timeout ({checkout:?})"
    );
    println!("figure: every connection busy, queued POST /book → 503 in {took:?}");
    // Resumed well before the POST's deadline: had its work run after all, it would commit.
    cluster.resume();
    stuck.await.unwrap().assert_status(StatusCode::OK);
    send(&router, request(Method::GET, "/book", None))
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        count_titled(&cluster, "Queued"),
        0,
        "the POST answered 503 before it started ran later"
    );
}
