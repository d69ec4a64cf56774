//! The settlement crate's one error type.
//!
//! Every fallible function in the crate returns [`SettlementError`]; the variants are grouped
//! by the area that raises them. The one wrapper is [`crate::ledger::BatchError`], which adds
//! the index of the failing transfer to the [`SettlementError`] that stopped a batch.

use thiserror::Error;

use crate::ledger::{Account, AccountId, TransferId};

/// What was wrong with an input to the settlement core, and what to do about it.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum SettlementError {
    // ── Sites, verification config and review (`solar`, `verify`) ──
    /// A site's latitude is not a WGS84 latitude.
    #[error(
        "latitude {0} is outside -90..=90 degrees; pass WGS84 decimal degrees, north positive"
    )]
    InvalidLatitude(f64),
    /// A site's longitude is not a WGS84 longitude.
    #[error(
        "longitude {0} is outside -180..=180 degrees; pass WGS84 decimal degrees, east positive"
    )]
    InvalidLongitude(f64),
    /// A verification parameter is out of range; the text names the parameter and the bound.
    #[error("invalid verification config: {0}")]
    InvalidConfig(&'static str),
    /// A reading's interval ends at or before its start.
    #[error(
        "interval {start_ms}..{end_ms} ms is empty or reversed; the end must be after the start"
    )]
    EmptyInterval { start_ms: i64, end_ms: i64 },
    /// A reading's interval covers more slots than one reading may.
    #[error("interval spans {slots} delivery slots, more than the {max} one reading may cover; check the device clock or split the data")]
    IntervalTooLong { slots: i64, max: i64 },
    /// An operator decision was applied to a verdict that is not awaiting review.
    #[error("only a flagged reading can be released or rejected; this one is already {0}")]
    NotFlagged(&'static str),

    // ── Slot settlement inputs (`allocation`) ──
    /// The same trade id appears twice in one slot's inputs.
    #[error("trade {0} appears twice in the slot's inputs; pass each trade once")]
    DuplicateTrade(u64),
    /// A trade's seller is also its buyer.
    #[error("trade {0} has the same seller and buyer; the exchange must prevent self-trades")]
    SelfTrade(u64),
    /// A participant has more than one meter entry in a slot.
    #[error("participant {0} has two meter entries; sum a participant's meters into one entry")]
    DuplicateMeter(AccountId),
    /// The slot length is zero or negative.
    #[error("slot length must be positive, got {0} ms; pass the exchange calendar's slot length")]
    BadSlotLength(i64),
    /// The emission factor passed in does not cover the slot's zone and start.
    #[error("emission factor is for zone {factor_zone} valid [{from}, {to}) but the slot is zone {zone} at {slot}; look up the factor for this slot")]
    FactorMismatch {
        factor_zone: String,
        from: i64,
        to: i64,
        zone: String,
        slot: i64,
    },
    /// The run version does not fit the prior run passed in (or its absence).
    #[error("run version {version} is invalid: {reason}")]
    RunVersion { version: u32, reason: &'static str },
    /// A reconciliation run's trades differ from the run it reconciles.
    #[error("reconciliation inputs differ from the earlier run in trade {0}; trades are fixed at gate closure, only readings may change")]
    TradesChanged(u64),
    /// Summing a slot's energy or money overflowed 64 bits.
    #[error("amounts overflow 64-bit totals in this slot; check the slot's quantities and prices for corrupt values")]
    SlotOverflow,

    // ── Emission factors (`carbon`) ──
    /// A line of the emission factor CSV could not be parsed; `message` says which field.
    #[error("emission factor CSV line {line}: {message}")]
    FactorCsv { line: usize, message: String },
    /// Two CSV rows for the same zone and kind have overlapping validity windows.
    #[error("emission factor CSV line {line}: zone {zone} {kind} overlaps an earlier row; give each (zone, kind) disjoint validity windows")]
    FactorOverlap {
        line: usize,
        zone: String,
        kind: &'static str,
    },
    /// The factor table has no row for this zone, kind and time.
    #[error("no {kind} emission factor for zone {zone} at {at_ms} ms; import a table that covers this interval")]
    NoFactor {
        zone: String,
        kind: &'static str,
        at_ms: i64,
    },

    // ── Ledger transfers (`ledger`) ──
    /// A transfer id was already applied with different content.
    #[error("transfer {id} reuses an id already applied with different content; derive a fresh id for a different transfer")]
    IdConflict { id: TransferId },
    /// A transfer's two accounts are on different ledgers.
    #[error("transfer {id} moves between the {debit} and {credit} ledgers; a transfer stays on one ledger")]
    LedgerMismatch {
        id: TransferId,
        debit: &'static str,
        credit: &'static str,
    },
    /// A transfer debits and credits one account.
    #[error("transfer {id} debits and credits the same account; name two different accounts")]
    SameAccount { id: TransferId },
    /// A transfer other than a void has amount zero.
    #[error("transfer {id} has amount zero; only a void may carry zero")]
    ZeroAmount { id: TransferId },
    /// The debit account of a transfer cannot cover it.
    #[error("transfer {id} needs {needed} from {account:?} which has {available} available; fund the account first")]
    InsufficientFunds {
        id: TransferId,
        account: Account,
        available: u128,
        needed: u128,
    },
    /// A post or void names a pending transfer that is unknown or not pending.
    #[error("transfer {id} refers to pending transfer {pending_id} which does not exist or is not pending")]
    PendingNotFound {
        id: TransferId,
        pending_id: TransferId,
    },
    /// A pending transfer was already posted or voided.
    #[error("pending transfer {pending_id} was already {state}; a pending transfer resolves exactly once")]
    PendingAlreadyResolved {
        pending_id: TransferId,
        state: &'static str,
    },
    /// A post moves more than its pending transfer reserved.
    #[error("transfer {id} posts {amount} but pending transfer {pending_id} reserved only {pending_amount}")]
    PostExceedsPending {
        id: TransferId,
        pending_id: TransferId,
        amount: u128,
        pending_amount: u128,
    },
    /// A post or void names accounts other than its pending transfer's.
    #[error("transfer {id} names accounts other than those of pending transfer {pending_id}")]
    PendingAccountsMismatch {
        id: TransferId,
        pending_id: TransferId,
    },
    /// Applying a transfer would overflow an account's 128-bit totals.
    #[error("transfer {id} would overflow an account's 128-bit totals")]
    TransferOverflow { id: TransferId },
    /// [`crate::ledger::Ledger::check_invariants`] found balances that break double entry.
    #[error("ledger invariant broken: {0}")]
    LedgerInvariant(String),

    // ── Transparency log: trees, proofs, checkpoints, exports (`merkle`) ──
    /// A leaf index or tree size is beyond the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency check was asked from a larger size to a smaller one.
    #[error("tree size {size2} is smaller than {size1}: a log never shrinks")]
    SizeDecreased { size1: u64, size2: u64 },
    /// A proof has the wrong number of hashes for its index and size.
    #[error("proof has {actual} hashes, expected {expected}: it is for another index or size")]
    ProofLength { expected: usize, actual: usize },
    /// A proof does not lead to the root it should.
    #[error("proof does not lead to the expected root: the leaf or the proof was altered")]
    RootMismatch,
    /// Checkpoint text does not follow the checkpoint format; the text says which part.
    #[error("checkpoint text is malformed: {0}")]
    CheckpointFormat(String),
    /// A checkpoint's signature does not verify.
    #[error("checkpoint signature does not verify with the platform key: the checkpoint was altered or signed by another key")]
    BadSignature,
    /// A log signing key could not be built from its seed.
    #[error("signing key rejected: {0}")]
    BadSigningKey(&'static str),
    /// A checkpoint names another log.
    #[error("checkpoint is for log `{actual}`, expected `{expected}`")]
    WrongOrigin { expected: String, actual: String },
    /// An export's leaf count differs from its checkpoint's size.
    #[error(
        "export has {leaves} leaves but the checkpoint says {size}: leaves were added or removed"
    )]
    SizeMismatch { leaves: u64, size: u64 },
    /// An export's leaves do not hash to its checkpoint's root.
    #[error("leaves hash to root {computed} but the checkpoint says {claimed}: a leaf was changed, removed or reordered")]
    CheckpointRootMismatch { computed: String, claimed: String },
    /// An earlier checkpoint is not a prefix of the exported log.
    #[error(
        "the earlier checkpoint (size {size}) is not a prefix of this log: history was rewritten"
    )]
    Inconsistent { size: u64 },
    /// A log leaf is not a canonical record.
    #[error("leaf {index} is not a valid record: {reason}")]
    BadLeaf { index: u64, reason: String },
}
