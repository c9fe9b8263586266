//! `schema-admin`: the schema Lambda's actions from a shell, on the same environment.

use std::process::ExitCode;

use std::{path::PathBuf, time::Duration};

use schema_lambda::{Action, Config, connect, dir, render, run};

const USAGE: &str =
    "usage: schema-admin <plan|migrate|status|revert [N]|baseline> [--json] [--allow-out-of-order] [--ignore-live-pins]
                    [--max-lock-wait=SECS] [--migrations-dir=DIR] [--allow-tcp-relay]
reads DATABASE_URL or DB_HOST/DB_PORT/DB_NAME/DB_USER/DB_PASSWORD/DB_SSLMODE/DB_SSLROOTCERT,
APP_DB_ROLE (default bookstore_app), SCHEMA_LOCK_TIMEOUT_SECS, SCHEMA_PIN_WINDOW_SECS,
SCHEMA_STEP_LOCK_TIMEOUT_MS, SCHEMA_STEP_STATEMENT_TIMEOUT_SECS, SCHEMA_MAX_LOCK_WAIT_SECS
and SCHEMA_ALLOW_TCP_RELAY";

const FLAGS: [&str; 4] = [
    "--json",
    "--allow-out-of-order",
    "--ignore-live-pins",
    "--allow-tcp-relay",
];

/// `--max-lock-wait=SECS` and `--migrations-dir=DIR`.
#[derive(Default)]
struct Valued {
    max_lock_wait: Option<Duration>,
    migrations_dir: Option<PathBuf>,
}

fn valued(args: &[String]) -> Result<Valued, String> {
    let mut out = Valued::default();
    for arg in args {
        if let Some(secs) = arg.strip_prefix("--max-lock-wait=") {
            let secs: u64 = secs
                .parse()
                .map_err(|_| format!("--max-lock-wait takes whole seconds, got `{secs}`"))?;
            out.max_lock_wait = Some(Duration::from_secs(secs));
        } else if let Some(dir) = arg.strip_prefix("--migrations-dir=") {
            out.migrations_dir = Some(PathBuf::from(dir));
        }
    }
    Ok(out)
}

fn is_valued(arg: &str) -> bool {
    arg.starts_with("--max-lock-wait=") || arg.starts_with("--migrations-dir=")
}

fn parse(args: &[String]) -> Result<(Action, bool), String> {
    let json = args.iter().any(|a| a == "--json");
    let allow_out_of_order = args.iter().any(|a| a == "--allow-out-of-order");
    let ignore_live_pins = args.iter().any(|a| a == "--ignore-live-pins");
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(flag) = args
        .iter()
        .find(|a| a.starts_with("--") && !FLAGS.contains(&a.as_str()) && !is_valued(a))
    {
        return Err(format!("unknown option {flag}"));
    }
    let action = match words.as_slice() {
        ["plan"] => Action::Plan,
        ["migrate"] => Action::Migrate {
            allow_out_of_order,
            ignore_live_pins,
        },
        ["status"] => Action::Status,
        ["baseline"] => Action::Baseline,
        ["revert"] => Action::Revert {
            count: 1,
            ignore_live_pins,
        },
        ["revert", n] => Action::Revert {
            count: n
                .parse()
                .map_err(|_| format!("revert takes a count, got `{n}`"))?,
            ignore_live_pins,
        },
        _ => return Err("expected one action".into()),
    };
    Ok((action, json))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = parse(&args).and_then(|(action, json)| {
        let valued = valued(&args)?;
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
