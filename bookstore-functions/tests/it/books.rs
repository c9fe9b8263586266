//! `/book` and `/book/{id}`.

use axum::http::{StatusCode, header};
use bookstore_functions::{Function, app as build_app};
use serde_json::json;

use crate::support::{TestApp, backend_tests, book_json, id_of, request, send};

async fn creating_a_book_answers_201_with_location_and_the_stored_book(app: TestApp) {
    let response = app.post("/book", book_json("Dune")).await;
    response.assert_status(StatusCode::CREATED);
    let id = id_of(&response.body);
    assert_eq!(
        response
            .headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap()),
        Some(format!("/book/{id}").as_str())
    );
    let book = &response.body;
    assert_eq!(
        (
            &book["title"],
            &book["author"],
            &book["publisher"],
            &book["year"]
        ),
        (
            &json!("Dune"),
            &json!("Frank Herbert"),
            &json!("Chilton"),
            &json!(1965)
        )
    );
    let created_at = book["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok() && created_at.ends_with('Z'),
        "{created_at}"
    );
    assert_eq!(app.count("book"), 1);
}

async fn putting_a_book_creates_it_and_answers_200_like_the_python_app(app: TestApp) {
    let response = app.put("/book", book_json("Emma")).await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.body["title"], "Emma");
    let id = id_of(&response.body);
    app.get(&format!("/book/{id}"))
        .await
        .assert_status(StatusCode::OK);
}

async fn getting_a_book_shows_its_review_count_and_average_rate(app: TestApp) {
    let id = app.create_book("Dune").await;
    let empty = app.get(&format!("/book/{id}")).await;
    empty.assert_status(StatusCode::OK);
    assert_eq!(
        (&empty.body["review_count"], &empty.body["average_rate"]),
        (&json!(0), &json!(null))
    );
    assert_eq!(empty.body["title"], "Dune");
    app.create_review(id, 4).await;
    app.create_review(id, 5).await;
    app.create_review(id, 5).await;
    let rated = app.get(&format!("/book/{id}")).await;
    assert_eq!(
        (&rated.body["review_count"], &rated.body["average_rate"]),
        (&json!(3), &json!(4.67))
    );
}

async fn getting_a_missing_book_answers_404_book_not_found(app: TestApp) {
    let error = app
        .get("/book/4242")
        .await
        .assert_error(StatusCode::NOT_FOUND, "book_not_found")
        .clone();
    assert!(error["message"].as_str().unwrap().contains("4242"));
}

async fn listing_books_pages_by_id_with_a_cursor(app: TestApp) {
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.create_book(&format!("Book {n}")).await);
    }
    let first = app.get("/book?limit=2").await;
    first.assert_status(StatusCode::OK);
    let page_ids = |body: &serde_json::Value| -> Vec<i32> {
        body["books"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect()
    };
    assert_eq!(page_ids(&first.body), ids[..2]);
    assert_eq!(first.body["next_after"], ids[1]);
    let second = app.get(&format!("/book?limit=2&after={}", ids[1])).await;
    assert_eq!(page_ids(&second.body), ids[2..4]);
    let last = app.get(&format!("/book?limit=2&after={}", ids[3])).await;
    assert_eq!(page_ids(&last.body), ids[4..]);
    assert_eq!(last.body["next_after"], json!(null));
    let all = app.get("/book").await;
    assert_eq!(page_ids(&all.body), ids);
    assert_eq!(all.body["next_after"], json!(null));
}

async fn an_empty_store_lists_no_books(app: TestApp) {
    let response = app.get("/book").await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.body, json!({"books": [], "next_after": null}));
}

async fn titles_are_limited_in_characters_not_bytes(app: TestApp) {
    let title = "é".repeat(200);
    let response = app.post("/book", book_json(&title)).await;
    response.assert_status(StatusCode::CREATED);
    assert_eq!(response.body["title"], title);
    app.post("/book", book_json(&"é".repeat(201)))
        .await
        .assert_field_error(StatusCode::BAD_REQUEST, "invalid_field", "title");
}

