//! The sunmesh platform shell: storage (diesel on SQLite or PostgreSQL), the device registry,
//! and later the API, ingest, settlement scheduler and web page.
//!
//! Owns every side effect of the platform. Business rules live in the pure cores
//! (`reading`, `exchange`, `settlement`); this crate must not re-implement them.

pub mod cli;
pub mod error;
pub mod registry;
pub mod settle;
pub mod store;

pub use error::{PlatformError, Result};
pub use store::Store;
