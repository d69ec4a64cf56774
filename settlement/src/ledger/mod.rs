//! The double-entry ledger, modelled on TigerBeetle: accounts per (owner, ledger), immutable
//! transfers with ids, codes and references, two-phase (pending → post/void) escrow, and
//! idempotency by transfer id.
//!
//! Balances are credit-normal: an account's balance is `credits_posted − debits_posted`.
//! Only issuance-class accounts ([`Owner::Issuance`], [`Owner::Imbalance`]) may go negative;
//! they stand for the world outside the platform (minting, deposits, the grid operator).
//! Every transfer debits one account and credits another on the same ledger, so per ledger
//! the balances always sum to zero; [`Ledger::check_invariants`] proves it on demand.

mod book;
mod ids;

use std::fmt;

pub use book::{Applied, Balance, BatchError, Ledger};
pub use ids::{derive_transfer_id, Purpose};

/// A participant of the platform (a solar owner or a neighbour), as the platform numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One asset; amounts on a ledger are integers in its base unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum LedgerId {
    /// Money in micro-units of the platform currency.
    Currency = 1,
    /// Carbon credits in grams CO2e (1 credit = 1 t = 1,000,000 g).
    Carbon = 3,
    /// Reward tokens in base units.
    Reward = 4,
}

impl LedgerId {
    pub const ALL: [LedgerId; 3] = [LedgerId::Currency, LedgerId::Carbon, LedgerId::Reward];

    pub fn name(self) -> &'static str {
        match self {
            LedgerId::Currency => "currency",
            LedgerId::Carbon => "carbon",
            LedgerId::Reward => "reward",
        }
    }
}

/// Who holds an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    Participant(AccountId),
    /// The source of all supply on a ledger (mints, deposits); its negative balance is the
    /// total supply, so supply is always auditable.
    Issuance,
    /// Holds trade escrow between trade time and settlement.
    Escrow,
    /// Receives the remainders when a total is split into integer parts.
    Rounding,
    /// The counterparty of imbalance charges (the grid operator / balancing party).
    Imbalance,
}

impl Owner {
    /// Issuance-class accounts stand for the outside world and may go negative.
    pub fn may_go_negative(self) -> bool {
        matches!(self, Owner::Issuance | Owner::Imbalance)
    }
}

/// An account is identified by its owner and its ledger; it exists from its first transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Account {
    pub owner: Owner,
    pub ledger: LedgerId,
}

impl Account {
    pub const fn new(owner: Owner, ledger: LedgerId) -> Self {
        Self { owner, ledger }
    }

    pub const fn participant(id: AccountId, ledger: LedgerId) -> Self {
        Self::new(Owner::Participant(id), ledger)
    }
}

/// A transfer id: the idempotency key. Derived deterministically by settlement
/// ([`derive_transfer_id`]) so a re-run produces the same ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(pub u128);

impl TransferId {
    /// 32 lowercase hex digits, big-endian: the form used in reports and log leaves.
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Why a transfer happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum Code {
    /// Money entering from outside (a top-up).
    Deposit = 1,
    /// A payer's trade escrow (pending, then posted or voided).
    Escrow = 10,
    /// Escrowed money released to the payee for delivered energy.
    TradePayment = 11,
    /// An imbalance charge or payment for a shortfall.
    Imbalance = 12,
    CarbonMint = 20,
    RewardMint = 21,
    /// The remainder of a split total.
    Rounding = 30,
    /// A reconciliation run's adjustment of an earlier run.
    Correction = 40,
}

/// What a transfer refers to in the real world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct References {
    /// Start of the delivery slot (UTC ms), or of the reward epoch.
    pub slot_start_ms: i64,
    pub trade_id: Option<u64>,
    /// First and last sequence number of the readings behind the amount.
    pub reading_range: Option<(u64, u64)>,
    /// The settlement run that produced the transfer (0 = created at trade time).
    pub run_version: u32,
}

/// How a transfer acts on balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    /// Moves `amount` now.
    Posted,
    /// Moves up to `amount` now, capped at what the debit account holds (TigerBeetle's
    /// `balancing_debit`); used for charges that must never make a settlement run fail.
    BalancingDebit,
    /// Reserves `amount` on both accounts until posted or voided.
    Pending,
    /// Posts `amount` (≤ the pending amount) of a pending transfer; the rest returns.
    PostPending { pending_id: TransferId },
    /// Releases a pending transfer entirely.
    VoidPending { pending_id: TransferId },
}

/// An immutable movement of `amount` base units from `debit` to `credit` on one ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub debit: Account,
    pub credit: Account,
    pub amount: u128,
    pub kind: TransferKind,
    pub code: Code,
    pub refs: References,
}
