#![doc = include_str!("../README.md")]
//!
//! Database credentials from AWS: a Secrets Manager secret read once per container
//! (feature `secrets-manager`), or an RDS IAM auth token minted for each new connection.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DB_SECRET_ARN` | ARN (or name) of a secret in the RDS secret format (`{"username", "password", "host"?, "port"?, "dbname"?, …}`): read once, at start. `username` and `password` always come from it; `host`, `port` and `dbname` fill in `DB_HOST`, `DB_PORT` and `DB_NAME` when those are unset | unset |
//! | `DB_IAM_AUTH` | `true`: a fresh RDS IAM auth token (valid 15 minutes) is the password of each new connection, signed for `DB_HOST`, `DB_PORT` and `DB_USER`. On MySQL (`DB_ENGINE=mysql`) it also needs `LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN=1`: the token travels as a cleartext password, over TLS | `false` |
//! | `AWS_REGION` (or `AWS_DEFAULT_REGION`) | region of the secret and of the token; Lambda sets it. Without it the region in `DB_SECRET_ARN` is used | — |
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | the credentials to sign with; Lambda sets them from the function's role (there is no other credential chain: it would more than double the AWS code in each zip) | — (required with either) |
//! | `AWS_ENDPOINT_URL_SECRETS_MANAGER` (or `AWS_ENDPOINT_URL`) | another Secrets Manager endpoint (tests point it at a local emulator) | the region's |
//!
//! Both need the `DB_*` parts, not `DATABASE_URL`, and neither goes with `DB_PASSWORD`:
//! each is refused at start, naming the variables, rather than one being silently ignored.
//!
//! A pooled connection outlives the token it logged in with (PostgreSQL checks the
//! password once, at login), so only new connections need a new token: that is why the
//! token is a [`PasswordSource`] and not part of the [`DbTarget`].

// About 400 lines, half of them unit tests of the variable combinations: the two credential
// sources share their refusals and region lookup, so they stay in one module.

mod iam;
#[cfg(feature = "secrets-manager")]
mod secret;

use std::{env, sync::Arc};

pub use iam::{IamAuth, TOKEN_LIFETIME, auth_token};
#[cfg(feature = "secrets-manager")]
pub use secret::{RdsSecret, SECRET_FETCH_TIMEOUT, SecretStore, SecretsManager};

use bookstore_schema::{
    Backend,
    config::{ConfigError, DbTarget},
    env::Env,
    pool::PasswordSource,
};

/// [`target_from_lookup`] over the process environment.
pub fn target_from_env() -> Result<DbTarget, ConfigError> {
    target_from_lookup(|name| env::var(name).ok())
}

/// The database to connect to: `DATABASE_URL` or the `DB_*` parts as in
/// [`DbTarget::from_lookup`], completed from the secret named by `DB_SECRET_ARN` when it
/// is set (fetched here, once).
pub fn target_from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<DbTarget, ConfigError> {
    let Some(secret_id) = non_empty(&get, "DB_SECRET_ARN") else {
        return DbTarget::from_lookup(&get);
    };
    #[cfg(feature = "secrets-manager")]
    {
        let store = SecretsManager::from_lookup(&get, &secret_id)?;
        target_with_secret(&get, &secret_id, &store)
    }
    #[cfg(not(feature = "secrets-manager"))]
    {
        let _ = secret_id;
        Err(ConfigError::invalid(
            "DB_SECRET_ARN",
            "this function is built without Secrets Manager (bookstore-credentials \
                     feature `secrets-manager`, left out to keep its zip small); use DB_IAM_AUTH",
        ))
    }
}

/// [`target_from_lookup`] with the secret read from `store` (tests pass their own).
#[cfg(feature = "secrets-manager")]
pub fn target_with_secret(
    get: impl Fn(&str) -> Option<String>,
    secret_id: &str,
    store: &dyn SecretStore,
) -> Result<DbTarget, ConfigError> {
    refuse_together(
        &get,
        "DB_SECRET_ARN",
        &["DATABASE_URL", "DB_PASSWORD", "DB_IAM_AUTH"],
    )?;
    let secret = store
        .secret_string(secret_id)
        .and_then(|text| RdsSecret::parse(secret_id, &text))
        .map_err(|reason| ConfigError::invalid("DB_SECRET_ARN", reason))?;
    if let Some(user) = non_empty(&get, "DB_USER")
        && user != secret.username
    {
        return Err(ConfigError::invalid(
            "DB_USER",
            format!("`{user}` differs from the username in secret `{secret_id}`; unset DB_USER"),
        ));
    }
    let merged = |name: &str| -> Option<String> {
        let env_value = non_empty(&get, name);
        match name {
            "DB_USER" => Some(secret.username.clone()),
            "DB_PASSWORD" => Some(secret.password.expose().to_owned()),
            "DB_HOST" => env_value.or_else(|| secret.host.clone()),
            "DB_PORT" => env_value.or_else(|| secret.port.map(|p| p.to_string())),
            "DB_NAME" => env_value.or_else(|| secret.dbname.clone()),
            _ => get(name),
        }
    };
    DbTarget::from_lookup(merged)
}

