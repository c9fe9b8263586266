//! Structural drift on MySQL / MariaDB: out-of-band changes to columns, indexes,
//! constraints, triggers and the app user's grants are reported, and block the
//! migrations that touch them; the probe database the applied migrations replay in is
//! dropped every time. Synthetic migration sets only.

use bookstore_schema::{
    DbConnection,
    migrate::{self, Drift, Migration, MigrationError, RunOptions, Runner},
};
use bookstore_testing::TestDb;

use crate::{count, mysql_runner::probes_left};

const TABLES: Migration = Migration::new(
    "20990601000000",
    "drift_tables",
    "CREATE TABLE book (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, title varchar(200) NOT NULL,
                        rate int, note varchar(50));
     CREATE TABLE review (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, body varchar(500), book_id int,
                          CONSTRAINT review_book_id_fkey FOREIGN KEY (book_id) REFERENCES book (id));",
);
const RULES: Migration = Migration::new(
    "20990601000001",
    "drift_rules",
    "CREATE INDEX book_title_idx ON book (title);
     ALTER TABLE book ADD CONSTRAINT book_rate_positive CHECK (rate > 0);
     CREATE TRIGGER book_title_trim BEFORE INSERT ON book FOR EACH ROW SET NEW.title = TRIM(NEW.title);",
);
const SET: [Migration; 2] = [TABLES, RULES];
const ROLE: &str = "bookstore_drift_app";

fn runner(set: &[Migration]) -> Runner<'_> {
    Runner::with_migrations(set, RunOptions::default().with_app_role(Some(ROLE.into())))
}

fn structural(conn: &mut DbConnection, set: &[Migration]) -> Vec<(String, String)> {
    let found = runner(set)
        .status(conn)
        .unwrap()
        .drift
        .into_iter()
        .filter_map(|d| match d {
            Drift::Structure {
                object, difference, ..
            } => Some((object, difference)),
            _ => None,
        })
        .collect();
    assert_eq!(probes_left(conn), 0, "the probe database is dropped");
    found
}

fn migrated(test: &str) -> (TestDb, DbConnection) {
    let db = TestDb::mysql_empty(test);
    let mut conn = db.connect();
    runner(&SET).migrate(&mut conn).unwrap();
    migrate::ensure_app_role(&mut conn, ROLE).unwrap();
    assert_eq!(
        structural(&mut conn, &SET),
        vec![],
        "a fresh database has no drift"
    );
    (db, conn)
}

