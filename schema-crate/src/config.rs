//! Where the database is and how to reach it, read from the environment.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DATABASE_URL` | `postgres://…` / `postgresql://…` URL, `mysql://…` (the `mysql` feature; `?ssl_mode=required` or `verify_identity` are enforced), or `sqlite://path` (`sqlite::memory:` for tests); wins over the parts below | — |
//! | `DB_HOST` | PostgreSQL host (an RDS Proxy or cluster endpoint on AWS) | — (required without `DATABASE_URL`) |
//! | `DB_PORT` | port | `5432` |
//! | `DB_NAME` | database name | `postgres` |
//! | `DB_USER` | user | `postgres` |
//! | `DB_PASSWORD` | password (never logged) | none |
//! | `DB_SSLMODE` | libpq `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`) | `prefer` |
//! | `DB_SSLROOTCERT` | CA bundle for `verify-ca` / `verify-full` | none |
//! | `DB_CONNECT_TIMEOUT_SECS` | libpq connect timeout | `5` |
//! | `DB_ENGINE` | `postgres` or `mysql` (MySQL / MariaDB, the `mysql` feature: see [`MysqlParts`] for how the parts above read there) | `postgres` |
//!
//! Pool settings are read by [`crate::pool::PoolConfig::from_env`].

// Over 400 lines with its unit tests (a third of the file): parsing and redaction of every
// configuration form are one concept, and their tests of each form belong beside them.

use std::{env, fmt, path::PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::env::Env;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
pub use mysql::{DEFAULT_MYSQL_PORT, DEFAULT_MYSQL_SSL_MODE, MysqlParts};

/// Default PostgreSQL port.
pub const DEFAULT_PORT: u16 = 5432;
/// Default database name when `DB_NAME` is unset.
pub const DEFAULT_DB_NAME: &str = "postgres";
/// Default user when `DB_USER` is unset.
pub const DEFAULT_DB_USER: &str = "postgres";
/// Default libpq `sslmode`.
pub const DEFAULT_SSLMODE: &str = "prefer";
/// Default libpq connect timeout, in seconds (libpq's minimum is 2).
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u32 = 5;

const SSLMODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// A configuration problem, naming the variable at fault (never its secret value).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{name} is not set: {hint}")]
    #[non_exhaustive]
    Missing {
        /// The variable's name.
        name: &'static str,
        /// What to set instead.
        hint: &'static str,
    },
    /// A variable is set but unusable.
    #[error("{name} is invalid: {reason}")]
    #[non_exhaustive]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// Why it was rejected (never the secret itself).
        reason: String,
    },
}

impl ConfigError {
    /// `name` is set but unusable, for `reason` (which must not quote a secret).
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            name,
            reason: reason.into(),
        }
    }

    /// `name` is required but unset; `hint` says what to set.
    pub fn missing(name: &'static str, hint: &'static str) -> Self {
        Self::Missing { name, hint }
    }
}

/// A PostgreSQL password or URL: `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The secret itself, for the one place that hands it to libpq.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Connection parameters for PostgreSQL given as parts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PgParts {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database name.
    pub dbname: String,
    /// User name.
    pub user: String,
    /// Password, if any (IAM tokens replace it per connection).
    pub password: Option<Secret>,
    /// libpq `sslmode`.
    pub sslmode: String,
    /// libpq `sslrootcert`.
    pub sslrootcert: Option<PathBuf>,
    /// libpq `connect_timeout`, in seconds.
    pub connect_timeout_secs: u32,
}

/// Which database to talk to (new backends add variants).
#[derive(Clone)]
#[non_exhaustive]
pub enum DbTarget {
    /// A full PostgreSQL URL or libpq conninfo string (may hold a password).
    PostgresUrl(Secret),
    /// PostgreSQL from parts.
    Postgres(PgParts),
    /// A SQLite file path, or `:memory:`.
    Sqlite(String),
    /// A MySQL or MariaDB URL, `mysql://user[:password]@host[:port]/db[?ssl_mode=…]` (may
    /// hold a password; the `mysql` feature).
    #[cfg(feature = "mysql")]
    MysqlUrl(Secret),
    /// MySQL or MariaDB from parts (`DB_ENGINE=mysql`; the `mysql` feature).
    #[cfg(feature = "mysql")]
    Mysql(MysqlParts),
}

