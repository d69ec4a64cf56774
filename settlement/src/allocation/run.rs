//! `settle_slot`: one (zone, slot) settlement run, initial or reconciliation.

use super::delivery::{delivered_wh, shortfall_charge, trade_value, DeliveryFactor};
use super::escrow::escrow_amount;
use super::postings::build_transfers;
use super::records::build_leaves;
use super::{MeterInput, QualityCounts, SettlementConfig, SlotInputs, TradeInput};
use crate::carbon::{carbon_grams, EmissionFactor};
use crate::ledger::{AccountId, Transfer, TransferId};
use crate::report::ReportRow;
use crate::SettlementError;

/// Which side of its trades a party's shortfall is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Seller,
    Buyer,
}

/// What one trade delivered and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub trade: TradeInput,
    pub delivered_wh: u64,
    /// Buyer → seller, signed (negative: the seller paid the buyer).
    pub paid_micro: i128,
    pub escrow_micro: u128,
}

/// A party's shortfall against its contracts, and its charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imbalance {
    pub account: AccountId,
    pub role: Role,
    pub contracted_wh: u64,
    pub metered_wh: u64,
    pub shortfall_wh: u64,
    /// Party → imbalance account, signed (negative: the party received money).
    pub charge_micro: i128,
}

/// Carbon attributed to one producer in this slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarbonMint {
    pub account: AccountId,
    pub exported_wh: u64,
    pub reading_range: Option<(u64, u64)>,
    /// Absolute grams for the slot as of this run.
    pub grams: u128,
    /// What this run minted (grams minus earlier runs' grams; negative claws back).
    pub minted_g: i128,
    pub transfer_id: Option<TransferId>,
}

/// The slot's totals (absolute, as of this run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunTotals {
    pub trades: u64,
    pub contracted_wh: u64,
    pub delivered_wh: u64,
    pub metered_export_wh: u64,
    pub metered_import_wh: u64,
    pub imbalance_wh: u64,
    pub imbalance_amount_micro: i128,
    pub traded_amount_micro: i128,
    pub carbon_g: u128,
    pub quality: QualityCounts,
}

/// Everything one run decided. The transfers are to be applied to the ledger as one batch;
/// the leaves appended to the transparency log in order (mints first, the run record last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementRun {
    pub zone: String,
    pub slot_start_ms: i64,
    pub slot_len_ms: i64,
    pub run_version: u32,
    pub methodology_version: String,
    pub imbalance_price_micro_per_kwh: i64,
    pub factor: EmissionFactor,
    /// One per trade, by trade id.
    pub deliveries: Vec<Delivery>,
    /// Parties with a shortfall (or a changed charge), by (account, role).
    pub imbalances: Vec<Imbalance>,
    /// Producers with carbon (or a changed amount), by account.
    pub mints: Vec<CarbonMint>,
    pub carbon_rounding_g: u128,
    pub totals: RunTotals,
    pub transfers: Vec<Transfer>,
    pub log_leaves: Vec<Vec<u8>>,
    pub report_rows: Vec<ReportRow>,
}

struct Party {
    account: AccountId,
    sold: u128,
    bought: u128,
    seller_factor: DeliveryFactor,
    buyer_factor: DeliveryFactor,
}

