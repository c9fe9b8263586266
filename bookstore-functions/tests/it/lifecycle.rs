//! The unit of work, the schema gate and the container's recovery from database failures.

use std::time::Duration;

use axum::http::{StatusCode, header};
use bookstore_kit::{ApiError, Dispatch};
use bookstore_schema::{
    Backend, Book, DbConnection, DbTarget, NewBook, PoolConfig, SessionSettings,
    migrate::{self, RunOptions, Runner},
};
use bookstore_testing::TestDb;

use crate::support::{
    Proxy, TestApp, backend_tests, book_json, closed_port, pool_config, replace_host_port, test_db,
};

const DUNE: NewBook<'static> = NewBook {
    title: "Dune",
    author: "Frank Herbert",
    publisher: "Chilton",
    year: 1965,
};

/// A pool that gives up quickly, for tests that expect 503s.
fn impatient() -> PoolConfig {
    pool_config(1).with_checkout_timeout(Duration::from_millis(300))
}

/// A pool for outages that end: r2d2 retries a failed connect every
/// `checkout_timeout / 2` at most, so the request right after recovery gets a retry in time.
fn recovering() -> PoolConfig {
    pool_config(1).with_checkout_timeout(Duration::from_secs(1))
}

async fn a_unit_of_work_that_fails_leaves_nothing_behind(app: TestApp) {
    let result = app
        .state
        .unit_of_work(|conn| {
            Book::create(conn, &DUNE)?;
            Book::create(conn, &DUNE)?;
            Err::<(), _>(ApiError::invalid_body("changed my mind"))
        })
        .await;
    assert_eq!(result.unwrap_err().code(), "invalid_body");
    assert_eq!(app.count("book"), 0);
}

async fn a_unit_of_work_that_panics_rolls_back_and_the_next_one_works(app: TestApp) {
    let result = app
        .state
        .unit_of_work(|conn| -> Result<(), ApiError> {
            Book::create(conn, &DUNE)?;
            panic!("a bug in a handler");
        })
        .await;
    assert_eq!(result.unwrap_err().code(), "internal");
    assert_eq!(app.count("book"), 0);
    let book = app
        .state
        .unit_of_work(|conn| Ok(Book::create(conn, &DUNE)?))
        .await
        .unwrap();
    assert_eq!(book.title, "Dune");
    assert_eq!(app.count("book"), 1);
}

/// The same failure under each way a unit of work can run: inline (a Lambda container),
/// `block_in_place` (a server on the multi-thread runtime), `spawn_blocking` (a server on
/// a current-thread runtime, the next test).
async fn every_dispatch_answers_a_panic_with_500_and_keeps_nothing(app: TestApp) {
    let TestApp { mut db, .. } = app;
    for dispatch in [Dispatch::Inline, Dispatch::Offload] {
        let target = db.target();
        let this = TestApp::with_dispatch(db, target, &pool_config(1), dispatch);
        panic_then_work(&this, &format!("{dispatch:?}")).await;
        db = this.db;
    }
}

