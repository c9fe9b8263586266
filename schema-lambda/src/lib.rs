#![doc = include_str!("../README.md")]

// Over 400 lines with its unit tests: the configuration, the events (plain and CloudFormation)
// and the report are the one contract the Lambda and `schema-admin` share; the text
// rendering lives in `render`.

pub mod dir;
pub mod metrics;
mod render;

pub use render::render;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aws_lambda_events::cloudformation::CloudFormationCustomResourceRequest;
use bookstore_schema::{
    Backend, DbConnection, PoolConfig,
    config::ConfigError,
    env::Env,
    migrate::{
        self, BlockedContract, Drift, Migration, MigrationError, MigrationRef, Plan, RunOptions,
        RunReport, Runner, Status, Step,
    },
    pool::{DbManager, ManagerError},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Default for `SCHEMA_LOCK_TIMEOUT_SECS`.
pub const DEFAULT_LOCK_TIMEOUT_SECS: u64 = 60;

/// Default for `SCHEMA_DEADLINE_MARGIN_SECS`: time to roll back, unlock and answer.
pub const DEFAULT_DEADLINE_MARGIN_SECS: u64 = 10;

/// What the provisioning function reads from the environment.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `DATABASE_URL` or `DB_*` | the database, as in `bookstore_schema::config` (use the cluster's writer, not the proxy: the advisory lock must not go through a transaction-pooling proxy) | — |
/// | `APP_DB_ROLE` | the app role `migrate` creates and grants DML only; empty to skip | `bookstore_app` |
/// | `SCHEMA_LOCK_TIMEOUT_SECS` | how long to wait for another runner | `60` |
/// | `SCHEMA_PIN_WINDOW_SECS` | how recently a function must have recorded its pin to count as live (contract migrations wait for live functions below their floor) | `86400` |
/// | `SCHEMA_STEP_LOCK_TIMEOUT_MS` | `lock_timeout` of every statement the runner sends (a migration's `metadata.toml` may set its own) | `2000` |
/// | `SCHEMA_STEP_STATEMENT_TIMEOUT_SECS` | `statement_timeout` of every statement the runner sends (idem) | `900` |
/// | `SCHEMA_MAX_LOCK_WAIT_SECS` | how long a run may retry steps that could not get their locks (`schema-admin --max-lock-wait`) | `300` |
/// | `SCHEMA_ALLOW_TCP_RELAY` | `true`: accept a session relayed by a plain TCP relay (an SSH tunnel, SSM port forwarding; `schema-admin --allow-tcp-relay`) | `false` |
/// | `SCHEMA_DEADLINE_MARGIN_SECS` | the Lambda: stop retrying and cut statements this long before the invocation's deadline | `10` |
pub struct Config {
    /// How to open the direct connection; replaced when the secret is read again.
    manager: Mutex<DbManager>,
    /// Where the configuration came from, to read the secret again after a rotation.
    lookup: Lookup,
    /// Whether the credentials come from `DB_SECRET_ARN` (and so may be rotated).
    from_secret: bool,
    /// The app role to ensure after `migrate`, if any.
    pub app_role: Option<String>,
    /// Lock timeout.
    pub lock_timeout: Duration,
    /// How recently a function must have recorded its pin to count as live.
    pub pin_window: Duration,
    /// `lock_timeout` per statement.
    pub step_lock_timeout: Duration,
    /// `statement_timeout` per statement.
    pub step_statement_timeout: Duration,
    /// Budget for retrying steps that could not get their locks.
    pub max_lock_wait: Duration,
    /// How long before a Lambda invocation's deadline the run stops.
    pub deadline_margin: Duration,
    /// Accept a session relayed by a plain TCP relay.
    pub allow_tcp_relay: bool,
    /// The migrations to run instead of the embedded ones (`schema-admin
    /// --migrations-dir`: rehearsals and the runner's own tests).
    pub migrations: Option<&'static [Migration]>,
    /// Writes the run's CloudWatch metrics (EMF) to the log stream.
    pub metrics: metrics::Emitter,
}

/// A configuration source: the process environment, or a test's map.
type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("manager", &self.manager)
            .field("from_secret", &self.from_secret)
            .field("app_role", &self.app_role)
            .field("lock_timeout", &self.lock_timeout)
            .field("pin_window", &self.pin_window)
            .field("step_lock_timeout", &self.step_lock_timeout)
            .field("step_statement_timeout", &self.step_statement_timeout)
            .field("max_lock_wait", &self.max_lock_wait)
            .field("deadline_margin", &self.deadline_margin)
            .field("allow_tcp_relay", &self.allow_tcp_relay)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the environment; errors name the variable, never a secret.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] over any lookup.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Self, ConfigError> {
        let lookup: Lookup = Arc::new(get);
        let get = |name: &str| lookup(name);
        let manager = manager_from(&get)?;
        let from_secret = get("DB_SECRET_ARN").is_some_and(|v| !v.trim().is_empty());
        let app_role = match get("APP_DB_ROLE") {
            None => Some(migrate::DEFAULT_APP_ROLE.to_owned()),
            Some(role) if role.is_empty() => None,
            Some(role) => Some(role),
        };
        let lock_timeout = Env::from_lookup(get)
            .secs("SCHEMA_LOCK_TIMEOUT_SECS", 0)?
            .unwrap_or(Duration::from_secs(DEFAULT_LOCK_TIMEOUT_SECS));
        let pin_window = Env::from_lookup(get)
            .secs("SCHEMA_PIN_WINDOW_SECS", 0)?
            .unwrap_or(migrate::DEFAULT_PIN_WINDOW);
        let env = Env::from_lookup(get);
        Ok(Self {
            manager: Mutex::new(manager),
            lookup: Arc::clone(&lookup),
            from_secret,
            app_role,
            lock_timeout,
            pin_window,
            step_lock_timeout: env
                .millis("SCHEMA_STEP_LOCK_TIMEOUT_MS", 1)?
                .unwrap_or(migrate::DEFAULT_STEP_LOCK_TIMEOUT),
            step_statement_timeout: env
                .secs("SCHEMA_STEP_STATEMENT_TIMEOUT_SECS", 1)?
                .unwrap_or(migrate::DEFAULT_STEP_STATEMENT_TIMEOUT),
            max_lock_wait: env
                .secs("SCHEMA_MAX_LOCK_WAIT_SECS", 0)?
                .unwrap_or(migrate::DEFAULT_MAX_LOCK_WAIT),
            deadline_margin: env
                .secs("SCHEMA_DEADLINE_MARGIN_SECS", 0)?
                .unwrap_or(Duration::from_secs(DEFAULT_DEADLINE_MARGIN_SECS)),
            allow_tcp_relay: env.bool("SCHEMA_ALLOW_TCP_RELAY")?.unwrap_or(false),
            migrations: None,
            metrics: metrics::Emitter::from_lookup(get),
        })
    }
}

