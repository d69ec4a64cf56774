//! The trading tables: the journal and snapshots (the durable truth of the engine) and the
//! orders, trades and balances derived from it, all written by one group-commit transaction.

use std::sync::Arc;

use diesel::prelude::*;

use super::checkpoint::{writer_checkpoint, Checkpointer};
use super::connection::{write_transaction, AnyConnection, DatabaseTarget};
use super::schema::{
    trading_balances, trading_journal, trading_orders, trading_snapshots, trading_trades,
};
use super::Store;
use crate::error::Result;

/// PostgreSQL allows at most 65535 bound values per statement; 15 columns × 1000 rows stays under.
const INSERT_CHUNK: usize = 1000;

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = trading_orders)]
pub struct OrderRow {
    pub order_id: i64,
    pub account_id: i64,
    pub client_order_id: i64,
    pub zone: String,
    pub slot_start_ms: i64,
    pub side: String,
    pub order_type: String,
    pub price_micro_per_kwh: i64,
    pub qty_wh: i64,
    pub remaining_wh: i64,
    pub filled_wh: i64,
    pub status: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub response: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = trading_trades)]
pub struct TradeRow {
    pub trade_id: i64,
    pub zone: String,
    pub slot_start_ms: i64,
    pub at_ms: i64,
    pub price_micro_per_kwh: i64,
    pub qty_wh: i64,
    pub value_micro: i64,
    pub buyer_account: i64,
    pub seller_account: i64,
    pub buyer_order: i64,
    pub seller_order: i64,
    pub taker_side: String,
}

#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = trading_journal)]
pub struct JournalRow {
    pub seq: i64,
    pub at_ms: i64,
    pub entry: String,
}

/// Everything one group commit writes.
#[derive(Default, Debug)]
pub struct TradingBatch {
    pub journal: Vec<JournalRow>,
    pub new_orders: Vec<OrderRow>,
    pub changed_orders: Vec<OrderRow>,
    pub trades: Vec<TradeRow>,
    /// (account, available_micro)
    pub balances: Vec<(i64, i64)>,
    pub at_ms: i64,
}

/// Filters for an account's order list.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub status: Option<String>,
    pub zone: Option<String>,
    pub slot_start_ms: Option<i64>,
    pub before_order_id: Option<i64>,
    pub limit: i64,
}

/// The engine host's own connection for its group commits, outside the pool: no pool checkout
/// (and validity ping) per group, and on SQLite a connection that never checkpoints the WAL
/// itself. SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold,
/// copying pages into the database file and fsyncing it, so every few groups one group's
/// answer would wait for that too; the store's `Checkpointer` thread does it beside the
/// writer instead, and asks the writer for its share of a WAL restart ([`Self::between_groups`]).
/// The durability of a commit is unchanged: it is durable once its WAL frames are fsynced
/// (`synchronous = FULL`), which COMMIT still does before it returns.
pub struct JournalWriter {
    target: DatabaseTarget,
    /// None after a failed commit: the next one reconnects.
    conn: Option<AnyConnection>,
    checkpointer: Option<Arc<Checkpointer>>,
}

impl JournalWriter {
    /// Writes one group in one transaction; when this returns Ok the group is durable.
    pub fn commit(&mut self, batch: &TradingBatch) -> Result<()> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(open_writer(&self.target)?),
        };
        let committed = commit_batch(conn, batch);
        if committed.is_err() {
            self.conn = None;
        }
        committed
    }

    /// Work the writer does between groups, after their answers went out: its share of a WAL
    /// restart when the checkpoint thread asks for it (see `Checkpointer`). Failing is not
    /// fatal: the WAL only stays longer.
    pub fn between_groups(&mut self) {
        let (Some(checkpointer), Some(conn)) = (&self.checkpointer, &mut self.conn) else {
            return;
        };
        if checkpointer.restart_wanted() {
            if let Err(error) = writer_checkpoint(conn) {
                tracing::warn!(%error, "WAL checkpoint by the writer failed");
            }
        }
    }
}

fn open_writer(target: &DatabaseTarget) -> Result<AnyConnection> {
    let mut conn = target.establish()?;
    if let AnyConnection::Sqlite(c) = &mut conn {
        use diesel::connection::SimpleConnection;
        // cache_size: the hot pages of the journal, order and index B-trees stay in memory
        // between groups (negative = KiB).
        c.batch_execute("PRAGMA cache_size = -65536;")?;
    }
    Ok(conn)
}

