//! The engine host's writer thread: takes the waiting requests as one group, executes them
//! against the engine under the state lock, writes the journal entries and derived rows in one
//! transaction, and answers the handlers only after the commit (see `engine_host` for the
//! whole contract). On a failed commit it rebuilds the engine from the database, or exits the
//! process if it cannot.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use exchange::{AccountId, Command, Event, OrderId, Price, Side, Wh};
use tokio::sync::broadcast;

use super::engine_host::{
    book_depth, open_orders, HostError, Job, Reply, Request, Shared, StreamItem, STREAM_DEPTH,
};
use super::group_metrics::GroupMetrics;
use super::journal::{JournalCommand, JournalEntry, Ledger};
use super::market::MarketSettings;
use super::recovery::{internal, recover, write_snapshot};
use super::views::{
    order_type_text, side_text, OrderResult, OrderView, PublicTrade, StreamMessage,
};
use crate::clock;
use crate::error::Result;
use crate::store::{JournalRow, JournalWriter, OrderRow, Store, TradeRow, TradingBatch};

/// How long a device capacity lookup is trusted.
const CAPACITY_TTL_MS: i64 = 5_000;

pub(super) struct Writer {
    pub(super) store: Store,
    /// Its own connection for the group commits.
    pub(super) journal: JournalWriter,
    pub(super) settings: MarketSettings,
    pub(super) shared: Arc<RwLock<Shared>>,
    pub(super) stream: broadcast::Sender<Arc<Vec<StreamItem>>>,
    /// Open orders (the rows of everything resting in the engine). A B-tree, not a hash map:
    /// it grows a node at a time, where a hash map holding hundreds of thousands of rows
    /// stalls the writer (and every order waiting on it) for hundreds of milliseconds each
    /// time it doubles. New ids are the largest, so inserts go to the right edge.
    pub(super) mirror: BTreeMap<i64, OrderRow>,
    pub(super) capacity: HashMap<(i64, String), (Option<i64>, i64)>,
    pub(super) metrics: GroupMetrics,
}

/// The rows one group changes, before they are committed.
#[derive(Default)]
struct Work {
    touched: HashMap<i64, OrderRow>,
    new_ids: BTreeSet<i64>,
    trades: Vec<TradeRow>,
    accounts: BTreeSet<u64>,
    journal: Vec<JournalRow>,
    books: BTreeSet<(String, i64)>,
}

