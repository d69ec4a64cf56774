//! The ledger tables: immutable transfers in applied order, and each account's running
//! totals. The ledger's rules live in `settlement::ledger`; this file only stores what the
//! in-memory [`settlement::ledger::Ledger`] decided, and reads it back for a replay.

use std::fmt::Write as _;

use diesel::prelude::*;
use settlement::ledger::{
    Account, AccountId, Balance, Code, LedgerId, Owner, References, Transfer, TransferId,
    TransferKind,
};

use super::bulk::{self, Value};
use super::connection::AnyConnection;
use super::schema::{ledger_balances, ledger_transfers};
use super::Store;
use crate::error::{PlatformError, Result};

/// SQLite accepts at most 32,766 bound parameters per statement; every batch insert is cut
/// into chunks of `MAX_BINDS / columns` rows.
pub(crate) const MAX_BINDS: usize = 32_000;

/// Rows per INSERT statement of transfers (PostgreSQL).
const TRANSFER_CHUNK: usize = 1_000;

const TRANSFER_COLUMNS: &str = "INSERT INTO ledger_transfers (id, ledger, debit_kind, debit_id, \
     credit_kind, credit_id, amount, moved, kind, pending_id, code, zone, slot_start_ms, \
     trade_id, reading_first, reading_last, run_version, created_at_ms) VALUES ";

/// An optional integer as SQL text.
pub(crate) fn sql_opt(v: Option<i64>) -> String {
    v.map_or_else(|| "NULL".to_owned(), |v| v.to_string())
}

/// Rows read per query when replaying the ledger.
const REPLAY_CHUNK: i64 = 50_000;

pub(crate) fn to_i64(what: &'static str, value: u128) -> Result<i64> {
    i64::try_from(value).map_err(|_| PlatformError::AmountTooLarge {
        what,
        value: value.to_string(),
    })
}

pub(crate) fn signed_to_i64(what: &'static str, value: i128) -> Result<i64> {
    i64::try_from(value).map_err(|_| PlatformError::AmountTooLarge {
        what,
        value: value.to_string(),
    })
}

pub(crate) fn id_to_i64(what: &'static str, value: u64) -> Result<i64> {
    to_i64(what, u128::from(value))
}

/// An account as two columns: the owner kind and the participant id (0 for house accounts).
pub(crate) fn owner_columns(owner: Owner) -> Result<(&'static str, i64)> {
    Ok(match owner {
        Owner::Participant(AccountId(id)) => ("participant", id_to_i64("account id", id)?),
        Owner::Issuance => ("issuance", 0),
        Owner::Escrow => ("escrow", 0),
        Owner::Rounding => ("rounding", 0),
        Owner::Imbalance => ("imbalance", 0),
    })
}

fn owner_from(kind: &str, id: i64) -> Option<Owner> {
    match kind {
        "participant" => u64::try_from(id)
            .ok()
            .map(|id| Owner::Participant(AccountId(id))),
        "issuance" => Some(Owner::Issuance),
        "escrow" => Some(Owner::Escrow),
        "rounding" => Some(Owner::Rounding),
        "imbalance" => Some(Owner::Imbalance),
        _ => None,
    }
}

pub(crate) fn ledger_from(n: i32) -> Option<LedgerId> {
    LedgerId::ALL.into_iter().find(|l| *l as i32 == n)
}

fn code_from(n: i32) -> Option<Code> {
    [
        Code::Deposit,
        Code::Escrow,
        Code::TradePayment,
        Code::Imbalance,
        Code::CarbonMint,
        Code::RewardMint,
        Code::Rounding,
        Code::Correction,
    ]
    .into_iter()
    .find(|c| *c as i32 == n)
}

pub(crate) fn parse_transfer_id(text: &str) -> Option<TransferId> {
    if text.len() != 32 {
        return None;
    }
    u128::from_str_radix(text, 16).ok().map(TransferId)
}

fn kind_columns(kind: TransferKind) -> (&'static str, Option<String>) {
    match kind {
        TransferKind::Posted => ("posted", None),
        TransferKind::BalancingDebit => ("balancing_debit", None),
        TransferKind::Pending => ("pending", None),
        TransferKind::PostPending { pending_id } => ("post_pending", Some(pending_id.to_hex())),
        TransferKind::VoidPending { pending_id } => ("void_pending", Some(pending_id.to_hex())),
    }
}

