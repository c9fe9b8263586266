//! Non-transactional migrations: a real tokenizer cuts them into statements, progress is
//! recorded statement by statement, and INVALID indexes left by a failed concurrent build
//! are reported and rebuilt. Synthetic migration sets only.

use bookstore_schema::migrate::{Migration, RunOptions, Runner};
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
