//! Rehearsed, approvable plans: `plan --rehearse` and `migrate` with an approved digest.
//! Synthetic migration sets only.

use bookstore_schema::{
    DbConnection,
    migrate::{Migration, MigrationError, RunOptions, Runner},
};
use bookstore_testing::TestDb;

use crate::count;

const BOOKS: Migration = Migration::new(
    "20990501000000",
    "rh_book",
    "CREATE TABLE rh_book (id int PRIMARY KEY, title text);",
);
const WIDEN: Migration = Migration::new(
    "20990501000001",
    "rh_widen",
    "ALTER TABLE rh_book ADD COLUMN isbn text;\nCREATE TABLE rh_new (id int);",
);
const INDEX: Migration = Migration::new(
    "20990501000002",
    "rh_index",
    "CREATE INDEX CONCURRENTLY rh_book_title_idx ON rh_book (title);",
)
.non_transactional();
const SET: [Migration; 3] = [BOOKS, WIDEN, INDEX];

fn runner(set: &[Migration]) -> Runner<'_> {
    Runner::with_migrations(set, RunOptions::default())
}

fn with_books(test: &str) -> (TestDb, DbConnection) {
    let db = TestDb::empty(test);
    let mut conn = db.connect();
    runner(&SET[..1]).migrate(&mut conn).unwrap();
    conn.batch_execute(
        "INSERT INTO rh_book SELECT n, repeat('x', 100) FROM generate_series(1, 2000) n; ANALYZE rh_book",
    )
    .unwrap();
    (db, conn)
}

#[test]
fn a_rehearsal_reports_each_statements_locks_and_table_sizes_and_changes_nothing() {
    let (_db, mut conn) = with_books("plan_rehearse");
    let plan = runner(&SET).rehearse(&mut conn, None).unwrap();
    assert_eq!(plan.digest, runner(&SET).plan(&mut conn).unwrap().digest);
    let rehearsal = plan.rehearsal.unwrap();
    let widen = &rehearsal.migrations[0];
    assert_eq!(
        (widen.version.as_str(), widen.outcome),
        (WIDEN.version, "rehearsed")
    );
    assert_eq!(widen.statements.len(), 2);
    let alter = &widen.statements[0];
    assert!(alter.sql.starts_with("ALTER TABLE rh_book"), "{alter:?}");
    let lock = alter
        .locks
        .iter()
        .find(|l| l.relation == "rh_book")
        .unwrap_or_else(|| panic!("{alter:?}"));
    assert_eq!(
        (lock.kind.as_str(), lock.mode.as_str()),
        ("table", "AccessExclusiveLock")
    );
    assert!(lock.bytes > 100_000, "{lock:?}");
    assert_eq!(lock.rows_estimate, 2000);
    assert!(
        widen.statements[1]
            .locks
            .iter()
            .any(|l| l.relation == "rh_new" && l.mode == "AccessExclusiveLock"),
        "{:?}",
        widen.statements[1]
    );
    assert_eq!(rehearsal.migrations[1].outcome, "not_rehearsed");

    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'rh_book' AND column_name = 'isbn'"
        ),
        0,
        "rolled back"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_tables WHERE tablename = 'rh_new'"
        ),
        0
    );
    assert_eq!(runner(&SET).status(&mut conn).unwrap().pending.len(), 2);
}

#[test]
fn a_rehearsed_statement_that_cannot_get_its_lock_is_reported_without_queueing_traffic() {
    let (db, mut conn) = with_books("plan_rehearse_lock");
    let mut reader = db.connect();
    reader
        .batch_execute("BEGIN; LOCK TABLE rh_book IN ACCESS SHARE MODE;")
        .unwrap();
    let plan = runner(&SET).rehearse(&mut conn, None).unwrap();
    let rehearsal = plan.rehearsal.unwrap();
    let widen = &rehearsal.migrations[0];
    assert_eq!(widen.outcome, "failed");
    let error = widen.statements[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("lock timeout"), "{error}");
    assert!(widen.statements[0].duration_ms < 5000, "{widen:?}");
    assert_eq!(rehearsal.migrations[1].outcome, "not_reached");
    reader.batch_execute("ROLLBACK").unwrap();
}

#[test]
fn migrate_applies_an_approved_plan_and_refuses_once_anything_changed() {
    let (_db, mut conn) = with_books("plan_digest");
    let approved = runner(&SET[..2]).plan(&mut conn).unwrap().digest;
    assert_eq!(approved.len(), 64);

    // A migration arrived after the approval.
    let strict = RunOptions::default().with_expected_digest(Some(approved.clone()));
    let err = Runner::with_migrations(&SET, strict.clone())
        .migrate(&mut conn)
        .unwrap_err();
    assert!(
        matches!(&err, MigrationError::PlanChanged { expected, .. } if *expected == approved),
        "{err}"
    );
    assert_eq!(err.kind(), "PlanChanged");
    // A pending file changed after the approval.
    let mut edited = SET;
    edited[1].up = "ALTER TABLE rh_book ADD COLUMN isbn varchar(20);";
    let err = Runner::with_migrations(&edited[..2], strict.clone())
        .migrate(&mut conn)
        .unwrap_err();
    assert_eq!(err.kind(), "PlanChanged", "{err}");
    assert_eq!(
        runner(&SET).status(&mut conn).unwrap().pending.len(),
        2,
        "nothing applied"
    );

    let report = Runner::with_migrations(&SET[..2], strict.clone())
        .migrate(&mut conn)
        .unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.plan_digest.as_deref(), Some(approved.as_str()));
    // The same approval does not apply twice: the database moved on.
    let err = Runner::with_migrations(&SET[..2], strict)
        .migrate(&mut conn)
        .unwrap_err();
    assert_eq!(err.kind(), "PlanChanged", "{err}");
    // With a target, the plan and migrate agree on the digest too.
    let to = runner(&SET)
        .plan_to(&mut conn, INDEX.version)
        .unwrap()
        .digest;
    let options = RunOptions::default().with_expected_digest(Some(to));
    Runner::with_migrations(&SET, options)
        .migrate_to(&mut conn, INDEX.version)
        .unwrap();
}

#[test]
fn sqlite_rehearses_too_without_lock_details() {
    let db = TestDb::sqlite_empty("plan_rehearse_sqlite");
    let mut conn = db.connect();
    let set = [
        Migration::new(
            "20990501000000",
            "t",
            "CREATE TABLE t (id INTEGER PRIMARY KEY);",
        ),
        Migration::new("20990501000001", "t_x", "ALTER TABLE t ADD COLUMN x TEXT;"),
    ];
    runner(&set[..1]).migrate(&mut conn).unwrap();
    let plan = runner(&set).rehearse(&mut conn, None).unwrap();
    let rehearsal = plan.rehearsal.unwrap();
    assert_eq!(rehearsal.migrations[0].outcome, "rehearsed");
    assert!(rehearsal.migrations[0].statements[0].locks.is_empty());
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pragma_table_info('t') WHERE name = 'x'"
        ),
        0
    );
}