/// The direct connection's manager: `DB_*` parts completed by the `DB_SECRET_ARN` secret
/// (read here) when set.
fn manager_from(get: &dyn Fn(&str) -> Option<String>) -> Result<DbManager, ConfigError> {
    let target = bookstore_credentials::target_from_lookup(get)?;
    let pool = PoolConfig::from_lookup(get)?;
    // The runner's direct session notices a vanished server within seconds.
    DbManager::new(
        target,
        bookstore_credentials::password_source_from_lookup(get)?,
        pool.session.with_tcp_keepalives(true),
    )
}

/// What to do, as sent in the event's `action`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
pub enum Action {
    /// Apply every pending migration, then ensure the app role.
    Migrate {
        /// Apply a pending migration older than the newest applied one.
        #[serde(default)]
        allow_out_of_order: bool,
        /// Apply contract migrations although live functions pin a version below their
        /// floor: an operator's explicit override of the compatibility window.
        #[serde(default)]
        ignore_live_pins: bool,
        /// Stop after this version (default: apply every pending migration).
        #[serde(default)]
        to: Option<String>,
        /// The digest of the approved plan: refuse (`PlanChanged`) if what would run
        /// differs.
        #[serde(default)]
        expected_digest: Option<String>,
        /// Apply migrations that touch tables whose structure drifted (an explicit
        /// override of `DriftBlocked`).
        #[serde(default)]
        ignore_drift: bool,
    },
    /// Report applied, pending and drift.
    Status,
    /// Report what `migrate` would run, with the SQL and the plan's digest.
    Plan {
        /// Run the pending transactional migrations in a transaction that is rolled back,
        /// reporting per statement its time, the locks it took and the tables' sizes.
        #[serde(default)]
        rehearse: bool,
        /// Plan up to this version (as `migrate` with `to` would run).
        #[serde(default)]
        to: Option<String>,
    },
    /// Run `down.sql` of the newest `count` migrations, or of every one newer than `to`.
    Revert {
        /// How many (default 1; not with `to`).
        #[serde(default)]
        count: Option<usize>,
        /// Revert every migration newer than this version (not with `count`).
        #[serde(default)]
        to: Option<String>,
        /// Revert although live functions need the migrations (an explicit override).
        #[serde(default)]
        ignore_live_pins: bool,
        /// Revert although `down.sql` drops tables or columns holding data (an explicit
        /// decision, after a backup).
        #[serde(default)]
        allow_data_loss: bool,
    },
    /// Adopt a database the Python bookstore created.
    Baseline,
}

