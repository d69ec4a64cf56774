//! The readings tables: the chain of each device (its readings; its head is in
//! `device_heads`, re-exported here), rejected authentic readings, gaps, and verified energy
//! per delivery slot.
//!
//! The functions taking a connection are the pieces of one ingest transaction (the ingest
//! service composes them under per-device locks); the `Store` methods are the read side and
//! the operator's review.

use std::collections::BTreeMap;

use diesel::prelude::*;
use reading::{ChainHash, DeviceId, DeviceStatus, SignedReading};
use settlement::verify::{self, FlagReason, RejectReason, Verdict};

use super::connection::AnyConnection;
pub use super::device_heads::{
    load_device, load_devices, lock_devices, lock_key, save_head, save_heads, LoadedDevice,
    REVIEW_NONE, REVIEW_UNDER_REVIEW,
};
use super::schema::{reading_energy, reading_gaps, readings, rejected_readings, verified_energy};
use super::Store;
use crate::error::{PlatformError, Result};

/// Most rows one multi-row INSERT carries (PostgreSQL allows 65 535 bind parameters).
pub(super) const INSERT_CHUNK: usize = 1_000;

/// A stored reading's verdict as text, and back.
pub fn verdict_text(verdict: &Verdict) -> (&'static str, String) {
    match verdict {
        Verdict::Accepted => ("accepted", String::new()),
        Verdict::Flagged(flags) => (
            "flagged",
            flags.iter().map(|f| f.code()).collect::<Vec<_>>().join(","),
        ),
        Verdict::Rejected(reason) => ("rejected", reason.code().to_owned()),
    }
}

fn codes(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').filter(|c| !c.is_empty())
}

/// Rebuilds a verdict from its stored text; `None` when the row was edited by hand.
pub fn parse_verdict(verdict: &str, reasons: &str) -> Option<Verdict> {
    match verdict {
        "accepted" => Some(Verdict::Accepted),
        "flagged" => codes(reasons)
            .map(|c| c.parse::<FlagReason>().ok())
            .collect::<Option<Vec<_>>>()
            .map(Verdict::Flagged),
        // A rejection stores its reason first; an operator rejection keeps the flags after it.
        "rejected" => codes(reasons)
            .next()
            .and_then(|c| c.parse::<RejectReason>().ok())
            .map(Verdict::Rejected),
        _ => None,
    }
}

pub fn status_text(status: DeviceStatus) -> &'static str {
    match status {
        DeviceStatus::Ok => "ok",
        DeviceStatus::Standby => "standby",
        DeviceStatus::Fault => "fault",
        DeviceStatus::Off => "off",
    }
}

/// A counter as stored (BIGINT); readings whose counters do not fit are refused at the edge.
pub fn to_i64(value: u64) -> Option<i64> {
    i64::try_from(value).ok()
}

/// A row of `readings` to insert.
#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = readings)]
pub struct NewReadingRow {
    pub device_id: String,
    pub sequence: i64,
    pub timestamp_ms: i64,
    pub interval_ms: i64,
    pub export_wh: i64,
    pub import_wh: i64,
    pub power_w: i64,
    pub status: String,
    pub prev_hash: String,
    pub chain_hash: String,
    pub wire: Vec<u8>,
    pub verdict: String,
    pub reasons: String,
    pub received_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    pub decided_by: Option<String>,
}

/// A stored reading, as the API shows it.
#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = readings)]
pub struct StoredReading {
    pub device_id: String,
    pub sequence: i64,
    pub timestamp_ms: i64,
    pub interval_ms: i64,
    pub export_wh: i64,
    pub import_wh: i64,
    pub power_w: i64,
    pub status: String,
    pub prev_hash: String,
    pub chain_hash: String,
    pub verdict: String,
    pub reasons: String,
    pub received_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    pub decided_by: Option<String>,
}

impl StoredReading {
    pub fn reason_codes(&self) -> Vec<String> {
        codes(&self.reasons).map(str::to_owned).collect()
    }
}

