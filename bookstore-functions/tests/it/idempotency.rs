//! `Idempotency-Key` on creates: one row per key, the stored response replayed, the key
//! bound to its request, expired keys forgotten and purged.

use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{
    TestApp, TestResponse, backend_tests, book_json, id_of, pool_config, request, send,
};

fn keyed(method: Method, uri: &str, key: &str, body: Value) -> Request<axum::body::Body> {
    let mut request = request(method, uri, Some(body));
    request
        .headers_mut()
        .insert("idempotency-key", key.parse().unwrap());
    request
}

fn replayed(response: &TestResponse) -> bool {
    response
        .headers
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

async fn a_repeat_with_the_same_key_and_body_answers_the_stored_response(app: TestApp) {
    let first = app
        .send(keyed(Method::POST, "/book", "key-1", book_json("Dune")))
        .await;
    first.assert_status(StatusCode::CREATED);
    assert!(!replayed(&first));
    // Same values, other spacing and field order: the same request.
    let mut reordered = serde_json::Map::new();
    for field in ["year", "publisher", "author", "title"] {
        reordered.insert(field.into(), book_json("Dune")[field].clone());
    }
    let again = app
        .send(keyed(
            Method::POST,
            "/book",
            "key-1",
            Value::Object(reordered),
        ))
        .await;
    again.assert_status(StatusCode::CREATED);
    assert!(replayed(&again));
    assert_eq!(again.body, first.body);
    assert_eq!(again.etag(), first.etag());
    assert_eq!(
        again.headers.get(header::LOCATION),
        first.headers.get(header::LOCATION)
    );
    assert_eq!((app.count("book"), app.count("idempotency_key")), (1, 1));
    // Without a key, the same body creates another book.
    app.post("/book", book_json("Dune"))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(app.count("book"), 2);
}

async fn the_same_key_with_another_body_answers_422_and_creates_nothing(app: TestApp) {
    app.send(keyed(Method::POST, "/book", "key-2", book_json("Dune")))
        .await
        .assert_status(StatusCode::CREATED);
    app.send(keyed(Method::POST, "/book", "key-2", book_json("Emma")))
        .await
        .assert_field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency-Key",
        );
    assert_eq!(app.count("book"), 1);
}

async fn keys_are_scoped_by_operation(app: TestApp) {
    let post = app
        .send(keyed(Method::POST, "/book", "shared", book_json("Dune")))
        .await;
    post.assert_status(StatusCode::CREATED);
    let put = app
        .send(keyed(Method::PUT, "/book", "shared", book_json("Dune")))
        .await;
    put.assert_status(StatusCode::OK);
    assert_ne!(id_of(&put.body), id_of(&post.body));
    let put_again = app
        .send(keyed(Method::PUT, "/book", "shared", book_json("Dune")))
        .await;
    put_again.assert_status(StatusCode::OK);
    assert!(replayed(&put_again));
    assert_eq!(id_of(&put_again.body), id_of(&put.body));
    assert_eq!(app.count("book"), 2);
}

async fn reviews_replay_too_and_a_failed_create_stores_no_key(app: TestApp) {
    let body = |book: i32| json!({"book_id": book, "reviewer": "Ann", "rate": 4});
    // The book does not exist yet: refused, and the key is not spent.
    app.send(keyed(Method::POST, "/review", "r-1", body(1)))
        .await
        .assert_field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "book_not_found",
            "book_id",
        );
    assert_eq!(app.count("idempotency_key"), 0);
    let book = app.create_book("Dune").await;
    assert_eq!(book, 1, "the first book of a fresh database");
    let first = app
        .send(keyed(Method::POST, "/review", "r-1", body(book)))
        .await;
    first.assert_status(StatusCode::CREATED);
    let again = app
        .send(keyed(Method::POST, "/review", "r-1", body(book)))
        .await;
    again.assert_status(StatusCode::CREATED);
    assert!(replayed(&again));
    assert_eq!(again.body, first.body);
    let put = app
        .send(keyed(Method::PUT, "/review", "r-2", body(book)))
        .await;
    put.assert_status(StatusCode::OK);
    let put_again = app
        .send(keyed(Method::PUT, "/review", "r-2", body(book)))
        .await;
    assert_eq!(
        (put_again.status, replayed(&put_again)),
        (StatusCode::OK, true)
    );
    assert_eq!(app.count("review"), 2);
}

async fn eight_concurrent_duplicates_create_exactly_one_row(app: TestApp) {
    let app = TestApp::with_pool(app.db, &pool_config(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let router = app.router.clone();
            tokio::spawn(async move {
                send(
                    &router,
                    keyed(Method::POST, "/book", "retry-storm", book_json("Dune")),
                )
                .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    let mut replays = 0;
    for task in tasks {
        let response = task.await.unwrap();
        response.assert_status(StatusCode::CREATED);
        replays += usize::from(replayed(&response));
        ids.push(id_of(&response.body));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one id for all eight: {ids:?}");
    assert_eq!(replays, 7);
    assert_eq!((app.count("book"), app.count("idempotency_key")), (1, 1));
}

async fn an_expired_key_is_forgotten_and_purged(app: TestApp) {
    app.send(keyed(Method::POST, "/book", "old", book_json("Dune")))
        .await
        .assert_status(StatusCode::CREATED);
    app.send(keyed(Method::POST, "/book", "older", book_json("Emma")))
        .await
        .assert_status(StatusCode::CREATED);
    // Both keys' time is up.
    app.connect()
        .batch_execute("UPDATE idempotency_key SET expires_at = created_at")
        .unwrap();
    // An expired key is a new key: another body is no longer a reuse.
    let reused = app
        .send(keyed(Method::POST, "/book", "old", book_json("Persuasion")))
        .await;
    reused.assert_status(StatusCode::CREATED);
    assert!(!replayed(&reused));
    // That create purged the other expired key; "old" holds its new request.
    assert_eq!((app.count("book"), app.count("idempotency_key")), (3, 1));
    let again = app
        .send(keyed(Method::POST, "/book", "old", book_json("Persuasion")))
        .await;
    assert!(replayed(&again));
    assert_eq!(id_of(&again.body), id_of(&reused.body));
}

async fn a_malformed_key_answers_400_naming_the_header(app: TestApp) {
    for key in ["a b".to_owned(), "k".repeat(256)] {
        app.send(keyed(Method::POST, "/book", &key, book_json("Dune")))
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, "invalid_header", "Idempotency-Key");
    }
    assert_eq!(app.count("book"), 0);
}

backend_tests!(
    a_repeat_with_the_same_key_and_body_answers_the_stored_response,
    the_same_key_with_another_body_answers_422_and_creates_nothing,
    keys_are_scoped_by_operation,
    reviews_replay_too_and_a_failed_create_stores_no_key,
    eight_concurrent_duplicates_create_exactly_one_row,
    an_expired_key_is_forgotten_and_purged,
    a_malformed_key_answers_400_naming_the_header,
);
