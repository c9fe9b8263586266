//! The `reviews` Lambda: `GET /review`, `POST /review`, `PUT /review`, `GET /book/{id}/reviews`.

use bookstore_functions::{Function, app};
use bookstore_kit::startup;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    startup::init_tracing(startup::LogFormat::Json);
    let state = startup::build_state_from_env().await?;
    startup::run_lambda(app(state, Function::Reviews)).await
}
