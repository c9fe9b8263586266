//! Real API Gateway REST proxy events through `lambda_http`, into the same service
//! `lambda_http::run` is given by the `books` and `reviews` binaries.

use axum::http::{StatusCode, header};
use bookstore_functions::{Function, app as build_app};
use bookstore_kit::lambda_service;
use lambda_http::{Context, LambdaEvent, request::LambdaRequest};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{TestApp, TestResponse, backend_tests, read};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The event as `lambda_http` hands it to the service: parsed, converted to a request.
async fn invoke(app: &TestApp, function: Function, name: &str) -> TestResponse {
    let request =
        lambda_http::request::from_str(&fixture(name)).expect("a valid API Gateway event");
    let response = lambda_service(build_app(app.state.clone(), function))
        .oneshot(request)
        .await
        .expect("the service is infallible");
    read(response).await
}

/// The whole trip `lambda_http::run` makes: event JSON in, API Gateway response JSON out.
async fn invoke_raw(app: &TestApp, function: Function, name: &str) -> Value {
    let event: LambdaRequest =
        serde_json::from_str(&fixture(name)).expect("a valid API Gateway event");
    let adapter =
        lambda_http::Adapter::from(lambda_service(build_app(app.state.clone(), function)));
    let response = adapter
        .oneshot(LambdaEvent::new(event, Context::default()))
        .await
        .expect("the service is infallible");
    serde_json::to_value(response).expect("a serializable response")
}

async fn a_staged_rest_api_get_is_routed_without_its_stage(app: TestApp) {
    for n in 0..3 {
        app.create_book(&format!("Book {n}")).await;
    }
    let response = invoke(&app, Function::Books, "rest-get-books-staged.json").await;
    response.assert_status(StatusCode::OK);
    assert_eq!(
        response.body["books"].as_array().unwrap().len(),
        2,
        "limit=2 from the query"
    );
    assert!(response.body["next_after"].is_i64());
}

async fn a_path_that_already_carries_the_stage_is_routed(app: TestApp) {
    assert_eq!(
        app.create_book("Dune").await,
        1,
        "a fresh database starts ids at 1"
    );
    let response = invoke(&app, Function::Books, "rest-get-book-stage-in-path.json").await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.body["title"], "Dune");
}

async fn a_base64_encoded_post_creates_the_book_and_answers_api_gateway_json(app: TestApp) {
    let response = invoke_raw(&app, Function::Books, "rest-post-book-base64.json").await;
    assert_eq!(response["statusCode"], 201, "{response}");
    assert_eq!(
        response["isBase64Encoded"], false,
        "JSON goes back as text: {response}"
    );
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["title"], "Dune");
    let location = response["headers"]["location"]
        .as_str()
        .or_else(|| response["multiValueHeaders"]["location"][0].as_str());
    assert_eq!(
        location,
        Some(format!("/prod/book/{}", body["id"]).as_str()),
        "{response}"
    );
    assert_eq!(app.count("book"), 1);
}

async fn a_put_review_event_reaches_the_reviews_function(app: TestApp) {
    assert_eq!(app.create_book("Dune").await, 1);
    let response = invoke(&app, Function::Reviews, "rest-put-review.json").await;
    response.assert_status(StatusCode::OK);
    assert_eq!(
        (&response.body["book_id"], &response.body["rate"]),
        (&json!(1), &json!(5))
    );
    let listed = invoke(&app, Function::Reviews, "rest-get-book-reviews.json").await;
    listed.assert_status(StatusCode::OK);
    assert_eq!(listed.body["reviews"].as_array().unwrap().len(), 1);
}

async fn a_review_event_sent_to_the_books_function_is_404(app: TestApp) {
    invoke(&app, Function::Books, "rest-put-review.json")
        .await
        .assert_error(StatusCode::NOT_FOUND, "route_not_found");
}

