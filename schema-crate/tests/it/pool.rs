use std::time::Duration;

use bookstore_schema::{DbManager, DbTarget, PoolConfig, build_pool, testing::TestDb};

fn config() -> PoolConfig {
    PoolConfig {
        checkout_timeout: Duration::from_millis(1_500),
        ..PoolConfig::default()
    }
}

#[test]
fn a_pool_opens_nothing_until_asked_and_recovers_after_its_connection_is_terminated() {
    let db = TestDb::migrated("pool_recovery");
    let pool = build_pool(
        DbManager::new(db.target(), None, config().session),
        &config(),
    );
    assert_eq!(
        pool.state().connections,
        0,
        "no connection is opened at build"
    );
    let pid: i32 = {
        let mut conn = pool.get().unwrap();
        let bookstore_schema::DbConnection::Postgres(c) = &mut *conn else {
            unreachable!()
        };
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
            "pg_backend_pid()",
        ))
        .get_result(c)
        .unwrap()
    };
    db.connect()
        .batch_execute(&format!("SELECT pg_terminate_backend({pid})"))
        .unwrap();
    // The checkout test notices the dead socket and opens a new connection.
    let mut conn = pool
        .get()
        .expect("the pool replaces a terminated connection");
    conn.ping().unwrap();
}

use diesel::RunQueryDsl;

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
