//! The engine: all books of the market, commands in, events out.
//!
//! Every command is validated completely before anything changes, so a rejection leaves the
//! engine exactly as it was. Order and trade ids are sequential, time comes from the command and
//! nothing observable depends on hash-table order, so replaying a journal reproduces the state.

use std::collections::BTreeMap;

use crate::book::{Book, Hit, RestingOrder, Slab};
use crate::book_table::BookTable;
use crate::checks::PreTrade;
use crate::client_ids::ClientIds;
use crate::command::{Action, Command};
use crate::config::MarketConfig;
use crate::error::ExchangeError;
use crate::event::{CancelReason, Event, Trade};
use crate::fixed_hash::FixedMap;
use crate::order::{
    escrow_for, order_escrow, trade_value, AccountId, BookKey, ClientOrderId, NewOrder, OrderId,
    OrderType, Price, Side, SlotId, TradeId, Wh, ZoneId,
};
use crate::order_index::{Loc, OrderIndex};

#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) config: MarketConfig,
    pub(crate) now_ms: i64,
    pub(crate) next_order_id: u64,
    pub(crate) next_trade_id: u64,
    /// Books by key (slot first, so the next to close is first); values index `books`.
    pub(crate) by_key: BTreeMap<BookKey, u32>,
    /// Same content as `by_key`, for the per-command lookup (a grid of slots × zones beats a
    /// tree walk or a hash probe over ~1,000 books); never iterated.
    pub(crate) lookup: BookTable,
    /// The book the previous order went to: consecutive orders mostly hit the same book.
    pub(crate) last_book: Option<(BookKey, u32)>,
    pub(crate) books: Vec<Option<Book>>,
    /// The resting orders of every book.
    pub(crate) slab: Slab,
    pub(crate) free_books: Vec<u32>,
    /// Where each resting order is, by id.
    pub(crate) index: OrderIndex,
    /// Escrow held per buyer over all books; always Σ escrow_for(price, remaining) of their
    /// resting buys. Entries at zero are removed.
    pub(crate) escrow: FixedMap<AccountId, i128>,
    /// Client order ids each account has in use in open books (released at gate closure).
    pub(crate) client_ids: FixedMap<AccountId, ClientIds>,
    /// Earliest gate closure among open books (i64::MAX when none): one compare per command.
    pub(crate) next_gate_ms: i64,
    pub(crate) hits: Vec<Hit>,
}

/// The part of an order that takes part in a sweep.
#[derive(Clone, Copy)]
struct Taker {
    id: OrderId,
    account: AccountId,
    side: Side,
    kind: OrderType,
    price: Price,
    client_id: ClientOrderId,
}

impl Engine {
    pub fn new(config: MarketConfig) -> Result<Self, ExchangeError> {
        let config = config.validated()?;
        Ok(Engine {
            lookup: BookTable::new(&config.calendar, &config.zones),
            config,
            now_ms: i64::MIN,
            next_order_id: 1,
            next_trade_id: 1,
            by_key: BTreeMap::new(),
            last_book: None,
            books: Vec::new(),
            slab: Slab::default(),
            free_books: Vec::new(),
            index: OrderIndex::default(),
            escrow: FixedMap::default(),
            client_ids: FixedMap::default(),
            next_gate_ms: i64::MAX,
            hits: Vec::new(),
        })
    }

    pub fn config(&self) -> &MarketConfig {
        &self.config
    }

    /// The latest instant the engine has seen.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Applies one command and returns the events it caused, in order.
    pub fn execute(&mut self, cmd: &Command, checks: &impl PreTrade) -> Vec<Event> {
        let mut out = Vec::new();
        self.execute_into(cmd, checks, &mut out);
        out
    }

