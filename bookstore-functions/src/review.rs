//! `/review` and `/book/{id}/reviews`: list, get, create, change and delete reviews (the
//! `reviews` function).
//!
//! Long because each handler carries its OpenAPI description (`#[utoipa::path]`): the
//! document is generated from here, beside the code it describes.

use axum::{
    Json, Router,
    extract::{FromRequestParts, State},
    http::{StatusCode, request::Parts},
    response::IntoResponse,
    routing::get,
};
use bookstore_schema::{
    DbConnection, NewReview, ReadConnection, Review, ReviewChanges,
    facts::{REVIEW_RATE_RANGE, REVIEW_REVIEWER_MAX_CHARS, REVIEW_TEXT_MAX_CHARS},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::book::BookId;

use utoipa::{IntoParams, ToSchema};

use bookstore_kit::{
    error::{ApiError, ErrorBody},
    extract::{
        ApiJson, ApiPath, ApiQuery, Pagination, non_null, nullable, optional_int, query_schema,
        strict_integer, strict_integer_non_null,
    },
    idempotency::{self, Created, IdempotencyKey, Replayed},
    precondition::{ETag, IfMatch},
    state::AppState,
    validate,
};

/// The operations this resource owns, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, create_put, show, update, remove, list_for_book))]
pub struct ReviewApi;

/// The routes this resource owns.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/review", get(list).post(create).put(create_put))
        .route("/review/{id}", get(show).patch(update).delete(remove))
        .route("/book/{id}/reviews", get(list_for_book))
}

/// The `{id}` of `/review/{id}`: a review id, or `400 invalid_parameter` naming `id`.
#[derive(Debug, Clone, Copy, IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
pub struct ReviewId(
    /// The review's id.
    pub i32,
);

impl<S: Send + Sync> FromRequestParts<S> for ReviewId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match ApiPath::<i32>::from_request_parts(parts, state).await {
            Ok(ApiPath(id)) => Ok(Self(id)),
            Err(ApiError::InvalidParameter { .. }) => Err(ApiError::invalid_parameter(
                "id",
                "must be a review id (a whole number)",
            )),
            Err(other) => Err(other),
        }
    }
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
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReviewListParams {
    /// Rows per page, 1 to 200 (default 50); empty is the default.
    #[serde(default, deserialize_with = "optional_int")]
    #[param(schema_with = query_schema::limit)]
    limit: Option<i64>,
    /// Only rows with a larger id: the previous page's `next_after`; empty is none.
    #[serde(default, deserialize_with = "optional_int")]
    #[param(schema_with = query_schema::after)]
    after: Option<i32>,
    /// Only this book's reviews (`404 book_not_found` if it does not exist); empty is all.
    #[serde(default, deserialize_with = "optional_int")]
    #[param(schema_with = book_id_schema)]
    book_id: Option<i32>,
}

fn book_id_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    query_schema::whole_or_empty(
        query_schema::int32(),
        "Only this book's reviews (`404 book_not_found` if it does not exist); empty is all.",
    )
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Review)]
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

impl ReviewBody {
    /// The review's version: the [`ETag`] of this representation.
    pub fn etag(&self) -> ETag {
        ETag::of(self)
    }
}

/// `GET /review` and `GET /book/{id}/reviews`: one page of reviews.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewList {
    /// The reviews on this page, by id.
    pub reviews: Vec<ReviewBody>,
    /// Pass as `?after=` for the next page; `null` on the last one.
    pub next_after: Option<i32>,
}

/// The body of `POST /review` and `PUT /review`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewReview)]
pub struct CreateReview {
    /// An existing book's id.
    #[serde(deserialize_with = "strict_integer")]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub book_id: i64,
    /// 1 to 100 characters, not blank, no NUL.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub reviewer: String,
    /// A JSON integer from 1 to 5.
    #[serde(deserialize_with = "strict_integer")]
    #[schema(minimum = 1, maximum = 5)]
    pub rate: i64,
    /// Up to 500 characters, no NUL; may be omitted or `null`.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub review: Option<String>,
}

