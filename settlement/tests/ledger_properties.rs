//! Property tests: ledger invariants after every operation, and settlement invariants,
//! idempotency and reconciliation over random slots.

mod common;

use common::*;
use proptest::prelude::*;
use settlement::allocation::{escrow_amount, settle_slot, MeterInput, SlotInputs, TradeInput};
use settlement::carbon::carbon_grams;
use settlement::ledger::{
    Account, AccountId, Applied, Code, Ledger, LedgerId, Owner, References, Transfer, TransferId,
    TransferKind,
};
use settlement::merkle::validate_leaf;
use settlement::SettlementError;

const PARTIES: u64 = 6;

fn slot_strategy() -> impl Strategy<Value = (SlotInputs, Vec<Option<(u64, u64)>>, u128)> {
    let trades = prop::collection::vec(
        (0..PARTIES, 1..PARTIES, 0u64..3_000, -300_000i64..300_000),
        0..16,
    );
    let meters = prop::collection::vec(
        prop::option::weighted(0.8, (0u64..4_000, 0u64..4_000)),
        PARTIES as usize,
    );
    let late = prop::collection::vec(
        prop::option::weighted(0.8, (0u64..4_000, 0u64..4_000)),
        PARTIES as usize,
    );
    (
        trades,
        meters,
        late,
        -200_000i64..400_000,
        0u64..1_000_000,
        0u128..500_000,
    )
        .prop_map(|(trades, meters, late, price, g, extra)| {
            let trades: Vec<TradeInput> = trades
                .into_iter()
                .enumerate()
                .map(|(i, (s, b, q, p))| trade(i as u64 * 7 + 1, s, (s + b) % PARTIES, q, p))
                .collect();
            let mut inputs = inputs(trades, meter_list(&meters), price);
            inputs.emission_factor = factor(g);
            (inputs, late, extra)
        })
}

fn meter_list(values: &[Option<(u64, u64)>]) -> Vec<MeterInput> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|(e, imp)| meter(i as u64, e, imp)))
        .collect()
}

/// Deposits each participant's escrow needs plus `extra`, then opens the escrows.
fn fund(ledger: &mut Ledger, inputs: &SlotInputs, extra: u128) -> Vec<u128> {
    let mut deposits = vec![extra; PARTIES as usize];
    for t in &inputs.trades {
        let payer = if t.price_micro_per_kwh >= 0 {
            t.buyer
        } else {
            t.seller
        };
        deposits[payer.0 as usize] += escrow_amount(t.qty_wh, t.price_micro_per_kwh);
    }
    for (id, amount) in deposits.iter().enumerate() {
        if *amount > 0 {
            deposit(ledger, id as u64, *amount);
        }
    }
    prepare(ledger, inputs, 0);
    deposits
}

fn export_of(inputs: &SlotInputs, a: AccountId) -> u64 {
    inputs
        .meters
        .iter()
        .find(|m| m.account == a)
        .map_or(0, |m| m.verified_export_wh)
}

