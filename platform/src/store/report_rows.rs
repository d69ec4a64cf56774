//! Report rows for grid operators: one per slot, zone and run, with the ids of the ledger
//! transfers and log leaves behind it, as stored by a settlement run.

use diesel::prelude::*;
use settlement::allocation::QualityCounts;
use settlement::carbon::FactorKind;
use settlement::report::ReportRow;

use super::connection::AnyConnection;
use super::ledger::{id_to_i64, parse_transfer_id, signed_to_i64, to_i64};
use super::schema::report_rows;
use super::Store;
use crate::error::{PlatformError, Result};

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