/// Settles one (zone, slot). `run_version` 1 is the initial run and takes no `prior`; a
/// reconciliation (version n > 1) takes the latest earlier run of the same slot and posts only
/// corrections. Calling it again with the same arguments returns identical transfers.
pub fn settle_slot(
    inputs: &SlotInputs,
    config: &SettlementConfig,
    run_version: u32,
    prior: Option<&SettlementRun>,
) -> Result<SettlementRun, SettlementError> {
    check_version(inputs, run_version, prior)?;
    if inputs.slot_len_ms <= 0 {
        return Err(SettlementError::BadSlotLength(inputs.slot_len_ms));
    }
    let factor = &inputs.emission_factor;
    if factor.zone != inputs.zone || !factor.covers(inputs.slot_start_ms) {
        return Err(SettlementError::FactorMismatch {
            factor_zone: factor.zone.clone(),
            from: factor.valid_from_ms,
            to: factor.valid_to_ms,
            zone: inputs.zone.clone(),
            slot: inputs.slot_start_ms,
        });
    }
    let mut trades: Vec<&TradeInput> = inputs.trades.iter().collect();
    trades.sort_unstable_by_key(|t| t.trade_id);
    for pair in trades.windows(2) {
        if pair[0].trade_id == pair[1].trade_id {
            return Err(SettlementError::DuplicateTrade(pair[0].trade_id));
        }
    }
    if let Some(t) = trades.iter().find(|t| t.seller == t.buyer) {
        return Err(SettlementError::SelfTrade(t.trade_id));
    }
    if let Some(prior) = prior {
        same_trades(&trades, &prior.deliveries)?;
    }
    let mut meters: Vec<&MeterInput> = inputs.meters.iter().collect();
    meters.sort_unstable_by_key(|m| m.account);
    for pair in meters.windows(2) {
        if pair[0].account == pair[1].account {
            return Err(SettlementError::DuplicateMeter(pair[0].account));
        }
    }
    let meter = |a: AccountId| {
        meters
            .binary_search_by_key(&a, |m| m.account)
            .ok()
            .map(|i| meters[i])
    };
    let parties = parties(&trades, &meter);
    let party = |a: AccountId| {
        parties
            .binary_search_by_key(&a, |p| p.account)
            .ok()
            .map(|i| &parties[i])
    };

    let mut totals = RunTotals::default();
    let mut deliveries = Vec::with_capacity(trades.len());
    for t in &trades {
        let fs = party(t.seller).map_or(DeliveryFactor::ONE, |p| p.seller_factor);
        let fb = party(t.buyer).map_or(DeliveryFactor::ONE, |p| p.buyer_factor);
        let delivered = delivered_wh(t.qty_wh, fs.min(fb));
        let paid = trade_value(delivered, t.price_micro_per_kwh);
        totals.contracted_wh = add(totals.contracted_wh, t.qty_wh)?;
        totals.delivered_wh = add(totals.delivered_wh, delivered)?;
        totals.traded_amount_micro = totals
            .traded_amount_micro
            .checked_add(paid)
            .ok_or(SettlementError::SlotOverflow)?;
        deliveries.push(Delivery {
            trade: **t,
            delivered_wh: delivered,
            paid_micro: paid,
            escrow_micro: escrow_amount(t.qty_wh, t.price_micro_per_kwh),
        });
    }
    totals.trades = trades.len() as u64;

    let price = inputs.imbalance_price_micro_per_kwh;
    let mut imbalances = Vec::new();
    for p in &parties {
        let m = meter(p.account);
        let sides = [
            (Role::Seller, p.sold, m.map_or(0, |m| m.verified_export_wh)),
            (Role::Buyer, p.bought, m.map_or(0, |m| m.metered_import_wh)),
        ];
        for (role, contracted, metered) in sides {
            let contracted =
                u64::try_from(contracted).map_err(|_| SettlementError::SlotOverflow)?;
            let shortfall = contracted.saturating_sub(metered);
            let prior_charge = prior.map_or(0, |r| prior_charge(r, p.account, role));
            if shortfall == 0 && prior_charge == 0 {
                continue;
            }
            let charge = shortfall_charge(shortfall, price);
            totals.imbalance_wh = add(totals.imbalance_wh, shortfall)?;
            totals.imbalance_amount_micro = totals
                .imbalance_amount_micro
                .checked_add(charge)
                .ok_or(SettlementError::SlotOverflow)?;
            imbalances.push(Imbalance {
                account: p.account,
                role,
                contracted_wh: contracted,
                metered_wh: metered,
                shortfall_wh: shortfall,
                charge_micro: charge,
            });
        }
    }

    let mut mints = Vec::new();
    let mut exported_total: u128 = 0;
    let mut minted_total: u128 = 0;
    for m in &meters {
        totals.metered_export_wh = add(totals.metered_export_wh, m.verified_export_wh)?;
        totals.metered_import_wh = add(totals.metered_import_wh, m.metered_import_wh)?;
        totals.quality.add(&m.quality);
        exported_total += u128::from(m.verified_export_wh);
        let grams = carbon_grams(m.verified_export_wh, factor.g_per_mwh);
        minted_total += grams;
        let before = prior.map_or(0, |r| prior_grams(r, m.account));
        if grams == 0 && before == 0 {
            continue;
        }
        mints.push(CarbonMint {
            account: m.account,
            exported_wh: m.verified_export_wh,
            reading_range: m.reading_range,
            grams,
            minted_g: signed(grams) - signed(before),
            transfer_id: None,
        });
    }
    // Producers of the earlier run that no longer have a meter entry lose their grams.
    if let Some(prior) = prior {
        for old in &prior.mints {
            if old.grams > 0 && meter(old.account).is_none() {
                mints.push(CarbonMint {
                    account: old.account,
                    exported_wh: 0,
                    reading_range: None,
                    grams: 0,
                    minted_g: -signed(old.grams),
                    transfer_id: None,
                });
            }
        }
        mints.sort_unstable_by_key(|m| m.account);
    }
    totals.carbon_g = exported_total.saturating_mul(u128::from(factor.g_per_mwh)) / 1_000_000;
    let carbon_rounding_g = totals.carbon_g - minted_total.min(totals.carbon_g);

    let mut run = SettlementRun {
        zone: inputs.zone.clone(),
        slot_start_ms: inputs.slot_start_ms,
        slot_len_ms: inputs.slot_len_ms,
        run_version,
        methodology_version: config.methodology_version.clone(),
        imbalance_price_micro_per_kwh: price,
        factor: factor.clone(),
        deliveries,
        imbalances,
        mints,
        carbon_rounding_g,
        totals,
        transfers: Vec::new(),
        log_leaves: Vec::new(),
        report_rows: Vec::new(),
    };
    build_transfers(&mut run, prior);
    build_leaves(&mut run, inputs);
    run.report_rows = vec![ReportRow::for_run(&run)];
    Ok(run)
}

