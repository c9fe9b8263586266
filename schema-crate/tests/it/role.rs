use bookstore_schema::{DbConnection, DbTarget, SessionSettings, migrate};
use bookstore_testing::TestDb;

fn connect_as_app_role(db: &TestDb) -> DbConnection {
    let url = db.url().replacen(
        "postgres://postgres@",
        &format!("postgres://{}@", migrate::DEFAULT_APP_ROLE),
        1,
    );
    DbConnection::establish(
        &DbTarget::from_url(&url).unwrap(),
        None,
        SessionSettings::default(),
    )
    .expect("the app role can log in")
}

#[test]
fn the_app_role_can_read_and_write_rows_but_is_denied_ddl() {
    let db = TestDb::migrated("app_role_ddl");
    let mut admin = db.connect();
    migrate::ensure_app_role(&mut admin, migrate::DEFAULT_APP_ROLE).unwrap();
    let mut app = connect_as_app_role(&db);
    app.batch_execute(
        "INSERT INTO book (title, author, publisher, year) VALUES ('t', 'a', 'p', 2001)",
    )
    .unwrap();
    app.batch_execute("UPDATE book SET year = 2002; SELECT * FROM review; SELECT * FROM bookstore_schema_migrations").unwrap();
    app.batch_execute("DELETE FROM book").unwrap();
    for ddl in [
        "CREATE TABLE sneaky (id int)",
        "DROP TABLE book",
        "ALTER TABLE book ADD COLUMN isbn text",
        "CREATE INDEX sneaky_idx ON book (title)",
        "TRUNCATE review",
        "SELECT * FROM review_quarantine",
        "DELETE FROM bookstore_schema_migrations",
    ] {
        let err = app.batch_execute(ddl).expect_err(ddl);
        let message = err.to_string();
        assert!(
            message.contains("permission denied") || message.contains("must be owner"),
            "{ddl}: {message}"
        );
    }
}

#[test]
fn ensure_app_role_is_idempotent_and_rejects_unsafe_names() {
    let db = TestDb::migrated("app_role_idempotent");
    let mut admin = db.connect();
    migrate::ensure_app_role(&mut admin, migrate::DEFAULT_APP_ROLE).unwrap();
    migrate::ensure_app_role(&mut admin, migrate::DEFAULT_APP_ROLE).unwrap();
    let err = migrate::ensure_app_role(&mut admin, "app; DROP TABLE book").unwrap_err();
    assert!(err.to_string().contains("invalid app role name"), "{err}");
}

#[test]
fn the_app_role_carries_its_timeouts_from_login_with_no_set_statement() {
    let db = TestDb::migrated("app_role_timeouts");
    let mut admin = db.connect();
    migrate::ensure_app_role(&mut admin, migrate::DEFAULT_APP_ROLE).unwrap();
    let mut app = connect_as_app_role(&db);
    let before = app.statements_sent().unwrap();
    for (name, value) in migrate::APP_ROLE_SETTINGS {
        let shown = match app.backend_connection() {
            bookstore_schema::BackendConnection::Postgres(c) => {
                #[derive(diesel::QueryableByName)]
                struct Setting {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    value: String,
                }
                use diesel::RunQueryDsl as _;
                diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
                    .get_result::<Setting>(c)
                    .unwrap()
                    .value
            }
            _ => unreachable!("PostgreSQL"),
        };
        assert_eq!(shown, value, "{name}");
    }
    assert_eq!(
        app.statements_sent().unwrap() - before,
        u64::try_from(migrate::APP_ROLE_SETTINGS.len()).unwrap(),
        "only the reads: the settings came with the login"
    );
    // A runaway statement is cut by the server, not left to hold the connection.
    let err = app.batch_execute("SELECT pg_sleep(7)").unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    // The migrator (the cluster's owner) is not bound by them.
    admin.batch_execute("SELECT pg_sleep(0.1)").unwrap();
}

#[test]
fn the_app_roles_timeouts_are_transient_errors_not_bugs() {
    let db = TestDb::migrated("app_role_timeout_transient");
    let mut admin = db.connect();
    migrate::ensure_app_role(&mut admin, migrate::DEFAULT_APP_ROLE).unwrap();
    let mut app = connect_as_app_role(&db);
    let timeout = app
        .batch_execute("SET statement_timeout = '50ms'; SELECT pg_sleep(1)")
        .unwrap_err();
    assert!(bookstore_schema::is_transient(&timeout), "{timeout}");
    // A lock another session holds, past the role's lock timeout.
    admin
        .batch_execute("BEGIN; LOCK TABLE book IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let lock = app
        .batch_execute("SET lock_timeout = '50ms'; SELECT count(*) FROM book")
        .unwrap_err();
    assert!(bookstore_schema::is_transient(&lock), "{lock}");
    admin.batch_execute("ROLLBACK").unwrap();
    let bug = app
        .batch_execute("SELECT * FROM no_such_table")
        .unwrap_err();
    assert!(!bookstore_schema::is_transient(&bug), "{bug}");
}

#[test]
fn the_app_role_reads_review_statistics_only_the_trigger_writes_them_and_it_keeps_idempotency_keys()
{
    let db = TestDb::migrated("app_role_later_tables");
    let mut admin = db.connect();
    migrate::ensure_app_role(&mut admin, migrate::DEFAULT_APP_ROLE).unwrap();
    let mut app = connect_as_app_role(&db);
    app.batch_execute(
        "INSERT INTO book (id, title, author, publisher, year) VALUES (7, 't', 'a', 'p', 2001);
         INSERT INTO review (reviewer, rate, book_id) VALUES ('r', 3, 7);
         SELECT review_count FROM book_review_stats WHERE book_id = 7;
         INSERT INTO idempotency_key (scope, key, request_hash, expires_at) VALUES ('s', 'k', 'h', now());
         UPDATE idempotency_key SET status_code = 201;
         DELETE FROM idempotency_key;",
    )
    .expect("a review insert updates the statistics through the trigger, under the app role");
    for write in [
        "UPDATE book_review_stats SET review_count = 99",
        "DELETE FROM book_review_stats",
        "INSERT INTO book_review_stats (book_id) VALUES (8)",
    ] {
        let err = app.batch_execute(write).expect_err(write);
        assert!(
            err.to_string().contains("permission denied"),
            "{write}: {err}"
        );
    }
}