fn import_of(inputs: &SlotInputs, a: AccountId) -> u64 {
    inputs
        .meters
        .iter()
        .find(|m| m.account == a)
        .map_or(0, |m| m.metered_import_wh)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn settlement_keeps_every_invariant_and_reruns_are_noops((inputs, _late, extra) in slot_strategy()) {
        let mut ledger = Ledger::new();
        fund(&mut ledger, &inputs, extra);
        let run = settle_slot(&inputs, &config(), 1, None).expect("settle");
        ledger.apply_batch(&run.transfers).expect("apply");
        ledger.check_invariants().expect("invariants");

        // Escrow fully resolved.
        let escrow = ledger.balance(&Account::new(Owner::Escrow, LedgerId::Currency));
        prop_assert_eq!((escrow.net(), escrow.credits_pending, escrow.debits_pending), (0, 0, 0));
        // Deliveries never exceed contracts, exports or imports.
        for d in &run.deliveries {
            prop_assert!(d.delivered_wh <= d.trade.qty_wh);
        }
        for p in 0..PARTIES {
            let a = AccountId(p);
            let sold: u64 = run.deliveries.iter().filter(|d| d.trade.seller == a).map(|d| d.delivered_wh).sum();
            let bought: u64 = run.deliveries.iter().filter(|d| d.trade.buyer == a).map(|d| d.delivered_wh).sum();
            prop_assert!(sold <= export_of(&inputs, a));
            prop_assert!(bought <= import_of(&inputs, a));
        }
        // Carbon adds up exactly: producers + rounding = floor(ΣE × EF / 10^6) = supply.
        let exported: u64 = inputs.meters.iter().map(|m| m.verified_export_wh).sum();
        let g = inputs.emission_factor.g_per_mwh;
        let zone_total = u128::from(exported) * u128::from(g) / 1_000_000;
        prop_assert_eq!(run.totals.carbon_g, zone_total);
        let minted: u128 = run.mints.iter().map(|m| m.grams).sum();
        prop_assert_eq!(minted + run.carbon_rounding_g, zone_total);
        let supply = ledger.balance(&Account::new(Owner::Issuance, LedgerId::Carbon)).net();
        prop_assert_eq!(supply, -(zone_total as i128));

        // Every leaf is a valid canonical record.
        for (i, leaf) in run.log_leaves.iter().enumerate() {
            prop_assert_eq!(validate_leaf(i as u64, leaf), Ok(()));
        }

        // Re-running is a no-op: same run, every transfer already applied, balances unchanged.
        let again = settle_slot(&inputs, &config(), 1, None).expect("settle");
        prop_assert_eq!(&again, &run);
        let before: Vec<_> = ledger.accounts().map(|(a, b)| (*a, *b)).collect();
        let outcomes = ledger.apply_batch(&again.transfers).expect("re-apply");
        let all_noops = outcomes.iter().all(|o| matches!(o, Applied::AlreadyApplied { .. }));
        prop_assert!(all_noops);
        let after: Vec<_> = ledger.accounts().map(|(a, b)| (*a, *b)).collect();
        prop_assert_eq!(before, after);
    }

    #[test]
    fn reconciliation_lands_exactly_on_the_corrected_figures((inputs, late, _extra) in slot_strategy()) {
        // Funded generously so no balancing charge is capped.
        let mut ledger = Ledger::new();
        let deposits = fund(&mut ledger, &inputs, 10_000_000_000);
        let v1 = settle_slot(&inputs, &config(), 1, None).expect("settle");
        ledger.apply_batch(&v1.transfers).expect("apply v1");
        let mut corrected = inputs.clone();
        corrected.meters = meter_list(&late);
        let v2 = settle_slot(&corrected, &config(), 2, Some(&v1)).expect("reconcile");
        ledger.apply_batch(&v2.transfers).expect("apply v2");
        for (i, leaf) in v2.log_leaves.iter().enumerate() {
            prop_assert_eq!(validate_leaf(i as u64, leaf), Ok(()));
        }
        ledger.check_invariants().expect("invariants");
        let fresh = settle_slot(&corrected, &config(), 1, None).expect("fresh");
        for p in 0..PARTIES {
            let a = AccountId(p);
            let received: i128 = fresh.deliveries.iter().filter(|d| d.trade.seller == a).map(|d| d.paid_micro).sum();
            let paid: i128 = fresh.deliveries.iter().filter(|d| d.trade.buyer == a).map(|d| d.paid_micro).sum();
            let charged: i128 = fresh.imbalances.iter().filter(|i| i.account == a).map(|i| i.charge_micro).sum();
            let expected = deposits[p as usize] as i128 + received - paid - charged;
            prop_assert_eq!(ledger.balance(&cur(p)).net(), expected, "participant {}", p);
            let grams = carbon_grams(export_of(&corrected, a), corrected.emission_factor.g_per_mwh);
            prop_assert_eq!(ledger.balance(&Account::participant(a, LedgerId::Carbon)).net(), grams as i128);
        }
        let rounding = ledger.balance(&Account::new(Owner::Rounding, LedgerId::Carbon)).net();
        prop_assert_eq!(rounding, fresh.carbon_rounding_g as i128);
        prop_assert_eq!(v2.totals, fresh.totals);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Deposit(u64, u128),
    Move(u64, u64, u128, u8),
    Post(usize, u128),
    Void(usize),
    Replay(usize, bool),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..4, 1u128..1_000).prop_map(|(a, x)| Op::Deposit(a, x)),
        (0u64..5, 0u64..5, 0u128..800, 0u8..3).prop_map(|(a, b, x, k)| Op::Move(a, b, x, k)),
        (0usize..64, 0u128..800).prop_map(|(i, x)| Op::Post(i, x)),
        (0usize..64).prop_map(Op::Void),
        (0usize..64, any::<bool>()).prop_map(|(i, m)| Op::Replay(i, m)),
    ]
}