impl fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PostgresUrl(url) => f
                .debug_tuple("PostgresUrl")
                .field(&redact_url(url.expose()))
                .finish(),
            Self::Postgres(parts) => f.debug_tuple("Postgres").field(parts).finish(),
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            #[cfg(feature = "mysql")]
            Self::MysqlUrl(url) => f
                .debug_tuple("MysqlUrl")
                .field(&redact_url(url.expose()))
                .finish(),
            #[cfg(feature = "mysql")]
            Self::Mysql(parts) => f.debug_tuple("Mysql").field(parts).finish(),
        }
    }
}

impl fmt::Display for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PostgresUrl(url) => f.write_str(&redact_url(url.expose())),
            Self::Postgres(p) => write!(
                f,
                "postgres://{}@{}:{}/{}",
                p.user, p.host, p.port, p.dbname
            ),
            Self::Sqlite(path) => write!(f, "sqlite://{path}"),
            #[cfg(feature = "mysql")]
            Self::MysqlUrl(url) => f.write_str(&redact_url(url.expose())),
            #[cfg(feature = "mysql")]
            Self::Mysql(p) => write!(f, "mysql://{}@{}:{}/{}", p.user, p.host, p.port, p.dbname),
        }
    }
}

impl DbTarget {
    /// Parses a `DATABASE_URL` value.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(invalid("DATABASE_URL", "sqlite:// needs a file path"));
            }
            let path = if path == ":memory:" { ":memory:" } else { path };
            return Ok(Self::Sqlite(path.to_owned()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::PostgresUrl(Secret::new(url)));
        }
        if url.starts_with("mysql://") {
            #[cfg(feature = "mysql")]
            return Ok(Self::MysqlUrl(Secret::new(url)));
            #[cfg(not(feature = "mysql"))]
            return Err(invalid(
                "DATABASE_URL",
                "mysql://… needs bookstore-schema built with its `mysql` feature",
            ));
        }
        Err(invalid(
            "DATABASE_URL",
            format!(
                "expected postgres://…, mysql://… or sqlite://path, got `{}`",
                redact_url(url)
            ),
        ))
    }

    /// Reads `DATABASE_URL`, or else the `DB_*` parts.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// [`DbTarget::from_env`] over any lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_vars(&Env::from_lookup(get))
    }

    /// [`DbTarget::from_env`] over an [`Env`].
    pub fn from_vars(env: &Env<'_>) -> Result<Self, ConfigError> {
        if let Some(url) = env.non_empty("DATABASE_URL") {
            return Self::from_url(&url);
        }
        let host = env.required(
            "DB_HOST",
            "set DATABASE_URL, or DB_HOST with DB_NAME, DB_USER and a password source",
        )?;
        match env
            .non_empty("DB_ENGINE")
            .map(|engine| engine.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("postgres" | "postgresql") => {}
            #[cfg(feature = "mysql")]
            Some("mysql" | "mariadb") => {
                return Ok(Self::Mysql(MysqlParts::from_vars(env, host)?));
            }
            #[cfg(not(feature = "mysql"))]
            Some("mysql" | "mariadb") => {
                return Err(invalid(
                    "DB_ENGINE",
                    "mysql needs bookstore-schema built with its `mysql` feature",
                ));
            }
            Some(other) => {
                return Err(invalid(
                    "DB_ENGINE",
                    format!("`{other}` is not one of postgres, mysql"),
                ));
            }
        }
        let sslmode = env
            .string("DB_SSLMODE")
            .unwrap_or_else(|| DEFAULT_SSLMODE.to_owned());
        if !SSLMODES.contains(&sslmode.as_str()) {
            return Err(invalid(
                "DB_SSLMODE",
                format!("`{sslmode}` is not one of {}", SSLMODES.join(", ")),
            ));
        }
        Ok(Self::Postgres(PgParts {
            host,
            port: env
                .parse("DB_PORT", "a port number")?
                .unwrap_or(DEFAULT_PORT),
            dbname: env
                .string("DB_NAME")
                .unwrap_or_else(|| DEFAULT_DB_NAME.to_owned()),
            user: env
                .string("DB_USER")
                .unwrap_or_else(|| DEFAULT_DB_USER.to_owned()),
            password: env.string("DB_PASSWORD").map(Secret::new),
            sslmode,
            sslrootcert: env.string("DB_SSLROOTCERT").map(PathBuf::from),
            connect_timeout_secs: env
                .parse("DB_CONNECT_TIMEOUT_SECS", "a whole number of seconds")?
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS),
        }))
    }

    /// The backend this target speaks.
    pub fn backend(&self) -> crate::Backend {
        crate::backend::backend_of(self)
    }

    /// Host, port and user of a target given as parts (what an RDS IAM auth token is
    /// signed for); `None` for a URL or SQLite.
    pub fn login(&self) -> Option<(&str, u16, &str)> {
        match self {
            Self::Postgres(p) => Some((&p.host, p.port, &p.user)),
            #[cfg(feature = "mysql")]
            Self::Mysql(p) => Some((&p.host, p.port, &p.user)),
            _ => None,
        }
    }

    /// Whether this target turns TLS off (libpq `disable`, MySQL `disabled`): a password
    /// source that mints IAM tokens refuses it.
    pub fn tls_disabled(&self) -> bool {
        match self {
            Self::Postgres(p) => p.sslmode == "disable",
            #[cfg(feature = "mysql")]
            Self::Mysql(p) => p.tls_disabled(),
            _ => false,
        }
    }
}

