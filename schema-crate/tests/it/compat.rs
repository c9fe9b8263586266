//! The compatibility window on synthetic migration sets, on every backend: the
//! two-sided schema check, live pins blocking contract migrations and reverts, and a
//! bookkeeping table a 1.x runner created.

use std::time::Duration;

use bookstore_schema::{
    Backend, DbConnection,
    migrate::{
        Migration, MigrationError, RunOptions, Runner, SchemaCheck, check_schema_against,
        record_pin,
    },
};
use bookstore_testing::TestDb;

use crate::{BACKENDS, count};

/// The pins table as the test's own migration (not the embedded one, so that this test
/// does not depend on the real migration list). `varchar(255)`: MySQL makes no key of
/// unbounded text.
const PINS: Migration = Migration::new(
    "20990101000000",
    "pins",
    "CREATE TABLE bookstore_function_pins (function_name varchar(255) NOT NULL, crate_version varchar(255) NOT NULL,
         first_seen timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
         last_seen timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
         PRIMARY KEY (function_name, crate_version));",
);
const LEGACY: Migration = Migration::new(
    "20990101000001",
    "legacy",
    "CREATE TABLE compat_legacy (id int);",
)
.with_down("DROP TABLE compat_legacy;");
const ADD: Migration = Migration::new(
    "20990101000002",
    "add",
    "CREATE TABLE compat_added (id int);",
)
.with_down("DROP TABLE compat_added;");
/// Removes what versions before 2.1.0 read.
const DROP_LEGACY: Migration =
    Migration::new("20990101000003", "drop_legacy", "DROP TABLE compat_legacy;")
        .with_down("CREATE TABLE compat_legacy (id int);")
        .contract("2.1.0");

fn migrate(
    conn: &mut DbConnection,
    set: &[Migration],
    options: RunOptions,
) -> Result<(), MigrationError> {
    Runner::with_migrations(set, options)
        .migrate(conn)
        .map(|_| ())
}

fn exists(conn: &mut DbConnection, table: &str) -> bool {
    let sql = match conn.backend() {
        Backend::Sqlite => format!(
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
        ),
        Backend::Mysql => format!(
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}'"
        ),
        _ => format!(
            "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = '{table}'"
        ),
    };
    count(conn, &sql) == 1
}

#[test]
fn a_database_ahead_by_expand_is_served_and_past_a_contract_floor_is_incompatible() {
    for backend in BACKENDS {
        let db = TestDb::empty_on(backend, "compat_check");
        let mut conn = db.connect();
        let old = [PINS, LEGACY];
        migrate(&mut conn, &[PINS, LEGACY, ADD], RunOptions::default()).unwrap();
        assert!(
            matches!(check_schema_against(&mut conn, &old, "2.0.0").unwrap(), SchemaCheck::Current { database_version } if database_version == ADD.version),
            "{backend:?}: ahead by an expand migration is current"
        );
        migrate(
            &mut conn,
            &[PINS, LEGACY, ADD, DROP_LEGACY],
            RunOptions::default(),
        )
        .unwrap();
        match check_schema_against(&mut conn, &old, "2.0.0").unwrap() {
            SchemaCheck::Incompatible {
                database_version,
                contract_version,
                floor,
                crate_version,
            } => {
                assert_eq!(database_version, DROP_LEGACY.version);
                assert_eq!(contract_version, DROP_LEGACY.version);
                assert_eq!((floor.as_str(), crate_version.as_str()), ("2.1.0", "2.0.0"));
            }
            other => panic!("{backend:?}: {other:?}"),
        }
        assert!(matches!(
            check_schema_against(&mut conn, &old, "2.1.0").unwrap(),
            SchemaCheck::Current { .. }
        ));
        assert!(matches!(
            check_schema_against(&mut conn, &[PINS, LEGACY, ADD, DROP_LEGACY, ADD_LATER], "2.1.0").unwrap(),
            SchemaCheck::Behind { missing, .. } if missing == [ADD_LATER.version]
        ));
    }
}

const ADD_LATER: Migration = Migration::new("20990101000009", "later", "SELECT 1;");

#[test]
fn a_contract_waits_for_live_functions_below_its_floor_unless_overridden_or_aged_out() {
    for backend in BACKENDS {
        let db = TestDb::empty_on(backend, "compat_blocked");
        let mut conn = db.connect();
        migrate(&mut conn, &[PINS, LEGACY], RunOptions::default()).unwrap();
        record_pin(&mut conn, "books", "2.0.0").unwrap();
        record_pin(&mut conn, "books", "2.0.0").unwrap();
        record_pin(&mut conn, "reviews", "2.1.0").unwrap();
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM bookstore_function_pins"
            ),
            2,
            "{backend:?}: one row per function and version"
        );

        let set = [PINS, LEGACY, DROP_LEGACY];
        let runner = Runner::with_migrations(&set, RunOptions::default());
        let plan = runner.plan(&mut conn).unwrap();
        assert_eq!(plan.blocked.len(), 1, "{backend:?}");
        assert_eq!(plan.blocked[0].floor, "2.1.0");
        let below: Vec<_> = plan.blocked[0]
            .pinned_below
            .iter()
            .map(|p| (p.function_name.as_str(), p.crate_version.as_str()))
            .collect();
        assert_eq!(below, [("books", "2.0.0")]);
        assert_eq!(runner.status(&mut conn).unwrap().blocked, plan.blocked);

        let err = runner.migrate(&mut conn).unwrap_err();
        assert_eq!(err.kind(), "ContractBlocked", "{backend:?}: {err}");
        assert!(
            err.to_string().contains("books at 2.0.0") && err.to_string().contains("floor 2.1.0"),
            "{err}"
        );
        assert!(
            exists(&mut conn, "compat_legacy"),
            "{backend:?}: nothing was dropped"
        );

        // Aged out of the window: the contract goes ahead.
        let short = RunOptions::default().with_pin_window(Duration::from_secs(3600));
        conn.batch_execute("UPDATE bookstore_function_pins SET last_seen = '2000-01-01 00:00:00' WHERE function_name = 'books'").unwrap();
        assert!(
            Runner::with_migrations(&set, short.clone())
                .plan(&mut conn)
                .unwrap()
                .blocked
                .is_empty()
        );
        migrate(&mut conn, &set, short).unwrap();
        assert!(!exists(&mut conn, "compat_legacy"), "{backend:?}");
    }
}

