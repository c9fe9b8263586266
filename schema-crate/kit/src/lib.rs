#![doc = include_str!("../README.md")]

pub mod error;
pub mod extract;
mod logging;
pub mod router;
pub mod stage;
pub mod startup;
pub mod state;
pub mod validate;

pub use error::ApiError;
pub use stage::lambda_service;
pub use startup::{run_function, run_local};
pub use state::{AppState, Dispatch};

/// This crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
