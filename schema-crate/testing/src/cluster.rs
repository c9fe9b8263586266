//! A throwaway PostgreSQL cluster of a test's own (initdb on a free port of 127.0.0.1 in
//! a temporary folder, stopped and removed on drop), for what the shared server on 5432
//! must not be made to do: require passwords, speak TLS only, stop or freeze.
//!
//! PostgreSQL's server programs come from `PATH` or Debian's `/usr/lib/postgresql/*/bin`
//! (`apt-get install postgresql`); as root they run as the `postgres` user.

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// A running throwaway cluster.
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    /// The server's `-c` options, for [`Cluster::start`] after [`Cluster::stop`].
    options: String,
}

/// How to start a [`Cluster`].
#[derive(Clone)]
pub struct ClusterBuilder {
    hba: String,
    options: Vec<(String, String)>,
    files: Vec<(String, Vec<u8>)>,
    superuser_password: Option<String>,
}

impl std::fmt::Debug for ClusterBuilder {
    // The superuser's password stays out of test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterBuilder")
            .field("hba", &self.hba)
            .field("options", &self.options)
            .field(
                "files",
                &self.files.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field(
                "superuser_password",
                &self.superuser_password.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        Self {
            hba: "local all all trust\nhost all all 127.0.0.1/32 trust\n\
                  local replication all trust\nhost replication all 127.0.0.1/32 trust\n"
                .to_owned(),
            options: Vec::new(),
            files: Vec::new(),
            superuser_password: None,
        }
    }
}

impl ClusterBuilder {
    /// `pg_hba.conf`'s whole text (default: trust on the socket and 127.0.0.1).
    #[must_use]
    pub fn hba(mut self, text: &str) -> Self {
        text.clone_into(&mut self.hba);
        self
    }

    /// A server setting (`-c name=value`).
    #[must_use]
    pub fn option(mut self, name: &str, value: &str) -> Self {
        self.options.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A file written into the cluster's folder before start (a certificate, a key),
    /// readable by the server only; refer to it as `{dir}/name` in options.
    #[must_use]
    pub fn file(mut self, name: &str, contents: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.to_owned(), contents.into()));
        self
    }

    /// Sets the `postgres` superuser's password (for `scram-sha-256` lines in the hba).
    #[must_use]
    pub fn superuser_password(mut self, password: &str) -> Self {
        self.superuser_password = Some(password.to_owned());
        self
    }

    /// Starts the cluster; panics naming the step and its output when one fails.
    pub fn start(self) -> Cluster {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("bookstore-cluster-{}-{port}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the cluster folder");
        for (name, contents) in &self.files {
            fs::write(dir.join(name), contents).unwrap_or_else(|e| panic!("write {name}: {e}"));
        }
        if is_root() {
            run(
                "chown",
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir),
            );
        }
        for (name, _) in &self.files {
            run(
                "chmod",
                Command::new("chmod").arg("0600").arg(dir.join(name)),
            );
        }
        let mut cluster = Cluster {
            dir,
            port,
            options: String::new(),
        };
        run(
            "initdb",
            as_postgres(&pg_bin("initdb"))
                .args(["-U", "postgres", "-A", "trust", "--no-sync", "-D"])
                .arg(cluster.data()),
        );
        fs::write(cluster.data().join("pg_hba.conf"), &self.hba).expect("write pg_hba.conf");
        let dir = cluster.dir.display().to_string();
        let mut options = format!(
            "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={dir} -c fsync=off"
        );
        for (name, value) in &self.options {
            options.push_str(&format!(" -c {name}={}", value.replace("{dir}", &dir)));
        }
        cluster.options.clone_from(&options);
        run(
            "pg_ctl start",
            as_postgres(&pg_bin("pg_ctl"))
                .args(["-w", "-t", "60", "-D"])
                .arg(cluster.data())
                .arg("-l")
                .arg(cluster.dir.join("server.log"))
                .args(["-o", &options, "start"]),
        );
        if let Some(password) = &self.superuser_password {
            cluster.psql(&format!(
                "ALTER ROLE postgres PASSWORD '{}'",
                password.replace('\'', "''")
            ));
        }
        cluster
    }
}