async fn panic_then_work(app: &TestApp, label: &str) {
    let before = app.count("book");
    let result = app
        .state
        .one_statement(|conn| -> Result<(), ApiError> {
            Book::create(conn, &DUNE)?;
            panic!("a bug in a handler");
        })
        .await;
    assert_eq!(result.unwrap_err().code(), "internal", "{label}");
    // One statement, autocommitted before the panic: it stays, as a lone INSERT would. On
    // MySQL (no RETURNING) the create is an INSERT and a read back, so `one_statement` is a
    // transaction there, and the panic takes the write back.
    let kept = i64::from(app.db.backend().as_str() != "mysql");
    assert_eq!(app.count("book"), before + kept, "{label}");
    let result = app
        .state
        .unit_of_work(|conn| -> Result<(), ApiError> {
            Book::create(conn, &DUNE)?;
            panic!("a bug in a handler");
        })
        .await;
    assert_eq!(result.unwrap_err().code(), "internal", "{label}");
    assert_eq!(
        app.count("book"),
        before + kept,
        "{label}: the transaction rolled back"
    );
    app.create_book("Emma").await;
    assert_eq!(
        app.count("book"),
        before + kept + 1,
        "{label}: the next request works"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn offloaded_work_on_a_current_thread_runtime_uses_spawn_blocking() {
    let db = test_db(Backend::Postgres, "dispatch_current_thread");
    let target = db.target();
    let app = TestApp::with_dispatch(db, target, &pool_config(2), Dispatch::Offload);
    panic_then_work(&app, "Offload, current thread").await;
}

async fn a_request_after_a_database_error_succeeds_on_the_same_connection(app: TestApp) {
    // One connection, so the request after the failure reuses the failed one.
    let app = TestApp::with_pool(app.db, &pool_config(1));
    app.connect()
        .batch_execute("CREATE UNIQUE INDEX book_title_key ON book (title)")
        .unwrap();
    app.create_book("Dune").await;
    app.post("/book", book_json("Dune"))
        .await
        .assert_error(StatusCode::CONFLICT, "conflict");
    app.create_book("Emma").await;
    assert_eq!(app.count("book"), 2);
}

async fn a_database_behind_the_pinned_schema_answers_503_schema_behind_until_migrated(
    app: TestApp,
) {
    let mut conn = app.connect();
    Runner::new(RunOptions::default())
        .revert(&mut conn, 1)
        .unwrap();
    let embedded = migrate::embedded(app.backend());
    let (previous, head) = (
        embedded[embedded.len() - 2].version,
        embedded[embedded.len() - 1].version,
    );
    // A new container: its cold-start check finds the database behind.
    let app = TestApp::with_pool(app.db, &pool_config(1));
    bookstore_kit::startup::check_schema_at_start(&app.state).await;
    assert!(!app.state.schema_is_current());
    for _ in 0..2 {
        let response = app.get("/book").await;
        let error = response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "schema_behind");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(head),
            "names the required version: {message}"
        );
        assert!(
            message.contains(previous),
            "names the database's version: {message}"
        );
        assert!(message.contains(bookstore_schema::VERSION), "{message}");
        assert_eq!(response.headers.get(header::RETRY_AFTER).unwrap(), "1");
    }
    app.post("/book", book_json("Dune"))
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "schema_behind");
    // The schema Lambda runs; the same container recovers on its next request.
    Runner::new(RunOptions::default())
        .migrate(&mut conn)
        .unwrap();
    app.get("/book").await.assert_status(StatusCode::OK);
    app.create_book("Dune").await;
    assert!(app.state.schema_is_current());
}

async fn a_database_ahead_of_the_pinned_schema_is_served(app: TestApp) {
    app.connect()
        .batch_execute(&format!(
            "INSERT INTO {} (version, name, checksum, duration_ms) VALUES ('2099-01-01-000000', 'from_a_newer_crate', '{}', 0)",
            migrate::BOOKKEEPING_TABLE,
            "0".repeat(64)
        ))
        .unwrap();
    bookstore_kit::startup::check_schema_at_start(&app.state).await;
    assert!(app.state.schema_is_current());
    app.create_book("Dune").await;
    app.get("/book").await.assert_status(StatusCode::OK);
}

