//! `schema-admin`: the schema Lambda's actions from a shell, on the same environment.

use std::process::ExitCode;

use std::{path::PathBuf, time::Duration};

use schema_lambda::{Action, Config, connect, dir, render, run};

const USAGE: &str = "usage: schema-admin <action> [--json] [--max-lock-wait=SECS] [--migrations-dir=DIR] [--allow-tcp-relay]
actions:
  plan [--rehearse] [--to VERSION]
  status
  migrate [--to VERSION] [--expect-digest DIGEST] [--allow-out-of-order] [--ignore-live-pins]
          [--ignore-drift]
  revert [N | --to VERSION] [--allow-data-loss] [--ignore-live-pins]
  baseline
reads DATABASE_URL or DB_HOST/DB_PORT/DB_NAME/DB_USER/DB_PASSWORD/DB_SSLMODE/DB_SSLROOTCERT,
APP_DB_ROLE (default bookstore_app), SCHEMA_LOCK_TIMEOUT_SECS, SCHEMA_PIN_WINDOW_SECS,
SCHEMA_STEP_LOCK_TIMEOUT_MS, SCHEMA_STEP_STATEMENT_TIMEOUT_SECS, SCHEMA_MAX_LOCK_WAIT_SECS
and SCHEMA_ALLOW_TCP_RELAY";

/// Options that stand alone.
const FLAGS: [&str; 7] = [
    "--json",
    "--ignore-drift",
    "--rehearse",
    "--allow-out-of-order",
    "--ignore-live-pins",
    "--allow-data-loss",
    "--allow-tcp-relay",
];
/// Options that take a value (`--to V` or `--to=V`).
const VALUED: [&str; 4] = [
    "--to",
    "--expect-digest",
    "--max-lock-wait",
    "--migrations-dir",
];
/// Options every action takes.
const GLOBAL: [&str; 4] = [
    "--json",
    "--max-lock-wait",
    "--migrations-dir",
    "--allow-tcp-relay",
];

/// `--max-lock-wait=SECS` and `--migrations-dir=DIR`.
#[derive(Default)]
struct Valued {
    max_lock_wait: Option<Duration>,
    migrations_dir: Option<PathBuf>,
}
/// The command line cut into words, flags and valued options.
#[derive(Default)]
struct Args<'a> {
    words: Vec<&'a str>,
    flags: Vec<&'a str>,
    values: Vec<(&'a str, &'a str)>,
}

impl<'a> Args<'a> {
    fn parse(args: &'a [String]) -> Result<Self, String> {
        let mut out = Self::default();
        let mut rest = args.iter().map(String::as_str);
        while let Some(arg) = rest.next() {
            if !arg.starts_with("--") {
                out.words.push(arg);
            } else if FLAGS.contains(&arg) {
                out.flags.push(arg);
            } else if let Some((name, value)) =
                arg.split_once('=').filter(|(n, _)| VALUED.contains(n))
            {
                out.values.push((name, value));
            } else if VALUED.contains(&arg) {
                let value = rest
                    .next()
                    .filter(|v| !v.starts_with("--"))
                    .ok_or_else(|| format!("{arg} takes a value"))?;
                out.values.push((arg, value));
            } else {
                return Err(format!("unknown option {arg}"));
            }
        }
        Ok(out)
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    fn value(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    }

    /// Refuses options that `action` does not take.
    fn only(&self, action: &str, allowed: &[&str]) -> Result<(), String> {
        let given = self
            .flags
            .iter()
            .copied()
            .chain(self.values.iter().map(|(n, _)| *n));
        match given
            .filter(|n| !GLOBAL.contains(n))
            .find(|n| !allowed.contains(n))
        {
            Some(option) => Err(format!("{action} does not take {option}")),
            None => Ok(()),
        }
    }
}

fn parse(args: &[String]) -> Result<(Action, bool, Valued), String> {
    let args = Args::parse(args)?;
    let json = args.flag("--json");
    let valued = Valued {
        max_lock_wait: args
            .value("--max-lock-wait")
            .map(|secs| {
                secs.parse()
                    .map(Duration::from_secs)
                    .map_err(|_| format!("--max-lock-wait takes whole seconds, got `{secs}`"))
            })
            .transpose()?,
        migrations_dir: args.value("--migrations-dir").map(PathBuf::from),
    };
    let action = match args.words.as_slice() {
        ["plan"] => {
            args.only("plan", &["--rehearse", "--to"])?;
            Action::Plan {
                rehearse: args.flag("--rehearse"),
                to: args.value("--to"),
            }
        }
        ["status"] => {
            args.only("status", &[])?;
            Action::Status
        }
        ["baseline"] => {
            args.only("baseline", &[])?;
            Action::Baseline
        }
        ["migrate"] => {
            args.only(
                "migrate",
                &[
                    "--to",
                    "--expect-digest",
                    "--allow-out-of-order",
                    "--ignore-live-pins",
                    "--ignore-drift",
                ],
            )?;
            Action::Migrate {
                allow_out_of_order: args.flag("--allow-out-of-order"),
                ignore_live_pins: args.flag("--ignore-live-pins"),
                to: args.value("--to"),
                expected_digest: args.value("--expect-digest"),
                ignore_drift: args.flag("--ignore-drift"),
            }
        }
        ["revert", rest @ ..] if rest.len() <= 1 => {
            args.only(
                "revert",
                &["--to", "--allow-data-loss", "--ignore-live-pins"],
            )?;
            let count = rest
                .first()
                .map(|n| {
                    n.parse()
                        .map_err(|_| format!("revert takes a count, got `{n}`"))
                })
                .transpose()?;
            let to = args.value("--to");
            if count.is_some() && to.is_some() {
                return Err("revert takes a count or --to, not both".into());
            }
            Action::Revert {
                count,
                to,
                ignore_live_pins: args.flag("--ignore-live-pins"),
                allow_data_loss: args.flag("--allow-data-loss"),
            }
        }
        _ => return Err("expected one action".into()),
    };
    Ok((action, json, valued))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = parse(&args).and_then(|(action, json, valued)| {
        let migrations = valued
            .migrations_dir
            .as_deref()
            .map(dir::load)
            .transpose()?;
        Ok((action, json, valued.max_lock_wait, migrations))
    });
    let (action, json, max_lock_wait, migrations) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("schema-admin: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = Config::from_env()
        .map_err(Into::into)
        .and_then(|mut config| {
            if let Some(budget) = max_lock_wait {
                config.max_lock_wait = budget;
            }
            config.allow_tcp_relay |= args.iter().any(|a| a == "--allow-tcp-relay");
            config.migrations = migrations.or(config.migrations);
            connect(&config).and_then(|mut conn| run(&config, &mut conn, &action))
        });
    match outcome {
        Ok(report) => {
            let text = if json {
                serde_json::to_string_pretty(&report).unwrap_or_default()
            } else {
                render(&report)
            };
            #[expect(clippy::print_stdout, reason = "the report is this command's output")]
            {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("schema-admin: {} ({})", error, error.kind());
            if json {
                #[expect(
                    clippy::print_stdout,
                    reason = "the typed error is this command's output"
                )]
                {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&error.to_json()).unwrap_or_default()
                    );
                }
            }
            ExitCode::FAILURE
        }
    }
}
