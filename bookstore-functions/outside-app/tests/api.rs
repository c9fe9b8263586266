//! `GET /author/{name}/books` against a real PostgreSQL database at the pinned schema
//! (bookstore-testing migrates it with the migrations the pinned crate embeds), and with
//! `--features mysql` against MySQL / MariaDB too (`TEST_MYSQL_URL`).

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use bookstore_kit::{AppState, Dispatch, router};
use bookstore_schema::{Backend, Book, NewBook, PoolConfig, build_pool, one_statement};
use bookstore_testing::TestDb;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

/// The backends this build serves: PostgreSQL always, MySQL with the `mysql` feature.
fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Postgres];
    if cfg!(feature = "mysql") {
        backends.push(Backend::Mysql);
    }
    backends
}

async fn get(db: &TestDb, uri: &str) -> (StatusCode, Value) {
    let pool = build_pool(db.target(), None, &PoolConfig::default()).expect("pool");
    let app = router::finish(
        author_books::routes(),
        AppState::new(pool, Dispatch::Offload),
    );
    let response = app
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

fn book(conn: &mut bookstore_schema::DbConnection, title: &str, author: &str) -> Book {
    let new = NewBook {
        title,
        author,
        publisher: "Chilton",
        year: 1965,
    };
    one_statement(conn, |c| Book::create(c, &new)).expect("insert")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authors_books_are_listed_in_id_order_and_no_one_elses() {
    for backend in backends() {
        an_authors_books_are_listed_on(backend).await;
    }
}

async fn an_authors_books_are_listed_on(backend: Backend) {
    let db = TestDb::migrated_on(backend, "outside_author_books");
    let mut conn = db.connect();
    let dune = book(&mut conn, "Dune", "Frank Herbert");
    book(&mut conn, "Emma", "Jane Austen");
    let messiah = book(&mut conn, "Dune Messiah", "Frank Herbert");
    let (status, body) = get(&db, "/author/Frank%20Herbert/books").await;
    assert_eq!(status, StatusCode::OK, "{backend:?}: {body}");
    assert_eq!(body["author"], "Frank Herbert");
    let ids: Vec<i64> = body["books"]
        .as_array()
        .expect("books")
        .iter()
        .map(|b| b["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, [i64::from(dune.id), i64::from(messiah.id)]);
    let (status, body) = get(&db, "/author/Frank%20Herbert/books?limit=1").await;
    assert_eq!(
        (status, body["books"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_author_has_no_books_and_bad_input_is_a_400_naming_it() {
    for backend in backends() {
        an_unknown_author_and_bad_input_on(backend).await;
    }
}

async fn an_unknown_author_and_bad_input_on(backend: Backend) {
    let db = TestDb::migrated_on(backend, "outside_author_errors");
    let (status, body) = get(&db, "/author/Nobody/books").await;
    assert_eq!(
        (status, body["books"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    let long = "x".repeat(101);
    let (status, body) = get(&db, &format!("/author/{long}/books")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        (
            body["error"]["code"].as_str(),
            body["error"]["field"].as_str()
        ),
        (Some("invalid_parameter"), Some("name"))
    );
    let (status, body) = get(&db, "/author/Frank/books?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "limit");
    let (status, body) = get(&db, "/author/Frank/books?colour=red").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_parameter"))
    );
}
