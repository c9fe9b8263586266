//! Structural drift: out-of-band changes to columns, indexes, constraints, sequences and
//! the app role's grants are reported, and block the migrations that touch them.
//! Synthetic migration sets only.

use bookstore_schema::{
    DbConnection,
    migrate::{self, Drift, Migration, MigrationError, RunOptions, Runner},
};
use bookstore_testing::TestDb;

const TABLES: Migration = Migration::new(
    "20990601000000",
    "drift_tables",
    "CREATE TABLE book (id serial PRIMARY KEY, title varchar(200) NOT NULL, rate int);
     CREATE TABLE review (id serial PRIMARY KEY, book_id int REFERENCES book (id));",
);
const RULES: Migration = Migration::new(
    "20990601000001",
    "drift_rules",
    "CREATE INDEX book_title_idx ON book (title);
     ALTER TABLE book ADD CONSTRAINT book_rate_positive CHECK (rate > 0);",
);
const SET: [Migration; 2] = [TABLES, RULES];
const ROLE: &str = "bookstore_drift_app";

fn runner(set: &[Migration]) -> Runner<'_> {
    Runner::with_migrations(set, RunOptions::default().with_app_role(Some(ROLE.into())))
}

fn structural(conn: &mut DbConnection, set: &[Migration]) -> Vec<(String, String)> {
    runner(set)
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
        .collect()
}

fn migrated(test: &str) -> (TestDb, DbConnection) {
    let db = TestDb::empty(test);
    let mut conn = db.connect();
    runner(&SET).migrate(&mut conn).unwrap();
    migrate::ensure_app_role(&mut conn, ROLE).unwrap();
    assert_eq!(
        structural(&mut conn, &SET),
        vec![],
        "a fresh schema has no drift"
    );
    (db, conn)
}

#[test]
fn an_added_column_a_dropped_index_and_other_out_of_band_changes_are_reported() {
    let (_db, mut conn) = migrated("drift_reported");
    conn.batch_execute(
        "ALTER TABLE book ADD COLUMN x int;
         DROP INDEX book_title_idx;
         ALTER TABLE book DROP CONSTRAINT book_rate_positive;
         ALTER TABLE book ADD CONSTRAINT book_rate_positive CHECK (rate > 0) NOT VALID;
         ALTER TABLE book ALTER COLUMN title DROP NOT NULL;
         ALTER SEQUENCE review_id_seq INCREMENT BY 10;
         CREATE INDEX review_book_id_idx ON review (book_id);",
    )
    .unwrap();
    conn.batch_execute(&format!("GRANT TRUNCATE ON book TO {ROLE}"))
        .unwrap();
    let found = structural(&mut conn, &SET);
    for (object, difference) in [
        ("column book.x", "not made by the applied migrations"),
        ("index book_title_idx", "missing"),
        (
            "index review_book_id_idx",
            "not made by the applied migrations",
        ),
        (
            "constraint book_rate_positive",
            "NOT VALID, expected validated",
        ),
        ("column book.title", "nullable, expected NOT NULL"),
        (
            "sequence review_id_seq",
            "`integer increment 10`, expected `integer increment 1`",
        ),
        (
            "grants of bookstore_drift_app on book",
            "SELECT, INSERT, UPDATE, DELETE, TRUNCATE, expected SELECT, INSERT, UPDATE, DELETE",
        ),
    ] {
        assert!(
            found.iter().any(|(o, d)| o == object && d == difference),
            "missing `{object}: {difference}` in {found:#?}"
        );
    }
    assert_eq!(found.len(), 7, "{found:#?}");
}

#[test]
fn an_invalid_index_left_by_a_failed_concurrent_build_is_reported() {
    let (_db, mut conn) = migrated("drift_invalid_index");
    conn.batch_execute("INSERT INTO book (title) VALUES ('a'), ('a')")
        .unwrap();
    assert!(
        conn.batch_execute("CREATE UNIQUE INDEX CONCURRENTLY book_title_key ON book (title)")
            .is_err()
    );
    let drift = runner(&SET).status(&mut conn).unwrap().drift;
    assert_eq!(
        drift,
        vec![Drift::InvalidIndex {
            index: "book_title_key".into(),
            table: "book".into()
        }],
        "reported once, as INVALID"
    );
}

#[test]
fn migrate_refuses_a_pending_migration_that_touches_a_drifted_table_unless_overridden() {
    let (_db, mut conn) = migrated("drift_blocks");
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
    assert_eq!(err.kind(), "DriftBlocked");

    let elsewhere = [
        TABLES,
        RULES,
        Migration::new(
            "20990601000002",
            "drift_other",
            "CREATE TABLE other (id int);",
        ),
    ];
    let report = runner(&elsewhere).migrate(&mut conn).unwrap();
    assert!(
        report
            .drift
            .iter()
            .any(|d| matches!(d, Drift::Structure { object, .. } if object == "column book.x")),
        "still reported: {:?}",
        report.drift
    );

    let overridden = RunOptions::default().with_ignore_drift(true);
    let touching_after = [
        TABLES,
        RULES,
        elsewhere[2],
        Migration::new(
            "20990601000003",
            "drift_y",
            "ALTER TABLE book ADD COLUMN y int;",
        ),
    ];
    let report = Runner::with_migrations(&touching_after, overridden)
        .migrate(&mut conn)
        .unwrap();
    assert_eq!(report.steps.len(), 1);
}