/// The counter deltas a chain reading measured since the previous head, over
/// `(start_ms, end_ms]`.
#[derive(Insertable, Queryable, Selectable, Clone, Copy, Debug, PartialEq, Eq)]
#[diesel(table_name = reading_energy)]
pub struct ReadingEnergy {
    pub start_ms: i64,
    pub end_ms: i64,
    pub export_wh: i64,
    pub import_wh: i64,
}

/// A row of `reading_energy` to insert.
#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = reading_energy)]
pub struct NewEnergyRow {
    pub device_id: String,
    pub sequence: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub export_wh: i64,
    pub import_wh: i64,
}

/// A stored reading with the energy it measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadingRecord {
    pub reading: StoredReading,
    pub energy: Option<ReadingEnergy>,
}

/// What an ingest needs to know about a reading already stored at a device's sequence.
#[derive(Clone, Debug)]
pub struct StoredAt {
    pub wire: Vec<u8>,
    pub chain_hash: ChainHash,
    pub verdict: Verdict,
}

/// A gap in a device's sequence numbers: `from_seq..=to_seq` never arrived.
#[derive(Queryable, Selectable, Clone, Copy, Debug, PartialEq, Eq)]
#[diesel(table_name = reading_gaps)]
pub struct Gap {
    pub from_seq: i64,
    pub to_seq: i64,
    pub detected_at_ms: i64,
}

/// Verified energy of one device in one delivery slot.
#[derive(Queryable, Selectable, Clone, Copy, Debug, PartialEq, Eq)]
#[diesel(table_name = verified_energy)]
pub struct SlotTotal {
    pub slot_start_ms: i64,
    pub export_wh: i64,
    pub import_wh: i64,
}

/// The reading stored at `(id, sequence)`, if any.
pub fn stored_at(
    conn: &mut AnyConnection,
    id: &DeviceId,
    sequence: u64,
) -> Result<Option<StoredAt>> {
    let Some(seq) = to_i64(sequence) else {
        return Ok(None);
    };
    let row = readings::table
        .find((id.to_hex(), seq))
        .select((
            readings::wire,
            readings::chain_hash,
            readings::verdict,
            readings::reasons,
        ))
        .first::<(Vec<u8>, String, String, String)>(conn)
        .optional()?;
    row.map(|(wire, hash, verdict, reasons)| {
        let corrupt = |reason: String| PlatformError::CorruptRow {
            table: "readings",
            key: format!("{id}/{sequence}"),
            reason,
        };
        Ok(StoredAt {
            wire,
            chain_hash: ChainHash::from_hex(&hash).map_err(|e| corrupt(e.to_string()))?,
            verdict: parse_verdict(&verdict, &reasons)
                .ok_or_else(|| corrupt(format!("verdict {verdict:?} reasons {reasons:?}")))?,
        })
    })
    .transpose()
}

pub fn insert_readings(
    conn: &mut AnyConnection,
    rows: &[NewReadingRow],
    energy: &[NewEnergyRow],
) -> Result<()> {
    // Multi-row inserts are backend-specific in diesel, so they run on the inner connection.
    macro_rules! insert_all {
        ($table:expr, $rows:expr) => {
            for chunk in $rows.chunks(INSERT_CHUNK) {
                let insert = diesel::insert_into($table).values(chunk);
                match conn {
                    AnyConnection::Postgresql(pg) => insert.execute(pg)?,
                    AnyConnection::Sqlite(lite) => insert.execute(lite)?,
                };
            }
        };
    }
    insert_all!(readings::table, rows);
    insert_all!(reading_energy::table, energy);
    Ok(())
}

