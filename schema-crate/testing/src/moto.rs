//! moto's server (PyPI `moto[server]`): a local Secrets Manager that speaks the real API,
//! for the credential tests (`bookstore-credentials`' `secrets-manager` feature) and those
//! of the functions that use it.

use std::{
    io::{Read as _, Write as _},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The moto release these tests were written against.
pub const MOTO: &str = "moto[server]==5.2.1";

/// A running `moto_server` on a free port of 127.0.0.1; dropping it stops it.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn installed() -> bool {
    Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Panics, naming how to install it, when `moto_server` is missing: a test library installs
/// nothing (this repository's `bash scripts/setup.sh test` does; elsewhere `pip install`).
fn ensure_installed() {
    assert!(
        installed(),
        "moto_server is not installed: run `bash scripts/setup.sh test` in the bookstore \
         repository, or `pip install '{MOTO}'`"
    );
}

impl Moto {
    /// Starts moto and waits until it answers.
    pub fn start() -> Self {
        ensure_installed();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `CreateSecret` with `text` as its `SecretString`; returns the new secret's ARN.
    pub fn create_secret(&self, name: &str, text: &str) -> String {
        let value = self.call(
            "CreateSecret",
            &serde_json::json!({"Name": name, "SecretString": text}),
        );
        value["ARN"]
            .as_str()
            .unwrap_or_else(|| panic!("no ARN in {value}"))
            .to_owned()
    }

    /// `PutSecretValue`: `text` becomes the current `SecretString` of `id` (what a
    /// rotation does).
    pub fn put_secret_value(&self, id: &str, text: &str) {
        self.call(
            "PutSecretValue",
            &serde_json::json!({"SecretId": id, "SecretString": text}),
        );
    }

    /// One Secrets Manager call, answered as JSON.
    fn call(&self, operation: &str, body: &serde_json::Value) -> serde_json::Value {
        let body = body.to_string();
        // moto routes on the credential scope of the Authorization header; it checks no signature.
        let request = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Amz-Target: secretsmanager.{operation}\r\n\
             Content-Type: application/x-amz-json-1.1\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        stream
            .write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("send {operation}: {e}"));
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .unwrap_or_else(|e| panic!("read {operation}'s answer: {e}"));
        let (start, end) = (response.find('{'), response.rfind('}'));
        let (Some(start), Some(end)) = (start, end) else {
            panic!("{operation} answered {response}");
        };
        serde_json::from_str(&response[start..=end])
            .unwrap_or_else(|e| panic!("{operation} answered {response}: {e}"))
    }

    /// `CreateSecret` of the secret RDS would keep for `db`'s master user (see
    /// [`TestDb::rds_secret_json`](crate::TestDb::rds_secret_json)); returns its ARN.
    pub fn create_rds_secret(&self, name: &str, db: &crate::TestDb, password: &str) -> String {
        self.create_secret(name, &db.rds_secret_json(password))
    }

    /// The variables that point an AWS client at this server: the endpoint, a region and
    /// test credentials (moto checks no signature).
    pub fn vars(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), self.endpoint()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_SESSION_TOKEN".into(), "testing-session".into()),
        ]
    }
}