fn check_version(
    inputs: &SlotInputs,
    version: u32,
    prior: Option<&SettlementRun>,
) -> Result<(), SettlementError> {
    let err = |reason| Err(SettlementError::RunVersion { version, reason });
    match (version, prior) {
        (0, _) => err("versions start at 1 (the initial run)"),
        (1, Some(_)) => err("the initial run (version 1) takes no earlier run"),
        (1, None) => Ok(()),
        (_, None) => err("a reconciliation run needs the latest earlier run of the slot"),
        (_, Some(p)) if p.run_version >= version => {
            err("a reconciliation must have a higher version than the run it corrects")
        }
        (_, Some(p)) if p.zone != inputs.zone || p.slot_start_ms != inputs.slot_start_ms => {
            err("the earlier run is for another zone or slot")
        }
        _ => Ok(()),
    }
}

fn same_trades(trades: &[&TradeInput], prior: &[Delivery]) -> Result<(), SettlementError> {
    for (i, t) in trades.iter().enumerate() {
        if prior.get(i).map(|d| &d.trade) != Some(*t) {
            return Err(SettlementError::TradesChanged(t.trade_id));
        }
    }
    match prior.get(trades.len()) {
        Some(extra) => Err(SettlementError::TradesChanged(extra.trade.trade_id)),
        None => Ok(()),
    }
}

fn parties<'a>(
    trades: &[&TradeInput],
    meter: &impl Fn(AccountId) -> Option<&'a MeterInput>,
) -> Vec<Party> {
    let mut legs: Vec<(AccountId, u128, u128)> = Vec::with_capacity(trades.len() * 2);
    for t in trades {
        legs.push((t.seller, u128::from(t.qty_wh), 0));
        legs.push((t.buyer, 0, u128::from(t.qty_wh)));
    }
    legs.sort_unstable_by_key(|l| l.0);
    let mut parties: Vec<Party> = Vec::new();
    for (account, sold, bought) in legs {
        match parties.last_mut() {
            Some(p) if p.account == account => {
                p.sold += sold;
                p.bought += bought;
            }
            _ => parties.push(Party {
                account,
                sold,
                bought,
                seller_factor: DeliveryFactor::ONE,
                buyer_factor: DeliveryFactor::ONE,
            }),
        }
    }
    for p in &mut parties {
        let m = meter(p.account);
        let export = m.map_or(0, |m| m.verified_export_wh);
        let import = m.map_or(0, |m| m.metered_import_wh);
        p.seller_factor = DeliveryFactor::new(u128::from(export), p.sold);
        p.buyer_factor = DeliveryFactor::new(u128::from(import), p.bought);
    }
    parties
}

pub(super) fn prior_charge(prior: &SettlementRun, account: AccountId, role: Role) -> i128 {
    prior
        .imbalances
        .binary_search_by_key(&(account, role), |i| (i.account, i.role))
        .map_or(0, |i| prior.imbalances[i].charge_micro)
}

fn prior_grams(prior: &SettlementRun, account: AccountId) -> u128 {
    prior
        .mints
        .binary_search_by_key(&account, |m| m.account)
        .map_or(0, |i| prior.mints[i].grams)
}

fn add(a: u64, b: u64) -> Result<u64, SettlementError> {
    a.checked_add(b).ok_or(SettlementError::SlotOverflow)
}

pub(super) fn signed(x: u128) -> i128 {
    i128::try_from(x).unwrap_or(i128::MAX)
}
