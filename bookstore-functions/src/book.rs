//! `/book`: list, get, create, change and delete books (the `books` function).
//!
//! Long because each handler carries its OpenAPI description (`#[utoipa::path]`): the
//! document is generated from here, beside the code it describes.

use axum::{
    Extension, Json, Router,
    extract::{FromRequestParts, State},
    http::{StatusCode, header, request::Parts},
    response::IntoResponse,
    routing::get,
};
use bookstore_schema::{
    Book, BookChanges, BookFilter, NewBook,
    facts::{BOOK_AUTHOR_MAX_CHARS, BOOK_PUBLISHER_MAX_CHARS, BOOK_TITLE_MAX_CHARS},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use utoipa::{IntoParams, ToSchema};

use bookstore_kit::{
    error::{ApiError, ErrorBody},
    extract::{
        ApiJson, ApiPath, ApiQuery, Pagination, non_null, optional_int, query_schema,
        strict_integer, strict_integer_non_null,
    },
    idempotency::{self, Created, IdempotencyKey, Replayed},
    precondition::{ETag, IfMatch},
    stage::BasePath,
    state::AppState,
    validate,
};

/// Earliest publication year accepted (printing with movable type in Europe).
pub const MIN_YEAR: i32 = 1450;
/// Latest publication year accepted (announced titles included).
pub const MAX_YEAR: i32 = 2100;

/// The operations this resource owns, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, create_put, show, update, remove))]
pub struct BookApi;

/// The routes this resource owns.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/book", get(list).post(create).put(create_put))
        .route("/book/{id}", get(show).patch(update).delete(remove))
}

/// The `{id}` of `/book/{id}` and `/book/{id}/reviews`: a book id, or
/// `400 invalid_parameter` naming `id`.
#[derive(Debug, Clone, Copy, IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
pub struct BookId(
    /// The book's id.
    pub i32,
);

impl<S: Send + Sync> FromRequestParts<S> for BookId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match ApiPath::<i32>::from_request_parts(parts, state).await {
            Ok(ApiPath(id)) => Ok(Self(id)),
            Err(ApiError::InvalidParameter { .. }) => Err(ApiError::invalid_parameter(
                "id",
                "must be a book id (a whole number)",
            )),
            Err(other) => Err(other),
        }
    }
}

/// The query of `GET /book`: pagination and the filters.
#[derive(Debug, Clone)]
pub struct BookListQuery {
    /// Page and cursor.
    pub page: Pagination,
    /// Only books by exactly this author.
    pub author: Option<String>,
    /// Only books whose title starts with this (case-sensitive).
    pub title: Option<String>,
}

/// `GET /book`'s parameters as sent; an empty value counts as absent.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct BookListParams {
    #[serde(default, deserialize_with = "optional_int")]
    #[param(schema_with = query_schema::limit)]
    limit: Option<i64>,
    #[serde(default, deserialize_with = "optional_int")]
    #[param(schema_with = query_schema::after)]
    after: Option<i32>,
    /// Only books by exactly this author (case-sensitive, at most 100 characters); empty
    /// is every author.
    #[serde(default)]
    #[param(max_length = 100)]
    author: Option<String>,
    /// Only books whose title starts with this (case-sensitive, at most 200 characters;
    /// `%` and `_` are plain characters); empty is every title.
    #[serde(default)]
    #[param(max_length = 200)]
    title: Option<String>,
}

/// A text filter: empty is absent; at most `max` characters and no NUL, else
/// `400 invalid_parameter` naming `param`.
fn text_filter(param: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max {
        return Err(ApiError::invalid_parameter(
            param,
            format!("must be at most {max} characters"),
        ));
    }
    if value.contains('\0') {
        return Err(ApiError::invalid_parameter(
            param,
            "must not contain NUL characters",
        ));
    }
    Ok(Some(value))
}

impl<S: Send + Sync> FromRequestParts<S> for BookListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiQuery(params) = ApiQuery::<BookListParams>::from_request_parts(parts, state).await?;
        Ok(Self {
            page: Pagination::new(params.limit, params.after)?,
            author: text_filter("author", params.author, BOOK_AUTHOR_MAX_CHARS)?,
            title: text_filter("title", params.title, BOOK_TITLE_MAX_CHARS)?,
        })
    }
}

/// A book as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Book)]
pub struct BookBody {
    /// Its id.
    pub id: i32,
    /// Title.
    pub title: String,
    /// Author.
    pub author: String,
    /// Publisher.
    pub publisher: String,
    /// Year of publication.
    pub year: i32,
    /// When it was created, RFC 3339 in UTC.
    pub created_at: DateTime<Utc>,
}

