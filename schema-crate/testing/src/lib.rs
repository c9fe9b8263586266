#![doc = include_str!("../README.md")]
//!
//! [`TestDb::migrated`] clones a template database migrated once per embedded
//! migration set; [`TestDb::empty`] is for runner tests. Each database is named after
//! its test and dropped when the value is dropped. `TEST_DATABASE_URL` points at the
//! server's maintenance database (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! [`moto::Moto`] runs a local Secrets Manager for the credential tests.

pub mod moto;

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

use diesel::{Connection, PgConnection, RunQueryDsl, connection::SimpleConnection};
use sha2::{Digest, Sha256};

use bookstore_schema::{
    Backend, BackendConnection, DbConnection, DbTarget, SessionSettings,
    migrate::{self, RunOptions, Runner},
};

/// The maintenance database tests connect to when `TEST_DATABASE_URL` is unset.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The maintenance URL tests use.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned())
}

fn admin() -> PgConnection {
    let url = admin_url();
    PgConnection::establish(&url).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {} ({e}). Start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, \
             or point TEST_DATABASE_URL at a server where this user may create databases.",
            DbTarget::from_url(&url)
                .map_or_else(|_| "TEST_DATABASE_URL".to_owned(), |t| t.to_string())
        )
    })
}

fn url_for(db: &str) -> String {
    let admin = admin_url();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    format!("{base}/{db}")
}

fn sanitise(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    cleaned
        .chars()
        .rev()
        .take(40)
        .collect::<String>()
        .chars()
        .rev()
        .collect()
}

/// `<prefix>_<test>_<pid>_<n>`: named after the test, unique across test processes.
fn unique_name(prefix: &str, test: &str) -> String {
    format!(
        "{prefix}_{}_{}_{}",
        sanitise(test),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database that exists for one test.
#[derive(Debug)]
pub enum TestDb {
    /// A PostgreSQL database, dropped on drop.
    Postgres {
        /// Its name.
        name: String,
    },
    /// A SQLite file, deleted on drop.
    Sqlite {
        /// Its path.
        path: PathBuf,
    },
}

impl TestDb {
    /// An empty PostgreSQL database named after `test`.
    pub fn empty(test: &str) -> Self {
        let name = unique_name("t", test);
        admin()
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        Self::Postgres { name }
    }

    /// A PostgreSQL database at the embedded head, cloned from a template that is
    /// migrated once per migration set (and given the app role).
    pub fn migrated(test: &str) -> Self {
        let template = ensure_template();
        let name = unique_name("t", test);
        admin()
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
            ))
            .unwrap_or_else(|e| panic!("cannot clone {template} into {name}: {e}"));
        Self::Postgres { name }
    }

    /// A migrated SQLite database in a temporary file.
    pub fn sqlite_migrated(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name("bookstore", test)));
        let db = Self::Sqlite { path };
        let mut conn = db.connect();
        Runner::new(RunOptions::default())
            .migrate(&mut conn)
            .expect("migrate the SQLite test database");
        db
    }

    /// An empty SQLite database file (for runner tests).
    pub fn sqlite_empty(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.db", unique_name("bookstore", test)));
        Self::Sqlite { path }
    }

    /// [`TestDb::empty`] or [`TestDb::sqlite_empty`], as `backend` says.
    pub fn empty_on(backend: Backend, test: &str) -> Self {
        match backend {
            Backend::Postgres => Self::empty(test),
            Backend::Sqlite => Self::sqlite_empty(test),
            other => panic!("bookstore-testing has no test databases for {other:?}"),
        }
    }

    /// [`TestDb::migrated`] or [`TestDb::sqlite_migrated`], as `backend` says.
    pub fn migrated_on(backend: Backend, test: &str) -> Self {
        match backend {
            Backend::Postgres => Self::migrated(test),
            Backend::Sqlite => Self::sqlite_migrated(test),
            other => panic!("bookstore-testing has no test databases for {other:?}"),
        }
    }

    /// Where this database is, as a `DATABASE_URL`.
    pub fn url(&self) -> String {
        match self {
            Self::Postgres { name } => url_for(name),
            Self::Sqlite { path } => format!("sqlite://{}", path.display()),
        }
    }

    /// The target for pools and managers.
    pub fn target(&self) -> DbTarget {
        DbTarget::from_url(&self.url()).expect("test URLs are valid")
    }

    /// A fresh connection with default session settings.
    pub fn connect(&self) -> DbConnection {
        DbConnection::establish(&self.target(), None, SessionSettings::default())
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.url()))
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres { .. } => Backend::Postgres,
            Self::Sqlite { .. } => Backend::Sqlite,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            Self::Postgres { name } => {
                let _ = admin()
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
            Self::Sqlite { path } => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
        }
    }
}

/// Creates (once, under an advisory lock) the template for the embedded migrations.
fn ensure_template() -> String {
    let mut hash = Sha256::new();
    for m in migrate::embedded(Backend::Postgres) {
        hash.update(m.checksum());
    }
    let digest: String = hash
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let template = format!("bookstore_template_{digest}");
    let mut admin = admin();
    admin
        .batch_execute("SELECT pg_advisory_lock(7262)")
        .expect("template lock");
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let found = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM pg_database WHERE datname = '{template}'"
    ))
    .get_result::<Found>(&mut admin)
    .expect("look up the template");
    if found.n == 0 {
        let building = format!("{template}_building");
        // One statement each: PostgreSQL refuses (DROP|CREATE) DATABASE in a multi-statement string.
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
            ))
            .expect("drop a half-built template");
        admin
            .batch_execute(&format!("CREATE DATABASE \"{building}\""))
            .expect("create the template database");
        {
            let mut conn = DbConnection::establish(
                &DbTarget::from_url(&url_for(&building)).expect("valid url"),
                None,
                SessionSettings::default(),
            )
            .expect("connect to the template");
            Runner::new(RunOptions::default())
                .migrate(&mut conn)
                .expect("migrate the template");
            migrate::ensure_app_role(&mut conn, migrate::DEFAULT_APP_ROLE)
                .expect("app role on the template");
        }
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
            ))
            .expect("publish the template");
    }
    admin
        .batch_execute("SELECT pg_advisory_unlock(7262)")
        .expect("template unlock");
    template
}

#[derive(diesel::QueryableByName)]
struct Scalar {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Runs `sql`, a query whose first row has a `BIGINT` column `n` (`SELECT count(*) AS n …`),
/// on `conn`, whatever its backend, and returns `n`. Panics with the SQL on failure.
pub fn scalar(conn: &mut DbConnection, sql: &str) -> i64 {
    let result = match conn.backend_connection() {
        BackendConnection::Postgres(c) => diesel::sql_query(sql).get_result::<Scalar>(c),
        BackendConnection::Sqlite(c) => diesel::sql_query(sql).get_result::<Scalar>(c),
        _ => panic!(
            "bookstore-testing {} does not know this backend",
            env!("CARGO_PKG_VERSION")
        ),
    };
    result.unwrap_or_else(|e| panic!("{sql}: {e}")).n
}
