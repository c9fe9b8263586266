//! `/review` and `/book/{id}/reviews`: list and create reviews (the `reviews` function).

use axum::{
    Json, Router,
    extract::{FromRequestParts, State},
    http::{StatusCode, request::Parts},
    routing::get,
};
use bookstore_schema::{
    DbConnection, NewReview, Review,
    facts::{REVIEW_RATE_RANGE, REVIEW_REVIEWER_MAX_CHARS, REVIEW_TEXT_MAX_CHARS},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::book::BookId;

use bookstore_kit::{
    error::ApiError,
    extract::{ApiJson, ApiQuery, Pagination, optional_int, strict_integer},
    state::AppState,
    validate,
};

/// The routes this resource owns.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/review", get(list).post(create).put(create_put))
        .route("/book/{id}/reviews", get(list_for_book))
}

/// The query of `GET /review`: pagination and an optional `book_id` filter.
#[derive(Debug, Clone, Copy)]
pub struct ReviewListQuery {
    /// Page and cursor.
    pub page: Pagination,
    /// Only this book's reviews.
    pub book_id: Option<i32>,
}

/// `GET /review`'s parameters as sent; an empty value counts as absent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewListParams {
    #[serde(default, deserialize_with = "optional_int")]
    limit: Option<i64>,
    #[serde(default, deserialize_with = "optional_int")]
    after: Option<i32>,
    #[serde(default, deserialize_with = "optional_int")]
    book_id: Option<i32>,
}

impl<S: Send + Sync> FromRequestParts<S> for ReviewListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiQuery(params) =
            ApiQuery::<ReviewListParams>::from_request_parts(parts, state).await?;
        Ok(Self {
            page: Pagination::new(params.limit, params.after)?,
            book_id: params.book_id,
        })
    }
}

/// A review as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewBody {
    /// Its id.
    pub id: i32,
    /// The book reviewed.
    pub book_id: i32,
    /// Who wrote it.
    pub reviewer: String,
    /// 1 to 5.
    pub rate: i16,
    /// The text, if any.
    pub review: Option<String>,
    /// When it was created, RFC 3339 in UTC.
    pub created_at: DateTime<Utc>,
}

impl From<Review> for ReviewBody {
    fn from(review: Review) -> Self {
        Self {
            id: review.id,
            book_id: review.book_id,
            reviewer: review.reviewer,
            rate: review.rate,
            review: review.review,
            created_at: review.created_at.and_utc(),
        }
    }
}

/// `GET /review` and `GET /book/{id}/reviews`: one page of reviews.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewList {
    /// The reviews on this page, by id.
    pub reviews: Vec<ReviewBody>,
    /// Pass as `?after=` for the next page; `null` on the last one.
    pub next_after: Option<i32>,
}

/// The body of `POST /review` and `PUT /review`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateReview {
    /// An existing book's id.
    #[serde(deserialize_with = "strict_integer")]
    pub book_id: i64,
    /// 1 to 100 characters.
    pub reviewer: String,
    /// A JSON integer from 1 to 5.
    #[serde(deserialize_with = "strict_integer")]
    pub rate: i64,
    /// Up to 500 characters; may be omitted or `null`.
    #[serde(default)]
    pub review: Option<String>,
}

impl CreateReview {
    /// Checks every field, naming the first one at fault; returns `(book_id, rate)`.
    fn validate(&self) -> Result<(i32, i16), ApiError> {
        let book_id = validate::in_range("book_id", self.book_id, 1..=i32::MAX)?;
        validate::required_text("reviewer", &self.reviewer, REVIEW_REVIEWER_MAX_CHARS)?;
        let rate = validate::in_range("rate", self.rate, REVIEW_RATE_RANGE)?;
        if let Some(text) = &self.review {
            validate::optional_text("review", text, REVIEW_TEXT_MAX_CHARS)?;
        }
        Ok((book_id, rate))
    }
}

/// `GET /review?book_id=&limit=&after=`
#[tracing::instrument(skip_all, fields(book.id = ?query.book_id, limit = query.page.limit))]
async fn list(
    State(state): State<AppState>,
    query: ReviewListQuery,
) -> Result<Json<ReviewList>, ApiError> {
    state
        .unit_of_work(move |conn| page(conn, query.book_id, query.page))
        .await
        .map(Json)
}

/// `GET /book/{id}/reviews?limit=&after=`
#[tracing::instrument(skip_all, fields(book.id = id, limit = query.limit))]
async fn list_for_book(
    State(state): State<AppState>,
    BookId(id): BookId,
    query: Pagination,
) -> Result<Json<ReviewList>, ApiError> {
    state
        .unit_of_work(move |conn| page(conn, Some(id), query))
        .await
        .map(Json)
}

/// A page of reviews (one statement, two when a book's page is empty); a filter on a book
/// that does not exist is a 404, not an empty page.
fn page(
    conn: &mut DbConnection,
    book_id: Option<i32>,
    page: Pagination,
) -> Result<ReviewList, ApiError> {
    let page = match book_id {
        Some(id) => Review::book_page(conn, id, page.after, page.limit)?
            .ok_or_else(|| ApiError::not_found("book", id))?,
        None => Review::page(conn, None, page.after, page.limit)?,
    };
    Ok(ReviewList {
        reviews: page.items.into_iter().map(ReviewBody::from).collect(),
        next_after: page.next_after,
    })
}

/// `POST /review`: `201`.
async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CreateReview>,
) -> Result<(StatusCode, Json<ReviewBody>), ApiError> {
    insert(&state, input)
        .await
        .map(|review| (StatusCode::CREATED, Json(review)))
}

/// `PUT /review`: what the Python app's clients send; creates like `POST`, answers `200`.
async fn create_put(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CreateReview>,
) -> Result<Json<ReviewBody>, ApiError> {
    insert(&state, input).await.map(Json)
}

#[tracing::instrument(skip_all, fields(book.id = input.book_id))]
async fn insert(state: &AppState, input: CreateReview) -> Result<ReviewBody, ApiError> {
    let (book_id, rate) = input.validate()?;
    let review = state
        .one_statement(move |conn| {
            // The foreign key finds a missing book; the error names the id sent.
            let new = NewReview {
                book_id,
                reviewer: &input.reviewer,
                rate,
                review: input.review.as_deref(),
            };
            Review::create(conn, &new).map_err(|error| match ApiError::from(error) {
                ApiError::UnknownReference {
                    resource, field, ..
                } => ApiError::unknown_reference(resource, field, book_id),
                other => other,
            })
        })
        .await?;
    tracing::info!(review.id = review.id, "created review");
    Ok(review.into())
}