/// [`password_source_from_lookup`] over the process environment.
pub fn password_source_from_env() -> Result<Option<Arc<dyn PasswordSource>>, ConfigError> {
    password_source_from_lookup(|name| env::var(name).ok())
}

/// The password source for new connections: an [`IamAuth`] when `DB_IAM_AUTH=true`,
/// otherwise none (the target's own password, if any, is used).
pub fn password_source_from_lookup(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<Arc<dyn PasswordSource>>, ConfigError> {
    if !iam_auth(&get)? {
        return Ok(None);
    }
    refuse_together(
        &get,
        "DB_IAM_AUTH",
        &["DATABASE_URL", "DB_PASSWORD", "DB_SECRET_ARN"],
    )?;
    let target = DbTarget::from_lookup(&get)?;
    if target.tls_disabled() {
        return Err(ConfigError::invalid(
            "DB_SSLMODE",
            "RDS IAM authentication needs TLS; use `verify-full` with DB_SSLROOTCERT",
        ));
    }
    if target.backend() == Backend::Mysql && !cleartext_plugin_enabled(&get) {
        return Err(ConfigError::missing(
            "LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN",
            "DB_IAM_AUTH on MySQL sends the token as a cleartext password (over TLS), which \
             the MySQL client library refuses unless this is `1`",
        ));
    }
    let Some((host, port, user)) = target.login() else {
        unreachable!("DATABASE_URL was refused above, so the target is given as parts");
    };
    Ok(Some(Arc::new(IamAuth::from_lookup_for(
        &get, host, port, user,
    )?)))
}

/// Whether the MySQL client library will send a cleartext password (an IAM token): it reads
/// `LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN` once, and takes a value starting with `1`, `Y` or `y`.
fn cleartext_plugin_enabled(get: &impl Fn(&str) -> Option<String>) -> bool {
    get("LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN").is_some_and(|value| value.starts_with(['1', 'Y', 'y']))
}

/// `DB_IAM_AUTH`, read as every boolean variable is (`Env::bool`); empty means unset.
fn iam_auth(get: &impl Fn(&str) -> Option<String>) -> Result<bool, ConfigError> {
    let env = Env::from_lookup(|name| non_empty(get, name));
    Ok(env.bool("DB_IAM_AUTH")?.unwrap_or(false))
}

/// A variable's value, `None` when unset or blank (a template's `DB_PASSWORD=` with nothing
/// after it is not a password).
fn non_empty(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    Env::from_lookup(get)
        .non_empty(name)
        .filter(|v| !v.trim().is_empty())
}

fn refuse_together(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    others: &[&str],
) -> Result<(), ConfigError> {
    let set: Vec<&str> = others
        .iter()
        .copied()
        .filter(|other| match *other {
            "DB_IAM_AUTH" => iam_auth(get).unwrap_or(true),
            _ => non_empty(get, other).is_some(),
        })
        .collect();
    if set.is_empty() {
        return Ok(());
    }
    Err(ConfigError::invalid(
        name,
        format!(
            "cannot be combined with {}: use the DB_* parts and one password source",
            set.join(", ")
        ),
    ))
}

/// The region: `AWS_REGION`, `AWS_DEFAULT_REGION`, else the one in an ARN.
fn region(get: &impl Fn(&str) -> Option<String>, arn: Option<&str>) -> Option<String> {
    non_empty(get, "AWS_REGION")
        .or_else(|| non_empty(get, "AWS_DEFAULT_REGION"))
        .or_else(|| {
            // arn:aws:secretsmanager:<region>:<account>:secret:<name>
            let region = arn?.strip_prefix("arn:")?.split(':').nth(2)?;
            (!region.is_empty()).then(|| region.to_owned())
        })
}

/// The role's credentials, as Lambda hands them over: `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (read from the lookup, so tests pass a map).
fn credentials_from_lookup(
    get: &impl Fn(&str) -> Option<String>,
    needed_by: &'static str,
) -> Result<aws_credential_types::Credentials, ConfigError> {
    let hint = match needed_by {
        "DB_IAM_AUTH" => {
            "DB_IAM_AUTH signs with the function role's credentials, which Lambda sets"
        }
        _ => "DB_SECRET_ARN is read with the function role's credentials, which Lambda sets",
    };
    let missing = |name| ConfigError::missing(name, hint);
    Ok(aws_credential_types::Credentials::new(
        non_empty(get, "AWS_ACCESS_KEY_ID").ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?,
        non_empty(get, "AWS_SECRET_ACCESS_KEY").ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?,
        non_empty(get, "AWS_SESSION_TOKEN"),
        None,
        "environment",
    ))
}

#[cfg(all(test, feature = "secrets-manager"))]
mod tests {
    use super::*;
    use bookstore_schema::config::Secret;
    use bookstore_testing::lookup;

    #[derive(Debug)]
    struct Fixed(Result<String, String>);

    impl SecretStore for Fixed {
        fn secret_string(&self, _id: &str) -> Result<String, String> {
            self.0.clone()
        }
    }

    const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-master-AbCdEf";

    fn rds_secret() -> Fixed {
        Fixed(Ok(r#"{"engine":"postgres","host":"cluster.example","port":5433,"username":"master","password":"hunter2-very-secret","dbname":"bookstore","dbClusterIdentifier":"c"}"#.into()))
    }

    #[test]
    fn without_aws_variables_the_target_and_passwords_are_the_plain_ones() {
        let target = target_from_lookup(lookup(&[("DB_HOST", "h")])).unwrap();
        assert!(matches!(target, DbTarget::Postgres(p) if p.host == "h" && p.password.is_none()));
        assert!(
            password_source_from_lookup(lookup(&[("DB_HOST", "h")]))
                .unwrap()
                .is_none()
        );
        let off = lookup(&[("DB_HOST", "h"), ("DB_IAM_AUTH", "false")]);
        assert!(password_source_from_lookup(off).unwrap().is_none());
    }

    #[test]
    fn the_secret_supplies_credentials_and_fills_in_unset_parts() {
        let DbTarget::Postgres(p) = target_with_secret(lookup(&[]), ARN, &rds_secret()).unwrap()
        else {
            panic!("expected parts")
        };
        assert_eq!(
            (p.host.as_str(), p.port, p.dbname.as_str(), p.user.as_str()),
            ("cluster.example", 5433, "bookstore", "master")
        );
        assert_eq!(
            p.password.as_ref().map(Secret::expose),
            Some("hunter2-very-secret")
        );
        // DB_HOST (the proxy, or the writer) wins over the secret's host.
        let env = lookup(&[
            ("DB_HOST", "writer.example"),
            ("DB_NAME", "other"),
            ("DB_USER", "master"),
        ]);
        let DbTarget::Postgres(p) = target_with_secret(env, ARN, &rds_secret()).unwrap() else {
            panic!("expected parts")
        };
        assert_eq!(
            (p.host.as_str(), p.port, p.dbname.as_str()),
            ("writer.example", 5433, "other")
        );
    }

    #[test]
    fn secret_errors_name_the_secret_and_never_show_its_value() {
        let err = target_with_secret(
            lookup(&[("DB_HOST", "h")]),
            ARN,
            &Fixed(Err(format!("secret `{ARN}` was not found"))),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("DB_SECRET_ARN is invalid"),
            "{err}"
        );
        assert!(err.to_string().contains(ARN), "{err}");
        let malformed = Fixed(Ok(
            r#"{"username": "master", "pasword": "hunter2-very-secret"}"#.into(),
        ));
        let err = target_with_secret(lookup(&[("DB_HOST", "h")]), ARN, &malformed).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            shown.contains(ARN) && shown.contains("`password`"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "leaked: {shown}");
        let err =
            target_with_secret(lookup(&[("DB_USER", "app")]), ARN, &rds_secret()).unwrap_err();
        assert!(err.to_string().starts_with("DB_USER is invalid"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn conflicting_sources_are_refused_naming_both() {
        for other in ["DATABASE_URL", "DB_PASSWORD", "DB_IAM_AUTH"] {
            let value = if other == "DATABASE_URL" {
                "postgres://h/db"
            } else {
                "true"
            };
            let err = target_with_secret(
                lookup(&[("DB_HOST", "h"), (other, value)]),
                ARN,
                &rds_secret(),
            )
            .unwrap_err();
            assert!(
                err.to_string().starts_with("DB_SECRET_ARN is invalid"),
                "{err}"
            );
            assert!(err.to_string().contains(other), "{err}");
        }
        let err = password_source_from_lookup(lookup(&[
            ("DB_IAM_AUTH", "true"),
            ("DATABASE_URL", "postgres://u@h/db"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
        let err = password_source_from_lookup(lookup(&[
            ("DB_IAM_AUTH", "true"),
            ("DB_HOST", "h"),
            ("DB_SSLMODE", "disable"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string().starts_with("DB_SSLMODE is invalid"),
            "{err}"
        );
        let err = password_source_from_lookup(lookup(&[("DB_IAM_AUTH", "yes")])).unwrap_err();
        assert!(
            err.to_string().starts_with("DB_IAM_AUTH is invalid"),
            "{err}"
        );
    }

    #[test]
    fn the_region_comes_from_the_environment_or_the_arn() {
        assert_eq!(
            region(&lookup(&[]), Some(ARN)).as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region(&lookup(&[("AWS_REGION", "us-east-2")]), Some(ARN)).as_deref(),
            Some("us-east-2")
        );
        assert_eq!(region(&lookup(&[]), Some("db-master")), None);
    }
}

#[cfg(test)]
mod iam_switch_tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            owned
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    const IAM_READY: [(&str, &str); 5] = [
        ("DB_HOST", "proxy.example"),
        ("DB_SSLMODE", "verify-full"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];

    #[test]
    fn db_iam_auth_reads_like_every_boolean_variable() {
        for on in ["true", "TRUE", "1"] {
            let mut pairs = IAM_READY.to_vec();
            pairs.push(("DB_IAM_AUTH", on));
            assert!(
                password_source_from_lookup(vars(&pairs)).unwrap().is_some(),
                "{on}"
            );
        }
        for off in ["false", "0", ""] {
            let pairs = [("DATABASE_URL", "postgres://u@h/db"), ("DB_IAM_AUTH", off)];
            assert!(
                password_source_from_lookup(vars(&pairs)).unwrap().is_none(),
                "{off}"
            );
        }
        let err = password_source_from_lookup(vars(&[("DB_IAM_AUTH", "maybe")])).unwrap_err();
        assert!(
            err.to_string().starts_with("DB_IAM_AUTH is invalid"),
            "{err}"
        );
    }

    /// On MySQL the token is a cleartext password: without the client library's switch
    /// the login would fail at the first connection, so start-up refuses, naming it; and
    /// TLS turned off is refused as on PostgreSQL.
    #[cfg(feature = "mysql")]
    #[test]
    fn iam_on_mysql_needs_the_cleartext_switch_and_tls() {
        let mut pairs = IAM_READY.to_vec();
        pairs.extend([
            ("DB_IAM_AUTH", "true"),
            ("DB_ENGINE", "mysql"),
            ("DB_NAME", "bookstore"),
            ("DB_USER", "bookstore_app"),
        ]);
        let err =
            password_source_from_lookup(vars(&pairs)).expect_err("refused without the switch");
        assert!(
            err.to_string()
                .starts_with("LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN is not set"),
            "{err}"
        );
        for off in ["0", "no"] {
            let mut with = pairs.clone();
            with.push(("LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN", off));
            assert!(password_source_from_lookup(vars(&with)).is_err(), "{off}");
        }
        pairs.push(("LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN", "1"));
        let source = password_source_from_lookup(vars(&pairs))
            .unwrap()
            .expect("an IAM source");
        let token = source.password().unwrap().expect("a token");
        // Signed for the MySQL port, not PostgreSQL's.
        assert!(
            token
                .expose()
                .starts_with("proxy.example:3306/?Action=connect&DBUser=bookstore_app"),
            "{token:?}"
        );
        let mut plain = pairs.clone();
        plain.retain(|(k, _)| *k != "DB_SSLMODE");
        plain.push(("DB_SSLMODE", "disabled"));
        let err = password_source_from_lookup(vars(&plain)).expect_err("refused without TLS");
        assert!(
            err.to_string().starts_with("DB_SSLMODE is invalid"),
            "{err}"
        );
    }
}