struct NewTransferRow {
    id: String,
    ledger: i32,
    debit_kind: &'static str,
    debit_id: i64,
    credit_kind: &'static str,
    credit_id: i64,
    amount: i64,
    moved: i64,
    kind: &'static str,
    pending_id: Option<String>,
    code: i32,
    slot_start_ms: i64,
    trade_id: Option<i64>,
    reading_first: Option<i64>,
    reading_last: Option<i64>,
    run_version: i32,
    created_at_ms: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = ledger_transfers)]
struct TransferRow {
    seq: i64,
    id: String,
    ledger: i32,
    debit_kind: String,
    debit_id: i64,
    credit_kind: String,
    credit_id: i64,
    amount: i64,
    moved: i64,
    kind: String,
    pending_id: Option<String>,
    code: i32,
    slot_start_ms: i64,
    trade_id: Option<i64>,
    reading_first: Option<i64>,
    reading_last: Option<i64>,
    run_version: i32,
}

/// A transfer as stored: the core's transfer plus what it moved and where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTransfer {
    pub seq: i64,
    pub transfer: Transfer,
    pub moved: u128,
}

impl TransferRow {
    fn into_stored(self) -> Result<StoredTransfer> {
        let corrupt = |reason: &str| PlatformError::CorruptRow {
            table: "ledger_transfers",
            key: self.id.clone(),
            reason: reason.to_owned(),
        };
        let id = parse_transfer_id(&self.id).ok_or_else(|| corrupt("id is not 32 hex digits"))?;
        let ledger = ledger_from(self.ledger).ok_or_else(|| corrupt("unknown ledger"))?;
        let debit = owner_from(&self.debit_kind, self.debit_id)
            .ok_or_else(|| corrupt("unknown debit account"))?;
        let credit = owner_from(&self.credit_kind, self.credit_id)
            .ok_or_else(|| corrupt("unknown credit account"))?;
        let pending = || {
            self.pending_id
                .as_deref()
                .and_then(parse_transfer_id)
                .ok_or_else(|| corrupt("pending_id missing or malformed"))
        };
        let kind = match self.kind.as_str() {
            "posted" => TransferKind::Posted,
            "balancing_debit" => TransferKind::BalancingDebit,
            "pending" => TransferKind::Pending,
            "post_pending" => TransferKind::PostPending {
                pending_id: pending()?,
            },
            "void_pending" => TransferKind::VoidPending {
                pending_id: pending()?,
            },
            _ => return Err(corrupt("unknown kind")),
        };
        let code = code_from(self.code).ok_or_else(|| corrupt("unknown code"))?;
        let unsigned = |v: Option<i64>| -> Result<Option<u64>> {
            v.map(|v| u64::try_from(v).map_err(|_| corrupt("negative reference")))
                .transpose()
        };
        let reading_range = match (unsigned(self.reading_first)?, unsigned(self.reading_last)?) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        let amount = u128::try_from(self.amount).map_err(|_| corrupt("negative amount"))?;
        let moved = u128::try_from(self.moved).map_err(|_| corrupt("negative moved"))?;
        Ok(StoredTransfer {
            seq: self.seq,
            transfer: Transfer {
                id,
                debit: Account::new(debit, ledger),
                credit: Account::new(credit, ledger),
                amount,
                kind,
                code,
                refs: References {
                    slot_start_ms: self.slot_start_ms,
                    trade_id: unsigned(self.trade_id)?,
                    reading_range,
                    run_version: u32::try_from(self.run_version)
                        .map_err(|_| corrupt("negative run version"))?,
                },
            },
            moved,
        })
    }
}