impl From<Book> for BookBody {
    fn from(book: Book) -> Self {
        Self {
            id: book.id,
            title: book.title,
            author: book.author,
            publisher: book.publisher,
            year: book.year,
            created_at: book.created_at.and_utc(),
        }
    }
}

impl BookBody {
    /// The book's version: the [`ETag`] of its own fields. `review_count` and
    /// `average_rate` are derived from other rows and do not change it, so a new review
    /// does not make an editor's `If-Match` stale.
    pub fn etag(&self) -> ETag {
        ETag::of(self)
    }
}

/// `GET /book/{id}`: the book and how its reviews add up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BookDetail {
    /// The book's fields.
    #[serde(flatten)]
    pub book: BookBody,
    /// How many reviews it has.
    pub review_count: i64,
    /// Their mean rate rounded to two decimals, `null` without reviews.
    pub average_rate: Option<f64>,
}

/// `GET /book`: one page of books.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BookList {
    /// The books on this page, by id.
    pub books: Vec<BookBody>,
    /// Pass as `?after=` for the next page; `null` on the last one.
    pub next_after: Option<i32>,
}

/// The body of `POST /book` and `PUT /book`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewBook)]
pub struct CreateBook {
    /// 1 to 200 characters, not blank, no NUL.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: String,
    /// 1 to 100 characters, not blank, no NUL.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub author: String,
    /// 1 to 100 characters, not blank, no NUL.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub publisher: String,
    /// A JSON integer from 1450 to 2100.
    #[serde(deserialize_with = "strict_integer")]
    #[schema(minimum = 1450, maximum = 2100)]
    pub year: i64,
}

/// The body of `PATCH /book/{id}`: the fields to change, each optional, none `null`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BookChanges)]
pub struct UpdateBook {
    /// 1 to 200 characters, not blank, no NUL.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
    /// 1 to 100 characters, not blank, no NUL.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 100, pattern = r"\S")]
    pub author: Option<String>,
    /// 1 to 100 characters, not blank, no NUL.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 100, pattern = r"\S")]
    pub publisher: Option<String>,
    /// A JSON integer from 1450 to 2100.
    #[serde(default, deserialize_with = "strict_integer_non_null")]
    #[schema(value_type = i64, required = false, minimum = 1450, maximum = 2100)]
    pub year: Option<i64>,
}

impl UpdateBook {
    /// Checks every field sent, naming the first one at fault; returns the year.
    fn validate(&self) -> Result<Option<i32>, ApiError> {
        if let Some(title) = &self.title {
            validate::required_text("title", title, BOOK_TITLE_MAX_CHARS)?;
        }
        if let Some(author) = &self.author {
            validate::required_text("author", author, BOOK_AUTHOR_MAX_CHARS)?;
        }
        if let Some(publisher) = &self.publisher {
            validate::required_text("publisher", publisher, BOOK_PUBLISHER_MAX_CHARS)?;
        }
        self.year
            .map(|year| validate::in_range("year", year, MIN_YEAR..=MAX_YEAR))
            .transpose()
    }
}

impl CreateBook {
    /// Checks every field, naming the first one at fault.
    fn validate(&self) -> Result<i32, ApiError> {
        validate::required_text("title", &self.title, BOOK_TITLE_MAX_CHARS)?;
        validate::required_text("author", &self.author, BOOK_AUTHOR_MAX_CHARS)?;
        validate::required_text("publisher", &self.publisher, BOOK_PUBLISHER_MAX_CHARS)?;
        validate::in_range("year", self.year, MIN_YEAR..=MAX_YEAR)
    }
}

