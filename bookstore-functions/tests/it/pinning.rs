//! Everything one function container sends to PostgreSQL over its life, recorded by the
//! server (`log_statement = all` on a throwaway cluster), holds no statement that pins an
//! RDS Proxy session (`bookstore_testing::pinning`): the connect (diesel's session
//! set-up), the cold-start schema check and pin, a few hundred requests on every route
//! (successes, 404s, 409s, 422s), and a reconnect after the server killed the session.
//!
//! The cluster's own defaults are deliberately not what diesel wants (`TimeZone` is
//! America/New_York, `client_encoding` the database's): only the app role's settings and
//! the connection's startup parameters make diesel's two `SET`s unnecessary.

use axum::http::{Method, StatusCode};
use bookstore_functions::{Function, app};
use bookstore_kit::{AppState, Dispatch, startup};
use bookstore_schema::{
    DbConnection, DbTarget, PoolConfig, SessionSettings, build_pool,
    migrate::{self, RunOptions, Runner},
};
use bookstore_testing::{cluster::Cluster, pinning::pinning_statements};
use serde_json::json;

use crate::support::{book_json, id_of, request, send};

const APP_ROLE: &str = migrate::DEFAULT_APP_ROLE;

/// A cluster with the bookstore schema and the app role, logging every statement.
fn migrated_cluster() -> Cluster {
    let cluster = Cluster::builder()
        .option("timezone", "America/New_York")
        .start();
    cluster.psql("CREATE DATABASE bookstore");
    let target = DbTarget::from_url(&cluster.url("postgres", "bookstore")).unwrap();
    let mut admin = DbConnection::establish(&target, None, SessionSettings::default()).unwrap();
    Runner::new(RunOptions::default())
        .migrate(&mut admin)
        .unwrap();
    migrate::ensure_app_role(&mut admin, APP_ROLE).unwrap();
    cluster.log_statements();
    cluster
}

/// The app role's target as a deployed function has it (DB_* parts).
fn app_target(cluster: &Cluster) -> DbTarget {
    DbTarget::from_lookup(bookstore_testing::lookup(&[
        ("DB_HOST", "127.0.0.1"),
        ("DB_PORT", &cluster.port().to_string()),
        ("DB_NAME", "bookstore"),
        ("DB_USER", APP_ROLE),
        ("DB_SSLMODE", "disable"),
    ]))
    .unwrap()
}

/// A function container's life on `config`: cold start, every route `rounds` times,
/// the session killed by the server, every route again.
async fn container_life(cluster: &Cluster, config: &PoolConfig, rounds: usize) -> usize {
    let pool = build_pool(app_target(cluster), None, config).unwrap();
    let state = AppState::for_function(pool, Dispatch::for_pool_size(config.max_size), "trace");
    startup::check_schema_at_start(&state).await;
    assert!(state.schema_is_current(), "the cold-start check passed");
    let router = app(state, Function::All);
    let mut requests = 0;
    let round = |router: axum::Router| async move {
        let mut sent = 0;
        let created = send(
            &router,
            request(Method::POST, "/book", Some(book_json("Dune"))),
        )
        .await;
        created.assert_status(StatusCode::CREATED);
        let id = id_of(&created.body);
        let put = send(
            &router,
            request(Method::PUT, "/book", Some(book_json("Dune Messiah"))),
        )
        .await;
        put.assert_status(StatusCode::OK);
        for (method, uri, body, status) in [
            (Method::GET, "/book".to_owned(), None, StatusCode::OK),
            (
                Method::GET,
                "/book?limit=2&after=1".to_owned(),
                None,
                StatusCode::OK,
            ),
            (Method::GET, format!("/book/{id}"), None, StatusCode::OK),
            (
                Method::GET,
                "/book/999999".to_owned(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/review".to_owned(),
                Some(json!({"book_id": id, "reviewer": "Ann", "rate": 4})),
                StatusCode::CREATED,
            ),
            (
                Method::PUT,
                "/review".to_owned(),
                Some(json!({"book_id": id, "reviewer": "Bob", "rate": 5})),
                StatusCode::OK,
            ),
            (
                Method::POST,
                "/review".to_owned(),
                Some(json!({"book_id": 999_999, "reviewer": "Ann", "rate": 4})),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (Method::GET, "/review".to_owned(), None, StatusCode::OK),
            (
                Method::GET,
                format!("/book/{id}/reviews"),
                None,
                StatusCode::OK,
            ),
            (
                Method::GET,
                "/book/999999/reviews".to_owned(),
                None,
                StatusCode::NOT_FOUND,
            ),
        ] {
            send(&router, request(method, &uri, body))
                .await
                .assert_status(status);
            sent += 1;
        }
        sent + 2
    };
    for _ in 0..rounds {
        requests += round(router.clone()).await;
    }
    // The server ends the session (a failover, RDS Proxy closing an idle client): the
    // container reconnects and carries on.
    cluster.psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{APP_ROLE}'"
    ));
    let after_kill = send(&router, request(Method::GET, "/book", None)).await;
    assert!(
        matches!(
            after_kill.status,
            StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE
        ),
        "{after_kill:?}"
    );
    requests += 1;
    for _ in 0..rounds {
        requests += round(router.clone()).await;
    }
    requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_containers_whole_life_sends_no_statement_that_pins_an_rds_proxy_session() {
    crate::support::global_subscriber();
    let cluster = migrated_cluster();
    // As deployed (one connection, named statements cached), and as a server (a pool of
    // several, named statements off).
    let mut requests = 0;
    for config in [
        PoolConfig::default(),
        PoolConfig::default()
            .with_max_size(3)
            .with_session(SessionSettings::default().with_prepared_statements(false)),
    ] {
        requests += container_life(&cluster, &config, 15).await;
    }
    let statements = cluster.statements_of(APP_ROLE);
    let connections = cluster.connections_of(APP_ROLE);
    assert!(requests >= 300, "{requests} requests");
    assert!(
        connections >= 4,
        "a connect and a reconnect per container: {connections}"
    );
    assert!(
        statements.len() >= requests,
        "{} statements logged",
        statements.len()
    );
    let pinning = pinning_statements(&statements);
    assert!(
        pinning.is_empty(),
        "{} of {} statements pin an RDS Proxy session: {pinning:#?}",
        pinning.len(),
        statements.len()
    );
    // The trace's shape, for docs/architecture.md (`cargo test … -- --nocapture`).
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for sql in &statements {
        let kind: String = sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
        *kinds.entry(kind).or_default() += 1;
    }
    println!(
        "{requests} requests, {connections} sessions, {} statements, 0 pinning; by first words: {kinds:#?}",
        statements.len()
    );
}
