//! Settlement report rows per (slot, zone, run version), and their CSV and JSON renderings.
//! Each row carries the ids of the ledger transfers and the hashes of the log leaves behind
//! it, so a grid operator can trace every number (the leaf index is assigned when the
//! platform appends the leaves, and is found from the hash).

use crate::allocation::{QualityCounts, SettlementRun};
use crate::ledger::{AccountId, TransferId};
use crate::merkle::{json_num, json_object, json_text, leaf_hash, Hash, Json};
use crate::rewards::largest_remainder;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub zone: String,
    pub slot_start_ms: i64,
    pub slot_len_ms: i64,
    pub run_version: u32,
    pub methodology_version: String,
    pub trades: u64,
    pub contracted_wh: u64,
    pub metered_export_wh: u64,
    pub metered_import_wh: u64,
    pub delivered_wh: u64,
    pub imbalance_wh: u64,
    pub imbalance_price_micro_per_kwh: i64,
    pub imbalance_amount_micro: i128,
    pub traded_amount_micro: i128,
    pub carbon_g: u128,
    pub ef_kind: &'static str,
    pub ef_source: String,
    pub ef_version: String,
    pub ef_g_per_mwh: u64,
    /// Reward units attributed to this row ([`attribute_rewards`]); 0 until the epoch closes.
    pub reward_units: u128,
    pub quality: QualityCounts,
    pub transfer_ids: Vec<TransferId>,
    pub leaf_hashes: Vec<Hash>,
}

impl ReportRow {
    /// The zone row of one settlement run.
    pub fn for_run(run: &SettlementRun) -> Self {
        let t = &run.totals;
        ReportRow {
            zone: run.zone.clone(),
            slot_start_ms: run.slot_start_ms,
            slot_len_ms: run.slot_len_ms,
            run_version: run.run_version,
            methodology_version: run.methodology_version.clone(),
            trades: t.trades,
            contracted_wh: t.contracted_wh,
            metered_export_wh: t.metered_export_wh,
            metered_import_wh: t.metered_import_wh,
            delivered_wh: t.delivered_wh,
            imbalance_wh: t.imbalance_wh,
            imbalance_price_micro_per_kwh: run.imbalance_price_micro_per_kwh,
            imbalance_amount_micro: t.imbalance_amount_micro,
            traded_amount_micro: t.traded_amount_micro,
            carbon_g: t.carbon_g,
            ef_kind: run.factor.kind.name(),
            ef_source: run.factor.source.clone(),
            ef_version: run.factor.version.clone(),
            ef_g_per_mwh: run.factor.g_per_mwh,
            reward_units: 0,
            quality: t.quality,
            transfer_ids: run.transfers.iter().map(|t| t.id).collect(),
            leaf_hashes: run.log_leaves.iter().map(|l| leaf_hash(l)).collect(),
        }
    }
}

/// Attributes an epoch's minted reward units to its rows in proportion to their carbon
/// grams (largest remainder, ties to the earlier row), so the rows add up to `minted`.
pub fn attribute_rewards(rows: &mut [ReportRow], minted: u128) {
    let weights: Vec<(AccountId, u128)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (AccountId(i as u64), r.carbon_g))
        .collect();
    for row in rows.iter_mut() {
        row.reward_units = 0;
    }
    for (AccountId(i), _, units) in largest_remainder(minted, &weights) {
        if let Some(row) = usize::try_from(i).ok().and_then(|i| rows.get_mut(i)) {
            row.reward_units = units;
        }
    }
}

