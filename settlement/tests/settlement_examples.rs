//! Hand-worked settlement examples with every transfer written out.
//!
//! Common to all: zone TEST, one 15-minute slot, emission factor 500,000 g/MWh (0.5 g/Wh),
//! imbalance price 300,000 micro/kWh (0.30 per kWh), every participant funded with
//! 1,000,000 micro before trading. Trade 1: p1 sells p2 1,000 Wh at 200,000 micro/kWh
//! (value 200,000 micro, escrowed by p2 at trade time).

mod common;

use common::*;
use settlement::allocation::{settle_slot, SettlementRun, SlotInputs};
use settlement::ledger::{Account, AccountId, Applied, Ledger, LedgerId, Owner};
use settlement::SettlementError;

const FUNDS: u128 = 1_000_000;

/// Opens escrows, settles, applies the run as one batch and checks the invariants.
fn settle_and_apply(inputs: &SlotInputs) -> (Ledger, SettlementRun) {
    let mut ledger = Ledger::new();
    prepare(&mut ledger, inputs, FUNDS);
    let run = settle_slot(inputs, &config(), 1, None).expect("settle");
    ledger.apply_batch(&run.transfers).expect("apply");
    ledger.check_invariants().expect("invariants");
    assert_eq!(
        ledger
            .balance(&Account::new(Owner::Escrow, LedgerId::Currency))
            .net(),
        0
    );
    (ledger, run)
}

fn money(ledger: &Ledger, id: u64) -> i128 {
    ledger.balance(&cur(id)).net()
}

fn carbon(ledger: &Ledger, id: u64) -> i128 {
    ledger
        .balance(&Account::participant(AccountId(id), LedgerId::Carbon))
        .net()
}

fn one_trade(seller_export: Option<u64>, buyer_import: u64) -> SlotInputs {
    let mut meters = vec![meter(2, 0, buyer_import)];
    if let Some(export) = seller_export {
        meters.push(meter(1, export, 0));
    }
    inputs(vec![trade(1, 1, 2, 1_000, 200_000)], meters, 300_000)
}

#[test]
fn full_delivery_pays_the_whole_escrow_to_the_seller() {
    // f_s = min(1, 1000/1000) = 1, f_b = min(1, 1200/1000) = 1 → 1000 Wh delivered.
    let (ledger, run) = settle_and_apply(&one_trade(Some(1_000), 1_200));
    assert_eq!(
        written_out(&run),
        vec![
            w("post-pending", "p2:cur", "escrow:cur", 200_000),
            w("post", "escrow:cur", "p1:cur", 200_000),
            w("post", "issuance:co2", "p1:co2", 500), // 1000 Wh × 0.5 g/Wh
        ]
    );
    assert_eq!(run.deliveries[0].delivered_wh, 1_000);
    assert!(run.imbalances.is_empty());
    assert_eq!((money(&ledger, 1), money(&ledger, 2)), (1_200_000, 800_000));
    assert_eq!(carbon(&ledger, 1), 500);
}

#[test]
fn seller_shortfall_delivers_pro_rata_and_charges_the_seller() {
    // f_s = 600/1000 → 600 Wh delivered, 120,000 paid, 80,000 escrow back to p2.
    // Seller shortfall 400 Wh × 0.30 = 120,000 to the grid.
    let (ledger, run) = settle_and_apply(&one_trade(Some(600), 1_200));
    assert_eq!(
        written_out(&run),
        vec![
            w("post-pending", "p2:cur", "escrow:cur", 120_000),
            w("post", "escrow:cur", "p1:cur", 120_000),
            w("balancing", "p1:cur", "grid:cur", 120_000),
            w("post", "issuance:co2", "p1:co2", 300),
        ]
    );
    assert_eq!((money(&ledger, 1), money(&ledger, 2)), (1_000_000, 880_000));
    assert_eq!(run.imbalances[0].shortfall_wh, 400);
}

#[test]
fn buyer_shortfall_delivers_what_the_buyer_took_and_charges_the_buyer() {
    // f_b = 250/1000 → 250 Wh delivered, 50,000 paid; buyer short 750 Wh → 225,000.
    let (ledger, run) = settle_and_apply(&one_trade(Some(1_000), 250));
    assert_eq!(
        written_out(&run),
        vec![
            w("post-pending", "p2:cur", "escrow:cur", 50_000),
            w("post", "escrow:cur", "p1:cur", 50_000),
            w("balancing", "p2:cur", "grid:cur", 225_000),
            w("post", "issuance:co2", "p1:co2", 500),
        ]
    );
    assert_eq!((money(&ledger, 1), money(&ledger, 2)), (1_050_000, 725_000));
}

