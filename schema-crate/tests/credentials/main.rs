//! `DB_SECRET_ARN` against a local Secrets Manager (moto's server, started per test).
//! Run with `cargo test -p bookstore-schema --features aws,testing --test credentials`.
//! The RDS IAM token's known-answer tests are unit tests in `src/aws/iam.rs`.
#![cfg(feature = "aws")]

mod secret;
