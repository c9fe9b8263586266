//! End to end through a Lambda Runtime API: the built artifacts
//! (`target/lambda/<name>/bootstrap.zip`, from `bash scripts/build-lambdas.sh`) run as
//! Lambda runs them, against `bookstore_testing::lambda`'s Runtime API and the real PostgreSQL.
//!
//! Each test unzips the bootstrap it needs and fails, saying how to build it, when the
//! zip is missing. Each function process prints its cold start (spawn → first answer)
//! and peak RSS to stderr; they are reported, not asserted. Run with
//! `cargo test -p bookstore-functions --test runtime_api`.

mod api;
mod failures;
mod schema;
mod secret;
mod support;
mod tls;
