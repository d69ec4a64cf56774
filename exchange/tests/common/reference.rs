//! A deliberately simple reference matcher: one flat `Vec` of resting orders, best
//! counter-order by linear scan, escrow and seller commitments recomputed from their definitions
//! on every use. Slow and obvious, so the engine can be checked against it.

use std::collections::{BTreeMap, BTreeSet};

use exchange::*;

use super::Limits;

#[derive(Debug, Clone, Copy)]
struct RefOrder {
    o: RestingOrder,
    book: BookKey,
    seq: u64,
}

pub struct Reference {
    cfg: MarketConfig,
    now: i64,
    next_id: u64,
    next_trade: u64,
    next_seq: u64,
    books: BTreeSet<BookKey>,
    resting: Vec<RefOrder>,
    /// (account, client id) → book it was used in, while that book is open.
    used: BTreeMap<(AccountId, ClientOrderId), BookKey>,
    sold: BTreeMap<(AccountId, BookKey), u64>,
}

impl Reference {
    pub fn new(cfg: MarketConfig) -> Self {
        Reference {
            cfg,
            now: i64::MIN,
            next_id: 1,
            next_trade: 1,
            next_seq: 0,
            books: BTreeSet::new(),
            resting: Vec::new(),
            used: BTreeMap::new(),
            sold: BTreeMap::new(),
        }
    }

    fn escrow_held(&self, a: AccountId) -> i128 {
        self.resting
            .iter()
            .filter(|r| r.o.account == a)
            .map(|r| order_escrow(r.o.side, r.o.price, r.o.remaining.0))
            .sum()
    }

    fn committed(&self, a: AccountId, book: BookKey) -> u64 {
        let open: u64 = self
            .resting
            .iter()
            .filter(|r| r.o.account == a && r.book == book && r.o.side == Side::Sell)
            .map(|r| r.o.remaining.0)
            .sum();
        open + self.sold.get(&(a, book)).copied().unwrap_or(0)
    }