    /// Like [`execute`](Self::execute) but appends to `out`, so a hot loop can reuse one buffer.
    pub fn execute_into(&mut self, cmd: &Command, checks: &impl PreTrade, out: &mut Vec<Event>) {
        self.advance_to(cmd.now_ms, out);
        match cmd.action {
            Action::Submit(order) => self.submit(order, checks, out),
            Action::Cancel { account, order_id } => self.cancel(account, order_id, out),
            Action::Modify {
                account,
                order_id,
                price,
                qty,
            } => self.modify(account, order_id, price, qty, checks, out),
            Action::AdvanceTime => {}
        }
    }

    /// Moves time to `now_ms` (never backwards) and closes every book whose gate has passed.
    pub fn advance_time(&mut self, now_ms: i64) -> Vec<Event> {
        let mut out = Vec::new();
        self.advance_to(now_ms, &mut out);
        out
    }

    fn advance_to(&mut self, now_ms: i64, out: &mut Vec<Event>) {
        if now_ms > self.now_ms {
            self.now_ms = now_ms;
        }
        if self.now_ms >= self.next_gate_ms {
            self.close_due(out);
        }
    }

    fn close_due(&mut self, out: &mut Vec<Event>) {
        let cal = self.config.calendar;
        let mut closed = Vec::new();
        while let Some((&key, &bi)) = self.by_key.first_key_value() {
            let gate = cal.gate_closure(key.slot);
            if self.now_ms < gate {
                break;
            }
            self.by_key.remove(&key);
            self.lookup.remove(&key);
            self.last_book = None;
            let Some(mut book) = self.books[bi as usize].take() else {
                continue;
            };
            self.free_books.push(bi);
            closed.push(key);
            out.push(Event::BookClosed {
                zone: key.zone,
                slot: key.slot,
                at_ms: gate,
            });
            let mut orders = book.drain(&mut self.slab);
            orders.sort_unstable_by_key(|o| o.id);
            for o in orders {
                self.index.remove(o.id);
                self.release_escrow(o.account, order_escrow(o.side, o.price, o.remaining.0));
                out.push(Event::Expired {
                    order_id: o.id,
                    account: o.account,
                    remaining: o.remaining,
                });
            }
        }
        self.next_gate_ms = match self.by_key.first_key_value() {
            Some((k, _)) => cal.gate_closure(k.slot),
            None => i64::MAX,
        };
        if !closed.is_empty() {
            // `closed` is sorted: books close in key order. The result does not depend on the
            // order `retain` visits accounts in.
            self.client_ids.retain(|_, ids| {
                ids.release(&closed);
                !ids.is_empty()
            });
        }
    }

    fn reject(
        out: &mut Vec<Event>,
        order: Option<&NewOrder>,
        account: AccountId,
        id: Option<OrderId>,
        reason: ExchangeError,
    ) {
        out.push(Event::Rejected {
            account: Some(account),
            client_id: order.map(|o| o.client_id),
            order_id: id,
            reason,
        });
    }

    pub(crate) fn book_index(&self, key: &BookKey) -> Option<u32> {
        self.lookup.get(key)
    }

    fn find_book(&mut self, key: BookKey) -> Option<u32> {
        if let Some((k, bi)) = self.last_book {
            if k == key {
                return Some(bi);
            }
        }
        let found = self.lookup.get(&key);
        if let Some(bi) = found {
            self.last_book = Some((key, bi));
        }
        found
    }

    pub(crate) fn book_mut(&mut self, bi: u32) -> &mut Book {
        match self.books[bi as usize].as_mut() {
            Some(b) => b,
            None => unreachable_book(),
        }
    }

    /// A book and the order slab together, for the operations that need both.
    pub(crate) fn book_and_slab(&mut self, bi: u32) -> (&mut Book, &mut Slab) {
        match self.books[bi as usize].as_mut() {
            Some(b) => (b, &mut self.slab),
            None => unreachable_book(),
        }
    }

    pub(crate) fn book_ref(&self, bi: u32) -> &Book {
        match self.books[bi as usize].as_ref() {
            Some(b) => b,
            None => unreachable_book(),
        }
    }

