//! The `books` Lambda: `GET /book`, `POST /book`, `PUT /book`, `GET`/`PATCH`/`DELETE /book/{id}`.

use bookstore_functions::{Function, routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_kit::run_function(routes(Function::Books)).await
}
