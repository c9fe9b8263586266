//! TLS to MySQL enforced and verified (the `mysql` feature), against throwaway MariaDB
//! servers this test starts on a free loopback port: one without TLS, then one whose
//! certificate (signed by a CA the test makes) names 127.0.0.1 only. The server listens on
//! 127.0.0.1 and 127.0.0.2, so the same certificate is a certificate for another host when
//! reached as 127.0.0.2, from the same CA: a refusal there is the identity check, not
//! the CA. Debian's libmariadb connected without TLS when asked for `ssl_mode=required`
//! (FACTS.md); this proves the client the feature builds does not.

use std::{
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use bookstore_schema::{DbConnection, DbTarget, SessionSettings};

use crate::count;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A MariaDB server of its own: its data directory, certificates and process, all gone on drop.
struct Throwaway {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Throwaway {
    /// A fresh data directory (no server yet) and a free port.
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "bookstore-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"])
            .arg(format!("--datadir={}", dir.join("data").display()))
            .output()
            .unwrap_or_else(|e| {
                panic!("mariadb-install-db is missing ({e}): bash scripts/setup.sh test installs mariadb-server")
            });
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            dir,
            port,
            child: None,
        }
    }

    /// Starts the server, with TLS from `tls` (CA, certificate, key) when given, and waits
    /// until it accepts connections.
    fn start(&mut self, tls: Option<(&Path, &Path, &Path)>) {
        let mut cmd = Command::new("/usr/sbin/mariadbd");
        cmd.arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1,127.0.0.2")
            .arg(format!("--socket={}", self.dir.join("sock").display()))
            .arg(format!("--pid-file={}", self.dir.join("pid").display()))
            .arg(format!(
                "--log-error={}",
                self.dir.join("error.log").display()
            ))
            .arg("--skip-log-bin")
            .arg("--innodb-buffer-pool-size=16M")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((ca, cert, key)) = tls {
            cmd.arg(format!("--ssl-ca={}", ca.display()))
                .arg(format!("--ssl-cert={}", cert.display()))
                .arg(format!("--ssl-key={}", key.display()));
        }
        self.child = Some(cmd.spawn().expect("start mariadbd"));
        let started = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && DbConnection::establish(
                    &self.target("127.0.0.1", ""),
                    None,
                    SessionSettings::default(),
                )
                .is_ok()
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the throwaway MariaDB did not start: {}",
                std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// This server at `host` as a `mysql://` target, with `query` (`ssl_mode=…`).
    fn target(&self, host: &str, query: &str) -> DbTarget {
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        DbTarget::from_url(&format!("mysql://root@{host}:{}/mysql{query}", self.port)).unwrap()
    }

    fn connect(&self, host: &str, query: &str) -> Result<DbConnection, String> {
        DbConnection::establish(&self.target(host, query), None, SessionSettings::default())
            .map_err(|e| e.to_string())
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed (bash scripts/setup.sh test)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate it signed for `san` (`IP:127.0.0.1`), in `dir`.
fn certificates(dir: &Path, san: &str) -> (PathBuf, PathBuf, PathBuf) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=bookstore test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=bookstore test server",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\n"),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

fn assert_refused(result: Result<DbConnection, String>, why: &str) -> String {
    match result {
        Ok(_) => panic!("connected, but {why}"),
        Err(message) => message,
    }
}

#[test]
fn mysql_tls_required_fails_without_tls_and_verify_identity_refuses_a_certificate_for_another_host()
{
    // A server without TLS: `required` (and stricter) must not connect in clear text.
    let mut plain = Throwaway::new("mysql-plain");
    plain.start(None);
    assert!(plain.connect("127.0.0.1", "").is_ok());
    for mode in ["required", "verify_ca", "verify_identity"] {
        let message = assert_refused(
            plain.connect("127.0.0.1", &format!("ssl_mode={mode}")),
            &format!("ssl_mode={mode} was ignored against a server without TLS"),
        );
        assert!(
            message.contains("SSL") || message.contains("TLS") || message.contains("ssl"),
            "ssl_mode={mode} failed for another reason: {message}"
        );
    }
    drop(plain);

    // A server with TLS, its certificate for 127.0.0.1 only.
    let mut tls = Throwaway::new("mysql-tls");
    let (ca, cert, key) = certificates(&tls.dir, "IP:127.0.0.1");
    tls.start(Some((&ca, &cert, &key)));
    let ca_query = |mode: &str| format!("ssl_mode={mode}&ssl_ca={}", ca.display());

    let mut conn = tls.connect("127.0.0.1", "ssl_mode=required").unwrap();
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM information_schema.session_status \
             WHERE variable_name = 'SSL_CIPHER' AND variable_value <> ''"
        ),
        1,
        "ssl_mode=required connected without encryption"
    );
    tls.connect("127.0.0.1", &ca_query("verify_identity"))
        .expect("verify_identity accepts the certificate for the host it names");

    // The same server, reached as 127.0.0.2: the certificate is for another host.
    tls.connect("127.0.0.2", &ca_query("verify_ca"))
        .expect("the CA verifies (so a refusal below is the identity check)");
    let message = assert_refused(
        tls.connect("127.0.0.2", &ca_query("verify_identity")),
        "verify_identity accepted a certificate for another host",
    );
    assert!(
        message.contains("SSL") || message.contains("certificate") || message.contains("host"),
        "verify_identity failed for another reason: {message}"
    );

    // The same checks with the database given as parts, as the functions get it on AWS:
    // libpq's `verify-full` reads as MySQL's `verify_identity`, DB_SSLROOTCERT as `ssl_ca`.
    let parts = |host: &str| {
        let port = tls.port.to_string();
        let ca = ca.display().to_string();
        let target = DbTarget::from_lookup(bookstore_testing::lookup(&[
            ("DB_ENGINE", "mysql"),
            ("DB_HOST", host),
            ("DB_PORT", &port),
            ("DB_NAME", "mysql"),
            ("DB_USER", "root"),
            ("DB_SSLMODE", "verify-full"),
            ("DB_SSLROOTCERT", &ca),
        ]))
        .unwrap();
        DbConnection::establish(&target, None, SessionSettings::default())
            .map_err(|e| e.to_string())
    };
    parts("127.0.0.1").expect("verify-full as parts accepts the certificate for its host");
    assert_refused(
        parts("127.0.0.2"),
        "DB_SSLMODE=verify-full accepted a certificate for another host",
    );

    // A CA that did not sign the certificate is refused too.
    let stranger = tls.dir.join("stranger");
    std::fs::create_dir_all(&stranger).unwrap();
    let (other_ca, _, _) = certificates(&stranger, "IP:127.0.0.1");
    assert_refused(
        tls.connect(
            "127.0.0.1",
            &format!("ssl_mode=verify_ca&ssl_ca={}", other_ca.display()),
        ),
        "verify_ca accepted a certificate another CA signed",
    );
}
