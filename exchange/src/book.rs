//! One order book: two sides of price levels in price-time priority.
//!
//! Each side is a `Vec` of levels sorted so the best price is at the end: the best level is
//! `last()`, a level emptied by matching is a `pop()`, and a new best price is a `push()`. A
//! community book has tens of levels, so binary search plus the occasional short shift beats a
//! tree and never allocates once warm. The orders of a level form an intrusive doubly linked
//! FIFO through a [`Slab`] shared by all books, so a cancel or reduce anywhere in a queue is O(1)
//! once the slab index is known, matching only ever touches the head of the best level, and a
//! new order lands in recently freed (cache-warm) memory whichever book it goes to. The book
//! knows nothing of accounts' money; the engine does that bookkeeping from the [`Hit`]s a sweep
//! reports.

use serde::{Deserialize, Serialize};

use crate::commitments::SellCommitments;
use crate::order::{AccountId, BookKey, ClientOrderId, OrderId, OrderType, Price, Side, Wh};

const NIL: u32 = u32::MAX;

/// An order resting in a book, as views and snapshots show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestingOrder {
    pub id: OrderId,
    pub account: AccountId,
    pub client_id: ClientOrderId,
    pub side: Side,
    pub kind: OrderType,
    pub price: Price,
    pub remaining: Wh,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    order: RestingOrder,
    prev: u32,
    next: u32,
}

/// Nodes per chunk of the slab.
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// Storage for the resting orders of every book, with a free list. Chunked: it grows a chunk
/// of [`CHUNK`] nodes at a time and never moves a node, where one `Vec` of nodes would copy all
/// of them each time it doubles (the largest single
/// command in the `resting_growth` bench, up to 15 ms, was mostly at 262,144 resting orders).
#[derive(Debug, Clone, Default)]
pub(crate) struct Slab {
    chunks: Vec<Vec<Node>>,
    free: Vec<u32>,
}

impl std::ops::Index<u32> for Slab {
    type Output = Node;

    #[inline]
    fn index(&self, idx: u32) -> &Node {
        &self.chunks[(idx >> CHUNK_BITS) as usize][idx as usize & (CHUNK - 1)]
    }
}

impl std::ops::IndexMut<u32> for Slab {
    #[inline]
    fn index_mut(&mut self, idx: u32) -> &mut Node {
        &mut self.chunks[(idx >> CHUNK_BITS) as usize][idx as usize & (CHUNK - 1)]
    }
}

impl Slab {
    fn alloc(&mut self, order: RestingOrder) -> u32 {
        let node = Node {
            order,
            prev: NIL,
            next: NIL,
        };
        if let Some(i) = self.free.pop() {
            self[i] = node;
            return i;
        }
        let chunks = self.chunks.len();
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => {
                chunk.push(node);
                ((chunks - 1) * CHUNK + chunk.len() - 1) as u32
            }
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(node);
                self.chunks.push(chunk);
                (chunks * CHUNK) as u32
            }
        }
    }

    pub(crate) fn get(&self, idx: u32) -> &RestingOrder {
        &self[idx].order
    }

    /// Lowers the remaining quantity in place: the order keeps its place in the queue.
    pub(crate) fn reduce(&mut self, idx: u32, remaining: u64) {
        self[idx].order.remaining = Wh(remaining);
    }
}

#[derive(Debug, Clone, Copy)]
struct Level {
    price: i64,
    head: u32,
    tail: u32,
}

/// What happened to one resting order while an incoming order swept the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hit {
    /// The resting order traded `qty` at its own price and has `remaining` left.
    Fill {
        maker: RestingOrder,
        qty: u64,
        remaining: u64,
    },
    /// The resting order belonged to the incoming order's account and was cancelled
    /// (self-trade prevention, "cancel resting"); `maker.remaining` is what was cancelled.
    SelfTrade { maker: RestingOrder },
}

#[derive(Debug, Clone)]
pub(crate) struct Book {
    pub(crate) key: BookKey,
    /// Ascending by price: best bid last.
    bids: Vec<Level>,
    /// Descending by price: best ask last.
    asks: Vec<Level>,
    live: usize,
    /// Per seller: Wh resting plus Wh already sold here (what sell capacity is checked against).
    pub(crate) sell_committed: SellCommitments,
}

