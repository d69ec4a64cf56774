//! The operator's side of the readings tables: reviewing flagged readings and devices, and
//! rule 7 (neighbourhood consistency) over stored verified energy.

use std::collections::BTreeMap;

use diesel::prelude::*;
use reading::DeviceId;
use settlement::verify::{self, OperatorDecision, Verdict};

use super::connection::write_transaction;
use super::readings::*;
use super::schema::{reading_energy, readings, verified_energy};
use super::Store;
use crate::error::{PlatformError, Result};
use crate::registry::DeviceState;

impl Store {
    /// Whether a device is under review, and why.
    pub fn device_review(&self, id: &DeviceId) -> Result<Option<String>> {
        let mut conn = self.connection()?;
        Ok(load_device(&mut conn, id)?.and_then(|d| d.review_reason))
    }

    /// Why each of `ids` is under review; devices not under review (or unknown) are absent.
    /// Two queries for all of them.
    pub fn device_reviews(
        &self,
        ids: &[DeviceId],
    ) -> Result<std::collections::HashMap<DeviceId, String>> {
        let mut conn = self.connection()?;
        Ok(load_devices(&mut conn, ids)?
            .into_iter()
            .filter_map(|(id, d)| Some((id, d.review_reason?)))
            .collect())
    }

    /// An operator's decision on a flagged reading. Releasing adds its energy to the verified
    /// energy of its slots; rejecting records `operator_rejected`. Either is final.
    pub fn decide_flagged(
        &self,
        id: &DeviceId,
        sequence: u64,
        decision: OperatorDecision,
        decided_by: &str,
        slot_ms: i64,
        now_ms: i64,
    ) -> Result<ReadingRecord> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            lock_devices(conn, std::slice::from_ref(id))?;
            let not_found = || PlatformError::ReadingNotFound {
                device: *id,
                sequence,
            };
            let seq = to_i64(sequence).ok_or_else(not_found)?;
            let row = readings::table
                .find((id.to_hex(), seq))
                .select(StoredReading::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(not_found)?;
            let current = parse_verdict(&row.verdict, &row.reasons).ok_or_else(|| {
                PlatformError::CorruptRow {
                    table: "readings",
                    key: format!("{id}/{sequence}"),
                    reason: format!("verdict {:?} reasons {:?}", row.verdict, row.reasons),
                }
            })?;
            let decided =
                verify::resolve(&current, decision).map_err(|_| PlatformError::NotFlagged {
                    device: *id,
                    sequence,
                    verdict: row.verdict.clone(),
                })?;
            let (verdict, reasons) = match decided {
                Verdict::Rejected(r) => ("rejected", format!("{},{}", r.code(), row.reasons)),
                _ => ("accepted", row.reasons.clone()),
            };
            diesel::update(readings::table.find((id.to_hex(), seq)))
                .set((
                    readings::verdict.eq(verdict),
                    readings::reasons.eq(&reasons),
                    readings::decided_at_ms.eq(Some(now_ms)),
                    readings::decided_by.eq(Some(decided_by)),
                ))
                .execute(conn)?;
            let energy = reading_energy::table
                .find((id.to_hex(), seq))
                .select(ReadingEnergy::as_select())
                .first(conn)
                .optional()?;
            if let (Verdict::Accepted, Some(e)) = (&decided, energy) {
                let mut sums = SlotSums::new();
                accumulate_slots(
                    &mut sums,
                    *id,
                    e.start_ms,
                    e.end_ms,
                    u64::try_from(e.export_wh).unwrap_or(0),
                    u64::try_from(e.import_wh).unwrap_or(0),
                    slot_ms,
                );
                add_verified_energy(conn, &sums)?;
            }
            Ok(ReadingRecord {
                reading: StoredReading {
                    verdict: verdict.to_owned(),
                    reasons,
                    decided_at_ms: Some(now_ms),
                    decided_by: Some(decided_by.to_owned()),
                    ..row
                },
                energy,
            })
        })
    }

    /// Ends a device's review after an operator has looked at it: its readings are verified
    /// normally again. Fails with [`PlatformError::DeviceNotUnderReview`] otherwise.
    pub fn clear_device_review(&self, id: &DeviceId, now_ms: i64) -> Result<()> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            lock_devices(conn, std::slice::from_ref(id))?;
            let device = load_device(conn, id)?.ok_or(PlatformError::DeviceNotFound { id: *id })?;
            if device.review_reason.is_none() {
                return Err(PlatformError::DeviceNotUnderReview { id: *id });
            }
            save_head(conn, id, device.context.head.as_ref(), None, now_ms)
        })
    }
}

