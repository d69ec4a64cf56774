//! Snapshot, restore and state hash.
//!
//! A snapshot is the canonical state: configuration, clock, id counters and every open book with
//! its orders in priority order, its used client ids and its sellers' committed Wh, all sorted.
//! Escrow totals are not stored: they are a function of the resting buy orders and are rebuilt.
//! The state hash is a 128-bit FNV-1a over a fixed binary walk of the snapshot, so it does not
//! depend on any serializer's formatting.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::book::{Book, RestingOrder, Slab};
use crate::book_table::BookTable;
use crate::client_ids::{ClientIds, Run};
use crate::config::MarketConfig;
use crate::engine::Engine;
use crate::error::ExchangeError;
use crate::fixed_hash::FixedMap;
use crate::order::{order_escrow, AccountId, BookKey, Side, Wh};
use crate::order_index::{Loc, OrderIndex};

pub const SNAPSHOT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub config: MarketConfig,
    pub now_ms: i64,
    pub next_order_id: u64,
    pub next_trade_id: u64,
    /// Sorted by key.
    pub books: Vec<BookSnapshot>,
}

/// Client order ids `first..=last` of one account, all used in one book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClientIdRun {
    pub first: u64,
    pub last: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookSnapshot {
    pub key: BookKey,
    /// Priority order: best price first, oldest first within a price.
    pub bids: Vec<RestingOrder>,
    pub asks: Vec<RestingOrder>,
    /// Client order ids used in this book, as maximal runs per account; sorted. An id appears in
    /// at most one book of a snapshot.
    pub client_ids: Vec<(AccountId, ClientIdRun)>,
    /// Sorted by account; zero entries omitted.
    pub sell_committed: Vec<(AccountId, Wh)>,
}

impl Engine {
    pub fn snapshot(&self) -> Snapshot {
        let mut used: BTreeMap<BookKey, Vec<(AccountId, ClientIdRun)>> = BTreeMap::new();
        for (a, ids) in &self.client_ids {
            for r in ids.runs() {
                used.entry(r.book).or_default().push((
                    *a,
                    ClientIdRun {
                        first: r.lo,
                        last: r.hi,
                    },
                ));
            }
        }
        let books = self
            .by_key
            .values()
            .filter_map(|bi| self.books[*bi as usize].as_ref())
            .map(|b| {
                let mut client_ids = used.remove(&b.key).unwrap_or_default();
                client_ids.sort_unstable();
                let mut sell_committed: Vec<_> = b
                    .sell_committed
                    .iter()
                    .filter(|(_, q)| *q > 0)
                    .map(|(a, q)| (a, Wh(q)))
                    .collect();
                sell_committed.sort_unstable();
                BookSnapshot {
                    key: b.key,
                    bids: b.side_orders(&self.slab, Side::Buy),
                    asks: b.side_orders(&self.slab, Side::Sell),
                    client_ids,
                    sell_committed,
                }
            })
            .collect();
        Snapshot {
            version: SNAPSHOT_VERSION,
            config: self.config.clone(),
            now_ms: self.now_ms,
            next_order_id: self.next_order_id,
            next_trade_id: self.next_trade_id,
            books,
        }
    }

