// Over 400 lines: one test module per runner behaviour would scatter the shared synthetic
// migration sets these tests build on.
use std::{sync::Arc, thread};

use bookstore_schema::{
    Backend,
    migrate::{self, Drift, Migration, MigrationError, RunOptions, Runner, SchemaCheck},
};
use bookstore_testing::TestDb;

use crate::count;

fn runner() -> Runner<'static> {
    Runner::new(RunOptions::default())
}

fn head() -> &'static str {
    migrate::head_version(Backend::Postgres)
}

/// `status` says the database is at the embedded head.
fn assert_at_head(conn: &mut bookstore_schema::DbConnection) {
    let status = runner().status(conn).unwrap();
    assert_eq!(
        status.current_version.as_deref(),
        Some(head()),
        "{status:?}"
    );
}

fn table_exists(conn: &mut bookstore_schema::DbConnection, table: &str) -> bool {
    count(
        conn,
        &format!(
            "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = '{table}'"
        ),
    ) == 1
}

#[test]
fn migrate_brings_an_empty_database_to_head_and_status_is_clean() {
    let db = TestDb::empty("migrate_from_empty");
    let mut conn = db.connect();
    let before = runner().status(&mut conn).unwrap();
    assert_eq!(before.current_version, None);
    assert_eq!(
        before.pending.len(),
        migrate::embedded(Backend::Postgres).len()
    );

    let report = runner().migrate(&mut conn).unwrap();
    assert_eq!(report.version_before, None);
    assert_eq!(report.version_after.as_deref(), Some(head()));
    assert_eq!(
        report.steps.len(),
        migrate::embedded(Backend::Postgres).len()
    );

    let status = runner().status(&mut conn).unwrap();
    assert_eq!(status.current_version.as_deref(), Some(head()));
    assert!(
        status.pending.is_empty() && status.drift.is_empty(),
        "{status:?}"
    );
    assert!(
        status
            .applied
            .iter()
            .all(|a| a.checksum.len() == 64 && !a.applied_at.is_empty())
    );
    assert!(matches!(
        migrate::check_schema(&mut conn).unwrap(),
        SchemaCheck::Current { .. }
    ));

    let again = runner().migrate(&mut conn).unwrap();
    assert!(again.steps.is_empty(), "a second run applies nothing");
}

#[test]
fn eight_concurrent_migrate_runs_apply_every_migration_exactly_once() {
    let db = Arc::new(TestDb::empty("concurrent_migrate"));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let db = Arc::clone(&db);
            thread::spawn(move || runner().migrate(&mut db.connect()))
        })
        .collect();
    let reports: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("no panic").expect("every run succeeds"))
        .collect();
    let applied_steps: usize = reports.iter().map(|r| r.steps.len()).sum();
    assert_eq!(
        applied_steps,
        migrate::embedded(Backend::Postgres).len(),
        "each migration applied by exactly one run"
    );
    let mut conn = db.connect();
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM bookstore_schema_migrations"
        ),
        migrate::embedded(Backend::Postgres).len() as i64
    );
    assert!(
        reports
            .iter()
            .all(|r| r.version_after.as_deref() == Some(head()))
    );
}

const BROKEN: Migration = Migration::new(
    "20990101000000",
    "broken_on_purpose",
    "CREATE TABLE half_done (id int);\nALTER TABLE book ADD COLUMN isbn text;\nSELECT * FROM no_such_table;",
);

#[test]
fn a_broken_migration_leaves_the_database_unchanged_and_the_error_names_it() {
    let db = TestDb::migrated("broken_migration");
    let mut conn = db.connect();
    let set: Vec<Migration> = migrate::embedded(Backend::Postgres)
        .iter()
        .copied()
        .chain([BROKEN])
        .collect();
    let err = Runner::with_migrations(&set, RunOptions::default())
        .migrate(&mut conn)
        .unwrap_err();
    assert_eq!(err.kind(), "MigrationFailed");
    let message = err.to_string();
    assert!(
        message.contains("20990101000000") && message.contains("broken_on_purpose"),
        "{message}"
    );
    assert!(
        message.contains("no_such_table"),
        "the database's message is kept: {message}"
    );
    assert!(
        !table_exists(&mut conn, "half_done"),
        "the failed migration left a table behind"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'book' AND column_name = 'isbn'"
        ),
        0
    );
    assert_at_head(&mut conn);
}