/// Rule 7 (neighbourhood consistency) over stored verified energy.
impl Store {
    /// Runs `settlement::verify::neighbourhood_outliers` for one zone and delivery slot, over
    /// the verified export of the zone's active devices that reported energy in that slot.
    /// For each `High` outlier, its accepted readings overlapping the slot (not ones an operator
    /// released) become flagged `neighbourhood_outlier` and their energy leaves the verified
    /// energy of every slot they cover, until an operator releases them. Run it once per slot
    /// after the slot's readings are in (before settling it). Returns every outlier found.
    pub fn flag_neighbourhood_outliers(
        &self,
        zone: &str,
        slot_start_ms: i64,
        cfg: &settlement::verify::VerifyConfig,
        slot_ms: i64,
    ) -> Result<Vec<verify::Outlier>> {
        use super::schema::devices as devices_table;
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            let members: Vec<(String, i64)> = devices_table::table
                .filter(devices_table::zone.eq(zone))
                .filter(devices_table::status.eq(DeviceState::ACTIVE))
                .select((devices_table::id, devices_table::nameplate_w))
                .load(conn)?;
            let ids: Vec<DeviceId> = members
                .iter()
                .filter_map(|(id, _)| DeviceId::from_hex(id).ok())
                .collect();
            lock_devices(conn, &ids)?;
            let energy: BTreeMap<String, i64> = verified_energy::table
                .filter(verified_energy::slot_start_ms.eq(slot_start_ms))
                .filter(verified_energy::device_id.eq_any(members.iter().map(|m| &m.0)))
                .select((verified_energy::device_id, verified_energy::export_wh))
                .load::<(String, i64)>(conn)?
                .into_iter()
                .collect();
            let peers: Vec<verify::PeerYield> = members
                .iter()
                .filter_map(|(id, nameplate)| {
                    Some(verify::PeerYield {
                        device: DeviceId::from_hex(id).ok()?,
                        nameplate_w: u32::try_from(*nameplate).ok()?,
                        energy_wh: u64::try_from(*energy.get(id)?).ok()?,
                    })
                })
                .collect();
            let outliers = verify::neighbourhood_outliers(&peers, cfg);
            let slot_end = slot_start_ms.saturating_add(slot_ms);
            for outlier in outliers
                .iter()
                .filter(|o| o.direction == verify::Direction::High)
            {
                let id = outlier.device.to_hex();
                let hits: Vec<(i64, ReadingEnergy)> = readings::table
                    .inner_join(
                        reading_energy::table.on(reading_energy::device_id
                            .eq(readings::device_id)
                            .and(reading_energy::sequence.eq(readings::sequence))),
                    )
                    .filter(readings::device_id.eq(&id))
                    .filter(readings::verdict.eq("accepted"))
                    .filter(readings::decided_at_ms.is_null())
                    .filter(reading_energy::start_ms.lt(slot_end))
                    .filter(reading_energy::end_ms.gt(slot_start_ms))
                    .select((readings::sequence, ReadingEnergy::as_select()))
                    .load(conn)?;
                let mut sums = SlotSums::new();
                for (sequence, e) in &hits {
                    diesel::update(readings::table.find((&id, sequence)))
                        .set((
                            readings::verdict.eq("flagged"),
                            readings::reasons.eq(verify::FlagReason::NeighbourhoodOutlier.code()),
                        ))
                        .execute(conn)?;
                    accumulate_slots(
                        &mut sums,
                        outlier.device,
                        e.start_ms,
                        e.end_ms,
                        u64::try_from(e.export_wh).unwrap_or(0),
                        u64::try_from(e.import_wh).unwrap_or(0),
                        slot_ms,
                    );
                }
                for (&(device, slot), &(export, import)) in &sums {
                    let (Some(export), Some(import)) = (to_i64(export), to_i64(import)) else {
                        continue;
                    };
                    diesel::update(verified_energy::table.find((device.to_hex(), slot)))
                        .set((
                            verified_energy::export_wh.eq(verified_energy::export_wh - export),
                            verified_energy::import_wh.eq(verified_energy::import_wh - import),
                        ))
                        .execute(conn)?;
                }
            }
            Ok(outliers)
        })
    }
}