impl Store {
    /// The engine host's committer (see [`JournalWriter`]).
    pub fn journal_writer(&self) -> Result<JournalWriter> {
        let target = self.target.clone();
        let conn = open_writer(&target)?;
        Ok(JournalWriter {
            target,
            conn: Some(conn),
            checkpointer: self.checkpointer.clone(),
        })
    }

    /// Writes one group in one transaction; when this returns Ok the group is durable.
    pub fn commit_trading_batch(&self, batch: &TradingBatch) -> Result<()> {
        let mut conn = self.connection()?;
        commit_batch(&mut conn, batch)
    }

    /// The newest snapshot: (seq, state hash, JSON).
    pub fn latest_trading_snapshot(&self) -> Result<Option<(i64, String, String)>> {
        use trading_snapshots::dsl as s;
        let mut conn = self.connection()?;
        Ok(s::trading_snapshots
            .order(s::seq.desc())
            .select((s::seq, s::state_hash, s::snapshot))
            .first(&mut conn)
            .optional()?)
    }

    pub fn insert_trading_snapshot(
        &self,
        seq: i64,
        taken_at_ms: i64,
        state_hash: &str,
        snapshot: &str,
    ) -> Result<()> {
        use trading_snapshots::dsl as s;
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            diesel::insert_into(s::trading_snapshots)
                .values((
                    s::seq.eq(seq),
                    s::taken_at_ms.eq(taken_at_ms),
                    s::state_hash.eq(state_hash),
                    s::snapshot.eq(snapshot),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// Journal entries with `seq` in (after, upto], oldest first, at most `limit`.
    pub fn trading_journal_after(
        &self,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>> {
        use trading_journal::dsl as j;
        let mut conn = self.connection()?;
        Ok(j::trading_journal
            .filter(j::seq.gt(after))
            .filter(j::seq.le(upto))
            .order(j::seq.asc())
            .limit(limit)
            .select((j::seq, j::entry))
            .load(&mut conn)?)
    }

    pub fn trading_journal_len(&self) -> Result<i64> {
        use trading_journal::dsl as j;
        let mut conn = self.connection()?;
        Ok(j::trading_journal
            .select(diesel::dsl::max(j::seq))
            .first::<Option<i64>>(&mut conn)?
            .unwrap_or(0))
    }

    pub fn open_trading_orders(&self) -> Result<Vec<OrderRow>> {
        use trading_orders::dsl as o;
        let mut conn = self.connection()?;
        Ok(o::trading_orders
            .filter(o::status.eq("open"))
            .select(OrderRow::as_select())
            .load(&mut conn)?)
    }

    pub fn trading_order(&self, account_id: i64, order_id: i64) -> Result<Option<OrderRow>> {
        use trading_orders::dsl as o;
        let mut conn = self.connection()?;
        Ok(o::trading_orders
            .find(order_id)
            .filter(o::account_id.eq(account_id))
            .select(OrderRow::as_select())
            .first(&mut conn)
            .optional()?)
    }

    /// The newest order of `account_id` with this client order id.
    pub fn trading_order_by_client_id(
        &self,
        account_id: i64,
        client_order_id: i64,
    ) -> Result<Option<OrderRow>> {
        use trading_orders::dsl as o;
        let mut conn = self.connection()?;
        Ok(o::trading_orders
            .filter(o::account_id.eq(account_id))
            .filter(o::client_order_id.eq(client_order_id))
            .order(o::order_id.desc())
            .select(OrderRow::as_select())
            .first(&mut conn)
            .optional()?)
    }

    /// An account's orders, newest first.
    pub fn trading_orders(&self, account_id: i64, filter: &OrderFilter) -> Result<Vec<OrderRow>> {
        use trading_orders::dsl as o;
        let mut conn = self.connection()?;
        let mut query = o::trading_orders
            .filter(o::account_id.eq(account_id))
            .into_boxed();
        if let Some(status) = &filter.status {
            query = query.filter(o::status.eq(status.clone()));
        }
        if let Some(zone) = &filter.zone {
            query = query.filter(o::zone.eq(zone.clone()));
        }
        if let Some(slot) = filter.slot_start_ms {
            query = query.filter(o::slot_start_ms.eq(slot));
        }
        if let Some(before) = filter.before_order_id {
            query = query.filter(o::order_id.lt(before));
        }
        Ok(query
            .order(o::order_id.desc())
            .limit(filter.limit)
            .select(OrderRow::as_select())
            .load(&mut conn)?)
    }

    /// An account's trades (as buyer or seller), newest first.
    pub fn trading_trades_of(
        &self,
        account_id: i64,
        before_trade_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<TradeRow>> {
        use trading_trades::dsl as t;
        let mut conn = self.connection()?;
        let mut query = t::trading_trades
            .filter(
                t::buyer_account
                    .eq(account_id)
                    .or(t::seller_account.eq(account_id)),
            )
            .into_boxed();
        if let Some(before) = before_trade_id {
            query = query.filter(t::trade_id.lt(before));
        }
        Ok(query
            .order(t::trade_id.desc())
            .limit(limit)
            .select(TradeRow::as_select())
            .load(&mut conn)?)
    }

    /// A slot's trades, newest first (`limit` None: all, oldest first, for statistics).
    pub fn trading_trades_in_slot(
        &self,
        zone: &str,
        slot_start_ms: i64,
        limit: Option<i64>,
    ) -> Result<Vec<TradeRow>> {
        use trading_trades::dsl as t;
        let mut conn = self.connection()?;
        let query = t::trading_trades
            .filter(t::zone.eq(zone))
            .filter(t::slot_start_ms.eq(slot_start_ms))
            .select(TradeRow::as_select());
        Ok(match limit {
            Some(limit) => query
                .order(t::trade_id.desc())
                .limit(limit)
                .load(&mut conn)?,
            None => query.order(t::trade_id.asc()).load(&mut conn)?,
        })
    }

    /// Sum of nameplate watts of an account's active devices in a zone (None: no device there).
    pub fn active_nameplate_w(&self, account_id: i64, zone: &str) -> Result<Option<i64>> {
        use super::schema::devices::dsl as d;
        let mut conn = self.connection()?;
        let watts: Vec<i64> = d::devices
            .filter(d::owner_id.eq(account_id))
            .filter(d::zone.eq(zone))
            .filter(d::status.eq("active"))
            .select(d::nameplate_w)
            .load(&mut conn)?;
        Ok((!watts.is_empty()).then(|| watts.iter().sum()))
    }
}

/// Inserts `rows` into `table`. SQLite: one cached single-row statement per row (measured: a
/// multi-row statement per group is no cheaper in CPU, and makes SQLite write a statement
/// journal, ~3 KB more disk writes per order); PostgreSQL: one multi-row statement (one round
/// trip) per chunk.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match &mut *$conn {
            AnyConnection::Sqlite(c) => {
                for row in &$rows {
                    diesel::insert_into($table).values(row).execute(c)?;
                }
            }
            AnyConnection::Postgresql(c) => {
                for chunk in $rows.chunks(INSERT_CHUNK) {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
        }
    };
}

/// Writes one group in one transaction on `conn`; Ok means committed (durable).
fn commit_batch(conn: &mut AnyConnection, batch: &TradingBatch) -> Result<()> {
    write_transaction(conn, |conn| {
        insert_rows!(conn, trading_journal::table, batch.journal);
        insert_rows!(conn, trading_orders::table, batch.new_orders);
        for row in &batch.changed_orders {
            use trading_orders::dsl as o;
            diesel::update(o::trading_orders.find(row.order_id))
                .set((
                    o::price_micro_per_kwh.eq(row.price_micro_per_kwh),
                    o::qty_wh.eq(row.qty_wh),
                    o::remaining_wh.eq(row.remaining_wh),
                    o::filled_wh.eq(row.filled_wh),
                    o::status.eq(&row.status),
                    o::updated_at_ms.eq(row.updated_at_ms),
                ))
                .execute(conn)?;
        }
        insert_rows!(conn, trading_trades::table, batch.trades);
        for &(account, available) in &batch.balances {
            use trading_balances::dsl as b;
            let updated = diesel::update(b::trading_balances.find(account))
                .set((
                    b::available_micro.eq(available),
                    b::updated_at_ms.eq(batch.at_ms),
                ))
                .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(b::trading_balances)
                    .values((
                        b::account_id.eq(account),
                        b::available_micro.eq(available),
                        b::updated_at_ms.eq(batch.at_ms),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
}