#[test]
fn both_short_delivers_the_smaller_factor_and_charges_both() {
    // f_s = 0.5, f_b = 0.8 → 500 Wh, 100,000 paid; seller short 500 (150,000), buyer short
    // 200 (60,000).
    let (ledger, run) = settle_and_apply(&one_trade(Some(500), 800));
    assert_eq!(
        written_out(&run),
        vec![
            w("post-pending", "p2:cur", "escrow:cur", 100_000),
            w("post", "escrow:cur", "p1:cur", 100_000),
            w("balancing", "p1:cur", "grid:cur", 150_000),
            w("balancing", "p2:cur", "grid:cur", 60_000),
            w("post", "issuance:co2", "p1:co2", 250),
        ]
    );
    assert_eq!((money(&ledger, 1), money(&ledger, 2)), (950_000, 840_000));
    let grid = ledger.balance(&Account::new(Owner::Imbalance, LedgerId::Currency));
    assert_eq!(grid.net(), 210_000);
    assert_eq!(run.totals.imbalance_wh, 700);
    assert_eq!(run.totals.imbalance_amount_micro, 210_000);
}

#[test]
fn zero_production_voids_the_escrow_and_charges_the_whole_shortfall() {
    let (ledger, run) = settle_and_apply(&one_trade(None, 1_000));
    assert_eq!(
        written_out(&run),
        vec![
            w("void-pending", "p2:cur", "escrow:cur", 200_000),
            w("balancing", "p1:cur", "grid:cur", 300_000),
        ]
    );
    assert_eq!((money(&ledger, 1), money(&ledger, 2)), (700_000, 1_000_000));
    assert!(run.mints.is_empty());
}

#[test]
fn an_unfunded_seller_is_charged_only_what_it_has_and_the_run_still_applies() {
    let inputs = one_trade(None, 1_000);
    let mut ledger = Ledger::new();
    deposit(&mut ledger, 2, FUNDS);
    prepare(&mut ledger, &inputs, 0);
    let run = settle_slot(&inputs, &config(), 1, None).expect("settle");
    let applied = ledger.apply_batch(&run.transfers).expect("apply");
    // The charge asked 300,000; p1 had nothing, so nothing moved: the platform pursues it.
    assert_eq!(applied[1], Applied::Applied { moved: 0 });
    ledger.check_invariants().expect("invariants");
    assert_eq!(money(&ledger, 1), 0);
}

#[test]
fn negative_price_makes_the_seller_pay_with_rounding_against_the_seller() {
    // 1000 Wh at −1,001 micro/kWh: p1 (seller) escrows |floor(−1001)| = 1,001. p1 exports
    // 333 Wh → 333 delivered; value floor(333 × −1001 / 1000) = floor(−333.333) = −334, so
    // the seller pays the buyer 334 (the buyer "pays" the floor, i.e. less) and 667 returns.
    // Seller short 667 Wh × 0.30 = 200,100. Carbon floor(333 × 0.5) = 166 g.
    let inputs = inputs(
        vec![trade(1, 1, 2, 1_000, -1_001)],
        vec![meter(1, 333, 0), meter(2, 0, 1_000)],
        300_000,
    );
    let (ledger, run) = settle_and_apply(&inputs);
    assert_eq!(
        written_out(&run),
        vec![
            w("post-pending", "p1:cur", "escrow:cur", 334),
            w("post", "escrow:cur", "p2:cur", 334),
            w("balancing", "p1:cur", "grid:cur", 200_100),
            w("post", "issuance:co2", "p1:co2", 166),
        ]
    );
    assert_eq!(run.deliveries[0].paid_micro, -334);
    assert_eq!(run.deliveries[0].escrow_micro, 1_001);
    assert_eq!((money(&ledger, 1), money(&ledger, 2)), (799_566, 1_000_334));
}

#[test]
fn negative_imbalance_price_pays_the_short_party() {
    // Seller short 400 Wh at −100,000 micro/kWh → the grid pays p1 40,000.
    let mut inputs = one_trade(Some(600), 1_000);
    inputs.imbalance_price_micro_per_kwh = -100_000;
    let (ledger, run) = settle_and_apply(&inputs);
    assert_eq!(run.transfers.len(), 4);
    assert_eq!(
        written_out(&run)[2],
        w("post", "grid:cur", "p1:cur", 40_000)
    );
    assert_eq!(money(&ledger, 1), 1_000_000 + 120_000 + 40_000);
}

#[test]
fn one_seller_two_buyers_pro_rata_with_a_carbon_rounding_remainder() {
    // p1 sells 600 Wh to p2 and 400 Wh to p3 at 100,000 micro/kWh and exports 500 Wh:
    // f_s = 0.5 → 300 and 200 Wh. p4 and p5 export 1 Wh each (0.5 g each, floored to 0);
    // the zone total floor(502 × 0.5) = 251 g = 250 (p1) + 1 to the rounding account.
    let inputs = inputs(
        vec![trade(1, 1, 2, 600, 100_000), trade(2, 1, 3, 400, 100_000)],
        vec![
            meter(1, 500, 0),
            meter(2, 0, 900),
            meter(3, 0, 900),
            meter(4, 1, 0),
            meter(5, 1, 0),
        ],
        300_000,
    );
    let (ledger, run) = settle_and_apply(&inputs);
    assert_eq!(
        written_out(&run),
        vec![
            w("post-pending", "p2:cur", "escrow:cur", 30_000),
            w("post", "escrow:cur", "p1:cur", 30_000),
            w("post-pending", "p3:cur", "escrow:cur", 20_000),
            w("post", "escrow:cur", "p1:cur", 20_000),
            w("balancing", "p1:cur", "grid:cur", 150_000),
            w("post", "issuance:co2", "p1:co2", 250),
            w("post", "issuance:co2", "rounding:co2", 1),
        ]
    );
    assert_eq!(run.totals.carbon_g, 251);
    let supply = ledger
        .balance(&Account::new(Owner::Issuance, LedgerId::Carbon))
        .net();
    assert_eq!(supply, -251);
    let row = &run.report_rows[0];
    assert_eq!(
        (
            row.contracted_wh,
            row.delivered_wh,
            row.imbalance_wh,
            row.carbon_g
        ),
        (1_000, 500, 500, 251)
    );
    assert_eq!(row.traded_amount_micro, 50_000);
    assert_eq!(row.transfer_ids.len(), 7);
    assert_eq!(row.leaf_hashes.len(), 2); // p1's mint and the run record
}