pub const CSV_HEADER: &str = "zone,slot_start_ms,slot_len_ms,run_version,methodology_version,trades,contracted_wh,metered_export_wh,metered_import_wh,delivered_wh,imbalance_wh,imbalance_price_micro_per_kwh,imbalance_amount_micro,traded_amount_micro,carbon_g,ef_kind,ef_source,ef_version,ef_g_per_mwh,reward_units,readings_verified,readings_flagged,readings_rejected,readings_missing,transfer_ids,leaf_hashes";

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// RFC 4180 CSV with [`CSV_HEADER`]; ids and hashes are space-separated lowercase hex.
pub fn to_csv(rows: &[ReportRow]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for r in rows {
        let ids: Vec<String> = r.transfer_ids.iter().map(|id| id.to_hex()).collect();
        let hashes: Vec<String> = r.leaf_hashes.iter().map(hex::encode).collect();
        let fields = [
            csv_field(&r.zone),
            r.slot_start_ms.to_string(),
            r.slot_len_ms.to_string(),
            r.run_version.to_string(),
            csv_field(&r.methodology_version),
            r.trades.to_string(),
            r.contracted_wh.to_string(),
            r.metered_export_wh.to_string(),
            r.metered_import_wh.to_string(),
            r.delivered_wh.to_string(),
            r.imbalance_wh.to_string(),
            r.imbalance_price_micro_per_kwh.to_string(),
            r.imbalance_amount_micro.to_string(),
            r.traded_amount_micro.to_string(),
            r.carbon_g.to_string(),
            r.ef_kind.to_string(),
            csv_field(&r.ef_source),
            csv_field(&r.ef_version),
            r.ef_g_per_mwh.to_string(),
            r.reward_units.to_string(),
            r.quality.verified.to_string(),
            r.quality.flagged.to_string(),
            r.quality.rejected.to_string(),
            r.quality.missing.to_string(),
            ids.join(" "),
            hashes.join(" "),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

fn list(items: impl Iterator<Item = String>) -> Json {
    let parts: Vec<String> = items.map(|s| json_text(&s).0).collect();
    Json(format!("[{}]", parts.join(",")))
}

/// A JSON array of row objects (keys sorted; amounts as JSON integers).
pub fn to_json(rows: &[ReportRow]) -> String {
    let objects: Vec<String> = rows
        .iter()
        .map(|r| {
            json_object(vec![
                ("zone", json_text(&r.zone)),
                ("slot_start_ms", json_num(r.slot_start_ms)),
                ("slot_len_ms", json_num(r.slot_len_ms)),
                ("run_version", json_num(r.run_version)),
                ("methodology_version", json_text(&r.methodology_version)),
                ("trades", json_num(r.trades)),
                ("contracted_wh", json_num(r.contracted_wh)),
                ("metered_export_wh", json_num(r.metered_export_wh)),
                ("metered_import_wh", json_num(r.metered_import_wh)),
                ("delivered_wh", json_num(r.delivered_wh)),
                ("imbalance_wh", json_num(r.imbalance_wh)),
                (
                    "imbalance_price_micro_per_kwh",
                    json_num(r.imbalance_price_micro_per_kwh),
                ),
                ("imbalance_amount_micro", json_num(r.imbalance_amount_micro)),
                ("traded_amount_micro", json_num(r.traded_amount_micro)),
                ("carbon_g", json_num(r.carbon_g)),
                ("ef_kind", json_text(r.ef_kind)),
                ("ef_source", json_text(&r.ef_source)),
                ("ef_version", json_text(&r.ef_version)),
                ("ef_g_per_mwh", json_num(r.ef_g_per_mwh)),
                ("reward_units", json_num(r.reward_units)),
                (
                    "quality",
                    json_object(vec![
                        ("verified", json_num(r.quality.verified)),
                        ("flagged", json_num(r.quality.flagged)),
                        ("rejected", json_num(r.quality.rejected)),
                        ("missing", json_num(r.quality.missing)),
                    ]),
                ),
                (
                    "transfer_ids",
                    list(r.transfer_ids.iter().map(|id| id.to_hex())),
                ),
                ("leaf_hashes", list(r.leaf_hashes.iter().map(hex::encode))),
            ])
            .0
        })
        .collect();
    format!("[{}]", objects.join(","))
}
