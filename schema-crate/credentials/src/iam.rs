//! `DB_IAM_AUTH`: RDS IAM authentication tokens, minted locally per new connection.
//!
//! A token is a SigV4 presigned URL (service `rds-db`, action `connect`, 900 s expiry)
//! with the scheme cut off, used as the password; see "Connecting to your DB cluster
//! using IAM authentication" in the Aurora user guide. Signing needs no network call.

use std::{
    fmt,
    time::{Duration, SystemTime},
};

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign},
    sign::v4,
};

use bookstore_schema::{
    config::{ConfigError, PgParts, Secret},
    pool::PasswordSource,
};

use crate::region;

/// How long a token is accepted for logging in (the maximum RDS allows).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// The RDS IAM auth token for `user` at `host:port` in `region`, signed at `now` with
/// `credentials`. Pure: the known-answer tests fix every input.
pub fn auth_token(
    credentials: &Credentials,
    region: &str,
    host: &str,
    port: u16,
    user: &str,
    now: SystemTime,
) -> Result<Secret, String> {
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("rds-db")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| format!("RDS IAM token: {e}"))?
        .into();
    let resource = format!("{host}:{port}/?Action=connect&DBUser={}", uri_encode(user));
    let url = format!("https://{resource}");
    let request = SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::empty())
        .map_err(|e| format!("RDS IAM token for {host}:{port}: {e}"))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| format!("RDS IAM token for {host}:{port}: {e}"))?
        .into_parts();
    // The signature last, as botocore and the other SDKs write it: the same bytes.
    let mut params = instructions.params().to_vec();
    params.sort_by_key(|(name, _)| *name == "X-Amz-Signature");
    let mut token = resource;
    for (name, value) in params {
        token.push('&');
        token.push_str(name);
        token.push('=');
        token.push_str(&uri_encode(&value));
    }
    Ok(Secret::new(token))
}

/// SigV4's URI encoding: everything but `A-Z a-z 0-9 - _ . ~` as `%XX`.
fn uri_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A [`PasswordSource`] that mints a new RDS IAM token for every new connection.
pub struct IamAuth {
    host: String,
    port: u16,
    user: String,
    region: String,
    credentials: Credentials,
}

impl fmt::Debug for IamAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamAuth")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl IamAuth {
    /// Tokens for `user` at `host:port` in `region`, signed with `credentials`.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        region: impl Into<String>,
        credentials: Credentials,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            user: user.into(),
            region: region.into(),
            credentials,
        }
    }

    /// Tokens for the target's host, port and user; region and credentials from the
    /// lookup (see the module docs).
    pub fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        parts: &PgParts,
    ) -> Result<Self, ConfigError> {
        Self::from_lookup_for(get, &parts.host, parts.port, &parts.user)
    }

    /// Tokens for `user` at `host:port` (any engine's parts: [`DbTarget::login`]); region
    /// and credentials from the lookup (see the module docs).
    ///
    /// [`DbTarget::login`]: bookstore_schema::DbTarget::login
    pub fn from_lookup_for(
        get: &impl Fn(&str) -> Option<String>,
        host: &str,
        port: u16,
        user: &str,
    ) -> Result<Self, ConfigError> {
        let region = region(get, None).ok_or(ConfigError::missing(
            "AWS_REGION",
            "RDS IAM tokens are signed for a region (Lambda sets AWS_REGION)",
        ))?;
        let credentials = super::credentials_from_lookup(get, "DB_IAM_AUTH")?;
        Ok(Self::new(
            host.to_owned(),
            port,
            user.to_owned(),
            region,
            credentials,
        ))
    }
}

impl PasswordSource for IamAuth {
    fn password(&self) -> Result<Option<Secret>, String> {
        // Signing is local: no network call, nothing to wait for.
        let token = auth_token(
            &self.credentials,
            &self.region,
            &self.host,
            self.port,
            &self.user,
            SystemTime::now(),
        )?;
        tracing::debug!(host = %self.host, user = %self.user, "minted an RDS IAM auth token");
        Ok(Some(token))
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn at(unix_secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix_secs)
    }

