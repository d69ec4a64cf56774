//! The sunmesh platform shell: storage (diesel on SQLite or PostgreSQL), the device registry,
//! the HTTP API (accounts, keys, health, metrics, OpenAPI), the web page, the `sunmesh` CLI
//! and `sunmesh demo`, a simulated neighbourhood run end to end.
//!
//! Owns every side effect of the platform. Business rules live in the pure cores
//! (`reading`, `exchange`, `settlement`); this crate must not re-implement them.

pub mod api;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod ingest;
pub mod registry;
pub mod serve;
pub mod settle;
pub mod store;
pub mod telemetry;
pub mod trading;
pub mod web;

pub use error::{PlatformError, Result};
pub use store::Store;
