//! Non-transactional migrations: a real tokenizer cuts them into statements, progress is
//! recorded statement by statement, and INVALID indexes left by a failed concurrent build
//! are reported and rebuilt. Synthetic migration sets only.

use bookstore_schema::migrate::{Drift, Migration, MigrationError, RunOptions, Runner};
use bookstore_testing::TestDb;

use crate::count;

const TABLE: Migration = Migration::new(
    "20990301000000",
    "resume_table",
    "CREATE TABLE resume_t (id int, note text);",
);

#[test]
fn a_non_transactional_migration_with_dollar_quoted_bodies_and_comments_runs_statement_by_statement()
 {
    let body = Migration::new(
        "20990301000001",
        "function_and_index",
        r#"/* a function; its body has semicolons at line ends /* nested; */ */
CREATE FUNCTION resume_note() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.note := coalesce(NEW.note, E'none;\'yet\'');
  RETURN NEW;
END;
$fn$;
CREATE TRIGGER resume_note BEFORE INSERT ON resume_t FOR EACH ROW EXECUTE FUNCTION resume_note();
-- CONCURRENTLY refuses a transaction: this is why the file runs statement by statement;
CREATE INDEX CONCURRENTLY resume_t_note_idx ON resume_t (note);
INSERT INTO resume_t (id) VALUES (1);
"#,
    )
    .non_transactional();
    let db = TestDb::empty("resume_tokenizer");
    let mut conn = db.connect();
    let set = [TABLE, body];
    Runner::with_migrations(&set, RunOptions::default())
        .migrate(&mut conn)
        .unwrap();
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM resume_t WHERE note = 'none;''yet'''"
        ),
        1
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'resume_t_note_idx'"
        ),
        1
    );
}

fn runner(set: &[Migration]) -> Runner<'_> {
    Runner::with_migrations(set, RunOptions::default())
}

#[test]
fn a_rerun_after_a_failure_continues_at_the_statement_that_failed() {
    // None of these statements may run twice: the table exists, the row would double.
    const BROKEN: Migration = Migration::new(
        "20990301000002",
        "three_steps",
        "CREATE TABLE resume_once (id int);\nINSERT INTO resume_t (id) VALUES (1);\nINSERT INTO resume_missing (id) VALUES (2);\nINSERT INTO resume_t (id) VALUES (3);",
    )
    .non_transactional();
    const FIXED: Migration = Migration::new(
        "20990301000002",
        "three_steps",
        "CREATE TABLE resume_once (id int);\nINSERT INTO resume_t (id) VALUES (1);\nINSERT INTO resume_t (id) VALUES (2);\nINSERT INTO resume_t (id) VALUES (3);",
    )
    .non_transactional();
    let db = TestDb::empty("resume_after_failure");
    let mut conn = db.connect();
    let err = runner(&[TABLE, BROKEN]).migrate(&mut conn).unwrap_err();
    assert!(
        matches!(
            &err,
            MigrationError::MigrationFailed {
                transactional: false,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("continues at the failing statement"),
        "{err}"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM bookstore_schema_progress"
        ),
        2,
        "the two statements done are recorded"
    );

    let report = runner(&[TABLE, FIXED]).migrate(&mut conn).unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].statements_skipped, 2);
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM resume_t WHERE id IN (1, 2, 3)"
        ),
        3,
        "each row once"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM bookstore_schema_progress"
        ),
        0,
        "progress is cleared with the record"
    );
    assert!(
        runner(&[TABLE, FIXED])
            .status(&mut conn)
            .unwrap()
            .pending
            .is_empty()
    );
}

#[test]
fn a_failed_concurrent_index_build_is_reported_invalid_and_rebuilt_by_the_rerun() {
    const UNIQUE: Migration = Migration::new(
        "20990301000003",
        "unique_id",
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS resume_t_id_key ON resume_t (id);",
    )
    .non_transactional();
    let db = TestDb::empty("resume_invalid_index");
    let mut conn = db.connect();
    runner(&[TABLE]).migrate(&mut conn).unwrap();
    conn.batch_execute("INSERT INTO resume_t (id) VALUES (1), (1)")
        .unwrap();
    let set = [TABLE, UNIQUE];
    let err = runner(&set).migrate(&mut conn).unwrap_err();
    assert!(
        err.to_string().contains("INVALID index resume_t_id_key"),
        "{err}"
    );
    let invalid = Drift::InvalidIndex {
        index: "resume_t_id_key".into(),
        table: "resume_t".into(),
    };
    assert_eq!(runner(&set).status(&mut conn).unwrap().drift, vec![invalid]);

    conn.batch_execute("DELETE FROM resume_t WHERE ctid = (SELECT max(ctid) FROM resume_t)")
        .unwrap();
    runner(&set).migrate(&mut conn).unwrap();
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_index WHERE indexrelid = 'resume_t_id_key'::regclass AND indisvalid"
        ),
        1,
        "built again, valid"
    );
    assert!(runner(&set).status(&mut conn).unwrap().drift.is_empty());
}
