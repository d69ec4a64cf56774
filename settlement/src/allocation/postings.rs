//! The transfers of a run: escrow posts and voids, payments, imbalance charges and carbon
//! mints, or for a reconciliation only the corrections against the earlier run.

use super::escrow::{escrow_transfer_id, payer_and_payee};
use super::run::{prior_charge, signed, Role, SettlementRun};
use crate::ledger::{
    derive_transfer_id, Account, AccountId, Code, LedgerId, Owner, Purpose, References, Transfer,
    TransferId, TransferKind,
};

/// Builds transfers for one run. Everything derives from (zone, slot, version, entity,
/// purpose), so the same run always yields the same ids.
struct Emitter<'a> {
    zone: &'a str,
    slot: i64,
    version: u32,
    out: Vec<Transfer>,
}

impl Emitter<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        purpose: Purpose,
        entity: u64,
        debit: Account,
        credit: Account,
        amount: u128,
        kind: TransferKind,
        code: Code,
        trade_id: Option<u64>,
        reading_range: Option<(u64, u64)>,
    ) -> TransferId {
        let id = derive_transfer_id(purpose, self.zone, self.slot, self.version, entity);
        self.out.push(Transfer {
            id,
            debit,
            credit,
            amount,
            kind,
            code,
            refs: References {
                slot_start_ms: self.slot,
                trade_id,
                reading_range,
                run_version: self.version,
            },
        });
        id
    }

    /// Moves a signed `delta` between `party` and an issuance-class `house` account: positive
    /// from party to house (capped at the party's funds), negative from house to party.
    #[allow(clippy::too_many_arguments)]
    fn signed_move(
        &mut self,
        purpose: Purpose,
        entity: u64,
        party: Account,
        house: Account,
        delta: i128,
        code: Code,
        reading_range: Option<(u64, u64)>,
    ) -> Option<TransferId> {
        let amount = delta.unsigned_abs();
        if amount == 0 {
            return None;
        }
        // The house side (imbalance, issuance) may go negative, so only the party's debit
        // needs capping.
        let (debit, credit, kind) = if delta > 0 {
            (party, house, TransferKind::BalancingDebit)
        } else {
            (house, party, TransferKind::Posted)
        };
        Some(self.push(
            purpose,
            entity,
            debit,
            credit,
            amount,
            kind,
            code,
            None,
            reading_range,
        ))
    }
}

pub(super) fn build_transfers(run: &mut SettlementRun, prior: Option<&SettlementRun>) {
    let initial = prior.is_none();
    let mut e = Emitter {
        zone: &run.zone,
        slot: run.slot_start_ms,
        version: run.run_version,
        out: Vec::with_capacity(run.deliveries.len() * 2 + run.mints.len() + 8),
    };
    let money = |a: AccountId| Account::participant(a, LedgerId::Currency);
    let escrow = Account::new(Owner::Escrow, LedgerId::Currency);
    for (i, d) in run.deliveries.iter().enumerate() {
        let t = &d.trade;
        if initial {
            if d.escrow_micro == 0 {
                continue;
            }
            let (payer, payee) = payer_and_payee(t);
            let pending_id = escrow_transfer_id(e.zone, e.slot, t.trade_id);
            let amount = d.paid_micro.unsigned_abs();
            if amount > 0 {
                let post = TransferKind::PostPending { pending_id };
                e.push(
                    Purpose::EscrowPost,
                    t.trade_id,
                    money(payer),
                    escrow,
                    amount,
                    post,
                    Code::Escrow,
                    Some(t.trade_id),
                    None,
                );
                e.push(
                    Purpose::Payment,
                    t.trade_id,
                    escrow,
                    money(payee),
                    amount,
                    TransferKind::Posted,
                    Code::TradePayment,
                    Some(t.trade_id),
                    None,
                );
            } else {
                let void = TransferKind::VoidPending { pending_id };
                e.push(
                    Purpose::EscrowVoid,
                    t.trade_id,
                    money(payer),
                    escrow,
                    d.escrow_micro,
                    void,
                    Code::Escrow,
                    Some(t.trade_id),
                    None,
                );
            }
        } else if let Some(old) = prior.and_then(|p| p.deliveries.get(i)) {
            let delta = d.paid_micro - old.paid_micro;
            let (from, to) = if delta > 0 {
                (t.buyer, t.seller)
            } else {
                (t.seller, t.buyer)
            };
            if delta != 0 {
                e.push(
                    Purpose::PaymentCorrection,
                    t.trade_id,
                    money(from),
                    money(to),
                    delta.unsigned_abs(),
                    TransferKind::BalancingDebit,
                    Code::Correction,
                    Some(t.trade_id),
                    None,
                );
            }
        }
    }
    let grid = Account::new(Owner::Imbalance, LedgerId::Currency);
    for imb in &run.imbalances {
        let before = prior.map_or(0, |p| prior_charge(p, imb.account, imb.role));
        let (purpose, code) = match (imb.role, initial) {
            (Role::Seller, true) => (Purpose::SellerImbalance, Code::Imbalance),
            (Role::Buyer, true) => (Purpose::BuyerImbalance, Code::Imbalance),
            (Role::Seller, false) => (Purpose::SellerImbalanceCorrection, Code::Correction),
            (Role::Buyer, false) => (Purpose::BuyerImbalanceCorrection, Code::Correction),
        };
        e.signed_move(
            purpose,
            imb.account.0,
            money(imb.account),
            grid,
            imb.charge_micro - before,
            code,
            None,
        );
    }
    // Trades are identical across runs (checked), so every party of the earlier run is
    // visited above and a vanished charge is refunded by its zero-shortfall entry.
    let issuance = Account::new(Owner::Issuance, LedgerId::Carbon);
    for m in &mut run.mints {
        let (purpose, code) = if initial {
            (Purpose::CarbonMint, Code::CarbonMint)
        } else {
            (Purpose::CarbonCorrection, Code::Correction)
        };
        let holder = Account::participant(m.account, LedgerId::Carbon);
        // Minting is a negative charge of the holder against issuance.
        m.transfer_id = e.signed_move(
            purpose,
            m.account.0,
            holder,
            issuance,
            -m.minted_g,
            code,
            m.reading_range,
        );
    }
    let before = prior.map_or(0, |p| p.carbon_rounding_g);
    let purpose = if initial {
        Purpose::CarbonRounding
    } else {
        Purpose::CarbonRoundingCorrection
    };
    let code = if initial {
        Code::Rounding
    } else {
        Code::Correction
    };
    let rounding = Account::new(Owner::Rounding, LedgerId::Carbon);
    e.signed_move(
        purpose,
        0,
        rounding,
        issuance,
        signed(before) - signed(run.carbon_rounding_g),
        code,
        None,
    );
    run.transfers = e.out;
}