/// Readings with their energy, `filter` applied to the readings table.
fn load_records(
    conn: &mut AnyConnection,
    device: Option<&str>,
    flagged_only: bool,
    after_sequence: i64,
    limit: i64,
) -> Result<Vec<ReadingRecord>> {
    let mut query = readings::table
        .left_join(
            reading_energy::table.on(reading_energy::device_id
                .eq(readings::device_id)
                .and(reading_energy::sequence.eq(readings::sequence))),
        )
        .filter(readings::sequence.gt(after_sequence))
        .order((readings::device_id, readings::sequence))
        .limit(limit)
        .select((
            StoredReading::as_select(),
            Option::<ReadingEnergy>::as_select(),
        ))
        .into_boxed();
    if let Some(device) = device {
        query = query.filter(readings::device_id.eq(device.to_owned()));
    }
    if flagged_only {
        query = query.filter(readings::verdict.eq("flagged"));
    }
    Ok(query
        .load::<(StoredReading, Option<ReadingEnergy>)>(conn)?
        .into_iter()
        .map(|(reading, energy)| ReadingRecord { reading, energy })
        .collect())
}

/// Logs an authentic reading that could not join its chain, once per (reading, reason).
pub fn log_rejected(
    conn: &mut AnyConnection,
    signed: &SignedReading,
    reason: RejectReason,
    now_ms: i64,
) -> Result<()> {
    let Some(seq) = to_i64(signed.reading.sequence) else {
        return Ok(());
    };
    let device = signed.reading.device_id.to_hex();
    let hash = signed.chain_hash().to_hex();
    let seen = rejected_readings::table
        .filter(rejected_readings::device_id.eq(&device))
        .filter(rejected_readings::sequence.eq(seq))
        .filter(rejected_readings::chain_hash.eq(&hash))
        .filter(rejected_readings::reason.eq(reason.code()))
        .count()
        .get_result::<i64>(conn)?;
    if seen == 0 {
        diesel::insert_into(rejected_readings::table)
            .values((
                rejected_readings::device_id.eq(&device),
                rejected_readings::sequence.eq(seq),
                rejected_readings::chain_hash.eq(&hash),
                rejected_readings::wire.eq(signed.to_wire().to_vec()),
                rejected_readings::reason.eq(reason.code()),
                rejected_readings::received_at_ms.eq(now_ms),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn insert_gap(
    conn: &mut AnyConnection,
    id: &DeviceId,
    from_seq: u64,
    to_seq: u64,
    now_ms: i64,
) -> Result<()> {
    let (Some(from), Some(to)) = (to_i64(from_seq), to_i64(to_seq)) else {
        return Ok(());
    };
    diesel::insert_into(reading_gaps::table)
        .values((
            reading_gaps::device_id.eq(id.to_hex()),
            reading_gaps::from_seq.eq(from),
            reading_gaps::to_seq.eq(to),
            reading_gaps::detected_at_ms.eq(now_ms),
        ))
        .execute(conn)?;
    Ok(())
}

/// Energy per (device, slot start) waiting to be added in one go.
pub type SlotSums = BTreeMap<(DeviceId, i64), (u64, u64)>;

#[derive(Insertable)]
#[diesel(table_name = verified_energy)]
struct SlotRow {
    device_id: String,
    slot_start_ms: i64,
    export_wh: i64,
    import_wh: i64,
}

/// Adds `(export, import)` Wh to each slot: one multi-row upsert per chunk.
pub fn add_verified_energy(conn: &mut AnyConnection, sums: &SlotSums) -> Result<()> {
    use diesel::upsert::excluded;
    let rows: Vec<SlotRow> = sums
        .iter()
        .filter_map(|(&(id, slot), &(export, import))| {
            Some(SlotRow {
                device_id: id.to_hex(),
                slot_start_ms: slot,
                export_wh: to_i64(export)?,
                import_wh: to_i64(import)?,
            })
        })
        .collect();
    // PostgreSQL is across a network: one statement per chunk. SQLite is in process, and
    // diesel has no multi-row upsert for it: one statement per row.
    macro_rules! upsert {
        ($values:expr) => {
            diesel::insert_into(verified_energy::table)
                .values($values)
                .on_conflict((verified_energy::device_id, verified_energy::slot_start_ms))
                .do_update()
                .set((
                    verified_energy::export_wh
                        .eq(verified_energy::export_wh + excluded(verified_energy::export_wh)),
                    verified_energy::import_wh
                        .eq(verified_energy::import_wh + excluded(verified_energy::import_wh)),
                ))
        };
    }
    match conn {
        AnyConnection::Postgresql(pg) => {
            for chunk in rows.chunks(INSERT_CHUNK) {
                upsert!(chunk).execute(pg)?;
            }
        }
        AnyConnection::Sqlite(lite) => {
            for row in &rows {
                upsert!(row).execute(lite)?;
            }
        }
    }
    Ok(())
}

/// Shares an interval's energy across delivery slots and adds it to `sums`. An interval that
/// cannot be split (longer than settlement allows) adds nothing and returns false.
pub fn accumulate_slots(
    sums: &mut SlotSums,
    id: DeviceId,
    start_ms: i64,
    end_ms: i64,
    export_wh: u64,
    import_wh: u64,
    slot_ms: i64,
) -> bool {
    let (Ok(export), Ok(import)) = (
        verify::split_into_slots(start_ms, end_ms, export_wh, slot_ms),
        verify::split_into_slots(start_ms, end_ms, import_wh, slot_ms),
    ) else {
        return false;
    };
    for (e, i) in export.iter().zip(&import) {
        let entry = sums.entry((id, e.slot_start_ms)).or_insert((0, 0));
        entry.0 = entry.0.saturating_add(e.wh);
        entry.1 = entry.1.saturating_add(i.wh);
    }
    true
}

/// Which readings of a device to list.
#[derive(Clone, Copy, Debug)]
pub struct ReadingPage {
    /// Only sequences greater than this.
    pub after_sequence: i64,
    pub limit: i64,
}

impl Store {
    /// A device's stored readings in sequence order.
    pub fn device_readings(&self, id: &DeviceId, page: ReadingPage) -> Result<Vec<ReadingRecord>> {
        let id = id.to_hex();
        load_records(
            &mut *self.connection()?,
            Some(&id),
            false,
            page.after_sequence,
            page.limit,
        )
    }

    /// Flagged readings of all devices, by device and sequence.
    pub fn flagged_readings(&self, limit: i64) -> Result<Vec<ReadingRecord>> {
        load_records(&mut *self.connection()?, None, true, 0, limit)
    }

    /// A device's verified energy per slot with `from_ms <= slot_start < to_ms`.
    pub fn verified_energy(
        &self,
        id: &DeviceId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<SlotTotal>> {
        Ok(verified_energy::table
            .filter(verified_energy::device_id.eq(id.to_hex()))
            .filter(verified_energy::slot_start_ms.ge(from_ms))
            .filter(verified_energy::slot_start_ms.lt(to_ms))
            .order(verified_energy::slot_start_ms)
            .select(SlotTotal::as_select())
            .load(&mut *self.connection()?)?)
    }

    pub fn reading_gaps(&self, id: &DeviceId) -> Result<Vec<Gap>> {
        Ok(reading_gaps::table
            .filter(reading_gaps::device_id.eq(id.to_hex()))
            .order(reading_gaps::from_seq)
            .select(Gap::as_select())
            .load(&mut *self.connection()?)?)
    }

    /// How many readings are stored per verdict (accepted, flagged, rejected).
    pub fn reading_counts(&self) -> Result<BTreeMap<String, i64>> {
        let rows = readings::table
            .group_by(readings::verdict)
            .select((readings::verdict, diesel::dsl::count_star()))
            .load::<(String, i64)>(&mut *self.connection()?)?;
        Ok(rows.into_iter().collect())
    }

    /// Authentic readings rejected before joining a chain: (device, sequence, reason).
    pub fn rejected_log(&self, id: &DeviceId) -> Result<Vec<(i64, String)>> {
        Ok(rejected_readings::table
            .filter(rejected_readings::device_id.eq(id.to_hex()))
            .order(rejected_readings::id)
            .select((rejected_readings::sequence, rejected_readings::reason))
            .load(&mut *self.connection()?)?)
    }
}
