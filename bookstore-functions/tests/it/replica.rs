//! Reads on a real streaming replica (`pg_basebackup -R` into a folder of the test's own,
//! a hot standby on another port): lists and `GET /book/{id}` are read there, a `404`
//! from a lagging replica is asked again of the writer, and a stopped replica leaves the
//! reads to the writer, fast.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use bookstore_functions::{Function, app};
use bookstore_kit::{AppState, Dispatch, startup};
use bookstore_schema::{
    DbConnection, DbTarget, PoolConfig, SessionSettings, build_pool,
    migrate::{RunOptions, Runner},
};
use bookstore_testing::cluster::Cluster;

use crate::support::{book_json, id_of, request, send};

/// A migrated primary and its replica (lagging by `apply_delay`), logging statements.
fn primary_and_replica(apply_delay: Option<&str>) -> (Cluster, Cluster) {
    let primary = Cluster::builder().start();
    let target = DbTarget::from_url(&primary.url("postgres", "postgres")).unwrap();
    let mut admin = DbConnection::establish(&target, None, SessionSettings::default()).unwrap();
    Runner::new(RunOptions::default())
        .migrate(&mut admin)
        .unwrap();
    let replica = primary.replica(apply_delay);
    assert!(replica.is_replica());
    replica.log_statements_as_standby();
    (primary, replica)
}

/// The app over the writer `primary` and the reader `replica`, as a deployed function
/// configures it (`DATABASE_READER_URL`).
async fn app_over(primary: &Cluster, replica: &Cluster) -> (AppState, axum::Router) {
    crate::support::global_subscriber();
    let config = PoolConfig::default();
    let writer = build_pool(
        DbTarget::from_url(&primary.url("postgres", "postgres")).unwrap(),
        None,
        &config,
    )
    .unwrap();
    let state = AppState::for_function(writer, Dispatch::Inline, "replica-test");
    let reader_url = replica.url("postgres", "postgres");
    let state = startup::with_reader_from_lookup(state, &config, move |name| {
        (name == "DATABASE_READER_URL").then(|| reader_url.clone())
    })
    .unwrap();
    assert!(state.has_reader());
    startup::check_schema_at_start(&state).await;
    assert!(state.schema_is_current(), "checked on the writer");
    (state.clone(), app(state, Function::All))
}

fn book_reads_on(cluster: &Cluster) -> usize {
    cluster
        .statements_of("postgres")
        .iter()
        .filter(|sql| sql.starts_with("SELECT \"book\"."))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_gets_read_from_the_replica() {
    let (primary, replica) = primary_and_replica(None);
    let (_state, router) = app_over(&primary, &replica).await;
    let created = send(
        &router,
        request(Method::POST, "/book", Some(book_json("Dune"))),
    )
    .await;
    created.assert_status(StatusCode::CREATED);
    let id = id_of(&created.body);
    assert!(replica.wait_for_replay(&primary, Duration::from_secs(10)));
    let before = book_reads_on(&replica);
    for uri in [
        "/book".to_owned(),
        format!("/book/{id}"),
        "/review".to_owned(),
    ] {
        send(&router, request(Method::GET, &uri, None))
            .await
            .assert_status(StatusCode::OK);
    }
    let got = send(&router, request(Method::GET, &format!("/book/{id}"), None)).await;
    assert_eq!(got.body["title"], "Dune");
    assert!(
        book_reads_on(&replica) >= before + 3,
        "the reads went to the replica: {:?}",
        replica.statements_of("postgres")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_sends_a_fresh_books_get_to_the_writer() {
    // The replica applies nothing written in the next minute.
    let (primary, replica) = primary_and_replica(Some("60s"));
    let (_state, router) = app_over(&primary, &replica).await;
    let created = send(
        &router,
        request(Method::POST, "/book", Some(book_json("Fresh"))),
    )
    .await;
    created.assert_status(StatusCode::CREATED);
    let id = id_of(&created.body);
    // The list comes from the replica, which does not have it yet…
    let list = send(&router, request(Method::GET, "/book", None)).await;
    list.assert_status(StatusCode::OK);
    assert_eq!(
        list.body["books"].as_array().unwrap().len(),
        0,
        "{}",
        list.body
    );
    // …but the client's own new book is found: 404 on the reader, asked of the writer.
    let before = book_reads_on(&replica);
    let got = send(&router, request(Method::GET, &format!("/book/{id}"), None)).await;
    got.assert_status(StatusCode::OK);
    assert_eq!(got.body["title"], "Fresh");
    assert_eq!(
        book_reads_on(&replica),
        before + 1,
        "asked of the replica first"
    );
    // A book that exists nowhere is still a 404.
    send(&router, request(Method::GET, "/book/999999", None))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_replica_leaves_the_reads_to_the_writer_fast() {
    let (primary, replica) = primary_and_replica(None);
    let (_state, router) = app_over(&primary, &replica).await;
    send(&router, request(Method::GET, "/book", None))
        .await
        .assert_status(StatusCode::OK);
    replica.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let response = send(&router, request(Method::GET, "/book", None)).await;
        let took = started.elapsed();
        response.assert_status(StatusCode::OK);
        assert!(took < Duration::from_secs(1), "{took:?}");
        println!("figure: stopped replica, GET /book answered by the writer in {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_replica_leaves_the_read_to_the_writer_within_the_one_deadline() {
    let (primary, replica) = primary_and_replica(None);
    let (state, _) = app_over(&primary, &replica).await;
    let deadline = Duration::from_secs(2);
    let router = app(state.with_request_deadline(deadline), Function::All);
    send(&router, request(Method::GET, "/book", None))
        .await
        .assert_status(StatusCode::OK);
    replica.freeze();
    let started = Instant::now();
    let response = send(&router, request(Method::GET, "/book", None)).await;
    let took = started.elapsed();
    replica.resume();
    response.assert_status(StatusCode::OK);
    // The reader had half the deadline; the writer answered within the rest.
    assert!(took >= deadline / 2 && took < deadline, "{took:?}");
    println!(
        "figure: frozen replica, GET /book answered by the writer in {took:?} (deadline {deadline:?})"
    );
}