impl PgParts {
    /// The libpq conninfo string, with `password` when given. Values are quoted, so a
    /// password with spaces or quotes survives; the result is a secret.
    pub fn conninfo(&self, password: Option<&str>) -> Secret {
        let mut out = String::new();
        let mut push = |key: &str, value: &str| {
            let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
            out.push_str(&format!("{key}='{escaped}' "));
        };
        push("host", &self.host);
        push("port", &self.port.to_string());
        push("dbname", &self.dbname);
        push("user", &self.user);
        if let Some(password) = password {
            push("password", password);
        }
        push("sslmode", &self.sslmode);
        if let Some(cert) = &self.sslrootcert {
            push("sslrootcert", &cert.to_string_lossy());
        }
        push("connect_timeout", &self.connect_timeout_secs.to_string());
        push("application_name", "bookstore");
        Secret::new(out.trim_end())
    }
}

/// What every PostgreSQL connection gets from libpq unless its target says otherwise
/// (added by the backend when it connects):
///
/// - `client_encoding=UTF8`, a startup parameter, so the server reports the encoding
///   diesel wants and diesel (as patched in `vendor/diesel`) sends no `SET` that would pin
///   an RDS Proxy session;
/// - TCP keepalives after 10 s idle, every 5 s, 3 probes: a dead idle peer (a failed-over
///   writer, a dropped NAT entry) is noticed in about 25 s instead of the kernel's 2 h
///   (the migration runner's own, shorter, win: `SessionSettings::tcp_keepalives`);
/// - `tcp_user_timeout=10000`: data the peer does not acknowledge for 10 s (a host that is
///   gone mid-request) fails the connection instead of retransmitting for 15 minutes.
///
/// None of them is an `options=-c …` (RDS Proxy refuses command-line options).
pub(crate) const LIBPQ_DEFAULTS: [(&str, &str); 6] = [
    ("client_encoding", "UTF8"),
    ("keepalives", "1"),
    ("keepalives_idle", "10"),
    ("keepalives_interval", "5"),
    ("keepalives_count", "3"),
    ("tcp_user_timeout", "10000"),
];

/// [`DEFAULT_CONNECT_TIMEOUT_SECS`] as libpq reads it: a `DATABASE_URL` without
/// `connect_timeout` gets it (without one, libpq waits as long as the kernel does: minutes
/// against a host that accepts and never answers).
pub(crate) const DEFAULT_CONNECT_TIMEOUT_STR: &str = "5";

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

