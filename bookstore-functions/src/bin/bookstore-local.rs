//! The whole API on one port, from `./bookstore.db` unless `DATABASE_URL` says otherwise,
//! and its OpenAPI document at `/openapi.json`.

use bookstore_functions::{Function, openapi, routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_kit::run_local(routes(Function::All).merge(openapi::routes())).await
}
