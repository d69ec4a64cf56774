//! Pre-trade checks: the two facts the engine needs from the platform before it accepts an order.
//!
//! The engine keeps its own running totals (Wh committed per seller and book, escrow reserved per
//! buyer) and asks the platform only for the limits:
//! - a seller's resting + already sold Wh in a book, plus the new order, must not exceed
//!   [`PreTrade::sell_capacity_wh`] for that zone and slot;
//! - a buyer's escrow held by this engine, plus the new order's escrow, must not exceed
//!   [`PreTrade::available_funds`].

use crate::engine::Engine;
use crate::error::ExchangeError;
use crate::order::{AccountId, BookKey, Micros, SlotId, Wh, ZoneId};

pub trait PreTrade {
    /// Total Wh the account's installation can deliver in `zone` during `slot` (nameplate or
    /// forecast). `None` means the account has no installation there and may not sell.
    fn sell_capacity_wh(&self, account: AccountId, zone: ZoneId, slot: SlotId) -> Option<Wh>;

    /// Money the account may tie up in escrow, in micro-units, *not* counting escrow this engine
    /// already holds for it (the engine adds that itself). When a trade happens the escrow for the
    /// filled part is released by the engine; the platform must then deduct the trade's value from
    /// what it reports here.
    fn available_funds(&self, account: AccountId) -> Micros;
}

/// Checks that always pass: unlimited capacity and funds. For demos, benchmarks and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLimits;

impl PreTrade for NoLimits {
    fn sell_capacity_wh(&self, _: AccountId, _: ZoneId, _: SlotId) -> Option<Wh> {
        Some(Wh(u64::MAX))
    }

    fn available_funds(&self, _: AccountId) -> Micros {
        Micros(i128::MAX)
    }
}

/// The engine's side of the checks: its running totals and the comparisons against the limits.
impl Engine {
    pub(crate) fn escrow_held(&self, account: AccountId) -> i128 {
        self.escrow.get(&account).copied().unwrap_or(0)
    }

    pub(crate) fn add_escrow(&mut self, account: AccountId, delta: i128) {
        if delta == 0 {
            return;
        }
        let e = self.escrow.entry(account).or_insert(0);
        *e += delta;
        if *e == 0 {
            self.escrow.remove(&account);
        }
    }

    pub(crate) fn release_escrow(&mut self, account: AccountId, amount: i128) {
        self.add_escrow(account, -amount);
    }

    pub(crate) fn check_funds(
        &self,
        account: AccountId,
        extra: i128,
        checks: &impl PreTrade,
    ) -> Result<(), ExchangeError> {
        if extra <= 0 {
            return Ok(());
        }
        let available = checks.available_funds(account).0;
        let free = available.saturating_sub(self.escrow_held(account));
        if extra > free {
            return Err(ExchangeError::InsufficientFunds {
                needed: extra,
                available: free.max(0),
            });
        }
        Ok(())
    }

    pub(crate) fn check_capacity(
        &self,
        account: AccountId,
        key: BookKey,
        committed_now: u64,
        requested: u64,
        checks: &impl PreTrade,
    ) -> Result<(), ExchangeError> {
        let Some(cap) = checks.sell_capacity_wh(account, key.zone, key.slot) else {
            return Err(ExchangeError::NoCapacity);
        };
        if committed_now.saturating_add(requested) > cap.0 {
            return Err(ExchangeError::CapacityExceeded {
                requested,
                committed: committed_now,
                capacity: cap.0,
            });
        }
        Ok(())
    }
}