/// A database URL as it may be shown: the scheme, `***@` where it had user information,
/// the host and port, and the database name; the query, any user name and the password
/// are left out.
///
/// libpq accepts URLs a parser cannot split with certainty (an unencoded `/`, `?`, `@` or
/// `#` in the password, a bad percent-encoding), so nothing is shown unless it can only be
/// a host: the part after the *last* `@`, and only when it is made of host-name, address
/// and port characters; otherwise the whole location is `[redacted]`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "[redacted: not a URL]".to_owned();
    };
    let scheme: String = scheme
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+')
        .collect();
    // An `@` after a `?` is in the query (`?password=a@b`) or follows a `?` in the
    // password (`user:a?b@host`): either way nothing can be shown with certainty.
    if let (Some(at), Some(query)) = (rest.rfind('@'), rest.find('?'))
        && at > query
    {
        return format!("{scheme}://[redacted]");
    }
    let (userinfo, location) = match rest.rfind('@') {
        Some(at) => ("***@", &rest[at + 1..]),
        None => ("", rest),
    };
    let end = location.find(['/', '?', '#']).unwrap_or(location.len());
    let host = &location[..end];
    let is_host = |text: &str| {
        text.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | ',' | '_')
        })
    };
    if !is_host(host) {
        return format!("{scheme}://[redacted]");
    }
    let after = &location[end..];
    let dbname = after
        .strip_prefix('/')
        .map(|path| &path[..path.find(['?', '#']).unwrap_or(path.len())])
        .filter(|db| !db.is_empty() && is_host(db))
        .map(|db| format!("/{db}"))
        .unwrap_or_default();
    let query = if after.contains('?') { "?…" } else { "" };
    format!("{scheme}://{userinfo}{host}{dbname}{query}")
}

