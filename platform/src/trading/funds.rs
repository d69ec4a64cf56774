//! The trading engine's buying power follows the settlement ledger.
//!
//! The ledger (`settlement::ledger`, persisted by `settle/`) is the money of record; the
//! engine needs, per account, how much it may still commit to new buys. That figure is the
//! ledger's available currency (posted balance minus pending debits) minus the escrow of
//! trades settlement has not recorded yet, and it is kept in the journal so a replay reaches
//! the same decisions:
//! - a trade takes its escrow from the payer in the engine at once (`Ledger::apply`);
//! - every other change to available currency (deposits, settled sales, escrow returned for
//!   undelivered energy, imbalance charges) reaches the engine as a `LedgerSync` journal
//!   entry built here from the ledger's transfer rows after the last synced row.
//!
//! The escrow pending transfers settlement creates for the engine's trades are skipped here:
//! the engine took that money when the trade happened. Money therefore only ever shows up in
//! the engine after the ledger has it, never before.

use std::collections::BTreeMap;

use settlement::ledger::{Code, LedgerId, Owner, TransferId, TransferKind};

use super::engine_host::{EngineHost, Request};
use crate::error::{PlatformError, Result};
use crate::store::{Store, StoredTransfer};

/// Transfer rows read per sync round.
const SYNC_CHUNK: i64 = 10_000;

/// What `transfers` did to participants' available currency, per platform account id.
/// `pending_amount` gives the amount of the pending transfer a post or void resolves.
pub fn currency_effects(
    transfers: &[StoredTransfer],
    pending_amount: impl Fn(TransferId) -> Option<u128>,
) -> Result<BTreeMap<u64, i128>> {
    let mut deltas: BTreeMap<u64, i128> = BTreeMap::new();
    let mut add = |owner: Owner, amount: i128| {
        if let Owner::Participant(id) = owner {
            if amount != 0 {
                *deltas.entry(id.0).or_insert(0) += amount;
            }
        }
    };
    let signed = |v: u128| i128::try_from(v).unwrap_or(i128::MAX);
    for stored in transfers {
        let t = &stored.transfer;
        if t.debit.ledger != LedgerId::Currency {
            continue;
        }
        let moved = signed(stored.moved);
        match t.kind {
            TransferKind::Posted | TransferKind::BalancingDebit => {
                add(t.debit.owner, -moved);
                add(t.credit.owner, moved);
            }
            TransferKind::Pending => {
                // A trade's escrow was taken by the engine when the trade happened.
                if t.code != Code::Escrow {
                    add(t.debit.owner, -signed(t.amount));
                }
            }
            TransferKind::PostPending { pending_id } | TransferKind::VoidPending { pending_id } => {
                let reserved =
                    pending_amount(pending_id).ok_or_else(|| PlatformError::CorruptRow {
                        table: "ledger_transfers",
                        key: t.id.to_hex(),
                        reason: format!(
                            "it resolves pending transfer {}, which is not stored",
                            pending_id.to_hex()
                        ),
                    })?;
                add(t.debit.owner, signed(reserved) - moved);
                add(t.credit.owner, moved);
            }
        }
    }
    Ok(deltas)
}

