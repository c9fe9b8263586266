//! The route table: one router for every function and for the local server.

use axum::Router;
use bookstore_kit::{AppState, router};

use crate::{book, review};

/// Which routes a router serves: one function per resource, as API Gateway routes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `GET /book`, `POST /book`, `PUT /book`, `GET`/`PATCH`/`DELETE /book/{id}`.
    Books,
    /// `GET /review`, `POST /review`, `PUT /review`, `GET`/`PATCH`/`DELETE /review/{id}`,
    /// `GET /book/{id}/reviews`.
    Reviews,
    /// Both: the local server.
    All,
}

/// The routes `function` serves, before the kit finishes them: what the binaries hand to
/// `bookstore_kit::run_function` and `run_local`.
pub fn routes(function: Function) -> Router<AppState> {
    match function {
        Function::Books => book::routes(),
        Function::Reviews => review::routes(),
        Function::All => book::routes().merge(review::routes()),
    }
}

/// The application: the routes of `function` over `state`, finished by the kit (JSON
/// errors for unknown routes and methods, the body limit, request logs), as the binaries
/// serve it and the tests drive it.
pub fn app(state: AppState, function: Function) -> Router {
    router::finish(routes(function), state)
}
