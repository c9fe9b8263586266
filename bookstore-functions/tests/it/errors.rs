//! Every client error has the JSON error shape, a stable code and, where one is at
//! fault, the field or parameter; server errors say nothing of their cause.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use bookstore_kit::error::INTERNAL_MESSAGE;
use serde_json::json;

use crate::support::{TestApp, backend_tests, book_json, request};

fn raw(
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(body.into()).unwrap()
}

async fn malformed_json_answers_400_malformed_json(app: TestApp) {
    for body in ["{\"title\": ", "", "not json", "{\"title\": \"a\"} {}"] {
        app.send(raw(Method::POST, "/book", Some("application/json"), body))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "malformed_json");
    }
    assert_eq!(app.count("book"), 0);
}

async fn a_body_that_is_not_a_json_object_answers_400_invalid_body(app: TestApp) {
    app.send(raw(
        Method::POST,
        "/review",
        Some("application/json"),
        "[1, 2]",
    ))
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_body");
}

async fn a_body_without_a_json_content_type_answers_415(app: TestApp) {
    let body = book_json("Dune").to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        app.send(raw(Method::POST, "/book", content_type, body.clone()))
            .await
            .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    app.send(raw(Method::PUT, "/review", Some("text/plain"), "{}"))
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    app.send(raw(
        Method::POST,
        "/book",
        Some("application/json; charset=utf-8"),
        body,
    ))
    .await
    .assert_status(StatusCode::CREATED);
}

async fn an_unknown_field_answers_400_naming_it(app: TestApp) {
    let mut body = book_json("Dune");
    body["isbn"] = json!("978-0441013593");
    app.post("/book", body).await.assert_field_error(
        StatusCode::BAD_REQUEST,
        "unknown_field",
        "isbn",
    );
    app.post(
        "/review",
        json!({"book_id": 1, "reviewer": "A", "rate": 1, "stars": 5}),
    )
    .await
    .assert_field_error(StatusCode::BAD_REQUEST, "unknown_field", "stars");
    assert_eq!(app.count("book"), 0);
}

async fn a_missing_field_answers_400_naming_it(app: TestApp) {
    app.post(
        "/book",
        json!({"title": "Dune", "author": "F", "year": 1965}),
    )
    .await
    .assert_field_error(StatusCode::BAD_REQUEST, "missing_field", "publisher");
    app.post("/review", json!({"book_id": 1, "reviewer": "A"}))
        .await
        .assert_field_error(StatusCode::BAD_REQUEST, "missing_field", "rate");
}

async fn a_year_that_is_a_string_a_float_or_a_boolean_answers_400_naming_year(app: TestApp) {
    for year in [
        json!("2019"),
        json!(2019.0),
        json!(2019.5),
        json!(true),
        json!(null),
    ] {
        let mut body = book_json("Dune");
        body["year"] = year.clone();
        app.post("/book", body).await.assert_field_error(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "year",
        );
    }
    for year in [1449, 2101, -1] {
        let mut body = book_json("Dune");
        body["year"] = json!(year);
        app.put("/book", body).await.assert_field_error(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "year",
        );
    }
    assert_eq!(app.count("book"), 0);
}

async fn book_text_fields_must_be_non_empty_strings_within_their_limits(app: TestApp) {
    for (field, value) in [
        ("title", json!("")),
        ("title", json!("   ")),
        ("title", json!("x".repeat(201))),
        ("title", json!(42)),
        ("author", json!("")),
        ("author", json!("x".repeat(101))),
        ("publisher", json!("x".repeat(101))),
        ("publisher", json!(null)),
        ("author", json!("nul\u{0}byte")),
    ] {
        let mut body = book_json("Dune");
        body[field] = value;
        app.post("/book", body).await.assert_field_error(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            field,
        );
    }
    assert_eq!(app.count("book"), 0);
}

async fn review_fields_are_checked_and_named(app: TestApp) {
    let book = app.create_book("Dune").await;
    let valid = json!({"book_id": book, "reviewer": "Ann", "rate": 3, "review": "ok"});
    for (field, value) in [
        ("rate", json!(0)),
        ("rate", json!(6)),
        ("rate", json!("5")),
        ("rate", json!(4.5)),
        ("rate", json!(70000)),
        ("reviewer", json!("")),
        ("reviewer", json!("x".repeat(101))),
        ("review", json!("x".repeat(501))),
        ("review", json!(5)),
        ("book_id", json!("1")),
        ("book_id", json!(0)),
        ("book_id", json!(99_999_999_999_i64)),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        app.post("/review", body).await.assert_field_error(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            field,
        );
    }
    let mut longest = valid.clone();
    longest["review"] = json!("é".repeat(500));
    longest["reviewer"] = json!("é".repeat(100));
    app.post("/review", longest)
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(app.count("review"), 1);
}

async fn an_oversized_body_answers_413(app: TestApp) {
    let mut body = book_json("Dune");
    body["title"] = json!("x".repeat(20 * 1024));
    app.post("/book", body)
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(app.count("book"), 0);
}

async fn an_unknown_route_answers_404_route_not_found(app: TestApp) {
    for uri in ["/", "/books", "/book/1/reviews/2", "/reviews"] {
        app.get(uri)
            .await
            .assert_error(StatusCode::NOT_FOUND, "route_not_found");
    }
}

