//! The built schema Lambda with `DB_SECRET_ARN`: its credentials (and host, port and
//! database) from a local Secrets Manager, through the AWS SDK inside the artifact.

use bookstore_testing::{TestDb, moto::Moto};
use serde_json::json;

use crate::{fixture::Kind, support::Lambda};

#[tokio::test]
async fn schema_lambda_reads_its_database_from_db_secret_arn() {
    let db = TestDb::empty("e2e_secret");
    let name = db
        .url()
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_owned();
    let moto = Moto::start();
    let arn = moto.create_secret(
        "bookstore/master",
        &json!({"engine": "postgres", "host": "127.0.0.1", "port": 5432, "dbname": name,
                "username": "postgres", "password": "hunter2-very-secret"})
        .to_string(),
    );
    let mut env = moto.vars();
    env.push(("DB_SECRET_ARN".into(), arn));
    env.push(("DB_SSLMODE".into(), "prefer".into()));
    let mut lambda = Lambda::start("schema-lambda", &env).await;
    let plan = lambda.invoke(json!({"action": "plan"})).await;
    assert_eq!(plan.kind, Kind::Response, "{plan:?}");
    assert!(
        !lambda.output().contains("hunter2"),
        "the secret reached the logs"
    );
    lambda.finish("plan, credentials from DB_SECRET_ARN");
}

#[tokio::test]
async fn a_missing_secret_is_a_typed_init_error_naming_it() {
    let moto = Moto::start();
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bookstore/absent-AbCdEf";
    let mut env = moto.vars();
    env.push(("DB_SECRET_ARN".into(), arn.into()));
    env.push(("DB_HOST".into(), "127.0.0.1".into()));
    let mut lambda = Lambda::start("schema-lambda", &env).await;
    let outcome = lambda.wait_for(None).await;
    assert_eq!(outcome.kind, Kind::InitError, "{outcome:?}");
    assert_eq!(outcome.error_type(), Some("ConfigError"), "{outcome:?}");
    assert!(outcome.error_message().contains(arn), "{outcome:?}");
    assert_ne!(lambda.exit_code().await, Some(0));
    lambda.finish("init error (missing secret)");
}
