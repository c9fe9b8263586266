//! Safe reverts: `down.sql` checked against the one applied, data kept unless its loss is
//! allowed, and reverts and migrations to a named version. Synthetic migration sets only.

use bookstore_schema::{
    Backend, DbConnection,
    migrate::{Migration, MigrationError, RunOptions, Runner},
};
use bookstore_testing::TestDb;

use crate::count;

const KEEP: Migration = Migration::new(
    "20990401000000",
    "keep_table",
    "CREATE TABLE keep (id int PRIMARY KEY);",
)
.with_down("DROP TABLE keep;");
const NOTE: Migration = Migration::new(
    "20990401000001",
    "keep_note",
    "ALTER TABLE keep ADD COLUMN note text;",
)
.with_down("ALTER TABLE keep DROP COLUMN note;");
const EXTRA: Migration = Migration::new(
    "20990401000002",
    "keep_extra",
    "CREATE TABLE keep_extra (id int);",
)
.with_down("DROP TABLE keep_extra;");
const SET: [Migration; 3] = [KEEP, NOTE, EXTRA];

fn runner(set: &[Migration]) -> Runner<'_> {
    Runner::with_migrations(set, RunOptions::default())
}

fn columns(conn: &mut DbConnection, table: &str) -> i64 {
    count(
        conn,
        &format!(
            "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = '{table}'"
        ),
    )
}

#[test]
fn revert_refuses_a_down_sql_that_changed_since_its_migration_was_applied() {
    let db = TestDb::empty("revert_down_checksum");
    let mut conn = db.connect();
    runner(&SET).migrate(&mut conn).unwrap();
    let recorded = runner(&SET).status(&mut conn).unwrap().applied;
    assert_eq!(
        recorded[2].down_checksum.as_deref(),
        EXTRA.down_checksum().as_deref()
    );

    let mut edited = SET;
    edited[2] = EXTRA.with_down("DROP TABLE keep_extra CASCADE;");
    let err = runner(&edited).revert(&mut conn, 1).unwrap_err();
    assert!(
        matches!(&err, MigrationError::DownChecksumMismatch { version, .. } if version == EXTRA.version),
        "{err}"
    );
    assert_eq!(err.kind(), "DownChecksumMismatch");
    assert!(err.to_string().contains("keep_extra"), "{err}");
    assert_eq!(columns(&mut conn, "keep_extra"), 1, "nothing reverted");
    runner(&SET).revert(&mut conn, 1).unwrap();
    assert_eq!(columns(&mut conn, "keep_extra"), 0);
}

#[test]
fn a_record_without_down_checksums_is_upgraded_in_place_by_the_next_migrate() {
    let db = TestDb::empty("revert_down_checksum_upgrade");
    let mut conn = db.connect();
    runner(&SET).migrate(&mut conn).unwrap();
    // The table as a 2.0.0 runner left it.
    conn.batch_execute("ALTER TABLE bookstore_schema_migrations DROP COLUMN down_checksum")
        .unwrap();
    let status = runner(&SET).status(&mut conn).unwrap();
    assert_eq!(status.applied.len(), 3, "an older record is still read");
    assert!(status.applied.iter().all(|a| a.down_checksum.is_none()));

    runner(&SET).migrate(&mut conn).unwrap();
    let status = runner(&SET).status(&mut conn).unwrap();
    assert!(
        status
            .applied
            .iter()
            .zip(SET)
            .all(|(a, m)| a.down_checksum == m.down_checksum()),
        "{:?}",
        status.applied
    );
    let mut edited = SET;
    edited[2] = EXTRA.with_down("SELECT 1;");
    let err = runner(&edited).revert(&mut conn, 1).unwrap_err();
    assert_eq!(err.kind(), "DownChecksumMismatch", "{err}");
}

#[test]
fn a_revert_that_would_drop_a_column_or_table_holding_data_is_refused_unless_allowed() {
    let db = TestDb::empty("revert_data_loss");
    let mut conn = db.connect();
    runner(&SET).migrate(&mut conn).unwrap();
    // Rows, but nothing in the column: dropping it loses nothing.
    conn.batch_execute("INSERT INTO keep (id) VALUES (1), (2)")
        .unwrap();
    runner(&SET).revert(&mut conn, 2).unwrap();
    runner(&SET).migrate(&mut conn).unwrap();

    conn.batch_execute("UPDATE keep SET note = 'keep me' WHERE id = 1")
        .unwrap();
    let err = runner(&SET).revert(&mut conn, 2).unwrap_err();
    let MigrationError::DataLoss {
        version, losses, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(version, NOTE.version);
    assert_eq!(losses, &vec!["column keep.note".to_owned()]);
    assert_eq!(err.kind(), "DataLoss");
    assert!(err.to_string().contains("allow data loss"), "{err}");
    assert_eq!(columns(&mut conn, "keep"), 2, "the column is still there");
    assert_eq!(
        columns(&mut conn, "keep_extra"),
        1,
        "nor was the newer migration reverted"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM keep WHERE note = 'keep me'"
        ),
        1
    );

    let err = runner(&SET[..1]).revert(&mut conn, 3).unwrap_err();
    assert!(err.to_string().contains("does not embed"), "{err}");
    let allowed = RunOptions::default().with_allow_data_loss(true);
    Runner::with_migrations(&SET, allowed.clone())
        .revert(&mut conn, 2)
        .unwrap();
    assert_eq!(columns(&mut conn, "keep"), 1);
    let err = runner(&SET).revert(&mut conn, 1).unwrap_err();
    assert!(
        matches!(&err, MigrationError::DataLoss { losses, .. } if losses == &["table keep"]),
        "{err}"
    );
    Runner::with_migrations(&SET, allowed)
        .revert(&mut conn, 1)
        .unwrap();
    assert_eq!(columns(&mut conn, "keep"), 0);
}

