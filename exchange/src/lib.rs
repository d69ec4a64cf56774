//! Order books per (zone, delivery slot) and the continuous double auction that matches them.
//!
//! Owns: the market calendar, order types, matching, gate closure, pre-trade checks (through a
//! trait the shell implements), snapshots and state hashes. Must never do I/O, read a clock or
//! use randomness: time is an argument and the same commands always give the same events.
//!
//! Start at [`Engine::execute`]: a [`Command`] in, the [`Event`]s it caused out. The rules
//! (self-trade policy, rounding, negative prices, gate closure, order types) are in README.md.

mod book;
mod book_table;
pub mod calendar;
pub mod checks;
mod client_ids;
pub mod command;
mod commitments;
pub mod config;
pub mod engine;
pub mod error;
pub mod event;
mod fixed_hash;
pub mod order;
mod order_index;
pub mod snapshot;
pub mod view;

pub use book::RestingOrder;
pub use calendar::{Calendar, QUARTER_HOUR_MS};
pub use checks::{NoLimits, PreTrade};
pub use command::{Action, Command};
pub use config::MarketConfig;
pub use engine::Engine;
pub use error::ExchangeError;
pub use event::{CancelReason, Event, Trade};
pub use order::{
    escrow_for, order_escrow, trade_value, AccountId, BookKey, ClientOrderId, Micros, NewOrder,
    OrderId, OrderType, Price, Side, SlotId, TradeId, Wh, ZoneId,
};
pub use snapshot::{BookSnapshot, ClientIdRun, Snapshot, SNAPSHOT_VERSION};
pub use view::BookView;
