//! The schema Lambda: `plan`, `migrate`, `status` on an empty database.

use bookstore_testing::TestDb;
use serde_json::{Value, json};

use bookstore_testing::lambda::{Instance, Kind};

use crate::support::{db_env, start};

fn count(report: &Value, key: &str) -> usize {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` list in {report}"))
        .len()
}

#[test]
fn schema_lambda_plans_migrates_and_reports_status_through_the_runtime_api() {
    let db = TestDb::empty("e2e_schema_lambda");
    plan_migrate_status(start("schema-lambda", &db_env(&db)));
}

/// The MySQL build against an empty MariaDB database, given as `DB_ENGINE=mysql` and parts.
#[cfg(feature = "mysql")]
#[test]
fn schema_lambda_on_mysql_plans_migrates_and_reports_status_through_the_runtime_api() {
    let db = TestDb::mysql_empty("e2e_schema_lambda_my");
    plan_migrate_status(crate::support::start_mysql("schema-lambda", &db_env(&db)));
}

/// `plan`, `migrate`, `status`, and `{}` (migrate again) on an empty database.
fn plan_migrate_status(mut lambda: Instance) {
    let plan = lambda.invoke(&json!({"action": "plan"}));
    assert_eq!(plan.kind, Kind::Response, "{plan:?}");
    assert_eq!(plan.body["action"], "plan", "{}", plan.body);
    let pending = count(&plan.body, "pending");
    assert!(
        pending > 0,
        "an empty database has pending migrations: {}",
        plan.body
    );
    assert_eq!(count(&plan.body, "applied"), 0, "plan changes nothing");

    let migrate = lambda.invoke(&json!({"action": "migrate"}));
    assert_eq!(migrate.kind, Kind::Response, "{migrate:?}");
    assert_eq!(count(&migrate.body, "applied"), pending, "{}", migrate.body);
    assert_eq!(count(&migrate.body, "pending"), 0, "{}", migrate.body);

    let status = lambda.invoke(&json!({"action": "status"}));
    assert_eq!(status.kind, Kind::Response, "{status:?}");
    assert_eq!(count(&status.body, "pending"), 0, "{}", status.body);
    assert_eq!(
        status.body["schema_version_after"], migrate.body["schema_version_after"],
        "{}",
        status.body
    );

    // `{}` (the CDK trigger's event) is migrate: nothing left to do.
    let again = lambda.invoke(&json!({}));
    assert_eq!(again.kind, Kind::Response, "{again:?}");
    assert_eq!(count(&again.body, "applied"), 0, "{}", again.body);

    lambda.finish("plan, migrate, status, migrate");
}