/// `GET /book?author=&title=&limit=&after=`
#[utoipa::path(
    get, path = "/book", tag = "books", operation_id = "listBooks",
    params(BookListParams),
    responses(
        (status = 200, description = "One page of books, by id.", body = BookList),
        (status = 400, description = "`invalid_parameter` or `unknown_parameter`, naming the parameter.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(limit = query.page.limit, after = ?query.page.after))]
async fn list(
    State(state): State<AppState>,
    query: BookListQuery,
) -> Result<Json<BookList>, ApiError> {
    let page = state
        .read(move |conn| {
            let mut filter = BookFilter::default();
            if let Some(author) = query.author.as_deref() {
                filter = filter.author(author);
            }
            if let Some(title) = query.title.as_deref() {
                filter = filter.title_prefix(title);
            }
            Ok(Book::page_where(
                conn,
                &filter,
                query.page.after,
                query.page.limit,
            )?)
        })
        .await?;
    Ok(Json(BookList {
        books: page.items.into_iter().map(BookBody::from).collect(),
        next_after: page.next_after,
    }))
}

/// `GET /book/{id}`, with the book's `ETag`.
#[utoipa::path(
    get, path = "/book/{id}", tag = "books", operation_id = "getBook",
    params(BookId),
    responses(
        (status = 200, description = "The book and how its reviews add up.", body = BookDetail,
            headers(("ETag" = String, description = "The book's version (its own fields), for `If-Match`."))),
        (status = 400, description = "`invalid_parameter` naming `id`.", body = ErrorBody),
        (status = 404, description = "`book_not_found`.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(book.id = id))]
async fn show(
    State(state): State<AppState>,
    BookId(id): BookId,
) -> Result<(ETag, Json<BookDetail>), ApiError> {
    // From a replica; a book created a moment ago and not there yet is asked of the
    // writer (`AppState::read`).
    let detail = state.read(move |conn| detail(conn, id)).await?;
    Ok((detail.book.etag(), Json(detail)))
}

/// The book with this id and its review stats, or `404 book_not_found`.
fn detail(conn: &mut impl bookstore_schema::Read, id: i32) -> Result<BookDetail, ApiError> {
    let (book, stats) =
        Book::find_with_stats(conn, id)?.ok_or_else(|| ApiError::not_found("book", id))?;
    Ok(BookDetail {
        book: book.into(),
        review_count: stats.count,
        average_rate: stats.average_rate.map(|r| (r * 100.0).round() / 100.0),
    })
}

/// The book with this id as it is now, once `If-Match` accepts its version: `404` when
/// it does not exist, `412` when the client's version is not the current one.
fn current(
    conn: &mut bookstore_schema::DbConnection,
    id: i32,
    if_match: &IfMatch,
) -> Result<Book, ApiError> {
    let book = Book::find(conn, id)?.ok_or_else(|| ApiError::not_found("book", id))?;
    if_match.check(&BookBody::from(book.clone()).etag())?;
    Ok(book)
}

/// `PATCH /book/{id}`: changes the fields sent, if `If-Match` names the current version;
/// answers like `GET /book/{id}`, with the new `ETag`.
#[utoipa::path(
    patch, path = "/book/{id}", tag = "books", operation_id = "updateBook",
    params(BookId, crate::openapi::IfMatchHeader),
    request_body(content((UpdateBook = "application/json"), (UpdateBook = "application/merge-patch+json"))),
    responses(
        (status = 200, description = "The book as changed.", body = BookDetail,
            headers(("ETag" = String, description = "The book's new version."))),
        (status = 400, description = "`invalid_parameter` (`id`), `invalid_header` (`If-Match`), `malformed_json`, `invalid_body`, `unknown_field`, `invalid_field`, naming the field.", body = ErrorBody),
        (status = 404, description = "`book_not_found`.", body = ErrorBody),
        (status = 412, description = "`precondition_failed`: the book changed since that ETag; nothing was written.", body = ErrorBody),
        (status = 428, description = "`precondition_required`: `If-Match` is missing.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(book.id = id))]
async fn update(
    State(state): State<AppState>,
    BookId(id): BookId,
    if_match: IfMatch,
    ApiJson(input): ApiJson<UpdateBook>,
) -> Result<(ETag, Json<BookDetail>), ApiError> {
    let year = input.validate()?;
    let detail = state
        .unit_of_work(move |conn| {
            let book = current(conn, id, &if_match)?;
            let changes = BookChanges {
                title: input.title.as_deref(),
                author: input.author.as_deref(),
                publisher: input.publisher.as_deref(),
                year,
            };
            if !changes.is_empty() {
                // Changed between the read and the write: the client's version is stale.
                Book::update_if_unchanged(conn, &book, &changes)?
                    .ok_or_else(ApiError::precondition_failed)?;
            }
            detail(conn, id)
        })
        .await?;
    tracing::info!(book.id = id, "updated book");
    Ok((detail.book.etag(), Json(detail)))
}

/// `DELETE /book/{id}`: `204`, if `If-Match` names the current version and no review
/// refers to the book (else `409 book_has_reviews`).
#[utoipa::path(
    delete, path = "/book/{id}", tag = "books", operation_id = "deleteBook",
    params(BookId, crate::openapi::IfMatchHeader),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "`invalid_parameter` (`id`) or `invalid_header` (`If-Match`).", body = ErrorBody),
        (status = 404, description = "`book_not_found`.", body = ErrorBody),
        (status = 409, description = "`book_has_reviews`: delete its reviews first.", body = ErrorBody),
        (status = 412, description = "`precondition_failed`: the book changed since that ETag; nothing was deleted.", body = ErrorBody),
        (status = 428, description = "`precondition_required`: `If-Match` is missing.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(book.id = id))]
async fn remove(
    State(state): State<AppState>,
    BookId(id): BookId,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    state
        .unit_of_work(move |conn| {
            let book = current(conn, id, &if_match)?;
            if Book::has_reviews(conn, id)? {
                return Err(ApiError::in_use("book", id, "reviews"));
            }
            // A review added since the check makes the foreign key refuse the delete.
            match Book::delete_if_unchanged(conn, &book) {
                Ok(true) => Ok(()),
                Ok(false) => Err(ApiError::precondition_failed()),
                Err(error) => Err(match ApiError::from(error) {
                    ApiError::UnknownReference { .. } | ApiError::ConstraintViolation { .. } => {
                        ApiError::in_use("book", id, "reviews")
                    }
                    other => other,
                }),
            }
        })
        .await?;
    tracing::info!(book.id = id, "deleted book");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /book`: `201` with `Location`.
#[utoipa::path(
    post, path = "/book", tag = "books", operation_id = "createBook",
    params(crate::openapi::IdempotencyKeyHeader),
    request_body = CreateBook,
    responses(
        (status = 201, description = "Created.", body = BookBody, headers(
            ("Location" = String, description = "The new book's path (behind API Gateway, with the stage or base path)."),
            ("ETag" = String, description = "The book's version."),
            ("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same `Idempotency-Key`."),
        )),
        (status = 400, description = "`malformed_json`, `invalid_body`, `unknown_field`, `missing_field`, `invalid_field`, naming the field; `invalid_header` naming `Idempotency-Key`.", body = ErrorBody),
        (status = 409, description = "`conflict`: a unique rule of the database refused the write.", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` (naming `Idempotency-Key`): the key was used with another body; `constraint_violation`.", body = ErrorBody),
    ),
)]
async fn create(
    State(state): State<AppState>,
    base: Option<Extension<BasePath>>,
    key: IdempotencyKey,
    ApiJson(input): ApiJson<CreateBook>,
) -> Result<impl IntoResponse, ApiError> {
    let created = insert(&state, key, "POST /book", StatusCode::CREATED, input).await?;
    let book = created.value;
    let prefix = base.map_or_else(String::new, |Extension(p)| p.as_str().to_owned());
    let location = format!("{prefix}/book/{}", book.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        book.etag(),
        Replayed(created.replayed),
        Json(book),
    ))
}

/// `PUT /book`: what the Python app's clients send; creates like `POST`, answers `200`.
#[utoipa::path(
    put, path = "/book", tag = "books", operation_id = "createBookPut",
    params(crate::openapi::IdempotencyKeyHeader),
    request_body = CreateBook,
    responses(
        (status = 200, description = "Created (as the Python app answered).", body = BookBody,
            headers(
                ("ETag" = String, description = "The book's version."),
                ("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same `Idempotency-Key`."),
            )),
        (status = 400, description = "`malformed_json`, `invalid_body`, `unknown_field`, `missing_field`, `invalid_field`, naming the field; `invalid_header` naming `Idempotency-Key`.", body = ErrorBody),
        (status = 409, description = "`conflict`: a unique rule of the database refused the write.", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` (naming `Idempotency-Key`): the key was used with another body; `constraint_violation`.", body = ErrorBody),
    ),
)]
async fn create_put(
    State(state): State<AppState>,
    key: IdempotencyKey,
    ApiJson(input): ApiJson<CreateBook>,
) -> Result<(ETag, Replayed, Json<BookBody>), ApiError> {
    let created = insert(&state, key, "PUT /book", StatusCode::OK, input).await?;
    let book = created.value;
    Ok((book.etag(), Replayed(created.replayed), Json(book)))
}

/// Creates the book, at most once per `Idempotency-Key` in `scope`.
#[tracing::instrument(skip_all)]
async fn insert(
    state: &AppState,
    key: IdempotencyKey,
    scope: &'static str,
    status: StatusCode,
    input: CreateBook,
) -> Result<Created<BookBody>, ApiError> {
    let year = input.validate()?;
    let created = idempotency::create_once(state, key, scope, status, input, move |conn, input| {
        let new = NewBook {
            title: &input.title,
            author: &input.author,
            publisher: &input.publisher,
            year,
        };
        let book = Book::create(conn, &new)?;
        let id = book.id;
        Ok((BookBody::from(book), id))
    })
    .await?;
    if !created.replayed {
        tracing::info!(book.id = created.value.id, "created book");
    }
    Ok(created)
}
