//! Fixtures shared by the settlement integration tests.
#![allow(dead_code)]

use settlement::allocation::{
    escrow_for_trade, MeterInput, QualityCounts, SettlementConfig, SettlementRun, SlotInputs,
    TradeInput,
};
use settlement::carbon::{EmissionFactor, FactorKind};
use settlement::ledger::{
    Account, AccountId, Code, Ledger, LedgerId, Owner, References, Transfer, TransferId,
    TransferKind,
};

pub const ZONE: &str = "TEST";
/// 2023-11-14T22:00:00Z, a quarter-hour boundary.
pub const SLOT: i64 = 1_699_999_200_000;
pub const SLOT_LEN: i64 = 900_000;

pub fn factor(g_per_mwh: u64) -> EmissionFactor {
    EmissionFactor {
        zone: ZONE.into(),
        valid_from_ms: 0,
        valid_to_ms: i64::MAX,
        kind: FactorKind::CombinedMargin,
        source: "test factor".into(),
        version: "t1".into(),
        g_per_mwh,
    }
}

pub fn trade(id: u64, seller: u64, buyer: u64, qty_wh: u64, price: i64) -> TradeInput {
    TradeInput {
        trade_id: id,
        seller: AccountId(seller),
        buyer: AccountId(buyer),
        qty_wh,
        price_micro_per_kwh: price,
    }
}

pub fn meter(account: u64, export: u64, import: u64) -> MeterInput {
    MeterInput {
        account: AccountId(account),
        verified_export_wh: export,
        metered_import_wh: import,
        reading_range: Some((10, 12)),
        quality: QualityCounts {
            verified: 3,
            ..QualityCounts::default()
        },
    }
}

pub fn inputs(
    trades: Vec<TradeInput>,
    meters: Vec<MeterInput>,
    imbalance_price: i64,
) -> SlotInputs {
    SlotInputs {
        zone: ZONE.into(),
        slot_start_ms: SLOT,
        slot_len_ms: SLOT_LEN,
        trades,
        meters,
        imbalance_price_micro_per_kwh: imbalance_price,
        emission_factor: factor(500_000),
    }
}

pub fn cur(id: u64) -> Account {
    Account::participant(AccountId(id), LedgerId::Currency)
}

pub fn deposit(ledger: &mut Ledger, id: u64, amount: u128) {
    let t = Transfer {
        id: TransferId(u128::from(id) << 64 | 0xde9),
        debit: Account::new(Owner::Issuance, LedgerId::Currency),
        credit: cur(id),
        amount,
        kind: TransferKind::Posted,
        code: Code::Deposit,
        refs: References::default(),
    };
    ledger.apply(&t).expect("deposit");
}

/// Funds every participant and opens the escrows, as the platform does at trade time.
pub fn prepare(ledger: &mut Ledger, inputs: &SlotInputs, funds: u128) {
    let mut ids: Vec<u64> = inputs
        .trades
        .iter()
        .flat_map(|t| [t.seller.0, t.buyer.0])
        .chain(inputs.meters.iter().map(|m| m.account.0))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        if funds > 0 {
            deposit(ledger, id, funds);
        }
    }
    for t in &inputs.trades {
        if let Some(escrow) = escrow_for_trade(&inputs.zone, inputs.slot_start_ms, t) {
            ledger.apply(&escrow).expect("escrow");
        }
    }
}

pub fn config() -> SettlementConfig {
    SettlementConfig::default()
}

fn name(a: &Account) -> String {
    let ledger = match a.ledger {
        LedgerId::Currency => "cur",
        LedgerId::Carbon => "co2",
        LedgerId::Reward => "rwd",
    };
    match a.owner {
        Owner::Participant(AccountId(n)) => format!("p{n}:{ledger}"),
        Owner::Issuance => format!("issuance:{ledger}"),
        Owner::Escrow => format!("escrow:{ledger}"),
        Owner::Rounding => format!("rounding:{ledger}"),
        Owner::Imbalance => format!("grid:{ledger}"),
    }
}

/// A transfer written out for a hand-worked example: (kind, debit, credit, amount).
pub fn written_out(run: &SettlementRun) -> Vec<(&'static str, String, String, u128)> {
    run.transfers
        .iter()
        .map(|t| {
            let kind = match t.kind {
                TransferKind::Posted => "post",
                TransferKind::BalancingDebit => "balancing",
                TransferKind::Pending => "pending",
                TransferKind::PostPending { .. } => "post-pending",
                TransferKind::VoidPending { .. } => "void-pending",
            };
            (kind, name(&t.debit), name(&t.credit), t.amount)
        })
        .collect()
}

pub fn w(
    kind: &'static str,
    debit: &str,
    credit: &str,
    amount: u128,
) -> (&'static str, String, String, u128) {
    (kind, debit.to_string(), credit.to_string(), amount)
}