#[test]
fn mysql_altered_and_dropped_columns_indexes_constraints_triggers_and_grants_are_reported() {
    let (_db, mut conn) = migrated("my_drift");
    conn.batch_execute(&format!(
        "ALTER TABLE book ADD COLUMN x int;
         ALTER TABLE book DROP COLUMN note;
         DROP INDEX book_title_idx ON book;
         ALTER TABLE book MODIFY title varchar(100) NULL;
         ALTER TABLE book DROP CONSTRAINT book_rate_positive;
         DROP TRIGGER book_title_trim;
         ALTER TABLE review MODIFY body varchar(500) COLLATE utf8mb4_general_ci;
         CREATE INDEX review_body_idx ON review (body);
         REVOKE DELETE ON book FROM '{ROLE}'@'%';
         REVOKE ALL PRIVILEGES ON review FROM '{ROLE}'@'%';"
    ))
    .unwrap();
    let found = structural(&mut conn, &SET);
    let grants = |table: &str| format!("grants of {ROLE} on {table}");
    let expected = [
        ("column book.x", "not made by the applied migrations"),
        ("column book.note", "missing"),
        (
            "column book.title",
            "type varchar(100), expected varchar(200)",
        ),
        ("column book.title", "nullable, expected NOT NULL"),
        (
            "column review.body",
            "collation utf8mb4_general_ci, expected utf8mb4_bin",
        ),
        ("index book.book_title_idx", "missing"),
        ("constraint book.book_rate_positive", "missing"),
        ("trigger book.book_title_trim", "missing"),
        (
            "index review.review_body_idx",
            "not made by the applied migrations",
        ),
        (
            &grants("book"),
            "SELECT, INSERT, UPDATE, expected SELECT, INSERT, UPDATE, DELETE",
        ),
        (
            &grants("review"),
            "none, expected SELECT, INSERT, UPDATE, DELETE",
        ),
    ];
    for (object, difference) in expected {
        assert!(
            found.iter().any(|(o, d)| o == object && d == difference),
            "missing `{object}: {difference}` in {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

#[test]
fn mysql_a_grant_on_the_whole_database_counts_for_every_table() {
    let (db, mut conn) = migrated("my_drift_db_grant");
    conn.batch_execute(&format!("GRANT DROP ON `{}`.* TO '{ROLE}'@'%'", db.name()))
        .unwrap();
    let found = structural(&mut conn, &SET);
    conn.batch_execute(&format!(
        "REVOKE DROP ON `{}`.* FROM '{ROLE}'@'%'",
        db.name()
    ))
    .unwrap();
    assert!(
        found.contains(&(
            format!("grants of {ROLE} on book"),
            "SELECT, INSERT, UPDATE, DELETE, DROP, expected SELECT, INSERT, UPDATE, DELETE".into()
        )),
        "{found:#?}"
    );
    assert!(
        found.contains(&(
            format!("grants of {ROLE} on bookstore_schema_migrations"),
            "SELECT, DROP, expected SELECT".into()
        )),
        "{found:#?}"
    );
}

#[test]
fn mysql_migrate_refuses_a_pending_migration_that_touches_a_drifted_table_unless_overridden() {
    let (_db, mut conn) = migrated("my_drift_blocks");
    conn.batch_execute("ALTER TABLE book ADD COLUMN x int")
        .unwrap();
    let touching = [
        TABLES,
        RULES,
        Migration::new(
            "20990601000002",
            "drift_y",
            "ALTER TABLE book ADD COLUMN y int;",
        ),
    ];
    let err = runner(&touching).migrate(&mut conn).unwrap_err();
    let MigrationError::DriftBlocked { version, drift, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(version, "20990601000002");
    assert_eq!(
        drift,
        &vec!["column book.x: not made by the applied migrations".to_owned()]
    );
    assert_eq!(probes_left(&mut conn), 0);
    let overridden = RunOptions::default().with_ignore_drift(true);
    let report = Runner::with_migrations(&touching, overridden)
        .migrate(&mut conn)
        .unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(probes_left(&mut conn), 0);
}

#[test]
fn mysql_migrations_that_fail_in_the_probe_are_reported_and_the_probe_is_dropped() {
    let db = TestDb::mysql_empty("my_drift_replay");
    let mut conn = db.connect();
    // A table made by hand, which the probe does not have.
    conn.batch_execute("CREATE TABLE legacy (id int)").unwrap();
    let set = [Migration::new(
        "20990601000000",
        "drift_copy",
        "CREATE TABLE copy LIKE legacy;",
    )];
    let runner = Runner::with_migrations(&set, RunOptions::default());
    runner.migrate(&mut conn).unwrap();
    let drift = runner.status(&mut conn).unwrap().drift;
    assert!(
        matches!(drift.as_slice(), [Drift::Structure { object, difference, .. }]
            if object == "schema"
                && difference.starts_with("not compared: the applied migrations fail in a probe schema")
                && difference.contains("legacy")),
        "{drift:#?}"
    );
    assert_eq!(probes_left(&mut conn), 0);
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'copy'"
        ),
        1,
        "the session is back in its own database"
    );
}

#[test]
fn mysql_probe_databases_a_crashed_run_left_do_not_break_the_next_and_old_ones_go() {
    let (db, mut conn) = migrated("my_drift_stale");
    let id = count(&mut conn, "SELECT CAST(CONNECTION_ID() AS SIGNED) AS n");
    let now = count(&mut conn, "SELECT CAST(UNIX_TIMESTAMP() AS SIGNED) AS n");
    let name = |time: i64| format!("{}_bookstore_probe_{time}_{id}", db.name());
    // Under the names this session's next probe may take (a restarted server hands out
    // connection ids again), each holding a table the migrations do not make; and one
    // from long ago.
    let long_ago = 1_000_000_000;
    let stale: Vec<i64> = (now - 1..=now + 30).chain([long_ago]).collect();
    for time in &stale {
        let probe = name(*time);
        conn.batch_execute(&format!(
            "CREATE DATABASE `{probe}`; CREATE TABLE `{probe}`.leftover (id int);"
        ))
        .unwrap();
    }
    let found = runner(&SET).status(&mut conn).unwrap().drift;
    assert!(found.is_empty(), "{found:#?}");
    let left = |conn: &mut DbConnection, time: i64| {
        count(
            conn,
            &format!(
                "SELECT count(*) AS n FROM information_schema.schemata WHERE schema_name = '{}'",
                name(time)
            ),
        )
    };
    assert_eq!(
        left(&mut conn, long_ago),
        0,
        "a probe over an hour old is dropped"
    );
    // The recent ones are not this run's to drop (a concurrent run may own one).
    assert_eq!(left(&mut conn, now - 1), 1);
    for time in stale {
        conn.batch_execute(&format!("DROP DATABASE IF EXISTS `{}`", name(time)))
            .unwrap();
    }
    assert_eq!(probes_left(&mut conn), 0);
}