    fn open_book(&mut self, key: BookKey) -> u32 {
        if let Some(bi) = self.book_index(&key) {
            return bi;
        }
        let book = Book::new(key);
        let bi = match self.free_books.pop() {
            Some(i) => {
                self.books[i as usize] = Some(book);
                i
            }
            None => {
                self.books.push(Some(book));
                (self.books.len() - 1) as u32
            }
        };
        self.by_key.insert(key, bi);
        self.lookup.insert(key, bi);
        self.next_gate_ms = self
            .next_gate_ms
            .min(self.config.calendar.gate_closure(key.slot));
        bi
    }

    fn check_slot(&self, zone: ZoneId, slot: SlotId) -> Result<(), ExchangeError> {
        let cal = &self.config.calendar;
        if !self.config.has_zone(zone) {
            return Err(ExchangeError::UnknownZone(zone));
        }
        if !cal.is_aligned(slot) {
            return Err(ExchangeError::UnknownSlot(slot));
        }
        if self.now_ms >= cal.gate_closure(slot) {
            return Err(ExchangeError::SlotClosed {
                slot,
                closed_at_ms: cal.gate_closure(slot),
            });
        }
        if self.now_ms < cal.opens_at(slot) {
            return Err(ExchangeError::SlotNotYetOpen {
                slot,
                opens_at_ms: cal.opens_at(slot),
            });
        }
        Ok(())
    }

