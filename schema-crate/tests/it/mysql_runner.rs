//! The migration runner on MySQL / MariaDB (the `mysql` feature): the embedded
//! migrations up, down and up again through the runner, its `GET_LOCK` lock, checksums,
//! and the DML-only app user. Against the local MariaDB (`TEST_MYSQL_URL`).

use std::{sync::Arc, thread, time::Duration};

use bookstore_schema::{
    Backend, DbConnection, DbTarget, SessionSettings,
    migrate::{self, Drift, Migration, MigrationError, RunOptions, Runner, SchemaCheck},
};
use bookstore_testing::TestDb;

use crate::count;

fn runner() -> Runner<'static> {
    Runner::new(RunOptions::default())
}

fn embedded() -> &'static [Migration] {
    migrate::embedded(Backend::Mysql)
}

#[test]
fn mysql_migrate_from_empty_revert_everything_and_migrate_again() {
    let db = TestDb::mysql_empty("mysql_up_down_up");
    let mut conn = db.connect();
    assert_eq!(conn.backend(), Backend::Mysql);
    let before = runner().status(&mut conn).unwrap();
    assert_eq!(before.current_version, None);
    assert_eq!(before.pending.len(), embedded().len());

    let report = runner().migrate(&mut conn).unwrap();
    assert_eq!(report.steps.len(), embedded().len());
    let head = migrate::head_version(Backend::Mysql);
    assert_eq!(report.version_after.as_deref(), Some(head));
    let status = runner().status(&mut conn).unwrap();
    assert!(
        status.pending.is_empty() && status.drift.is_empty(),
        "{status:?}"
    );
    assert!(
        status
            .applied
            .iter()
            .all(|a| a.checksum.len() == 64 && !a.applied_at.is_empty()),
        "{status:?}"
    );
    assert!(matches!(
        migrate::check_schema(&mut conn).unwrap(),
        SchemaCheck::Current { .. }
    ));
    assert!(runner().migrate(&mut conn).unwrap().steps.is_empty());

    runner().revert(&mut conn, embedded().len()).unwrap();
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name IN ('book', 'review')"
        ),
        0,
        "reverting everything drops the tables"
    );
    runner().migrate(&mut conn).unwrap();
    assert!(matches!(
        migrate::check_schema(&mut conn).unwrap(),
        SchemaCheck::Current { .. }
    ));
}

#[test]
fn mysql_concurrent_runners_apply_every_migration_exactly_once() {
    let db = Arc::new(TestDb::mysql_empty("mysql_concurrent"));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let db = Arc::clone(&db);
            thread::spawn(move || runner().migrate(&mut db.connect()))
        })
        .collect();
    let applied: usize = handles
        .into_iter()
        .map(|h| h.join().expect("no panic").expect("every run succeeds"))
        .map(|r| r.steps.len())
        .sum();
    assert_eq!(applied, embedded().len());
    assert_eq!(
        count(
            &mut db.connect(),
            "SELECT count(*) AS n FROM bookstore_schema_migrations"
        ),
        i64::try_from(embedded().len()).unwrap()
    );
}

#[test]
fn mysql_a_second_runner_times_out_while_another_session_holds_the_lock_of_its_database_only() {
    let db = TestDb::mysql_empty("mysql_lock");
    let other = TestDb::mysql_empty("mysql_lock_other");
    let mut holder = db.connect();
    // The runner's lock name: the database's own (GET_LOCK names are server-wide).
    assert_eq!(
        count(
            &mut holder,
            &format!(
                "SELECT GET_LOCK(CONCAT('bookstore:', DATABASE(), ':', '{}'), 0) AS n",
                migrate::ADVISORY_LOCK_KEY
            )
        ),
        1
    );
    let quick = || RunOptions::default().with_lock_timeout(Duration::from_millis(300));
    let err = Runner::new(quick()).migrate(&mut db.connect()).unwrap_err();
    assert_eq!(err.kind(), "LockTimeout", "{err}");
    // Another database on the same server is not held up.
    Runner::new(quick()).migrate(&mut other.connect()).unwrap();
    // Once the holder lets go, the runner goes ahead.
    holder
        .batch_execute(&format!(
            "DO RELEASE_LOCK(CONCAT('bookstore:', DATABASE(), ':', '{}'))",
            migrate::ADVISORY_LOCK_KEY
        ))
        .unwrap();
    runner().migrate(&mut db.connect()).unwrap();
}

#[test]
fn mysql_an_applied_migration_whose_sql_was_edited_is_refused() {
    let db = TestDb::mysql_migrated("mysql_edited");
    let mut conn = db.connect();
    let mut set: Vec<Migration> = embedded().to_vec();
    set[1].up = "ALTER TABLE book ADD COLUMN sneaky text;";
    let edited = Runner::with_migrations(&set, RunOptions::default());
    let err = edited.migrate(&mut conn).unwrap_err();
    assert!(
        matches!(&err, MigrationError::ChecksumMismatch { version, .. } if version == set[1].version),
        "{err}"
    );
    assert_eq!(
        edited.status(&mut conn).unwrap().drift,
        vec![Drift::ChecksumMismatch {
            version: set[1].version.into(),
            name: set[1].name.into()
        }]
    );
}

fn connect_as_app_user(db: &TestDb) -> DbConnection {
    let url = db.url().replacen(
        "mysql://root@",
        &format!("mysql://{}@", migrate::DEFAULT_APP_ROLE),
        1,
    );
    DbConnection::establish(
        &DbTarget::from_url(&url).unwrap(),
        None,
        SessionSettings::default(),
    )
    .expect("the app user can log in")
}

#[test]
fn mysql_the_app_user_writes_rows_reads_statistics_and_is_denied_ddl() {
    let db = TestDb::mysql_migrated("mysql_app_user");
    let mut admin = db.connect();
    // Idempotent.
    migrate::ensure_app_role(&mut admin, migrate::DEFAULT_APP_ROLE).unwrap();
    let mut app = connect_as_app_user(&db);
    app.batch_execute(
        "INSERT INTO book (title, author, publisher, year) VALUES ('t', 'a', 'p', 2001)",
    )
    .unwrap();
    app.batch_execute(
        "INSERT INTO review (reviewer, rate, body, book_id) SELECT 'r', 4, 'ok', id FROM book",
    )
    .unwrap();
    // The trigger, running as its definer, keeps the statistics the app may only read.
    assert_eq!(
        count(
            &mut app,
            "SELECT CAST(review_count AS SIGNED) AS n FROM book_review_stats"
        ),
        1
    );
    app.batch_execute("UPDATE book SET year = 2002").unwrap();
    app.batch_execute("SELECT * FROM bookstore_schema_migrations")
        .unwrap();
    app.batch_execute("INSERT INTO idempotency_key (scope, `key`, request_hash, expires_at) VALUES ('s', 'k', 'h', CURRENT_TIMESTAMP)").unwrap();
    for denied in [
        "CREATE TABLE sneaky (id int)",
        "DROP TABLE review",
        "ALTER TABLE book ADD COLUMN isbn text",
        "CREATE INDEX sneaky_idx ON book (title)",
        "TRUNCATE TABLE review",
        "SELECT * FROM review_quarantine",
        "DELETE FROM bookstore_schema_migrations",
        "UPDATE book_review_stats SET review_count = 9",
    ] {
        let err = app.batch_execute(denied).expect_err(denied);
        let message = err.to_string();
        assert!(
            message.contains("command denied") || message.contains("Access denied"),
            "{denied}: {message}"
        );
    }
    app.batch_execute("DELETE FROM review").unwrap();
    app.batch_execute("DELETE FROM book").unwrap();
}
