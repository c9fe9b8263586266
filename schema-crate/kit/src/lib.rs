#![doc = include_str!("../README.md")]

#[cfg(feature = "http")]
pub mod cors;
#[cfg(feature = "http")]
pub mod error;
#[cfg(feature = "http")]
pub mod extract;
#[cfg(feature = "http")]
pub mod idempotency;
pub mod lambda;
pub mod logging;
#[cfg(feature = "http")]
mod observe;
#[cfg(feature = "http")]
pub mod precondition;
#[cfg(feature = "http")]
pub mod router;
#[cfg(feature = "http")]
pub mod stage;
#[cfg(feature = "http")]
pub mod startup;
#[cfg(feature = "http")]
pub mod state;
#[cfg(feature = "http")]
pub mod validate;
#[cfg(feature = "http")]
mod workers;

#[cfg(feature = "http")]
pub use error::ApiError;
#[cfg(feature = "http")]
pub use stage::lambda_service;
#[cfg(feature = "http")]
pub use startup::{run_function, run_local};
#[cfg(feature = "http")]
pub use state::{AppState, Dispatch};

/// This crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
