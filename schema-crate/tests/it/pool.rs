use std::time::Duration;

use bookstore_schema::{DbTarget, PoolConfig, build_pool, pool::DbManager};
use bookstore_testing::TestDb;

fn config() -> PoolConfig {
    PoolConfig::default().with_checkout_timeout(Duration::from_millis(1_500))
}

fn backend_pid(pool: &bookstore_schema::DbPool) -> i32 {
    let mut conn = pool.get().unwrap();
    let pid = bookstore_testing::scalar(&mut conn, "SELECT pg_backend_pid()::bigint AS n");
    i32::try_from(pid).unwrap()
}

fn terminate(db: &TestDb, pid: i32) {
    db.connect()
        .batch_execute(&format!("SELECT pg_terminate_backend({pid})"))
        .unwrap();
}

#[test]
fn a_pool_opens_nothing_until_asked_and_pings_an_idle_connection_before_handing_it_out() {
    let db = TestDb::migrated("pool_recovery");
    let config = config().with_validate_after_idle(Duration::ZERO);
    let pool = build_pool(db.target(), None, &config).unwrap();
    assert_eq!(
        pool.state().connections,
        0,
        "no connection is opened at build"
    );
    let pid = backend_pid(&pool);
    terminate(&db, pid);
    // Idle longer than the window (zero): the checkout's ping finds the dead socket,
    // and the pool opens a new connection instead.
    let mut conn = pool
        .get()
        .expect("the pool replaces a terminated connection");
    conn.ping().unwrap();
    drop(conn);
    assert_ne!(backend_pid(&pool), pid);
}

#[test]
fn a_connection_that_died_within_the_idle_window_fails_once_and_is_replaced() {
    let db = TestDb::migrated("pool_window");
    let config = config().with_validate_after_idle(Duration::from_secs(60));
    let pool = build_pool(db.target(), None, &config).unwrap();
    let pid = backend_pid(&pool);
    terminate(&db, pid);
    {
        // Used a moment ago, so no ping: the dead connection is handed out, its
        // statement fails as a closed connection, and that marks it broken.
        let mut conn = pool.get().unwrap();
        let error = conn.ping().unwrap_err();
        assert!(
            matches!(
                error,
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ClosedConnection
                        | diesel::result::DatabaseErrorKind::UnableToSendCommand,
                    _
                )
            ),
            "{error:?}"
        );
        assert!(bookstore_schema::uow::is_broken(&mut conn));
    }
    // Returned broken, it was discarded: the next checkout opens a new one.
    let mut conn = pool.get().unwrap();
    conn.ping().unwrap();
    drop(conn);
    assert_ne!(backend_pid(&pool), pid);
    assert_eq!(pool.state().connections, 1);
}

#[test]
fn connection_errors_and_debug_output_never_show_the_password() {
    let secret = "Sup3r-Secret-Pa55";
    for target in [
        DbTarget::from_url(&format!("postgres://app:{secret}@127.0.0.1:1/bookstore")).unwrap(),
        DbTarget::from_lookup(|k| match k {
            "DB_HOST" => Some("127.0.0.1".into()),
            "DB_PORT" => Some("1".into()),
            "DB_PASSWORD" => Some(secret.into()),
            _ => None,
        })
        .unwrap(),
    ] {
        let manager = DbManager::new(target.clone(), None, config().session).unwrap();
        let err = manager.connect().unwrap_err();
        let pool = build_pool(
            target,
            None,
            &config().with_checkout_timeout(Duration::from_millis(300)),
        )
        .unwrap();
        let pool_err = pool.get().unwrap_err();
        let shown = format!("{err} {err:?} {pool_err} {pool_err:?} {pool:?}");
        assert!(!shown.contains(secret), "password leaked: {shown}");
        assert!(
            shown.contains("127.0.0.1"),
            "the error still says where: {shown}"
        );
    }
}

#[test]
fn a_password_source_with_a_url_target_is_refused_not_dropped() {
    #[derive(Debug)]
    struct Token;
    impl bookstore_schema::pool::PasswordSource for Token {
        fn password(&self) -> Result<Option<bookstore_schema::Secret>, String> {
            Ok(Some(bookstore_schema::Secret::new("token")))
        }
    }
    let db = TestDb::migrated("pool_url_with_password_source");
    let source: Option<std::sync::Arc<dyn bookstore_schema::pool::PasswordSource>> =
        Some(std::sync::Arc::new(Token));
    let err = build_pool(db.target(), source.clone(), &config()).unwrap_err();
    assert!(
        err.to_string().starts_with("DATABASE_URL is invalid")
            && err.to_string().contains("DB_HOST"),
        "{err}"
    );
    let err = DbManager::new(db.target(), source.clone(), config().session).unwrap_err();
    assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    // SQLite takes no password either: refused, not dropped.
    let sqlite = DbTarget::from_url("sqlite://:memory:").unwrap();
    assert!(DbManager::new(sqlite.clone(), source, config().session).is_err());
    assert!(
        bookstore_schema::DbConnection::establish(
            &sqlite,
            Some(&bookstore_schema::Secret::new("token")),
            bookstore_schema::SessionSettings::default(),
        )
        .is_err()
    );
    // And below the pool: a password handed to a URL target is refused, not dropped.
    let err = bookstore_schema::DbConnection::establish(
        &db.target(),
        Some(&bookstore_schema::Secret::new("token")),
        bookstore_schema::SessionSettings::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("DATABASE_URL"), "{err}");
}

/// A typed query: diesel caches it as a named prepared statement when the cache is on.
fn load_one(conn: &mut bookstore_schema::DbConnection) -> diesel::QueryResult<i32> {
    use diesel::{IntoSql as _, RunQueryDsl as _, sql_types::Integer};
    match conn.backend_connection() {
        bookstore_schema::BackendConnection::Postgres(c) => {
            diesel::select(1.into_sql::<Integer>()).get_result(c)
        }
        _ => unreachable!("PostgreSQL"),
    }
}

#[test]
fn a_connection_killed_under_a_cached_statement_is_discarded_on_its_first_failure() {
    let db = TestDb::migrated("pool_killed_prepared");
    for prepared in [true, false] {
        let config = config()
            .with_validate_after_idle(Duration::from_secs(60))
            .with_session(
                bookstore_schema::SessionSettings::default().with_prepared_statements(prepared),
            );
        let pool = build_pool(db.target(), None, &config).unwrap();
        for warm in [false, true] {
            if warm {
                // The statement cached (executed, not prepared, after the kill).
                assert_eq!(load_one(&mut pool.get().unwrap()).unwrap(), 1);
            }
            let pid = backend_pid(&pool);
            terminate(&db, pid);
            // The dead connection is handed out (used a moment ago, so no ping) and its
            // statement fails; returned, it must be discarded, whatever failed first
            // (the statement's first use, which prepares it, or a cached one).
            let first = load_one(&mut pool.get().unwrap());
            assert!(
                first.is_err(),
                "prepared={prepared}, warm={warm}: {first:?}"
            );
            check_replaced(&pool, pid, &format!("prepared={prepared}, warm={warm}"));
        }
    }
}

fn check_replaced(pool: &bookstore_schema::DbPool, pid: i32, case: &str) {
    for attempt in 0..20 {
        let result = load_one(&mut pool.get().unwrap());
        assert_eq!(
            result.as_ref().ok(),
            Some(&1),
            "{case}: attempt {attempt} after the first failure: {result:?}"
        );
    }
    assert_ne!(backend_pid(pool), pid, "{case}");
}