#[test]
fn a_non_transactional_failure_says_what_stays_applied_and_records_nothing() {
    let db = TestDb::migrated("non_transactional_failure");
    let mut conn = db.connect();
    let step = Migration::new(
        "20990101000001",
        "index_then_fail",
        "CREATE INDEX CONCURRENTLY book_title_idx ON book (title);\nCREATE INDEX CONCURRENTLY bad_idx ON no_such_table (x);\n",
    )
    .non_transactional();
    let set: Vec<Migration> = migrate::embedded(Backend::Postgres)
        .iter()
        .copied()
        .chain([step])
        .collect();
    let err = Runner::with_migrations(&set, RunOptions::default())
        .migrate(&mut conn)
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("index_then_fail") && message.contains("outside a transaction"),
        "{message}"
    );
    let status = Runner::with_migrations(&set, RunOptions::default())
        .status(&mut conn)
        .unwrap();
    assert_eq!(
        status.pending.len(),
        1,
        "the failed migration is not recorded"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'book_title_idx'"
        ),
        1
    );
}

#[test]
fn an_applied_migration_whose_sql_was_edited_is_refused_by_migrate_and_reported_by_status() {
    let db = TestDb::migrated("edited_migration");
    let mut conn = db.connect();
    let mut set: Vec<Migration> = migrate::embedded(Backend::Postgres).to_vec();
    set[1].up = "ALTER TABLE book ADD COLUMN sneaky text;";
    let edited = Runner::with_migrations(&set, RunOptions::default());
    let err = edited.migrate(&mut conn).unwrap_err();
    assert!(
        matches!(&err, MigrationError::ChecksumMismatch { version, .. } if version == set[1].version),
        "{err}"
    );
    assert!(err.to_string().contains(set[1].name), "{err}");
    let status = edited.status(&mut conn).unwrap();
    assert_eq!(
        status.drift,
        vec![Drift::ChecksumMismatch {
            version: set[1].version.into(),
            name: set[1].name.into()
        }]
    );
}

#[test]
fn a_pending_migration_older_than_the_newest_applied_is_refused_unless_allowed() {
    let db = TestDb::migrated("out_of_order");
    let mut conn = db.connect();
    let late = Migration::new(
        "20240115000000",
        "late_arrival",
        "CREATE TABLE late_arrival (id int);",
    )
    .with_down("DROP TABLE late_arrival;");
    let mut set: Vec<Migration> = migrate::embedded(Backend::Postgres).to_vec();
    set.insert(1, late);
    let err = Runner::with_migrations(&set, RunOptions::default())
        .migrate(&mut conn)
        .unwrap_err();
    assert!(
        matches!(&err, MigrationError::OutOfOrder { version, .. } if version == "20240115000000"),
        "{err}"
    );
    assert!(!table_exists(&mut conn, "late_arrival"));
    let allowed = RunOptions::default().with_allow_out_of_order(true);
    let report = Runner::with_migrations(&set, allowed)
        .migrate(&mut conn)
        .unwrap();
    assert_eq!(report.steps.len(), 1);
    assert!(table_exists(&mut conn, "late_arrival"));
}

/// A synthetic set: two tables and a concurrent index, each with its down.sql.
const WALK: [Migration; 3] = [
    Migration::new("20990201000000", "walk_a", "CREATE TABLE walk_a (id int);")
        .with_down("DROP TABLE walk_a;"),
    Migration::new("20990201000001", "walk_b", "CREATE TABLE walk_b (id int);")
        .with_down("DROP TABLE walk_b;"),
    Migration::new(
        "20990201000002",
        "walk_b_index",
        "CREATE INDEX CONCURRENTLY walk_b_idx ON walk_b (id);",
    )
    .with_down("DROP INDEX CONCURRENTLY walk_b_idx;")
    .non_transactional(),
];