/// `message` (from libpq, which may quote the URL it could not parse) with every piece of
/// `url` that could be secret replaced by `***`: each run between the URL's delimiters,
/// except the scheme and what [`redact_url`] would show anyway (host, port, database).
pub(crate) fn scrub_url_from(message: &str, url: &str) -> String {
    let shown = redact_url(url);
    let mut pieces: Vec<&str> = url
        .split([':', '/', '@', '?', '&', '=', '#'])
        .filter(|piece| piece.len() >= 2 && !shown.contains(piece))
        .collect();
    // Longest first, so that a piece inside another is not left half replaced.
    pieces.sort_by_key(|piece| std::cmp::Reverse(piece.len()));
    let mut out = message.replace(url, &shown);
    for piece in pieces {
        out = out.replace(piece, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    /// Every URL form libpq accepts or rejects, with `hunter2` somewhere secret.
    const SECRET_URLS: [&str; 9] = [
        "postgres://app:hunter2@db:5432/x",
        "postgres://db/x?user=a&password=hunter2&sslmode=require",
        "postgres://app:hun/ter2@db/x",
        "postgres://app:hun?ter2@db/x",
        "postgres://app:hun@ter2@db/x",
        "postgres://app:hun#ter2@db/x",
        "postgres://app:hunter2%zz@db/x",
        "postgresql://app:hunter2@/x?host=/tmp",
        "postgres://db/x?password=hun@ter2&x=1",
    ];

    #[test]
    fn redact_url_shows_only_the_scheme_host_and_database_for_every_url_form() {
        assert_eq!(
            redact_url("postgres://app:s3cr3t@db:5432/x"),
            "postgres://***@db:5432/x"
        );
        assert_eq!(
            redact_url("postgres://db/x?user=a&password=s3cr3t"),
            "postgres://db/x?…"
        );
        assert_eq!(redact_url("postgres://app:a/b@db/x"), "postgres://***@db/x");
        assert_eq!(
            redact_url("host=db password=s3cr3t"),
            "[redacted: not a URL]"
        );
        for url in SECRET_URLS {
            let shown = redact_url(url);
            assert!(
                !shown.contains("hun") && !shown.contains("ter2"),
                "{url} → {shown}"
            );
        }
    }

    #[test]
    fn a_libpq_message_quoting_the_url_loses_every_secret_piece() {
        for url in SECRET_URLS {
            // What libpq quotes: the URL, the part it took for a query, or for user info.
            let query = url.split_once('?').map_or("", |(_, q)| q);
            let userinfo = url.rsplit_once('@').map_or("", |(u, _)| u);
            let message = format!(
                "invalid URI: \"{url}\"; invalid URI query parameter: \"{query}\"; \"{userinfo}\""
            );
            let scrubbed = scrub_url_from(&message, url);
            assert!(
                !scrubbed.contains("hun") && !scrubbed.contains("ter2"),
                "{url} → {scrubbed}"
            );
        }
    }

    #[test]
    fn the_default_connect_timeout_matches_its_number() {
        assert_eq!(
            DEFAULT_CONNECT_TIMEOUT_STR,
            DEFAULT_CONNECT_TIMEOUT_SECS.to_string()
        );
    }

    #[test]
    fn debug_and_display_never_show_the_password() {
        let parts = DbTarget::from_lookup(lookup(&[
            ("DB_HOST", "h"),
            ("DB_PASSWORD", "hunter2-very-secret"),
        ]))
        .unwrap();
        let url = DbTarget::from_url("postgres://u:hunter2-very-secret@h/db").unwrap();
        for target in [parts, url] {
            let shown = format!("{target:?} {target} {target:#?}");
            assert!(!shown.contains("hunter2"), "leaked: {shown}");
        }
    }

    #[test]
    fn parts_default_and_missing_host_names_the_variable() {
        let err = DbTarget::from_lookup(lookup(&[])).unwrap_err();
        assert!(err.to_string().starts_with("DB_HOST is not set"), "{err}");
        let err = DbTarget::from_lookup(lookup(&[("DB_HOST", "h"), ("DB_PORT", "x")])).unwrap_err();
        assert!(err.to_string().starts_with("DB_PORT is invalid"), "{err}");
        let err = DbTarget::from_lookup(lookup(&[("DB_HOST", "h"), ("DB_SSLMODE", "sometimes")]))
            .unwrap_err();
        assert!(err.to_string().contains("DB_SSLMODE"), "{err}");
        let DbTarget::Postgres(p) = DbTarget::from_lookup(lookup(&[("DB_HOST", "h")])).unwrap()
        else {
            panic!("expected parts")
        };
        assert_eq!(
            (
                p.port,
                p.dbname.as_str(),
                p.user.as_str(),
                p.sslmode.as_str()
            ),
            (5432, "postgres", "postgres", "prefer")
        );
    }

    #[test]
    fn conninfo_quotes_awkward_passwords() {
        let DbTarget::Postgres(p) = DbTarget::from_lookup(lookup(&[("DB_HOST", "h")])).unwrap()
        else {
            panic!("expected parts")
        };
        let info = p.conninfo(Some("it's a \\ pass"));
        assert!(
            info.expose().contains(r"password='it\'s a \\ pass'"),
            "{}",
            info.expose()
        );
        assert_eq!(format!("{info}"), "[REDACTED]");
    }

    #[test]
    fn sqlite_urls_are_recognised() {
        assert!(
            matches!(DbTarget::from_url("sqlite://bookstore.db").unwrap(), DbTarget::Sqlite(p) if p == "bookstore.db")
        );
        assert!(
            matches!(DbTarget::from_url("sqlite::memory:").unwrap(), DbTarget::Sqlite(p) if p == ":memory:")
        );
        let err = DbTarget::from_url("mongodb://root@h/db").unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"));
    }

    #[test]
    fn mysql_urls_need_the_mysql_feature_and_are_redacted() {
        let parsed = DbTarget::from_url("mysql://app:hunter2@db:3306/x?ssl_mode=required");
        #[cfg(feature = "mysql")]
        {
            let target = parsed.unwrap();
            assert!(matches!(target, DbTarget::MysqlUrl(_)));
            let shown = format!("{target} {target:?}");
            assert!(
                !shown.contains("hunter2") && shown.contains("db:3306"),
                "{shown}"
            );
        }
        #[cfg(not(feature = "mysql"))]
        {
            let err = parsed.unwrap_err().to_string();
            assert!(
                err.contains("`mysql` feature") && !err.contains("hunter2"),
                "{err}"
            );
        }
    }
}
