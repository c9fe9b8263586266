//! Runner-owned timeouts: a step waits for a lock at most its lock timeout, gives way to
//! the readers queued behind it, and is retried until the run's budget or deadline.
//! Synthetic migration sets only.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use bookstore_schema::{
    DbConnection,
    migrate::{Migration, MigrationError, RunOptions, Runner},
};
use bookstore_testing::TestDb;

const TABLE: Migration = Migration::new(
    "1",
    "create_t",
    "CREATE TABLE t (id serial PRIMARY KEY, x int); INSERT INTO t (x) SELECT g FROM generate_series(1, 100) g;",
);
const ADD_COLUMN: Migration = Migration::new("2", "add_y", "ALTER TABLE t ADD COLUMN y int;");

fn options() -> RunOptions {
    RunOptions::default()
        .with_step_lock_timeout(Duration::from_millis(300))
        .with_max_lock_wait(Duration::from_secs(30))
}

/// A database with table `t` (migration 1 applied).
fn with_table(test: &str) -> (TestDb, DbConnection) {
    let db = TestDb::empty(test);
    let mut conn = db.connect();
    Runner::with_migrations(&[TABLE], options())
        .migrate(&mut conn)
        .unwrap();
    (db, conn)
}

/// Another session reads `t` in a transaction it keeps open for `hold` (forever when
/// `None`, until the returned flag is set): its ACCESS SHARE lock blocks any ALTER TABLE.
fn hold_read_lock(
    db: &TestDb,
    hold: Option<Duration>,
) -> (Arc<AtomicBool>, thread::JoinHandle<()>) {
    let mut holder = db.connect();
    holder
        .batch_execute("BEGIN; SELECT count(*) FROM t;")
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = thread::spawn(move || {
        let started = Instant::now();
        while !flag.load(Ordering::Relaxed) && hold.is_none_or(|h| started.elapsed() < h) {
            thread::sleep(Duration::from_millis(20));
        }
        holder.batch_execute("COMMIT").unwrap();
    });
    (stop, handle)
}

#[test]
fn a_step_blocked_for_a_few_seconds_is_retried_and_succeeds_with_its_retries_reported() {
    let (db, mut conn) = with_table("timeouts_retry");
    let (_, holder) = hold_read_lock(&db, Some(Duration::from_secs(3)));
    let report = Runner::with_migrations(&[TABLE, ADD_COLUMN], options())
        .migrate(&mut conn)
        .unwrap();
    holder.join().unwrap();
    let step = &report.steps[0];
    assert_eq!(step.version, "2");
    assert!(step.retries >= 2, "{step:?}");
    assert!(
        step.lock_wait_ms >= 2_000 && step.lock_wait_ms <= step.duration_ms,
        "{step:?}"
    );
    // The session's timeouts were put back after the run.
    assert_eq!(show(&mut conn, "lock_timeout"), "0");
    assert_eq!(show(&mut conn, "statement_timeout"), "0");
}

fn show(conn: &mut DbConnection, setting: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let bookstore_schema::BackendConnection::Postgres(pg) = conn.backend_connection() else {
        panic!("PostgreSQL")
    };
    diesel::RunQueryDsl::get_result::<Setting>(
        diesel::sql_query(format!("SELECT current_setting('{setting}') AS value")),
        pg,
    )
    .unwrap()
    .value
}

#[test]
fn readers_queued_behind_a_waiting_migration_are_never_blocked_longer_than_its_lock_timeout() {
    let (db, mut conn) = with_table("timeouts_readers");
    let (_, holder) = hold_read_lock(&db, Some(Duration::from_secs(4)));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = Arc::clone(&done);
        let mut reader = db.connect();
        thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                let started = Instant::now();
                reader.batch_execute("SELECT count(*) FROM t").unwrap();
                worst = worst.max(started.elapsed());
                reads += 1;
                thread::sleep(Duration::from_millis(10));
            }
            (worst, reads)
        })
    };
    thread::sleep(Duration::from_millis(100));
    let report = Runner::with_migrations(&[TABLE, ADD_COLUMN], options())
        .migrate(&mut conn)
        .unwrap();
    done.store(true, Ordering::Relaxed);
    holder.join().unwrap();
    let (worst, reads) = reader.join().unwrap();
    eprintln!(
        "worst read behind the waiting migration: {worst:?} of {reads} reads; {:?}",
        report.steps[0]
    );
    assert!(report.steps[0].retries >= 1, "{:?}", report.steps);
    // The lock timeout is 300 ms; what is over it is scheduling on a busy machine.
    assert!(
        worst < Duration::from_millis(800),
        "a reader waited {worst:?} behind the migration ({reads} reads)"
    );
}

