//! Everything this function's container sends to PostgreSQL over its life (connect,
//! cold-start check, requests, a reconnect) holds no statement that pins an RDS Proxy
//! session: the patched diesel (the `[patch.crates-io]` in Cargo.toml) and the app role's
//! settings together.

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use bookstore_kit::{AppState, Dispatch, router};
use bookstore_schema::{
    DbConnection, DbTarget, PoolConfig, SessionSettings, build_pool,
    migrate::{self, RunOptions, Runner},
};
use bookstore_testing::{cluster::Cluster, pinning::pinning_statements};
use tower::ServiceExt as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_containers_life_sends_no_statement_that_pins_an_rds_proxy_session() {
    let cluster = Cluster::builder()
        .option("timezone", "America/New_York")
        .start();
    let admin_target = DbTarget::from_url(&cluster.url("postgres", "postgres")).expect("url");
    let mut admin =
        DbConnection::establish(&admin_target, None, SessionSettings::default()).expect("admin");
    Runner::new(RunOptions::default())
        .migrate(&mut admin)
        .expect("migrate");
    migrate::ensure_app_role(&mut admin, migrate::DEFAULT_APP_ROLE).expect("app role");
    cluster.log_statements();
    let app_target =
        DbTarget::from_url(&cluster.url(migrate::DEFAULT_APP_ROLE, "postgres")).expect("url");
    let pool = build_pool(app_target, None, &PoolConfig::default()).expect("pool");
    let state = AppState::for_function(pool, Dispatch::Inline, "author-books");
    bookstore_kit::startup::check_schema_at_start(&state).await;
    let app = router::finish(author_books::routes(), state);
    let get = |app: axum::Router| async move {
        app.oneshot(
            Request::get("/author/Frank%20Herbert/books")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible")
        .status()
    };
    for _ in 0..100 {
        assert_eq!(get(app.clone()).await, StatusCode::OK);
    }
    cluster.psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'",
        migrate::DEFAULT_APP_ROLE
    ));
    let _ = get(app.clone()).await;
    for _ in 0..100 {
        assert_eq!(get(app.clone()).await, StatusCode::OK);
    }
    let statements = cluster.statements_of(migrate::DEFAULT_APP_ROLE);
    assert!(statements.len() >= 200, "{} statements", statements.len());
    assert!(
        cluster.connections_of(migrate::DEFAULT_APP_ROLE) >= 2,
        "a reconnect"
    );
    let pinning = pinning_statements(&statements);
    assert!(pinning.is_empty(), "pinning statements: {pinning:#?}");
}
