//! `DB_SSLMODE=verify-full` with `DB_SSLROOTCERT` against a throwaway PostgreSQL with TLS
//! on and a self-signed CA (`bookstore_testing::cluster`, stopped after): the library
//! connects, the built schema Lambda connects, and a certificate that names another host,
//! or comes from another CA, is refused.

use std::{fs, path::Path, process::Command};

use bookstore_schema::{DbConnection, DbTarget, SessionSettings};
use serde_json::json;

use bookstore_testing::{cluster::Cluster, lambda::Kind};

use crate::support::start;

/// Which server certificate the cluster presents.
#[derive(Clone, Copy)]
enum ServerCert {
    /// `DNS:localhost, IP:127.0.0.1`, signed by the test CA.
    Matching,
    /// `DNS:db.example.invalid`, signed by the test CA.
    OtherHost,
}

/// A PostgreSQL cluster of its own (bookstore-testing's), TLS only (`hostssl`; plain TCP
/// is rejected), beside the certificates it was made with.
struct TlsCluster {
    certs: tempdir::Dir,
    cluster: Cluster,
}

/// A folder removed on drop.
mod tempdir {
    use std::{fs, path::PathBuf};

    pub struct Dir(pub PathBuf);

    impl Dir {
        pub fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).expect("create a temporary folder");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn run(what: &str, command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (is it installed?)"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    run(
        &format!("openssl {}", args.join(" ")),
        Command::new("openssl").current_dir(dir).args(args),
    );
}

/// A CA and a server certificate for `san`, signed by it, as `<name>.crt` / `<name>.key`.
fn make_certs(dir: &Path) {
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "other-ca"] {
        let (keyfile, crt, subject) = (
            format!("{ca}.key"),
            format!("{ca}.crt"),
            format!("/CN=bookstore test {ca}"),
        );
        let mut args = vec!["req", "-x509"];
        args.extend(key);
        args.extend([
            "-keyout", &keyfile, "-out", &crt, "-days", "2", "-subj", &subject,
        ]);
        openssl(dir, &args);
    }
    for (name, san) in [
        ("matching", "DNS:localhost,IP:127.0.0.1"),
        ("other-host", "DNS:db.example.invalid"),
    ] {
        let mut args = vec!["req"];
        args.extend(key);
        let (keyfile, csr, crt, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        args.extend([
            "-keyout",
            &keyfile,
            "-out",
            &csr,
            "-subj",
            "/CN=bookstore test server",
        ]);
        openssl(dir, &args);
        fs::write(dir.join(&ext), format!("subjectAltName={san}\n")).expect("write the extension");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
}

impl TlsCluster {
    fn start(cert: ServerCert) -> Self {
        let name = match cert {
            ServerCert::Matching => "matching",
            ServerCert::OtherHost => "other-host",
        };
        let certs = tempdir::Dir::new(&format!("bookstore-tls-{name}"));
        make_certs(&certs.0);
        let read =
            |file: String| fs::read(certs.0.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let cluster = Cluster::builder()
            .hba("local all all trust\nhostssl all all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 reject\n")
            .file("server.crt", read(format!("{name}.crt")))
            .file("server.key", read(format!("{name}.key")))
            .option("ssl", "on")
            .option("ssl_cert_file", "{dir}/server.crt")
            .option("ssl_key_file", "{dir}/server.key")
            .start();
        Self { certs, cluster }
    }

    /// The `DB_*` variables for `host` with `verify-full` against `root_cert`.
    fn env(&self, host: &str, root_cert: &str) -> Vec<(String, String)> {
        [
            ("DB_HOST", host.to_owned()),
            ("DB_PORT", self.cluster.port().to_string()),
            ("DB_NAME", "postgres".to_owned()),
            ("DB_USER", "postgres".to_owned()),
            ("DB_SSLMODE", "verify-full".to_owned()),
            (
                "DB_SSLROOTCERT",
                self.certs.0.join(root_cert).display().to_string(),
            ),
            ("DB_CONNECT_TIMEOUT_SECS", "5".to_owned()),
            ("APP_DB_ROLE", String::new()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn connect(&self, env: &[(String, String)]) -> Result<DbConnection, String> {
        let target =
            DbTarget::from_lookup(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
                .expect("a valid configuration");
        DbConnection::establish(&target, None, SessionSettings::default())
            .map_err(|e| e.to_string())
    }
}

#[test]
fn verify_full_with_the_test_ca_connects_and_another_ca_is_refused() {
    let cluster = TlsCluster::start(ServerCert::Matching);
    for host in ["localhost", "127.0.0.1"] {
        let mut conn = cluster
            .connect(&cluster.env(host, "ca.crt"))
            .unwrap_or_else(|e| panic!("verify-full to {host}: {e}"));
        conn.ping().expect("SELECT 1 over TLS");
    }
    // The server takes TLS only, so the connections above were TLS.
    let mut plain = cluster.env("127.0.0.1", "ca.crt");
    plain.retain(|(k, _)| k != "DB_SSLMODE");
    plain.push(("DB_SSLMODE".into(), "disable".into()));
    let err = cluster.connect(&plain).expect_err("plain TCP is rejected");
    assert!(
        err.contains("no encryption") || err.contains("rejects"),
        "{err}"
    );
    let err = cluster
        .connect(&cluster.env("localhost", "other-ca.crt"))
        .expect_err("a certificate from another CA");
    assert!(err.contains("certificate verify failed"), "{err}");

    // The built artifact: bundled libpq with the OpenSSL linked into it.
    let mut lambda = start("schema-lambda", &cluster.env("localhost", "ca.crt"));
    let status = lambda.invoke(&json!({"action": "status"}));
    assert_eq!(status.kind, Kind::Response, "{status:?}");
    lambda.finish("status over TLS (verify-full)");
}

#[test]
fn verify_full_refuses_a_server_whose_certificate_names_another_host() {
    let cluster = TlsCluster::start(ServerCert::OtherHost);
    let err = cluster
        .connect(&cluster.env("localhost", "ca.crt"))
        .expect_err("the certificate is for db.example.invalid");
    assert!(err.contains("does not match host name"), "{err}");

    let mut lambda = start("schema-lambda", &cluster.env("localhost", "ca.crt"));
    let refused = lambda.invoke(&json!({"action": "status"}));
    assert_eq!(refused.kind, Kind::Error, "{refused:?}");
    assert_eq!(
        refused.error_type(),
        Some("DatabaseUnavailable"),
        "{refused:?}"
    );
    assert!(
        refused.error_message().contains("does not match host name"),
        "{refused:?}"
    );
    lambda.finish("status refused (certificate for another host)");
}