    /// Rebuilds an engine from a snapshot, checking it is internally consistent first.
    pub fn restore(snap: &Snapshot) -> Result<Engine, ExchangeError> {
        let bad = |m: String| Err(ExchangeError::InvalidSnapshot(m));
        if snap.version != SNAPSHOT_VERSION {
            return bad(format!(
                "version {} not supported (expected {SNAPSHOT_VERSION})",
                snap.version
            ));
        }
        if [snap.next_order_id, snap.next_trade_id]
            .iter()
            .any(|n| *n == 0 || *n == u64::MAX)
        {
            return bad("id counters must lie between 1 and u64::MAX - 1".into());
        }
        let config = snap.config.clone().validated()?;
        if config != snap.config {
            return bad("zone list is not in canonical (sorted, unique) order".into());
        }
        let mut books = Vec::with_capacity(snap.books.len());
        let mut slab = Slab::default();
        let mut runs: BTreeMap<AccountId, Vec<Run>> = BTreeMap::new();
        let mut seen_ids = std::collections::BTreeSet::new();
        let mut prev_key: Option<BookKey> = None;
        for bs in &snap.books {
            if prev_key.is_some_and(|p| p >= bs.key) {
                return bad(format!("books not sorted by key at {:?}", bs.key));
            }
            prev_key = Some(bs.key);
            if !config.has_zone(bs.key.zone) || !config.calendar.is_aligned(bs.key.slot) {
                return bad(format!(
                    "book {:?} is not a zone and slot of this market",
                    bs.key
                ));
            }
            let mut book = Book::new(bs.key);
            for (side, orders) in [(Side::Buy, &bs.bids), (Side::Sell, &bs.asks)] {
                let mut last = None;
                for o in orders {
                    if o.side != side || !o.kind.rests() || o.remaining.0 == 0 {
                        return bad(format!("order {:?} cannot rest on the {side:?} side", o.id));
                    }
                    if o.id.0 == 0 || o.id.0 >= snap.next_order_id || !seen_ids.insert(o.id) {
                        return bad(format!(
                            "order id {:?} is duplicated or beyond the id counter",
                            o.id
                        ));
                    }
                    if let Err(e) = config.check_price(o.price, true) {
                        return bad(format!("order {:?}: {e}", o.id));
                    }
                    let worse = match (side, last) {
                        (Side::Buy, Some(p)) => o.price > p,
                        (Side::Sell, Some(p)) => o.price < p,
                        _ => false,
                    };
                    if worse {
                        return bad(format!("order {:?} is out of priority order", o.id));
                    }
                    last = Some(o.price);
                    book.insert(&mut slab, *o);
                }
            }
            if let (Some(b), Some(a)) = (book.best(Side::Buy), book.best(Side::Sell)) {
                if b >= a {
                    return bad(format!("book {:?} is crossed ({b:?} ≥ {a:?})", bs.key));
                }
            }
            if bs.client_ids.windows(2).any(|w| w[0] >= w[1]) {
                return bad(format!(
                    "client ids of book {:?} are not sorted and unique",
                    bs.key
                ));
            }
            for (a, r) in &bs.client_ids {
                runs.entry(*a).or_default().push(Run {
                    lo: r.first,
                    hi: r.last,
                    book: bs.key,
                });
            }
            let mut prev_account = None;
            for (a, q) in &bs.sell_committed {
                if prev_account.is_some_and(|p| p >= *a) {
                    return bad(format!(
                        "sell commitments of book {:?} not sorted by account",
                        bs.key
                    ));
                }
                prev_account = Some(*a);
                book.sell_committed.add(*a, q.0);
            }
            let mut open = std::collections::BTreeMap::<AccountId, u64>::new();
            for o in &bs.asks {
                *open.entry(o.account).or_insert(0) += o.remaining.0;
            }
            for (account, resting) in open {
                if book.sell_committed.get(account) < resting {
                    return bad(format!(
                        "seller {account:?} commits less than they have resting"
                    ));
                }
            }
            books.push(book);
        }
        let mut client_ids = FixedMap::default();
        for (a, r) in runs {
            match ClientIds::from_runs(r) {
                Some(ids) => client_ids.insert(a, ids),
                None => {
                    return bad(format!(
                        "client ids of {a:?} overlap or are not maximal runs"
                    ))
                }
            };
        }
        Ok(Engine::from_parts(
            config,
            (snap.now_ms, snap.next_order_id, snap.next_trade_id),
            books,
            slab,
            client_ids,
        ))
    }

