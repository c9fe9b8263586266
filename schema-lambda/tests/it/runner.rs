//! The runner as deploys run it: concurrent runs, a killed migrator, a proxy in the way, a
//! Lambda deadline. Synthetic migration sets only (in memory, or as folders for the real
//! `schema-admin` binary).

use std::{
    io::Write as _,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use bookstore_schema::migrate::{Migration, RUNNER_APPLICATION_NAME};
use bookstore_testing::TestDb;
use schema_lambda::{Config, handle, handle_until};
use serde_json::{Value, json};

fn config(url: String, migrations: &'static [Migration], app_role: &str) -> Config {
    let role = app_role.to_owned();
    let mut config = Config::from_lookup(move |k| match k {
        "DATABASE_URL" => Some(url.clone()),
        "APP_DB_ROLE" => Some(role.clone()),
        _ => None,
    })
    .unwrap();
    config.migrations = Some(migrations);
    config
}

/// `RUNNER_CONCURRENCY_ROUNDS` (default 20) rounds of 8 concurrent `schema-admin
/// migrate` processes, each round with one more migration: every run exits 0 (app role
/// included) and each migration is applied exactly once.
#[test]
fn eight_concurrent_migrate_runs_by_twenty_rounds_all_succeed_app_role_included() {
    let rounds: usize = std::env::var("RUNNER_CONCURRENCY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .clamp(1, 20);
    let db = TestDb::empty("lambda_concurrent_rounds");
    let started = Instant::now();
    let mut succeeded = 0;
    let mut failures = Vec::new();
    let mut folders = vec![(
        "100_tables".to_owned(),
        "CREATE TABLE book (id serial PRIMARY KEY, title text);\nCREATE TABLE review (id serial PRIMARY KEY, book_id int);\n".to_owned(),
    )];
    for round in 1..=rounds {
        folders.push((
            format!("{}_add_column", 100 + round),
            format!("ALTER TABLE book ADD COLUMN c{round} int;\n"),
        ));
        let pairs: Vec<(&str, &str)> = folders
            .iter()
            .map(|(f, sql)| (f.as_str(), sql.as_str()))
            .collect();
        let dir = migrations_dir(&format!("rounds-{round}"), &pairs);
        let runs: Vec<Child> = (0..8)
            .map(|_| {
                schema_admin(&db, &dir, &[])
                    .env("APP_DB_ROLE", "runner_rounds_app")
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut applied = 0;
        for run in runs {
            let out = run.wait_with_output().unwrap();
            if out.status.success() {
                succeeded += 1;
                let report: Value = serde_json::from_slice(&out.stdout).unwrap();
                applied += report["applied"].as_array().map_or(0, Vec::len);
            } else {
                failures.push(format!(
                    "round {round}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        let expected = if round == 1 { 2 } else { 1 };
        assert!(
            applied <= expected,
            "round {round}: {applied} steps applied, expected {expected}"
        );
    }
    let total = rounds * 8;
    eprintln!(
        "{succeeded} of {total} concurrent schema-admin migrate runs exited 0 in {:?}",
        started.elapsed()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(succeeded, total);
    let mut conn = db.connect();
    assert_eq!(
        bookstore_testing::scalar(
            &mut conn,
            "SELECT count(*) AS n FROM bookstore_schema_migrations"
        ),
        i64::try_from(rounds + 1).unwrap(),
        "each migration applied exactly once"
    );
    assert_eq!(
        bookstore_testing::scalar(
            &mut conn,
            "SELECT count(*) AS n FROM information_schema.role_table_grants \
             WHERE grantee = 'runner_rounds_app' AND table_name = 'book' AND privilege_type = 'DELETE'"
        ),
        1
    );
}

#[test]
fn the_app_role_is_granted_while_the_runner_holds_its_lock() {
    // An event trigger notes, for every GRANT and REVOKE, whether the session granting
    // holds an advisory lock: the runner's.
    static SET: [Migration; 1] = [Migration::new(
        "1",
        "tables_and_a_witness",
        "CREATE TABLE book (id serial PRIMARY KEY, title text);
         CREATE TABLE review (id serial PRIMARY KEY, book_id int);
         CREATE TABLE grants_seen (holds_lock bool NOT NULL);
         CREATE FUNCTION note_grant() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN
             INSERT INTO grants_seen SELECT EXISTS (SELECT 1 FROM pg_locks
                 WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted);
         END $$;
         CREATE EVENT TRIGGER note_grant ON ddl_command_end WHEN TAG IN ('GRANT', 'REVOKE')
             EXECUTE FUNCTION note_grant();",
    )];
    let db = TestDb::empty("lambda_role_under_lock");
    handle(&config(db.url(), &SET, "runner_witness_app"), &json!({})).unwrap();
    let mut conn = db.connect();
    let seen = bookstore_testing::scalar(&mut conn, "SELECT count(*) AS n FROM grants_seen");
    let outside = bookstore_testing::scalar(
        &mut conn,
        "SELECT count(*) AS n FROM grants_seen WHERE NOT holds_lock",
    );
    assert!(seen >= 3, "the witness saw {seen} grants");
    assert_eq!(
        outside, 0,
        "{outside} of {seen} grants ran outside the runner's lock"
    );
    conn.batch_execute("DROP EVENT TRIGGER note_grant").unwrap();
}

/// A folder of synthetic migrations for the real binary: `(folder, up.sql)` pairs.
fn migrations_dir(name: &str, migrations: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("runner-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (folder, up) in migrations {
        let path = dir.join(folder);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("up.sql"), up).unwrap();
        std::fs::write(path.join("metadata.toml"), "phase = \"expand\"\n").unwrap();
    }
    dir
}

fn schema_admin(db: &TestDb, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_schema-admin"));
    cmd.arg("migrate")
        .arg("--json")
        .arg(format!("--migrations-dir={}", dir.display()))
        .args(extra)
        .env_clear()
        .env("DATABASE_URL", db.url())
        .env("APP_DB_ROLE", "")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits until the runner's session in `db` runs a statement containing `text`.
fn wait_for_runner_statement(db: &TestDb, text: &str) {
    let mut conn = db.connect();
    let started = Instant::now();
    let sql = format!(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = '{RUNNER_APPLICATION_NAME}' AND state = 'active' AND query LIKE '%{text}%'"
    );
    while bookstore_testing::scalar(&mut conn, &sql) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the runner never ran `{text}` under its application_name"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_migrator_killed_mid_statement_frees_the_lock_within_seconds() {
    let db = TestDb::empty("schema_admin_killed");
    let slow = migrations_dir("killed-slow", &[("1_sleep", "SELECT pg_sleep(120);\n")]);
    let fast = migrations_dir(
        "killed-fast",
        &[("1_fast", "CREATE TABLE after_the_kill (id int);\n")],
    );
    let mut first = KillOnDrop(schema_admin(&db, &slow, &[]).spawn().unwrap());
    wait_for_runner_statement(&db, "pg_sleep");
    // kill -9: no unlock, no goodbye to the server.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let killed = Instant::now();
    let second = schema_admin(&db, &fast, &[])
        .env("SCHEMA_LOCK_TIMEOUT_SECS", "30")
        .output()
        .unwrap();
    let took = killed.elapsed();
    eprintln!("after kill -9 of a migrator mid-statement, the next migrate finished in {took:?}");
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["applied"][0]["name"], "fast");
    assert!(
        took < Duration::from_secs(8),
        "the dead migrator's lock was held {took:?}"
    );
}

#[test]
fn a_lambda_run_that_cannot_get_its_locks_fails_typed_before_the_deadline() {
    static SET: [Migration; 2] = [
        Migration::new("1", "t", "CREATE TABLE t (id int);"),
        Migration::new("2", "add", "ALTER TABLE t ADD COLUMN y int;"),
    ];
    let db = TestDb::empty("lambda_deadline");
    let mut config = config(db.url(), &SET[..1], "");
    handle(&config, &json!({})).unwrap();
    config.migrations = Some(&SET);
    config.deadline_margin = Duration::from_secs(2);
    config.step_lock_timeout = Duration::from_millis(300);
    let mut holder = db.connect();
    holder.batch_execute("BEGIN; SELECT * FROM t;").unwrap();
    let started = Instant::now();
    let err =
        handle_until(&config, &json!({}), Some(started + Duration::from_secs(6))).unwrap_err();
    let took = started.elapsed();
    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(err.kind(), "LockNotAvailable", "{err}");
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "LockNotAvailable");
    assert!(
        diagnostic.error_message.contains("retries"),
        "{}",
        diagnostic.error_message
    );
    // Retries stop when the next pause would not fit before deadline - margin (4 s): with
    // pauses doubling from 200 ms, and the structural-drift probe run before the first
    // attempt, the last attempt ends between about 2 and 4 s.
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(4_500),
        "answered after {took:?}; the deadline was 6 s with a 2 s margin"
    );
}

#[test]
fn schema_admin_reports_retries_and_lock_wait_per_step_and_lock_not_available_as_json() {
    let db = TestDb::empty("schema_admin_retries");
    let dir = migrations_dir("retries", &[("1_t", "CREATE TABLE t (id int);\n")]);
    assert!(
        schema_admin(&db, &dir, &[])
            .output()
            .unwrap()
            .status
            .success()
    );
    let dir = migrations_dir(
        "retries-2",
        &[
            ("1_t", "CREATE TABLE t (id int);\n"),
            ("2_add", "ALTER TABLE t ADD COLUMN y int;\n"),
        ],
    );
    let held = Arc::new(AtomicBool::new(true));
    let mut holder = db.connect();
    holder.batch_execute("BEGIN; SELECT * FROM t;").unwrap();
    let release = {
        let held = Arc::clone(&held);
        thread::spawn(move || {
            thread::sleep(Duration::from_secs(2));
            holder.batch_execute("ROLLBACK").unwrap();
            held.store(false, Ordering::Relaxed);
        })
    };
    let out = schema_admin(&db, &dir, &[])
        .env("SCHEMA_STEP_LOCK_TIMEOUT_MS", "300")
        .output()
        .unwrap();
    release.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = &report["applied"][0];
    assert!(step["retries"].as_u64().unwrap() >= 1, "{report:#}");
    assert!(
        step["lock_wait_ms"].as_u64().unwrap() >= 1_000,
        "{report:#}"
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));

    // A lock never released: the budget runs out, typed, in the JSON on stdout.
    let dir = migrations_dir(
        "retries-3",
        &[
            ("1_t", "CREATE TABLE t (id int);\n"),
            ("2_add", "ALTER TABLE t ADD COLUMN y int;\n"),
            ("3_add", "ALTER TABLE t ADD COLUMN z int;\n"),
        ],
    );
    let mut holder = db.connect();
    holder.batch_execute("BEGIN; SELECT * FROM t;").unwrap();
    let started = Instant::now();
    let out = schema_admin(&db, &dir, &["--max-lock-wait=2"])
        .env("SCHEMA_STEP_LOCK_TIMEOUT_MS", "300")
        .output()
        .unwrap();
    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(5));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["error"]["kind"], "LockNotAvailable", "{report:#}");
    assert_eq!(report["error"]["version"], "3", "{report:#}");
    assert!(
        report["error"]["retries"].as_u64().unwrap() >= 1,
        "{report:#}"
    );
}

/// pgbouncer in transaction mode in front of `db`, on a free loopback port.
struct Bouncer {
    child: Child,
    port: u16,
    _dir: PathBuf,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_pgbouncer(db: &TestDb) -> Bouncer {
    let found = Command::new("pgbouncer").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "pgbouncer is not installed: run `bash scripts/setup.sh test` (or `apt-get install pgbouncer`)"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("runner-pgbouncer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("userlist.txt"), "\"postgres\" \"\"\n").unwrap();
    let mut ini = std::fs::File::create(dir.join("pgbouncer.ini")).unwrap();
    write!(
        ini,
        "[databases]\nproxied = host=127.0.0.1 port=5432 dbname={db} user=postgres\n\
         [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
         auth_type = trust\nauth_file = {dir}/userlist.txt\npool_mode = transaction\n\
         default_pool_size = 2\nignore_startup_parameters = extra_float_digits,options\n\
         logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
        db = db.name(),
        dir = dir.display()
    )
    .unwrap();
    let mut cmd = Command::new("pgbouncer");
    // pgbouncer refuses to run as root.
    if std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    {
        let _ = Command::new("chown")
            .arg("-R")
            .arg("postgres:")
            .arg(&dir)
            .status();
        cmd.args(["-u", "postgres"]);
    }
    let child = cmd
        .arg(dir.join("pgbouncer.ini"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "pgbouncer did not start; see {}/pgbouncer.log",
            dir.display()
        );
        thread::sleep(Duration::from_millis(50));
    }
    Bouncer {
        child,
        port,
        _dir: dir,
    }
}

#[test]
fn through_pgbouncer_in_transaction_mode_migrate_refuses_naming_the_fix() {
    static SET: [Migration; 1] = [Migration::new("1", "t", "CREATE TABLE t (id int);")];
    let db = TestDb::empty("lambda_pgbouncer");
    let bouncer = start_pgbouncer(&db);
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/proxied?sslmode=disable",
        bouncer.port
    );
    let config = config(url, &SET, "");
    let err = handle(&config, &json!({})).unwrap_err();
    assert_eq!(err.kind(), "WrongConnection", "{err}");
    let message = err.to_string();
    eprintln!("through pgbouncer: {message}");
    assert!(
        message.contains("writer endpoint")
            && message.contains("not through RDS Proxy or pgbouncer"),
        "{message}"
    );
    // Nothing ran: no bookkeeping, no table.
    let status = handle(&config, &json!({"action": "status"})).unwrap();
    assert_eq!(status["schema_version_after"], Value::Null);
    // The same database, directly: fine.
    let direct = self::config(db.url(), &SET, "");
    handle(&direct, &json!({})).unwrap();
}

#[test]
fn each_run_and_step_writes_cloudwatch_emf_metrics_to_the_lambda_log() {
    // The real function binary, against a local Lambda Runtime API, logging as on Lambda.
    let db = TestDb::empty("lambda_emf");
    let log = std::env::temp_dir().join(format!("runner-emf-{}.log", std::process::id()));
    let mut lambda =
        bookstore_testing::lambda::Instance::builder(env!("CARGO_BIN_EXE_schema-lambda"))
            .name("schema-lambda")
            .env("DATABASE_URL", db.url())
            .env("APP_DB_ROLE", "")
            .log_file(&log)
            .start()
            .unwrap();
    let migrate = lambda.invoke(&json!({}));
    assert_eq!(
        migrate.kind,
        bookstore_testing::lambda::Kind::Response,
        "{migrate:?}"
    );
    let failed = lambda.invoke(&json!({"action": "revert", "count": 999}));
    assert_eq!(
        failed.kind,
        bookstore_testing::lambda::Kind::Error,
        "{failed:?}"
    );
    let output = lambda.output();
    drop(lambda);
    let _ = std::fs::remove_file(&log);
    let records: Vec<Value> = output
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    for record in &records {
        bookstore_testing::assert_emf(record);
    }
    let runs: Vec<&Value> = records.iter().filter(|r| r.get("runs").is_some()).collect();
    assert_eq!(runs.len(), 2, "{output}");
    let applied = migrate.body["applied"].as_array().unwrap();
    assert_eq!(
        (&runs[0]["action"], &runs[0]["outcome"]),
        (&json!("migrate"), &json!("ok"))
    );
    assert_eq!(runs[0]["migrations_applied"], applied.len());
    assert_eq!(runs[0]["service"], "schema-lambda");
    assert_eq!(
        (&runs[1]["action"], &runs[1]["outcome"]),
        (&json!("revert"), &json!("Refused"))
    );
    let steps: Vec<&Value> = records
        .iter()
        .filter(|r| r.get("migration_retries").is_some())
        .collect();
    assert_eq!(steps.len(), applied.len(), "one record per step");
    for (step, reported) in steps.iter().zip(applied) {
        assert_eq!(step["migration_version"], reported["version"]);
        assert_eq!(step["migration_retries"], reported["retries"]);
        assert_eq!(step["migration_lock_wait"], reported["lock_wait_ms"]);
    }
    eprintln!("{}\n{}", runs[0], steps[0]);
}

/// A standby of `primary` (`pg_basebackup -R`), on a free port, stopped on drop.
struct Standby {
    dir: PathBuf,
    port: u16,
}

impl Drop for Standby {
    fn drop(&mut self) {
        let _ = as_postgres("pg_ctl")
            .args(["-m", "immediate", "-w", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PostgreSQL's program `name` (on `PATH`, else Debian's newest), as `postgres` when root.
fn as_postgres(name: &str) -> Command {
    let program = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .or_else(|| {
            let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            found.pop()
        })
        .unwrap_or_else(|| panic!("{name} not found: apt-get install postgresql"));
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn succeed(what: &str, command: &mut Command) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_standby(primary: &bookstore_testing::cluster::Cluster) -> Standby {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("runner-standby-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(&dir)
        .status();
    let standby = Standby { dir, port };
    succeed(
        "pg_basebackup",
        as_postgres("pg_basebackup")
            .args(["-h", "127.0.0.1", "-p", &primary.port().to_string()])
            .args(["-U", "postgres", "-R", "-X", "stream", "-c", "fast", "-D"])
            .arg(standby.dir.join("data")),
    );
    let options = format!(
        "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
        standby.dir.display()
    );
    succeed(
        "pg_ctl start (standby)",
        as_postgres("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(standby.dir.join("data"))
            .arg("-l")
            .arg(standby.dir.join("server.log"))
            .args(["-o", &options, "start"]),
    );
    standby
}

#[test]
fn on_a_standby_migrate_refuses_naming_the_writer_endpoint() {
    static SET: [Migration; 1] = [Migration::new("1", "t", "CREATE TABLE t (id int);")];
    let primary = bookstore_testing::cluster::Cluster::builder()
        .hba(
            "local all all trust\nlocal replication all trust\n\
             host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
        )
        .start();
    let standby = start_standby(&primary);
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", standby.port);
    let err = handle(&config(url, &SET, ""), &json!({})).unwrap_err();
    eprintln!("on a standby: {err}");
    assert_eq!(err.kind(), "WrongConnection", "{err}");
    let message = err.to_string();
    assert!(
        message.contains("in recovery") && message.contains("writer endpoint"),
        "{message}"
    );
    let primary_url = format!("postgres://postgres@127.0.0.1:{}/postgres", primary.port());
    handle(&config(primary_url, &SET, ""), &json!({})).unwrap();
}

/// A plain TCP relay to the shared server in a process of its own (what an SSH tunnel
/// or SSM port forwarding is): one server connection per client, for as long as the
/// client keeps it. Python's standard library only.
fn start_tcp_relay() -> (KillOnDrop, u16) {
    const RELAY: &str = r#"
import socket, sys, threading
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    client, _ = listener.accept()
    server = socket.create_connection(("127.0.0.1", 5432))
    threading.Thread(target=pipe, args=(client, server), daemon=True).start()
    threading.Thread(target=pipe, args=(server, client), daemon=True).start()
"#;
    let mut child = Command::new("python3")
        .args(["-c", RELAY])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (apt-get install python3)");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port = line.trim().parse().unwrap();
    (KillOnDrop(child), port)
}

#[test]
fn a_tcp_relay_is_refused_unless_explicitly_allowed() {
    static SET: [Migration; 1] = [Migration::new("1", "t", "CREATE TABLE t (id int);")];
    let db = TestDb::empty("lambda_tcp_relay");
    let (_relay, port) = start_tcp_relay();
    let url = format!("postgres://postgres@127.0.0.1:{port}/{}", db.name());
    let mut config = config(url, &SET, "");
    let err = handle(&config, &json!({})).unwrap_err();
    assert_eq!(err.kind(), "WrongConnection", "{err}");
    assert!(err.to_string().contains("--allow-tcp-relay"), "{err}");
    config.allow_tcp_relay = true;
    let report = handle(&config, &json!({})).unwrap();
    assert_eq!(report["schema_version_after"], "1");
}
