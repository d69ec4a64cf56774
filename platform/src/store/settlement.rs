//! Settlement's own tables: the two input tables (trades, slot energy), settlement runs,
//! mints, report rows, the emission factor table and reward epochs.

use diesel::prelude::*;
use settlement::allocation::{MeterInput, QualityCounts, TradeInput};
use settlement::carbon::{EmissionFactor, FactorKind, FactorTable};
use settlement::ledger::{AccountId, TransferId};
use settlement::report::ReportRow;

use super::connection::{write_transaction, AnyConnection};
use super::ledger::{id_to_i64, parse_transfer_id, signed_to_i64, sql_opt, to_i64, MAX_BINDS};
use super::schema::{
    emission_factors, mints, report_rows, reward_epochs, settlement_runs, settlement_trades,
    slot_energy,
};
use super::Store;
use crate::error::{PlatformError, Result};

fn unsigned(table: &'static str, key: &str, what: &str, v: i64) -> Result<u64> {
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
    /// ingest side calls once a slot's readings are verified, and again when late readings
    /// change the values (a reconciliation run then picks them up).
    pub fn put_slot_energy(
        &self,
        zone: &str,
        slot_start_ms: i64,
        meters: &[MeterInput],
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
            for chunk in rows.chunks(MAX_BINDS / 11) {
                per_backend!(&mut *conn, c => diesel::insert_into(slot_energy::table)
                    .values(chunk)
                    .execute(c))?;
            }
            Ok(())
        })
    }

    /// The (zone, slot) pairs with trades or energy among slots starting in
    /// `[from_ms, to_ms)`, sorted.
    pub fn active_slots(&self, from_ms: i64, to_ms: i64) -> Result<Vec<(String, i64)>> {
        let mut conn = self.connection()?;
        let mut slots: Vec<(String, i64)> = settlement_trades::table
            .filter(settlement_trades::slot_start_ms.ge(from_ms))
            .filter(settlement_trades::slot_start_ms.lt(to_ms))
            .select((settlement_trades::zone, settlement_trades::slot_start_ms))
            .distinct()
            .load(&mut conn)?;
        let energy: Vec<(String, i64)> = slot_energy::table
            .filter(slot_energy::slot_start_ms.ge(from_ms))
            .filter(slot_energy::slot_start_ms.lt(to_ms))
            .select((slot_energy::zone, slot_energy::slot_start_ms))
            .distinct()
            .load(&mut conn)?;
        slots.extend(energy);
        slots.sort();
        slots.dedup();
        Ok(slots)
    }
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

// ---- mints ----------------------------------------------------------------------------------

#[derive(Insertable)]
#[diesel(table_name = mints)]
// NULL, not DEFAULT, for None: keeps multi-row INSERTs on SQLite (diesel falls back to
// one statement per row when a value may be DEFAULT).
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewMint {
    pub transfer_id: String,
    pub kind: &'static str,
    pub account_id: i64,
    pub zone: String,
    pub slot_start_ms: i64,
    pub run_version: i32,
    pub amount: i64,
    pub total: i64,
    pub exported_wh: Option<i64>,
    pub ef_zone: Option<String>,
    pub ef_kind: Option<&'static str>,
    pub ef_source: Option<String>,
    pub ef_version: Option<String>,
    pub ef_g_per_mwh: Option<i64>,
    pub epoch: Option<i64>,
    pub leaf_index: i64,
}

impl NewMint {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn carbon(
        transfer_id: TransferId,
        account: AccountId,
        zone: &str,
        slot_start_ms: i64,
        run_version: u32,
        minted_g: i128,
        grams: u128,
        exported_wh: u64,
        factor: &EmissionFactor,
        leaf_index: u64,
    ) -> Result<NewMint> {
        Ok(NewMint {
            transfer_id: transfer_id.to_hex(),
            kind: "carbon",
            account_id: id_to_i64("account id", account.0)?,
            zone: zone.to_owned(),
            slot_start_ms,
            run_version: run_version as i32,
            amount: signed_to_i64("minted grams", minted_g)?,
            total: to_i64("grams", grams)?,
            exported_wh: Some(id_to_i64("export", exported_wh)?),
            ef_zone: Some(factor.zone.clone()),
            ef_kind: Some(factor.kind.name()),
            ef_source: Some(factor.source.clone()),
            ef_version: Some(factor.version.clone()),
            ef_g_per_mwh: Some(id_to_i64("emission factor", factor.g_per_mwh)?),
            epoch: None,
            leaf_index: id_to_i64("leaf index", leaf_index)?,
        })
    }
}

