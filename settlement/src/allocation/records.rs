//! The log records of a run (carbon mint leaves and the run record) and the digest of its
//! inputs.

use ring::digest;

use super::run::SettlementRun;
use super::{MeterInput, SlotInputs, TradeInput};
use crate::merkle::{settlement_run_leaf, CarbonMintRecord, MintLeafEncoder, RunRecord};

pub(super) fn build_leaves(run: &mut SettlementRun, inputs: &SlotInputs) {
    let mut leaves = Vec::with_capacity(run.mints.len() + 1);
    let encoder = MintLeafEncoder::new(&run.factor, &run.zone, &run.methodology_version);
    for m in &run.mints {
        if m.transfer_id.is_none() {
            continue;
        }
        leaves.push(encoder.encode(&CarbonMintRecord {
            zone: &run.zone,
            slot_start_ms: run.slot_start_ms,
            slot_len_ms: run.slot_len_ms,
            run_version: run.run_version,
            methodology: &run.methodology_version,
            account: m.account,
            exported_wh: m.exported_wh,
            reading_range: m.reading_range,
            factor: &run.factor,
            grams: m.grams,
            minted_g: m.minted_g,
            transfer_id: m.transfer_id,
        }));
    }
    let mut ids = digest::Context::new(&digest::SHA256);
    for t in &run.transfers {
        ids.update(&t.id.0.to_be_bytes());
    }
    let t = &run.totals;
    leaves.push(settlement_run_leaf(&RunRecord {
        zone: &run.zone,
        slot_start_ms: run.slot_start_ms,
        slot_len_ms: run.slot_len_ms,
        run_version: run.run_version,
        methodology: &run.methodology_version,
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
        inputs_sha256: inputs_digest(inputs),
        transfer_count: run.transfers.len() as u64,
        transfer_ids_sha256: to_array(ids.finish()),
    }));
    run.log_leaves = leaves;
}

fn to_array(d: digest::Digest) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-256 over a fixed big-endian layout of the inputs, trades by id and meters by account
/// (documented in `docs/transparency-log.md`), so an auditor holding the inputs can match a
/// run record to them.
pub fn inputs_digest(inputs: &SlotInputs) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"sunmesh/settlement-inputs/v1\0");
    let zone_len = u16::try_from(inputs.zone.len()).unwrap_or(u16::MAX);
    ctx.update(&zone_len.to_be_bytes());
    ctx.update(inputs.zone.as_bytes());
    ctx.update(&inputs.slot_start_ms.to_be_bytes());
    ctx.update(&inputs.slot_len_ms.to_be_bytes());
    ctx.update(&inputs.imbalance_price_micro_per_kwh.to_be_bytes());
    ctx.update(&inputs.emission_factor.g_per_mwh.to_be_bytes());
    let mut trades: Vec<&TradeInput> = inputs.trades.iter().collect();
    trades.sort_unstable_by_key(|t| t.trade_id);
    ctx.update(&(trades.len() as u64).to_be_bytes());
    for t in trades {
        ctx.update(&t.trade_id.to_be_bytes());
        ctx.update(&t.seller.0.to_be_bytes());
        ctx.update(&t.buyer.0.to_be_bytes());
        ctx.update(&t.qty_wh.to_be_bytes());
        ctx.update(&t.price_micro_per_kwh.to_be_bytes());
    }
    let mut meters: Vec<&MeterInput> = inputs.meters.iter().collect();
    meters.sort_unstable_by_key(|m| m.account);
    ctx.update(&(meters.len() as u64).to_be_bytes());
    for m in meters {
        ctx.update(&m.account.0.to_be_bytes());
        ctx.update(&m.verified_export_wh.to_be_bytes());
        ctx.update(&m.metered_import_wh.to_be_bytes());
    }
    to_array(ctx.finish())
}
