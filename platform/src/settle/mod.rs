//! Settlement, the platform side: gathering a slot's inputs, persisting what the pure
//! `settlement` core decides (ledger transfers and balances, runs, mints, the transparency
//! log with signed checkpoints, report rows) in one transaction per run, the schedule of due
//! slots and reward epochs, the log signing key, reports (CSV, JSON, SVG charts) and the
//! offline log check behind `sunmesh verify-log`.
//!
//! Never re-implements a settlement rule: every amount, id, leaf and invariant comes from
//! the core; this module stores and serves them.

mod book;
pub mod chart;
pub mod commands;
pub mod feed;
mod inputs;
pub mod keys;
pub mod report;
pub mod routes;
mod schedule;
mod service;
pub mod verify;

pub use feed::{Feeder, TickReport};
pub use inputs::{MeteredSource, TradeSource};
pub use schedule::{due_slots, ScheduleConfig, MAX_DUE_SLOTS};
pub use service::{EpochOutcome, RunOutcome, SettleConfig, Settlement};
