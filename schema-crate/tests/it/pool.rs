use diesel::RunQueryDsl;
use std::time::Duration;

use bookstore_schema::{DbManager, DbTarget, PoolConfig, build_pool};
use bookstore_testing::TestDb;

fn config() -> PoolConfig {
    PoolConfig {
        checkout_timeout: Duration::from_millis(1_500),
        ..PoolConfig::default()
    }
}

fn backend_pid(pool: &bookstore_schema::DbPool) -> i32 {
    let mut conn = pool.get().unwrap();
    let bookstore_schema::DbConnection::Postgres(c) = &mut *conn else {
        unreachable!()
    };
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
        "pg_backend_pid()",
    ))
    .get_result(c)
    .unwrap()
}

fn terminate(db: &TestDb, pid: i32) {
    db.connect()
        .batch_execute(&format!("SELECT pg_terminate_backend({pid})"))
        .unwrap();
}

#[test]
fn a_pool_opens_nothing_until_asked_and_pings_an_idle_connection_before_handing_it_out() {
    let db = TestDb::migrated("pool_recovery");
    let config = PoolConfig {
        validate_after_idle: Duration::ZERO,
        ..config()
    };
    let pool = build_pool(DbManager::new(db.target(), None, config.session), &config);
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
    let config = PoolConfig {
        validate_after_idle: Duration::from_secs(60),
        ..config()
    };
    let pool = build_pool(DbManager::new(db.target(), None, config.session), &config);
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
        let manager = DbManager::new(target, None, config().session);
        let err = manager.connect().unwrap_err();
        let pool = build_pool(
            manager,
            &PoolConfig {
                checkout_timeout: Duration::from_millis(300),
                ..config()
            },
        );
        let pool_err = pool.get().unwrap_err();
        let shown = format!("{err} {err:?} {pool_err} {pool_err:?} {pool:?}");
        assert!(!shown.contains(secret), "password leaked: {shown}");
        assert!(
            shown.contains("127.0.0.1"),
            "the error still says where: {shown}"
        );
    }
}
