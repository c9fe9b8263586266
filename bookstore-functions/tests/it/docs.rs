//! The examples of docs/api.md, sent as written: every request between `<!-- run: … -->`
//! and `<!-- /run -->`, in order, each region on an empty database of its own, each answer compared with the
//! response written after it (status, the headers shown, the body; `"…"` matches any
//! value, `{etag}` in a request is the `ETag` of the last response that had one). The
//! router is the whole API with `CORS_ALLOWED_ORIGINS=https://shop.example.com`.

use axum::{
    body::Body,
    http::{HeaderName, Method, Request, StatusCode},
};
use serde_json::Value;

use bookstore_functions::{Function, app as build_app};
use bookstore_kit::cors::CorsConfig;

use crate::support::{TestApp, TestResponse, backend_tests, send};

const API_MD: &str = include_str!("../../../docs/api.md");

/// One example: the request as written and the response expected.
#[derive(Debug)]
struct Example {
    request: String,
    response: String,
}

/// The fenced blocks inside each run region, paired request → response.
fn regions(markdown: &str) -> Vec<Vec<Example>> {
    let mut regions = Vec::new();
    let mut blocks = Vec::new();
    let mut in_region = false;
    let mut fence: Option<(String, Vec<&str>)> = None;
    for line in markdown.lines() {
        if let Some((lang, lines)) = fence.as_mut() {
            if line.starts_with("```") {
                blocks.push((std::mem::take(lang), lines.join("\n")));
                fence = None;
            } else {
                lines.push(line);
            }
            continue;
        }
        if line.starts_with("<!-- run:") {
            in_region = true;
        } else if line.starts_with("<!-- /run -->") {
            in_region = false;
            regions.push(pair(std::mem::take(&mut blocks)));
        } else if let Some(lang) = line.strip_prefix("```")
            && in_region
        {
            fence = Some((lang.trim().to_owned(), Vec::new()));
        }
    }
    regions
}

fn pair(blocks: Vec<(String, String)>) -> Vec<Example> {
    let mut examples = Vec::new();
    let mut blocks = blocks.into_iter();
    while let Some((lang, request)) = blocks.next() {
        assert_eq!(
            lang, "http",
            "a run region starts each example with an http block"
        );
        let (_, response) = blocks
            .next()
            .expect("every request is followed by its response");
        examples.push(Example { request, response });
    }
    examples
}

/// `(first line, headers, body)` of a request or response as written.
fn split(text: &str) -> (String, Vec<(String, String)>, String) {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let first = lines.next().unwrap_or_default().trim().to_owned();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header line");
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    (first, headers, body.trim().to_owned())
}

/// Whether `actual` matches `expected`, where the string `"…"` matches anything.
fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(s), _) if s == "…" => true,
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|actual| matches(v, actual)))
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| matches(e, a))
        }
        _ => expected == actual,
    }
}

async fn run(router: &axum::Router, example: &Example, etag: &mut Option<String>) -> TestResponse {
    let (line, headers, body) = split(&example.request);
    let (method, uri) = line.split_once(' ').expect("METHOD /path");
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri);
    for (name, value) in headers {
        let value = match etag.as_deref() {
            Some(tag) => value.replace("{etag}", tag),
            None => value,
        };
        builder = builder.header(HeaderName::from_bytes(name.as_bytes()).unwrap(), value);
    }
    let response = send(router, builder.body(Body::from(body)).unwrap()).await;
    if let Some(tag) = response.headers.get("etag") {
        *etag = Some(tag.to_str().unwrap().to_owned());
    }
    response
}

fn check(example: &Example, response: &TestResponse) {
    let (status, headers, body) = split(&example.response);
    let code: u16 = status.split(' ').next().unwrap().parse().unwrap();
    let context = format!(
        "{}\n→ {} {}",
        example.request, response.status, response.text
    );
    assert_eq!(
        response.status,
        StatusCode::from_u16(code).unwrap(),
        "{context}"
    );
    for (name, value) in headers {
        let actual = response
            .headers
            .get(name.as_str())
            .unwrap_or_else(|| panic!("no {name} header: {context}"))
            .to_str()
            .unwrap();
        if value != "\"…\"" && value != "…" {
            assert_eq!(actual, value, "{name}: {context}");
        }
    }
    if body.is_empty() {
        assert!(response.text.is_empty(), "an empty body: {context}");
    } else {
        let expected: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("the documented body is not JSON ({e}): {body}"));
        assert!(matches(&expected, &response.body), "{context}");
    }
}

async fn the_examples_in_api_md_answer_as_documented(app: TestApp) {
    let regions = regions(API_MD);
    assert!(regions.len() >= 3, "found {} run regions", regions.len());
    assert!(regions.iter().map(Vec::len).sum::<usize>() >= 15);
    let cors = CorsConfig::Origins(vec!["https://shop.example.com".to_owned()]);
    for (n, examples) in regions.iter().enumerate() {
        // A fresh database per region (the first one is the test's own).
        let fresh;
        let app = if n == 0 {
            &app
        } else {
            fresh = TestApp::new(app.backend(), &format!("{}_{n}", module_path!()));
            &fresh
        };
        let router = CorsConfig::apply(Some(&cors), build_app(app.state.clone(), Function::All));
        let mut etag = None;
        for example in examples {
            let response = run(&router, example, &mut etag).await;
            check(example, &response);
        }
    }
}

#[test]
fn a_wildcard_matches_any_value_and_nothing_else_is_loose() {
    let expected = serde_json::json!({"id": 1, "created_at": "…"});
    assert!(matches(
        &expected,
        &serde_json::json!({"id": 1, "created_at": "2026"})
    ));
    assert!(!matches(
        &expected,
        &serde_json::json!({"id": 2, "created_at": "x"})
    ));
    assert!(!matches(
        &expected,
        &serde_json::json!({"id": 1, "created_at": "x", "more": 1})
    ));
}

backend_tests!(the_examples_in_api_md_answer_as_documented);