#[test]
fn revert_runs_down_sql_of_the_last_n_and_migrate_brings_them_back() {
    let db = TestDb::empty("revert");
    let mut conn = db.connect();
    let runner = Runner::with_migrations(&WALK, RunOptions::default());
    runner.migrate(&mut conn).unwrap();
    let report = runner.revert(&mut conn, 2).unwrap();
    assert_eq!(
        report
            .steps
            .iter()
            .map(|s| s.version.as_str())
            .collect::<Vec<_>>(),
        vec![WALK[2].version, WALK[1].version]
    );
    assert_eq!(report.version_after.as_deref(), Some(WALK[0].version));
    assert!(!table_exists(&mut conn, "walk_b"));
    assert!(
        matches!(migrate::check_schema_against(&mut conn, &WALK, "2.0.0").unwrap(), SchemaCheck::Behind { missing, .. } if missing.len() == 2)
    );
    let err = runner.revert(&mut conn, 99).unwrap_err();
    assert!(err.to_string().contains("only 1 are applied"), "{err}");
    runner.migrate(&mut conn).unwrap();
    assert_eq!(
        runner.status(&mut conn).unwrap().current_version.as_deref(),
        Some(WALK[2].version)
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'walk_b_idx'"
        ),
        1
    );
}

#[test]
fn plan_lists_pending_migrations_in_order_with_their_sql_and_changes_nothing() {
    let db = TestDb::empty("plan");
    let mut conn = db.connect();
    let plan = runner().plan(&mut conn).unwrap();
    let all = migrate::embedded(Backend::Postgres);
    assert_eq!(
        plan.pending
            .iter()
            .map(|p| p.version.as_str())
            .collect::<Vec<_>>(),
        all.iter().map(|m| m.version).collect::<Vec<_>>()
    );
    assert!(plan.pending[0].sql.contains("CREATE TABLE book"));
    assert!(!plan.pending[3].run_in_transaction);
    assert!(!table_exists(&mut conn, "book"));
}

/// The tables exactly as the Python bookstore's SQLAlchemy models created them.
const PYTHON_APP_DDL: &str = "
    CREATE TABLE book (id SERIAL NOT NULL, title VARCHAR(200) NOT NULL, author VARCHAR(100) NOT NULL,
                       publisher VARCHAR(100) NOT NULL, year INTEGER NOT NULL, PRIMARY KEY (id));
    CREATE TABLE review (id SERIAL NOT NULL, reviewer VARCHAR(100) NOT NULL, rate SMALLINT NOT NULL,
                         review VARCHAR(500), book_id INTEGER, PRIMARY KEY (id), FOREIGN KEY(book_id) REFERENCES book (id));
    INSERT INTO book (title, author, publisher, year) VALUES ('Dune', 'Frank Herbert', 'Chilton', 1965),
                                                             ('Emma', 'Jane Austen', 'John Murray', 1815);
    INSERT INTO review (reviewer, rate, review, book_id) VALUES ('ana', 5, 'great', 1), ('bo', 4, NULL, 2),
                                                                ('cy', 9, 'off the scale', 1), ('di', 3, 'orphan', NULL);
";

#[test]
fn baseline_adopts_a_python_app_database_and_migrate_keeps_its_data() {
    let db = TestDb::empty("baseline_python");
    let mut conn = db.connect();
    conn.batch_execute(PYTHON_APP_DDL).unwrap();
    let report = runner().baseline(&mut conn).unwrap();
    assert_eq!(
        report.version_after.as_deref(),
        Some(migrate::embedded(Backend::Postgres)[0].version)
    );
    assert_eq!(
        report.pending.len(),
        migrate::embedded(Backend::Postgres).len() - 1
    );

    runner().migrate(&mut conn).unwrap();
    assert_at_head(&mut conn);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM book"), 2);
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM review"),
        2,
        "the two valid reviews stay"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM review_quarantine WHERE (reviewer, reason) IN (('cy', 'rate outside 1..5'), ('di', 'book_id missing'))"
        ),
        2,
        "rule-breaking legacy rows are moved aside, not lost"
    );
    // New sequence values continue after the adopted rows.
    conn.batch_execute(
        "INSERT INTO book (title, author, publisher, year) VALUES ('X', 'Y', 'Z', 2000)",
    )
    .unwrap();
    assert_eq!(count(&mut conn, "SELECT max(id)::bigint AS n FROM book"), 3);

    let err = runner().baseline(&mut conn).unwrap_err();
    assert!(err.to_string().contains("already recorded"), "{err}");
}

