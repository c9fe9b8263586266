//! The schema Lambda's handler driven with JSON events, and `schema-admin` as a person runs it.
#![allow(
    clippy::unwrap_used,
    reason = "a test that cannot set up should panic loudly"
)]

#[cfg(feature = "mysql")]
mod mysql;
mod runner;

use std::process::Command;

use bookstore_schema::{Backend, migrate};
use bookstore_testing::TestDb;
use schema_lambda::{Config, handle};
use serde_json::{Value, json};

fn config_for(db: &TestDb) -> Config {
    let url = db.url();
    Config::from_lookup(move |k| (k == "DATABASE_URL").then(|| url.clone())).unwrap()
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn head() -> &'static str {
    migrate::head_version(Backend::Postgres)
}

#[test]
fn an_empty_event_migrates_and_reports_versions_durations_pending_and_drift() {
    let db = TestDb::empty("lambda_empty_event");
    let config = config_for(&db);
    let report = handle(&config, &json!({})).unwrap();
    assert_eq!(report["action"], "migrate");
    assert_eq!(report["schema_version_before"], Value::Null);
    assert_eq!(report["schema_version_after"], head());
    let applied = report["applied"].as_array().unwrap();
    assert_eq!(applied.len(), migrate::embedded(Backend::Postgres).len());
    assert!(applied.iter().all(|s| s["duration_ms"].is_i64()));
    assert_eq!(report["pending"], json!([]));
    assert_eq!(report["drift"], json!([]));
}

#[test]
fn status_plan_and_revert_events_answer_with_their_reports() {
    let db = TestDb::migrated("lambda_actions");
    let config = config_for(&db);
    let status = handle(&config, &json!({"action": "status"})).unwrap();
    assert_eq!(status["schema_version_after"], head());
    assert_eq!(
        status["status"]["applied"].as_array().unwrap().len(),
        migrate::embedded(Backend::Postgres).len()
    );

    let reverted = handle(&config, &json!({"action": "revert", "count": 1})).unwrap();
    assert_eq!(reverted["applied"][0]["version"], head());
    let plan = handle(&config, &json!({"action": "plan"})).unwrap();
    assert_eq!(plan["plan"]["pending"][0]["version"], head());
    let newest = migrate::embedded(Backend::Postgres).last().unwrap();
    assert_eq!(plan["plan"]["pending"][0]["sql"], newest.up);

    let migrated = handle(&config, &json!({"action": "migrate"})).unwrap();
    assert_eq!(
        migrated["schema_version_before"],
        reverted["schema_version_after"]
    );
    assert_eq!(migrated["schema_version_after"], head());
}

#[test]
fn a_cloudformation_create_migrates_and_a_delete_leaves_the_schema_alone() {
    let db = TestDb::empty("lambda_cfn");
    let config = config_for(&db);
    let deleted = handle(&config, &fixture("cfn-delete.json")).unwrap();
    assert_eq!(deleted["PhysicalResourceId"], "bookstore-schema");
    let status = handle(&config, &json!({"action": "status"})).unwrap();
    assert_eq!(
        status["schema_version_after"],
        Value::Null,
        "Delete must not touch the schema"
    );

    let created = handle(&config, &fixture("cfn-create.json")).unwrap();
    assert_eq!(created["PhysicalResourceId"], "bookstore-schema");
    assert_eq!(created["Data"]["SchemaVersion"], head());
    // What the runner reports, for the stack: retries, lock waits, held-back contracts, drift.
    for key in [
        "Applied",
        "Retries",
        "LockWaitMs",
        "BlockedContracts",
        "DriftCount",
        "PlanDigest",
    ] {
        assert!(created["Data"][key].is_string(), "{key}: {created}");
    }
    assert_eq!(created["Data"]["DriftCount"], "0");
    assert_eq!(created["Data"]["BlockedContracts"], "");
    assert_eq!(
        created["Data"]["PlanDigest"].as_str().map(str::len),
        Some(64)
    );
}

#[test]
fn failures_are_typed_errors_a_person_can_act_on() {
    let db = TestDb::migrated("lambda_errors");
    let config = config_for(&db);
    let err = handle(&config, &json!({"action": "revert", "count": 99})).unwrap_err();
    assert_eq!(err.kind(), "Refused");
    let err = handle(&config, &json!({"action": "baseline"})).unwrap_err();
    assert!(err.to_string().contains("use migrate"), "{err}");
    let err = handle(&config, &json!({"action": "explode"})).unwrap_err();
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "BadEvent");
    assert!(diagnostic.error_message.contains("explode"));
}

