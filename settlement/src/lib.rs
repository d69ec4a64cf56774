//! What happens to readings and trades after they arrive: verification rules (signatures,
//! chains, counters, physics, solar geometry, neighbours), delivery allocation, imbalances,
//! the double-entry ledger, carbon credits, rewards, the transparency log and report rows.
//!
//! Must never do I/O, read a clock or use randomness: every input, including "now", is an
//! argument, so a settlement run can be replayed and gives byte-identical results.

pub mod allocation;
pub mod carbon;
pub mod error;
pub mod ledger;
pub mod merkle;
pub mod report;
pub mod rewards;
pub mod solar;
pub mod verify;

pub use error::SettlementError;
