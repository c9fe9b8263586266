//! The whole API on one port, from `./bookstore.db` unless `DATABASE_URL` says otherwise.

use bookstore_functions::{Function, app};
use bookstore_kit::startup;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    startup::init_tracing(startup::LogFormat::Plain);
    let config = startup::LocalConfig::from_env()?;
    let state = startup::build_local_state(&config).await?;
    startup::serve_local(app(state, Function::All), config.addr).await
}
