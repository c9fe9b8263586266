//! `DB_SSLMODE=verify-full` with `DB_SSLROOTCERT` against a throwaway PostgreSQL with TLS
//! on and a self-signed CA (initdb/pg_ctl on a free port, stopped after): the library
//! connects, the built schema Lambda connects, and a certificate that names another host,
//! or comes from another CA, is refused.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use bookstore_schema::{DbConnection, DbTarget, SessionSettings};
use serde_json::json;

use bookstore_testing::{lambda::Kind, lookup};

use crate::support::{free_port, start};

/// Which server certificate the cluster presents.
#[derive(Clone, Copy)]
enum ServerCert {
    /// `DNS:localhost, IP:127.0.0.1`, signed by the test CA.
    Matching,
    /// `DNS:db.example.invalid`, signed by the test CA.
    OtherHost,
}

/// A PostgreSQL cluster of its own, TLS only (`hostssl`; plain TCP is rejected).
struct TlsCluster {
    dir: PathBuf,
    port: u16,
}

fn run(what: &str, command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (is it installed?)"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// PostgreSQL's server programs: on PATH, else Debian's versioned folder.
fn pg_bin(name: &str) -> PathBuf {
    let on_path = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    on_path
        .or_else(|| {
            let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            found.pop()
        })
        .unwrap_or_else(|| panic!("{name} not found: apt-get install postgresql"))
}

/// PostgreSQL refuses to run as root: run its programs as `postgres` when we are root.
fn as_postgres(program: &Path) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
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
        let dir = std::env::temp_dir().join(format!(
            "bookstore-tls-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the cluster folder");
        make_certs(&dir);
        let name = match cert {
            ServerCert::Matching => "matching",
            ServerCert::OtherHost => "other-host",
        };
        fs::copy(dir.join(format!("{name}.crt")), dir.join("server.crt")).expect("server.crt");
        fs::copy(dir.join(format!("{name}.key")), dir.join("server.key")).expect("server.key");
        let cluster = Self {
            dir,
            port: free_port(),
        };
        run(
            "chown",
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir),
        );
        run(
            "chmod",
            Command::new("chmod")
                .arg("0600")
                .arg(cluster.dir.join("server.key")),
        );
        run(
            "initdb",
            as_postgres(&pg_bin("initdb"))
                .args(["-U", "postgres", "-A", "trust", "--no-sync", "-D"])
                .arg(cluster.dir.join("data")),
        );
        fs::write(
            cluster.dir.join("data/pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 reject\n",
        )
        .expect("write pg_hba.conf");
        let dir = cluster.dir.display();
        let options = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={dir} \
             -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key -c fsync=off",
            cluster.port
        );
        run(
            "pg_ctl start",
            as_postgres(&pg_bin("pg_ctl"))
                .args(["-w", "-t", "60", "-D"])
                .arg(cluster.dir.join("data"))
                .arg("-l")
                .arg(cluster.dir.join("server.log"))
                .args(["-o", &options, "start"]),
        );
        cluster
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// The `DB_*` variables for `host` with `verify-full` against `root_cert`.
    fn env(&self, host: &str, root_cert: &str) -> Vec<(String, String)> {
        [
            ("DB_HOST", host.to_owned()),
            ("DB_PORT", self.port.to_string()),
            ("DB_NAME", "postgres".to_owned()),
            ("DB_USER", "postgres".to_owned()),
            ("DB_SSLMODE", "verify-full".to_owned()),
            ("DB_SSLROOTCERT", self.file(root_cert)),
            ("DB_CONNECT_TIMEOUT_SECS", "5".to_owned()),
            ("APP_DB_ROLE", String::new()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn connect(&self, env: &[(String, String)]) -> Result<DbConnection, String> {
        let target = DbTarget::from_lookup(lookup(
            &env.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        ))
        .expect("a valid configuration");
        DbConnection::establish(&target, None, SessionSettings::default())
            .map_err(|e| e.to_string())
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = as_postgres(&pg_bin("pg_ctl"))
            .args(["-m", "immediate", "-w", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .output();
        let _ = fs::remove_dir_all(&self.dir);
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