/// The body of `PATCH /review/{id}`: the fields to change, each optional; `review: null`
/// removes the text. The book a review is of cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReviewChanges)]
pub struct UpdateReview {
    /// 1 to 100 characters, not blank, no NUL.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, required = false, min_length = 1, max_length = 100, pattern = r"\S")]
    pub reviewer: Option<String>,
    /// A JSON integer from 1 to 5.
    #[serde(default, deserialize_with = "strict_integer_non_null")]
    #[schema(value_type = i64, required = false, minimum = 1, maximum = 5)]
    pub rate: Option<i64>,
    /// Up to 500 characters, no NUL; `null` removes the text.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, required = false, max_length = 500)]
    pub review: Option<Option<String>>,
}

impl UpdateReview {
    /// Checks every field sent, naming the first one at fault; returns the rate.
    fn validate(&self) -> Result<Option<i16>, ApiError> {
        if let Some(reviewer) = &self.reviewer {
            validate::required_text("reviewer", reviewer, REVIEW_REVIEWER_MAX_CHARS)?;
        }
        let rate = self
            .rate
            .map(|rate| validate::in_range("rate", rate, REVIEW_RATE_RANGE))
            .transpose()?;
        if let Some(Some(text)) = &self.review {
            validate::optional_text("review", text, REVIEW_TEXT_MAX_CHARS)?;
        }
        Ok(rate)
    }
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
#[utoipa::path(
    get, path = "/review", tag = "reviews", operation_id = "listReviews",
    params(ReviewListParams),
    responses(
        (status = 200, description = "One page of reviews, by id.", body = ReviewList),
        (status = 400, description = "`invalid_parameter` or `unknown_parameter`, naming the parameter.", body = ErrorBody),
        (status = 404, description = "`book_not_found`: `book_id` names no book.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(book.id = ?query.book_id, limit = query.page.limit))]
async fn list(
    State(state): State<AppState>,
    query: ReviewListQuery,
) -> Result<Json<ReviewList>, ApiError> {
    state
        .read(move |conn| page(conn, query.book_id, query.page))
        .await
        .map(Json)
}

/// `GET /book/{id}/reviews?limit=&after=`
#[utoipa::path(
    get, path = "/book/{id}/reviews", tag = "reviews", operation_id = "listBookReviews",
    params(BookId, Pagination),
    responses(
        (status = 200, description = "One page of the book's reviews, by id.", body = ReviewList),
        (status = 400, description = "`invalid_parameter` or `unknown_parameter`, naming the parameter.", body = ErrorBody),
        (status = 404, description = "`book_not_found`.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(book.id = id, limit = query.limit))]
async fn list_for_book(
    State(state): State<AppState>,
    BookId(id): BookId,
    query: Pagination,
) -> Result<Json<ReviewList>, ApiError> {
    state
        .read(move |conn| page(conn, Some(id), query))
        .await
        .map(Json)
}

/// A page of reviews (one statement, two when a book's page is empty); a filter on a book
/// that does not exist is a 404, not an empty page.
fn page(
    conn: &mut ReadConnection<'_>,
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

/// `GET /review/{id}`, with the review's `ETag`.
#[utoipa::path(
    get, path = "/review/{id}", tag = "reviews", operation_id = "getReview",
    params(ReviewId),
    responses(
        (status = 200, description = "The review.", body = ReviewBody,
            headers(("ETag" = String, description = "The review's version, for `If-Match`."))),
        (status = 400, description = "`invalid_parameter` naming `id`.", body = ErrorBody),
        (status = 404, description = "`review_not_found`.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(review.id = id))]
async fn show(
    State(state): State<AppState>,
    ReviewId(id): ReviewId,
) -> Result<(ETag, Json<ReviewBody>), ApiError> {
    let review = state
        .one_statement(move |conn| {
            Review::find(conn, id)?.ok_or_else(|| ApiError::not_found("review", id))
        })
        .await?;
    let body = ReviewBody::from(review);
    Ok((body.etag(), Json(body)))
}

/// The review with this id as it is now, once `If-Match` accepts its version.
fn current(conn: &mut DbConnection, id: i32, if_match: &IfMatch) -> Result<Review, ApiError> {
    let review = Review::find(conn, id)?.ok_or_else(|| ApiError::not_found("review", id))?;
    if_match.check(&ReviewBody::from(review.clone()).etag())?;
    Ok(review)
}

/// `PATCH /review/{id}`: changes the fields sent, if `If-Match` names the current
/// version; answers the review with its new `ETag`.
#[utoipa::path(
    patch, path = "/review/{id}", tag = "reviews", operation_id = "updateReview",
    params(ReviewId, crate::openapi::IfMatchHeader),
    request_body(content((UpdateReview = "application/json"), (UpdateReview = "application/merge-patch+json"))),
    responses(
        (status = 200, description = "The review as changed.", body = ReviewBody,
            headers(("ETag" = String, description = "The review's new version."))),
        (status = 400, description = "`invalid_parameter` (`id`), `invalid_header` (`If-Match`), `malformed_json`, `invalid_body`, `unknown_field`, `invalid_field`, naming the field.", body = ErrorBody),
        (status = 404, description = "`review_not_found`.", body = ErrorBody),
        (status = 412, description = "`precondition_failed`: the review changed since that ETag; nothing was written.", body = ErrorBody),
        (status = 428, description = "`precondition_required`: `If-Match` is missing.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(review.id = id))]
async fn update(
    State(state): State<AppState>,
    ReviewId(id): ReviewId,
    if_match: IfMatch,
    ApiJson(input): ApiJson<UpdateReview>,
) -> Result<(ETag, Json<ReviewBody>), ApiError> {
    let rate = input.validate()?;
    let review = state
        .unit_of_work(move |conn| {
            let review = current(conn, id, &if_match)?;
            let changes = ReviewChanges {
                reviewer: input.reviewer.as_deref(),
                rate,
                review: input.review.as_ref().map(Option::as_deref),
            };
            if changes.is_empty() {
                return Ok(review);
            }
            Review::update_if_unchanged(conn, &review, &changes)?
                .ok_or_else(ApiError::precondition_failed)
        })
        .await?;
    tracing::info!(review.id = id, "updated review");
    let body = ReviewBody::from(review);
    Ok((body.etag(), Json(body)))
}

/// `DELETE /review/{id}`: `204`, if `If-Match` names the current version.
#[utoipa::path(
    delete, path = "/review/{id}", tag = "reviews", operation_id = "deleteReview",
    params(ReviewId, crate::openapi::IfMatchHeader),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "`invalid_parameter` (`id`) or `invalid_header` (`If-Match`).", body = ErrorBody),
        (status = 404, description = "`review_not_found`.", body = ErrorBody),
        (status = 412, description = "`precondition_failed`: the review changed since that ETag; nothing was deleted.", body = ErrorBody),
        (status = 428, description = "`precondition_required`: `If-Match` is missing.", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all, fields(review.id = id))]
async fn remove(
    State(state): State<AppState>,
    ReviewId(id): ReviewId,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    state
        .unit_of_work(move |conn| {
            let review = current(conn, id, &if_match)?;
            if Review::delete_if_unchanged(conn, &review)? {
                Ok(())
            } else {
                Err(ApiError::precondition_failed())
            }
        })
        .await?;
    tracing::info!(review.id = id, "deleted review");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /review`: `201`.
#[utoipa::path(
    post, path = "/review", tag = "reviews", operation_id = "createReview",
    params(crate::openapi::IdempotencyKeyHeader),
    request_body = CreateReview,
    responses(
        (status = 201, description = "Created.", body = ReviewBody,
            headers(
                ("ETag" = String, description = "The review's version."),
                ("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same `Idempotency-Key`."),
            )),
        (status = 400, description = "`malformed_json`, `invalid_body`, `unknown_field`, `missing_field`, `invalid_field`, naming the field; `invalid_header` naming `Idempotency-Key`.", body = ErrorBody),
        (status = 409, description = "`conflict`: a unique rule of the database refused the write.", body = ErrorBody),
        (status = 422, description = "`book_not_found` naming `book_id`: the book does not exist; `idempotency_key_reused` (naming `Idempotency-Key`): the key was used with another body; `constraint_violation`.", body = ErrorBody),
    ),
)]
async fn create(
    State(state): State<AppState>,
    key: IdempotencyKey,
    ApiJson(input): ApiJson<CreateReview>,
) -> Result<impl IntoResponse, ApiError> {
    let created = insert(&state, key, "POST /review", StatusCode::CREATED, input).await?;
    let review = created.value;
    Ok((
        StatusCode::CREATED,
        review.etag(),
        Replayed(created.replayed),
        Json(review),
    ))
}

/// `PUT /review`: what the Python app's clients send; creates like `POST`, answers `200`.
#[utoipa::path(
    put, path = "/review", tag = "reviews", operation_id = "createReviewPut",
    params(crate::openapi::IdempotencyKeyHeader),
    request_body = CreateReview,
    responses(
        (status = 200, description = "Created (as the Python app answered).", body = ReviewBody,
            headers(
                ("ETag" = String, description = "The review's version."),
                ("Idempotent-Replayed" = String, description = "`true` when this is the stored response of an earlier request with the same `Idempotency-Key`."),
            )),
        (status = 400, description = "`malformed_json`, `invalid_body`, `unknown_field`, `missing_field`, `invalid_field`, naming the field; `invalid_header` naming `Idempotency-Key`.", body = ErrorBody),
        (status = 409, description = "`conflict`: a unique rule of the database refused the write.", body = ErrorBody),
        (status = 422, description = "`book_not_found` naming `book_id`: the book does not exist; `idempotency_key_reused` (naming `Idempotency-Key`): the key was used with another body; `constraint_violation`.", body = ErrorBody),
    ),
)]
async fn create_put(
    State(state): State<AppState>,
    key: IdempotencyKey,
    ApiJson(input): ApiJson<CreateReview>,
) -> Result<(ETag, Replayed, Json<ReviewBody>), ApiError> {
    let created = insert(&state, key, "PUT /review", StatusCode::OK, input).await?;
    let review = created.value;
    Ok((review.etag(), Replayed(created.replayed), Json(review)))
}

/// Creates the review, at most once per `Idempotency-Key` in `scope`.
#[tracing::instrument(skip_all, fields(book.id = input.book_id))]
async fn insert(
    state: &AppState,
    key: IdempotencyKey,
    scope: &'static str,
    status: StatusCode,
    input: CreateReview,
) -> Result<Created<ReviewBody>, ApiError> {
    let (book_id, rate) = input.validate()?;
    let created = idempotency::create_once(state, key, scope, status, input, move |conn, input| {
        // The foreign key finds a missing book; the error names the id sent.
        let new = NewReview {
            book_id,
            reviewer: &input.reviewer,
            rate,
            review: input.review.as_deref(),
        };
        let review = Review::create(conn, &new).map_err(|error| match ApiError::from(error) {
            ApiError::UnknownReference {
                resource, field, ..
            } => ApiError::unknown_reference(resource, field, book_id),
            other => other,
        })?;
        let id = review.id;
        Ok((ReviewBody::from(review), id))
    })
    .await?;
    if !created.replayed {
        tracing::info!(review.id = created.value.id, "created review");
    }
    Ok(created)
}
