//! Device heads: each device's chain head (the last reading that passed the integrity rules,
//! with the night export it carries) and review state, loaded into the verification context
//! and written back by the ingest transaction, under per-device locks.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use reading::{ChainHash, DeviceId};
use settlement::solar::Site;
use settlement::verify::{ChainHead, DeviceContext, KeyStatus};

use super::connection::AnyConnection;
use super::devices;
use super::readings::{to_i64, INSERT_CHUNK};
use super::schema::device_heads;
use crate::error::{PlatformError, Result};
use crate::registry::DeviceState;

/// The review state stored with a device's head.
pub const REVIEW_NONE: &str = "none";
pub const REVIEW_UNDER_REVIEW: &str = "under_review";

/// A device as verification sees it, plus whether its head row exists yet.
#[derive(Clone, Debug)]
pub struct LoadedDevice {
    pub context: DeviceContext,
    pub review_reason: Option<String>,
}

/// Serialises ingest per device across processes, in a stable order so two transactions can
/// never wait for each other in a cycle. SQLite needs nothing: `BEGIN IMMEDIATE` already made
/// this transaction the only writer. On PostgreSQL a transaction-scoped advisory lock per
/// device (the key is the first 8 bytes of the id, itself a hash) also covers devices that have
/// no head row yet, which `SELECT … FOR UPDATE` could not.
pub fn lock_devices(conn: &mut AnyConnection, ids: &[DeviceId]) -> Result<()> {
    let AnyConnection::Postgresql(pg) = conn else {
        return Ok(());
    };
    let mut keys: Vec<i64> = ids.iter().map(lock_key).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    // Integers only, so formatting them into the statement is safe; one round trip for all.
    let sql = keys
        .iter()
        .map(|k| format!("SELECT pg_advisory_xact_lock({k});"))
        .collect::<String>();
    pg.batch_execute(&sql)?;
    Ok(())
}

pub fn lock_key(id: &DeviceId) -> i64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&id.as_bytes()[..8]);
    i64::from_be_bytes(first)
}

#[derive(Queryable)]
struct HeadRow {
    device_id: String,
    sequence: Option<i64>,
    chain_hash: Option<String>,
    export_wh: Option<i64>,
    import_wh: Option<i64>,
    timestamp_ms: Option<i64>,
    review: String,
    review_reason: Option<String>,
    night_export_wh: i64,
}

/// The verification context of a registered device (`None` for an unknown id).
pub fn load_device(conn: &mut AnyConnection, id: &DeviceId) -> Result<Option<LoadedDevice>> {
    Ok(load_devices(conn, std::slice::from_ref(id))?.remove(id))
}

/// The verification contexts of the registered devices among `ids` (two queries in all).
pub fn load_devices(
    conn: &mut AnyConnection,
    ids: &[DeviceId],
) -> Result<std::collections::HashMap<DeviceId, LoadedDevice>> {
    let found = devices::find_many(conn, ids)?;
    let hexes: Vec<String> = found.iter().map(|d| d.id.to_hex()).collect();
    let mut heads: std::collections::HashMap<String, HeadRow> = device_heads::table
        .filter(device_heads::device_id.eq_any(hexes))
        .select((
            device_heads::device_id,
            device_heads::sequence,
            device_heads::chain_hash,
            device_heads::export_wh,
            device_heads::import_wh,
            device_heads::timestamp_ms,
            device_heads::review,
            device_heads::review_reason,
            device_heads::night_export_wh,
        ))
        .load::<HeadRow>(conn)?
        .into_iter()
        .map(|row| (row.device_id.clone(), row))
        .collect();
    let mut out = std::collections::HashMap::new();
    for device in found {
        let id = device.id;
        let corrupt = |reason: String| PlatformError::CorruptRow {
            table: "device_heads",
            key: id.to_hex(),
            reason,
        };
        let (head, under_review, review_reason) = match heads.remove(&id.to_hex()) {
            None => (None, false, None),
            Some(row) => {
                let head = match (
                    row.sequence,
                    row.chain_hash,
                    row.export_wh,
                    row.import_wh,
                    row.timestamp_ms,
                ) {
                    (Some(seq), Some(hash), Some(export), Some(import), Some(ts)) => {
                        Some(ChainHead {
                            sequence: u64::try_from(seq)
                                .map_err(|_| corrupt(format!("sequence {seq}")))?,
                            chain_hash: ChainHash::from_hex(&hash)
                                .map_err(|e| corrupt(e.to_string()))?,
                            export_wh: u64::try_from(export)
                                .map_err(|_| corrupt(format!("export_wh {export}")))?,
                            import_wh: u64::try_from(import)
                                .map_err(|_| corrupt(format!("import_wh {import}")))?,
                            timestamp_ms: ts,
                            night_export_wh: u64::try_from(row.night_export_wh).map_err(|_| {
                                corrupt(format!("night_export_wh {}", row.night_export_wh))
                            })?,
                        })
                    }
                    _ => None,
                };
                (head, row.review == REVIEW_UNDER_REVIEW, row.review_reason)
            }
        };
        let status = match (device.state, under_review) {
            (DeviceState::Revoked { .. }, _) => KeyStatus::Revoked,
            (DeviceState::Active, true) => KeyStatus::UnderReview,
            (DeviceState::Active, false) => KeyStatus::Active,
        };
        let site = Site::new(
            device.location.latitude.degrees(),
            device.location.longitude.degrees(),
        )
        .map_err(|e| corrupt(e.to_string()))?;
        out.insert(
            id,
            LoadedDevice {
                context: DeviceContext {
                    public_key: device.public_key,
                    status,
                    nameplate_w: device.nameplate.watts(),
                    site,
                    head,
                    stored_at_sequence: None,
                },
                review_reason,
            },
        );
    }
    Ok(out)
}

