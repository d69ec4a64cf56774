//! Read-only totals over readings, verified energy and trades, for summaries (`sunmesh demo`
//! prints one at the end of its day). Counting is done by the database; sums of small row
//! sets are done here so both backends return the same integer types.

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::schema::{readings, rejected_readings, trading_trades, verified_energy};
use super::Store;
use crate::error::Result;

/// How many stored readings of one device got one verdict with one reason list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictTally {
    pub device_id: String,
    /// `accepted`, `flagged` or `rejected`.
    pub verdict: String,
    /// Comma-separated reason codes (empty when accepted).
    pub reasons: String,
    pub count: i64,
}

/// Trades whose delivery slot starts in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TradeTotals {
    pub trades: i64,
    pub qty_wh: i64,
    pub value_micro: i64,
}

impl Store {
    /// How many readings are stored (any verdict).
    pub fn reading_count(&self) -> Result<i64> {
        Ok(readings::table
            .select(count_star())
            .first(&mut self.connection()?)?)
    }

    /// Stored readings per (device, verdict, reasons), plus readings refused before storage
    /// but logged in `rejected_readings` (as verdict `rejected`), sorted.
    pub fn verdict_tallies(&self) -> Result<Vec<VerdictTally>> {
        let mut conn = self.connection()?;
        let stored: Vec<(String, String, String, i64)> = readings::table
            .group_by((readings::device_id, readings::verdict, readings::reasons))
            .select((
                readings::device_id,
                readings::verdict,
                readings::reasons,
                count_star(),
            ))
            .load(&mut conn)?;
        let logged: Vec<(String, String, i64)> = rejected_readings::table
            .group_by((rejected_readings::device_id, rejected_readings::reason))
            .select((
                rejected_readings::device_id,
                rejected_readings::reason,
                count_star(),
            ))
            .load(&mut conn)?;
        let mut out: Vec<VerdictTally> = stored
            .into_iter()
            .map(|(device_id, verdict, reasons, count)| VerdictTally {
                device_id,
                verdict,
                reasons,
                count,
            })
            .chain(
                logged
                    .into_iter()
                    .map(|(device_id, reason, count)| VerdictTally {
                        device_id,
                        verdict: "rejected".to_owned(),
                        reasons: reason,
                        count,
                    }),
            )
            .collect();
        out.sort_by(|a, b| {
            (&a.device_id, &a.verdict, &a.reasons).cmp(&(&b.device_id, &b.verdict, &b.reasons))
        });
        Ok(out)
    }

    /// Verified export and import per device over slots starting in `[from_ms, to_ms)`, Wh,
    /// sorted by device id.
    pub fn verified_energy_by_device(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, i64, i64)>> {
        let rows: Vec<(String, i64, i64)> = verified_energy::table
            .filter(verified_energy::slot_start_ms.ge(from_ms))
            .filter(verified_energy::slot_start_ms.lt(to_ms))
            .select((
                verified_energy::device_id,
                verified_energy::export_wh,
                verified_energy::import_wh,
            ))
            .load(&mut self.connection()?)?;
        let mut sums: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        for (device, export, import) in rows {
            let e = sums.entry(device).or_default();
            e.0 = e.0.saturating_add(export);
            e.1 = e.1.saturating_add(import);
        }
        Ok(sums.into_iter().map(|(d, (e, i))| (d, e, i)).collect())
    }

    /// Trades of slots starting in `[from_ms, to_ms)`.
    pub fn trade_totals(&self, from_ms: i64, to_ms: i64) -> Result<TradeTotals> {
        let rows: Vec<(i64, i64)> = trading_trades::table
            .filter(trading_trades::slot_start_ms.ge(from_ms))
            .filter(trading_trades::slot_start_ms.lt(to_ms))
            .select((trading_trades::qty_wh, trading_trades::value_micro))
            .load(&mut self.connection()?)?;
        Ok(rows
            .iter()
            .fold(TradeTotals::default(), |t, (qty, value)| TradeTotals {
                trades: t.trades + 1,
                qty_wh: t.qty_wh.saturating_add(*qty),
                value_micro: t.value_micro.saturating_add(*value),
            }))
    }
}
