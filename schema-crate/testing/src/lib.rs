#![doc = include_str!("../README.md")]
//!
//! [`TestDb::migrated`] clones a template database migrated once per embedded
//! migration set; [`TestDb::empty`] is for runner tests. Each database is named after
//! its test and dropped when the value is dropped. `TEST_DATABASE_URL` points at the
//! server's maintenance database (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! [`moto::Moto`] runs a local Secrets Manager for the credential tests; [`lookup`] is
//! the environment seam for `from_lookup` constructors; with the `lambda` feature,
//! [`lambda`] runs a built Lambda `bootstrap` against a local Runtime API.

// Over 400 lines: `TestDb` (both backends, the template, the connection helpers) is one
// concept every test uses; the cluster, moto and Lambda fixtures are modules of their own.

pub mod cluster;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod moto;
pub mod pinning;

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

use diesel::{Connection, PgConnection, RunQueryDsl, connection::SimpleConnection};
use sha2::{Digest, Sha256};

use bookstore_schema::{
    Backend, BackendConnection, DbConnection, DbTarget, SessionSettings,
    env::Env,
    migrate::{self, RunOptions, Runner},
};

/// Names a database to clone test databases from instead of the migrated template.
pub const TEMPLATE_VARIABLE: &str = "TEST_TEMPLATE_DATABASE";

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

/// The parts of a `postgres://user[:password]@host[:port]/dbname[?…]` URL.
struct UrlParts<'a> {
    user: &'a str,
    password: Option<&'a str>,
    host: &'a str,
    port: &'a str,
    dbname: &'a str,
}

fn url_parts(url: &str) -> UrlParts<'_> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (userinfo, rest) = rest.rsplit_once('@').unwrap_or(("postgres", rest));
    let (user, password) = userinfo
        .split_once(':')
        .map_or((userinfo, None), |(u, p)| (u, Some(p)));
    let (hostport, dbname) = rest.split_once('/').unwrap_or((rest, "postgres"));
    let dbname = dbname.split('?').next().unwrap_or(dbname);
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    UrlParts {
        user,
        password,
        host,
        port,
        dbname,
    }
}

/// A lookup for the APIs that take one (`DbTarget::from_lookup`,
/// `bookstore_credentials::target_from_lookup`, …): exactly these variables, the last
/// pair with a name winning, as [`Env::from_pairs`] reads them.
///
/// ```
/// let get = bookstore_testing::lookup(&[("DB_HOST", "h"), ("DB_PORT", "1"), ("DB_PORT", "2")]);
/// assert_eq!((get("DB_PORT").as_deref(), get("DB_USER")), (Some("2"), None));
/// ```
pub fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let env = Env::from_pairs(pairs.iter().copied());
    move |name| env.string(name)
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

/// The MySQL / MariaDB server tests create databases on when `TEST_MYSQL_URL` is unset
/// (the `mysql` feature).
pub const DEFAULT_TEST_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// The MySQL server URL tests use (`TEST_MYSQL_URL`), its database part ignored.
#[cfg(feature = "mysql")]
pub fn mysql_admin_url() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_TEST_MYSQL_URL.to_owned())
}

#[cfg(feature = "mysql")]
fn mysql_admin() -> diesel::MysqlConnection {
    let url = mysql_admin_url();
    diesel::MysqlConnection::establish(&url).unwrap_or_else(|e| {
        panic!(
            "MySQL / MariaDB is not reachable at {} ({e}). Start it with \
             `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`, \
             or point TEST_MYSQL_URL at a server where this user may create databases.",
            DbTarget::from_url(&url)
                .map_or_else(|_| "TEST_MYSQL_URL".to_owned(), |t| t.to_string())
        )
    })
}

