//! MySQL / MariaDB given as `DB_*` parts: `DB_ENGINE=mysql` (the `mysql` feature).
//!
//! The same variables as PostgreSQL's parts, so one deployment template serves both
//! engines, with these differences:
//!
//! | variable | on MySQL | default |
//! |---|---|---|
//! | `DB_PORT` | port | `3306` |
//! | `DB_NAME`, `DB_USER` | required: MySQL has no database or user every server has | — |
//! | `DB_SSLMODE` | MySQL's `ssl_mode` (`disabled`, `preferred`, `required`, `verify_ca`, `verify_identity`) or the libpq name of the same mode (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`) | `preferred` |
//! | `DB_SSLROOTCERT` | the CA bundle (`ssl_ca`) | none |
//! | `DB_CONNECT_TIMEOUT_SECS` | refused: diesel's MySQL connection has no connect timeout to set | — |

use std::path::PathBuf;

use super::{ConfigError, Secret, invalid};
use crate::env::Env;

/// Default MySQL port.
pub const DEFAULT_MYSQL_PORT: u16 = 3306;
/// Default `ssl_mode`: TLS when the server offers it (like libpq's `prefer`).
pub const DEFAULT_MYSQL_SSL_MODE: &str = "preferred";

/// MySQL's `ssl_mode` names and the libpq `sslmode` each one matches.
const SSL_MODES: [(&str, &str); 5] = [
    ("disabled", "disable"),
    ("preferred", "prefer"),
    ("required", "require"),
    ("verify_ca", "verify-ca"),
    ("verify_identity", "verify-full"),
];

/// Connection parameters for MySQL or MariaDB given as parts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MysqlParts {
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
    /// MySQL `ssl_mode`, by its MySQL name (`verify_identity`, …).
    pub ssl_mode: String,
    /// CA bundle for `verify_ca` / `verify_identity`.
    pub ssl_ca: Option<PathBuf>,
}

impl MysqlParts {
    /// Reads the parts after `DB_ENGINE=mysql`; `host` is `DB_HOST`, already required.
    pub(crate) fn from_vars(env: &Env<'_>, host: String) -> Result<Self, ConfigError> {
        if env.is_set("DB_CONNECT_TIMEOUT_SECS") {
            return Err(invalid(
                "DB_CONNECT_TIMEOUT_SECS",
                "not supported with DB_ENGINE=mysql: diesel's MySQL connection has no connect \
                 timeout (unset it; the pool's checkout timeout bounds the wait)",
            ));
        }
        let ssl_mode = match env.non_empty("DB_SSLMODE") {
            None => DEFAULT_MYSQL_SSL_MODE.to_owned(),
            Some(given) => ssl_mode(&given).map(str::to_owned).ok_or_else(|| {
                let names: Vec<String> = SSL_MODES
                    .iter()
                    .map(|(mysql, libpq)| format!("{mysql} ({libpq})"))
                    .collect();
                invalid(
                    "DB_SSLMODE",
                    format!(
                        "`{given}` is not a MySQL ssl_mode: use one of {}",
                        names.join(", ")
                    ),
                )
            })?,
        };
        let hint =
            "DB_ENGINE=mysql needs DB_NAME and DB_USER (MySQL has no default database or user)";
        Ok(Self {
            host,
            port: env
                .parse("DB_PORT", "a port number")?
                .unwrap_or(DEFAULT_MYSQL_PORT),
            dbname: env.required("DB_NAME", hint)?,
            user: env.required("DB_USER", hint)?,
            password: env.string("DB_PASSWORD").map(Secret::new),
            ssl_mode,
            ssl_ca: env.non_empty("DB_SSLROOTCERT").map(PathBuf::from),
        })
    }