/// Appends transfers (already accepted by the in-memory ledger) with what each moved.
pub(crate) fn insert_transfers(
    conn: &mut AnyConnection,
    zone: &str,
    transfers: &[(&Transfer, u128)],
    now_ms: i64,
) -> Result<()> {
    let mut rows = Vec::with_capacity(transfers.len());
    for (t, moved) in transfers {
        let (debit_kind, debit_id) = owner_columns(t.debit.owner)?;
        let (credit_kind, credit_id) = owner_columns(t.credit.owner)?;
        let (kind, pending_id) = kind_columns(t.kind);
        let refs = &t.refs;
        rows.push(NewTransferRow {
            id: t.id.to_hex(),
            ledger: t.debit.ledger as i32,
            debit_kind,
            debit_id,
            credit_kind,
            credit_id,
            amount: to_i64("transfer amount", t.amount)?,
            moved: to_i64("transfer amount", *moved)?,
            kind,
            pending_id,
            code: t.code as i32,
            slot_start_ms: refs.slot_start_ms,
            trade_id: refs
                .trade_id
                .map(|v| id_to_i64("trade id", v))
                .transpose()?,
            reading_first: refs
                .reading_range
                .map(|r| id_to_i64("reading sequence", r.0))
                .transpose()?,
            reading_last: refs
                .reading_range
                .map(|r| id_to_i64("reading sequence", r.1))
                .transpose()?,
            run_version: i32::try_from(refs.run_version).map_err(|_| {
                PlatformError::AmountTooLarge {
                    what: "run version",
                    value: refs.run_version.to_string(),
                }
            })?,
            created_at_ms: now_ms,
        });
    }
    if let AnyConnection::Sqlite(c) = conn {
        let mut values = Vec::with_capacity(rows.len() * 18);
        for r in &rows {
            values.extend([
                Value::Text(&r.id),
                Value::Int(i64::from(r.ledger)),
                Value::Text(r.debit_kind),
                Value::Int(r.debit_id),
                Value::Text(r.credit_kind),
                Value::Int(r.credit_id),
                Value::Int(r.amount),
                Value::Int(r.moved),
                Value::Text(r.kind),
                Value::OptText(r.pending_id.as_deref()),
                Value::Int(i64::from(r.code)),
                Value::Text(zone),
                Value::Int(r.slot_start_ms),
                Value::OptInt(r.trade_id),
                Value::OptInt(r.reading_first),
                Value::OptInt(r.reading_last),
                Value::Int(i64::from(r.run_version)),
                Value::Int(r.created_at_ms),
            ]);
        }
        bulk::insert(c, TRANSFER_COLUMNS, "", 18, &values)?;
        return Ok(());
    }
    // PostgreSQL: written out rather than bound, one round trip per chunk. Every value is an
    // integer, a hex id we formatted, or one of the fixed kinds; the one text from outside, the
    // zone, is bound as `$1` (the same value for every row).
    let mut sql = String::with_capacity(TRANSFER_CHUNK * 200);
    for chunk in rows.chunks(TRANSFER_CHUNK) {
        sql.clear();
        sql.push_str(TRANSFER_COLUMNS);
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let pending = r
                .pending_id
                .as_ref()
                .map_or_else(|| "NULL".to_owned(), |p| format!("'{p}'"));
            let _ = write!(
                sql,
                "('{}',{},'{}',{},'{}',{},{},{},'{}',{pending},{},$1,{},{},{},{},{},{})",
                r.id,
                r.ledger,
                r.debit_kind,
                r.debit_id,
                r.credit_kind,
                r.credit_id,
                r.amount,
                r.moved,
                r.kind,
                r.code,
                r.slot_start_ms,
                sql_opt(r.trade_id),
                sql_opt(r.reading_first),
                sql_opt(r.reading_last),
                r.run_version,
                r.created_at_ms,
            );
        }
        per_backend!(&mut *conn, c => diesel::sql_query(sql.as_str())
            .bind::<diesel::sql_types::Text, _>(zone)
            .execute(c))?;
    }
    Ok(())
}

/// Transfers after `after_seq`, in applied order, at most `REPLAY_CHUNK` of them.
pub(crate) fn transfers_after(
    conn: &mut AnyConnection,
    after_seq: i64,
) -> Result<Vec<StoredTransfer>> {
    ledger_transfers::table
        .filter(ledger_transfers::seq.gt(after_seq))
        .order(ledger_transfers::seq)
        .limit(REPLAY_CHUNK)
        .select(TransferRow::as_select())
        .load(conn)?
        .into_iter()
        .map(TransferRow::into_stored)
        .collect()
}

