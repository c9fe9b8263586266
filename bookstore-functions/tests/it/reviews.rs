//! `/review` and `/book/{id}/reviews`.

use axum::http::{Method, StatusCode};
use bookstore_functions::{Function, app as build_app};
use serde_json::{Value, json};

use crate::support::{TestApp, backend_tests, id_of, request, send};

fn review_ids(body: &Value) -> Vec<i32> {
    body["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

async fn posting_a_review_answers_201_with_the_stored_review(app: TestApp) {
    let book = app.create_book("Dune").await;
    let response = app
        .post(
            "/review",
            json!({"book_id": book, "reviewer": "Ann", "rate": 5, "review": "Spice!"}),
        )
        .await;
    response.assert_status(StatusCode::CREATED);
    let review = &response.body;
    assert_eq!(
        (
            &review["book_id"],
            &review["reviewer"],
            &review["rate"],
            &review["review"]
        ),
        (&json!(book), &json!("Ann"), &json!(5), &json!("Spice!"))
    );
    assert!(review["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(app.count("review"), 1);
}

async fn putting_a_review_creates_it_and_answers_200(app: TestApp) {
    let book = app.create_book("Dune").await;
    let response = app
        .put(
            "/review",
            json!({"book_id": book, "reviewer": "Bob", "rate": 1}),
        )
        .await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.body["review"], json!(null));
    assert_eq!(app.count("review"), 1);
}

async fn a_review_text_may_be_null(app: TestApp) {
    let book = app.create_book("Dune").await;
    let response = app
        .post(
            "/review",
            json!({"book_id": book, "reviewer": "Bob", "rate": 3, "review": null}),
        )
        .await;
    response.assert_status(StatusCode::CREATED);
    assert_eq!(response.body["review"], json!(null));
}

async fn a_review_of_a_missing_book_answers_422_naming_the_book_and_leaves_no_row(app: TestApp) {
    let error = app
        .post(
            "/review",
            json!({"book_id": 4242, "reviewer": "Ann", "rate": 5}),
        )
        .await
        .assert_field_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "book_not_found",
            "book_id",
        )
        .clone();
    assert!(
        error["message"].as_str().unwrap().contains("4242"),
        "{error}"
    );
    assert_eq!(app.count("review"), 0);
}

async fn listing_reviews_filters_by_book_and_pages_with_a_cursor(app: TestApp) {
    let dune = app.create_book("Dune").await;
    let emma = app.create_book("Emma").await;
    let mut dune_reviews = Vec::new();
    for rate in 1..=5 {
        dune_reviews.push(app.create_review(dune, rate).await);
        app.create_review(emma, rate).await;
    }
    let all = app.get("/review?limit=200").await;
    all.assert_status(StatusCode::OK);
    assert_eq!(review_ids(&all.body).len(), 10);

    let first = app.get(&format!("/review?book_id={dune}&limit=2")).await;
    assert_eq!(review_ids(&first.body), dune_reviews[..2]);
    assert_eq!(first.body["next_after"], dune_reviews[1]);
    let rest = app
        .get(&format!("/review?book_id={dune}&after={}", dune_reviews[1]))
        .await;
    assert_eq!(review_ids(&rest.body), dune_reviews[2..]);
    assert_eq!(rest.body["next_after"], json!(null));
}

async fn a_books_reviews_are_listed_under_the_book(app: TestApp) {
    let dune = app.create_book("Dune").await;
    let emma = app.create_book("Emma").await;
    let a = app.create_review(dune, 4).await;
    app.create_review(emma, 2).await;
    let b = app.create_review(dune, 5).await;
    let page = app.get(&format!("/book/{dune}/reviews?limit=1")).await;
    page.assert_status(StatusCode::OK);
    assert_eq!(review_ids(&page.body), [a]);
    assert_eq!(page.body["next_after"], a);
    let next = app
        .get(&format!("/book/{dune}/reviews?limit=1&after={a}"))
        .await;
    assert_eq!(review_ids(&next.body), [b]);
    assert_eq!(next.body["next_after"], json!(null));
    let empty = app.get(&format!("/book/{emma}/reviews?after={b}")).await;
    assert_eq!(empty.body, json!({"reviews": [], "next_after": null}));
}

async fn reviews_of_a_missing_book_answer_404_on_both_list_routes(app: TestApp) {
    app.get("/book/4242/reviews")
        .await
        .assert_error(StatusCode::NOT_FOUND, "book_not_found");
    app.get("/review?book_id=4242")
        .await
        .assert_error(StatusCode::NOT_FOUND, "book_not_found");
}

async fn the_reviews_function_serves_only_review_routes(app: TestApp) {
    let reviews = build_app(app.state.clone(), Function::Reviews);
    let book = app.create_book("Dune").await;
    send(
        &reviews,
        request(Method::GET, &format!("/book/{book}/reviews"), None),
    )
    .await
    .assert_status(StatusCode::OK);
    send(
        &reviews,
        request(
            Method::POST,
            "/review",
            Some(json!({"book_id": book, "reviewer": "A", "rate": 2})),
        ),
    )
    .await
    .assert_status(StatusCode::CREATED);
    for uri in ["/book".to_owned(), format!("/book/{book}")] {
        send(&reviews, request(Method::GET, &uri, None))
            .await
            .assert_error(StatusCode::NOT_FOUND, "route_not_found");
    }
}

backend_tests!(
    posting_a_review_answers_201_with_the_stored_review,
    putting_a_review_creates_it_and_answers_200,
    a_review_text_may_be_null,
    a_review_of_a_missing_book_answers_422_naming_the_book_and_leaves_no_row,
    listing_reviews_filters_by_book_and_pages_with_a_cursor,
    a_books_reviews_are_listed_under_the_book,
    reviews_of_a_missing_book_answer_404_on_both_list_routes,
    the_reviews_function_serves_only_review_routes,
);
