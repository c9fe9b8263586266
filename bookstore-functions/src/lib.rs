#![doc = include_str!("../README.md")]

pub mod app;
pub mod book;
pub mod error;
pub mod extract;
pub mod lambda;
pub mod review;
pub mod startup;
pub mod state;
pub mod validate;

pub use app::{Function, app};
pub use error::ApiError;
pub use lambda::lambda_service;
pub use state::{AppState, Dispatch};