    /// Index of the best order on `side` of `book`: best price, then earliest sequence.
    fn best(&self, book: BookKey, side: Side) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, r) in self.resting.iter().enumerate() {
            if r.book != book || r.o.side != side {
                continue;
            }
            let better = match best {
                None => true,
                Some(j) => {
                    let b = &self.resting[j];
                    let price_better = match side {
                        Side::Buy => r.o.price > b.o.price,
                        Side::Sell => r.o.price < b.o.price,
                    };
                    price_better || (r.o.price == b.o.price && r.seq < b.seq)
                }
            };
            if better {
                best = Some(i);
            }
        }
        best
    }

    fn crosses_now(&self, book: BookKey, side: Side, limit: Price) -> bool {
        self.best(book, side.opposite())
            .is_some_and(|i| side.crosses(limit, self.resting[i].o.price))
    }

    fn fillable(&self, book: BookKey, side: Side, limit: Price, account: AccountId) -> u64 {
        self.resting
            .iter()
            .filter(|r| r.book == book && r.o.side == side.opposite() && r.o.account != account)
            .filter(|r| side.crosses(limit, r.o.price))
            .map(|r| r.o.remaining.0)
            .sum()
    }

    fn advance(&mut self, now: i64, out: &mut Vec<Event>) {
        self.now = self.now.max(now);
        let due: Vec<BookKey> = self
            .books
            .iter()
            .copied()
            .filter(|k| self.now >= self.cfg.calendar.gate_closure(k.slot))
            .collect();
        for k in due {
            self.books.remove(&k);
            out.push(Event::BookClosed {
                zone: k.zone,
                slot: k.slot,
                at_ms: self.cfg.calendar.gate_closure(k.slot),
            });
            let mut gone: Vec<RefOrder> = self
                .resting
                .iter()
                .copied()
                .filter(|r| r.book == k)
                .collect();
            gone.sort_by_key(|r| r.o.id);
            for r in gone {
                out.push(Event::Expired {
                    order_id: r.o.id,
                    account: r.o.account,
                    remaining: r.o.remaining,
                });
            }
            self.resting.retain(|r| r.book != k);
            self.used.retain(|_, b| *b != k);
            self.sold.retain(|(_, b), _| *b != k);
        }
    }

    fn check_funds(&self, a: AccountId, extra: i128, l: &Limits) -> Result<(), ExchangeError> {
        if extra <= 0 {
            return Ok(());
        }
        let free = l.available_funds(a).0 - self.escrow_held(a);
        if extra > free {
            return Err(ExchangeError::InsufficientFunds {
                needed: extra,
                available: free.max(0),
            });
        }
        Ok(())
    }

    fn check_capacity(
        &self,
        a: AccountId,
        book: BookKey,
        committed: u64,
        qty: u64,
        l: &Limits,
    ) -> Result<(), ExchangeError> {
        let cap = l
            .sell_capacity_wh(a, book.zone, book.slot)
            .ok_or(ExchangeError::NoCapacity)?
            .0;
        if committed + qty > cap {
            return Err(ExchangeError::CapacityExceeded {
                requested: qty,
                committed,
                capacity: cap,
            });
        }
        Ok(())
    }

    fn validate(&self, o: &NewOrder, l: &Limits) -> Result<(), ExchangeError> {
        let c = &self.cfg;
        if o.qty.0 == 0 {
            return Err(ExchangeError::ZeroQuantity);
        }
        if o.qty > c.max_order_qty {
            return Err(ExchangeError::QuantityTooLarge {
                qty: o.qty.0,
                max: c.max_order_qty.0,
            });
        }
        if o.price < c.min_price || o.price > c.max_price {
            return Err(ExchangeError::PriceOutOfBand {
                price: o.price,
                min: c.min_price,
                max: c.max_price,
            });
        }
        if o.kind != OrderType::Market && o.price.0 % c.tick != 0 {
            return Err(ExchangeError::OffTick {
                price: o.price,
                tick: c.tick,
            });
        }
        if !c.zones.contains(&o.zone) {
            return Err(ExchangeError::UnknownZone(o.zone));
        }
        if o.slot.0 % c.calendar.slot_len_ms() != 0 {
            return Err(ExchangeError::UnknownSlot(o.slot));
        }
        let gate = c.calendar.gate_closure(o.slot);
        if self.now >= gate {
            return Err(ExchangeError::SlotClosed {
                slot: o.slot,
                closed_at_ms: gate,
            });
        }
        if self.now < o.slot.0 - c.calendar.horizon_ms() {
            return Err(ExchangeError::SlotNotYetOpen {
                slot: o.slot,
                opens_at_ms: o.slot.0 - c.calendar.horizon_ms(),
            });
        }
        if self.used.contains_key(&(o.account, o.client_id)) {
            return Err(ExchangeError::DuplicateClientOrderId);
        }
        let book = BookKey {
            slot: o.slot,
            zone: o.zone,
        };
        match o.side {
            Side::Buy => self.check_funds(o.account, escrow_for(o.price, o.qty.0), l)?,
            Side::Sell => {
                self.check_capacity(o.account, book, self.committed(o.account, book), o.qty.0, l)?;
                self.check_funds(o.account, order_escrow(o.side, o.price, o.qty.0), l)?
            }
        }
        if o.kind == OrderType::PostOnly && self.crosses_now(book, o.side, o.price) {
            return Err(ExchangeError::WouldCross);
        }
        if o.kind == OrderType::Fok {
            let available = self.fillable(book, o.side, o.price, o.account).min(o.qty.0);
            if available < o.qty.0 {
                return Err(ExchangeError::FokNotFillable {
                    qty: o.qty.0,
                    available,
                });
            }
        }
        Ok(())
    }

    /// Matches an incoming order and rests or cancels the rest.
    fn enter(&mut self, book: BookKey, mut t: RestingOrder, out: &mut Vec<Event>) {
        while t.remaining.0 > 0 {
            let Some(i) = self.best(book, t.side.opposite()) else {
                break;
            };
            let m = self.resting[i].o;
            if !t.side.crosses(t.price, m.price) {
                break;
            }
            if m.account == t.account {
                self.resting.remove(i);
                out.push(Event::Cancelled {
                    order_id: m.id,
                    account: m.account,
                    remaining: m.remaining,
                    reason: CancelReason::SelfTrade,
                });
                continue;
            }
            let q = t.remaining.0.min(m.remaining.0);
            t.remaining.0 -= q;
            self.resting[i].o.remaining.0 -= q;
            let seller = if t.side == Side::Sell {
                t.account
            } else {
                m.account
            };
            *self.sold.entry((seller, book)).or_insert(0) += q;
            out.push(Event::Trade(Trade {
                id: TradeId(self.next_trade),
                zone: book.zone,
                slot: book.slot,
                at_ms: self.now,
                price: m.price,
                qty: Wh(q),
                value: Micros(m.price.0 as i128 * q as i128 / 1000),
                maker_order: m.id,
                maker_account: m.account,
                maker_remaining: Wh(m.remaining.0 - q),
                taker_order: t.id,
                taker_account: t.account,
                taker_side: t.side,
            }));
            self.next_trade += 1;
            if m.remaining.0 == q {
                self.resting.remove(i);
            }
        }
        if t.remaining.0 == 0 {
            return;
        }
        if t.kind.rests() {
            self.resting.push(RefOrder {
                o: t,
                book,
                seq: self.next_seq,
            });
            self.next_seq += 1;
        } else {
            out.push(Event::Cancelled {
                order_id: t.id,
                account: t.account,
                remaining: t.remaining,
                reason: CancelReason::Unfilled,
            });
        }
    }

    fn reject(
        out: &mut Vec<Event>,
        account: AccountId,
        client: Option<ClientOrderId>,
        id: Option<OrderId>,
        reason: ExchangeError,
    ) {
        out.push(Event::Rejected {
            account: Some(account),
            client_id: client,
            order_id: id,
            reason,
        });
    }

    fn find(&self, account: AccountId, id: OrderId) -> Result<usize, ExchangeError> {
        let i = self
            .resting
            .iter()
            .position(|r| r.o.id == id)
            .ok_or(ExchangeError::UnknownOrder(id))?;
        if self.resting[i].o.account != account {
            return Err(ExchangeError::NotOwner(id));
        }
        Ok(i)
    }

    pub fn execute(&mut self, cmd: &Command, l: &Limits) -> Vec<Event> {
        let mut out = Vec::new();
        self.advance(cmd.now_ms, &mut out);
        match cmd.action {
            Action::AdvanceTime => {}
            Action::Submit(o) => {
                if let Err(e) = self.validate(&o, l) {
                    Self::reject(&mut out, o.account, Some(o.client_id), None, e);
                    return out;
                }
                let book = BookKey {
                    slot: o.slot,
                    zone: o.zone,
                };
                self.books.insert(book);
                self.used.insert((o.account, o.client_id), book);
                let id = OrderId(self.next_id);
                self.next_id += 1;
                out.push(Event::Accepted {
                    order_id: id,
                    order: o,
                });
                let t = RestingOrder {
                    id,
                    account: o.account,
                    client_id: o.client_id,
                    side: o.side,
                    kind: o.kind,
                    price: o.price,
                    remaining: o.qty,
                };
                self.enter(book, t, &mut out);
            }
            Action::Cancel { account, order_id } => match self.find(account, order_id) {
                Err(e) => Self::reject(&mut out, account, None, Some(order_id), e),
                Ok(i) => {
                    let r = self.resting.remove(i);
                    out.push(Event::Cancelled {
                        order_id,
                        account,
                        remaining: r.o.remaining,
                        reason: CancelReason::Requested,
                    });
                }
            },
            Action::Modify {
                account,
                order_id,
                price,
                qty,
            } => {
                let checked = self.find(account, order_id).and_then(|i| {
                    let r = self.resting[i];
                    if qty.0 == 0 {
                        return Err(ExchangeError::ZeroQuantity);
                    }
                    if qty > self.cfg.max_order_qty {
                        return Err(ExchangeError::QuantityTooLarge {
                            qty: qty.0,
                            max: self.cfg.max_order_qty.0,
                        });
                    }
                    if price < self.cfg.min_price || price > self.cfg.max_price {
                        return Err(ExchangeError::PriceOutOfBand {
                            price,
                            min: self.cfg.min_price,
                            max: self.cfg.max_price,
                        });
                    }
                    if price.0 % self.cfg.tick != 0 {
                        return Err(ExchangeError::OffTick {
                            price,
                            tick: self.cfg.tick,
                        });
                    }
                    if price == r.o.price && qty == r.o.remaining {
                        return Err(ExchangeError::NoChange);
                    }
                    if price == r.o.price && qty < r.o.remaining {
                        return Ok((i, true));
                    }
                    match r.o.side {
                        Side::Buy => {
                            let extra =
                                escrow_for(price, qty.0) - escrow_for(r.o.price, r.o.remaining.0);
                            self.check_funds(account, extra, l)?;
                        }
                        Side::Sell => {
                            let others = self.committed(account, r.book) - r.o.remaining.0;
                            self.check_capacity(account, r.book, others, qty.0, l)?;
                            let extra = order_escrow(Side::Sell, price, qty.0)
                                - order_escrow(Side::Sell, r.o.price, r.o.remaining.0);
                            self.check_funds(account, extra, l)?;
                        }
                    }
                    if r.o.kind == OrderType::PostOnly && self.crosses_now(r.book, r.o.side, price)
                    {
                        return Err(ExchangeError::WouldCross);
                    }
                    Ok((i, false))
                });
                match checked {
                    Err(e) => Self::reject(&mut out, account, None, Some(order_id), e),
                    Ok((i, true)) => {
                        self.resting[i].o.remaining = qty;
                        out.push(Event::Reduced {
                            order_id,
                            account,
                            remaining: qty,
                        });
                    }
                    Ok((i, false)) => {
                        let r = self.resting.remove(i);
                        out.push(Event::Replaced {
                            order_id,
                            account,
                            price,
                            qty,
                        });
                        let t = RestingOrder {
                            price,
                            remaining: qty,
                            ..r.o
                        };
                        self.enter(r.book, t, &mut out);
                    }
                }
            }
        }
        out
    }

    /// Books as the engine's views show them: priority order per side.
    pub fn views(&self) -> Vec<(BookKey, Vec<RestingOrder>, Vec<RestingOrder>)> {
        self.books
            .iter()
            .map(|k| {
                let side = |s: Side| {
                    let mut v: Vec<RefOrder> = self
                        .resting
                        .iter()
                        .copied()
                        .filter(|r| r.book == *k && r.o.side == s)
                        .collect();
                    v.sort_by(|a, b| {
                        let by_price = match s {
                            Side::Buy => b.o.price.cmp(&a.o.price),
                            Side::Sell => a.o.price.cmp(&b.o.price),
                        };
                        by_price.then(a.seq.cmp(&b.seq))
                    });
                    v.into_iter().map(|r| r.o).collect::<Vec<_>>()
                };
                (*k, side(Side::Buy), side(Side::Sell))
            })
            .collect()
    }
}
