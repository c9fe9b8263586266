//! `GET /author/{name}/books`: an app team's function outside the bookstore repository,
//! built on the pinned `bookstore-schema` and `bookstore-kit` alone.

use axum::{Json, Router, extract::State, routing::get};
use bookstore_kit::{
    ApiError, AppState,
    extract::{ApiPath, Pagination},
    validate,
};
use bookstore_schema::{BackendConnection, Book, DbConnection, facts, schema::book};
use diesel::prelude::*;
use serde::Serialize;

/// The routes this function owns.
pub fn routes() -> Router<AppState> {
    Router::new().route("/author/{name}/books", get(books_by_author))
}

/// One book as this endpoint shows it.
#[derive(Debug, Serialize)]
pub struct AuthorBook {
    /// Its id.
    pub id: i32,
    /// Its title.
    pub title: String,
    /// Year of publication.
    pub year: i32,
}

/// The response: an author's books, oldest id first.
#[derive(Debug, Serialize)]
pub struct AuthorBooks {
    /// The author asked for.
    pub author: String,
    /// Their books.
    pub books: Vec<AuthorBook>,
}

async fn books_by_author(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    page: Pagination,
) -> Result<Json<AuthorBooks>, ApiError> {
    validate::required_text("name", &name, facts::BOOK_AUTHOR_MAX_CHARS)
        .map_err(|_| ApiError::invalid_parameter("name", "must be 1 to 100 characters"))?;
    let author = name.clone();
    let books = state
        .one_statement(move |conn| Ok(by_author(conn, &author, page.limit)?))
        .await?;
    Ok(Json(AuthorBooks {
        author: name,
        books: books
            .into_iter()
            .map(|b| AuthorBook {
                id: b.id,
                title: b.title,
                year: b.year,
            })
            .collect(),
    }))
}

/// A query of this team's own, against the pinned `schema.rs`, on whichever backend the
/// connection speaks.
fn by_author(conn: &mut DbConnection, author: &str, limit: i64) -> QueryResult<Vec<Book>> {
    // `Book::as_select()` is typed per backend, so each arm selects for its own.
    let query = || {
        book::table
            .filter(book::author.eq(author))
            .order(book::id)
            .limit(limit)
    };
    match conn.backend_connection() {
        BackendConnection::Postgres(c) => query().select(Book::as_select()).load(c),
        BackendConnection::Sqlite(c) => query().select(Book::as_select()).load(c),
        // Only in a build with this crate's `mysql` feature (bookstore-schema's `mysql`).
        #[cfg(feature = "mysql")]
        BackendConnection::Mysql(c) => query().select(Book::as_select()).load(c),
        // `#[non_exhaustive]`: a backend this build does not serve is a clear error.
        _ => Err(diesel::result::Error::QueryBuilderError(
            "author-books was built without this database's backend".into(),
        )),
    }
}
