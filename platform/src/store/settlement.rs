//! Settlement's own tables: the two input tables (trades, slot energy) and settlement runs.
//! What a run produces has its own modules: `tokens` (mints, emission factors, reward epochs)
//! and `report_rows`; money goes through `ledger`, leaves through `log`.

use diesel::prelude::*;
use settlement::allocation::{MeterInput, QualityCounts, TradeInput};
use settlement::ledger::AccountId;

use super::connection::{write_transaction, AnyConnection};
use super::ledger::{id_to_i64, MAX_BINDS};
use super::schema::{settlement_runs, settlement_trades, slot_energy};
use super::Store;
use crate::error::{PlatformError, Result};

/// A stored count or quantity that must not be negative, or a corrupt-row error naming it.
pub(super) fn unsigned(table: &'static str, key: &str, what: &str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| PlatformError::CorruptRow {
        table,
        key: key.to_owned(),
        reason: format!("{what} is negative"),
    })
}

// ---- inputs ---------------------------------------------------------------------------------

#[derive(Insertable, Queryable, Selectable)]
#[diesel(table_name = settlement_trades)]
struct TradeRow {
    trade_id: i64,
    zone: String,
    slot_start_ms: i64,
    seller_account: i64,
    buyer_account: i64,
    qty_wh: i64,
    price_micro_per_kwh: i64,
}