/// Brings the engine's buying power up to date with the ledger: journals one `LedgerSync`
/// per chunk of new transfer rows, until no row is left. Returns the last row synced. Safe to
/// call from several places at once: a sync that does not continue exactly where the engine's
/// last one ended is ignored by the engine, and this loop then reads again from there.
pub async fn sync_funds(store: &Store, host: &EngineHost) -> Result<i64> {
    loop {
        let after = host.read()?.ledger.ledger_through;
        let reader = store.clone();
        let (transfers, pending) =
            actix_web::web::block(move || reader.currency_transfers_after(after, SYNC_CHUNK))
                .await
                .map_err(|e| PlatformError::TaskFailed(e.to_string()))??;
        let Some(through) = transfers.last().map(|t| t.seq) else {
            return Ok(after);
        };
        let deltas = currency_effects(&transfers, |id| pending.get(&id).copied())?;
        host.execute(Request::LedgerSync {
            after,
            through,
            deltas: deltas.into_iter().collect(),
        })
        .await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use settlement::ledger::{Account, AccountId, References, Transfer};

    fn row(
        seq: i64,
        kind: TransferKind,
        code: Code,
        debit: Owner,
        credit: Owner,
        amount: u128,
        moved: u128,
    ) -> StoredTransfer {
        StoredTransfer {
            seq,
            transfer: Transfer {
                id: TransferId(seq as u128),
                debit: Account::new(debit, LedgerId::Currency),
                credit: Account::new(credit, LedgerId::Currency),
                amount,
                kind,
                code,
                refs: References::default(),
            },
            moved,
        }
    }

    const A: Owner = Owner::Participant(AccountId(1));
    const B: Owner = Owner::Participant(AccountId(2));

    #[test]
    fn deposits_settled_sales_refunds_and_charges_reach_the_engine() {
        let escrow = TransferId(2);
        let rows = vec![
            // deposit 1,000 to A
            row(
                1,
                TransferKind::Posted,
                Code::Deposit,
                Owner::Issuance,
                A,
                1_000,
                1_000,
            ),
            // A's escrow for a trade: already taken by the engine
            row(
                2,
                TransferKind::Pending,
                Code::Escrow,
                A,
                Owner::Escrow,
                300,
                300,
            ),
            // 200 of it delivered to B, 100 returns to A
            row(
                3,
                TransferKind::PostPending { pending_id: escrow },
                Code::TradePayment,
                A,
                Owner::Escrow,
                200,
                200,
            ),
            row(
                4,
                TransferKind::Posted,
                Code::TradePayment,
                Owner::Escrow,
                B,
                200,
                200,
            ),
            // B charged 50 for an imbalance, capped at what B has
            row(
                5,
                TransferKind::BalancingDebit,
                Code::Imbalance,
                B,
                Owner::Imbalance,
                80,
                50,
            ),
        ];
        let effects = currency_effects(&rows, |id| (id == escrow).then_some(300)).expect("effects");
        assert_eq!(effects.get(&1), Some(&1_100));
        assert_eq!(effects.get(&2), Some(&150));
    }

    #[test]
    fn a_voided_escrow_returns_whole_and_other_pendings_reserve() {
        let escrow = TransferId(1);
        let rows = vec![
            row(
                1,
                TransferKind::Pending,
                Code::Escrow,
                A,
                Owner::Escrow,
                300,
                300,
            ),
            row(
                2,
                TransferKind::VoidPending { pending_id: escrow },
                Code::TradePayment,
                A,
                Owner::Escrow,
                0,
                0,
            ),
            row(
                3,
                TransferKind::Pending,
                Code::Correction,
                B,
                Owner::Escrow,
                40,
                40,
            ),
        ];
        let effects = currency_effects(&rows, |id| (id == escrow).then_some(300)).expect("effects");
        assert_eq!(effects.get(&1), Some(&300));
        assert_eq!(effects.get(&2), Some(&-40));
    }

    #[test]
    fn other_ledgers_are_ignored_and_an_unknown_pending_is_an_error() {
        let mut carbon = row(
            1,
            TransferKind::Posted,
            Code::CarbonMint,
            Owner::Issuance,
            A,
            5,
            5,
        );
        carbon.transfer.debit.ledger = LedgerId::Carbon;
        carbon.transfer.credit.ledger = LedgerId::Carbon;
        assert!(currency_effects(&[carbon], |_| None)
            .expect("effects")
            .is_empty());
        let orphan = row(
            2,
            TransferKind::VoidPending {
                pending_id: TransferId(99),
            },
            Code::TradePayment,
            A,
            Owner::Escrow,
            0,
            0,
        );
        assert!(currency_effects(&[orphan], |_| None).is_err());
    }
}