    // Known answers: each expected token is what botocore's `generate_db_auth_token`
    // gives for the same inputs; the first is also the AWS SDK for Rust's own test vector
    // (aws-sdk-rds `auth_token`), the second a published canonical-request walkthrough.
    #[test]
    fn the_token_matches_the_documented_signing_algorithm() {
        let token = auth_token(
            &Credentials::new("akid", "secret", None, None, "test"),
            "us-east-1",
            "prod-instance.us-east-1.rds.amazonaws.com",
            3306,
            "peccy",
            at(1_724_709_600), // 2024-08-26T22:00:00Z
        )
        .unwrap();
        assert_eq!(
            token.expose(),
            "prod-instance.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=peccy\
             &X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=akid%2F20240826%2Fus-east-1%2Frds-db%2Faws4_request\
             &X-Amz-Date=20240826T220000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=dd0cba843009474347af724090233265628ace491ea17ce3eb3da098b983ad89"
        );
        let token = auth_token(
            &Credentials::new(
                "AKIAKIAKIAKIAKIAKIAK",
                "1111111111111111111111111111111111111111",
                None,
                None,
                "test",
            ),
            "eu-west-1",
            "mydb.c1fycpveg7nf.us-west-2.rds.amazonaws.com",
            3306,
            "mysqluser",
            at(1_532_290_956), // 2018-07-22T20:22:36Z
        )
        .unwrap();
        assert!(
            token.expose().ends_with(
                "&X-Amz-Signature=b77c366f1379046852039d21f733035fa73696275c03dd2908ef267c3049d831"
            ),
            "{}",
            token.expose()
        );
    }

    #[test]
    fn a_session_token_is_signed_into_the_token() {
        // Lambda's role credentials always carry a session token.
        let token = auth_token(
            &Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                Some("IQoJb3JpZ2luX2VjEXAMPLE+/=".into()),
                None,
                "test",
            ),
            "eu-west-1",
            "bookstore-proxy.proxy-abc.eu-west-1.rds.amazonaws.com",
            5432,
            "bookstore_app",
            at(1_795_262_400), // 2026-11-21T12:00:00Z
        )
        .unwrap();
        assert_eq!(
            token.expose(),
            "bookstore-proxy.proxy-abc.eu-west-1.rds.amazonaws.com:5432/?Action=connect\
             &DBUser=bookstore_app&X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIDEXAMPLE%2F20261121%2Feu-west-1%2Frds-db%2Faws4_request\
             &X-Amz-Date=20261121T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
             &X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2B%2F%3D\
             &X-Amz-Signature=20aab1cd04640bb009b2d4ab10c9e1bd24b11a682609f51e1c1953ad3d7cdede"
        );
        assert_eq!(format!("{token:?}"), "Secret([REDACTED])");
    }

    #[test]
    fn each_new_connection_gets_a_token_signed_now() {
        let source = IamAuth::new(
            "proxy.example",
            5432,
            "bookstore_app",
            "eu-west-1",
            Credentials::new("AKID", "SECRET", None, None, "t"),
        );
        let before = SystemTime::now();
        let token = source.password().unwrap().unwrap();
        let expected_prefix = "proxy.example:5432/?Action=connect&DBUser=bookstore_app&";
        assert!(
            token.expose().starts_with(expected_prefix),
            "{}",
            token.expose()
        );
        let date = token
            .expose()
            .split('&')
            .find_map(|kv| kv.strip_prefix("X-Amz-Date="))
            .unwrap()
            .to_owned();
        let signed_at = |t: SystemTime| {
            auth_token(
                &Credentials::new("AKID", "SECRET", None, None, "t"),
                "eu-west-1",
                "proxy.example",
                5432,
                "bookstore_app",
                t,
            )
            .unwrap()
            .expose()
            .to_owned()
        };
        // Signed within this test's run: the token for `before` or a second later.
        let candidates = [
            signed_at(before),
            signed_at(before + Duration::from_secs(1)),
            signed_at(before + Duration::from_secs(2)),
        ];
        assert!(
            candidates.iter().any(|c| c == token.expose()),
            "token dated {date} was not signed now"
        );
        assert!(!format!("{source:?}").contains("SECRET"));
    }

    #[test]
    fn user_names_are_uri_encoded() {
        assert_eq!(uri_encode("app user+1/é"), "app%20user%2B1%2F%C3%A9");
        assert_eq!(uri_encode("A-z_0.9~"), "A-z_0.9~");
    }
}
