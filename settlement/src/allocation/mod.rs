//! Per-slot settlement: delivery factors, delivered energy per trade, payments out of escrow,
//! shortfall imbalances, carbon mints, log leaves and report rows, as one pure function
//! ([`settle_slot`]) with deterministic transfer ids.
//!
//! Methodology `sunmesh-settlement/1` (see `docs/transparency-log.md` for the records):
//! - `f_s = min(1, E_s/Q_s)` per seller (verified export ÷ contracted sales), `f_b = min(1,
//!   I_b/Q_b)` per buyer (metered import ÷ contracted purchases); a party with nothing
//!   contracted has factor 1.
//! - Each trade delivers `d = floor(q × min(f_s, f_b))` Wh.
//! - Money: the buyer pays `floor(d × p / 1000)` micro-units to the seller (p in micro per
//!   kWh). Flooring means the buyer never pays more than the exact value; with a negative price
//!   the seller pays the buyer `ceil(d × |p| / 1000)`. The payer's escrow was
//!   `|floor(q × p / 1000)|`, the most the trade can cost; what is not paid returns.
//! - Imbalance: a seller's shortfall is `max(0, Q_s − E_s)`, a buyer's `max(0, Q_b − I_b)`;
//!   the party pays `floor(shortfall × P_imb / 1000)` to the imbalance account (receives if
//!   the imbalance price is negative). Charges are balancing debits: capped at the party's
//!   available money so a run never fails; the uncollected rest is visible in the ledger's
//!   `Applied { moved }` and the platform pursues it.
//! - Carbon: each producer gets `floor(E × EF / 10^6)` g; the zone's total is
//!   `floor(ΣE × EF / 10^6)` and the difference is minted to the rounding account, so the
//!   zone total is exact.
//! - Re-running a version reproduces the same transfers (same ids): the ledger no-ops them.
//!   A reconciliation (run version > 1) takes the previous run and posts only the
//!   differences, as `Correction` transfers with ids of their own.

mod delivery;
mod escrow;
mod postings;
mod records;
mod run;

use crate::carbon::EmissionFactor;
use crate::ledger::AccountId;

pub use delivery::{delivered_wh, shortfall_charge, trade_value, DeliveryFactor};
pub use escrow::{escrow_amount, escrow_for_trade, escrow_transfer_id};
pub use records::inputs_digest;
pub use run::{settle_slot, CarbonMint, Delivery, Imbalance, Role, RunTotals, SettlementRun};

/// The methodology version recorded in every run, leaf and report row.
pub const METHODOLOGY_VERSION: &str = "sunmesh-settlement/1";

/// One trade of the slot, as the exchange reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeInput {
    pub trade_id: u64,
    pub seller: AccountId,
    pub buyer: AccountId,
    pub qty_wh: u64,
    /// May be negative: then the seller pays the buyer.
    pub price_micro_per_kwh: i64,
}

/// How many readings of a participant's meters were usable in the slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QualityCounts {
    pub verified: u64,
    pub flagged: u64,
    pub rejected: u64,
    pub missing: u64,
}

impl QualityCounts {
    pub fn add(&mut self, other: &QualityCounts) {
        self.verified = self.verified.saturating_add(other.verified);
        self.flagged = self.flagged.saturating_add(other.flagged);
        self.rejected = self.rejected.saturating_add(other.rejected);
        self.missing = self.missing.saturating_add(other.missing);
    }
}

/// A participant's verified energy in the slot. A participant without an entry exported and
/// imported nothing (for example, no valid readings arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterInput {
    pub account: AccountId,
    pub verified_export_wh: u64,
    pub metered_import_wh: u64,
    /// First and last sequence number of the readings behind these values.
    pub reading_range: Option<(u64, u64)>,
    pub quality: QualityCounts,
}

/// Everything one (zone, slot) settlement needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInputs {
    pub zone: String,
    pub slot_start_ms: i64,
    pub slot_len_ms: i64,
    pub trades: Vec<TradeInput>,
    pub meters: Vec<MeterInput>,
    pub imbalance_price_micro_per_kwh: i64,
    /// The factor valid for this zone and slot (from [`crate::carbon::FactorTable::lookup`]).
    pub emission_factor: EmissionFactor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementConfig {
    pub methodology_version: String,
}

impl Default for SettlementConfig {
    fn default() -> Self {
        Self {
            methodology_version: METHODOLOGY_VERSION.to_string(),
        }
    }
}
