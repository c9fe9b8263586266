//! The API's OpenAPI 3.1 document, generated from the handlers' own types: each handler's
//! `#[utoipa::path]` (route, parameters, body, responses), the bodies' `ToSchema`
//! derives, and the kit's error shape (`bookstore_kit::error::ErrorBody`).
//!
//! `bookstore-local` serves it at `/openapi.json`; `docs/openapi.json` is this document as
//! committed (a test fails when they differ: `UPDATE_OPENAPI=1 cargo test -p
//! bookstore-functions --test it openapi` rewrites it); the CDK app builds API Gateway's
//! request models from that file. The Lambda binaries never build it, so none of this is
//! in their zips.

use std::sync::OnceLock;

use axum::{Router, http::header, response::IntoResponse, routing::get};
use bookstore_kit::{error::ErrorBody, state::AppState};
use utoipa::{
    IntoParams, Modify, OpenApi,
    openapi::{
        ContentBuilder, HeaderBuilder, Ref, RefOr, ResponseBuilder,
        path::Operation,
        schema::{ObjectBuilder, Type},
    },
};

use crate::{book::BookApi, review::ReviewApi};

/// The path `bookstore-local` serves the document at.
pub const PATH: &str = "/openapi.json";

/// `If-Match` on the writes that change or remove a resource.
#[derive(IntoParams)]
#[into_params(names("If-Match"), parameter_in = Header)]
pub struct IfMatchHeader(
    /// The `ETag` the client read (a quoted entity tag, or a comma-separated list of
    /// them), or `*` for whatever version is current. Required: without it the answer is
    /// `428 precondition_required`.
    #[param(example = "\"5d41402abc4b2a76b9719d911017c592\"")]
    pub String,
);

/// `Idempotency-Key` on the creates (`POST` and `PUT` on `/book` and `/review`).
#[derive(IntoParams)]
#[into_params(names("Idempotency-Key"), parameter_in = Header)]
pub struct IdempotencyKeyHeader(
    /// Optional: 1 to 255 visible ASCII characters (a UUID, say). The create runs at most
    /// once per key: a repeat with the same body answers the stored response (same status
    /// and id, with `Idempotent-Replayed: true`); the same key with another body is
    /// `422 idempotency_key_reused`. Keys are kept 24 hours.
    #[param(value_type = String, required = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", example = "0b9f6c1e-51e4-4a43-9f0e-3b2b8c1f6a7d")]
    pub Option<String>,
);

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bookstore API",
        version = "1.0.0",
        description = "Books and their reviews (docs/api.md). Every error is `{\"error\": {\"code\", \"message\", \"field\"?}}`; switch on `code`.",
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "books", description = "`/book`: served by the `books` function."),
        (name = "reviews", description = "`/review` and `/book/{id}/reviews`: served by the `reviews` function."),
    ),
)]
struct ApiDoc;

/// The errors every operation can answer, added to each so the handlers list only their
/// own: `500 internal` and the three `503`s everywhere, `413` and `415` where a body is taken.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_common_responses(operation);
            }
        }
    }
}

fn add_common_responses(operation: &mut Operation) {
    let error = |description: &str| {
        ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
    };
    let mut add = |status: &str, response: utoipa::openapi::Response| {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(RefOr::T(response));
    };
    if operation.request_body.is_some() {
        add(
            "413",
            error("`payload_too_large`: the body is over 16 KiB.").build(),
        );
        add(
            "415",
            error("`unsupported_media_type`: the body's `Content-Type` is not JSON.").build(),
        );
    }
    add(
        "500",
        error("`internal`: the message is always `internal server error`.").build(),
    );
    add(
        "503",
        error("`database_unavailable`, `schema_behind` or `schema_incompatible`; retry after `Retry-After` seconds.")
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .description(Some("Seconds to wait before retrying (`1`)."))
                    .build(),
            )
            .build(),
    );
}

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(BookApi::openapi());
    doc.merge(ReviewApi::openapi());
    CommonResponses.modify(&mut doc);
    doc
}

/// The document as committed under `docs/openapi.json`: pretty JSON and a final newline.
pub fn json() -> String {
    let mut text = document()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

/// `GET /openapi.json`, for the local server (built once, on the first request).
pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(serve))
}

async fn serve() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    (
        [(header::CONTENT_TYPE, "application/json")],
        JSON.get_or_init(json).clone(),
    )
}
