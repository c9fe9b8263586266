#![doc = include_str!("../README.md")]

pub mod app;
pub mod book;
pub mod review;

pub use app::{Function, app, routes};
