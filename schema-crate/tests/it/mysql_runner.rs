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

#[test]
fn mysql_a_migrated_database_and_its_app_user_show_no_structural_drift() {
    let db = TestDb::mysql_migrated("my_no_drift");
    let mut conn = db.connect();
    let options = RunOptions::default().with_app_role(Some(migrate::DEFAULT_APP_ROLE.into()));
    let status = Runner::new(options).status(&mut conn).unwrap();
    assert!(status.drift.is_empty(), "{:#?}", status.drift);
    assert_eq!(probes_left(&mut conn), 0);
    // And the check looks: a grant taken away shows.
    conn.batch_execute(&format!(
        "REVOKE SELECT ON bookstore_schema_migrations FROM '{}'@'%'",
        migrate::DEFAULT_APP_ROLE
    ))
    .unwrap();
    let options = RunOptions::default().with_app_role(Some(migrate::DEFAULT_APP_ROLE.into()));
    let drift = Runner::new(options).status(&mut conn).unwrap().drift;
    assert_eq!(
        drift,
        vec![Drift::Structure {
            object: format!(
                "grants of {} on bookstore_schema_migrations",
                migrate::DEFAULT_APP_ROLE
            ),
            table: "bookstore_schema_migrations".into(),
            difference: "none, expected SELECT".into()
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

/// A synthetic set in MySQL's spelling: migration 1 is the shape baseline compares with.
const TABLES: Migration = Migration::new(
    "20990701000000",
    "bl_tables",
    "CREATE TABLE book (
         id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
         title varchar(200) NOT NULL,
         author varchar(100) NOT NULL,
         year int NOT NULL
     ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
     CREATE TABLE review (
         id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
         rate smallint NOT NULL,
         body varchar(500),
         book_id int,
         CONSTRAINT review_book_id_fkey FOREIGN KEY (book_id) REFERENCES book (id)
     ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;",
);
const CREATED_AT: Migration = Migration::new(
    "20990701000001",
    "bl_created_at",
    "ALTER TABLE book ADD COLUMN created_at datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6);",
);
const BASELINE_SET: [Migration; 2] = [TABLES, CREATED_AT];

fn baseline_runner() -> Runner<'static> {
    Runner::with_migrations(&BASELINE_SET, RunOptions::default())
}

/// The probe databases of `conn`'s database left on the server (named
/// `<database>_bookstore_probe_…`; the test databases' names are short enough to be
/// kept whole).
pub(crate) fn probes_left(conn: &mut DbConnection) -> i64 {
    count(
        conn,
        "SELECT count(*) AS n FROM information_schema.schemata \
         WHERE LOCATE(CONCAT(DATABASE(), '_bookstore_probe_'), schema_name) = 1",
    )
}

#[test]
fn mysql_baseline_adopts_a_database_built_by_hand_and_migrate_keeps_its_data() {
    let db = TestDb::mysql_empty("my_bl_adopt");
    let mut conn = db.connect();
    // The same tables in other words: primary keys declared apart, the table options left
    // to the database's defaults. (The foreign key keeps migration 1's name: baseline
    // compares keys by their columns, but `status` reports a constraint of another name.)
    conn.batch_execute(
        "CREATE TABLE book (id INT AUTO_INCREMENT, title VARCHAR(200) NOT NULL, author VARCHAR(100) NOT NULL,
                            year INT NOT NULL, PRIMARY KEY (id));
         CREATE TABLE review (id INT NOT NULL AUTO_INCREMENT, rate SMALLINT NOT NULL, body VARCHAR(500),
                              book_id INT, PRIMARY KEY (id),
                              CONSTRAINT review_book_id_fkey FOREIGN KEY (book_id) REFERENCES book (id));
         INSERT INTO book (title, author, year) VALUES ('Dune', 'Frank Herbert', 1965), ('Emma', 'Jane Austen', 1815);
         INSERT INTO review (rate, body, book_id) VALUES (5, 'great', 1), (4, NULL, 2);",
    )
    .unwrap();
    let report = baseline_runner().baseline(&mut conn).unwrap();
    assert_eq!(report.version_after.as_deref(), Some(TABLES.version));
    assert_eq!(
        report
            .pending
            .iter()
            .map(|m| m.version.as_str())
            .collect::<Vec<_>>(),
        [CREATED_AT.version]
    );
    assert_eq!(probes_left(&mut conn), 0, "the probe database is dropped");

    baseline_runner().migrate(&mut conn).unwrap();
    let status = baseline_runner().status(&mut conn).unwrap();
    assert_eq!(status.current_version.as_deref(), Some(CREATED_AT.version));
    assert!(status.drift.is_empty(), "{:?}", status.drift);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM review"), 2);
    conn.batch_execute("INSERT INTO book (title, author, year) VALUES ('X', 'Y', 2000)")
        .unwrap();
    assert_eq!(
        count(&mut conn, "SELECT CAST(max(id) AS SIGNED) AS n FROM book"),
        3,
        "new ids continue after the adopted rows"
    );
    assert_eq!(probes_left(&mut conn), 0);

    let err = baseline_runner().baseline(&mut conn).unwrap_err();
    assert!(err.to_string().contains("already recorded"), "{err}");
}

#[test]
fn mysql_baseline_refuses_a_database_that_differs_and_names_each_difference() {
    let db = TestDb::mysql_empty("my_bl_differs");
    let mut conn = db.connect();
    conn.batch_execute(
        "CREATE TABLE book (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, title varchar(250) NOT NULL,
                            author varchar(100), year int NOT NULL, isbn text);
         CREATE TABLE review (id int NOT NULL PRIMARY KEY, rate int NOT NULL,
                              body varchar(500) COLLATE utf8mb4_general_ci, book_id int);",
    )
    .unwrap();
    let err = baseline_runner().baseline(&mut conn).unwrap_err();
    let MigrationError::BaselineMismatch { differences, .. } = &err else {
        panic!("{err}")
    };
    let expected = [
        "book.title: length 250, expected 200",
        "book.author: nullable, expected NOT NULL",
        "book.isbn: not in migration 1",
        "review.id: default ``, expected `auto_increment`",
        "review.rate: type int, expected smallint",
        "review.body: collation utf8mb4_general_ci, expected utf8mb4_bin",
        "foreign key review(book_id) -> book(id): missing",
    ];
    for difference in expected {
        assert!(
            differences.iter().any(|d| d == difference),
            "missing `{difference}` in {differences:#?}"
        );
    }
    assert_eq!(differences.len(), expected.len(), "{differences:#?}");
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM bookstore_schema_migrations"
        ),
        0,
        "nothing recorded"
    );
    assert_eq!(probes_left(&mut conn), 0, "the probe database is dropped");

    let empty = TestDb::mysql_empty("my_bl_empty");
    let mut conn = empty.connect();
    let err = baseline_runner().baseline(&mut conn).unwrap_err();
    assert!(err.to_string().contains("table book: missing"), "{err}");
    assert_eq!(probes_left(&mut conn), 0);
}

#[test]
fn mysql_refuses_a_rehearsal_saying_why() {
    let db = TestDb::mysql_empty("my_rehearse");
    let mut conn = db.connect();
    let err = baseline_runner().rehearse(&mut conn, None).unwrap_err();
    assert_eq!(err.kind(), "Refused", "{err}");
    assert!(
        err.to_string()
            .contains("commits every DDL statement on its own"),
        "{err}"
    );
    assert!(
        baseline_runner()
            .plan(&mut conn)
            .unwrap()
            .rehearsal
            .is_none(),
        "a plan without a rehearsal still works"
    );
}