#[cfg(feature = "mysql")]
fn mysql_url_for(db: &str) -> String {
    let admin = mysql_admin_url();
    let (base, query) = admin
        .split_once('?')
        .map_or((admin.as_str(), None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(base, _)| base);
    match query {
        Some(query) => format!("{base}/{db}?{query}"),
        None => format!("{base}/{db}"),
    }
}

/// A database that exists for one test.
#[derive(Debug)]
#[non_exhaustive]
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
    /// A MySQL / MariaDB database, dropped on drop (the `mysql` feature).
    #[cfg(feature = "mysql")]
    Mysql {
        /// Its name.
        name: String,
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
    ///
    /// With `TEST_TEMPLATE_DATABASE` set, the clone is of that database instead, as it
    /// is: how CI runs an older release's tests against a database a newer runner
    /// migrated (the compatibility gate).
    pub fn migrated(test: &str) -> Self {
        let template = Env::from_env()
            .non_empty(TEMPLATE_VARIABLE)
            .unwrap_or_else(ensure_template);
        Self::cloned_from(&template, test)
    }

    /// A PostgreSQL database cloned from the database `template` (no one may be connected
    /// to it), named after `test`.
    pub fn cloned_from(template: &str, test: &str) -> Self {
        let name = unique_name("t", test);
        let quoted = template.replace('"', "\"\"");
        admin()
            .batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{quoted}\""))
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

    /// An empty MySQL / MariaDB database named after `test` (the `mysql` feature).
    #[cfg(feature = "mysql")]
    pub fn mysql_empty(test: &str) -> Self {
        let name = unique_name("t", test);
        mysql_admin()
            .batch_execute(&format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        Self::Mysql { name }
    }

    /// A MySQL / MariaDB database at the embedded head, with the app user's grants. MySQL
    /// has no template databases: each one is migrated.
    #[cfg(feature = "mysql")]
    pub fn mysql_migrated(test: &str) -> Self {
        let db = Self::mysql_empty(test);
        let mut conn = db.connect();
        Runner::new(RunOptions::default())
            .migrate(&mut conn)
            .expect("migrate the MySQL test database");
        migrate::ensure_app_role(&mut conn, migrate::DEFAULT_APP_ROLE)
            .expect("app user on the MySQL test database");
        db
    }

    /// [`TestDb::empty`] or [`TestDb::sqlite_empty`], as `backend` says.
    pub fn empty_on(backend: Backend, test: &str) -> Self {
        match backend {
            Backend::Postgres => Self::empty(test),
            Backend::Sqlite => Self::sqlite_empty(test),
            #[cfg(feature = "mysql")]
            Backend::Mysql => Self::mysql_empty(test),
            other => panic!("bookstore-testing has no test databases for {other:?}"),
        }
    }

    /// [`TestDb::migrated`] or [`TestDb::sqlite_migrated`], as `backend` says.
    pub fn migrated_on(backend: Backend, test: &str) -> Self {
        match backend {
            Backend::Postgres => Self::migrated(test),
            Backend::Sqlite => Self::sqlite_migrated(test),
            #[cfg(feature = "mysql")]
            Backend::Mysql => Self::mysql_migrated(test),
            other => panic!("bookstore-testing has no test databases for {other:?}"),
        }
    }

    /// Where this database is, as a `DATABASE_URL`.
    pub fn url(&self) -> String {
        match self {
            Self::Postgres { name } => url_for(name),
            Self::Sqlite { path } => format!("sqlite://{}", path.display()),
            #[cfg(feature = "mysql")]
            Self::Mysql { name } => mysql_url_for(name),
        }
    }

    /// The PostgreSQL database's name, or the SQLite file's path.
    pub fn name(&self) -> &str {
        match self {
            Self::Postgres { name } => name,
            Self::Sqlite { path } => path.to_str().unwrap_or_default(),
            #[cfg(feature = "mysql")]
            Self::Mysql { name } => name,
        }
    }

    /// This PostgreSQL database reached through `host:port` (a proxy in front of the
    /// server) instead, with `query` (e.g. `sslmode=disable`) appended when not empty.
    pub fn url_via(&self, host_port: &str, query: &str) -> String {
        let url = self.url();
        let parts = url_parts(&url);
        let userinfo = parts
            .password
            .map_or_else(|| parts.user.to_owned(), |p| format!("{}:{p}", parts.user));
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!("postgres://{userinfo}@{host_port}/{}{query}", parts.dbname)
    }

    /// This PostgreSQL or MySQL database as the `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER`
    /// (and `DB_PASSWORD`, when the URL has one) variables, with `DB_ENGINE=mysql` for
    /// MySQL: how the functions are given it on AWS. Not for SQLite (a file has no parts).
    pub fn db_vars(&self) -> Vec<(String, String)> {
        assert!(
            !matches!(self.backend(), Backend::Sqlite),
            "a SQLite database has no DB_* parts"
        );
        let url = self.url();
        let parts = url_parts(&url);
        let mut vars = Vec::new();
        if self.backend() == Backend::Mysql {
            vars.push(("DB_ENGINE".to_owned(), "mysql".to_owned()));
        }
        vars.extend([
            ("DB_HOST".to_owned(), parts.host.to_owned()),
            ("DB_PORT".to_owned(), parts.port.to_owned()),
            ("DB_NAME".to_owned(), parts.dbname.to_owned()),
            ("DB_USER".to_owned(), parts.user.to_owned()),
        ]);
        if let Some(password) = parts.password {
            vars.push(("DB_PASSWORD".to_owned(), password.to_owned()));
        }
        vars
    }

    /// The JSON of the secret RDS keeps for this PostgreSQL database's master user
    /// (`engine`, `host`, `port`, `dbname`, `username`, `password`,
    /// `dbClusterIdentifier`), with `password` as the password (the test server trusts
    /// local connections, so any will do).
    pub fn rds_secret_json(&self, password: &str) -> String {
        let url = self.url();
        let parts = url_parts(&url);
        serde_json::json!({
            "engine": "postgres",
            "host": parts.host,
            "port": parts.port.parse::<u16>().unwrap_or(5432),
            "dbname": parts.dbname,
            "username": parts.user,
            "password": password,
            "dbClusterIdentifier": "bookstore",
        })
        .to_string()
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
            #[cfg(feature = "mysql")]
            Self::Mysql { .. } => Backend::Mysql,
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
            #[cfg(feature = "mysql")]
            Self::Mysql { name } => {
                // MySQL keeps table grants after their database is dropped: the app
                // user's go with it, or every test run would leave rows in tables_priv.
                let mut admin = mysql_admin();
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS `{name}`"));
                let _ = admin.batch_execute(&format!(
                    "DELETE FROM mysql.tables_priv WHERE Db = '{name}'; FLUSH PRIVILEGES"
                ));
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
        #[cfg(feature = "mysql")]
        BackendConnection::Mysql(c) => diesel::sql_query(sql).get_result::<Scalar>(c),
        _ => panic!(
            "bookstore-testing {} does not know this backend",
            env!("CARGO_PKG_VERSION")
        ),
    };
    result.unwrap_or_else(|e| panic!("{sql}: {e}")).n
}

/// Fails unless `record` is a CloudWatch Embedded Metric Format record as the
/// specification defines it: `_aws.Timestamp` a number of milliseconds, each directive's
/// `Namespace` a non-empty string, each dimension set at most 30 names of top-level string
/// members, each metric a `Name` with a CloudWatch unit and a top-level numeric member.
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>)
pub fn assert_emf(record: &serde_json::Value) {
    const UNITS: [&str; 8] = [
        "Milliseconds",
        "Microseconds",
        "Seconds",
        "Count",
        "Bytes",
        "Percent",
        "Count/Second",
        "None",
    ];
    let aws = &record["_aws"];
    assert!(aws["Timestamp"].is_u64(), "_aws.Timestamp: {record}");
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .unwrap_or_else(|| panic!("_aws.CloudWatchMetrics: {record}"));
    assert!(!directives.is_empty(), "no metric directive: {record}");
    for directive in directives {
        assert!(
            directive["Namespace"]
                .as_str()
                .is_some_and(|n| !n.is_empty()),
            "Namespace: {record}"
        );
        for set in directive["Dimensions"]
            .as_array()
            .unwrap_or_else(|| panic!("Dimensions: {record}"))
        {
            let names = set
                .as_array()
                .unwrap_or_else(|| panic!("a dimension set: {record}"));
            assert!(names.len() <= 30, "more than 30 dimensions: {record}");
            for name in names {
                let name = name
                    .as_str()
                    .unwrap_or_else(|| panic!("a dimension name: {record}"));
                assert!(
                    record[name].is_string(),
                    "dimension {name} has no string value: {record}"
                );
            }
        }
        for metric in directive["Metrics"]
            .as_array()
            .unwrap_or_else(|| panic!("Metrics: {record}"))
        {
            let name = metric["Name"]
                .as_str()
                .unwrap_or_else(|| panic!("a metric name: {record}"));
            let unit = metric["Unit"].as_str().unwrap_or("None");
            assert!(
                UNITS.contains(&unit),
                "metric {name}: unit {unit}: {record}"
            );
            assert!(
                record[name].is_number(),
                "metric {name} has no numeric value: {record}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parts_split_user_password_host_port_and_database() {
        let p = url_parts("postgres://app:pw@db.example:6543/books?sslmode=require");
        assert_eq!(
            (p.user, p.password, p.host, p.port, p.dbname),
            ("app", Some("pw"), "db.example", "6543", "books")
        );
        let p = url_parts("postgres://postgres@127.0.0.1/t_x");
        assert_eq!(
            (p.user, p.password, p.host, p.port, p.dbname),
            ("postgres", None, "127.0.0.1", "5432", "t_x")
        );
    }
}