impl Action {
    /// What an empty event, a CDK trigger or a CloudFormation `Create`/`Update` asks for.
    pub fn migrate() -> Self {
        Self::Migrate {
            allow_out_of_order: false,
            ignore_live_pins: false,
            to: None,
            expected_digest: None,
            ignore_drift: false,
        }
    }
}

impl Action {
    /// The action's name, as the report and the metrics give it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Migrate { .. } => "migrate",
            Self::Status => "status",
            Self::Plan { .. } => "plan",
            Self::Revert { .. } => "revert",
            Self::Baseline => "baseline",
        }
    }
}

/// An event as the function receives it, already decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// An explicit or implied action.
    Run(Action),
    /// A CloudFormation custom-resource `Delete`: nothing to do to the schema.
    CustomResourceDelete {
        /// The physical id to hand back.
        physical_resource_id: String,
    },
}

/// Where a request came from, which decides the response's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A direct invocation, the CDK trigger, or `schema-admin`.
    Direct,
    /// A CloudFormation custom resource (through the CDK provider framework).
    CustomResource,
}

/// The physical resource id reported to CloudFormation.
pub const PHYSICAL_RESOURCE_ID: &str = "bookstore-schema";

/// Decides what an event asks for.
///
/// - `{}` or `null` (an empty invocation, a CDK `triggers.Trigger`) → migrate;
/// - `{"action": "migrate" | "status" | "plan" | "revert" | "baseline", …}`;
/// - a CloudFormation custom-resource event: `Create`/`Update` → migrate, `Delete` → nothing.
pub fn parse_event(event: &Value) -> Result<(Request, Origin), SchemaLambdaError> {
    let bad = |reason: String| SchemaLambdaError::BadEvent(reason);
    match event {
        Value::Null => {
            return Ok((Request::Run(Action::migrate()), Origin::Direct));
        }
        Value::Object(map) if map.is_empty() => {
            return Ok((Request::Run(Action::migrate()), Origin::Direct));
        }
        Value::Object(map) if map.contains_key("RequestType") => {
            let request: CloudFormationCustomResourceRequest =
                serde_json::from_value(event.clone())
                    .map_err(|e| bad(format!("not a CloudFormation custom-resource event: {e}")))?;
            let request = match request {
                CloudFormationCustomResourceRequest::Delete(delete) => {
                    Request::CustomResourceDelete {
                        physical_resource_id: delete.physical_resource_id,
                    }
                }
                _ => Request::Run(Action::migrate()),
            };
            return Ok((request, Origin::CustomResource));
        }
        Value::Object(_) => {}
        other => return Err(bad(format!("expected a JSON object, got `{other}`"))),
    }
    let action: Action = serde_json::from_value(event.clone()).map_err(|e| {
        bad(format!("{e}; expected {{\"action\": \"migrate\" | \"status\" | \"plan\" | \"revert\" | \"baseline\"}}"))
    })?;
    if let Action::Revert {
        count: Some(_),
        to: Some(_),
        ..
    } = &action
    {
        return Err(bad("revert takes `count` or `to`, not both".to_owned()));
    }
    Ok((Request::Run(action), Origin::Direct))
}

/// The JSON report every action answers with.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The action that ran.
    pub action: &'static str,
    /// The bookstore-schema version doing the work.
    pub crate_version: &'static str,
    /// The backend.
    pub backend: Backend,
    /// Newest applied version before.
    pub schema_version_before: Option<String>,
    /// Newest applied version after.
    pub schema_version_after: Option<String>,
    /// Migrations applied (or reverted, or recorded by baseline), with durations.
    pub applied: Vec<Step>,
    /// What is still pending.
    pub pending: Vec<MigrationRef>,
    /// Drift between the database's record and the embedded migrations.
    pub drift: Vec<Drift>,
    /// Pending contract migrations that `migrate` refuses while live functions pin a
    /// version below their floor (`plan` and `status`).
    pub blocked: Vec<BlockedContract>,
    /// `plan`: the digest of what `migrate` would do (pass it back as `expected_digest`);
    /// `migrate`: the digest of what it did.
    pub plan_digest: Option<String>,
    /// `status`: every applied migration with when and how long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// `plan`: the pending migrations with their SQL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

