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