/// Rows per INSERT statement of mints.
const MINT_CHUNK: usize = 1_000;

const MINT_COLUMNS: &str = "INSERT INTO mints (transfer_id, kind, account_id, zone, \
     slot_start_ms, run_version, amount, total, exported_wh, ef_zone, ef_kind, ef_source, \
     ef_version, ef_g_per_mwh, epoch, leaf_index) VALUES ";

/// Inserts mints. SQLite: bound multi-row statements (`super::bulk`). PostgreSQL: the rows of
/// one run share their zone and factor: those texts are bound (`$1`…`$5`), everything else is an
/// integer, a hex id or a fixed kind written into the statement, one round trip per chunk; rows
/// that do not share them go through diesel's batch insert.
pub(crate) fn insert_mints(conn: &mut AnyConnection, rows: &[NewMint]) -> Result<()> {
    use diesel::sql_types::{Nullable, Text};
    use std::fmt::Write as _;
    let Some(first) = rows.first() else {
        return Ok(());
    };
    if let AnyConnection::Sqlite(c) = conn {
        use super::bulk::Value;
        let mut values = Vec::with_capacity(rows.len() * 16);
        for r in rows {
            values.extend([
                Value::Text(&r.transfer_id),
                Value::Text(r.kind),
                Value::Int(r.account_id),
                Value::Text(&r.zone),
                Value::Int(r.slot_start_ms),
                Value::Int(i64::from(r.run_version)),
                Value::Int(r.amount),
                Value::Int(r.total),
                Value::OptInt(r.exported_wh),
                Value::OptText(r.ef_zone.as_deref()),
                Value::OptText(r.ef_kind),
                Value::OptText(r.ef_source.as_deref()),
                Value::OptText(r.ef_version.as_deref()),
                Value::OptInt(r.ef_g_per_mwh),
                Value::OptInt(r.epoch),
                Value::Int(r.leaf_index),
            ]);
        }
        super::bulk::insert(c, MINT_COLUMNS, "", 16, &values)?;
        return Ok(());
    }
    let shared = |r: &NewMint| {
        (
            r.zone.clone(),
            r.ef_zone.clone(),
            r.ef_kind,
            r.ef_source.clone(),
            r.ef_version.clone(),
        )
    };
    let common = shared(first);
    if rows.iter().any(|r| shared(r) != common) {
        for chunk in rows.chunks(MAX_BINDS / 16) {
            per_backend!(&mut *conn, c => diesel::insert_into(mints::table)
                .values(chunk)
                .execute(c))?;
        }
        return Ok(());
    }
    let mut sql = String::with_capacity(MINT_CHUNK * 160);
    for chunk in rows.chunks(MINT_CHUNK) {
        sql.clear();
        sql.push_str(MINT_COLUMNS);
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let _ = write!(
                sql,
                "('{}','{}',{},$1,{},{},{},{},{},$2,$3,$4,$5,{},{},{})",
                r.transfer_id,
                r.kind,
                r.account_id,
                r.slot_start_ms,
                r.run_version,
                r.amount,
                r.total,
                sql_opt(r.exported_wh),
                sql_opt(r.ef_g_per_mwh),
                sql_opt(r.epoch),
                r.leaf_index,
            );
        }
        let (zone, ef_zone, ef_kind, ef_source, ef_version) = common.clone();
        per_backend!(&mut *conn, c => diesel::sql_query(sql.as_str())
            .bind::<Text, _>(&zone)
            .bind::<Nullable<Text>, _>(&ef_zone)
            .bind::<Nullable<Text>, _>(ef_kind)
            .bind::<Nullable<Text>, _>(&ef_source)
            .bind::<Nullable<Text>, _>(&ef_version)
            .execute(c))?;
    }
    Ok(())
}