    /// Every check a new order must pass, in a fixed order; nothing is mutated.
    /// `bi` is the order's book if it exists already.
    fn validate_new(
        &self,
        o: &NewOrder,
        bi: Option<u32>,
        checks: &impl PreTrade,
    ) -> Result<(), ExchangeError> {
        self.config.check_qty(o.qty)?;
        self.config
            .check_price(o.price, o.kind != OrderType::Market)?;
        let key = BookKey {
            slot: o.slot,
            zone: o.zone,
        };
        if bi.is_none() {
            // An existing book is open by construction: books are created only for open slots
            // and removed as soon as their gate passes (time was advanced before this check).
            self.check_slot(o.zone, o.slot)?;
        }
        let book = bi.map(|bi| self.book_ref(bi));
        if self
            .client_ids
            .get(&o.account)
            .is_some_and(|r| r.contains(o.client_id.0))
        {
            return Err(ExchangeError::DuplicateClientOrderId);
        }
        match o.side {
            Side::Buy => self.check_funds(o.account, escrow_for(o.price, o.qty.0), checks)?,
            Side::Sell => {
                let committed = book.map_or(0, |b| b.sell_committed.get(o.account));
                self.check_capacity(o.account, key, committed, o.qty.0, checks)?;
                self.check_funds(o.account, order_escrow(o.side, o.price, o.qty.0), checks)?;
            }
        }
        match o.kind {
            OrderType::PostOnly if book.is_some_and(|b| b.would_cross(o.side, o.price)) => {
                Err(ExchangeError::WouldCross)
            }
            OrderType::Fok => {
                let available = book.map_or(0, |b| {
                    b.fillable(&self.slab, o.side, o.price, o.account, o.qty.0)
                });
                if available < o.qty.0 {
                    Err(ExchangeError::FokNotFillable {
                        qty: o.qty.0,
                        available,
                    })
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    fn submit(&mut self, o: NewOrder, checks: &impl PreTrade, out: &mut Vec<Event>) {
        let key = BookKey {
            slot: o.slot,
            zone: o.zone,
        };
        let found = self.find_book(key);
        if let Err(reason) = self.validate_new(&o, found, checks) {
            return Self::reject(out, Some(&o), o.account, None, reason);
        }
        let bi = match found {
            Some(bi) => bi,
            None => self.open_book(key),
        };
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        out.push(Event::Accepted {
            order_id: id,
            order: o,
        });
        self.client_ids
            .entry(o.account)
            .or_default()
            .insert(o.client_id.0, key);
        let book = self.book_mut(bi);
        if o.side == Side::Sell {
            book.sell_committed.add(o.account, o.qty.0);
        }
        self.add_escrow(o.account, order_escrow(o.side, o.price, o.qty.0));
        let taker = Taker {
            id,
            account: o.account,
            side: o.side,
            kind: o.kind,
            price: o.price,
            client_id: o.client_id,
        };
        self.enter(bi, taker, o.qty.0, out);
    }

    /// Sweeps the book with an order whose commitments (escrow or capacity for `qty`) are already
    /// booked, then rests or cancels what is left and settles those commitments.
    fn enter(&mut self, bi: u32, t: Taker, qty: u64, out: &mut Vec<Event>) {
        let mut hits = std::mem::take(&mut self.hits);
        hits.clear();
        let (book, slab) = self.book_and_slab(bi);
        let left = book.sweep(slab, t.side, t.price, t.account, qty, &mut hits);
        let key = book.key;
        for hit in hits.iter() {
            match *hit {
                Hit::Fill {
                    maker,
                    qty: q,
                    remaining,
                } => {
                    let tid = TradeId(self.next_trade_id);
                    self.next_trade_id += 1;
                    let before = order_escrow(maker.side, maker.price, remaining + q);
                    self.release_escrow(
                        maker.account,
                        before - order_escrow(maker.side, maker.price, remaining),
                    );
                    if remaining == 0 {
                        self.index.remove(maker.id);
                    }
                    out.push(Event::Trade(Trade {
                        id: tid,
                        zone: key.zone,
                        slot: key.slot,
                        at_ms: self.now_ms,
                        price: maker.price,
                        qty: Wh(q),
                        value: trade_value(maker.price, q),
                        maker_order: maker.id,
                        maker_account: maker.account,
                        maker_remaining: Wh(remaining),
                        taker_order: t.id,
                        taker_account: t.account,
                        taker_side: t.side,
                    }));
                }
                Hit::SelfTrade { maker } => {
                    self.index.remove(maker.id);
                    self.drop_commitment(bi, &maker, maker.remaining.0);
                    out.push(Event::Cancelled {
                        order_id: maker.id,
                        account: maker.account,
                        remaining: maker.remaining,
                        reason: CancelReason::SelfTrade,
                    });
                }
            }
        }
        self.hits = hits;
        // The taker's escrow was booked for `qty` at its limit; keep what the rest needs.
        let rests = left > 0 && t.kind.rests();
        let keep = if rests {
            order_escrow(t.side, t.price, left)
        } else {
            0
        };
        self.release_escrow(t.account, order_escrow(t.side, t.price, qty) - keep);
        if left == 0 {
            return;
        }
        if rests {
            let order = RestingOrder {
                id: t.id,
                account: t.account,
                client_id: t.client_id,
                side: t.side,
                kind: t.kind,
                price: t.price,
                remaining: Wh(left),
            };
            let (book, slab) = self.book_and_slab(bi);
            let node = book.insert(slab, order);
            self.index.insert(t.id, Loc { book: bi, node });
        } else {
            if t.side == Side::Sell {
                self.uncommit_sell(bi, t.account, left);
            }
            out.push(Event::Cancelled {
                order_id: t.id,
                account: t.account,
                remaining: Wh(left),
                reason: CancelReason::Unfilled,
            });
        }
    }

    fn uncommit_sell(&mut self, bi: u32, account: AccountId, qty: u64) {
        self.book_mut(bi).sell_committed.sub(account, qty);
    }

    /// Releases what a resting order held for `qty` of its remaining quantity.
    fn drop_commitment(&mut self, bi: u32, o: &RestingOrder, qty: u64) {
        let held = order_escrow(o.side, o.price, o.remaining.0);
        let after = order_escrow(o.side, o.price, o.remaining.0 - qty);
        self.release_escrow(o.account, held - after);
        if o.side == Side::Sell {
            self.uncommit_sell(bi, o.account, qty);
        }
    }

    fn locate(&self, account: AccountId, order_id: OrderId) -> Result<Loc, ExchangeError> {
        let loc = self
            .index
            .get(order_id)
            .ok_or(ExchangeError::UnknownOrder(order_id))?;
        if self.slab.get(loc.node).account != account {
            return Err(ExchangeError::NotOwner(order_id));
        }
        Ok(loc)
    }

    fn cancel(&mut self, account: AccountId, order_id: OrderId, out: &mut Vec<Event>) {
        let Some(loc) = self.index.get(order_id) else {
            return Self::reject(
                out,
                None,
                account,
                Some(order_id),
                ExchangeError::UnknownOrder(order_id),
            );
        };
        if self.slab.get(loc.node).account != account {
            return Self::reject(
                out,
                None,
                account,
                Some(order_id),
                ExchangeError::NotOwner(order_id),
            );
        }
        self.index.remove(order_id);
        let (book, slab) = self.book_and_slab(loc.book);
        let o = book.remove(slab, loc.node);
        self.drop_commitment(loc.book, &o, o.remaining.0);
        out.push(Event::Cancelled {
            order_id,
            account,
            remaining: o.remaining,
            reason: CancelReason::Requested,
        });
    }

    fn modify(
        &mut self,
        account: AccountId,
        order_id: OrderId,
        price: Price,
        qty: Wh,
        checks: &impl PreTrade,
        out: &mut Vec<Event>,
    ) {
        let checked = self.locate(account, order_id).and_then(|loc| {
            self.config.check_qty(qty)?;
            self.config.check_price(price, true)?;
            let book = self.book_ref(loc.book);
            let o = *self.slab.get(loc.node);
            if price == o.price && qty <= o.remaining {
                return if qty == o.remaining {
                    Err(ExchangeError::NoChange)
                } else {
                    Ok((loc, o, true))
                };
            }
            if o.side == Side::Sell {
                let committed = book.sell_committed.get(account);
                let others = committed.saturating_sub(o.remaining.0);
                self.check_capacity(account, book.key, others, qty.0, checks)?;
            }
            let extra =
                order_escrow(o.side, price, qty.0) - order_escrow(o.side, o.price, o.remaining.0);
            self.check_funds(account, extra, checks)?;
            if o.kind == OrderType::PostOnly && book.would_cross(o.side, price) {
                return Err(ExchangeError::WouldCross);
            }
            Ok((loc, o, false))
        });
        let (loc, o, keeps_priority) = match checked {
            Ok(v) => v,
            Err(reason) => return Self::reject(out, None, account, Some(order_id), reason),
        };
        if keeps_priority {
            self.drop_commitment(loc.book, &o, o.remaining.0 - qty.0);
            self.slab.reduce(loc.node, qty.0);
            out.push(Event::Reduced {
                order_id,
                account,
                remaining: qty,
            });
            return;
        }
        // Replace: out of the queue, commitments re-booked for the new terms, then in as new.
        let (book, slab) = self.book_and_slab(loc.book);
        book.remove(slab, loc.node);
        self.index.remove(order_id);
        self.drop_commitment(loc.book, &o, o.remaining.0);
        if o.side == Side::Sell {
            self.book_mut(loc.book).sell_committed.add(account, qty.0);
        }
        self.add_escrow(account, order_escrow(o.side, price, qty.0));
        out.push(Event::Replaced {
            order_id,
            account,
            price,
            qty,
        });
        let taker = Taker {
            id: order_id,
            account,
            side: o.side,
            kind: o.kind,
            price,
            client_id: o.client_id,
        };
        self.enter(loc.book, taker, qty.0, out);
    }
}

/// `by_key` and `index` only ever point at live books; reaching an empty slot is a bug in this
/// module, not something input can cause.
#[cold]
pub(crate) fn unreachable_book() -> ! {
    unreachable!("engine index points at a closed book")
}