#[derive(Insertable)]
#[diesel(table_name = device_heads)]
struct HeadUpsert {
    device_id: String,
    sequence: Option<i64>,
    chain_hash: Option<String>,
    export_wh: Option<i64>,
    import_wh: Option<i64>,
    timestamp_ms: Option<i64>,
    review: &'static str,
    review_reason: Option<String>,
    updated_at_ms: i64,
    night_export_wh: i64,
}

/// Writes a device's head and review state (the device lock is held).
pub fn save_head(
    conn: &mut AnyConnection,
    id: &DeviceId,
    head: Option<&ChainHead>,
    review_reason: Option<&str>,
    now_ms: i64,
) -> Result<()> {
    save_heads(
        conn,
        &[(*id, head.copied(), review_reason.map(str::to_owned))],
        now_ms,
    )
}

/// Writes heads and review states: `(device, head, review reason)`, one upsert per chunk on
/// PostgreSQL, per row on SQLite (the device locks are held).
pub fn save_heads(
    conn: &mut AnyConnection,
    heads: &[(DeviceId, Option<ChainHead>, Option<String>)],
    now_ms: i64,
) -> Result<()> {
    use diesel::upsert::excluded;
    let rows: Vec<HeadUpsert> = heads
        .iter()
        .map(|(id, head, reason)| HeadUpsert {
            device_id: id.to_hex(),
            sequence: head.and_then(|h| to_i64(h.sequence)),
            chain_hash: head.map(|h| h.chain_hash.to_hex()),
            export_wh: head.and_then(|h| to_i64(h.export_wh)),
            import_wh: head.and_then(|h| to_i64(h.import_wh)),
            timestamp_ms: head.map(|h| h.timestamp_ms),
            review: if reason.is_some() {
                REVIEW_UNDER_REVIEW
            } else {
                REVIEW_NONE
            },
            review_reason: reason.clone(),
            updated_at_ms: now_ms,
            // At most the meter tolerance; only a tolerance beyond i64 could make it larger,
            // and then the largest storable total beats failing the whole ingest write.
            night_export_wh: head
                .map_or(0, |h| i64::try_from(h.night_export_wh).unwrap_or(i64::MAX)),
        })
        .collect();
    macro_rules! upsert {
        ($values:expr) => {
            diesel::insert_into(device_heads::table)
                .values($values)
                .on_conflict(device_heads::device_id)
                .do_update()
                .set((
                    device_heads::sequence.eq(excluded(device_heads::sequence)),
                    device_heads::chain_hash.eq(excluded(device_heads::chain_hash)),
                    device_heads::export_wh.eq(excluded(device_heads::export_wh)),
                    device_heads::import_wh.eq(excluded(device_heads::import_wh)),
                    device_heads::timestamp_ms.eq(excluded(device_heads::timestamp_ms)),
                    device_heads::review.eq(excluded(device_heads::review)),
                    device_heads::review_reason.eq(excluded(device_heads::review_reason)),
                    device_heads::updated_at_ms.eq(excluded(device_heads::updated_at_ms)),
                    device_heads::night_export_wh.eq(excluded(device_heads::night_export_wh)),
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
