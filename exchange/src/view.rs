//! Read-only views of the engine's state: books, orders, escrow and seller commitments.

use crate::book::RestingOrder;
use crate::engine::Engine;
use crate::order::{AccountId, BookKey, Micros, OrderId, Price, Side, SlotId, Wh, ZoneId};

/// Both sides of one book in priority order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookView {
    pub zone: ZoneId,
    pub slot: SlotId,
    pub bids: Vec<RestingOrder>,
    pub asks: Vec<RestingOrder>,
}

impl Engine {
    /// Escrow this engine holds for `account` over all its resting buy orders.
    pub fn escrow_reserved(&self, account: AccountId) -> Micros {
        Micros(self.escrow_held(account))
    }

    /// Wh the seller has resting plus already sold in this book (what capacity is checked against).
    pub fn sell_committed(&self, account: AccountId, zone: ZoneId, slot: SlotId) -> Wh {
        let key = BookKey { slot, zone };
        Wh(self
            .book_index(&key)
            .map_or(0, |bi| self.book_ref(bi).sell_committed.get(account)))
    }

    /// Keys of every open book, next to close first.
    pub fn open_books(&self) -> Vec<BookKey> {
        self.by_key.keys().copied().collect()
    }

    pub fn book(&self, zone: ZoneId, slot: SlotId) -> Option<BookView> {
        let bi = self.book_index(&BookKey { slot, zone })?;
        let b = self.book_ref(bi);
        Some(BookView {
            zone,
            slot,
            bids: b.side_orders(&self.slab, Side::Buy),
            asks: b.side_orders(&self.slab, Side::Sell),
        })
    }

    /// Best bid and best ask of a book.
    pub fn best_prices(&self, zone: ZoneId, slot: SlotId) -> (Option<Price>, Option<Price>) {
        match self.book_index(&BookKey { slot, zone }) {
            Some(bi) => {
                let b = self.book_ref(bi);
                (b.best(Side::Buy), b.best(Side::Sell))
            }
            None => (None, None),
        }
    }

    /// A resting order by id.
    pub fn order(&self, order_id: OrderId) -> Option<RestingOrder> {
        let loc = self.index.get(order_id)?;
        Some(*self.slab.get(loc.node))
    }

    /// Number of resting orders over all books.
    pub fn resting_orders(&self) -> usize {
        self.index.len()
    }
}
