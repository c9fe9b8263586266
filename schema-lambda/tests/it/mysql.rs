//! `schema-admin` and the schema Lambda's handler on MySQL / MariaDB (the `mysql` feature).

use bookstore_schema::{Backend, migrate};
use bookstore_testing::TestDb;
use schema_lambda::handle;
use serde_json::{Value, json};

use crate::{config_for, schema_admin};

#[test]
fn schema_admin_migrates_inspects_and_reverts_a_mysql_database() {
    let db = TestDb::mysql_empty("schema_admin_mysql");
    let head = migrate::head_version(Backend::Mysql);
    let (code, out, _) = schema_admin(&db, &["plan"]);
    assert_eq!(code, 0);
    // MySQL commits DDL on its own: every migration runs statement by statement.
    assert!(
        out.contains("CREATE TABLE book") && out.contains("statement by statement"),
        "{out}"
    );
    let (code, out, err) = schema_admin(&db, &["migrate"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("none (empty database) -> {head}")),
        "{out}"
    );
    let (_, out, _) = schema_admin(&db, &["status"]);
    assert!(
        out.contains("pending: none") && out.contains("drift: none"),
        "{out}"
    );
    let (code, out, err) = schema_admin(&db, &["revert", "2", "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["applied"].as_array().unwrap().len(), 2);
    // The handler (what the deploy trigger invokes) brings it back to the head.
    let response = handle(&config_for(&db), &json!({})).unwrap();
    assert_eq!(response["schema_version_after"], head, "{response}");
}
