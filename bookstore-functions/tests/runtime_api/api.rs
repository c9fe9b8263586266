//! `books` and `reviews` with API Gateway REST proxy events: create, list, get, a
//! validation error and an unknown id.

use bookstore_schema::{Book, NewBook};
use bookstore_testing::{
    TestDb,
    lambda::{Instance, rest_event},
};
use serde_json::{Value, json};

use crate::support::{db_env, start};

/// `method` on `path` (routed as `resource`) through `function`: status and JSON body.
fn call(
    function: &mut Instance,
    method: &str,
    path: &str,
    resource: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    function
        .invoke(&rest_event(method, path, resource, body))
        .api_response()
}

fn app_env(db: &TestDb) -> Vec<(String, String)> {
    let mut env = db_env(db);
    // As the CDK app sets them.
    env.push(("PGTZ".into(), "UTC".into()));
    env
}

#[test]
fn books_creates_lists_gets_and_refuses_through_the_runtime_api() {
    let db = TestDb::migrated("e2e_books");
    books_round(start("books", &app_env(&db)));
}

#[test]
fn reviews_creates_lists_and_refuses_through_the_runtime_api() {
    let db = TestDb::migrated("e2e_reviews");
    reviews_round(&db, |env| start("reviews", env));
}

/// The MySQL build (`target/lambda-mysql`) against MariaDB, given the database as on AWS:
/// `DB_ENGINE=mysql` and the `DB_*` parts.
#[cfg(feature = "mysql")]
#[test]
fn books_on_mysql_creates_lists_gets_and_refuses_through_the_runtime_api() {
    let db = TestDb::mysql_migrated("e2e_books_my");
    books_round(crate::support::start_mysql("books", &app_env(&db)));
}

#[cfg(feature = "mysql")]
#[test]
fn reviews_on_mysql_creates_lists_and_refuses_through_the_runtime_api() {
    let db = TestDb::mysql_migrated("e2e_reviews_my");
    reviews_round(&db, |env| crate::support::start_mysql("reviews", env));
}

/// Create, list, get, a 400 naming the field and a 404, through `books`.
fn books_round(mut books: Instance) {
    let dune =
        json!({"title": "Dune", "author": "Frank Herbert", "publisher": "Chilton", "year": 1965});
    let (status, created) = call(&mut books, "POST", "/book", "/book", Some(&dune));
    assert_eq!(status, 201, "{created}");
    let id = created["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {created}"));
    assert_eq!(created["title"], "Dune");

    let (status, list) = call(&mut books, "GET", "/book?limit=10", "/book", None);
    assert_eq!(status, 200, "{list}");
    let titles: Vec<_> = list["books"]
        .as_array()
        .unwrap_or_else(|| panic!("no books in {list}"))
        .iter()
        .map(|b| b["title"].clone())
        .collect();
    assert_eq!(titles, [json!("Dune")], "{list}");

    let (status, got) = call(
        &mut books,
        "GET",
        &format!("/book/{id}"),
        "/book/{id}",
        None,
    );
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        (got["id"].as_i64(), &got["author"]),
        (Some(id), &json!("Frank Herbert"))
    );

    let bad = json!({"title": "x", "author": "y", "publisher": "z", "year": "2019"});
    let (status, error) = call(&mut books, "POST", "/book", "/book", Some(&bad));
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        (&error["error"]["code"], &error["error"]["field"]),
        (&json!("invalid_field"), &json!("year"))
    );

    let (status, error) = call(&mut books, "GET", "/book/999999", "/book/{id}", None);
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["error"]["code"], "book_not_found");

    books.finish("create, list, get, 400, 404");
}

/// A review of a book made beforehand: create, list both ways, 400, 422 and 404, through
/// the `reviews` that `start` starts.
fn reviews_round(db: &TestDb, start: impl FnOnce(&[(String, String)]) -> Instance) {
    let book = Book::create(
        &mut db.connect(),
        &NewBook {
            title: "Dune",
            author: "Frank Herbert",
            publisher: "Chilton",
            year: 1965,
        },
    )
    .expect("create a book");
    let mut reviews = start(&app_env(db));

    let review = json!({"book_id": book.id, "reviewer": "ana", "rate": 5, "review": "A classic."});
    let (status, created) = call(&mut reviews, "POST", "/review", "/review", Some(&review));
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["reviewer"], "ana");

    let path = format!("/book/{}/reviews", book.id);
    let (status, list) = call(&mut reviews, "GET", &path, "/book/{id}/reviews", None);
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["reviews"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["reviews"][0]["review"], "A classic.");

    let (status, list) = call(
        &mut reviews,
        "GET",
        &format!("/review?book_id={}", book.id),
        "/review",
        None,
    );
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["reviews"].as_array().map(Vec::len), Some(1), "{list}");

    let bad = json!({"book_id": book.id, "reviewer": "ana", "rate": 9, "review": "!"});
    let (status, error) = call(&mut reviews, "POST", "/review", "/review", Some(&bad));
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["field"], "rate", "{error}");

    let orphan = json!({"book_id": 999999, "reviewer": "ana", "rate": 3, "review": "?"});
    let (status, error) = call(&mut reviews, "POST", "/review", "/review", Some(&orphan));
    assert_eq!(status, 422, "{error}");
    assert_eq!(
        (&error["error"]["code"], &error["error"]["field"]),
        (&json!("book_not_found"), &json!("book_id"))
    );

    let (status, error) = call(
        &mut reviews,
        "GET",
        "/book/999999/reviews",
        "/book/{id}/reviews",
        None,
    );
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["error"]["code"], "book_not_found");

    reviews.finish("create, list x2, 400, 422, 404");
}
