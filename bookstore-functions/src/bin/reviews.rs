//! The `reviews` Lambda: `GET /review`, `POST /review`, `PUT /review`, `GET`/`PATCH`/`DELETE /review/{id}`,
//! `GET /book/{id}/reviews`.

use bookstore_functions::{Function, routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_kit::run_function(routes(Function::Reviews)).await
}
