//! `PATCH` and `DELETE` on `/book/{id}` and `/review/{id}`: ETags, `If-Match`, and
//! refusals that leave the data as it was.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, backend_tests, request, send, with_if_match};

async fn every_representation_of_a_book_carries_the_same_etag_until_it_changes(app: TestApp) {
    let created = app.post("/book", crate::support::book_json("Dune")).await;
    let id = crate::support::id_of(&created.body);
    let etag = created.etag();
    let shown = app.get(&format!("/book/{id}")).await;
    assert_eq!(shown.etag(), etag);
    // A review is not part of the book's version.
    app.create_review(id, 5).await;
    assert_eq!(app.get(&format!("/book/{id}")).await.etag(), etag);
    let patched = app
        .patch(
            &format!("/book/{id}"),
            Some(&etag),
            json!({"title": "Dune Messiah"}),
        )
        .await;
    patched.assert_status(StatusCode::OK);
    assert_ne!(patched.etag(), etag);
    assert_eq!(app.get(&format!("/book/{id}")).await.etag(), patched.etag());
}

async fn patching_a_book_changes_only_the_fields_sent(app: TestApp) {
    let id = app.create_book("Dune").await;
    let etag = app.get(&format!("/book/{id}")).await.etag();
    let response = app
        .patch(
            &format!("/book/{id}"),
            Some(&etag),
            json!({"title": "Dune Messiah", "year": 1969}),
        )
        .await;
    response.assert_status(StatusCode::OK);
    let book = &response.body;
    assert_eq!(
        (
            &book["title"],
            &book["year"],
            &book["author"],
            &book["review_count"]
        ),
        (
            &json!("Dune Messiah"),
            &json!(1969),
            &json!("Frank Herbert"),
            &json!(0)
        )
    );
    assert_eq!(app.get(&format!("/book/{id}")).await.body, response.body);
}

async fn an_empty_patch_changes_nothing_and_keeps_the_etag(app: TestApp) {
    let id = app.create_book("Dune").await;
    let etag = app.get(&format!("/book/{id}")).await.etag();
    let response = app
        .patch(&format!("/book/{id}"), Some(&etag), json!({}))
        .await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.etag(), etag);
}

