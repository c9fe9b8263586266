//! The OpenAPI document: committed as generated, served by the local server, and naming
//! exactly the routes the router serves.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use bookstore_functions::{Function, app as build_app, openapi};
use serde_json::Value;

use crate::support::{TestApp, backend_tests, send};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");

#[test]
fn docs_openapi_json_is_the_document_the_code_generates() {
    let generated = openapi::json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the handlers' document; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p bookstore-functions --test it openapi` and commit it"
    );
    let doc: Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["schemas"]["Error"].is_object());
}

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

async fn every_documented_operation_is_routed_and_no_other_method_is(app: TestApp) {
    let doc = openapi::document();
    assert!(doc.paths.paths.len() >= 5);
    for (path, item) in &doc.paths.paths {
        let uri = path.replace("{id}", "1");
        for method in METHODS {
            let documented = match method.as_str() {
                "GET" => item.get.is_some(),
                "POST" => item.post.is_some(),
                "PUT" => item.put.is_some(),
                "PATCH" => item.patch.is_some(),
                _ => item.delete.is_some(),
            };
            let request = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .body(Body::empty())
                .unwrap();
            let response = app.send(request).await;
            let code = response.body["error"]["code"].as_str().unwrap_or_default();
            if documented {
                assert!(
                    code != "route_not_found" && code != "method_not_allowed",
                    "{method} {path} is documented but not routed: {}",
                    response.text
                );
            } else {
                assert_eq!(
                    response.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is routed but not documented"
                );
            }
        }
    }
    // Each function serves exactly its tag's operations.
    for (function, tag) in [(Function::Books, "books"), (Function::Reviews, "reviews")] {
        let router = build_app(app.state.clone(), function);
        for (path, item) in &doc.paths.paths {
            for (method, operation) in [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ] {
                let Some(operation) = operation else { continue };
                let tagged = operation
                    .tags
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|t| t == tag));
                let request = Request::builder()
                    .method(method.clone())
                    .uri(path.replace("{id}", "1"))
                    .body(Body::empty())
                    .unwrap();
                let response = send(&router, request).await;
                let code = response.body["error"]["code"].as_str().unwrap_or_default();
                assert_eq!(
                    code != "route_not_found" && code != "method_not_allowed",
                    tagged,
                    "{method} {path} on the {tag} function: {}",
                    response.text
                );
            }
        }
    }
}

async fn the_local_server_serves_the_document(app: TestApp) {
    let router = axum::Router::new()
        .merge(bookstore_functions::routes(Function::All))
        .merge(openapi::routes());
    let router = bookstore_kit::router::finish(router, app.state.clone());
    let response = send(
        &router,
        Request::builder()
            .uri(openapi::PATH)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.text, openapi::json());
}

backend_tests!(
    every_documented_operation_is_routed_and_no_other_method_is,
    the_local_server_serves_the_document,
);