/// Net carbon grams minted per participant in slots `[from_ms, to_ms)` (all runs), by account.
pub(crate) fn carbon_by_account(
    conn: &mut AnyConnection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(AccountId, u128)>> {
    let rows: Vec<(i64, i64)> = mints::table
        .filter(mints::kind.eq("carbon"))
        .filter(mints::slot_start_ms.ge(from_ms))
        .filter(mints::slot_start_ms.lt(to_ms))
        .select((mints::account_id, mints::amount))
        .load(conn)?;
    let mut sums: std::collections::BTreeMap<i64, i128> = std::collections::BTreeMap::new();
    for (account, amount) in rows {
        *sums.entry(account).or_default() += i128::from(amount);
    }
    Ok(sums
        .into_iter()
        .filter_map(|(a, g)| Some((AccountId(u64::try_from(a).ok()?), u128::try_from(g).ok()?)))
        .collect())
}

impl Store {
    pub fn mint_count(&self) -> Result<i64> {
        Ok(mints::table.count().get_result(&mut self.connection()?)?)
    }
}

// ---- report rows ----------------------------------------------------------------------------

#[derive(Insertable, Queryable, Selectable)]
#[diesel(table_name = report_rows)]
struct ReportRowRecord {
    zone: String,
    slot_start_ms: i64,
    slot_len_ms: i64,
    run_version: i32,
    methodology_version: String,
    trades: i64,
    contracted_wh: i64,
    metered_export_wh: i64,
    metered_import_wh: i64,
    delivered_wh: i64,
    imbalance_wh: i64,
    imbalance_price_micro_per_kwh: i64,
    imbalance_amount_micro: i64,
    traded_amount_micro: i64,
    carbon_g: i64,
    ef_kind: String,
    ef_source: String,
    ef_version: String,
    ef_g_per_mwh: i64,
    readings_verified: i64,
    readings_flagged: i64,
    readings_rejected: i64,
    readings_missing: i64,
    transfer_ids: String,
    leaf_hashes: String,
    first_leaf_index: i64,
    created_at_ms: i64,
}

/// A stored report row: the core's row plus the log indices of its leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReportRow {
    pub row: ReportRow,
    pub leaf_indices: Vec<u64>,
}

pub(crate) fn insert_report_row(
    conn: &mut AnyConnection,
    row: &ReportRow,
    first_leaf_index: u64,
    now_ms: i64,
) -> Result<()> {
    let ids: Vec<String> = row.transfer_ids.iter().map(|i| i.to_hex()).collect();
    let hashes: Vec<String> = row.leaf_hashes.iter().map(hex::encode).collect();
    let q = &row.quality;
    let record = ReportRowRecord {
        zone: row.zone.clone(),
        slot_start_ms: row.slot_start_ms,
        slot_len_ms: row.slot_len_ms,
        run_version: row.run_version as i32,
        methodology_version: row.methodology_version.clone(),
        trades: id_to_i64("trades", row.trades)?,
        contracted_wh: id_to_i64("energy", row.contracted_wh)?,
        metered_export_wh: id_to_i64("energy", row.metered_export_wh)?,
        metered_import_wh: id_to_i64("energy", row.metered_import_wh)?,
        delivered_wh: id_to_i64("energy", row.delivered_wh)?,
        imbalance_wh: id_to_i64("energy", row.imbalance_wh)?,
        imbalance_price_micro_per_kwh: row.imbalance_price_micro_per_kwh,
        imbalance_amount_micro: signed_to_i64("amount", row.imbalance_amount_micro)?,
        traded_amount_micro: signed_to_i64("amount", row.traded_amount_micro)?,
        carbon_g: to_i64("grams", row.carbon_g)?,
        ef_kind: row.ef_kind.to_owned(),
        ef_source: row.ef_source.clone(),
        ef_version: row.ef_version.clone(),
        ef_g_per_mwh: id_to_i64("emission factor", row.ef_g_per_mwh)?,
        readings_verified: id_to_i64("count", q.verified)?,
        readings_flagged: id_to_i64("count", q.flagged)?,
        readings_rejected: id_to_i64("count", q.rejected)?,
        readings_missing: id_to_i64("count", q.missing)?,
        transfer_ids: ids.join(" "),
        leaf_hashes: hashes.join(" "),
        first_leaf_index: id_to_i64("leaf index", first_leaf_index)?,
        created_at_ms: now_ms,
    };
    diesel::insert_into(report_rows::table)
        .values(&record)
        .execute(conn)?;
    Ok(())
}