/// Account 4 is the issuance account; 0..4 are participants.
fn acct(n: u64) -> Account {
    if n >= 4 {
        Account::new(Owner::Issuance, LedgerId::Currency)
    } else {
        cur(n)
    }
}

fn snapshot(ledger: &Ledger) -> Vec<(Account, settlement::ledger::Balance)> {
    ledger.accounts().map(|(a, b)| (*a, *b)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ledger_invariants_hold_after_every_operation(ops in prop::collection::vec(op_strategy(), 1..60)) {
        let mut ledger = Ledger::new();
        let mut applied: Vec<Transfer> = Vec::new();
        let mut pendings: Vec<Transfer> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            let id = TransferId(step as u128 + 1);
            let base = |debit, credit, amount, kind| Transfer {
                id, debit, credit, amount, kind, code: Code::Deposit, refs: References::default(),
            };
            let transfer = match op {
                Op::Deposit(a, x) => base(acct(4), acct(a), x, TransferKind::Posted),
                Op::Move(a, b, x, k) => {
                    let kind = [TransferKind::Posted, TransferKind::Pending, TransferKind::BalancingDebit][k as usize];
                    base(acct(a), acct(b), x, kind)
                }
                Op::Post(..) | Op::Void(_) if pendings.is_empty() => continue,
                Op::Post(i, x) => {
                    let p = &pendings[i % pendings.len()];
                    base(p.debit, p.credit, x, TransferKind::PostPending { pending_id: p.id })
                }
                Op::Void(i) => {
                    let p = &pendings[i % pendings.len()];
                    base(p.debit, p.credit, p.amount, TransferKind::VoidPending { pending_id: p.id })
                }
                Op::Replay(_, _) if applied.is_empty() => continue,
                Op::Replay(i, mutate) => {
                    let mut t = applied[i % applied.len()].clone();
                    if mutate {
                        t.amount += 1;
                        prop_assert_eq!(ledger.apply(&t), Err(SettlementError::IdConflict { id: t.id }));
                    } else {
                        let replayed = matches!(ledger.apply(&t), Ok(Applied::AlreadyApplied { .. }));
                        prop_assert!(replayed);
                    }
                    ledger.check_invariants().expect("invariants");
                    continue;
                }
            };
            let before = snapshot(&ledger);
            match ledger.apply(&transfer) {
                Ok(Applied::Applied { moved }) => {
                    prop_assert!(moved <= transfer.amount);
                    if transfer.kind == TransferKind::Pending {
                        pendings.push(transfer.clone());
                    }
                    applied.push(transfer);
                }
                Ok(Applied::AlreadyApplied { .. }) => prop_assert!(false, "fresh id reported as applied"),
                Err(_) => prop_assert_eq!(snapshot(&ledger), before),
            }
            ledger.check_invariants().expect("invariants");
        }
        // A batch whose last transfer fails leaves no trace.
        let before = snapshot(&ledger);
        let count = ledger.transfer_count();
        let ok = Transfer {
            id: TransferId(1 << 100), debit: acct(4), credit: acct(0), amount: 5,
            kind: TransferKind::Posted, code: Code::Deposit, refs: References::default(),
        };
        let failing = Transfer { id: TransferId((1 << 100) + 1), debit: acct(1), credit: acct(1), ..ok.clone() };
        let err = ledger.apply_batch(&[ok, failing]).expect_err("same-account transfer fails");
        prop_assert_eq!(err.index, 1);
        prop_assert_eq!(snapshot(&ledger), before);
        prop_assert_eq!(ledger.transfer_count(), count);
    }
}