async fn concurrent_creates_from_16_tasks_all_land(app: TestApp) {
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let router = app.router.clone();
            tokio::spawn(async move {
                send(
                    &router,
                    request(
                        axum::http::Method::POST,
                        "/book",
                        Some(book_json(&format!("Book {n}"))),
                    ),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().assert_status(StatusCode::CREATED);
    }
    assert_eq!(app.count("book"), 16);
    let listed = app.get("/book?limit=200").await;
    assert_eq!(listed.body["books"].as_array().unwrap().len(), 16);
}

async fn the_books_function_serves_only_book_routes(app: TestApp) {
    let books = build_app(app.state.clone(), Function::Books);
    let id = app.create_book("Dune").await;
    send(
        &books,
        request(axum::http::Method::GET, &format!("/book/{id}"), None),
    )
    .await
    .assert_status(StatusCode::OK);
    send(&books, request(axum::http::Method::GET, "/book", None))
        .await
        .assert_status(StatusCode::OK);
    for uri in ["/review".to_owned(), format!("/book/{id}/reviews")] {
        send(&books, request(axum::http::Method::GET, &uri, None))
            .await
            .assert_error(StatusCode::NOT_FOUND, "route_not_found");
    }
}

async fn create(app: &TestApp, title: &str, author: &str) -> i32 {
    let mut body = book_json(title);
    body["author"] = json!(author);
    let response = app.post("/book", body).await;
    response.assert_status(StatusCode::CREATED);
    id_of(&response.body)
}

fn titles(body: &serde_json::Value) -> Vec<String> {
    body["books"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn filtering_by_author_is_exact_and_still_pages_by_id(app: TestApp) {
    let a1 = create(&app, "Dune", "Frank Herbert").await;
    create(&app, "Emma", "Jane Austen").await;
    let a2 = create(&app, "Dune Messiah", "Frank Herbert").await;
    let a3 = create(&app, "Children of Dune", "Frank Herbert").await;
    create(&app, "Whipping Star", "frank herbert").await;
    let all = app.get("/book?author=Frank%20Herbert").await;
    all.assert_status(StatusCode::OK);
    let ids: Vec<i32> = all.body["books"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, [a1, a2, a3]);
    let first = app.get("/book?author=Frank+Herbert&limit=2").await;
    assert_eq!(first.body["next_after"], a2);
    let rest = app
        .get(&format!("/book?author=Frank+Herbert&limit=2&after={a2}"))
        .await;
    assert_eq!(titles(&rest.body), ["Children of Dune"]);
    assert_eq!(rest.body["next_after"], json!(null));
    let none = app.get("/book?author=Frank").await;
    assert_eq!(none.body, json!({"books": [], "next_after": null}));
    // Empty is absent, as for the other parameters.
    assert_eq!(titles(&app.get("/book?author=").await.body).len(), 5);
}

async fn filtering_by_title_is_a_case_sensitive_literal_prefix(app: TestApp) {
    for (title, author) in [
        ("Dune", "Frank Herbert"),
        ("Dune Messiah", "Frank Herbert"),
        ("dune, lower case", "Someone"),
        ("Dun_e", "Someone"),
        ("100% Dune", "Someone"),
        ("Émile", "Jean-Jacques Rousseau"),
    ] {
        create(&app, title, author).await;
    }
    for (query, expected) in [
        ("title=Dune", &["Dune", "Dune Messiah"][..]),
        ("title=dune", &["dune, lower case"][..]),
        ("title=Dun_", &["Dun_e"][..]),
        ("title=100%25", &["100% Dune"][..]),
        ("title=%C3%89m", &["Émile"][..]),
        ("title=Dune%20M", &["Dune Messiah"][..]),
        ("title=Dune&author=Someone", &[][..]),
        ("title=Dune&author=Frank%20Herbert&limit=1", &["Dune"][..]),
        (
            "title=",
            &[
                "Dune",
                "Dune Messiah",
                "dune, lower case",
                "Dun_e",
                "100% Dune",
                "Émile",
            ][..],
        ),
    ] {
        let response = app.get(&format!("/book?{query}")).await;
        response.assert_status(StatusCode::OK);
        assert_eq!(titles(&response.body), expected, "{query}");
    }
}

async fn a_filter_that_could_never_match_answers_400_naming_it(app: TestApp) {
    for (query, param) in [
        (format!("author={}", "a".repeat(101)), "author"),
        (format!("title={}", "t".repeat(201)), "title"),
        ("title=a%00b".to_owned(), "title"),
        ("author=a&author=b".to_owned(), "author"),
    ] {
        app.get(&format!("/book?{query}")).await.assert_field_error(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            param,
        );
    }
    app.get(&format!("/book?author={}", "é".repeat(100)))
        .await
        .assert_status(StatusCode::OK);
}

backend_tests!(
    filtering_by_author_is_exact_and_still_pages_by_id,
    filtering_by_title_is_a_case_sensitive_literal_prefix,
    a_filter_that_could_never_match_answers_400_naming_it,
    creating_a_book_answers_201_with_location_and_the_stored_book,
    putting_a_book_creates_it_and_answers_200_like_the_python_app,
    getting_a_book_shows_its_review_count_and_average_rate,
    getting_a_missing_book_answers_404_book_not_found,
    listing_books_pages_by_id_with_a_cursor,
    an_empty_store_lists_no_books,
    titles_are_limited_in_characters_not_bytes,
    concurrent_creates_from_16_tasks_all_land,
    the_books_function_serves_only_book_routes,
);