async fn a_stale_if_match_answers_412_and_changes_nothing(app: TestApp) {
    let id = app.create_book("Dune").await;
    let stale = app.get(&format!("/book/{id}")).await.etag();
    app.patch(
        &format!("/book/{id}"),
        Some(&stale),
        json!({"title": "Emma"}),
    )
    .await
    .assert_status(StatusCode::OK);
    app.patch(
        &format!("/book/{id}"),
        Some(&stale),
        json!({"title": "Persuasion"}),
    )
    .await
    .assert_error(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    app.delete(&format!("/book/{id}"), Some(&stale))
        .await
        .assert_error(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    // A weak tag never matches, even with the current value.
    let current = app.get(&format!("/book/{id}")).await;
    assert_eq!(current.body["title"], "Emma");
    app.delete(
        &format!("/book/{id}"),
        Some(&format!("W/{}", current.etag())),
    )
    .await
    .assert_error(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    assert_eq!(app.count("book"), 1);
}

async fn a_change_without_if_match_answers_428_and_changes_nothing(app: TestApp) {
    let book = app.create_book("Dune").await;
    let review = app.create_review(book, 4).await;
    for uri in [format!("/book/{book}"), format!("/review/{review}")] {
        app.patch(&uri, None, json!({}))
            .await
            .assert_error(StatusCode::PRECONDITION_REQUIRED, "precondition_required");
        app.delete(&uri, None)
            .await
            .assert_error(StatusCode::PRECONDITION_REQUIRED, "precondition_required");
    }
    assert_eq!((app.count("book"), app.count("review")), (1, 1));
}

async fn if_match_star_changes_whatever_version_is_current(app: TestApp) {
    let id = app.create_book("Dune").await;
    app.patch(
        &format!("/book/{id}"),
        Some("*"),
        json!({"author": "F. Herbert"}),
    )
    .await
    .assert_status(StatusCode::OK);
    app.delete(&format!("/book/{id}"), Some("*"))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    app.get(&format!("/book/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "book_not_found");
}

async fn a_malformed_if_match_answers_400_naming_the_header(app: TestApp) {
    let id = app.create_book("Dune").await;
    for value in ["abc", "\"unterminated", "*, \"a\""] {
        app.patch(&format!("/book/{id}"), Some(value), json!({"title": "x"}))
            .await
            .assert_field_error(StatusCode::BAD_REQUEST, "invalid_header", "If-Match");
    }
    assert_eq!(app.get(&format!("/book/{id}")).await.body["title"], "Dune");
}

async fn patch_fields_are_checked_and_named_before_anything_is_written(app: TestApp) {
    let id = app.create_book("Dune").await;
    let uri = format!("/book/{id}");
    for (field, value, code) in [
        ("title", json!(null), "invalid_field"),
        ("title", json!(""), "invalid_field"),
        ("title", json!("x".repeat(201)), "invalid_field"),
        ("author", json!(7), "invalid_field"),
        ("publisher", json!(null), "invalid_field"),
        ("year", json!("1965"), "invalid_field"),
        ("year", json!(1449), "invalid_field"),
        ("year", json!(null), "invalid_field"),
        ("id", json!(5), "unknown_field"),
        ("created_at", json!("2020-01-01T00:00:00Z"), "unknown_field"),
    ] {
        // A valid change beside the invalid one: neither is written.
        let mut body = json!({"author": "Someone Else"});
        body[field] = value;
        app.patch(&uri, Some("*"), body).await.assert_field_error(
            StatusCode::BAD_REQUEST,
            code,
            field,
        );
    }
    let book = app.get(&uri).await.body;
    assert_eq!(
        (&book["title"], &book["author"]),
        (&json!("Dune"), &json!("Frank Herbert"))
    );
    app.send(with_if_match(request(Method::PATCH, &uri, None), Some("*")))
        .await
        .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

async fn changing_or_deleting_a_missing_book_or_review_answers_404(app: TestApp) {
    app.patch("/book/4242", Some("*"), json!({"title": "x"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "book_not_found");
    app.delete("/book/4242", Some("*"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "book_not_found");
    app.patch("/review/4242", Some("*"), json!({"rate": 1}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "review_not_found");
    app.delete("/review/4242", Some("*"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "review_not_found");
    app.get("/review/4242")
        .await
        .assert_error(StatusCode::NOT_FOUND, "review_not_found");
    app.get("/review/abc").await.assert_field_error(
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        "id",
    );
}

async fn a_book_with_reviews_cannot_be_deleted_until_they_are(app: TestApp) {
    let book = app.create_book("Dune").await;
    let review = app.create_review(book, 5).await;
    let etag = app.get(&format!("/book/{book}")).await.etag();
    let error = app
        .delete(&format!("/book/{book}"), Some(&etag))
        .await
        .assert_error(StatusCode::CONFLICT, "book_has_reviews")
        .clone();
    assert!(
        error["message"].as_str().unwrap().contains("reviews"),
        "{error}"
    );
    assert_eq!(app.count("book"), 1);
    let review_etag = app.get(&format!("/review/{review}")).await.etag();
    app.delete(&format!("/review/{review}"), Some(&review_etag))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let deleted = app.delete(&format!("/book/{book}"), Some(&etag)).await;
    deleted.assert_status(StatusCode::NO_CONTENT);
    assert!(deleted.text.is_empty());
    assert_eq!((app.count("book"), app.count("review")), (0, 0));
}

async fn patching_a_review_changes_its_fields_and_null_removes_the_text(app: TestApp) {
    let book = app.create_book("Dune").await;
    let created = app
        .post(
            "/review",
            json!({"book_id": book, "reviewer": "Ann", "rate": 2, "review": "meh"}),
        )
        .await;
    let id = crate::support::id_of(&created.body);
    let etag = created.etag();
    assert_eq!(app.get(&format!("/review/{id}")).await.etag(), etag);
    let patched = app
        .patch(
            &format!("/review/{id}"),
            Some(&etag),
            json!({"rate": 5, "review": null}),
        )
        .await;
    patched.assert_status(StatusCode::OK);
    assert_eq!(
        (
            &patched.body["rate"],
            &patched.body["review"],
            &patched.body["reviewer"]
        ),
        (&json!(5), &json!(null), &json!("Ann"))
    );
    assert_ne!(patched.etag(), etag);
    assert_eq!(
        app.get(&format!("/book/{book}")).await.body["average_rate"],
        5.0
    );
    for (field, value, code) in [
        ("rate", json!(6), "invalid_field"),
        ("rate", json!(null), "invalid_field"),
        ("reviewer", json!(""), "invalid_field"),
        ("review", json!("x".repeat(501)), "invalid_field"),
        ("book_id", json!(book), "unknown_field"),
    ] {
        app.patch(
            &format!("/review/{id}"),
            Some(&patched.etag()),
            json!({ field: value }),
        )
        .await
        .assert_field_error(StatusCode::BAD_REQUEST, code, field);
    }
    app.patch(&format!("/review/{id}"), Some(&etag), json!({"rate": 1}))
        .await
        .assert_error(StatusCode::PRECONDITION_FAILED, "precondition_failed");
    assert_eq!(app.get(&format!("/review/{id}")).await.body, patched.body);
}

async fn of_8_concurrent_patches_with_one_etag_exactly_one_wins(app: TestApp) {
    let id = app.create_book("Dune").await;
    let etag = app.get(&format!("/book/{id}")).await.etag();
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let router = app.router.clone();
            let etag = etag.clone();
            tokio::spawn(async move {
                let request = with_if_match(
                    request(
                        Method::PATCH,
                        &format!("/book/{id}"),
                        Some(json!({"title": format!("Title {n}")})),
                    ),
                    Some(&etag),
                );
                send(&router, request).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    let mut winner = None;
    for task in tasks {
        let response = task.await.unwrap();
        if response.status == StatusCode::OK {
            winner = Some(response.body["title"].clone());
        }
        statuses.push(response.status);
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let stale = statuses
        .iter()
        .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
        .count();
    assert_eq!((ok, stale), (1, 7), "{statuses:?}");
    assert_eq!(
        Some(app.get(&format!("/book/{id}")).await.body["title"].clone()),
        winner
    );
}

backend_tests!(
    every_representation_of_a_book_carries_the_same_etag_until_it_changes,
    patching_a_book_changes_only_the_fields_sent,
    an_empty_patch_changes_nothing_and_keeps_the_etag,
    a_stale_if_match_answers_412_and_changes_nothing,
    a_change_without_if_match_answers_428_and_changes_nothing,
    if_match_star_changes_whatever_version_is_current,
    a_malformed_if_match_answers_400_naming_the_header,
    patch_fields_are_checked_and_named_before_anything_is_written,
    changing_or_deleting_a_missing_book_or_review_answers_404,
    a_book_with_reviews_cannot_be_deleted_until_they_are,
    patching_a_review_changes_its_fields_and_null_removes_the_text,
    of_8_concurrent_patches_with_one_etag_exactly_one_wins,
);