/// Position of `price` among `levels` of `side` (sorted best-last).
#[inline]
fn find(levels: &[Level], side: Side, price: i64) -> Result<usize, usize> {
    if let Some(last) = levels.last() {
        if last.price == price {
            return Ok(levels.len() - 1);
        }
    }
    match side {
        Side::Buy => levels.binary_search_by(|l| l.price.cmp(&price)),
        Side::Sell => levels.binary_search_by(|l| price.cmp(&l.price)),
    }
}

impl Book {
    pub(crate) fn new(key: BookKey) -> Self {
        Book {
            key,
            bids: Vec::new(),
            asks: Vec::new(),
            live: 0,
            sell_committed: SellCommitments::default(),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn best(&self, side: Side) -> Option<Price> {
        let levels = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        levels.last().map(|l| Price(l.price))
    }

    /// Whether an order on `side` limited at `limit` would meet the opposite side.
    pub(crate) fn would_cross(&self, side: Side, limit: Price) -> bool {
        self.best(side.opposite())
            .is_some_and(|b| side.crosses(limit, b))
    }

    /// Appends an order at the back of its price level; returns its slab index.
    pub(crate) fn insert(&mut self, slab: &mut Slab, order: RestingOrder) -> u32 {
        let idx = slab.alloc(order);
        let levels = match order.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        match find(levels, order.side, order.price.0) {
            Ok(i) => {
                let level = &mut levels[i];
                slab[level.tail].next = idx;
                slab[idx].prev = level.tail;
                level.tail = idx;
            }
            Err(i) => levels.insert(
                i,
                Level {
                    price: order.price.0,
                    head: idx,
                    tail: idx,
                },
            ),
        }
        self.live += 1;
        idx
    }

    /// Unlinks the order at `idx`, frees its slab slot and returns it.
    pub(crate) fn remove(&mut self, slab: &mut Slab, idx: u32) -> RestingOrder {
        let Node { order, prev, next } = slab[idx].clone();
        let levels = match order.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        if prev != NIL {
            slab[prev].next = next;
        }
        if next != NIL {
            slab[next].prev = prev;
        }
        if let Ok(i) = find(levels, order.side, order.price.0) {
            let level = &mut levels[i];
            if level.head == idx {
                level.head = next;
            }
            if level.tail == idx {
                level.tail = prev;
            }
            if level.head == NIL {
                levels.remove(i);
            }
        }
        slab.free.push(idx);
        self.live -= 1;
        order
    }

    /// Quantity an order from `account` on `side` limited at `limit` could fill now, counting at
    /// most `want`. The account's own resting orders do not count: they would be cancelled.
    pub(crate) fn fillable(
        &self,
        slab: &Slab,
        side: Side,
        limit: Price,
        account: AccountId,
        want: u64,
    ) -> u64 {
        let levels = match side {
            Side::Buy => &self.asks,
            Side::Sell => &self.bids,
        };
        let mut got = 0u64;
        for level in levels.iter().rev() {
            if !side.crosses(limit, Price(level.price)) {
                break;
            }
            let mut i = level.head;
            while i != NIL {
                let n = &slab[i];
                if n.order.account != account {
                    got = got.saturating_add(n.order.remaining.0);
                    if got >= want {
                        return want;
                    }
                }
                i = n.next;
            }
        }
        got
    }

    /// Sweeps the opposite side for an incoming order and reports every resting order touched,
    /// in the order touched. Returns the incoming order's unfilled quantity.
    pub(crate) fn sweep(
        &mut self,
        slab: &mut Slab,
        side: Side,
        limit: Price,
        account: AccountId,
        mut qty: u64,
        hits: &mut Vec<Hit>,
    ) -> u64 {
        let levels = match side {
            Side::Buy => &mut self.asks,
            Side::Sell => &mut self.bids,
        };
        while qty > 0 {
            let Some(level) = levels.last_mut() else {
                break;
            };
            if !side.crosses(limit, Price(level.price)) {
                break;
            }
            while qty > 0 && level.head != NIL {
                let idx = level.head;
                let node = &mut slab[idx];
                let done = if node.order.account == account {
                    hits.push(Hit::SelfTrade { maker: node.order });
                    true
                } else {
                    let fill = qty.min(node.order.remaining.0);
                    qty -= fill;
                    node.order.remaining.0 -= fill;
                    let remaining = node.order.remaining.0;
                    hits.push(Hit::Fill {
                        maker: node.order,
                        qty: fill,
                        remaining,
                    });
                    remaining == 0
                };
                if done {
                    let next = node.next;
                    level.head = next;
                    if next == NIL {
                        level.tail = NIL;
                    } else {
                        slab[next].prev = NIL;
                    }
                    slab.free.push(idx);
                    self.live -= 1;
                }
            }
            if level.head == NIL {
                levels.pop();
            }
        }
        qty
    }

    /// Orders of one side in priority order (best price first, then time).
    pub(crate) fn side_orders(&self, slab: &Slab, side: Side) -> Vec<RestingOrder> {
        let levels = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        let mut out = Vec::new();
        for level in levels.iter().rev() {
            let mut i = level.head;
            while i != NIL {
                let n = &slab[i];
                out.push(n.order);
                i = n.next;
            }
        }
        out
    }

    /// Slab indices of every resting order.
    pub(crate) fn indices(&self, slab: &Slab) -> Vec<(OrderId, u32)> {
        let mut out = Vec::with_capacity(self.live);
        for levels in [&self.bids, &self.asks] {
            for level in levels {
                let mut i = level.head;
                while i != NIL {
                    let n = &slab[i];
                    out.push((n.order.id, i));
                    i = n.next;
                }
            }
        }
        out
    }

    /// Empties the book, freeing its slab slots; returns its orders.
    pub(crate) fn drain(&mut self, slab: &mut Slab) -> Vec<RestingOrder> {
        let all = self.indices(slab);
        let out = all.iter().map(|(_, i)| *slab.get(*i)).collect();
        slab.free.extend(all.iter().map(|(_, i)| *i));
        self.bids.clear();
        self.asks.clear();
        self.live = 0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{SlotId, ZoneId};

    fn key() -> BookKey {
        BookKey {
            slot: SlotId(0),
            zone: ZoneId(1),
        }
    }

    fn ro(id: u64, account: u64, side: Side, price: i64, qty: u64) -> RestingOrder {
        RestingOrder {
            id: OrderId(id),
            account: AccountId(account),
            client_id: ClientOrderId(id),
            side,
            kind: OrderType::Limit,
            price: Price(price),
            remaining: Wh(qty),
        }
    }

    /// Across chunk boundaries: every order stays where its index says, the price-time queue
    /// links survive, and freed slots are reused before a new chunk is started.
    #[test]
    fn a_queue_spanning_several_slab_chunks_keeps_its_order() {
        let mut b = Book::new(key());
        let mut s = Slab::default();
        let n = 3 * CHUNK as u64 + 17;
        let idx: Vec<u32> = (1..=n)
            .map(|id| b.insert(&mut s, ro(id, id, Side::Sell, 10 + (id % 3) as i64, 1)))
            .collect();
        for (i, &x) in idx.iter().enumerate() {
            assert_eq!(s.get(x).id, OrderId(i as u64 + 1));
        }
        for &x in idx.iter().step_by(2) {
            b.remove(&mut s, x);
        }
        let chunks = s.chunks.len();
        let again: Vec<u32> = (n + 1..=n + n / 2)
            .map(|id| b.insert(&mut s, ro(id, id, Side::Sell, 10, 1)))
            .collect();
        assert_eq!(s.chunks.len(), chunks, "freed slots are reused first");
        assert!(again.iter().all(|&x| s.get(x).id.0 > n));
        let orders = b.side_orders(&s, Side::Sell);
        assert_eq!(orders.len() as u64, n - n.div_ceil(2) + n / 2);
        // Best price first, then arrival: each level's ids ascend.
        for pair in orders.windows(2) {
            let (a, c) = (&pair[0], &pair[1]);
            assert!(a.price < c.price || (a.price == c.price && a.id < c.id));
        }
    }

    #[test]
    fn sweep_takes_best_price_then_oldest() {
        let mut b = Book::new(key());
        let mut s = Slab::default();
        b.insert(&mut s, ro(1, 1, Side::Sell, 11, 5));
        b.insert(&mut s, ro(2, 2, Side::Sell, 10, 5));
        b.insert(&mut s, ro(3, 3, Side::Sell, 10, 5));
        let mut hits = Vec::new();
        let left = b.sweep(&mut s, Side::Buy, Price(11), AccountId(9), 12, &mut hits);
        assert_eq!(left, 0);
        let ids: Vec<_> = hits
            .iter()
            .map(|h| match h {
                Hit::Fill { maker, qty, .. } => (maker.id.0, *qty),
                Hit::SelfTrade { .. } => (0, 0),
            })
            .collect();
        assert_eq!(ids, vec![(2, 5), (3, 5), (1, 2)]);
        assert_eq!(b.len(), 1);
        assert_eq!(b.side_orders(&s, Side::Sell)[0].remaining, Wh(3));
    }

    #[test]
    fn sweep_stops_at_limit_and_cancels_own_resting_orders() {
        let mut b = Book::new(key());
        let mut s = Slab::default();
        b.insert(&mut s, ro(1, 7, Side::Buy, 10, 5));
        b.insert(&mut s, ro(2, 8, Side::Buy, 10, 5));
        b.insert(&mut s, ro(3, 8, Side::Buy, 8, 5));
        let mut hits = Vec::new();
        let left = b.sweep(&mut s, Side::Sell, Price(9), AccountId(7), 20, &mut hits);
        assert_eq!(left, 15);
        assert!(matches!(hits[0], Hit::SelfTrade { maker } if maker.id == OrderId(1)));
        assert!(matches!(
            hits[1],
            Hit::Fill {
                qty: 5,
                remaining: 0,
                ..
            }
        ));
        assert_eq!(
            b.side_orders(&s, Side::Buy)
                .iter()
                .map(|o| o.id.0)
                .collect::<Vec<_>>(),
            vec![3]
        );
    }

    #[test]
    fn remove_from_middle_keeps_fifo_links() {
        let mut b = Book::new(key());
        let mut s = Slab::default();
        let _a = b.insert(&mut s, ro(1, 1, Side::Buy, 10, 1));
        let m = b.insert(&mut s, ro(2, 2, Side::Buy, 10, 1));
        let _c = b.insert(&mut s, ro(3, 3, Side::Buy, 10, 1));
        b.remove(&mut s, m);
        let reused = b.insert(&mut s, ro(4, 4, Side::Buy, 10, 1));
        assert_eq!(reused, m, "freed slab slot is reused");
        let ids: Vec<_> = b
            .side_orders(&s, Side::Buy)
            .iter()
            .map(|o| o.id.0)
            .collect();
        assert_eq!(ids, vec![1, 3, 4]);
        assert_eq!(b.best(Side::Buy), Some(Price(10)));
        let drained = b.drain(&mut s);
        assert_eq!(drained.len(), 3);
        assert_eq!(b.len(), 0);
        assert_eq!(b.best(Side::Buy), None);
        assert_eq!(s.free.len(), 3, "all slots back on the free list");
    }

    #[test]
    fn fillable_ignores_own_orders_and_respects_limit() {
        let mut b = Book::new(key());
        let mut s = Slab::default();
        b.insert(&mut s, ro(1, 1, Side::Sell, 10, 4));
        b.insert(&mut s, ro(2, 2, Side::Sell, 10, 4));
        b.insert(&mut s, ro(3, 3, Side::Sell, 12, 4));
        assert_eq!(b.fillable(&s, Side::Buy, Price(10), AccountId(1), 100), 4);
        assert_eq!(b.fillable(&s, Side::Buy, Price(12), AccountId(9), 100), 12);
        assert_eq!(b.fillable(&s, Side::Buy, Price(12), AccountId(9), 5), 5);
        assert_eq!(b.fillable(&s, Side::Buy, Price(9), AccountId(9), 5), 0);
    }
}
