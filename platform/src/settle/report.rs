//! Settlement reports: the stored report rows with reward units attributed for distributed
//! epochs and each row's log leaf indices, as CSV or JSON.
//!
//! Columns (CSV header, JSON keys): the core's `settlement::report::CSV_HEADER` (zone, slot,
//! run version, methodology, trades, contracted / metered export / metered import / delivered
//! / imbalance Wh, imbalance price and amount, traded amount, carbon grams, emission factor
//! kind/source/version/value, reward units, reading quality counts, transfer ids, leaf
//! hashes), then `leaf_indices` (space-separated in CSV, an array in JSON).

use std::collections::BTreeMap;

use settlement::report::{attribute_rewards, to_csv, to_json, ReportRow};

use crate::error::Result;
use crate::store::{Store, StoredReportRow};

/// The CSV header of a platform report.
pub fn csv_header() -> String {
    format!("{},leaf_indices", settlement::report::CSV_HEADER)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Csv,
    Json,
}

/// Report rows of slots in `[from_ms, to_ms)`, optionally of one zone. For every distributed
/// reward epoch the minted units are attributed to the epoch's latest-version rows (of all
/// zones) in proportion to their carbon grams; superseded versions show 0.
pub fn load(
    store: &Store,
    from_ms: i64,
    to_ms: i64,
    zone: Option<&str>,
) -> Result<Vec<StoredReportRow>> {
    let mut rows = store.report_rows(from_ms, to_ms, zone)?;
    let mut units: BTreeMap<(String, i64, u32), u128> = BTreeMap::new();
    for epoch in store.reward_epochs()? {
        let end = epoch.epoch_start_ms.saturating_add(epoch.epoch_len_ms);
        if end <= from_ms || epoch.epoch_start_ms >= to_ms {
            continue;
        }
        let all = store.report_rows(epoch.epoch_start_ms, end, None)?;
        let mut latest: BTreeMap<(String, i64), ReportRow> = BTreeMap::new();
        for r in all {
            latest.insert((r.row.zone.clone(), r.row.slot_start_ms), r.row);
        }
        let mut core_rows: Vec<ReportRow> = latest.into_values().collect();
        attribute_rewards(&mut core_rows, u128::try_from(epoch.minted).unwrap_or(0));
        for r in core_rows {
            units.insert((r.zone, r.slot_start_ms, r.run_version), r.reward_units);
        }
    }
    for r in &mut rows {
        let key = (r.row.zone.clone(), r.row.slot_start_ms, r.row.run_version);
        r.row.reward_units = units.get(&key).copied().unwrap_or(0);
    }
    Ok(rows)
}

/// Renders rows in `format`. Each row is the core's rendering plus its leaf indices.
pub fn render(rows: &[StoredReportRow], format: ReportFormat) -> String {
    match format {
        ReportFormat::Csv => {
            let mut out = csv_header();
            out.push_str("\r\n");
            for r in rows {
                let one = to_csv(std::slice::from_ref(&r.row));
                // The core's text is its header line, then this row ending in CRLF.
                let line = one
                    .split_once("\r\n")
                    .map_or("", |(_, rest)| rest)
                    .trim_end_matches("\r\n");
                out.push_str(line);
                out.push(',');
                out.push_str(&join(&r.leaf_indices, " "));
                out.push_str("\r\n");
            }
            out
        }
        ReportFormat::Json => {
            let objects: Vec<String> = rows
                .iter()
                .map(|r| {
                    let one = to_json(std::slice::from_ref(&r.row));
                    // `[{...}]` → `{..., "leaf_indices": [...]}`
                    let object = one
                        .strip_prefix('[')
                        .and_then(|s| s.strip_suffix(']'))
                        .and_then(|s| s.strip_suffix('}'))
                        .unwrap_or("{");
                    format!(
                        "{object},\"leaf_indices\":[{}]}}",
                        join(&r.leaf_indices, ",")
                    )
                })
                .collect();
            format!("[{}]", objects.join(","))
        }
    }
}

fn join(indices: &[u64], separator: &str) -> String {
    indices
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}