async fn a_wrong_method_event_answers_405_json_with_allow(app: TestApp) {
    let response = invoke_raw(&app, Function::Books, "rest-delete-book.json").await;
    assert_eq!(response["statusCode"], 405, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let allow = response["headers"][header::ALLOW.as_str()]
        .as_str()
        .or_else(|| response["multiValueHeaders"]["allow"][0].as_str());
    assert!(allow.is_some_and(|a| a.contains("POST")), "{response}");
}

async fn a_string_year_in_an_event_answers_400_naming_year(app: TestApp) {
    invoke(&app, Function::Books, "rest-post-book-string-year.json")
        .await
        .assert_field_error(StatusCode::BAD_REQUEST, "invalid_field", "year");
    assert_eq!(app.count("book"), 0);
}

backend_tests!(
    a_staged_rest_api_get_is_routed_without_its_stage,
    a_path_that_already_carries_the_stage_is_routed,
    a_base64_encoded_post_creates_the_book_and_answers_api_gateway_json,
    a_put_review_event_reaches_the_reviews_function,
    a_review_event_sent_to_the_books_function_is_404,
    a_wrong_method_event_answers_405_json_with_allow,
    a_string_year_in_an_event_answers_400_naming_year,
);

#[test]
fn only_a_leading_stage_segment_is_stripped() {
    use bookstore_kit::stage::{BasePath, strip_stage};
    let path = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut event: Value = serde_json::from_str(&fixture(name)).unwrap();
        edit(&mut event);
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        strip_stage(request)
            .uri()
            .path_and_query()
            .unwrap()
            .to_string()
    };
    assert_eq!(path("rest-get-books-staged.json", &|_| {}), "/book?limit=2");
    assert_eq!(path("rest-get-book-stage-in-path.json", &|_| {}), "/book/1");
    assert_eq!(
        path(
            "rest-get-books-staged.json",
            &|e| e["requestContext"]["stage"] = json!("$default")
        ),
        "/book?limit=2"
    );
    let base = |edit: &dyn Fn(&mut Value)| {
        let mut event: Value =
            serde_json::from_str(&fixture("rest-post-book-base64.json")).unwrap();
        edit(&mut event);
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        strip_stage(request)
            .extensions()
            .get::<BasePath>()
            .map(|b| b.as_str().to_owned())
    };
    assert_eq!(base(&|_| {}), Some("/prod".to_owned()));
    // A custom domain with a base path mapping: the client's path has no stage.
    assert_eq!(
        base(&|e| e["requestContext"]["path"] = json!("/api/book")),
        Some("/api".to_owned())
    );
    assert_eq!(
        base(&|e| e["requestContext"]["path"] = json!("/book")),
        None
    );
    // `/production/book` does not start with the stage segment `/prod`.
    assert_eq!(
        path("rest-get-books-staged.json", &|e| {
            e["path"] = json!("/production/book");
            e["requestContext"]["stage"] = json!("prod");
        }),
        "/production/book?limit=2"
    );
}

/// Every fixture, as `lambda_http` converts it, is routed on the path the client sent
/// after the stage (`requestContext.path` without `/{stage}`), with the stage as the base
/// path; the same holds for the URI `lambda_http` builds when
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set (the event's `path` as is), so the
/// variable changes nothing.
#[test]
fn every_fixture_is_routed_without_its_stage_whether_or_not_lambda_http_adds_it() {
    use bookstore_kit::stage::{BasePath, strip_stage};
    assert!(
        std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_none(),
        "this test expects lambda_http's default, which adds the stage"
    );
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let event: Value = serde_json::from_str(&fixture(&name)).unwrap();
        let stage = format!("/{}", event["requestContext"]["stage"].as_str().unwrap());
        let client_path = event["requestContext"]["path"].as_str().unwrap();
        let expected = client_path.strip_prefix(&stage).unwrap();
        let converted = lambda_http::request::from_str(&fixture(&name)).unwrap();
        assert!(
            converted.uri().path().starts_with(&format!("{stage}/")),
            "{name}: lambda_http adds the stage: {}",
            converted.uri()
        );
        let mut with_variable = lambda_http::request::from_str(&fixture(&name)).unwrap();
        let mut uri = event["path"].as_str().unwrap().to_owned();
        if let Some(query) = converted.uri().query() {
            uri = format!("{uri}?{query}");
        }
        *with_variable.uri_mut() = uri.parse().unwrap();
        for request in [converted, with_variable] {
            let routed = strip_stage(request);
            assert_eq!(routed.uri().path(), expected, "{name}");
            assert_eq!(
                routed.extensions().get::<BasePath>().map(BasePath::as_str),
                Some(stage.as_str()),
                "{name}"
            );
        }
        seen += 1;
    }
    assert!(seen >= 7, "fixtures in {dir}: {seen}");
}