    /// A 128-bit digest of the canonical state: equal for engines that will behave identically.
    pub fn state_hash(&self) -> u128 {
        let s = self.snapshot();
        let mut h = Fnv128::new();
        h.u64(s.version as u64);
        let c = &s.config;
        h.i64(c.calendar.slot_len_ms());
        h.i64(c.calendar.horizon_ms());
        h.i64(c.calendar.gate_lead_ms());
        h.u64(c.zones.len() as u64);
        for z in &c.zones {
            h.u64(z.0 as u64);
        }
        h.i64(c.tick);
        h.i64(c.min_price.0);
        h.i64(c.max_price.0);
        h.u64(c.max_order_qty.0);
        h.i64(s.now_ms);
        h.u64(s.next_order_id);
        h.u64(s.next_trade_id);
        h.u64(s.books.len() as u64);
        for b in &s.books {
            h.i64(b.key.slot.0);
            h.u64(b.key.zone.0 as u64);
            for side in [&b.bids, &b.asks] {
                h.u64(side.len() as u64);
                for o in side {
                    h.u64(o.id.0);
                    h.u64(o.account.0);
                    h.u64(o.client_id.0);
                    h.u64(o.side as u64);
                    h.u64(o.kind as u64);
                    h.i64(o.price.0);
                    h.u64(o.remaining.0);
                }
            }
            h.u64(b.client_ids.len() as u64);
            for (a, r) in &b.client_ids {
                h.u64(a.0);
                h.u64(r.first);
                h.u64(r.last);
            }
            h.u64(b.sell_committed.len() as u64);
            for (a, q) in &b.sell_committed {
                h.u64(a.0);
                h.u64(q.0);
            }
        }
        h.finish()
    }
}

impl Engine {
    /// Rebuilds the id index and escrow totals from the books (after a restore).
    pub(crate) fn rebuild_indexes(&mut self) {
        self.index.clear();
        self.escrow.clear();
        let mut escrow: BTreeMap<AccountId, i128> = BTreeMap::new();
        for (bi, slot) in self.books.iter().enumerate() {
            let Some(book) = slot else { continue };
            for (id, node) in book.indices(&self.slab) {
                self.index.insert(
                    id,
                    Loc {
                        book: bi as u32,
                        node,
                    },
                );
                let o = self.slab.get(node);
                let held = order_escrow(o.side, o.price, o.remaining.0);
                if held != 0 {
                    *escrow.entry(o.account).or_insert(0) += held;
                }
            }
        }
        for (a, e) in escrow {
            self.add_escrow(a, e);
        }
        self.next_gate_ms = match self.by_key.first_key_value() {
            Some((k, _)) => self.config.calendar.gate_closure(k.slot),
            None => i64::MAX,
        };
    }

    /// `clock` is (now_ms, next_order_id, next_trade_id).
    pub(crate) fn from_parts(
        config: MarketConfig,
        clock: (i64, u64, u64),
        books: Vec<Book>,
        slab: Slab,
        client_ids: FixedMap<AccountId, ClientIds>,
    ) -> Self {
        let (now_ms, next_order_id, next_trade_id) = clock;
        let mut by_key = BTreeMap::new();
        let mut lookup = BookTable::new(&config.calendar, &config.zones);
        let mut slots = Vec::with_capacity(books.len());
        for (i, b) in books.into_iter().enumerate() {
            by_key.insert(b.key, i as u32);
            lookup.insert(b.key, i as u32);
            slots.push(Some(b));
        }
        let mut e = Engine {
            config,
            now_ms,
            next_order_id,
            next_trade_id,
            by_key,
            lookup,
            last_book: None,
            books: slots,
            slab,
            free_books: Vec::new(),
            index: OrderIndex::default(),
            escrow: FixedMap::default(),
            client_ids,
            next_gate_ms: i64::MAX,
            hits: Vec::new(),
        };
        e.rebuild_indexes();
        e
    }
}

/// FNV-1a, 128-bit variant, fed whole little-endian integers.
struct Fnv128(u128);

impl Fnv128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013B;

    fn new() -> Self {
        Fnv128(Self::OFFSET)
    }

    fn bytes(&mut self, b: &[u8]) {
        for byte in b {
            self.0 ^= *byte as u128;
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }

    fn finish(self) -> u128 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv128_matches_the_published_empty_and_a_vectors() {
        assert_eq!(Fnv128::new().finish(), 0x6c62272e07bb014262b821756295c58d);
        let mut h = Fnv128::new();
        h.bytes(b"a");
        assert_eq!(h.finish(), 0xd228cb696f1a8caf78912b704e4a8964);
    }
}