pub(crate) fn insert_trades(
    conn: &mut AnyConnection,
    zone: &str,
    slot_start_ms: i64,
    trades: &[TradeInput],
) -> Result<()> {
    let rows = trades
        .iter()
        .map(|t| {
            Ok(TradeRow {
                trade_id: id_to_i64("trade id", t.trade_id)?,
                zone: zone.to_owned(),
                slot_start_ms,
                seller_account: id_to_i64("account id", t.seller.0)?,
                buyer_account: id_to_i64("account id", t.buyer.0)?,
                qty_wh: id_to_i64("trade quantity", t.qty_wh)?,
                price_micro_per_kwh: t.price_micro_per_kwh,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    for chunk in rows.chunks(MAX_BINDS / 7) {
        per_backend!(&mut *conn, c => diesel::insert_into(settlement_trades::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

#[derive(Insertable, Queryable, Selectable)]
#[diesel(table_name = slot_energy)]
// NULL, not DEFAULT, for None: keeps multi-row INSERTs on SQLite (diesel falls back to
// one statement per row when a value may be DEFAULT).
#[diesel(treat_none_as_default_value = false)]
struct EnergyRow {
    account_id: i64,
    zone: String,
    slot_start_ms: i64,
    export_wh: i64,
    import_wh: i64,
    first_seq: Option<i64>,
    last_seq: Option<i64>,
    readings_verified: i64,
    readings_flagged: i64,
    readings_rejected: i64,
    readings_missing: i64,
}

impl Store {
    /// The trades of one (zone, slot) from `settlement_trades`, by trade id.
    pub fn slot_trades(&self, zone: &str, slot_start_ms: i64) -> Result<Vec<TradeInput>> {
        let rows: Vec<TradeRow> = settlement_trades::table
            .filter(settlement_trades::zone.eq(zone))
            .filter(settlement_trades::slot_start_ms.eq(slot_start_ms))
            .order(settlement_trades::trade_id)
            .select(TradeRow::as_select())
            .load(&mut self.connection()?)?;
        rows.into_iter()
            .map(|r| {
                let key = r.trade_id.to_string();
                let u = |what, v| unsigned("settlement_trades", &key, what, v);
                Ok(TradeInput {
                    trade_id: u("trade id", r.trade_id)?,
                    seller: AccountId(u("seller", r.seller_account)?),
                    buyer: AccountId(u("buyer", r.buyer_account)?),
                    qty_wh: u("quantity", r.qty_wh)?,
                    price_micro_per_kwh: r.price_micro_per_kwh,
                })
            })
            .collect()
    }

    /// The verified energy of one (zone, slot) from `slot_energy`, by account.
    pub fn slot_meters(&self, zone: &str, slot_start_ms: i64) -> Result<Vec<MeterInput>> {
        let rows: Vec<EnergyRow> = slot_energy::table
            .filter(slot_energy::zone.eq(zone))
            .filter(slot_energy::slot_start_ms.eq(slot_start_ms))
            .order(slot_energy::account_id)
            .select(EnergyRow::as_select())
            .load(&mut self.connection()?)?;
        rows.into_iter()
            .map(|r| {
                let key = format!("{}/{}/{}", r.zone, r.slot_start_ms, r.account_id);
                let u = |what, v| unsigned("slot_energy", &key, what, v);
                let reading_range = match (r.first_seq, r.last_seq) {
                    (Some(a), Some(b)) => Some((u("first_seq", a)?, u("last_seq", b)?)),
                    _ => None,
                };
                Ok(MeterInput {
                    account: AccountId(u("account", r.account_id)?),
                    verified_export_wh: u("export", r.export_wh)?,
                    metered_import_wh: u("import", r.import_wh)?,
                    reading_range,
                    quality: QualityCounts {
                        verified: u("verified", r.readings_verified)?,
                        flagged: u("flagged", r.readings_flagged)?,
                        rejected: u("rejected", r.readings_rejected)?,
                        missing: u("missing", r.readings_missing)?,
                    },
                })
            })
            .collect()
    }

    /// Writes (or overwrites) participants' verified energy for one (zone, slot): what the
    /// feed calls once a slot's readings are verified.
    pub fn put_slot_energy(
        &self,
        zone: &str,
        slot_start_ms: i64,
        meters: &[MeterInput],
    ) -> Result<()> {
        self.write_slot_energy(zone, slot_start_ms, meters, false)
    }

    /// Replaces all of one (zone, slot)'s verified energy with `meters`: what reconciliation
    /// records, so a participant whose energy is gone since loses its row too.
    pub fn replace_slot_energy(
        &self,
        zone: &str,
        slot_start_ms: i64,
        meters: &[MeterInput],
    ) -> Result<()> {
        self.write_slot_energy(zone, slot_start_ms, meters, true)
    }

    fn write_slot_energy(
        &self,
        zone: &str,
        slot_start_ms: i64,
        meters: &[MeterInput],
        whole_slot: bool,
    ) -> Result<()> {
        let rows = meters
            .iter()
            .map(|m| {
                let q = &m.quality;
                Ok(EnergyRow {
                    account_id: id_to_i64("account id", m.account.0)?,
                    zone: zone.to_owned(),
                    slot_start_ms,
                    export_wh: id_to_i64("export", m.verified_export_wh)?,
                    import_wh: id_to_i64("import", m.metered_import_wh)?,
                    first_seq: m
                        .reading_range
                        .map(|r| id_to_i64("sequence", r.0))
                        .transpose()?,
                    last_seq: m
                        .reading_range
                        .map(|r| id_to_i64("sequence", r.1))
                        .transpose()?,
                    readings_verified: id_to_i64("count", q.verified)?,
                    readings_flagged: id_to_i64("count", q.flagged)?,
                    readings_rejected: id_to_i64("count", q.rejected)?,
                    readings_missing: id_to_i64("count", q.missing)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            use slot_energy::dsl as e;
            if whole_slot {
                diesel::delete(
                    e::slot_energy
                        .filter(e::zone.eq(zone))
                        .filter(e::slot_start_ms.eq(slot_start_ms)),
                )
                .execute(conn)?;
            } else {
                let accounts: Vec<i64> = rows.iter().map(|r| r.account_id).collect();
                for chunk in accounts.chunks(MAX_BINDS) {
                    diesel::delete(
                        e::slot_energy
                            .filter(e::zone.eq(zone))
                            .filter(e::slot_start_ms.eq(slot_start_ms))
                            .filter(e::account_id.eq_any(chunk)),
                    )
                    .execute(conn)?;
                }
            }
            for chunk in rows.chunks(MAX_BINDS / 11) {
                per_backend!(&mut *conn, c => diesel::insert_into(slot_energy::table)
                    .values(chunk)
                    .execute(c))?;
            }
            Ok(())
        })
    }

    /// [`unsettled_slots_in`] on a connection of its own.
    pub fn unsettled_slots(&self, from_ms: i64, to_ms: i64) -> Result<Vec<(String, i64)>> {
        unsettled_slots_in(&mut *self.connection()?, from_ms, to_ms)
    }
}

/// The (zone, slot) pairs with trades or energy among slots starting in `[from_ms, to_ms)`,
/// sorted.
fn active_slots_in(
    conn: &mut AnyConnection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(String, i64)>> {
    let mut slots: Vec<(String, i64)> = settlement_trades::table
        .filter(settlement_trades::slot_start_ms.ge(from_ms))
        .filter(settlement_trades::slot_start_ms.lt(to_ms))
        .select((settlement_trades::zone, settlement_trades::slot_start_ms))
        .distinct()
        .load(conn)?;
    let energy: Vec<(String, i64)> = slot_energy::table
        .filter(slot_energy::slot_start_ms.ge(from_ms))
        .filter(slot_energy::slot_start_ms.lt(to_ms))
        .select((slot_energy::zone, slot_energy::slot_start_ms))
        .distinct()
        .load(conn)?;
    slots.extend(energy);
    slots.sort();
    slots.dedup();
    Ok(slots)
}

/// The (zone, slot) pairs among slots starting in `[from_ms, to_ms)` that have trades or
/// energy but no initial run yet, sorted: what is due for settlement, and what holds back a
/// reward epoch over that range.
pub(crate) fn unsettled_slots_in(
    conn: &mut AnyConnection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(String, i64)>> {
    let mut active = active_slots_in(conn, from_ms, to_ms)?;
    let mut settled: Vec<(String, i64)> = settlement_runs::table
        .filter(settlement_runs::slot_start_ms.ge(from_ms))
        .filter(settlement_runs::slot_start_ms.lt(to_ms))
        .filter(settlement_runs::run_version.eq(1))
        .select((settlement_runs::zone, settlement_runs::slot_start_ms))
        .load(conn)?;
    settled.sort();
    active.retain(|slot| settled.binary_search(slot).is_err());
    Ok(active)
}

// ---- runs -----------------------------------------------------------------------------------

/// A settlement run as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = settlement_runs)]
pub struct StoredRun {
    pub id: i64,
    pub zone: String,
    pub slot_start_ms: i64,
    pub slot_len_ms: i64,
    pub run_version: i32,
    pub methodology: String,
    pub inputs_sha256: String,
    pub inputs_json: String,
    pub transfer_count: i64,
    pub first_leaf_index: i64,
    pub leaf_count: i64,
    pub created_at_ms: i64,
}

#[derive(Insertable)]
#[diesel(table_name = settlement_runs)]
pub(crate) struct NewRun<'a> {
    pub zone: &'a str,
    pub slot_start_ms: i64,
    pub slot_len_ms: i64,
    pub run_version: i32,
    pub methodology: &'a str,
    pub inputs_sha256: String,
    pub inputs_json: String,
    pub transfer_count: i64,
    pub first_leaf_index: i64,
    pub leaf_count: i64,
    pub created_at_ms: i64,
}

pub(crate) fn insert_run(conn: &mut AnyConnection, run: &NewRun<'_>) -> Result<()> {
    diesel::insert_into(settlement_runs::table)
        .values(run)
        .execute(conn)?;
    Ok(())
}

/// Every run of one (zone, slot), oldest version first.
pub(crate) fn runs_of_slot(
    conn: &mut AnyConnection,
    zone: &str,
    slot_start_ms: i64,
) -> Result<Vec<StoredRun>> {
    Ok(settlement_runs::table
        .filter(settlement_runs::zone.eq(zone))
        .filter(settlement_runs::slot_start_ms.eq(slot_start_ms))
        .order(settlement_runs::run_version)
        .select(StoredRun::as_select())
        .load(conn)?)
}

impl Store {
    pub fn settlement_runs(&self, zone: &str, slot_start_ms: i64) -> Result<Vec<StoredRun>> {
        runs_of_slot(&mut *self.connection()?, zone, slot_start_ms)
    }

    /// The slots among `slots` that have an initial run in `zone`.
    pub fn settled_slots(&self, zone: &str, slots: &[i64]) -> Result<Vec<i64>> {
        let mut conn = self.connection()?;
        let mut settled = Vec::new();
        for chunk in slots.chunks(MAX_BINDS) {
            let found: Vec<i64> = settlement_runs::table
                .filter(settlement_runs::zone.eq(zone))
                .filter(settlement_runs::run_version.eq(1))
                .filter(settlement_runs::slot_start_ms.eq_any(chunk))
                .select(settlement_runs::slot_start_ms)
                .load(&mut conn)?;
            settled.extend(found);
        }
        settled.sort_unstable();
        Ok(settled)
    }

    pub fn settlement_run_count(&self) -> Result<i64> {
        Ok(settlement_runs::table
            .count()
            .get_result(&mut self.connection()?)?)
    }
}