#[test]
fn a_non_transactional_down_sql_is_checked_before_any_statement_runs() {
    let set = [
        KEEP,
        Migration::new(
            "20990401000003",
            "keep_index",
            "CREATE INDEX CONCURRENTLY keep_idx ON keep (id);",
        )
        .with_down("DROP INDEX CONCURRENTLY keep_idx;\nDROP TABLE keep;")
        .non_transactional(),
    ];
    let db = TestDb::empty("revert_data_loss_non_transactional");
    let mut conn = db.connect();
    runner(&set).migrate(&mut conn).unwrap();
    conn.batch_execute("INSERT INTO keep (id) VALUES (1)")
        .unwrap();
    let err = runner(&set).revert(&mut conn, 1).unwrap_err();
    assert!(
        matches!(&err, MigrationError::DataLoss { losses, .. } if losses == &["table keep"]),
        "{err}"
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'keep_idx'"
        ),
        1,
        "not even the first statement ran"
    );
}

#[test]
fn a_sqlite_table_rebuild_is_judged_by_the_columns_it_keeps() {
    let set = [
        Migration::new(
            "20990401000000",
            "t",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT);",
        )
        .with_down("DROP TABLE t;"),
        Migration::new("20990401000001", "t_b", "ALTER TABLE t ADD COLUMN b TEXT;").with_down(
            "ALTER TABLE t RENAME TO t_old;
             CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT);
             INSERT INTO t (id, a) SELECT id, a FROM t_old;
             DROP TABLE t_old;",
        ),
    ];
    let db = TestDb::sqlite_empty("revert_sqlite_rebuild");
    let mut conn = db.connect();
    assert_eq!(conn.backend(), Backend::Sqlite);
    runner(&set).migrate(&mut conn).unwrap();
    conn.batch_execute("INSERT INTO t (id, a) VALUES (1, 'kept')")
        .unwrap();
    runner(&set).revert(&mut conn, 1).unwrap();
    runner(&set).migrate(&mut conn).unwrap();
    conn.batch_execute("UPDATE t SET b = 'lost'").unwrap();
    let err = runner(&set).revert(&mut conn, 1).unwrap_err();
    assert!(
        matches!(&err, MigrationError::DataLoss { losses, .. } if losses == &["column t.b"]),
        "{err}"
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM t WHERE b = 'lost'"),
        1
    );
}

#[test]
fn revert_to_and_migrate_to_stop_at_the_named_version() {
    let db = TestDb::empty("revert_to_migrate_to");
    let mut conn = db.connect();
    let report = runner(&SET).migrate_to(&mut conn, NOTE.version).unwrap();
    assert_eq!(report.steps.len(), 2);
    assert_eq!(report.version_after.as_deref(), Some(NOTE.version));
    assert_eq!(
        report
            .pending
            .iter()
            .map(|p| p.version.as_str())
            .collect::<Vec<_>>(),
        vec![EXTRA.version]
    );
    let err = runner(&SET)
        .migrate_to(&mut conn, KEEP.version)
        .unwrap_err();
    assert!(err.to_string().contains("use revert --to"), "{err}");
    let err = runner(&SET)
        .migrate_to(&mut conn, "20990401999999")
        .unwrap_err();
    assert!(err.to_string().contains("does not embed"), "{err}");
    runner(&SET).migrate(&mut conn).unwrap();

    let report = runner(&SET).revert_to(&mut conn, KEEP.version).unwrap();
    assert_eq!(
        report
            .steps
            .iter()
            .map(|s| s.version.as_str())
            .collect::<Vec<_>>(),
        vec![EXTRA.version, NOTE.version]
    );
    assert_eq!(report.version_after.as_deref(), Some(KEEP.version));
    assert_eq!(
        runner(&SET)
            .revert_to(&mut conn, KEEP.version)
            .unwrap()
            .steps
            .len(),
        0
    );
    let err = runner(&SET)
        .revert_to(&mut conn, EXTRA.version)
        .unwrap_err();
    assert!(err.to_string().contains("is not applied"), "{err}");
}