impl Writer {
    pub(super) fn run(mut self, rx: mpsc::Receiver<Job>) {
        let tick = Duration::from_millis(self.settings.tick_interval_ms);
        let mut last_tick = Instant::now();
        loop {
            let wait = tick.saturating_sub(last_tick.elapsed());
            let mut jobs = Vec::new();
            match rx.recv_timeout(wait) {
                Ok(job) => jobs.push(job),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while jobs.len() < self.settings.max_batch {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            if last_tick.elapsed() >= tick {
                last_tick = Instant::now();
                // Always journaled: the clock is part of the state hash, so replay must see it.
                jobs.push(Job {
                    request: None,
                    reply: None,
                });
            }
            self.group(jobs);
        }
    }

    fn group(&mut self, jobs: Vec<Job>) {
        let now = clock::now_ms();
        let started = Instant::now();
        let mut replies = Vec::with_capacity(jobs.len());
        let mut work = Work::default();
        let shared = self.shared.clone();
        let Ok(mut guard) = shared.write() else {
            tracing::error!("engine state lock poisoned; exiting");
            std::process::exit(70);
        };
        let mut failed = None;
        for job in &jobs {
            match self.one(&mut guard.ledger, now, job.request.as_ref(), &mut work) {
                Ok(reply) => replies.push(reply),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // The rows move into the batch (and after the commit into the mirror): no copies.
        let (mut new_orders, changed_orders): (Vec<OrderRow>, Vec<OrderRow>) = work
            .touched
            .drain()
            .map(|(_, row)| row)
            .partition(|r| work.new_ids.contains(&r.order_id));
        // In id order, new rows append to the end of the table's B-tree.
        new_orders.sort_unstable_by_key(|r| r.order_id);
        let batch = TradingBatch {
            journal: std::mem::take(&mut work.journal),
            new_orders,
            changed_orders,
            trades: std::mem::take(&mut work.trades),
            balances: work
                .accounts
                .iter()
                .map(|&a| {
                    let funds = guard.ledger.funds(a);
                    (a as i64, i64::try_from(funds).unwrap_or(i64::MAX))
                })
                .collect(),
            at_ms: now,
        };
        let executed = Instant::now();
        let committed = match failed {
            Some(e) => Err(e),
            None => self.journal.commit(&batch),
        };
        self.metrics
            .commit_seconds
            .observe(executed.elapsed().as_secs_f64());
        self.metrics.group_commands.observe(jobs.len() as f64);
        tracing::debug!(
            commands = jobs.len(),
            execute_us = (executed - started).as_micros() as u64,
            commit_us = executed.elapsed().as_micros() as u64,
            "trading group"
        );
        if let Err(error) = committed {
            tracing::error!(%error, "trading group not committed; rebuilding the engine from the database");
            match recover(&self.store, &self.settings)
                .and_then(|(l, s)| Ok((l, s, open_orders(&self.store)?)))
            {
                Ok((ledger, snapshot_seq, mirror)) => {
                    guard.ledger = ledger;
                    guard.snapshot_seq = snapshot_seq;
                    self.mirror = mirror;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot rebuild the engine; exiting so nothing uncommitted is served");
                    std::process::exit(70);
                }
            }
            drop(guard);
            for job in jobs {
                if let Some(tx) = job.reply {
                    let _ = tx.send(Err(HostError::NotCommitted));
                }
            }
            return;
        }
        let stream_items = if self.stream.receiver_count() > 0 {
            Some(self.stream_items(&guard.ledger, &batch, &work))
        } else {
            None
        };
        for row in batch.new_orders.into_iter().chain(batch.changed_orders) {
            if row.status == "open" {
                self.mirror.insert(row.order_id, row);
            } else {
                self.mirror.remove(&row.order_id);
            }
        }
        let snapshot = if snapshot_due(
            guard.ledger.seq as i64 - guard.snapshot_seq,
            self.settings.snapshot_every,
            guard.ledger.engine.resting_orders(),
        ) {
            guard.snapshot_seq = guard.ledger.seq as i64;
            Some((guard.ledger.snapshot(), guard.ledger.state_hash_hex()))
        } else {
            None
        };
        drop(guard);
        for (job, reply) in jobs.into_iter().zip(replies) {
            if let Some(tx) = job.reply {
                let _ = tx.send(Ok(reply));
            }
        }
        if let Some(items) = stream_items {
            let _ = self.stream.send(Arc::new(items));
        }
        self.journal.between_groups();
        if let Some((snap, hash)) = snapshot {
            // Serialising and storing a large snapshot must not stall the order path.
            let store = self.store.clone();
            let spawned = std::thread::Builder::new()
                .name("engine-snapshot".into())
                .spawn(move || write_snapshot(&store, &snap, &hash, now));
            if let Err(error) = spawned {
                // Not fatal: the journal is durable; the next snapshot retries.
                tracing::warn!(%error, "cannot start the snapshot writer");
            }
        }
    }

    fn capacity_wh(&mut self, account: i64, zone: &str, now: i64) -> Option<u64> {
        let key = (account, zone.to_owned());
        let watts = match self.capacity.get(&key) {
            Some(&(w, at)) if now - at < CAPACITY_TTL_MS => w,
            _ => {
                let w = match self.store.active_nameplate_w(account, zone) {
                    Ok(w) => w,
                    Err(error) => {
                        tracing::warn!(%error, "capacity lookup failed; treating as no installation");
                        None
                    }
                };
                if self.capacity.len() > 100_000 {
                    self.capacity.clear();
                }
                self.capacity.insert(key, (w, now));
                w
            }
        }?;
        let wh = i128::from(watts) * i128::from(self.settings.slot_len_ms) / 3_600_000;
        u64::try_from(wh).ok()
    }

    fn row<'a>(&'a self, work: &'a mut Work, id: i64) -> Option<&'a mut OrderRow> {
        match work.touched.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => Some(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => {
                Some(e.insert(self.mirror.get(&id)?.clone()))
            }
        }
    }

    fn one(
        &mut self,
        ledger: &mut Ledger,
        now: i64,
        request: Option<&Request>,
        work: &mut Work,
    ) -> Result<Reply> {
        let seq = ledger.seq + 1;
        let command = match request {
            None => JournalCommand::Engine {
                command: Command::advance_time(now),
                funds: 0,
                capacity_wh: None,
            },
            Some(Request::Submit(order)) => {
                let account = order.account.0 as i64;
                let capacity_wh = match order.side {
                    Side::Sell => {
                        let zone = ledger.zones.name(order.zone).to_owned();
                        self.capacity_wh(account, &zone, now)
                    }
                    Side::Buy => None,
                };
                JournalCommand::Engine {
                    command: Command::submit(now, *order),
                    funds: ledger.funds(order.account.0),
                    capacity_wh,
                }
            }
            Some(Request::Cancel { account, order_id }) => JournalCommand::Engine {
                command: Command::cancel(
                    now,
                    AccountId(*account as u64),
                    OrderId(*order_id as u64),
                ),
                funds: ledger.funds(*account as u64),
                capacity_wh: None,
            },
            Some(Request::Modify {
                account,
                order_id,
                price,
                qty,
            }) => {
                let sell_zone = self
                    .mirror
                    .get(order_id)
                    .or_else(|| work.touched.get(order_id))
                    .filter(|r| r.side == "sell" && r.account_id == *account)
                    .map(|r| r.zone.clone());
                let capacity_wh = sell_zone.and_then(|z| self.capacity_wh(*account, &z, now));
                JournalCommand::Engine {
                    command: Command::modify(
                        now,
                        AccountId(*account as u64),
                        OrderId(*order_id as u64),
                        Price(*price),
                        Wh(*qty),
                    ),
                    funds: ledger.funds(*account as u64),
                    capacity_wh,
                }
            }
            Some(Request::LedgerSync {
                after,
                through,
                deltas,
            }) => JournalCommand::LedgerSync {
                after: *after,
                through: *through,
                deltas: deltas.clone(),
            },
        };
        let events = ledger.apply(seq, &command)?;
        let mut reply = Reply {
            seq: seq as i64,
            events: Vec::new(),
            result_json: None,
            order: None,
        };
        let mut command_trades = Vec::new();
        let mut subject = None;
        for event in &events {
            match event {
                Event::Accepted { order_id, order } => {
                    let id = order_id.0 as i64;
                    subject = Some(id);
                    work.new_ids.insert(id);
                    let zone = ledger.zones.name(order.zone).to_owned();
                    work.books.insert((zone.clone(), order.slot.0));
                    work.touched.insert(
                        id,
                        OrderRow {
                            order_id: id,
                            account_id: order.account.0 as i64,
                            client_order_id: order.client_id.0 as i64,
                            zone,
                            slot_start_ms: order.slot.0,
                            side: side_text(order.side).to_owned(),
                            order_type: order_type_text(order.kind).to_owned(),
                            price_micro_per_kwh: order.price.0,
                            qty_wh: order.qty.0 as i64,
                            remaining_wh: order.qty.0 as i64,
                            filled_wh: 0,
                            status: "open".into(),
                            created_at_ms: now,
                            updated_at_ms: now,
                            response: String::new(),
                        },
                    );
                }
                Event::Trade(t) => {
                    let zone = ledger.zones.name(t.zone).to_owned();
                    work.books.insert((zone.clone(), t.slot.0));
                    let q = t.qty.0 as i64;
                    if let Some(maker) = self.row(work, t.maker_order.0 as i64) {
                        maker.filled_wh += q;
                        maker.remaining_wh = t.maker_remaining.0 as i64;
                        maker.updated_at_ms = now;
                        if maker.remaining_wh == 0 {
                            maker.status = "filled".into();
                        }
                    }
                    if let Some(taker) = self.row(work, t.taker_order.0 as i64) {
                        taker.filled_wh += q;
                        taker.remaining_wh = (taker.remaining_wh - q).max(0);
                        taker.updated_at_ms = now;
                        if taker.remaining_wh == 0 {
                            taker.status = "filled".into();
                        }
                    }
                    let (buyer, buyer_order) = t.buyer();
                    let (seller, seller_order) = t.seller();
                    work.accounts.insert(buyer.0);
                    work.accounts.insert(seller.0);
                    let row = TradeRow {
                        trade_id: t.id.0 as i64,
                        zone,
                        slot_start_ms: t.slot.0,
                        at_ms: t.at_ms,
                        price_micro_per_kwh: t.price.0,
                        qty_wh: q,
                        value_micro: i64::try_from(t.value.0).unwrap_or(i64::MAX),
                        buyer_account: buyer.0 as i64,
                        seller_account: seller.0 as i64,
                        buyer_order: buyer_order.0 as i64,
                        seller_order: seller_order.0 as i64,
                        taker_side: side_text(t.taker_side).to_owned(),
                    };
                    command_trades.push(PublicTrade::from(&row));
                    work.trades.push(row);
                }
                Event::Cancelled { order_id, .. } | Event::Expired { order_id, .. } => {
                    let status = if matches!(event, Event::Expired { .. }) {
                        "expired"
                    } else {
                        "cancelled"
                    };
                    if let Some(row) = self.row(work, order_id.0 as i64) {
                        row.remaining_wh = 0;
                        row.status = status.into();
                        row.updated_at_ms = now;
                        let key = (row.zone.clone(), row.slot_start_ms);
                        work.books.insert(key);
                    }
                }
                Event::Reduced {
                    order_id,
                    remaining,
                    ..
                } => {
                    subject = Some(order_id.0 as i64);
                    if let Some(row) = self.row(work, order_id.0 as i64) {
                        row.remaining_wh = remaining.0 as i64;
                        row.qty_wh = row.filled_wh + row.remaining_wh;
                        row.updated_at_ms = now;
                        let key = (row.zone.clone(), row.slot_start_ms);
                        work.books.insert(key);
                    }
                }
                Event::Replaced {
                    order_id,
                    price,
                    qty,
                    ..
                } => {
                    subject = Some(order_id.0 as i64);
                    if let Some(row) = self.row(work, order_id.0 as i64) {
                        row.price_micro_per_kwh = price.0;
                        row.remaining_wh = qty.0 as i64;
                        row.qty_wh = row.filled_wh + row.remaining_wh;
                        row.updated_at_ms = now;
                        let key = (row.zone.clone(), row.slot_start_ms);
                        work.books.insert(key);
                    }
                }
                Event::Rejected { .. } | Event::BookClosed { .. } => {}
            }
        }
        match request {
            Some(Request::Submit(_)) => {
                if let Some(row) = subject.and_then(|id| work.touched.get_mut(&id)) {
                    let result = OrderResult {
                        order: OrderView::from(&*row),
                        trades: command_trades,
                        seq: seq as i64,
                    };
                    row.response = serde_json::to_string(&result).map_err(internal)?;
                    reply.result_json = Some(row.response.clone());
                }
            }
            Some(Request::Cancel { order_id, .. }) => {
                reply.order = work.touched.get(order_id).map(OrderView::from);
            }
            Some(Request::Modify { .. }) => {
                reply.order = subject
                    .and_then(|id| work.touched.get(&id))
                    .map(OrderView::from);
            }
            Some(Request::LedgerSync { deltas, .. }) => {
                work.accounts
                    .extend(deltas.iter().map(|(account, _)| *account));
            }
            None => {}
        }
        let entry = JournalEntry {
            seq,
            at_ms: now,
            command,
            events,
        };
        work.journal.push(JournalRow {
            seq: seq as i64,
            at_ms: now,
            entry: serde_json::to_string(&entry).map_err(internal)?,
        });
        reply.events = entry.events;
        Ok(reply)
    }

    fn stream_items(&self, ledger: &Ledger, batch: &TradingBatch, work: &Work) -> Vec<StreamItem> {
        let mut items = Vec::new();
        for (zone, slot) in &work.books {
            items.push(StreamItem {
                account: None,
                zone: zone.clone(),
                slot_start_ms: *slot,
                message: StreamMessage::Book(book_depth(ledger, zone, *slot, STREAM_DEPTH)),
            });
        }
        for t in &batch.trades {
            items.push(StreamItem {
                account: None,
                zone: t.zone.clone(),
                slot_start_ms: t.slot_start_ms,
                message: StreamMessage::Trade(PublicTrade::from(t)),
            });
        }
        for row in batch.new_orders.iter().chain(&batch.changed_orders) {
            items.push(StreamItem {
                account: Some(row.account_id),
                zone: row.zone.clone(),
                slot_start_ms: row.slot_start_ms,
                message: StreamMessage::Order {
                    order: OrderView::from(row),
                },
            });
        }
        items
    }
}

/// Whether `since` journal entries after the last snapshot call for a new one: at least
/// `snapshot_every`, and at least as many as there are resting orders. A snapshot costs time
/// and bytes in proportion to the resting orders (copied under the state lock, hashed, written
/// in one transaction), so spacing snapshots by that many entries keeps its cost per command
/// bounded however full the books get, while a restart still replays no more entries than the
/// snapshot holds orders.
fn snapshot_due(since: i64, snapshot_every: u64, resting_orders: usize) -> bool {
    let every = snapshot_every.max(resting_orders as u64);
    since >= i64::try_from(every).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::snapshot_due;

    #[test]
    fn snapshots_are_spaced_by_the_larger_of_the_setting_and_the_resting_orders() {
        assert!(!snapshot_due(9_999, 10_000, 10));
        assert!(snapshot_due(10_000, 10_000, 10));
        assert!(!snapshot_due(10_000, 10_000, 50_000));
        assert!(snapshot_due(50_000, 10_000, 50_000));
    }
}
