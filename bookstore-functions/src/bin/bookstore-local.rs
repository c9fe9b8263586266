//! The whole API on one port, from `./bookstore.db` unless `DATABASE_URL` says otherwise.

use bookstore_functions::{Function, routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_kit::run_local(routes(Function::All)).await
}