async fn an_unreachable_database_answers_503_database_unavailable(app: TestApp) {
    let target = match app.backend() {
        Backend::Postgres | Backend::Mysql => DbTarget::from_url(&replace_host_port(
            &app.db.url(),
            &format!("127.0.0.1:{}", closed_port()),
        ))
        .unwrap(),
        Backend::Sqlite => DbTarget::Sqlite(
            std::env::temp_dir()
                .join("bookstore-no-such-dir")
                .join("x")
                .join("book.db")
                .display()
                .to_string(),
        ),
        other => panic!("no unreachable target for {other:?}"),
    };
    let app = TestApp::with_target(app.db, target, &impatient());
    // The cold-start check fails without taking the container down.
    bookstore_kit::startup::check_schema_at_start(&app.state).await;
    for response in [
        app.get("/book").await,
        app.post("/book", book_json("Dune")).await,
    ] {
        let error = response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable");
        let message = error["message"].as_str().unwrap();
        assert!(
            !message.contains("127.0.0.1")
                && !message.contains("book.db")
                && !message.contains("postgres"),
            "{message}"
        );
        assert_eq!(response.headers.get(header::RETRY_AFTER).unwrap(), "1");
    }
    // Client errors are still told apart from the outage.
    app.get("/book?limit=x")
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

backend_tests!(
    a_unit_of_work_that_fails_leaves_nothing_behind,
    a_unit_of_work_that_panics_rolls_back_and_the_next_one_works,
    every_dispatch_answers_a_panic_with_500_and_keeps_nothing,
    a_request_after_a_database_error_succeeds_on_the_same_connection,
    a_database_behind_the_pinned_schema_answers_503_schema_behind_until_migrated,
    a_database_ahead_of_the_pinned_schema_is_served,
    an_unreachable_database_answers_503_database_unavailable,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_server_that_goes_down_answers_503_and_the_next_request_after_it_returns_succeeds()
 {
    let db = test_db(Backend::Postgres, "pg_down_and_back");
    let proxy = Proxy::start(true).await;
    let target = proxy.target_for(&db);
    let app = TestApp::with_target(db, target, &recovering());
    app.create_book("Dune").await;

    proxy.down();
    app.get("/book")
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable");
    app.post("/book", book_json("Emma"))
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable");

    proxy.up();
    let listed = app.get("/book").await;
    listed.assert_status(StatusCode::OK);
    assert_eq!(
        listed.body["books"].as_array().unwrap().len(),
        1,
        "the failed create left nothing"
    );
    app.create_book("Emma").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_server_down_at_cold_start_is_served_once_it_is_up() {
    let db = test_db(Backend::Postgres, "pg_down_at_start");
    let proxy = Proxy::start(false).await;
    let target = proxy.target_for(&db);
    let app = TestApp::with_target(db, target, &recovering());
    bookstore_kit::startup::check_schema_at_start(&app.state).await;
    assert!(!app.state.schema_is_current());
    app.get("/book")
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable");
    proxy.up();
    app.get("/book").await.assert_status(StatusCode::OK);
    assert!(app.state.schema_is_current());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_that_cannot_be_opened_answers_503_until_it_can() {
    let migrated = test_db(Backend::Sqlite, "sqlite_unopenable");
    let TestDb::Sqlite { path: source } = &migrated else {
        unreachable!()
    };
    let dir = std::env::temp_dir().join(format!("bookstore-later-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("book.db");
    let app = TestApp::with_target(
        test_db(Backend::Sqlite, "sqlite_unopenable_unused"),
        DbTarget::Sqlite(path.display().to_string()),
        &recovering(),
    );
    app.get("/book")
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable");

    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(source, &path).unwrap();
    app.get("/book").await.assert_status(StatusCode::OK);
    app.create_book("Dune").await;
    drop(app);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Terminates, from an admin connection, the backend of the app's one pooled connection.
fn terminate_the_pools_connection(app: &TestApp) {
    let TestDb::Postgres { name } = &app.db else {
        unreachable!()
    };
    let admin = DbTarget::from_url(&bookstore_testing::admin_url()).unwrap();
    let mut admin = DbConnection::establish(&admin, None, SessionSettings::default()).unwrap();
    let terminated = crate::support::count_sql(
        &mut admin,
        &format!(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = '{name}'"
        ),
    );
    assert_eq!(terminated, 1, "the pool's one connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_postgres_connection_gives_at_most_one_503_then_recovers() {
    let app = TestApp::with_pool(test_db(Backend::Postgres, "pg_terminate"), &pool_config(1));
    app.create_book("Dune").await;
    terminate_the_pools_connection(&app);

    let mut unavailable = 0;
    for n in 0..3 {
        let response = app.post("/book", book_json(&format!("Book {n}"))).await;
        match response.status {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable");
                unavailable += 1;
            }
            other => panic!("unexpected {other}: {}", response.text),
        }
    }
    assert!(unavailable <= 1, "{unavailable} requests answered 503");
    app.get("/book").await.assert_status(StatusCode::OK);
    assert_eq!(app.count("book"), 4 - unavailable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_postgres_connection_idle_past_the_window_costs_no_request() {
    // Every checkout counts as idle: the ping before each request finds the dead
    // socket first, as it does in a container thawed after a pause.
    let config = pool_config(1).with_validate_after_idle(Duration::ZERO);
    let app = TestApp::with_pool(test_db(Backend::Postgres, "pg_terminate_idle"), &config);
    app.create_book("Dune").await;
    terminate_the_pools_connection(&app);
    app.create_book("Emma").await;
    app.get("/book").await.assert_status(StatusCode::OK);
    assert_eq!(app.count("book"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_works_as_the_dml_only_app_role() {
    let db = test_db(Backend::Postgres, "pg_app_role");
    let url = db.url();
    let (scheme, rest) = url.split_once("://").unwrap();
    let host_and_db = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let as_app = format!("{scheme}://{}@{host_and_db}", migrate::DEFAULT_APP_ROLE);
    let app = TestApp::with_target(db, DbTarget::from_url(&as_app).unwrap(), &pool_config(1));
    bookstore_kit::startup::check_schema_at_start(&app.state).await;
    assert!(
        app.state.schema_is_current(),
        "the app role reads the migration record"
    );
    let book = app.create_book("Dune").await;
    app.create_review(book, 4).await;
    for uri in [
        "/book".to_owned(),
        format!("/book/{book}"),
        format!("/book/{book}/reviews"),
        format!("/review?book_id={book}"),
    ] {
        app.get(&uri).await.assert_status(StatusCode::OK);
    }
}
