//! The ledger state machine: deterministic (BTreeMap), in memory; the platform persists the
//! transfers and rebuilds this state by replaying them.

use std::collections::BTreeMap;

use super::{Account, LedgerId, Transfer, TransferId, TransferKind};
use crate::SettlementError;

/// An account's four running totals, TigerBeetle-style.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balance {
    pub debits_pending: u128,
    pub debits_posted: u128,
    pub credits_pending: u128,
    pub credits_posted: u128,
}

impl Balance {
    /// `credits_posted − debits_posted`, saturating at the i128 range.
    pub fn net(&self) -> i128 {
        let credits = i128::try_from(self.credits_posted).unwrap_or(i128::MAX);
        let debits = i128::try_from(self.debits_posted).unwrap_or(i128::MAX);
        credits.saturating_sub(debits)
    }

    /// What can still be debited without going below zero (pending debits are reserved).
    pub fn available(&self) -> u128 {
        self.credits_posted
            .saturating_sub(self.debits_posted)
            .saturating_sub(self.debits_pending)
    }
}

/// The outcome of applying one transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The transfer was new; `moved` is what changed hands (less than the amount only for a
    /// capped [`TransferKind::BalancingDebit`], zero for a void).
    Applied { moved: u128 },
    /// The identical transfer was applied before; nothing changed.
    AlreadyApplied { moved: u128 },
}

/// A batch failed at `index`; every earlier transfer of the batch was rolled back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("transfer #{index} of the batch failed and the batch was rolled back: {error}")]
pub struct BatchError {
    pub index: usize,
    pub error: SettlementError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PendingState {
    Open,
    Posted,
    Voided,
}

/// What is needed to take one applied transfer back (only inside a failing batch).
struct Undo {
    id: TransferId,
    accounts: [(Account, Option<Balance>); 2],
    pending: Option<(TransferId, Option<PendingState>)>,
}

#[derive(Debug, Clone, Default)]
pub struct Ledger {
    accounts: BTreeMap<Account, Balance>,
    transfers: BTreeMap<TransferId, (Transfer, u128)>,
    pending: BTreeMap<TransferId, PendingState>,
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn balance(&self, account: &Account) -> Balance {
        self.accounts.get(account).copied().unwrap_or_default()
    }

    pub fn accounts(&self) -> impl Iterator<Item = (&Account, &Balance)> {
        self.accounts.iter()
    }

    pub fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        self.transfers.get(&id).map(|(t, _)| t)
    }

    pub fn transfer_count(&self) -> usize {
        self.transfers.len()
    }

    /// Applies one transfer. A transfer id seen before with identical content is a no-op;
    /// with different content it is [`SettlementError::IdConflict`].
    pub fn apply(&mut self, transfer: &Transfer) -> Result<Applied, SettlementError> {
        self.apply_inner(transfer).map(|(applied, _)| applied)
    }

    /// Applies transfers in order, all or nothing.
    pub fn apply_batch(&mut self, transfers: &[Transfer]) -> Result<Vec<Applied>, BatchError> {
        let mut undos = Vec::new();
        let mut outcomes = Vec::with_capacity(transfers.len());
        for (index, transfer) in transfers.iter().enumerate() {
            match self.apply_inner(transfer) {
                Ok((applied, undo)) => {
                    outcomes.push(applied);
                    undos.extend(undo);
                }
                Err(error) => {
                    for undo in undos.into_iter().rev() {
                        self.revert(undo);
                    }
                    return Err(BatchError { index, error });
                }
            }
        }
        Ok(outcomes)
    }

    fn revert(&mut self, undo: Undo) {
        self.transfers.remove(&undo.id);
        for (account, before) in undo.accounts {
            match before {
                Some(balance) => self.accounts.insert(account, balance),
                None => self.accounts.remove(&account),
            };
        }
        if let Some((pending_id, before)) = undo.pending {
            match before {
                Some(state) => self.pending.insert(pending_id, state),
                None => self.pending.remove(&pending_id),
            };
        }
    }