#[test]
fn rerunning_a_settled_slot_changes_nothing() {
    let inputs = one_trade(Some(600), 1_200);
    let (mut ledger, run) = settle_and_apply(&inputs);
    let again = settle_slot(&inputs, &config(), 1, None).expect("settle");
    assert_eq!(again, run);
    let before: Vec<_> = ledger.accounts().map(|(a, b)| (*a, *b)).collect();
    let outcomes = ledger.apply_batch(&again.transfers).expect("apply");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Applied::AlreadyApplied { .. })));
    let after: Vec<_> = ledger.accounts().map(|(a, b)| (*a, *b)).collect();
    assert_eq!(before, after);
}

#[test]
fn a_late_correction_is_a_new_version_that_posts_only_the_differences() {
    // Initial run: p1 exported 600 (seller shortfall example). A late reading raises the
    // export to 900: 900 Wh delivered → 180,000 (60,000 more from p2); shortfall 100 Wh →
    // 30,000 (90,000 back from the grid); carbon 450 g (150 more).
    let first = one_trade(Some(600), 1_200);
    let (mut ledger, v1) = settle_and_apply(&first);
    let late = one_trade(Some(900), 1_200);
    let v2 = settle_slot(&late, &config(), 2, Some(&v1)).expect("reconcile");
    assert_eq!(
        written_out(&v2),
        vec![
            w("balancing", "p2:cur", "p1:cur", 60_000),
            w("post", "grid:cur", "p1:cur", 90_000),
            w("post", "issuance:co2", "p1:co2", 150),
        ]
    );
    assert!(v2
        .transfers
        .iter()
        .all(|t| !v1.transfers.iter().any(|o| o.id == t.id)));
    ledger.apply_batch(&v2.transfers).expect("apply v2");
    ledger.check_invariants().expect("invariants");
    assert_eq!((money(&ledger, 1), money(&ledger, 2)), (1_150_000, 820_000));
    assert_eq!(carbon(&ledger, 1), 450);
    // Re-applying either version is a no-op.
    for run in [&v1, &v2] {
        let outcomes = ledger.apply_batch(&run.transfers).expect("re-apply");
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, Applied::AlreadyApplied { .. })));
    }
    // A version 3 with unchanged inputs posts nothing but still records a run leaf.
    let v3 = settle_slot(&late, &config(), 3, Some(&v2)).expect("reconcile");
    assert!(v3.transfers.is_empty());
    assert_eq!(v3.log_leaves.len(), 1);
}

#[test]
fn invalid_inputs_are_refused_with_a_reason() {
    let ok = one_trade(Some(1_000), 1_000);
    let mut dup = ok.clone();
    dup.trades.push(dup.trades[0]);
    assert_eq!(
        settle_slot(&dup, &config(), 1, None),
        Err(SettlementError::DuplicateTrade(1))
    );
    let mut own = ok.clone();
    own.trades[0].buyer = AccountId(1);
    assert_eq!(
        settle_slot(&own, &config(), 1, None),
        Err(SettlementError::SelfTrade(1))
    );
    let mut two_meters = ok.clone();
    two_meters.meters.push(meter(2, 0, 1));
    assert_eq!(
        settle_slot(&two_meters, &config(), 1, None),
        Err(SettlementError::DuplicateMeter(AccountId(2)))
    );
    let mut other_zone = ok.clone();
    other_zone.emission_factor.zone = "ELSEWHERE".into();
    assert!(matches!(
        settle_slot(&other_zone, &config(), 1, None),
        Err(SettlementError::FactorMismatch { .. })
    ));
    let v1 = settle_slot(&ok, &config(), 1, None).expect("settle");
    for (version, prior) in [(0, None), (1, Some(&v1)), (2, None), (1, None)] {
        let result = settle_slot(&ok, &config(), version, prior);
        assert_eq!(result.is_ok(), version == 1 && prior.is_none(), "{version}");
    }
    let mut changed = ok.clone();
    changed.trades[0].qty_wh = 999;
    assert_eq!(
        settle_slot(&changed, &config(), 2, Some(&v1)),
        Err(SettlementError::TradesChanged(1))
    );
}
