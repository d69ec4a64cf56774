//! Where a settlement run's inputs come from, and the snapshot of them each run keeps.
//!
//! - Trades: [`TradeSource`]. The store implementation reads `settlement_trades`
//!   (`trade_id, zone, slot_start_ms, seller_account, buyer_account, qty_wh,
//!   price_micro_per_kwh`), which the trading side fills at gate closure, ideally through
//!   [`super::Settlement::record_trades`] so each trade's escrow is created with it.
//! - Verified energy: [`MeteredSource`]. The store implementation reads `slot_energy`
//!   (`account_id, zone, slot_start_ms, export_wh, import_wh`, the readings' first/last
//!   sequence numbers and quality counts), which ingest fills per participant and slot
//!   ([`crate::Store::put_slot_energy`]) from its per-device verified energy.
//!
//! A run stores the meter values, prices and factor it used (`settlement_runs.inputs_json`),
//! so a reconciliation can rebuild every earlier run exactly even after `slot_energy` changed.

use serde::{Deserialize, Serialize};
use settlement::allocation::{MeterInput, QualityCounts, SlotInputs, TradeInput};
use settlement::carbon::{EmissionFactor, FactorKind};
use settlement::ledger::AccountId;

use crate::error::{PlatformError, Result};
use crate::store::Store;

/// The trades of one (zone, slot), as fixed at gate closure.
pub trait TradeSource: Send + Sync {
    fn slot_trades(&self, zone: &str, slot_start_ms: i64) -> Result<Vec<TradeInput>>;
}

/// Each participant's verified export and metered import in one (zone, slot).
pub trait MeteredSource: Send + Sync {
    fn slot_meters(&self, zone: &str, slot_start_ms: i64) -> Result<Vec<MeterInput>>;
}

impl TradeSource for Store {
    fn slot_trades(&self, zone: &str, slot_start_ms: i64) -> Result<Vec<TradeInput>> {
        Store::slot_trades(self, zone, slot_start_ms)
    }
}

impl MeteredSource for Store {
    fn slot_meters(&self, zone: &str, slot_start_ms: i64) -> Result<Vec<MeterInput>> {
        Store::slot_meters(self, zone, slot_start_ms)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct MeterSnapshot {
    account: u64,
    export_wh: u64,
    import_wh: u64,
    reading_range: Option<(u64, u64)>,
    quality: [u64; 4],
}

#[derive(Debug, Serialize, Deserialize)]
struct FactorSnapshot {
    zone: String,
    kind: String,
    valid_from_ms: i64,
    valid_to_ms: i64,
    source: String,
    version: String,
    g_per_mwh: u64,
}

/// What a run used besides the trades (which are fixed and read again).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InputSnapshot {
    slot_len_ms: i64,
    imbalance_price_micro_per_kwh: i64,
    factor: FactorSnapshot,
    meters: Vec<MeterSnapshot>,
}

impl InputSnapshot {
    pub(crate) fn of(inputs: &SlotInputs) -> Self {
        let f = &inputs.emission_factor;
        InputSnapshot {
            slot_len_ms: inputs.slot_len_ms,
            imbalance_price_micro_per_kwh: inputs.imbalance_price_micro_per_kwh,
            factor: FactorSnapshot {
                zone: f.zone.clone(),
                kind: f.kind.name().to_owned(),
                valid_from_ms: f.valid_from_ms,
                valid_to_ms: f.valid_to_ms,
                source: f.source.clone(),
                version: f.version.clone(),
                g_per_mwh: f.g_per_mwh,
            },
            meters: inputs
                .meters
                .iter()
                .map(|m| MeterSnapshot {
                    account: m.account.0,
                    export_wh: m.verified_export_wh,
                    import_wh: m.metered_import_wh,
                    reading_range: m.reading_range,
                    quality: [
                        m.quality.verified,
                        m.quality.flagged,
                        m.quality.rejected,
                        m.quality.missing,
                    ],
                })
                .collect(),
        }
    }

    pub(crate) fn to_json(&self) -> String {
        // Serialising plain integers and strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Rebuilds the inputs of a stored run from its snapshot and the slot's trades.
    pub(crate) fn restore(
        json: &str,
        run_key: &str,
        zone: &str,
        slot_start_ms: i64,
        trades: Vec<TradeInput>,
    ) -> Result<SlotInputs> {
        let corrupt = |reason: String| PlatformError::CorruptRow {
            table: "settlement_runs",
            key: run_key.to_owned(),
            reason,
        };
        let s: InputSnapshot =
            serde_json::from_str(json).map_err(|e| corrupt(format!("inputs_json: {e}")))?;
        let kind = FactorKind::parse(&s.factor.kind)
            .ok_or_else(|| corrupt(format!("factor kind {}", s.factor.kind)))?;
        Ok(SlotInputs {
            zone: zone.to_owned(),
            slot_start_ms,
            slot_len_ms: s.slot_len_ms,
            trades,
            meters: s
                .meters
                .into_iter()
                .map(|m| MeterInput {
                    account: AccountId(m.account),
                    verified_export_wh: m.export_wh,
                    metered_import_wh: m.import_wh,
                    reading_range: m.reading_range,
                    quality: QualityCounts {
                        verified: m.quality[0],
                        flagged: m.quality[1],
                        rejected: m.quality[2],
                        missing: m.quality[3],
                    },
                })
                .collect(),
            imbalance_price_micro_per_kwh: s.imbalance_price_micro_per_kwh,
            emission_factor: EmissionFactor {
                zone: s.factor.zone,
                valid_from_ms: s.factor.valid_from_ms,
                valid_to_ms: s.factor.valid_to_ms,
                kind,
                source: s.factor.source,
                version: s.factor.version,
                g_per_mwh: s.factor.g_per_mwh,
            },
        })
    }
}