    fn apply_inner(&mut self, t: &Transfer) -> Result<(Applied, Option<Undo>), SettlementError> {
        if let Some((existing, moved)) = self.transfers.get(&t.id) {
            return if existing == t {
                Ok((Applied::AlreadyApplied { moved: *moved }, None))
            } else {
                Err(SettlementError::IdConflict { id: t.id })
            };
        }
        let id = t.id;
        if t.debit.ledger != t.credit.ledger {
            return Err(SettlementError::LedgerMismatch {
                id,
                debit: t.debit.ledger.name(),
                credit: t.credit.ledger.name(),
            });
        }
        if t.debit == t.credit {
            return Err(SettlementError::SameAccount { id });
        }
        let mut debit = self.balance(&t.debit);
        let mut credit = self.balance(&t.credit);
        let undo_accounts = [
            (t.debit, self.accounts.get(&t.debit).copied()),
            (t.credit, self.accounts.get(&t.credit).copied()),
        ];
        let overflow = || SettlementError::TransferOverflow { id };
        let add = |a: u128, b: u128| a.checked_add(b).ok_or_else(overflow);
        let unbounded = t.debit.owner.may_go_negative();
        let mut pending_change = None;
        let moved = match t.kind {
            TransferKind::Posted | TransferKind::Pending => {
                if t.amount == 0 {
                    return Err(SettlementError::ZeroAmount { id });
                }
                if !unbounded && debit.available() < t.amount {
                    return Err(SettlementError::InsufficientFunds {
                        id,
                        account: t.debit,
                        available: debit.available(),
                        needed: t.amount,
                    });
                }
                if t.kind == TransferKind::Pending {
                    debit.debits_pending = add(debit.debits_pending, t.amount)?;
                    credit.credits_pending = add(credit.credits_pending, t.amount)?;
                    pending_change = Some((id, PendingState::Open));
                } else {
                    debit.debits_posted = add(debit.debits_posted, t.amount)?;
                    credit.credits_posted = add(credit.credits_posted, t.amount)?;
                }
                t.amount
            }
            TransferKind::BalancingDebit => {
                if t.amount == 0 {
                    return Err(SettlementError::ZeroAmount { id });
                }
                let moved = if unbounded {
                    t.amount
                } else {
                    t.amount.min(debit.available())
                };
                debit.debits_posted = add(debit.debits_posted, moved)?;
                credit.credits_posted = add(credit.credits_posted, moved)?;
                moved
            }
            TransferKind::PostPending { pending_id } | TransferKind::VoidPending { pending_id } => {
                let pending = self.open_pending(t, pending_id)?;
                let is_post = matches!(t.kind, TransferKind::PostPending { .. });
                if is_post && t.amount == 0 {
                    return Err(SettlementError::ZeroAmount { id });
                }
                if t.amount > pending.amount {
                    return Err(SettlementError::PostExceedsPending {
                        id,
                        pending_id,
                        amount: t.amount,
                        pending_amount: pending.amount,
                    });
                }
                // Both accounts reserved exactly the pending amount when it was created.
                debit.debits_pending = debit.debits_pending.saturating_sub(pending.amount);
                credit.credits_pending = credit.credits_pending.saturating_sub(pending.amount);
                if is_post {
                    debit.debits_posted = add(debit.debits_posted, t.amount)?;
                    credit.credits_posted = add(credit.credits_posted, t.amount)?;
                    pending_change = Some((pending_id, PendingState::Posted));
                    t.amount
                } else {
                    pending_change = Some((pending_id, PendingState::Voided));
                    0
                }
            }
        };
        let undo = Undo {
            id,
            accounts: undo_accounts,
            pending: pending_change.map(|(pid, _)| (pid, self.pending.get(&pid).copied())),
        };
        self.accounts.insert(t.debit, debit);
        self.accounts.insert(t.credit, credit);
        if let Some((pid, state)) = pending_change {
            self.pending.insert(pid, state);
        }
        self.transfers.insert(id, (t.clone(), moved));
        Ok((Applied::Applied { moved }, Some(undo)))
    }

    fn open_pending(
        &self,
        t: &Transfer,
        pending_id: TransferId,
    ) -> Result<&Transfer, SettlementError> {
        let not_found = SettlementError::PendingNotFound {
            id: t.id,
            pending_id,
        };
        let Some((pending, _)) = self.transfers.get(&pending_id) else {
            return Err(not_found);
        };
        if pending.kind != TransferKind::Pending {
            return Err(not_found);
        }
        match self.pending.get(&pending_id) {
            Some(PendingState::Open) => {}
            Some(PendingState::Posted) => {
                return Err(SettlementError::PendingAlreadyResolved {
                    pending_id,
                    state: "posted",
                })
            }
            Some(PendingState::Voided) => {
                return Err(SettlementError::PendingAlreadyResolved {
                    pending_id,
                    state: "voided",
                })
            }
            None => return Err(not_found),
        }
        if pending.debit != t.debit || pending.credit != t.credit {
            return Err(SettlementError::PendingAccountsMismatch {
                id: t.id,
                pending_id,
            });
        }
        Ok(pending)
    }

    /// Whether a pending transfer is still open (neither posted nor voided).
    pub fn is_pending_open(&self, pending_id: TransferId) -> bool {
        self.pending.get(&pending_id) == Some(&PendingState::Open)
    }

    /// Checks, per ledger, that the balances sum to zero (posted and pending), and that no
    /// account outside the issuance class is below zero. Settlement runs call this after
    /// applying; a property test calls it after every step.
    pub fn check_invariants(&self) -> Result<(), SettlementError> {
        // Per ledger: debits posted, credits posted, debits pending, credits pending.
        let mut totals = [[0u128; 4]; LedgerId::ALL.len()];
        for (account, balance) in &self.accounts {
            let slot = LedgerId::ALL
                .iter()
                .position(|l| *l == account.ledger)
                .unwrap_or(0);
            let parts = [
                balance.debits_posted,
                balance.credits_posted,
                balance.debits_pending,
                balance.credits_pending,
            ];
            for (total, part) in totals[slot].iter_mut().zip(parts) {
                *total = total.checked_add(part).ok_or_else(|| {
                    SettlementError::LedgerInvariant(format!(
                        "{} ledger totals overflow",
                        account.ledger.name()
                    ))
                })?;
            }
            if !account.owner.may_go_negative()
                && balance.credits_posted
                    < balance.debits_posted.saturating_add(balance.debits_pending)
            {
                return Err(SettlementError::LedgerInvariant(format!(
                    "{account:?} is below zero: credits {} < debits {} + pending {}",
                    balance.credits_posted, balance.debits_posted, balance.debits_pending
                )));
            }
        }
        for (ledger, [debits, credits, dp, cp]) in LedgerId::ALL.iter().zip(totals) {
            if debits != credits || dp != cp {
                return Err(SettlementError::LedgerInvariant(format!(
                    "{} ledger does not sum to zero: debits {debits} credits {credits}, pending {dp}/{cp}",
                    ledger.name()
                )));
            }
        }
        Ok(())
    }
}