    /// The `mysql://` URL diesel connects with, with `password` when given: every part is
    /// percent-encoded, so a password with `@`, `/` or `%` (an IAM token has `%` and `&`)
    /// survives. The result is a secret.
    pub fn url(&self, password: Option<&str>) -> Secret {
        let mut url = format!("mysql://{}", encode(&self.user));
        if let Some(password) = password {
            url.push(':');
            url.push_str(&encode(password));
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        url.push_str(&format!(
            "@{host}:{}/{}?ssl_mode={}",
            self.port,
            encode(&self.dbname),
            self.ssl_mode
        ));
        if let Some(ca) = &self.ssl_ca {
            url.push_str("&ssl_ca=");
            url.push_str(&encode(&ca.to_string_lossy()));
        }
        Secret::new(url)
    }

    /// Whether TLS is turned off (`disabled`): an IAM token must never travel so.
    pub fn tls_disabled(&self) -> bool {
        self.ssl_mode == "disabled"
    }
}

/// The MySQL `ssl_mode` named by `given`, in either vocabulary.
fn ssl_mode(given: &str) -> Option<&'static str> {
    let given = given.to_ascii_lowercase();
    SSL_MODES
        .iter()
        .find(|(mysql, libpq)| given == *mysql || given == *libpq)
        .map(|(mysql, _)| *mysql)
}

/// `text` percent-encoded except for RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::DbTarget;

    fn target(pairs: &[(&str, &str)]) -> Result<DbTarget, crate::ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        DbTarget::from_lookup(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    const BASE: [(&str, &str); 4] = [
        ("DB_ENGINE", "mysql"),
        ("DB_HOST", "proxy.example"),
        ("DB_NAME", "bookstore"),
        ("DB_USER", "bookstore_app"),
    ];

    fn parts(extra: &[(&str, &str)]) -> super::MysqlParts {
        let all: Vec<(&str, &str)> = BASE.iter().chain(extra).copied().collect();
        match target(&all).unwrap() {
            DbTarget::Mysql(parts) => parts,
            other => panic!("expected MySQL parts, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_mysql_ones_and_name_and_user_are_required() {
        let p = parts(&[]);
        assert_eq!(
            (p.port, p.ssl_mode.as_str(), p.ssl_ca.is_none()),
            (3306, "preferred", true)
        );
        for missing in ["DB_NAME", "DB_USER"] {
            let rest: Vec<_> = BASE
                .iter()
                .filter(|(k, _)| *k != missing)
                .copied()
                .collect();
            let err = target(&rest).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{missing} is not set")), "{err}");
        }
    }

    #[test]
    fn ssl_modes_are_read_in_both_vocabularies_and_unknown_ones_refused() {
        for (given, expected) in [
            ("verify-full", "verify_identity"),
            ("VERIFY_IDENTITY", "verify_identity"),
            ("require", "required"),
            ("verify_ca", "verify_ca"),
            ("disable", "disabled"),
        ] {
            assert_eq!(
                parts(&[("DB_SSLMODE", given)]).ssl_mode,
                expected,
                "{given}"
            );
        }
        let all: Vec<_> = BASE
            .iter()
            .copied()
            .chain([("DB_SSLMODE", "allow")])
            .collect();
        let err = target(&all).unwrap_err().to_string();
        assert!(
            err.contains("DB_SSLMODE") && err.contains("verify_identity (verify-full)"),
            "{err}"
        );
    }

    #[test]
    fn a_connect_timeout_is_refused_rather_than_ignored() {
        let all: Vec<_> = BASE
            .iter()
            .copied()
            .chain([("DB_CONNECT_TIMEOUT_SECS", "5")])
            .collect();
        let err = target(&all).unwrap_err().to_string();
        assert!(
            err.starts_with("DB_CONNECT_TIMEOUT_SECS is invalid"),
            "{err}"
        );
    }

    #[test]
    fn the_url_encodes_every_part_and_display_never_shows_the_password() {
        let p = parts(&[
            ("DB_SSLMODE", "verify-full"),
            ("DB_SSLROOTCERT", "/var/task/ca bundle+1.pem"),
        ]);
        let token = "proxy.example:3306/?Action=connect&X-Amz-Signature=a%2Fb+c@d";
        let url = p.url(Some(token));
        assert_eq!(
            url.expose(),
            "mysql://bookstore_app:proxy.example%3A3306%2F%3FAction%3Dconnect%26X-Amz-Signature%3Da%252Fb%2Bc%40d\
             @proxy.example:3306/bookstore?ssl_mode=verify_identity&ssl_ca=%2Fvar%2Ftask%2Fca%20bundle%2B1.pem"
        );
        let target = DbTarget::Mysql(p);
        let shown = format!("{target} {target:?}");
        assert_eq!(
            shown.split(' ').next(),
            Some("mysql://bookstore_app@proxy.example:3306/bookstore")
        );
        assert!(!shown.contains("Signature"), "{shown}");
    }
}
