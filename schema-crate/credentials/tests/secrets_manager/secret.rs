//! `DB_SECRET_ARN`: the secret read from (emulated) Secrets Manager at start.

use std::time::{Duration, Instant};

use bookstore_credentials::target_from_lookup;
use bookstore_schema::{DbConnection, DbTarget, SessionSettings};
use bookstore_testing::{TestDb, moto::Moto};

/// A lookup for `target_from_lookup`: moto's variables plus `extra`.
fn env(moto: &Moto, extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let mut pairs = moto.vars();
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    move |name| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

#[test]
fn db_secret_arn_supplies_user_password_host_port_and_dbname() {
    let db = TestDb::empty("secret_supplies_parts");
    let name = db
        .url()
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_owned();
    let moto = Moto::start();
    let arn = moto.create_secret(
        "bookstore/master",
        &serde_json::json!({
            "engine": "postgres", "host": "127.0.0.1", "port": 5432, "dbname": name,
            "username": "postgres", "password": "hunter2-very-secret",
            "dbClusterIdentifier": "bookstore",
        })
        .to_string(),
    );

    let target =
        target_from_lookup(env(&moto, &[("DB_SECRET_ARN", &arn)])).expect("read the secret");
    let DbTarget::Postgres(parts) = &target else {
        panic!("expected parts, got {target:?}")
    };
    assert_eq!(
        (
            parts.host.as_str(),
            parts.port,
            parts.dbname.as_str(),
            parts.user.as_str()
        ),
        ("127.0.0.1", 5432, name.as_str(), "postgres")
    );
    assert_eq!(
        parts.password.as_ref().map(|p| p.expose()),
        Some("hunter2-very-secret")
    );
    assert!(!format!("{target:?} {target}").contains("hunter2"));
    // And it is a database one can use.
    let mut conn = DbConnection::establish(&target, None, SessionSettings::default())
        .expect("connect with the secret's parts");
    conn.ping().expect("SELECT 1");
}

#[test]
fn a_missing_secret_fails_start_naming_the_secret() {
    let moto = Moto::start();
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bookstore/absent-AbCdEf";
    let err = target_from_lookup(env(&moto, &[("DB_SECRET_ARN", arn), ("DB_HOST", "h")]))
        .expect_err("no such secret");
    let shown = err.to_string();
    assert!(shown.starts_with("DB_SECRET_ARN is invalid"), "{shown}");
    assert!(
        shown.contains(arn) && shown.contains("not found"),
        "{shown}"
    );
}

#[test]
fn a_malformed_secret_fails_start_naming_the_secret_but_not_its_value() {
    let moto = Moto::start();
    for (name, text, why) in [
        (
            "bookstore/not-json",
            "hunter2-very-secret",
            "not valid JSON",
        ),
        (
            "bookstore/no-password",
            r#"{"username": "postgres", "pass": "hunter2-very-secret"}"#,
            "no `password`",
        ),
        (
            "bookstore/bad-port",
            r#"{"username": "postgres", "password": "hunter2-very-secret", "port": "hunter2"}"#,
            "`port`",
        ),
    ] {
        let arn = moto.create_secret(name, text);
        let err = target_from_lookup(env(&moto, &[("DB_SECRET_ARN", &arn), ("DB_HOST", "h")]))
            .expect_err("a malformed secret");
        let shown = format!("{err} / {err:?}");
        assert!(shown.starts_with("DB_SECRET_ARN is invalid"), "{shown}");
        assert!(
            shown.contains(&arn) && shown.contains(why),
            "{name}: {shown}"
        );
        assert!(
            !shown.contains("hunter2"),
            "{name} leaked its value: {shown}"
        );
    }
}

#[test]
fn an_unreachable_secrets_manager_fails_start_in_bounded_time() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = [
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        (
            "DB_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bookstore/master-AbCdEf",
        ),
        ("DB_HOST", "h"),
    ];
    let started = Instant::now();
    let err = target_from_lookup(|k| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect_err("nothing listens there");
    assert!(
        err.to_string()
            .contains("could not read secret `arn:aws:secretsmanager:eu-west-1"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}
