//! The built schema Lambda with `DB_SECRET_ARN`: its credentials (and host, port and
//! database) from a local Secrets Manager, through the AWS SDK inside the artifact.

use bookstore_testing::{TestDb, lambda::Kind, moto::Moto};
use serde_json::json;

use crate::support::start;

#[test]
fn schema_lambda_reads_its_database_from_db_secret_arn() {
    let db = TestDb::empty("e2e_secret");
    let moto = Moto::start();
    let arn = moto.create_rds_secret("bookstore/master", &db, "hunter2-very-secret");
    let mut env = moto.vars();
    env.push(("DB_SECRET_ARN".into(), arn));
    env.push(("DB_SSLMODE".into(), "prefer".into()));
    let mut lambda = start("schema-lambda", &env);
    let plan = lambda.invoke(&json!({"action": "plan"}));
    assert_eq!(plan.kind, Kind::Response, "{plan:?}");
    assert!(
        !lambda.output().contains("hunter2"),
        "the secret reached the logs"
    );
    lambda.finish("plan, credentials from DB_SECRET_ARN");
}

#[test]
fn a_missing_secret_is_a_typed_init_error_naming_it() {
    let moto = Moto::start();
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bookstore/absent-AbCdEf";
    let mut env = moto.vars();
    env.push(("DB_SECRET_ARN".into(), arn.into()));
    env.push(("DB_HOST".into(), "127.0.0.1".into()));
    let mut lambda = start("schema-lambda", &env);
    let outcome = lambda.next_outcome();
    assert_eq!(outcome.kind, Kind::InitError, "{outcome:?}");
    assert_eq!(outcome.error_type(), Some("ConfigError"), "{outcome:?}");
    assert!(outcome.error_message().contains(arn), "{outcome:?}");
    assert_ne!(lambda.exit_code(), Some(0));
    lambda.finish("init error (missing secret)");
}