#[test]
fn pending_transfers_resolve_exactly_once() {
    let mut ledger = Ledger::new();
    deposit(&mut ledger, 0, 100);
    let escrow = Account::new(Owner::Escrow, LedgerId::Currency);
    let pending = Transfer {
        id: TransferId(1),
        debit: cur(0),
        credit: escrow,
        amount: 60,
        kind: TransferKind::Pending,
        code: Code::Escrow,
        refs: References::default(),
    };
    ledger.apply(&pending).expect("pending");
    assert_eq!(ledger.balance(&cur(0)).available(), 40);
    let over = Transfer {
        id: TransferId(2),
        debit: cur(1),
        credit: escrow,
        amount: 50,
        kind: TransferKind::Pending,
        ..pending.clone()
    };
    assert!(matches!(
        ledger.apply(&over),
        Err(SettlementError::InsufficientFunds { .. })
    ));
    let post = Transfer {
        id: TransferId(3),
        amount: 25,
        kind: TransferKind::PostPending {
            pending_id: TransferId(1),
        },
        ..pending.clone()
    };
    assert_eq!(ledger.apply(&post), Ok(Applied::Applied { moved: 25 }));
    assert_eq!(ledger.balance(&cur(0)).net(), 75);
    assert_eq!(ledger.balance(&cur(0)).available(), 75);
    let void = Transfer {
        id: TransferId(4),
        kind: TransferKind::VoidPending {
            pending_id: TransferId(1),
        },
        ..pending.clone()
    };
    assert!(matches!(
        ledger.apply(&void),
        Err(SettlementError::PendingAlreadyResolved {
            state: "posted",
            ..
        })
    ));
    let too_much = Transfer {
        id: TransferId(5),
        ..pending.clone()
    };
    ledger.apply(&too_much).expect("second pending");
    let post_more = Transfer {
        id: TransferId(6),
        amount: 61,
        kind: TransferKind::PostPending {
            pending_id: TransferId(5),
        },
        ..pending.clone()
    };
    assert!(matches!(
        ledger.apply(&post_more),
        Err(SettlementError::PostExceedsPending { .. })
    ));
    let wrong_accounts = Transfer {
        id: TransferId(7),
        debit: cur(2),
        kind: TransferKind::VoidPending {
            pending_id: TransferId(5),
        },
        ..pending.clone()
    };
    assert!(matches!(
        ledger.apply(&wrong_accounts),
        Err(SettlementError::PendingAccountsMismatch { .. })
    ));
    let cross_ledger = Transfer {
        id: TransferId(8),
        credit: Account::participant(AccountId(1), LedgerId::Carbon),
        kind: TransferKind::Posted,
        amount: 1,
        ..pending
    };
    assert!(matches!(
        ledger.apply(&cross_ledger),
        Err(SettlementError::LedgerMismatch { .. })
    ));
    ledger.check_invariants().expect("invariants");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Extreme values never panic: settlement returns a run or a typed error.
    #[test]
    fn extreme_inputs_never_panic(
        trades in prop::collection::vec((0u64..4, 1u64..4, any::<u64>(), any::<i64>()), 0..6),
        meters in prop::collection::vec((0u64..5, any::<u64>(), any::<u64>()), 0..6),
        price in any::<i64>(),
        g in any::<u64>(),
    ) {
        let trades = trades
            .into_iter()
            .enumerate()
            .map(|(i, (s, b, q, p))| trade(i as u64, s, (s + b) % 4, q, p))
            .collect();
        let meters = meters.into_iter().map(|(a, e, i)| meter(a, e, i)).collect();
        let mut inputs = inputs(trades, meters, price);
        inputs.emission_factor = factor(g);
        if let Ok(run) = settle_slot(&inputs, &config(), 1, None) {
            let again = settle_slot(&inputs, &config(), 2, Some(&run));
            prop_assert!(again.is_ok());
        }
    }

    /// Arbitrary checkpoint texts and leaves are rejected, never panicked on.
    #[test]
    fn arbitrary_log_exports_never_panic(
        text in ".{0,200}",
        leaves in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..4),
    ) {
        let key = settlement::merkle::LogVerifier::new("o", [1u8; 32]);
        let result = settlement::merkle::verify_log_export(&leaves, &text, &key, Some(&text));
        prop_assert!(result.is_err());
    }
}
