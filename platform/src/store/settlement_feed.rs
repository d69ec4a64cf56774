//! Reads the live tables settlement takes a slot's inputs from: the exchange's trades
//! (`trading_trades`) and, per participant, the verified energy of its devices
//! (`verified_energy`) with the data-quality counts of their readings (`readings`).

use std::collections::BTreeMap;

use diesel::prelude::*;
use settlement::allocation::{MeterInput, QualityCounts};
use settlement::ledger::AccountId;

use super::schema::{
    devices, readings, settlement_runs, settlement_trades, slot_energy, verified_energy,
};
use super::Store;
use crate::error::{PlatformError, Result};

/// One participant's figures while they are summed over its devices.
#[derive(Default)]
struct Tally {
    export_wh: u64,
    import_wh: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    quality: QualityCounts,
}

fn unsigned(table: &'static str, key: &str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| PlatformError::CorruptRow {
        table,
        key: key.to_owned(),
        reason: format!("negative value {value}"),
    })
}

impl Store {
    /// Whether the trades of (zone, slot) were recorded for settlement already.
    pub fn has_recorded_trades(&self, zone: &str, slot_start_ms: i64) -> Result<bool> {
        let n: i64 = settlement_trades::table
            .filter(settlement_trades::zone.eq(zone))
            .filter(settlement_trades::slot_start_ms.eq(slot_start_ms))
            .count()
            .get_result(&mut self.connection()?)?;
        Ok(n > 0)
    }

    /// Whether participants' energy of (zone, slot) was recorded for settlement already.
    pub fn has_slot_energy(&self, zone: &str, slot_start_ms: i64) -> Result<bool> {
        let n: i64 = slot_energy::table
            .filter(slot_energy::zone.eq(zone))
            .filter(slot_energy::slot_start_ms.eq(slot_start_ms))
            .count()
            .get_result(&mut self.connection()?)?;
        Ok(n > 0)
    }

    /// The zones any device is registered in, sorted.
    pub fn device_zones(&self) -> Result<Vec<String>> {
        Ok(devices::table
            .select(devices::zone)
            .distinct()
            .order(devices::zone)
            .load(&mut self.connection()?)?)
    }

    /// The start of the newest slot with a settlement run, if any.
    pub fn latest_settled_slot(&self) -> Result<Option<i64>> {
        Ok(settlement_runs::table
            .select(diesel::dsl::max(settlement_runs::slot_start_ms))
            .first(&mut self.connection()?)?)
    }

    /// Per participant (device owner), the verified export and metered import of its devices
    /// in `zone` during the slot, and the data-quality counts of their readings stamped in
    /// `[slot_start, slot_start + slot_len)`. The reading range spans the accepted readings'
    /// sequence numbers (over all the participant's devices). Participants with neither
    /// energy nor readings are left out.
    pub fn metered_inputs(
        &self,
        zone: &str,
        slot_start_ms: i64,
        slot_len_ms: i64,
    ) -> Result<Vec<MeterInput>> {
        let mut conn = self.connection()?;
        let energy: Vec<(i64, i64, i64)> = verified_energy::table
            .inner_join(devices::table.on(devices::id.eq(verified_energy::device_id)))
            .filter(devices::zone.eq(zone))
            .filter(verified_energy::slot_start_ms.eq(slot_start_ms))
            .select((
                devices::owner_id,
                verified_energy::export_wh,
                verified_energy::import_wh,
            ))
            .load(&mut conn)?;
        let stamped: Vec<(i64, String, i64)> = readings::table
            .inner_join(devices::table.on(devices::id.eq(readings::device_id)))
            .filter(devices::zone.eq(zone))
            .filter(readings::timestamp_ms.ge(slot_start_ms))
            .filter(readings::timestamp_ms.lt(slot_start_ms.saturating_add(slot_len_ms)))
            .select((devices::owner_id, readings::verdict, readings::sequence))
            .load(&mut conn)?;
        let key = format!("{zone}/{slot_start_ms}");
        let mut tallies: BTreeMap<u64, Tally> = BTreeMap::new();
        for (owner, export, import) in energy {
            let t = tallies
                .entry(unsigned("devices", &key, owner)?)
                .or_default();
            t.export_wh = t
                .export_wh
                .saturating_add(unsigned("verified_energy", &key, export)?);
            t.import_wh = t
                .import_wh
                .saturating_add(unsigned("verified_energy", &key, import)?);
        }
        for (owner, verdict, sequence) in stamped {
            let t = tallies
                .entry(unsigned("devices", &key, owner)?)
                .or_default();
            match verdict.as_str() {
                "accepted" => {
                    t.quality.verified += 1;
                    let seq = unsigned("readings", &key, sequence)?;
                    t.first_seq = Some(t.first_seq.map_or(seq, |s| s.min(seq)));
                    t.last_seq = Some(t.last_seq.map_or(seq, |s| s.max(seq)));
                }
                "flagged" => t.quality.flagged += 1,
                _ => t.quality.rejected += 1,
            }
        }
        Ok(tallies
            .into_iter()
            .map(|(account, t)| MeterInput {
                account: AccountId(account),
                verified_export_wh: t.export_wh,
                metered_import_wh: t.import_wh,
                reading_range: t.first_seq.zip(t.last_seq),
                quality: t.quality,
            })
            .collect())
    }
}
