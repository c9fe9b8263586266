//! moto's server (PyPI `moto[server]`): a local Secrets Manager that speaks the real API,
//! for the tests of this crate's `aws` feature and of the functions that use it.

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

/// Installs moto with pip if `moto_server` is missing; panics with the command otherwise.
fn ensure_installed() {
    if installed() {
        return;
    }
    let pip = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            MOTO,
        ])
        .status();
    assert!(
        pip.is_ok_and(|s| s.success()) && installed(),
        "moto_server is not installed and pip could not install it; run: pip install '{MOTO}'"
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
        let body = serde_json::json!({"Name": name, "SecretString": text}).to_string();
        // moto routes on the credential scope of the Authorization header; it checks no signature.
        let request = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Amz-Target: secretsmanager.CreateSecret\r\n\
             Content-Type: application/x-amz-json-1.1\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        stream
            .write_all(request.as_bytes())
            .expect("send CreateSecret");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read CreateSecret's answer");
        let json = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let json = json.trim_start_matches(|c: char| c.is_ascii_hexdigit() || c.is_whitespace());
        let start = response.find('{').expect("a JSON answer");
        let value: serde_json::Value =
            serde_json::from_str(&response[start..response.rfind('}').expect("JSON") + 1])
                .unwrap_or_else(|e| panic!("CreateSecret answered {response}: {e} ({json})"));
        value["ARN"]
            .as_str()
            .unwrap_or_else(|| panic!("no ARN in {value}"))
            .to_owned()
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
