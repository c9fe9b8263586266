//! The built artifacts as [`Instance`]s, and their environments.

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

use bookstore_testing::{
    TestDb,
    lambda::{Instance, unzip_bootstrap},
};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf()
}

static SCRATCH: AtomicU32 = AtomicU32::new(0);

/// A fresh folder under `target/runtime-api/` for one test's files.
fn scratch_dir(what: &str) -> PathBuf {
    let dir = workspace_root().join("target/runtime-api").join(format!(
        "{what}-{}-{}",
        std::process::id(),
        SCRATCH.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// Unzips `target/lambda/<name>/bootstrap.zip` into a scratch folder and starts it as
/// `bookstore-<name>` with `env`, its output kept beside it. A missing zip fails the
/// test, saying how to build it.
pub fn start(name: &str, env: &[(String, String)]) -> Instance {
    start_built("target/lambda", "", name, env)
}

/// [`start`] for the MySQL build, `target/lambda-mysql/<name>/bootstrap.zip`
/// (`bash scripts/build-lambdas.sh --mysql`).
#[cfg(feature = "mysql")]
pub fn start_mysql(name: &str, env: &[(String, String)]) -> Instance {
    start_built("target/lambda-mysql", " --mysql", name, env)
}

fn start_built(folder: &str, flag: &str, name: &str, env: &[(String, String)]) -> Instance {
    let zip = workspace_root().join(format!("{folder}/{name}/bootstrap.zip"));
    assert!(
        zip.is_file(),
        "{} is missing: the end-to-end tests run the built Lambda artifacts. \
         Build them first with `bash scripts/build-lambdas.sh{flag}` \
         (then `bash scripts/check-artifacts.sh{flag}`).",
        zip.display()
    );
    let dir = scratch_dir(name);
    Instance::builder(unzip_bootstrap(&zip, &dir))
        .name(format!("bookstore-{name}"))
        .envs(env.iter().cloned())
        .log_file(dir.join("output.log"))
        .start()
        .unwrap_or_else(|e| panic!("start {name}: {e}"))
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `db` as the `DB_*` parts the functions get on AWS (with `DB_ENGINE=mysql` on MySQL),
/// TLS if the server offers it.
pub fn db_env(db: &TestDb) -> Vec<(String, String)> {
    let mut env = db.db_vars();
    env.push(("DB_SSLMODE".into(), "prefer".into()));
    env
}