impl Report {
    fn from_run(action: &'static str, backend: Backend, run: RunReport) -> Self {
        Self {
            action,
            crate_version: bookstore_schema::VERSION,
            backend,
            schema_version_before: run.version_before,
            schema_version_after: run.version_after,
            applied: run.steps,
            pending: run.pending,
            drift: run.drift,
            plan_digest: run.plan_digest,
            blocked: Vec::new(),
            status: None,
            plan: None,
        }
    }
}

/// A failure the caller can act on; `kind()` is the Lambda error type.
#[derive(Debug, thiserror::Error)]
pub enum SchemaLambdaError {
    /// The event could not be understood.
    #[error("bad event: {0}")]
    BadEvent(String),
    /// The function is misconfigured.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// The database could not be reached.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// The runner refused or failed.
    #[error(transparent)]
    Migration(#[from] MigrationError),
}

impl SchemaLambdaError {
    /// The error type reported to Lambda (`MigrationFailed`, `LockTimeout`, `ChecksumMismatch`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadEvent(_) => "BadEvent",
            Self::Config(_) => "ConfigError",
            Self::Connect(_) => "DatabaseUnavailable",
            Self::Migration(e) => e.kind(),
        }
    }
}

impl SchemaLambdaError {
    /// The error as `schema-admin --json` prints it: `{"error": {"kind", "message", …}}`,
    /// with the fields a script acts on (a step's version, retries and lock wait).
    pub fn to_json(&self) -> Value {
        let mut error = serde_json::json!({ "kind": self.kind(), "message": self.to_string() });
        if let Self::Migration(MigrationError::LockNotAvailable {
            version,
            name,
            retries,
            waited_ms,
            ..
        }) = self
        {
            error["version"] = version.as_str().into();
            error["name"] = name.as_str().into();
            error["retries"] = (*retries).into();
            error["lock_wait_ms"] = u64::try_from(*waited_ms).unwrap_or(u64::MAX).into();
        }
        serde_json::json!({ "error": error })
    }
}

