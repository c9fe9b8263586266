//! CORS: off by default; with `CORS_ALLOWED_ORIGINS`, listed origins get the headers and
//! preflights are answered before routing.

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use bookstore_functions::{Function, app as build_app};
use bookstore_kit::cors::{CORS_ALLOWED_ORIGINS, CorsConfig};
use bookstore_schema::env::Env;

use crate::support::{TestApp, TestResponse, backend_tests, send};

const ALLOWED: &str = "https://shop.example.com";

fn with_cors(app: &TestApp) -> Router {
    let config = CorsConfig::from_vars(&Env::from_pairs([(
        CORS_ALLOWED_ORIGINS,
        "https://shop.example.com, http://localhost:5173",
    )]))
    .unwrap();
    CorsConfig::apply(config.as_ref(), build_app(app.state.clone(), Function::All))
}

fn header<'r>(response: &'r TestResponse, name: &str) -> Option<&'r str> {
    response.headers.get(name).map(|v| v.to_str().unwrap())
}

fn preflight(origin: &str, method: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri(uri)
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,if-match",
        )
        .body(Body::empty())
        .unwrap()
}

async fn a_listed_origin_gets_its_preflight_answered_and_the_headers_it_needs(app: TestApp) {
    let router = with_cors(&app);
    let response = send(&router, preflight(ALLOWED, "PATCH", "/book/1")).await;
    response.assert_status(StatusCode::OK);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    let methods = header(&response, "access-control-allow-methods").unwrap();
    assert!(
        methods.contains("PATCH") && methods.contains("DELETE"),
        "{methods}"
    );
    let headers = header(&response, "access-control-allow-headers").unwrap();
    assert!(
        headers.contains("if-match") && headers.contains("idempotency-key"),
        "{headers}"
    );
    assert_eq!(header(&response, "access-control-max-age"), Some("600"));

    let id = app.create_book("Dune").await;
    let get = Request::builder()
        .uri(format!("/book/{id}"))
        .header(header::ORIGIN, ALLOWED)
        .body(Body::empty())
        .unwrap();
    let response = send(&router, get).await;
    response.assert_status(StatusCode::OK);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    let exposed = header(&response, "access-control-expose-headers").unwrap();
    assert!(
        exposed.contains("etag") && exposed.contains("location"),
        "{exposed}"
    );
    assert!(header(&response, "vary").is_some_and(|v| v.contains("origin")));
}

async fn an_origin_not_listed_gets_no_cors_headers(app: TestApp) {
    let router = with_cors(&app);
    let response = send(
        &router,
        preflight("https://evil.example", "DELETE", "/book/1"),
    )
    .await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    let get = Request::builder()
        .uri("/book")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::empty())
        .unwrap();
    let response = send(&router, get).await;
    response.assert_status(StatusCode::OK);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

async fn without_configuration_there_is_no_cors(app: TestApp) {
    let response = app.send(preflight(ALLOWED, "GET", "/book")).await;
    response.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    let get = Request::builder()
        .uri("/book")
        .header(header::ORIGIN, ALLOWED)
        .body(Body::empty())
        .unwrap();
    let response = app.send(get).await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

backend_tests!(
    a_listed_origin_gets_its_preflight_answered_and_the_headers_it_needs,
    an_origin_not_listed_gets_no_cors_headers,
    without_configuration_there_is_no_cors,
);