async fn a_wrong_method_answers_405_with_allow(app: TestApp) {
    for (method, uri, allowed) in [
        (Method::DELETE, "/book", &["GET", "POST", "PUT"][..]),
        (Method::PATCH, "/review", &["GET", "POST", "PUT"][..]),
        (Method::POST, "/book/1", &["GET"][..]),
        (Method::PUT, "/book/1/reviews", &["GET"][..]),
    ] {
        let response = app.send(request(method.clone(), uri, None)).await;
        response.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        let allow = response
            .headers
            .get(header::ALLOW)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        for m in allowed {
            assert!(
                allow.split(',').any(|a| a.trim() == *m),
                "{method} {uri}: Allow: {allow}"
            );
        }
    }
}

async fn bad_query_parameters_answer_400_naming_the_parameter(app: TestApp) {
    for (uri, param, code) in [
        ("/book?limit=abc", "limit", "invalid_parameter"),
        ("/book?limit=0", "limit", "invalid_parameter"),
        ("/book?limit=201", "limit", "invalid_parameter"),
        ("/book?after=x", "after", "invalid_parameter"),
        ("/book?limit=1&limit=2", "limit", "invalid_parameter"),
        ("/book?page=2", "page", "unknown_parameter"),
        ("/review?book_id=abc", "book_id", "invalid_parameter"),
        ("/book/1/reviews?limit=-1", "limit", "invalid_parameter"),
        ("/book/1/reviews?book_id=1", "book_id", "unknown_parameter"),
    ] {
        app.get(uri)
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, code, param);
    }
    app.get("/book?limit=200&after=")
        .await
        .assert_status(StatusCode::OK);
}

async fn a_book_id_that_is_not_a_number_answers_400_naming_id(app: TestApp) {
    for uri in [
        "/book/abc",
        "/book/1.5",
        "/book/99999999999",
        "/book/abc/reviews",
        // Percent-decodes to bytes that are not UTF-8.
        "/book/%FF",
        "/book/%C3%28/reviews",
    ] {
        app.get(uri)
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, "invalid_parameter", "id");
    }
}

async fn a_65000_byte_parameter_or_field_name_is_not_echoed_whole(app: TestApp) {
    let name = "n".repeat(65_000);
    let response = app.get(&format!("/book?{name}=1")).await;
    let error = response.assert_error(StatusCode::BAD_REQUEST, "unknown_parameter");
    let field = error["field"].as_str().unwrap();
    assert_eq!(field, format!("{}…", "n".repeat(64)));
    assert!(response.text.len() < 1024, "{}", response.text);
    let mut body = book_json("Dune");
    body[&name[..10_000]] = json!(1);
    let response = app.post("/book", body).await;
    let error = response.assert_error(StatusCode::BAD_REQUEST, "unknown_field");
    assert_eq!(error["field"].as_str().unwrap().chars().count(), 65);
    assert!(response.text.len() < 1024, "{}", response.text);
}

async fn a_unique_violation_answers_409_and_leaves_no_row(app: TestApp) {
    // The schema has no unique rule a request can break; add one to this test's database.
    app.connect()
        .batch_execute("CREATE UNIQUE INDEX book_title_key ON book (title)")
        .unwrap();
    app.create_book("Dune").await;
    let error = app
        .post("/book", book_json("Dune"))
        .await
        .assert_error(StatusCode::CONFLICT, "conflict")
        .clone();
    assert!(
        !error.to_string().contains("book_title_key"),
        "no constraint names: {error}"
    );
    assert_eq!(app.count("book"), 1);
}

async fn an_unexpected_database_error_answers_500_with_a_fixed_body(app: TestApp) {
    app.connect().batch_execute("DROP TABLE review").unwrap();
    let response = app.get("/review").await;
    let error = response.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "internal");
    assert_eq!(error["message"], INTERNAL_MESSAGE);
    assert_eq!(
        error.as_object().unwrap().len(),
        2,
        "code and message only: {error}"
    );
    // The books route, on the same pool, still works.
    app.get("/book").await.assert_status(StatusCode::OK);
}

backend_tests!(
    malformed_json_answers_400_malformed_json,
    a_body_that_is_not_a_json_object_answers_400_invalid_body,
    a_body_without_a_json_content_type_answers_415,
    an_unknown_field_answers_400_naming_it,
    a_missing_field_answers_400_naming_it,
    a_year_that_is_a_string_a_float_or_a_boolean_answers_400_naming_year,
    book_text_fields_must_be_non_empty_strings_within_their_limits,
    review_fields_are_checked_and_named,
    an_oversized_body_answers_413,
    an_unknown_route_answers_404_route_not_found,
    a_wrong_method_answers_405_with_allow,
    bad_query_parameters_answer_400_naming_the_parameter,
    a_book_id_that_is_not_a_number_answers_400_naming_id,
    a_65000_byte_parameter_or_field_name_is_not_echoed_whole,
    a_unique_violation_answers_409_and_leaves_no_row,
    an_unexpected_database_error_answers_500_with_a_fixed_body,
);
