//! The one test that walks the real migrations: each one up, down and up again, on both
//! backends, so that every `down.sql` is exercised and undoes exactly its `up.sql`.

use bookstore_schema::{
    Backend,
    migrate::{self, RunOptions, Runner},
};
use bookstore_testing::TestDb;

#[test]
fn every_real_migration_walks_up_down_and_up_again_on_both_backends() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let db = TestDb::empty_on(backend, "walk_real_migrations");
        let mut conn = db.connect();
        let runner = Runner::new(RunOptions::default());
        for m in migrate::embedded(backend) {
            let up = runner.migrate_to(&mut conn, m.version).unwrap();
            assert_eq!(up.steps.len(), 1, "{backend:?} {}", m.version);
            let down = runner.revert(&mut conn, 1).unwrap();
            assert_eq!(down.steps[0].version, m.version, "{backend:?}");
            runner.migrate_to(&mut conn, m.version).unwrap();
        }
        let status = runner.status(&mut conn).unwrap();
        assert_eq!(
            status.current_version.as_deref(),
            Some(migrate::head_version(backend))
        );
        assert!(
            status.pending.is_empty() && status.drift.is_empty(),
            "{status:?}"
        );
        let first = migrate::embedded(backend)[0].version;
        runner.revert_to(&mut conn, first).unwrap();
        runner.migrate(&mut conn).unwrap();
        assert!(matches!(
            migrate::check_schema(&mut conn).unwrap(),
            migrate::SchemaCheck::Current { .. }
        ));
    }
}
