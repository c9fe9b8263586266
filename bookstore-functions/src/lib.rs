#![doc = include_str!("../README.md")]

pub mod app;
#[expect(
    unused_qualifications,
    reason = "utoipa's `#[utoipa::path]` expands `params(T)` into paths it qualifies itself"
)]
pub mod book;
pub mod openapi;
#[expect(
    unused_qualifications,
    reason = "utoipa's `#[utoipa::path]` expands `params(T)` into paths it qualifies itself"
)]
pub mod review;

pub use app::{Function, app, routes};