impl ReportRowRecord {
    fn into_row(self) -> Result<StoredReportRow> {
        let key = format!("{}/{}/{}", self.zone, self.slot_start_ms, self.run_version);
        let corrupt = |reason: String| PlatformError::CorruptRow {
            table: "report_rows",
            key: key.clone(),
            reason,
        };
        let u = |what: &str, v: i64| u64::try_from(v).map_err(|_| corrupt(format!("{what} < 0")));
        let transfer_ids = self
            .transfer_ids
            .split_whitespace()
            .map(|t| parse_transfer_id(t).ok_or_else(|| corrupt(format!("transfer id {t}"))))
            .collect::<Result<Vec<_>>>()?;
        let leaf_hashes = self
            .leaf_hashes
            .split_whitespace()
            .map(|h| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(h, &mut out)
                    .map(|()| out)
                    .map_err(|_| corrupt(format!("leaf hash {h}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let first = u("first_leaf_index", self.first_leaf_index)?;
        let leaf_indices = (0..leaf_hashes.len() as u64).map(|i| first + i).collect();
        let ef_kind = FactorKind::parse(&self.ef_kind)
            .ok_or_else(|| corrupt(format!("factor kind {}", self.ef_kind)))?
            .name();
        Ok(StoredReportRow {
            row: ReportRow {
                zone: self.zone.clone(),
                slot_start_ms: self.slot_start_ms,
                slot_len_ms: self.slot_len_ms,
                run_version: u32::try_from(self.run_version)
                    .map_err(|_| corrupt("run version".into()))?,
                methodology_version: self.methodology_version.clone(),
                trades: u("trades", self.trades)?,
                contracted_wh: u("contracted", self.contracted_wh)?,
                metered_export_wh: u("export", self.metered_export_wh)?,
                metered_import_wh: u("import", self.metered_import_wh)?,
                delivered_wh: u("delivered", self.delivered_wh)?,
                imbalance_wh: u("imbalance", self.imbalance_wh)?,
                imbalance_price_micro_per_kwh: self.imbalance_price_micro_per_kwh,
                imbalance_amount_micro: i128::from(self.imbalance_amount_micro),
                traded_amount_micro: i128::from(self.traded_amount_micro),
                carbon_g: u128::from(u("carbon", self.carbon_g)?),
                ef_kind,
                ef_source: self.ef_source.clone(),
                ef_version: self.ef_version.clone(),
                ef_g_per_mwh: u("factor", self.ef_g_per_mwh)?,
                reward_units: 0,
                quality: QualityCounts {
                    verified: u("verified", self.readings_verified)?,
                    flagged: u("flagged", self.readings_flagged)?,
                    rejected: u("rejected", self.readings_rejected)?,
                    missing: u("missing", self.readings_missing)?,
                },
                transfer_ids,
                leaf_hashes,
            },
            leaf_indices,
        })
    }
}

impl Store {
    /// Report rows of slots starting in `[from_ms, to_ms)`, optionally of one zone, ordered by
    /// slot, zone and run version. `reward_units` is 0 here; see `settle::report`.
    pub fn report_rows(
        &self,
        from_ms: i64,
        to_ms: i64,
        zone: Option<&str>,
    ) -> Result<Vec<StoredReportRow>> {
        let mut query = report_rows::table
            .filter(report_rows::slot_start_ms.ge(from_ms))
            .filter(report_rows::slot_start_ms.lt(to_ms))
            .order((
                report_rows::slot_start_ms,
                report_rows::zone,
                report_rows::run_version,
            ))
            .select(ReportRowRecord::as_select())
            .into_boxed();
        if let Some(zone) = zone {
            query = query.filter(report_rows::zone.eq(zone.to_owned()));
        }
        query
            .load(&mut self.connection()?)?
            .into_iter()
            .map(ReportRowRecord::into_row)
            .collect()
    }

    pub fn report_row_count(&self) -> Result<i64> {
        Ok(report_rows::table
            .count()
            .get_result(&mut self.connection()?)?)
    }
}

// ---- emission factors -----------------------------------------------------------------------

#[derive(Insertable, Queryable, Selectable)]
#[diesel(table_name = emission_factors)]
struct FactorRow {
    zone: String,
    kind: String,
    valid_from_ms: i64,
    valid_to_ms: i64,
    source: String,
    version: String,
    g_per_mwh: i64,
    imported_at_ms: i64,
}

impl Store {
    /// Replaces the emission factor table with `table` (one transaction). Earlier mints keep
    /// the factor they used in their own rows.
    pub fn replace_emission_factors(&self, table: &FactorTable, now_ms: i64) -> Result<usize> {
        let rows = table
            .rows()
            .iter()
            .map(|f| {
                Ok(FactorRow {
                    zone: f.zone.clone(),
                    kind: f.kind.name().to_owned(),
                    valid_from_ms: f.valid_from_ms,
                    valid_to_ms: f.valid_to_ms,
                    source: f.source.clone(),
                    version: f.version.clone(),
                    g_per_mwh: id_to_i64("emission factor", f.g_per_mwh)?,
                    imported_at_ms: now_ms,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            diesel::delete(emission_factors::table).execute(conn)?;
            for chunk in rows.chunks(MAX_BINDS / 8) {
                per_backend!(&mut *conn, c => diesel::insert_into(emission_factors::table)
                    .values(chunk)
                    .execute(c))?;
            }
            Ok(rows.len())
        })
    }

    /// The stored emission factor table.
    pub fn emission_factors(&self) -> Result<Vec<EmissionFactor>> {
        let rows: Vec<FactorRow> = emission_factors::table
            .order((
                emission_factors::zone,
                emission_factors::kind,
                emission_factors::valid_from_ms,
            ))
            .select(FactorRow::as_select())
            .load(&mut self.connection()?)?;
        rows.into_iter()
            .map(|r| {
                let key = format!("{}/{}/{}", r.zone, r.kind, r.valid_from_ms);
                Ok(EmissionFactor {
                    kind: FactorKind::parse(&r.kind).ok_or_else(|| PlatformError::CorruptRow {
                        table: "emission_factors",
                        key: key.clone(),
                        reason: "unknown kind".into(),
                    })?,
                    g_per_mwh: unsigned("emission_factors", &key, "g_per_mwh", r.g_per_mwh)?,
                    zone: r.zone,
                    valid_from_ms: r.valid_from_ms,
                    valid_to_ms: r.valid_to_ms,
                    source: r.source,
                    version: r.version,
                })
            })
            .collect()
    }
}

// ---- reward epochs --------------------------------------------------------------------------

#[derive(Insertable, Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = reward_epochs)]
pub struct RewardEpochRow {
    pub epoch: i64,
    pub epoch_start_ms: i64,
    pub epoch_len_ms: i64,
    pub pool: i64,
    pub minted: i64,
    pub participants: i64,
    pub created_at_ms: i64,
}

pub(crate) fn insert_reward_epoch(conn: &mut AnyConnection, row: &RewardEpochRow) -> Result<()> {
    diesel::insert_into(reward_epochs::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub(crate) fn reward_epoch(conn: &mut AnyConnection, epoch: i64) -> Result<Option<RewardEpochRow>> {
    Ok(reward_epochs::table
        .filter(reward_epochs::epoch.eq(epoch))
        .select(RewardEpochRow::as_select())
        .first(conn)
        .optional()?)
}

impl Store {
    /// Distributed reward epochs, by epoch.
    pub fn reward_epochs(&self) -> Result<Vec<RewardEpochRow>> {
        Ok(reward_epochs::table
            .order(reward_epochs::epoch)
            .select(RewardEpochRow::as_select())
            .load(&mut self.connection()?)?)
    }
}