#[test]
fn the_password_never_shows_in_config_debug_or_in_errors() {
    let secret = "hunter2-in-the-env";
    let config = Config::from_lookup(|k| match k {
        "DB_HOST" => Some("127.0.0.1".into()),
        "DB_PORT" => Some("1".into()),
        "DB_PASSWORD" => Some(secret.into()),
        _ => None,
    })
    .unwrap();
    let err = handle(&config, &json!({"action": "status"})).unwrap_err();
    assert_eq!(err.kind(), "DatabaseUnavailable");
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    let shown = format!("{config:?} {diagnostic:?}");
    assert!(!shown.contains(secret), "leaked: {shown}");
    let config = Config::from_lookup(move |k| {
        (k == "DATABASE_URL").then(|| format!("postgres://u:{secret}@127.0.0.1:1/db"))
    })
    .unwrap();
    let err = handle(&config, &json!({})).unwrap_err();
    assert!(!format!("{config:?} {err} {err:?}").contains(secret));
}

fn schema_admin(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_schema-admin"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn schema_admin_applies_inspects_and_reverts_the_schema_as_the_readme_says() {
    let db = TestDb::empty("schema_admin_cli");
    let (code, out, _) = schema_admin(&db, &["plan"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("CREATE TABLE book") && out.contains("statement by statement"),
        "{out}"
    );
    let (code, out, err) = schema_admin(&db, &["migrate"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("none (empty database) -> {}", head())),
        "{out}"
    );
    let (_, out, _) = schema_admin(&db, &["status"]);
    assert!(
        out.contains("pending: none") && out.contains("drift: none") && out.contains("took"),
        "{out}"
    );
    let (code, out, _) = schema_admin(&db, &["revert", "2", "--json"]);
    assert_eq!(code, 0);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["applied"].as_array().unwrap().len(), 2);
    let (code, _, err) = schema_admin(&db, &["frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("usage: schema-admin"), "{err}");
    let (code, _, err) = schema_admin(&db, &["revert", "99"]);
    assert_eq!(code, 1);
    assert!(err.contains("(Refused)"), "{err}");
}

#[test]
fn schema_admin_and_the_event_revert_and_migrate_to_a_named_version() {
    let db = TestDb::empty("schema_admin_to");
    let config = config_for(&db);
    let all = migrate::embedded(Backend::Postgres);
    let first = all[0].version;
    let (code, out, err) = schema_admin(&db, &["migrate", "--to", first, "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["schema_version_after"], first);
    assert_eq!(json["pending"].as_array().unwrap().len(), all.len() - 1);
    handle(&config, &json!({"action": "migrate"})).unwrap();

    let reverted = handle(
        &config,
        &json!({"action": "revert", "to": first, "allow_data_loss": true}),
    )
    .unwrap();
    assert_eq!(reverted["schema_version_after"], first);
    assert_eq!(reverted["applied"].as_array().unwrap().len(), all.len() - 1);
    let (code, _, err) = schema_admin(&db, &["revert", "--to=20990101000000"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("is not applied") && err.contains("(Refused)"),
        "{err}"
    );
    let (code, _, err) = schema_admin(&db, &["revert", "1", "--to", first]);
    assert_eq!(code, 2);
    assert!(err.contains("not both"), "{err}");
    let (code, _, err) = schema_admin(&db, &["status", "--allow-data-loss"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("status does not take --allow-data-loss"),
        "{err}"
    );
    let (code, _, err) = schema_admin(&db, &["migrate", "--to"]);
    assert_eq!(code, 2);
    assert!(err.contains("--to takes a value"), "{err}");
    let (code, out, err) = schema_admin(&db, &["migrate", "--to", head()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{first} -> {}", head())), "{out}");
}

#[test]
fn a_rehearsed_plan_gives_a_digest_that_migrate_applies_or_refuses() {
    let db = TestDb::empty("schema_admin_digest");
    let config = config_for(&db);
    let plan = handle(&config, &json!({"action": "plan", "rehearse": true})).unwrap();
    let digest = plan["plan_digest"].as_str().unwrap().to_owned();
    assert_eq!(plan["plan"]["digest"], digest.as_str());
    let rehearsed = plan["plan"]["rehearsal"]["migrations"].as_array().unwrap();
    assert_eq!(rehearsed.len(), migrate::embedded(Backend::Postgres).len());
    assert_eq!(rehearsed[0]["outcome"], "rehearsed");
    assert!(
        rehearsed[0]["statements"][0]["locks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["mode"] == "AccessExclusiveLock"),
        "{}",
        rehearsed[0]
    );
    let (code, out, _) = schema_admin(&db, &["plan", "--rehearse"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("plan digest: {digest}")) && out.contains("rehearsal (rolled back"),
        "{out}"
    );

    let (code, _, err) = schema_admin(&db, &["migrate", "--expect-digest", "0000"]);
    assert_eq!(code, 1);
    assert!(err.contains("(PlanChanged)"), "{err}");
    let migrated = handle(
        &config,
        &json!({"action": "migrate", "expected_digest": digest}),
    )
    .unwrap();
    assert_eq!(migrated["plan_digest"], digest.as_str());
    assert_eq!(migrated["schema_version_after"], head());
}

#[test]
fn status_reports_an_out_of_band_column_as_structural_drift() {
    let db = TestDb::empty("lambda_structural_drift");
    let config = config_for(&db);
    handle(&config, &json!({})).unwrap();
    let clean = handle(&config, &json!({"action": "status"})).unwrap();
    assert_eq!(clean["drift"], json!([]), "{clean}");
    db.connect()
        .batch_execute("ALTER TABLE book ADD COLUMN x int")
        .unwrap();
    let status = handle(&config, &json!({"action": "status"})).unwrap();
    assert_eq!(
        status["drift"],
        json!([{"kind": "structure", "object": "column book.x", "table": "book",
                "difference": "not made by the applied migrations"}])
    );
    let (code, out, _) = schema_admin(&db, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("column book.x"), "{out}");
}

#[test]
fn no_url_form_puts_the_password_in_schema_admins_output_or_logs() {
    let db = TestDb::migrated("schema_admin_url_forms");
    // The test server's host, port and database, with a password (`hunter2`, cut by each
    // character libpq may mistake for a delimiter) it ignores (trust) or cannot parse.
    let url = db.url();
    let location = url.rsplit_once('@').map_or(url.as_str(), |(_, l)| l);
    let forms = [
        format!("postgres://postgres:hunter2@{location}"),
        format!("postgres://postgres:hun/ter2@{location}"),
        format!("postgres://postgres:hun?ter2@{location}"),
        format!("postgres://postgres:hun@ter2@{location}"),
        format!("postgres://postgres:hun#ter2@{location}"),
        format!("postgres://postgres:hunter2%zz@{location}"),
        format!("postgres://{location}?password=hun@ter2&sslmode=disable"),
        "postgres://postgres:hunter2@127.0.0.1:1/x".to_owned(),
    ];
    for form in forms {
        for args in [&["status"][..], &["status", "--json"][..]] {
            let out = Command::new(env!("CARGO_BIN_EXE_schema-admin"))
                .args(args)
                .env_clear()
                .env("DATABASE_URL", &form)
                .env("DB_CONNECT_TIMEOUT_SECS", "2")
                .env("RUST_LOG", "debug")
                .output()
                .unwrap();
            let shown = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !shown.contains("hun") && !shown.contains("ter2"),
                "{form} {args:?}: {shown}"
            );
        }
    }
}

/// The secret RDS keeps for the master user of `cluster`, with `password`.
fn master_secret(cluster: &bookstore_testing::cluster::Cluster, password: &str) -> String {
    json!({
        "engine": "postgres",
        "host": "127.0.0.1",
        "port": cluster.port(),
        "username": "postgres",
        "password": password,
        "dbname": "postgres",
    })
    .to_string()
}

#[test]
fn after_a_rotation_the_schema_lambda_reads_the_secret_again_once_and_connects() {
    // A server that checks passwords (the shared one trusts 127.0.0.1).
    let cluster = bookstore_testing::cluster::Cluster::builder()
        .hba("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        .superuser_password("before-rotation")
        .start();
    let moto = bookstore_testing::moto::Moto::start();
    let arn = moto.create_secret("master", &master_secret(&cluster, "before-rotation"));
    let mut vars = moto.vars();
    vars.push(("DB_SECRET_ARN".into(), arn.clone()));
    vars.push(("APP_DB_ROLE".into(), String::new()));
    let vars: std::collections::HashMap<String, String> = vars.into_iter().collect();
    let config = Config::from_lookup(move |name| vars.get(name).cloned()).unwrap();
    handle(&config, &json!({"action": "status"})).expect("connects with the secret read at start");

    // Rotation: the password changes on the server and in the secret.
    cluster.psql("ALTER ROLE postgres PASSWORD 'after-rotation'");
    moto.put_secret_value(&arn, &master_secret(&cluster, "after-rotation"));
    let status = handle(&config, &json!({"action": "status"}))
        .expect("reads the secret again after the refusal, and connects");
    assert_eq!(status["action"], "status");
    handle(&config, &json!({"action": "migrate"})).expect("keeps the fresh credentials");

    // A password the secret does not have: one more read, then a typed error, no secret.
    cluster.psql("ALTER ROLE postgres PASSWORD 'nobody-knows'");
    let err = handle(&config, &json!({"action": "status"})).unwrap_err();
    assert_eq!(err.kind(), "DatabaseUnavailable", "{err}");
    let shown = format!("{err} {err:?} {config:?}");
    assert!(
        !shown.contains("rotation") && !shown.contains("nobody-knows"),
        "{shown}"
    );
}