impl Cluster {
    /// How to start one.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its folder (certificates and keys given to the builder are there).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs SQL as the superuser over the Unix socket (trusted), panicking on failure.
    pub fn psql(&self, sql: &str) {
        run(
            "psql",
            as_postgres(&pg_bin("psql"))
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
                .arg(&self.dir)
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-c",
                    sql,
                ]),
        );
    }
}

impl Cluster {
    /// A `postgres://` URL for `user` on database `dbname`, over TCP.
    pub fn url(&self, user: &str, dbname: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{dbname}", self.port)
    }

    /// From now on, logs every statement any session sends, each line prefixed with
    /// `user@database`, plus connections and disconnections (read them with
    /// [`Cluster::statements_of`]).
    pub fn log_statements(&self) {
        self.psql("ALTER SYSTEM SET log_statement = 'all'");
        self.psql("ALTER SYSTEM SET log_line_prefix = '%m [%p] %u@%d '");
        self.psql("ALTER SYSTEM SET log_connections = on");
        self.psql("ALTER SYSTEM SET log_disconnections = on");
        self.psql("SELECT pg_reload_conf()");
        // The reload is a signal: wait until a new session sees it.
        for _ in 0..100 {
            let out = self.psql_output("SHOW log_statement");
            if out.trim() == "all" {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("log_statement = 'all' did not take effect");
    }

    /// [`Cluster::log_statements`] for a standby, where `ALTER SYSTEM` cannot run (read
    /// only): the settings go in `postgresql.auto.conf` directly, then a reload.
    pub fn log_statements_as_standby(&self) {
        let conf = self.data().join("postgresql.auto.conf");
        let mut text = fs::read_to_string(&conf).unwrap_or_default();
        text.push_str(
            "log_statement = 'all'\nlog_line_prefix = '%m [%p] %u@%d '\n\
             log_connections = on\nlog_disconnections = on\n",
        );
        fs::write(&conf, text).expect("write postgresql.auto.conf");
        self.psql("SELECT pg_reload_conf()");
        for _ in 0..100 {
            if self.psql_output("SHOW log_statement").trim() == "all" {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("log_statement = 'all' did not take effect on the standby");
    }

    /// Every statement `user` sent since [`Cluster::log_statements`], in order, as
    /// logged: simple-protocol text (`statement: …`) and each extended-protocol
    /// execution (`execute <unnamed>: …`, `execute s1: …`), continuation lines joined.
    pub fn statements_of(&self, user: &str) -> Vec<String> {
        let log = fs::read_to_string(self.dir.join("server.log")).expect("read server.log");
        let marker = format!(" {user}@");
        let mut out: Vec<String> = Vec::new();
        let mut continuing = false;
        for line in log.lines() {
            if let Some(rest) = line.strip_prefix('\t') {
                if continuing && let Some(last) = out.last_mut() {
                    last.push('\n');
                    last.push_str(rest);
                }
                continue;
            }
            continuing = false;
            if !line.contains(&marker) {
                continue;
            }
            let Some((_, message)) = line.split_once("LOG:  ") else {
                continue;
            };
            let statement = message.strip_prefix("statement: ").or_else(|| {
                message
                    .strip_prefix("execute ")
                    .and_then(|rest| rest.split_once(": ").map(|(_, sql)| sql))
            });
            if let Some(sql) = statement {
                out.push(sql.to_owned());
                continuing = true;
            }
        }
        out
    }

    /// How many sessions `user` opened since [`Cluster::log_statements`].
    pub fn connections_of(&self, user: &str) -> usize {
        let log = fs::read_to_string(self.dir.join("server.log")).expect("read server.log");
        log.lines()
            .filter(|line| {
                line.contains("connection authorized: user=")
                    && line.contains(&format!("user={user} "))
            })
            .count()
    }

    /// A streaming replica of this cluster on another free port, in a folder of its own
    /// (`pg_basebackup -R`, started as a hot standby; dropped like any cluster).
    /// `apply_delay` (`recovery_min_apply_delay`, e.g. `"2s"`) makes it lag by that much.
    /// Needs the primary's hba to allow replication from 127.0.0.1 (the default does).
    pub fn replica(&self, apply_delay: Option<&str>) -> Cluster {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "bookstore-cluster-{}-{port}-replica",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the replica folder");
        if is_root() {
            run(
                "chown",
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir),
            );
        }
        let mut replica = Cluster {
            dir,
            port,
            options: String::new(),
        };
        run(
            "pg_basebackup",
            as_postgres(&pg_bin("pg_basebackup"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                ])
                .arg("-D")
                .arg(replica.data())
                .args(["-R", "-X", "stream", "-c", "fast"]),
        );
        let dir = replica.dir.display().to_string();
        let mut options = format!(
            "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={dir} -c fsync=off -c hot_standby=on"
        );
        if let Some(delay) = apply_delay {
            options.push_str(&format!(" -c recovery_min_apply_delay={delay}"));
        }
        replica.options = options;
        replica.start();
        replica
    }

    /// Whether the server is a standby (`pg_is_in_recovery()`).
    pub fn is_replica(&self) -> bool {
        self.psql_output("SELECT pg_is_in_recovery()").trim() == "t"
    }

    /// Waits until this replica has replayed everything `primary` has written so far
    /// (comparing LSNs), up to `timeout`; `false` if it has not.
    pub fn wait_for_replay(&self, primary: &Cluster, timeout: std::time::Duration) -> bool {
        let target = primary.psql_output("SELECT pg_current_wal_lsn()");
        let target = target.trim();
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            let caught_up = self.psql_output(&format!(
                "SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
            ));
            if caught_up.trim() == "t" {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// Stops the server (fast shutdown): connections drop, new ones are refused.
    pub fn stop(&self) {
        run(
            "pg_ctl stop",
            as_postgres(&pg_bin("pg_ctl"))
                .args(["-m", "fast", "-w", "-D"])
                .arg(self.data())
                .arg("stop"),
        );
    }

    /// Starts it again after [`Cluster::stop`], on the same port and settings.
    pub fn start(&self) {
        run(
            "pg_ctl start",
            as_postgres(&pg_bin("pg_ctl"))
                .args(["-w", "-t", "60", "-D"])
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-o", &self.options, "start"]),
        );
    }

    /// Freezes every server process (SIGSTOP): the kernel still accepts connections and
    /// acknowledges data, but nothing answers, as with a hung host. [`Cluster::resume`]
    /// (or drop) undoes it.
    pub fn freeze(&self) {
        self.signal_all("STOP");
    }

    /// Resumes a frozen server (SIGCONT).
    pub fn resume(&self) {
        self.signal_all("CONT");
    }

    /// The postmaster's pid, from `postmaster.pid`.
    fn postmaster_pid(&self) -> Option<u32> {
        fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn signal_all(&self, signal: &str) {
        let Some(postmaster) = self.postmaster_pid() else {
            return;
        };
        let mut pids = vec![postmaster.to_string()];
        // Its children (backends, checkpointer, …), from /proc.
        if let Ok(entries) = fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                    continue;
                };
                // `pid (comm) state ppid …`: comm may hold spaces, so split after ')'.
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|p| p.parse::<u32>().ok());
                if ppid == Some(postmaster) {
                    pids.push(name);
                }
            }
        }
        // A child that exited meanwhile makes `kill` fail for that pid only.
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .args(&pids)
            .output();
    }

    /// Runs SQL as the superuser and returns psql's unaligned output.
    pub fn psql_output(&self, sql: &str) -> String {
        let output = run(
            "psql",
            as_postgres(&pg_bin("psql"))
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
                .arg(&self.dir)
                .args([
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-c",
                    sql,
                ]),
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A frozen server cannot stop.
        self.signal_all_quietly();
        let _ = as_postgres(&pg_bin("pg_ctl"))
            .args(["-m", "immediate", "-w", "-D"])
            .arg(self.data())
            .arg("stop")
            .output();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Cluster {
    fn signal_all_quietly(&self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.resume()));
    }
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

fn run(what: &str, command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (is it installed? apt-get install postgresql)"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// PostgreSQL's server programs: on `PATH`, else Debian's newest versioned folder.
fn pg_bin(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
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

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// PostgreSQL refuses to run as root: its programs run as `postgres` when we are root.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}
