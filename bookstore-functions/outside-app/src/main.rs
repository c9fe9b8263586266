//! The `author-books` Lambda.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bookstore_kit::run_function(author_books::routes()).await
}
