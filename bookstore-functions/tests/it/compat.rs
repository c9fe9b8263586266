//! The compatibility window at the function's edge: a database past a contract floor
//! answers `503 schema_incompatible`, and a function records its pin at cold start (as the
//! DML-only app role on PostgreSQL).

use axum::http::StatusCode;
use bookstore_kit::{AppState, Dispatch};
use bookstore_schema::{Backend, DbTarget, build_pool, migrate};

use crate::support::{TestApp, backend_tests, count_sql, pool_config, test_db};

/// Records, as a newer runner would, a contract migration whose floor is far above
/// every real version.
fn apply_future_contract(app: &TestApp) {
    app.connect()
        .batch_execute(&format!(
            "INSERT INTO {} (version, name, checksum, duration_ms, phase, floor, crate_version) \
             VALUES ('20991231000000', 'drop_what_you_read', '{}', 0, 'contract', '99.0.0', '99.0.0')",
            migrate::BOOKKEEPING_TABLE,
            "0".repeat(64)
        ))
        .unwrap();
}

async fn a_database_past_a_contract_floor_answers_503_schema_incompatible_naming_both_versions(
    app: TestApp,
) {
    app.create_book("Dune").await;
    apply_future_contract(&app);
    // A cold start after the contract: the check runs again.
    let fresh = TestApp::with_pool(app.db, &pool_config(1));
    bookstore_kit::startup::check_schema_at_start(&fresh.state).await;
    assert!(!fresh.state.schema_is_current());
    let response = fresh.get("/book").await;
    let body = response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "schema_incompatible");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("99.0.0") && message.contains(bookstore_schema::VERSION),
        "{message}"
    );
    assert_eq!(response.headers["retry-after"], "1");
    assert_eq!(fresh.count("book"), 1, "nothing was lost");
}

async fn a_warm_function_whose_columns_a_forced_contract_dropped_answers_503_not_500(app: TestApp) {
    let id = app.create_book("Dune").await;
    assert!(app.state.schema_is_current(), "warm: checked once");
    // An operator forces a contract through (`ignore_live_pins`) under a live container.
    apply_future_contract(&app);
    app.connect()
        .batch_execute("ALTER TABLE book DROP COLUMN publisher")
        .unwrap();
    let response = app.get(&format!("/book/{id}")).await;
    response.assert_error(StatusCode::SERVICE_UNAVAILABLE, "schema_incompatible");
    assert!(
        !app.state.schema_is_current(),
        "the next request checks again"
    );
    app.get("/book")
        .await
        .assert_error(StatusCode::SERVICE_UNAVAILABLE, "schema_incompatible");
}

backend_tests!(
    a_database_past_a_contract_floor_answers_503_schema_incompatible_naming_both_versions,
    a_warm_function_whose_columns_a_forced_contract_dropped_answers_503_not_500
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_records_its_pin_at_cold_start_as_the_dml_only_app_role() {
    let db = test_db(Backend::Postgres, "pg_pin_app_role");
    let url = db.url();
    let (scheme, rest) = url.split_once("://").unwrap();
    let host_and_db = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let as_app = format!("{scheme}://{}@{host_and_db}", migrate::DEFAULT_APP_ROLE);
    let pool = build_pool(DbTarget::from_url(&as_app).unwrap(), None, &pool_config(1)).unwrap();
    for _cold_start in 0..2 {
        let state = AppState::for_function(pool.clone(), Dispatch::Inline, "books");
        bookstore_kit::startup::check_schema_at_start(&state).await;
        assert!(state.schema_is_current());
    }
    let mut admin = db.connect();
    let sql = format!(
        "SELECT count(*) AS n FROM {} WHERE function_name = 'books' AND crate_version = '{}'",
        migrate::PINS_TABLE,
        bookstore_schema::VERSION
    );
    assert_eq!(count_sql(&mut admin, &sql), 1, "one row, refreshed");
    let live = migrate::live_pins(&mut admin, migrate::DEFAULT_PIN_WINDOW).unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].function_name, "books");
}
