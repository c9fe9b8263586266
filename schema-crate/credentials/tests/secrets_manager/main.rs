//! `DB_SECRET_ARN` against a local Secrets Manager (moto's server, started per test).
//! Run with `cargo test -p bookstore-credentials --features secrets-manager --test secrets_manager`.
//! The RDS IAM token's known-answer tests are unit tests in `src/iam.rs`.
#![cfg(feature = "secrets-manager")]

mod secret;
