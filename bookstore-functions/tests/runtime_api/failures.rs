//! Failures reach the Runtime API typed, and the process keeps serving: an unreachable
//! database, a bad event, and a configuration that cannot work (init error).

use serde_json::json;

use bookstore_testing::lambda::{Kind, rest_event};

use crate::support::{free_port, start};

/// A database that is not there: a closed port on this machine.
fn unreachable_db() -> Vec<(String, String)> {
    [
        ("DB_HOST", "127.0.0.1".to_owned()),
        ("DB_PORT", free_port().to_string()),
        ("DB_NAME", "bookstore".to_owned()),
        ("DB_USER", "postgres".to_owned()),
        ("DB_PASSWORD", "hunter2-very-secret".to_owned()),
        ("DB_CONNECT_TIMEOUT_SECS", "2".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[test]
fn schema_lambda_reports_an_unreachable_database_and_a_bad_event_as_typed_errors() {
    let mut lambda = start("schema-lambda", &unreachable_db());

    let down = lambda.invoke(&json!({"action": "status"}));
    assert_eq!(down.kind, Kind::Error, "{down:?}");
    assert_eq!(down.error_type(), Some("DatabaseUnavailable"), "{down:?}");
    assert!(
        !down.error_message().contains("hunter2"),
        "leaked: {down:?}"
    );

    let bad = lambda.invoke(&json!({"action": "explode"}));
    assert_eq!(bad.kind, Kind::Error, "{bad:?}");
    assert_eq!(bad.error_type(), Some("BadEvent"), "{bad:?}");

    // Still the same process, still taking events: no crash loop.
    let again = lambda.invoke(&json!({"action": "plan"}));
    assert_eq!(again.error_type(), Some("DatabaseUnavailable"), "{again:?}");
    assert!(lambda.is_running(), "the function exited");
    lambda.finish("database unreachable: 3 typed errors");
}

#[test]
fn books_starts_with_the_database_unreachable_and_answers_503() {
    let env = unreachable_db();
    let mut books = start("books", &env);

    for _ in 0..2 {
        let outcome = books.invoke(&rest_event("GET", "/book", "/book", None));
        let (status, body) = outcome.api_response();
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
        assert!(!body.to_string().contains("hunter2"), "leaked: {body}");
    }
    assert!(books.is_running(), "the function exited");
    books.finish("database unreachable: 503 x2");
}

#[test]
fn a_configuration_that_cannot_work_is_a_typed_init_error() {
    for name in ["schema-lambda", "books"] {
        let mut env = unreachable_db();
        env.push(("DB_PORT".into(), "not-a-port".into()));
        let mut lambda = start(name, &env);
        let outcome = lambda.next_outcome();
        assert_eq!(outcome.kind, Kind::InitError, "{name}: {outcome:?}");
        assert_eq!(
            outcome.error_type(),
            Some("ConfigError"),
            "{name}: {outcome:?}"
        );
        assert_eq!(
            outcome.error_type_header.as_deref(),
            Some("ConfigError"),
            "{name}: {outcome:?}"
        );
        assert!(
            outcome.error_message().contains("DB_PORT"),
            "{name}: {outcome:?}"
        );
        assert_ne!(
            lambda.exit_code(),
            Some(0),
            "{name} must exit after an init error"
        );
        lambda.finish("init error (DB_PORT)");
    }
}

/// The MySQL build told to sign in with IAM tokens but not to let the client library send
/// one (a cleartext password, over TLS): an init error naming the missing switch, before
/// any event, instead of a failed login at the first request.
#[cfg(feature = "mysql")]
#[test]
fn books_on_mysql_with_iam_but_no_cleartext_switch_fails_its_init_naming_it() {
    let env: Vec<(String, String)> = [
        ("DB_ENGINE", "mysql"),
        ("DB_HOST", "127.0.0.1"),
        ("DB_NAME", "bookstore"),
        ("DB_USER", "bookstore_app"),
        ("DB_IAM_AUTH", "true"),
        ("DB_SSLMODE", "verify-full"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "hunter2-very-secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut books = crate::support::start_mysql("books", &env);
    let init = books.next_outcome();
    assert_eq!(init.kind, Kind::InitError, "{init:?}");
    assert_eq!(init.error_type(), Some("ConfigError"), "{init:?}");
    assert!(
        init.error_message()
            .contains("LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN"),
        "{init:?}"
    );
    assert!(
        !init.error_message().contains("hunter2"),
        "leaked: {init:?}"
    );
    books.finish("IAM without the cleartext switch: init error");
}