#[test]
fn a_lock_never_released_ends_in_a_typed_lock_not_available_within_the_budget() {
    let (db, mut conn) = with_table("timeouts_budget");
    let (stop, holder) = hold_read_lock(&db, None);
    let started = Instant::now();
    let err = Runner::with_migrations(
        &[TABLE, ADD_COLUMN],
        options().with_max_lock_wait(Duration::from_secs(3)),
    )
    .migrate(&mut conn)
    .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), "LockNotAvailable", "{err}");
    let MigrationError::LockNotAvailable {
        version, retries, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(version, "2");
    assert!(*retries >= 2, "{err}");
    assert!(took < Duration::from_secs(4), "gave up after {took:?}");

    // A deadline (the Lambda's, minus its margin) ends the run even with a large budget.
    let started = Instant::now();
    let err = Runner::with_migrations(
        &[TABLE, ADD_COLUMN],
        options().with_deadline(Instant::now() + Duration::from_secs(2)),
    )
    .migrate(&mut conn)
    .unwrap_err();
    assert_eq!(err.kind(), "LockNotAvailable", "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "{:?}",
        started.elapsed()
    );
    stop.store(true, Ordering::Relaxed);
    holder.join().unwrap();
    let status = Runner::with_migrations(&[TABLE, ADD_COLUMN], options())
        .status(&mut conn)
        .unwrap();
    assert_eq!(status.pending.len(), 1, "nothing of the step was recorded");
}

#[test]
fn a_migrations_own_lock_timeout_applies_to_it_alone() {
    let (db, mut conn) = with_table("timeouts_per_migration");
    let patient = Migration::new("2", "add_y_patiently", "ALTER TABLE t ADD COLUMN y int;")
        .with_lock_timeout(Duration::from_secs(20));
    let (_, holder) = hold_read_lock(&db, Some(Duration::from_secs(2)));
    let report = Runner::with_migrations(&[TABLE, patient], options())
        .migrate(&mut conn)
        .unwrap();
    holder.join().unwrap();
    assert_eq!(report.steps[0].retries, 0, "{:?}", report.steps);
    assert!(report.steps[0].duration_ms >= 1_500, "{:?}", report.steps);

    // The next migration is back on the run's 300 ms.
    let next = Migration::new("3", "add_z", "ALTER TABLE t ADD COLUMN z int;");
    let (_, holder) = hold_read_lock(&db, Some(Duration::from_secs(2)));
    let report = Runner::with_migrations(&[TABLE, patient, next], options())
        .migrate(&mut conn)
        .unwrap();
    holder.join().unwrap();
    assert!(report.steps[0].retries >= 1, "{:?}", report.steps);
}

#[test]
fn a_migrations_statement_timeout_stops_a_statement_that_runs_too_long() {
    let (_db, mut conn) = with_table("timeouts_statement");
    let slow = Migration::new("2", "slow", "SELECT pg_sleep(5);")
        .with_statement_timeout(Duration::from_millis(500));
    let started = Instant::now();
    let err = Runner::with_migrations(&[TABLE, slow], options())
        .migrate(&mut conn)
        .unwrap_err();
    assert_eq!(err.kind(), "MigrationFailed", "{err}");
    assert!(err.to_string().contains("statement timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn the_runner_names_its_session_in_pg_stat_activity() {
    let db = TestDb::empty("timeouts_application_name");
    let mut conn = db.connect();
    let seen = Migration::new(
        "1",
        "who_am_i",
        "CREATE TABLE seen AS SELECT application_name, current_setting('lock_timeout') AS lock_timeout \
         FROM pg_stat_activity WHERE pid = pg_backend_pid();",
    );
    Runner::with_migrations(&[seen], options())
        .migrate(&mut conn)
        .unwrap();
    #[derive(diesel::QueryableByName)]
    struct Seen {
        #[diesel(sql_type = diesel::sql_types::Text)]
        application_name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        lock_timeout: String,
    }
    let bookstore_schema::BackendConnection::Postgres(pg) = conn.backend_connection() else {
        panic!("PostgreSQL")
    };
    let seen: Seen = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT application_name, lock_timeout FROM seen"),
        pg,
    )
    .unwrap();
    assert_eq!(
        seen.application_name,
        format!("bookstore-schema-runner/{}", bookstore_schema::VERSION)
    );
    assert_eq!(
        seen.application_name,
        bookstore_schema::migrate::RUNNER_APPLICATION_NAME
    );
    assert_eq!(seen.lock_timeout, "300ms");
}

#[test]
fn on_sqlite_declared_timeouts_change_nothing_and_the_set_migrates() {
    let db = TestDb::sqlite_empty("timeouts_sqlite");
    let mut conn = db.connect();
    let set = [
        Migration::new(
            "1",
            "create_t",
            "CREATE TABLE t (id integer PRIMARY KEY, x int);",
        )
        .with_lock_timeout(Duration::from_secs(1)),
        ADD_COLUMN.with_statement_timeout(Duration::from_secs(1)),
    ];
    let report = Runner::with_migrations(&set, options())
        .migrate(&mut conn)
        .unwrap();
    assert_eq!(report.steps.len(), 2);
    assert!(
        report
            .steps
            .iter()
            .all(|s| s.retries == 0 && s.lock_wait_ms == 0)
    );
}
