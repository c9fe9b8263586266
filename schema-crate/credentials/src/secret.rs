//! `DB_SECRET_ARN`: the RDS secret format, and Secrets Manager behind a small trait.

use aws_sdk_secretsmanager::{
    config::{BehaviorVersion, Region, timeout::TimeoutConfig},
    error::DisplayErrorContext,
    operation::get_secret_value::GetSecretValueError,
};
use aws_smithy_http_client::tls;
use serde_json::Value;

use std::{
    future::Future,
    sync::{OnceLock, mpsc},
    time::Duration,
};

use crate::{non_empty, region};
use bookstore_schema::config::{ConfigError, Secret};

/// How long one Secrets Manager call may take, retries included, before start fails.
pub const SECRET_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Where secrets come from: Secrets Manager in production, a fixed value in unit tests.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    /// The `SecretString` of the secret `id`. Errors name the secret, never its value.
    fn secret_string(&self, id: &str) -> Result<String, String>;
}

/// A database secret in the format RDS and Secrets Manager rotation use:
/// `{"engine", "host", "port", "username", "password", "dbname", …}`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RdsSecret {
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: Secret,
    /// `host`, when present.
    pub host: Option<String>,
    /// `port`, when present (a number or a string of digits).
    pub port: Option<u16>,
    /// `dbname`, when present.
    pub dbname: Option<String>,
}

impl RdsSecret {
    /// Parses the secret `id`'s text. Errors say what is wrong with which secret and
    /// quote nothing from it (`serde_json`'s own messages can quote values).
    pub fn parse(id: &str, text: &str) -> Result<Self, String> {
        let not_rds = |why: &str| format!("secret `{id}` is not an RDS database secret: {why}");
        let value: Value = serde_json::from_str(text).map_err(|e| {
            not_rds(&format!(
                "not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(fields) = value else {
            return Err(not_rds("not a JSON object"));
        };
        let optional = |key: &str| -> Result<Option<String>, String> {
            match fields.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(not_rds(&format!("`{key}` is not a string"))),
            }
        };
        let required = |key: &str| -> Result<String, String> {
            optional(key)?.ok_or_else(|| not_rds(&format!("it has no `{key}`")))
        };
        let port = match fields.get("port") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_u64().and_then(|n| u16::try_from(n).ok())),
            Some(Value::String(s)) => Some(s.parse::<u16>().ok()),
            Some(_) => Some(None),
        };
        let port = match port {
            None => None,
            Some(Some(port)) => Some(port),
            Some(None) => return Err(not_rds("`port` is not a port number")),
        };
        Ok(Self {
            username: required("username")?,
            password: Secret::new(required("password")?),
            host: optional("host")?,
            port,
            dbname: optional("dbname")?,
        })
    }
}

/// Secrets Manager through the AWS SDK for Rust.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    /// A client for the region and endpoint the lookup gives (see the module docs).
    pub fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        secret_id: &str,
    ) -> Result<Self, ConfigError> {
        let region = region(get, Some(secret_id)).ok_or(ConfigError::missing(
            "AWS_REGION",
            "set AWS_REGION, or give DB_SECRET_ARN as a full ARN",
        ))?;
        let credentials = super::credentials_from_lookup(get, "DB_SECRET_ARN")?;
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(credentials)
            .http_client(http_client)
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(SECRET_FETCH_TIMEOUT)
                    .build(),
            );
        if let Some(endpoint) = non_empty(get, "AWS_ENDPOINT_URL_SECRETS_MANAGER")
            .or_else(|| non_empty(get, "AWS_ENDPOINT_URL"))
        {
            config = config.endpoint_url(endpoint);
        }
        Ok(Self {
            client: aws_sdk_secretsmanager::Client::from_conf(config.build()),
        })
    }
}

impl SecretStore for SecretsManager {
    fn secret_string(&self, id: &str) -> Result<String, String> {
        let client = self.client.clone();
        let owned_id = id.to_owned();
        let started = std::time::Instant::now();
        let result =
            block_on(async move { client.get_secret_value().secret_id(owned_id).send().await });
        let output = result.map_err(|error| match error.as_service_error() {
            Some(GetSecretValueError::ResourceNotFoundException(_)) => {
                format!("secret `{id}` was not found in Secrets Manager")
            }
            _ => format!(
                "could not read secret `{id}` from Secrets Manager: {}",
                DisplayErrorContext(&error)
            ),
        })?;
        tracing::info!(
            secret = id,
            elapsed_ms = started.elapsed().as_millis(),
            "read the database secret"
        );
        output.secret_string.ok_or_else(|| {
            format!("secret `{id}` has no SecretString (a binary secret is not an RDS secret)")
        })
    }
}

/// Runs `future` on this module's own runtime and waits for it on the calling thread.
///
/// [`PasswordSource::password`] and the configuration functions are synchronous and
/// may be called from inside another Tokio runtime (a Lambda's `main`, a pool's
/// `spawn_blocking`), where `block_on` would panic; a one-worker runtime of our own,
/// started on first use, serves them all.
fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bookstore-aws")
            .enable_all()
            .build()
            .expect("start the runtime for AWS calls")
    });
    let (tx, rx) = mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = tx.send(future.await);
    });
    rx.recv().expect("an AWS call panicked")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "bookstore/db";

    #[test]
    fn parses_the_rds_format_with_a_numeric_or_string_port() {
        let s = RdsSecret::parse(ID, r#"{"engine":"postgres","host":"h","port":5432,"username":"u","password":"p","dbname":"d"}"#).unwrap();
        assert_eq!(
            (
                s.username.as_str(),
                s.password.expose(),
                s.host.as_deref(),
                s.port,
                s.dbname.as_deref()
            ),
            ("u", "p", Some("h"), Some(5432), Some("d"))
        );
        let s = RdsSecret::parse(ID, r#"{"username":"u","password":"p","port":"6432"}"#).unwrap();
        assert_eq!((s.host, s.port, s.dbname), (None, Some(6432), None));
    }

    #[test]
    fn malformed_secrets_are_named_and_never_quoted() {
        for (text, why) in [
            ("hunter2-very-secret", "not valid JSON"),
            (r#"["hunter2-very-secret"]"#, "not a JSON object"),
            (r#"{"username":"u"}"#, "no `password`"),
            (r#"{"password":"hunter2-very-secret"}"#, "no `username`"),
            (
                r#"{"username":"u","password":12345678}"#,
                "`password` is not a string",
            ),
            (
                r#"{"username":"u","password":"hunter2-very-secret","port":"hunter2"}"#,
                "`port` is not a port number",
            ),
        ] {
            let err = RdsSecret::parse(ID, text).unwrap_err();
            assert!(err.contains(ID) && err.contains(why), "{text}: {err}");
            assert!(
                !err.contains("hunter2") && !err.contains("12345678"),
                "leaked: {err}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let s =
            RdsSecret::parse(ID, r#"{"username":"u","password":"hunter2-very-secret"}"#).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