#[test]
fn an_operator_may_override_the_window_explicitly() {
    for backend in BACKENDS {
        let db = TestDb::empty_on(backend, "compat_override");
        let mut conn = db.connect();
        migrate(&mut conn, &[PINS, LEGACY], RunOptions::default()).unwrap();
        record_pin(&mut conn, "books", "1.1.0").unwrap();
        let set = [PINS, LEGACY, DROP_LEGACY];
        assert!(migrate(&mut conn, &set, RunOptions::default()).is_err());
        let forced = RunOptions::default().with_ignore_live_pins(true);
        assert!(
            Runner::with_migrations(&set, forced.clone())
                .plan(&mut conn)
                .unwrap()
                .blocked
                .is_empty()
        );
        migrate(&mut conn, &set, forced).unwrap();
        assert!(!exists(&mut conn, "compat_legacy"), "{backend:?}");
    }
}

#[test]
fn revert_refuses_to_take_away_a_migration_a_live_function_needs() {
    for backend in BACKENDS {
        let db = TestDb::empty_on(backend, "compat_revert");
        let mut conn = db.connect();
        let set = [PINS, LEGACY, ADD];
        migrate(&mut conn, &set, RunOptions::default()).unwrap();
        // A function at this crate's version embeds what this crate's runner applied.
        record_pin(&mut conn, "books", bookstore_schema::VERSION).unwrap();
        let err = Runner::with_migrations(&set, RunOptions::default())
            .revert(&mut conn, 1)
            .unwrap_err();
        assert_eq!(err.kind(), "RevertBlocked", "{backend:?}: {err}");
        assert!(
            err.to_string()
                .contains(&format!("books at {}", bookstore_schema::VERSION)),
            "{err}"
        );
        assert!(exists(&mut conn, "compat_added"));
        // An older function does not need what a newer runner applied.
        conn.batch_execute("DELETE FROM bookstore_function_pins")
            .unwrap();
        record_pin(&mut conn, "books", "0.9.0").unwrap();
        Runner::with_migrations(&set, RunOptions::default())
            .revert(&mut conn, 1)
            .unwrap();
        assert!(!exists(&mut conn, "compat_added"), "{backend:?}");
    }
}

#[test]
fn a_record_a_1x_runner_kept_is_read_and_upgraded_in_place() {
    for backend in BACKENDS {
        let db = TestDb::empty_on(backend, "compat_legacy_record");
        let mut conn = db.connect();
        let ts = match backend {
            Backend::Sqlite => "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP",
            Backend::Mysql => "datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)",
            _ => "timestamptz NOT NULL DEFAULT now()",
        };
        conn.batch_execute(&format!(
            "CREATE TABLE bookstore_schema_migrations (version varchar(50) PRIMARY KEY NOT NULL, name text NOT NULL,
                 checksum char(64) NOT NULL, applied_at {ts}, duration_ms bigint NOT NULL);
             CREATE TABLE compat_legacy (id int);
             INSERT INTO bookstore_schema_migrations (version, name, checksum, duration_ms)
                 VALUES ('{}', 'legacy', '{}', 1);",
            LEGACY.version,
            LEGACY.checksum()
        ))
        .unwrap();
        let rows = Runner::with_migrations(&[LEGACY], RunOptions::default())
            .status(&mut conn)
            .unwrap()
            .applied;
        assert_eq!(
            (rows.len(), rows[0].phase.as_deref()),
            (1, None),
            "{backend:?}"
        );
        let legacy_contract = LEGACY.contract("1.0.0");
        migrate(&mut conn, &[legacy_contract, ADD], RunOptions::default()).unwrap();
        let rows = Runner::with_migrations(&[LEGACY], RunOptions::default())
            .status(&mut conn)
            .unwrap()
            .applied;
        let phases: Vec<_> = rows
            .iter()
            .map(|r| (r.phase.as_deref(), r.floor.as_deref()))
            .collect();
        assert_eq!(
            phases,
            [(Some("contract"), Some("1.0.0")), (Some("expand"), None)],
            "{backend:?}: backfilled"
        );
        assert_eq!(
            rows[1].crate_version.as_deref(),
            Some(bookstore_schema::VERSION)
        );
    }
}