/// The seq of the newest stored transfer (0 when there is none).
pub(crate) fn max_seq(conn: &mut AnyConnection) -> Result<i64> {
    let max: Option<i64> = ledger_transfers::table
        .select(diesel::dsl::max(ledger_transfers::seq))
        .first(conn)?;
    Ok(max.unwrap_or(0))
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = ledger_balances)]
struct BalanceRow {
    owner_kind: String,
    owner_id: i64,
    ledger: i32,
    debits_pending: i64,
    debits_posted: i64,
    credits_pending: i64,
    credits_posted: i64,
}

/// Writes the current totals of the given accounts (insert or overwrite).
pub(crate) fn upsert_balances(
    conn: &mut AnyConnection,
    balances: &[(Account, Balance)],
) -> Result<()> {
    let mut rows = Vec::with_capacity(balances.len());
    for (account, b) in balances {
        let (kind, id) = owner_columns(account.owner)?;
        rows.push(BalanceRow {
            owner_kind: kind.to_owned(),
            owner_id: id,
            ledger: account.ledger as i32,
            debits_pending: to_i64("balance", b.debits_pending)?,
            debits_posted: to_i64("balance", b.debits_posted)?,
            credits_pending: to_i64("balance", b.credits_pending)?,
            credits_posted: to_i64("balance", b.credits_posted)?,
        });
    }
    if let AnyConnection::Sqlite(c) = conn {
        let mut values = Vec::with_capacity(rows.len() * 7);
        for r in &rows {
            values.extend([
                Value::Text(&r.owner_kind),
                Value::Int(r.owner_id),
                Value::Int(i64::from(r.ledger)),
                Value::Int(r.debits_pending),
                Value::Int(r.debits_posted),
                Value::Int(r.credits_pending),
                Value::Int(r.credits_posted),
            ]);
        }
        bulk::insert(c, BALANCE_COLUMNS, BALANCE_UPSERT, 7, &values)?;
        return Ok(());
    }
    // diesel builds no upsert through MultiConnection, so on PostgreSQL this one statement is
    // written out. Every value is an integer or one of the fixed owner kinds, so nothing from
    // outside reaches the SQL text.
    for chunk in rows.chunks(2_000) {
        let mut sql = String::from(BALANCE_COLUMNS);
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{}',{},{},{},{},{},{})",
                r.owner_kind,
                r.owner_id,
                r.ledger,
                r.debits_pending,
                r.debits_posted,
                r.credits_pending,
                r.credits_posted
            ));
        }
        sql.push_str(BALANCE_UPSERT);
        diesel::sql_query(sql).execute(conn)?;
    }
    Ok(())
}

const BALANCE_COLUMNS: &str = "INSERT INTO ledger_balances (owner_kind, owner_id, ledger, \
     debits_pending, debits_posted, credits_pending, credits_posted) VALUES ";
const BALANCE_UPSERT: &str = " ON CONFLICT (owner_kind, owner_id, ledger) DO UPDATE SET \
     debits_pending = excluded.debits_pending, debits_posted = excluded.debits_posted, \
     credits_pending = excluded.credits_pending, credits_posted = excluded.credits_posted";

fn balance_from(row: BalanceRow) -> Result<(Account, Balance)> {
    let corrupt = |reason: &str| PlatformError::CorruptRow {
        table: "ledger_balances",
        key: format!("{}/{}/{}", row.owner_kind, row.owner_id, row.ledger),
        reason: reason.to_owned(),
    };
    let owner = owner_from(&row.owner_kind, row.owner_id).ok_or_else(|| corrupt("owner"))?;
    let ledger = ledger_from(row.ledger).ok_or_else(|| corrupt("ledger"))?;
    let un = |v: i64| u128::try_from(v).map_err(|_| corrupt("negative total"));
    Ok((
        Account::new(owner, ledger),
        Balance {
            debits_pending: un(row.debits_pending)?,
            debits_posted: un(row.debits_posted)?,
            credits_pending: un(row.credits_pending)?,
            credits_posted: un(row.credits_posted)?,
        },
    ))
}

/// The stored state of one pending transfer (escrow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingState {
    Pending,
    Posted,
    Voided,
}