#[test]
fn baseline_refuses_a_database_that_differs_and_names_each_difference() {
    let db = TestDb::empty("baseline_mismatch");
    let mut conn = db.connect();
    conn.batch_execute(
        "CREATE TABLE book (id SERIAL PRIMARY KEY, title VARCHAR(250) NOT NULL, author VARCHAR(100) NOT NULL,
                            publisher VARCHAR(100), year INTEGER NOT NULL, isbn TEXT);
         CREATE TABLE review (id SERIAL PRIMARY KEY, reviewer VARCHAR(100) NOT NULL, rate INTEGER NOT NULL,
                              review VARCHAR(500), book_id INTEGER);",
    )
    .unwrap();
    let err = runner().baseline(&mut conn).unwrap_err();
    let MigrationError::BaselineMismatch { differences, .. } = &err else {
        panic!("{err}")
    };
    for expected in [
        "book.title: length 250, expected 200",
        "book.publisher: nullable, expected NOT NULL",
        "book.isbn: not in migration 1",
        "review.rate: type integer, expected smallint",
        "foreign key review(book_id) -> book(id): missing",
    ] {
        assert!(
            differences.iter().any(|d| d == expected),
            "missing `{expected}` in {differences:?}"
        );
    }
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM bookstore_schema_migrations"
        ),
        0,
        "nothing recorded"
    );
    let empty = TestDb::empty("baseline_empty");
    let err = runner().baseline(&mut empty.connect()).unwrap_err();
    assert!(err.to_string().contains("table book: missing"), "{err}");
}

#[test]
fn a_second_runner_times_out_with_lock_timeout_while_the_first_holds_the_lock() {
    let db = TestDb::migrated("lock_timeout");
    let mut holder = db.connect();
    holder
        .batch_execute(&format!(
            "SELECT pg_advisory_lock({})",
            migrate::ADVISORY_LOCK_KEY
        ))
        .unwrap();
    let quick = RunOptions::default().with_lock_timeout(std::time::Duration::from_millis(200));
    let err = Runner::new(quick).migrate(&mut db.connect()).unwrap_err();
    assert_eq!(err.kind(), "LockTimeout", "{err}");
}

#[test]
fn sqlite_runs_the_same_migrations_up_and_down() {
    let db = TestDb::sqlite_migrated("sqlite_runner");
    let mut conn = db.connect();
    let status = runner().status(&mut conn).unwrap();
    assert_eq!(
        status.current_version.as_deref(),
        Some(migrate::head_version(Backend::Sqlite))
    );
    assert!(status.drift.is_empty());
    runner()
        .revert(&mut conn, migrate::embedded(Backend::Sqlite).len())
        .unwrap();
    runner().migrate(&mut conn).unwrap();
    assert!(matches!(
        migrate::check_schema(&mut conn).unwrap(),
        SchemaCheck::Current { .. }
    ));
}

#[test]
fn an_older_runner_on_a_newer_database_succeeds_and_reports_the_unknown_migrations_as_drift() {
    // A CloudFormation rollback re-invokes the previous schema Lambda after a newer one migrated.
    let db = TestDb::migrated("older_runner");
    let mut conn = db.connect();
    let all = migrate::embedded(Backend::Postgres);
    let older = &all[..all.len().min(2)];
    let report = Runner::with_migrations(older, RunOptions::default())
        .migrate(&mut conn)
        .unwrap();
    assert!(report.steps.is_empty(), "nothing to apply");
    assert_eq!(report.version_after.as_deref(), Some(head()));
    let unknown: Vec<_> = report
        .drift
        .iter()
        .filter(|d| matches!(d, Drift::UnknownApplied { .. }))
        .collect();
    assert_eq!(unknown.len(), all.len() - older.len(), "{:?}", report.drift);
}