impl From<SchemaLambdaError> for lambda_runtime::Diagnostic {
    fn from(error: SchemaLambdaError) -> Self {
        Self {
            error_type: error.kind().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Tells Lambda why init failed, typed with the error's
/// [`kind`](SchemaLambdaError::kind) (the one reporter every function shares, in
/// `bookstore_kit::lambda`). Best effort; does nothing outside Lambda.
pub fn report_init_error(error: &SchemaLambdaError) {
    bookstore_kit::lambda::report_init_error(error.kind(), &error.to_string());
}

/// Opens the direct connection the runner works on. When the credentials come from
/// `DB_SECRET_ARN` and the server refuses them, the secret is read once more (a rotation
/// may have changed the password since this container started) and the connection tried
/// again with it; the fresh credentials are kept for the next invocations.
pub fn connect(config: &Config) -> Result<DbConnection, SchemaLambdaError> {
    let refused = |e: &ManagerError| SchemaLambdaError::Connect(e.to_string());
    let first = lock(&config.manager).connect();
    match first {
        Err(error) if config.from_secret && is_authentication_failure(&error) => {
            tracing::warn!(
                error = %error,
                "the database refused the secret's credentials; reading the secret again (rotated?)"
            );
            let fresh = manager_from(&|name: &str| (config.lookup)(name))?;
            let conn = fresh.connect().map_err(|e| refused(&e))?;
            *lock(&config.manager) = fresh;
            tracing::info!("connected with the secret read again");
            Ok(conn)
        }
        other => other.map_err(|e| refused(&e)),
    }
}

fn lock(manager: &Mutex<DbManager>) -> std::sync::MutexGuard<'_, DbManager> {
    // A panic while holding it cannot leave a manager half replaced: use it as it is.
    manager
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the server refused the credentials (libpq's message for SQLSTATE 28P01 and
/// 28000: a wrong password, an expired IAM token).
fn is_authentication_failure(error: &ManagerError) -> bool {
    let message = error.to_string();
    message.contains("password authentication failed")
        || message.contains("PAM authentication failed")
        || message.contains("authentication failed for user")
}

/// Runs one action on `conn`.
pub fn run(
    config: &Config,
    conn: &mut DbConnection,
    action: &Action,
) -> Result<Report, SchemaLambdaError> {
    run_until(config, conn, action, None)
}

/// [`run`] that ends, typed, by `deadline` (a Lambda invocation's, minus the margin).
pub fn run_until(
    config: &Config,
    conn: &mut DbConnection,
    action: &Action,
    deadline: Option<Instant>,
) -> Result<Report, SchemaLambdaError> {
    let backend = conn.backend();
    let options = |allow_out_of_order, ignore_live_pins| {
        let options = RunOptions::default()
            .with_lock_timeout(config.lock_timeout)
            .with_allow_out_of_order(allow_out_of_order)
            .with_pin_window(config.pin_window)
            .with_ignore_live_pins(ignore_live_pins)
            .with_app_role(config.app_role.clone())
            .with_step_lock_timeout(config.step_lock_timeout)
            .with_step_statement_timeout(config.step_statement_timeout)
            .with_max_lock_wait(config.max_lock_wait)
            .with_allow_tcp_relay(config.allow_tcp_relay);
        match deadline {
            Some(deadline) => options.with_deadline(deadline),
            None => options,
        }
    };
    let runner = |options: RunOptions| match config.migrations {
        Some(set) => Runner::with_migrations(set, options),
        None => Runner::new(options),
    };
    let report = match action {
        Action::Migrate {
            allow_out_of_order,
            ignore_live_pins,
            to,
            expected_digest,
            ignore_drift,
        } => {
            // The app role is ensured by the runner, under its lock.
            let runner = runner(
                options(*allow_out_of_order, *ignore_live_pins)
                    .with_expected_digest(expected_digest.clone())
                    .with_ignore_drift(*ignore_drift),
            );
            let run = match to {
                Some(version) => runner.migrate_to(conn, version)?,
                None => runner.migrate(conn)?,
            };
            Report::from_run("migrate", backend, run)
        }
        Action::Revert {
            count,
            to,
            ignore_live_pins,
            allow_data_loss,
        } => {
            let runner =
                runner(options(false, *ignore_live_pins).with_allow_data_loss(*allow_data_loss));
            let run = match to {
                Some(version) => runner.revert_to(conn, version)?,
                None => runner.revert(conn, count.unwrap_or(1))?,
            };
            Report::from_run("revert", backend, run)
        }
        Action::Baseline => Report::from_run(
            "baseline",
            backend,
            runner(options(false, false)).baseline(conn)?,
        ),
        Action::Status => {
            let status = runner(options(false, false)).status(conn)?;
            Report {
                action: "status",
                crate_version: bookstore_schema::VERSION,
                backend,
                schema_version_before: status.current_version.clone(),
                schema_version_after: status.current_version.clone(),
                applied: Vec::new(),
                pending: status.pending.clone(),
                drift: status.drift.clone(),
                blocked: status.blocked.clone(),
                plan_digest: None,
                status: Some(status),
                plan: None,
            }
        }
        Action::Plan { rehearse, to } => {
            let runner = runner(options(false, false));
            let plan = match (rehearse, to) {
                (true, to) => runner.rehearse(conn, to.as_deref())?,
                (false, Some(version)) => runner.plan_to(conn, version)?,
                (false, None) => runner.plan(conn)?,
            };
            Report {
                action: "plan",
                crate_version: bookstore_schema::VERSION,
                backend,
                schema_version_before: plan.current_version.clone(),
                schema_version_after: plan.current_version.clone(),
                applied: Vec::new(),
                pending: plan.pending.iter().map(MigrationRef::from).collect(),
                drift: plan.drift.clone(),
                blocked: plan.blocked.clone(),
                plan_digest: Some(plan.digest.clone()),
                status: None,
                plan: Some(plan),
            }
        }
    };
    tracing::info!(action = report.action, before = ?report.schema_version_before, after = ?report.schema_version_after, applied = report.applied.len(), "schema action done");
    Ok(report)
}

/// What a CloudFormation custom resource exposes of a run (`Fn::GetAtt`; CloudFormation
/// takes strings). One key per thing the runner reports, so a stack can output or
/// depend on it: the schema version, how many migrations ran, how many retries and how
/// long they waited for locks, the contract migrations held back, the drift found.
/// New report fields (the approved plan's digest, structural drift) get their key here.
fn custom_resource_data(report: &Report) -> Value {
    serde_json::json!({
        "SchemaVersion": report.schema_version_after.clone().unwrap_or_default(),
        "Applied": report.applied.len().to_string(),
        "Retries": report.applied.iter().map(|s| u64::from(s.retries)).sum::<u64>().to_string(),
        "LockWaitMs": report.applied.iter().map(|s| s.lock_wait_ms).sum::<i64>().to_string(),
        "BlockedContracts": report
            .blocked
            .iter()
            .map(|b| b.version.as_str())
            .collect::<Vec<_>>()
            .join(","),
        "DriftCount": report.drift.len().to_string(),
        "PlanDigest": report.plan_digest.clone().unwrap_or_default(),
    })
}

/// Handles one Lambda event end to end and returns the JSON response.
pub fn handle(config: &Config, event: &Value) -> Result<Value, SchemaLambdaError> {
    handle_until(config, event, None)
}

/// [`handle`] for an invocation that Lambda ends at `invocation_deadline`: the run stops
/// retrying, and cuts its statements, [`Config::deadline_margin`] before it, so that it
/// answers with a typed error instead of being killed.
pub fn handle_until(
    config: &Config,
    event: &Value,
    invocation_deadline: Option<Instant>,
) -> Result<Value, SchemaLambdaError> {
    let deadline = invocation_deadline.map(|d| {
        d.checked_sub(config.deadline_margin)
            .unwrap_or_else(Instant::now)
    });
    let (request, origin) = parse_event(event)?;
    match request {
        Request::CustomResourceDelete {
            physical_resource_id,
        } => {
            tracing::info!("custom resource delete: the schema is left as it is");
            Ok(serde_json::json!({ "PhysicalResourceId": physical_resource_id, "Data": {} }))
        }
        Request::Run(action) => {
            let started = Instant::now();
            let outcome = connect(config)
                .and_then(|mut conn| run_until(config, &mut conn, &action, deadline));
            config.metrics.emit(
                action.name(),
                outcome
                    .as_ref()
                    .map_or_else(SchemaLambdaError::kind, |_| "ok"),
                started.elapsed(),
                outcome.as_ref().ok(),
            );
            let report = outcome?;
            Ok(match origin {
                Origin::Direct => serde_json::to_value(&report).unwrap_or(Value::Null),
                Origin::CustomResource => serde_json::json!({
                    "PhysicalResourceId": PHYSICAL_RESOURCE_ID,
                    "Data": custom_resource_data(&report),
                }),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn empty_and_trigger_events_mean_migrate() {
        for event in [json!({}), Value::Null] {
            assert_eq!(
                parse_event(&event).unwrap(),
                (Request::Run(Action::migrate()), Origin::Direct)
            );
        }
    }

    #[test]
    fn actions_parse_with_their_options_and_unknown_ones_are_named() {
        assert_eq!(
            parse_event(&json!({"action": "revert", "count": 2}))
                .unwrap()
                .0,
            Request::Run(Action::Revert {
                count: Some(2),
                to: None,
                ignore_live_pins: false,
                allow_data_loss: false,
            })
        );
        assert_eq!(
            parse_event(
                &json!({"action": "revert", "to": "20240101000000", "allow_data_loss": true})
            )
            .unwrap()
            .0,
            Request::Run(Action::Revert {
                count: None,
                to: Some("20240101000000".into()),
                ignore_live_pins: false,
                allow_data_loss: true,
            })
        );
        let err = parse_event(&json!({"action": "revert", "count": 1, "to": "1"})).unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        assert_eq!(
            parse_event(&json!({"action": "migrate", "to": "20240101000000"}))
                .unwrap()
                .0,
            Request::Run(Action::Migrate {
                allow_out_of_order: false,
                ignore_live_pins: false,
                to: Some("20240101000000".into()),
                expected_digest: None,
                ignore_drift: false,
            })
        );
        assert_eq!(
            parse_event(&json!({"action": "plan", "rehearse": true}))
                .unwrap()
                .0,
            Request::Run(Action::Plan {
                rehearse: true,
                to: None
            })
        );
        assert_eq!(
            parse_event(&json!({"action": "plan"})).unwrap().0,
            Request::Run(Action::Plan {
                rehearse: false,
                to: None
            })
        );
        assert_eq!(
            parse_event(&json!({"action": "status"})).unwrap().0,
            Request::Run(Action::Status)
        );
        let err = parse_event(&json!({"action": "destroy"})).unwrap_err();
        assert_eq!(err.kind(), "BadEvent");
        assert!(err.to_string().contains("destroy"), "{err}");
        assert!(parse_event(&json!("migrate")).is_err());
    }
}