impl Store {
    /// Every account's stored totals, ordered by owner and ledger.
    pub fn ledger_balances(&self) -> Result<Vec<(Account, Balance)>> {
        ledger_balances::table
            .order((
                ledger_balances::owner_kind,
                ledger_balances::owner_id,
                ledger_balances::ledger,
            ))
            .select(BalanceRow::as_select())
            .load(&mut self.connection()?)?
            .into_iter()
            .map(balance_from)
            .collect()
    }

    /// The totals of one participant's accounts (one per ledger it has used).
    pub fn participant_balances(&self, account: AccountId) -> Result<Vec<(Account, Balance)>> {
        let id = id_to_i64("account id", account.0)?;
        ledger_balances::table
            .filter(ledger_balances::owner_kind.eq("participant"))
            .filter(ledger_balances::owner_id.eq(id))
            .order(ledger_balances::ledger)
            .select(BalanceRow::as_select())
            .load(&mut self.connection()?)?
            .into_iter()
            .map(balance_from)
            .collect()
    }

    /// All stored transfers in applied order.
    pub fn ledger_transfers(&self) -> Result<Vec<StoredTransfer>> {
        let mut conn = self.connection()?;
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let chunk = transfers_after(&mut conn, after)?;
            let Some(last) = chunk.last() else {
                return Ok(all);
            };
            after = last.seq;
            all.extend(chunk);
        }
    }

    pub fn ledger_transfer_count(&self) -> Result<i64> {
        Ok(ledger_transfers::table
            .count()
            .get_result(&mut self.connection()?)?)
    }

    /// Whether a pending transfer is still open, was posted or voided; `None` if unknown.
    pub fn pending_state(&self, id: TransferId) -> Result<Option<PendingState>> {
        let mut conn = self.connection()?;
        let exists: i64 = ledger_transfers::table
            .filter(ledger_transfers::id.eq(id.to_hex()))
            .filter(ledger_transfers::kind.eq("pending"))
            .count()
            .get_result(&mut conn)?;
        if exists == 0 {
            return Ok(None);
        }
        let resolution: Option<String> = ledger_transfers::table
            .filter(ledger_transfers::pending_id.eq(id.to_hex()))
            .select(ledger_transfers::kind)
            .first(&mut conn)
            .optional()?;
        Ok(Some(match resolution.as_deref() {
            Some("post_pending") => PendingState::Posted,
            Some(_) => PendingState::Voided,
            None => PendingState::Pending,
        }))
    }
}

impl Store {
    /// Up to `limit` currency transfers after row `after_seq`, in applied order, with the
    /// amount of the pending transfer each post/void resolves. Settlement writes one run at a
    /// time (a process-wide lock, plus an advisory lock on PostgreSQL), so rows commit in
    /// `seq` order and a reader never skips a row that commits later with a smaller `seq`.
    pub fn currency_transfers_after(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<(
        Vec<StoredTransfer>,
        std::collections::HashMap<TransferId, u128>,
    )> {
        let mut conn = self.connection()?;
        let transfers: Vec<StoredTransfer> = ledger_transfers::table
            .filter(ledger_transfers::seq.gt(after_seq))
            .order(ledger_transfers::seq)
            .limit(limit)
            .select(TransferRow::as_select())
            .load(&mut conn)?
            .into_iter()
            .map(TransferRow::into_stored)
            .collect::<Result<_>>()?;
        let resolved: Vec<String> = transfers
            .iter()
            .filter_map(|t| match t.transfer.kind {
                TransferKind::PostPending { pending_id }
                | TransferKind::VoidPending { pending_id } => Some(pending_id.to_hex()),
                _ => None,
            })
            .collect();
        let mut pending = std::collections::HashMap::new();
        for chunk in resolved.chunks(MAX_BINDS) {
            let rows: Vec<(String, i64)> = ledger_transfers::table
                .filter(ledger_transfers::kind.eq("pending"))
                .filter(ledger_transfers::id.eq_any(chunk))
                .select((ledger_transfers::id, ledger_transfers::amount))
                .load(&mut conn)?;
            for (id, amount) in rows {
                if let (Some(id), Ok(amount)) = (parse_transfer_id(&id), u128::try_from(amount)) {
                    pending.insert(id, amount);
                }
            }
        }
        Ok((transfers, pending))
    }
}
